#!/bin/bash
# The control plane at scale: restores SERVICES TCP services with REALS real servers each
# (NAT, so every real server also takes a steering key) with `uvsadm -R` into a uvsd attached
# to a veth in a network namespace of its own, then times -Ln, -Lnc, and single -a/-e/-d/-A/-D
# through the control socket (bench/ctl_scale_ops.cc). As root:
#
#   bench/ctl_scale.sh [BUILD_DIR] [SERVICES] [REALS] [--control-only] [-- UVSD_OPTIONS...]
#
# Defaults: build, 10000, 10 (100,000 real servers). --control-only starts uvsd without
# --interface (no XDP). Not part of ctest.
set -euo pipefail

build=${1:-build}
services=${2:-10000}
reals=${3:-10}
shift $(( $# < 3 ? $# : 3 ))
control_only=0
if [[ ${1:-} == --control-only ]]; then control_only=1; shift; fi
[[ ${1:-} == -- ]] && shift
extra=("$@")

[[ $(id -u) == 0 ]] || { echo "ctl_scale.sh: run as root (network namespace)" >&2; exit 2; }
uvsd=$(realpath "$build/uvsd")
uvsadm=$(realpath "$build/uvsadm")
ops=$(realpath "$build/bench/ctl_scale_ops")

ns=uvscs$$
dir=$(mktemp -d /tmp/uvs-ctl-scale.XXXXXX)
sock=$dir/uvsd.sock
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

now() { date +%s%N; }
ms() { echo "scale=1; ($2 - $1) / 1000000" | bc; }

# The rules: the i-th service 10.A.B.C:80, the j-th real server 172.(16+j/65536).x.y:8080.
python3 - "$services" "$reals" > "$dir/rules" <<'PY'
import sys
s, r = int(sys.argv[1]), int(sys.argv[2])
out = []
for i in range(s):
    vip = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}:80"
    out.append(f"-A -t {vip} -s wlc")
    for k in range(r):
        j = i * r + k
        out.append(f"-a -t {vip} -r 172.{16 + (j >> 16)}.{j >> 8 & 255}.{j & 255}:8080 -m -w 1")
print("\n".join(out))
PY

ip netns add "$ns"
ip -n "$ns" link add uvcs0 type veth peer name uvcs1
ip -n "$ns" link set uvcs0 up
ip -n "$ns" link set uvcs1 up
ifargs=(--interface uvcs0)
(( control_only )) && ifargs=()
ip netns exec "$ns" "$uvsd" --socket "$sock" --workers 1 "${ifargs[@]}" "${extra[@]}" \
  2> "$dir/uvsd.log" &
pid=$!
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done
[[ -S $sock ]] || { cat "$dir/uvsd.log" >&2; exit 1; }
sleep 0.5
# Keys and locked memory of this uvsd's steering maps (bpftool; other uvsd's maps have the
# same names, so they are told apart by the owning pid).
map_keys() {
  bpftool -j map show 2>/dev/null | python3 -c '
import json, subprocess, sys
pid = int(sys.argv[1]); out = []
for m in json.load(sys.stdin):
    if m.get("name") not in ("uvs_vips", "uvs_nat_replies", "uvs_frag_addrs"): continue
    if pid not in [p.get("pid") for p in m.get("pids", [])]: continue
    keys = json.loads(subprocess.run(["bpftool", "-j", "map", "dump", "id", str(m["id"])],
                                     capture_output=True, text=True).stdout or "[]")
    out.append("%s %d keys of %d (%.1f MiB locked)" % (m["name"], len(keys), m["max_entries"],
                                                      int(m.get("bytes_memlock", 0)) / 2**20))
print(", ".join(out) or "(bpftool found none)")' "$pid"
}
rss() { awk '/VmRSS/ {print $2 / 1024 " MiB"}' "/proc/$pid/status"; }

mode="data plane attached (uvsd --interface on a veth, $ns)"
(( control_only )) && mode="control plane only (no --interface)"
echo "uvs control plane at scale: $services services x $reals real servers, $mode"
echo "uvsd RSS before restore: $(rss)"

# CPU time uvsd spent, ms (wall time on a busy machine is mostly waiting for a CPU).
uvsd_cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000 / hz}' "/proc/$pid/stat"; }

c0=$(uvsd_cpu)
t0=$(now)
"$uvsadm" --socket "$sock" -R < "$dir/rules"
t1=$(now)
c1=$(uvsd_cpu)
lines=$("$uvsadm" --socket "$sock" -Ln | wc -l)
echo "restore (uvsadm -R, $(wc -l < "$dir/rules") lines): $(ms "$t0" "$t1") ms wall, uvsd CPU $((c1 - c0)) ms; -Ln has $lines lines"
echo "uvsd RSS after restore: $(rss)"
if (( ! control_only )); then
  echo "steering maps of this uvsd: $(map_keys)"
fi

best() {  # best and median of 5 runs of a listing, ms
  local t=()
  for _ in 1 2 3 4 5; do
    local a b; a=$(now); "$uvsadm" --socket "$sock" "$@" > /dev/null; b=$(now)
    t+=("$(ms "$a" "$b")")
  done
  printf '%s\n' "${t[@]}" | sort -n | awk '{v[NR]=$1} END {printf "best %s ms, median %s ms", v[1], v[3]}'
}
cpu_of() {  # uvsd's and uvsadm's CPU time for one listing, ms
  local a b u; a=$(uvsd_cpu)
  u=$( { /usr/bin/time -f '%U %S' "$uvsadm" --socket "$sock" "$@" > /dev/null; } 2>&1 | awk '{print ($1 + $2) * 1000}')
  b=$(uvsd_cpu)
  echo "uvsd CPU $((b - a)) ms, uvsadm CPU $u ms"
}
echo "uvsadm -Ln:  $(best -Ln); $(cpu_of -Ln)"
echo "uvsadm -Lnc: $(best -Lnc); $(cpu_of -Lnc)"
"$ops" "$sock" "$services" "$reals" 200
echo "uvsd load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
"$uvsadm" --socket "$sock" -C
echo "uvsadm -Lnc with an empty table: $(best -Lnc)"
echo "uvsadm -Ln with an empty table:  $(best -Ln)"
