// A lab with two directors side by side (for LabTest::start_shaped_lab): both on the client
// segment (bridge br1) and on the real servers' segment (br0) of ${P}w; the gateway addresses
// 10.99.1.1 and 172.17.0.1 are left to the test (keepalived's VRRP, or a failover by hand).
//
// IPv6 beside it: the gateways fd00:1::1 and fd00:2::1 likewise, and the directors joined
// directly by a sync link of their own (sy).
//
//   ${P}c   client     c0 10.99.1.2/24 fd00:1::2/64, default via 10.99.1.1 / fd00:1::1
//   ${P}d   director A d0 10.99.1.11/24 fd00:1::11/64  d1 172.17.0.11/16 fd00:2::2/64
//                      sy 10.250.0.11/24 fd00:250::11/64
//   ${P}s9  director B d0 10.99.1.12/24 fd00:1::12/64  d1 172.17.0.12/16 fd00:2::3/64
//                      sy 10.250.0.12/24 fd00:250::12/64 (named as a server so that
//                      scripts/lab down and the stale-lab sweep remove it)
//   ${P}sK  server K   eth0 172.17.0.(K+1)/16 fd00:2::(10+K)/64, default via 172.17.0.1 /
//                      fd00:2::1; nginx on :80 and :8000 (both families) answers "sK" at /
//                      and serves /10m.bin (10 MB of random bytes)
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
ip link add sy netns "$da" type veth peer sy netns "$db"
nsx "$c" ip addr add 10.99.1.2/24 dev c0
nsx "$c" ip -6 addr add fd00:1::2/64 dev c0 nodad
nsx "$c" ip link set c0 up
nsx "$c" ip route add default via 10.99.1.1
nsx "$c" ip -6 route add default via fd00:1::1
nsx "$c" ethtool -K c0 tx off >/dev/null
n=11
for d in "$da" "$db"; do
  nsx "$d" ip addr add 10.99.1.$n/24 dev d0
  nsx "$d" ip addr add 172.17.0.$n/16 dev d1
  nsx "$d" ip addr add 10.250.0.$n/24 dev sy
  nsx "$d" ip -6 addr add fd00:1::$n/64 dev d0 nodad
  nsx "$d" ip -6 addr add fd00:2::$((n - 9))/64 dev d1 nodad
  nsx "$d" ip -6 addr add fd00:250::$n/64 dev sy nodad
  for l in d0 d1 sy; do nsx "$d" ip link set $l up; done
  nsx "$d" sysctl -qw net.ipv4.ip_forward=1
  nsx "$d" sysctl -qw net.ipv6.conf.all.forwarding=1
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
  nsx "$s" ip -6 addr add fd00:2::$((10 + k))/64 dev eth0 nodad
  nsx "$s" ip link set eth0 up
  nsx "$s" ip route add default via 172.17.0.1
  nsx "$s" ip -6 route add default via fd00:2::1
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
    listen [::]:80 default_server reuseport;
    listen 8000 reuseport;
    listen [::]:8000 reuseport;
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

// Announces that IFNAME now holds ADDRESS, three times, as keepalived does when it takes a
// virtual address over: a gratuitous ARP for IPv4, an unsolicited neighbour advertisement with
// the override flag to all nodes for IPv6. Neighbours that knew the address take the new MAC.
// argv: python3 -c kAnnounceAddress IFNAME ADDRESS
inline constexpr const char* kAnnounceAddress = R"PY(
import socket, struct, sys, time
ifname, addr = sys.argv[1], sys.argv[2]
mac = bytes.fromhex(open('/sys/class/net/%s/address' % ifname).read().strip().replace(':', ''))
if ':' in addr:
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex(ifname))
    # type 136 code 0, checksum (the kernel's), override flag, target, target link-layer option
    na = struct.pack('!BBHI', 136, 0, 0, 0x20000000) + socket.inet_pton(socket.AF_INET6, addr) \
        + struct.pack('!BB', 2, 1) + mac
    send = lambda: s.sendto(na, ('ff02::1', 0, 0, socket.if_nametoindex(ifname)))
else:
    ip = socket.inet_aton(addr)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    arp = struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + mac + ip + b'\0' * 6 + ip
    send = lambda: s.send(b'\xff' * 6 + mac + b'\x08\x06' + arp)
for _ in range(3):
    send()
    time.sleep(0.05)
)PY";

}  // namespace uvs::testing::netns
