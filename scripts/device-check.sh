#!/usr/bin/env bash
# One prepared check for a machine with a hardware GPU: builds, runs the GPU tests, times the GPU
# (and, for the `auto` choice, the CPU) with `wavetrain bench --json`, and trains the default
# preset and the LightRidge-size network (benches/d2nn-200.toml) for a fixed number of steps, and
# Lin et al.'s 200×200 network (preset lin2018) over 60,000 images with its peak memory.
# Every figure goes to one JSON file.
#
#   scripts/device-check.sh [--quick] [--out FILE]       (default FILE: $OUT/device-check.json,
#                                                         else ./device-check.json)
#
# --quick: small sizes and few steps, for a software driver (lavapipe) or a smoke run.
# WAVETRAIN_BIN=PATH uses a built binary and skips the build and the test steps (no cargo needed).
# A step that fails is recorded with its exit status and the tail of its output; the script goes
# on with the next one and exits non-zero at the end if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0
out="${OUT:-.}/device-check.json"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --out) out="$2"; shift ;;
    *) echo "device-check: unknown argument '$1' (use --quick, --out FILE)" >&2; exit 2 ;;
  esac
  shift
done

work="$(mktemp -d "${TMPDIR:-/tmp}/wavetrain-device-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT
failed=0
steps=()

# A JSON string of stdin (backslash, quote, tab, newline escaped; other control characters dropped).
json_string() {
  printf '"'
  tr -d '\000-\010\013-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' | awk '{printf "%s\\n", $0}'
  printf '"'
}

# JSON lines of a file as a JSON array (lines that are not objects are left out).
json_array() {
  printf '['
  grep '^{' "$1" | paste -sd, -
  printf ']'
}

# step NAME KIND CMD...: runs CMD, keeps stdout in $work/NAME.out; KIND says how stdout is
# recorded: lines (JSON lines), json (one JSON value), text (its tail as a string).
step() {
  local name="$1" kind="$2"
  shift 2
  echo "device-check: $name: $*" >&2
  local t0 t1 rc
  t0=$(date +%s.%N)
  "$@" >"$work/$name.out" 2>"$work/$name.err"
  rc=$?
  t1=$(date +%s.%N)
  [ $rc -eq 0 ] || { failed=1; echo "device-check: $name failed (exit $rc)" >&2; tail -5 "$work/$name.err" >&2; }
  local result
  case "$kind" in
    lines) result=$(json_array "$work/$name.out") ;;
    json) result=$(grep -v '^\s*$' "$work/$name.out" | tail -1); [ -n "$result" ] || result=null ;;
    *) result=$(tail -40 "$work/$name.out" | json_string) ;;
  esac
  local err
  err=$(tail -20 "$work/$name.err" | json_string)
  local cmd
  cmd=$(printf '%s ' "$@" | json_string)
  steps+=("{\"step\":\"$name\",\"command\":$cmd,\"exit\":$rc,\"seconds\":$(awk "BEGIN{print $t1 - $t0}"),\"result\":$result,\"stderr_tail\":$err}")
}

if [ -n "${WAVETRAIN_BIN:-}" ]; then
  bin="$WAVETRAIN_BIN"
else
  step build text cargo build --release
  bin=target/release/wavetrain
  # The GPU tests fail (not skip) when no adapter is found.
  step gpu_tests text env WAVETRAIN_REQUIRE_GPU=1 cargo test --release --test gpu --test shaders
fi
if [ ! -x "$bin" ]; then
  echo "device-check: no binary at $bin" >&2
  exit 1
fi

step info json "$bin" info --json
if [ $quick -eq 1 ]; then
  step bench_gpu lines "$bin" bench --quick --json --backend gpu --config benches/d2nn-50.toml
  step growth_gpu lines "$bin" bench --quick --json --backend gpu --ops train_step:d2nn-mnist --grids 64,128 --batches 8
  step bench_cpu_steps lines "$bin" bench --quick --json --backend cpu --ops train_step --config benches/d2nn-50.toml
  steps_mnist=(--max-train 64 --batch 32)
  steps_200=(--max-train 8 --batch 4 --set input.size=40 --set readout.detector_size=6 --set optics.nx=64 --set optics.ny=64)
else
  step bench_gpu lines "$bin" bench --json --backend gpu --config benches/d2nn-50.toml --config benches/d2nn-100.toml --config benches/d2nn-200.toml
  step growth_gpu lines "$bin" bench --json --backend gpu --ops train_step:d2nn-mnist --grids 64,128,256,512,1024 --batches 16
  step bench_cpu_steps lines "$bin" bench --json --backend cpu --ops train_step --config benches/d2nn-50.toml --config benches/d2nn-200.toml
  steps_mnist=(--max-train 5000)
  steps_200=(--max-train 5000)
fi
step train_default_gpu json "$bin" train --backend gpu --epochs 1 "${steps_mnist[@]}" --json --out "$work/run-default"
step train_d2nn200_gpu json "$bin" train --config benches/d2nn-200.toml --backend gpu --epochs 1 "${steps_200[@]}" --json --out "$work/run-200"
step train_default_auto json "$bin" train --backend auto --epochs 1 "${steps_mnist[@]}" --json --out "$work/run-auto"

# Lin et al.'s 200×200 network (preset lin2018) over a 60,000-image training set (issue 30): its
# training images/s and the process's peak resident memory. The full Fashion-MNIST where it is
# installed (`wavetrain data list`), else a generated set of the same size and format (the speed
# and memory do not depend on what the pictures show). --quick trains on 2,000 of the images.
full_data=fashion-mnist
if ! "$bin" data verify fashion-mnist >/dev/null 2>&1; then
  full_data="$work/full-60k"
  python3 - "$full_data" <<'PY'
import gzip, os, struct, sys
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
for split, n in (("train", 60000), ("t10k", 10000)):
    with gzip.open(f"{d}/{split}-images-idx3-ubyte.gz", "wb", compresslevel=1) as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28) + os.urandom(n * 784))
    with gzip.open(f"{d}/{split}-labels-idx1-ubyte.gz", "wb", compresslevel=1) as f:
        f.write(struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n)))
PY
fi
if [ $quick -eq 1 ]; then steps_full=(--max-train 2000); else steps_full=(); fi
# The run's summary JSON with "peak_rss_kib" (the child's peak resident memory, getrusage) added.
with_rss() {
  python3 - "$@" <<'PY'
import json, resource, subprocess, sys
p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, text=True)
lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
s = json.loads(lines[-1]) if lines else {}
s["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps(s))
sys.exit(p.returncode)
PY
}
step train_lin2018_full_gpu json with_rss "$bin" train --preset lin2018 --data "$full_data" --backend gpu --epochs 1 "${steps_full[@]}" --no-pictures --json --out "$work/run-lin2018"

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
gpu_name=$( (nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo none) | json_string)
cpu_name=$( (grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //' || echo unknown) | json_string)
mkdir -p "$(dirname "$out")"
{
  printf '{"date":"%s","commit":"%s","host":"%s","quick":%s,"nvidia_smi":%s,"cpu":%s,"cpus":%s,"failed":%s,"steps":[' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$commit" "$(hostname)" "$([ $quick -eq 1 ] && echo true || echo false)" \
    "$gpu_name" "$cpu_name" "$(nproc)" "$([ $failed -eq 1 ] && echo true || echo false)"
  (IFS=,; printf '%s' "${steps[*]}")
  printf ']}\n'
} >"$out.tmp" && mv "$out.tmp" "$out"
echo "device-check: wrote $out" >&2
exit $failed
