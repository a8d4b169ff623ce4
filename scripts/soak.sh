#!/usr/bin/env bash
# Soak test (not part of CI): trains d2nn-mnist on the CPU for a fixed wall time and samples the
# process's resident memory (VmRSS) every few seconds, to show it stays flat over a long run.
#
#   scripts/soak.sh [MINUTES=30] [OUT=soak]
#
# Writes OUT/rss.csv (seconds,rss_kib) and prints the first, last, min and max RSS.
set -euo pipefail
minutes=${1:-30}
out=${2:-soak}
cd "$(dirname "$0")/.."
cargo build --release --quiet
rm -rf "$out" && mkdir -p "$out"
./target/release/wavetrain train --backend cpu --epochs 100000 --no-pictures --out "$out/run" >"$out/train.log" 2>&1 &
pid=$!
echo "seconds,rss_kib" >"$out/rss.csv"
start=$(date +%s)
end=$((start + minutes * 60))
while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo "")
  [ -n "$rss" ] && echo "$(( $(date +%s) - start )),$rss" >>"$out/rss.csv"
  sleep 5
done
kill -INT "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
awk -F, 'NR==2 {first=$2; min=$2; max=$2} NR>1 {last=$2; if ($2<min) min=$2; if ($2>max) max=$2; n++}
  END {printf "samples %d, RSS first %d KiB, last %d KiB, min %d KiB, max %d KiB\n", n, first, last, min, max}' "$out/rss.csv"
tail -n 3 "$out/run/metrics.csv" 2>/dev/null || true
