#!/usr/bin/env bash
# The runs of the literature table (issue 30): Lin et al., Science 361, 1004 (2018) reproduced on
# the full MNIST and Fashion-MNIST (the phase-only network, preset lin2018), the same geometry with
# saturable absorbers trained by optical backpropagation and with the exact gradient
# (lin2018-absorber), and paper-mlp on the full MNIST beside Guo et al.'s ≈ 98 %. One run after
# another on this machine (nothing else should run meanwhile), raw output kept:
#
#   scripts/literature.sh [--quick] [OUT]
#
# writes into OUT (default data/results/literature):
#   meta.txt          date, machine (CPU model, cores, memory), commit, the binary, and the load
#                     average before and after every run;
#   literature.csv    one row a run: dataset, preset, variant, the published accuracy it is set
#                     against (empty where none), epochs, training images, final test accuracy,
#                     wall time (s), peak resident memory (MiB), training images/s, backend, and
#                     the command;
#   RUN.log           each run's stderr and the /usr/bin/time -v report; RUN.json its summary
#                     (`wavetrain train --json`); runs/RUN its run folder (metrics.csv,
#                     provenance.json with the data's SHA-256; checkpoints deleted to save space).
# The datasets are taken by name (`--data mnist`, `--data fashion-mnist`): a dataset that is not
# on this machine is recorded as skipped in meta.txt and literature.csv (see `wavetrain data list`
# for how to get it) and the exit status is 1.
# --quick: 300 training images and one epoch each (a smoke run of the script; accuracies mean
# nothing then). EPOCHS=N overrides the presets' epochs; BACKEND=cpu|gpu|auto (default auto).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
if [ "${1:-}" = --quick ]; then
  quick=1
  shift
fi
out=${1:-$root/data/results/literature}
wt=${WAVETRAIN:-$root/target/release/wavetrain}
backend=${BACKEND:-auto}
[ -x "$wt" ] || { echo "literature: no wavetrain binary at $wt (cargo build --release)" >&2; exit 2; }
mkdir -p "$out/runs"
meta=$out/meta.txt
csv=$out/literature.csv
failed=0
{
  echo "started: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "wavetrain: $wt ($("$wt" --version)); backend: $backend; quick: $quick"
} >"$meta"
echo "dataset,preset,variant,published,epochs,train_images,test_accuracy,wall_s,peak_rss_mib,train_images_per_s,backend,command" >"$csv"

# Peak resident memory of a command: /usr/bin/time -v where installed, else Python's getrusage of
# the child; prints the command's own stderr, then a line "peak_rss_kib N".
measure() {
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v "$@" 2> >(tee /dev/stderr | awk '/Maximum resident set size/ {print "peak_rss_kib", $NF}' >&2)
  else
    python3 - "$@" <<'PY'
import resource, subprocess, sys
rc = subprocess.call(sys.argv[1:])
print("peak_rss_kib", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
sys.exit(rc)
PY
  fi
}

# run NAME DATASET PRESET VARIANT PUBLISHED ARGS...: one training run, recorded in the CSV.
run() {
  local name=$1 data=$2 preset=$3 variant=$4 published=$5
  shift 5
  local extra=("$@")
  if [ $quick = 1 ]; then
    extra+=(--max-train 300 --epochs 1)
  elif [ -n "${EPOCHS:-}" ]; then
    extra+=(--epochs "$EPOCHS")
  fi
  if ! "$wt" data verify "$data" >/dev/null 2>"$out/$name.skip"; then
    echo "run $name: skipped: $(tail -1 "$out/$name.skip")" >>"$meta"
    echo "$data,$preset,$variant,$published,,,,,,,$backend,skipped: dataset $data not on this machine" >>"$csv"
    failed=1
    return
  fi
  rm -f "$out/$name.skip"
  rm -rf "$out/runs/$name"
  local cmd=("$wt" train --preset "$preset" --data "$data" --backend "$backend" --no-pictures --json --out "$out/runs/$name" "${extra[@]}")
  echo "run $name: load before $(cut -d' ' -f1-3 /proc/loadavg); ${cmd[*]}" >>"$meta"
  echo "== $name" >&2
  local t0 t1 rc
  t0=$(date +%s.%N)
  measure "${cmd[@]}" >"$out/$name.json" 2>"$out/$name.log"
  rc=$?
  t1=$(date +%s.%N)
  local wall rss
  wall=$(awk "BEGIN{printf \"%.1f\", $t1 - $t0}")
  rss=$(awk '/^peak_rss_kib/ {printf "%.0f", $2/1024}' "$out/$name.log" | tail -1)
  echo "run $name: exit $rc after $wall s, peak RSS ${rss:-?} MiB, load after $(cut -d' ' -f1-3 /proc/loadavg)" >>"$meta"
  rm -f "$out/runs/$name"/checkpoint*.safetensors "$out/runs/$name/run.lock"
  if [ $rc != 0 ]; then
    failed=1
    echo "$data,$preset,$variant,$published,,,,$wall,$rss,,$backend,failed (exit $rc): ${cmd[*]}" >>"$csv"
    return
  fi
  # The summary line: epochs, test accuracy, training images/s (the JSON of `train --json`).
  local fields
  fields=$(python3 - "$out/$name.json" <<'PY'
import json, sys
s = json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][-1])
print(f'{s["epochs"]},{s["test_accuracy"]:.4f},{s["images_per_second"]:.1f}')
PY
  )
  IFS=, read -r epochs acc ips <<<"$fields"
  # Both datasets have 60,000 training images; --quick trains on 300 of them.
  local images=60000
  [ $quick = 0 ] || images=300
  echo "$data,$preset,$variant,$published,$epochs,$images,$acc,$wall,$rss,$ips,$backend,${cmd[*]}" >>"$csv"
}

run lin2018-mnist mnist lin2018 "phase-only (linear)" 0.9175
run lin2018-fashion fashion-mnist lin2018 "phase-only (linear)" 0.8113
run lin2018-absorber-mnist mnist lin2018-absorber "absorbers; optical gradient" "" --gradient optical
run lin2018-absorber-fashion fashion-mnist lin2018-absorber "absorbers; optical gradient" "" --gradient optical
run lin2018-absorber-exact-mnist mnist lin2018-absorber "absorbers; exact gradient" "" --gradient exact
run lin2018-absorber-exact-fashion fashion-mnist lin2018-absorber "absorbers; exact gradient" "" --gradient exact
run paper-mlp-mnist mnist paper-mlp "Guo et al. optical MLP" 0.98
echo "finished: $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$meta"
cat "$meta"
column -s, -t <"$csv" | cut -c1-200
exit $failed
