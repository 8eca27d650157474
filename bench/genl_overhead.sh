#!/usr/bin/env bash
# The cost of a command through libuvs-ipvs against the same command through uvsadm (issue 12's
# goal: the library path at most 2x uvsadm; both are dominated by process start).
#
#   bench/genl_overhead.sh [BUILD_DIR] [PAIRS]     as root, from the project root
#
# Starts a control-plane-only uvsd (no --interface) on a private socket, then times PAIRS
# (default 1000, a multiple of 10) `uvsadm -A`/`-D` pairs of one service, and PAIRS
# `uvs-ipvs ipvsadm -A`/`-D` pairs of the same service (the Debian ipvsadm under the library), in
# alternating blocks, after checking both ways work (the service is really added, the table is
# empty after). Prints both, per pair and per command, and the ratio. Everything it made is
# removed on exit.
set -euo pipefail

build=${1:-build}
pairs=${2:-1000}
ipvsadm=${IPVSADM:-/usr/sbin/ipvsadm}
service=10.255.0.1:80

die() { echo "genl_overhead: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root"
for bin in uvsd uvsadm uvs-ipvs libuvs-ipvs.so; do
  [ -e "$build/$bin" ] || die "$build/$bin is missing (ninja -C $build)"
done
[ -x "$ipvsadm" ] || die "$ipvsadm is missing (scripts/setup)"
[[ "$pairs" =~ ^[1-9][0-9]*0$ ]] || die "PAIRS must be a positive multiple of 10"
build=$(cd "$build" && pwd)

tmp=$(mktemp -d /tmp/uvs-genl-overhead.XXXXXX)
sock=$tmp/uvsd.sock
uvsd_pid=
cleanup() {
  if [ -n "$uvsd_pid" ] && kill -0 "$uvsd_pid" 2>/dev/null; then
    kill -TERM "$uvsd_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$uvsd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$uvsd_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$build/uvsd" --socket "$sock" >"$tmp/uvsd.log" 2>&1 &
uvsd_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { cat "$tmp/uvsd.log" >&2; die "uvsd did not start"; }

uvsadm() { "$build/uvsadm" --socket "$sock" "$@"; }
lib() { "$build/uvs-ipvs" --socket "$sock" "$ipvsadm" "$@"; }

# Both paths work, and each leaves the table as it found it.
check() {
  local name=$1; shift
  "$@" -A -t "$service" -s rr || die "$name -A failed"
  uvsadm -Ln | grep -Eq "^TCP +$service +rr" || die "$name -A did not add $service: $(uvsadm -Ln)"
  "$@" -D -t "$service" || die "$name -D failed"
  [ "$(uvsadm -Ln | wc -l)" -eq 3 ] || die "$name -D left: $(uvsadm -Ln)"
}
check uvsadm uvsadm
check "uvs-ipvs ipvsadm" lib

# Nanoseconds for PAIRS add/delete pairs through "$@".
time_pairs() {
  local t0 t1 i
  t0=$(date +%s%N)
  for ((i = 0; i < pairs; i++)); do
    "$@" -A -t "$service" -s rr
    "$@" -D -t "$service"
  done
  t1=$(date +%s%N)
  echo $((t1 - t0))
}

# Ten blocks of PAIRS/10 pairs each way, alternating, so that the machine's load (other work on
# the same cores) weighs on both alike.
for _ in 1 2 3; do uvsadm -A -t "$service" -s rr; uvsadm -D -t "$service"; done
for _ in 1 2 3; do lib -A -t "$service" -s rr; lib -D -t "$service"; done
blocks=10
full=$pairs
pairs=$((full / blocks))
ns_uvsadm=0
ns_lib=0
for ((b = 0; b < blocks; b++)); do
  ns_uvsadm=$((ns_uvsadm + $(time_pairs uvsadm)))
  ns_lib=$((ns_lib + $(time_pairs lib)))
done
pairs=$((pairs * blocks))
[ "$(uvsadm -Ln | wc -l)" -eq 3 ] || die "the loops left services behind: $(uvsadm -Ln)"

awk -v n="$pairs" -v a="$ns_uvsadm" -v b="$ns_lib" 'BEGIN {
  printf "%d -A/-D pairs of %s\n", n, "'"$service"'"
  printf "  uvsadm               %8.1f ms total  %6.3f ms/pair  %6.3f ms/command\n", a / 1e6, a / 1e6 / n, a / 2e6 / n
  printf "  uvs-ipvs ipvsadm     %8.1f ms total  %6.3f ms/pair  %6.3f ms/command\n", b / 1e6, b / 1e6 / n, b / 2e6 / n
  printf "  ratio (library / uvsadm): %.2f (goal: <= 2)\n", b / a
}'
