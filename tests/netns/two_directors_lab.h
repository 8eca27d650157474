// A lab with two directors side by side (for LabTest::start_shaped_lab): both on the client
// segment (bridge br1) and on the real servers' segment (br0) of ${P}w; the gateway addresses
// 10.99.1.1 and 172.17.0.1 are left to the test (keepalived's VRRP, or a failover by hand).
//
//   ${P}c   client     c0 10.99.1.2/24, default via 10.99.1.1
//   ${P}d   director A d0 10.99.1.11/24  d1 172.17.0.11/16
//   ${P}s9  director B d0 10.99.1.12/24  d1 172.17.0.12/16 (named as a server so that
//                      scripts/lab down and the stale-lab sweep remove it)
//   ${P}sK  server K   eth0 172.17.0.(K+1)/16, default via 172.17.0.1; nginx on :80 and :8000
//                      answers "sK" at / and serves /10m.bin (10 MB of random bytes)
#pragma once

namespace uvs::testing::netns {

inline constexpr const char* kTwoDirectorsLab = R"SH(
P=$1
c=${P}c; da=${P}d; db=${P}s9; w=${P}w
run=/tmp/${P}-run
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
mkdir -p "$run"
for ns in "$c" "$da" "$db" "$w"; do ip netns add "$ns"; nsx "$ns" ip link set lo up; done
nsx "$w" ip link add br0 type bridge
nsx "$w" ip link add br1 type bridge
nsx "$w" ip link set br0 up
nsx "$w" ip link set br1 up
ip link add c0 netns "$c" type veth peer wc netns "$w"
ip link add d0 netns "$da" type veth peer wa0 netns "$w"
ip link add d1 netns "$da" type veth peer wa1 netns "$w"
ip link add d0 netns "$db" type veth peer wb0 netns "$w"
ip link add d1 netns "$db" type veth peer wb1 netns "$w"
for p in wc wa0 wb0; do nsx "$w" ip link set "$p" master br1; nsx "$w" ip link set "$p" up; done
for p in wa1 wb1; do nsx "$w" ip link set "$p" master br0; nsx "$w" ip link set "$p" up; done
nsx "$c" ip addr add 10.99.1.2/24 dev c0
nsx "$c" ip link set c0 up
nsx "$c" ip route add default via 10.99.1.1
nsx "$c" ethtool -K c0 tx off >/dev/null
n=11
for d in "$da" "$db"; do
  nsx "$d" ip addr add 10.99.1.$n/24 dev d0
  nsx "$d" ip addr add 172.17.0.$n/16 dev d1
  nsx "$d" ip link set d0 up
  nsx "$d" ip link set d1 up
  nsx "$d" sysctl -qw net.ipv4.ip_forward=1
  n=$((n + 1))
done
for k in 1 2; do
  s=${P}s$k dir=$run/s$k
  ip netns add "$s"
  ip link add eth0 netns "$s" type veth peer ws$k netns "$w"
  nsx "$w" ip link set ws$k master br0
  nsx "$w" ip link set ws$k up
  nsx "$s" ip link set lo up
  nsx "$s" ip addr add 172.17.0.$((k + 1))/16 dev eth0
  nsx "$s" ip link set eth0 up
  nsx "$s" ip route add default via 172.17.0.1
  nsx "$s" ethtool -K eth0 tx off >/dev/null
  mkdir -p "$dir/www"
  head -c 10485760 /dev/urandom > "$dir/www/10m.bin"
  cat > "$dir/nginx.conf" <<NGINX
user root;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 80 default_server reuseport;
    listen 8000 reuseport;
    root $dir/www;
    location = / { default_type text/plain; return 200 "s$k\n"; }
  }
}
NGINX
  nsx "$s" nginx -c "$dir/nginx.conf" -p "$dir" -e "$dir/error.log"
  for _ in $(seq 50); do [ -s "$dir/nginx.pid" ] && break; sleep 0.05; done
  cp "$dir/nginx.pid" "$run/nginx-s$k.pid"
done
)SH";

// Announces that IFNAME now holds ADDRESS (a gratuitous ARP, three times), as keepalived does
// when it takes a virtual address over: neighbours that knew the address take the new MAC.
// argv: python3 -c kGratuitousArp IFNAME ADDRESS
inline constexpr const char* kGratuitousArp = R"PY(
import socket, struct, sys, time
ifname, ip = sys.argv[1], socket.inet_aton(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
mac = s.getsockname()[4]
arp = struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + mac + ip + b'\0' * 6 + ip
for _ in range(3):
    s.send(b'\xff' * 6 + mac + b'\x08\x06' + arp)
    time.sleep(0.05)
)PY";

}  // namespace uvs::testing::netns
