#!/usr/bin/env bash
# Every measurement of the guide's "FFTW, LightRidge's size and a real GPU" page (docs/src/anchors.md), in one run,
# one after another on this machine (nothing else should run meanwhile), raw output kept:
#
#   FFTW_PYTHON=/venv-with-pyfftw/bin/python TORCH_PYTHON=/venv-with-torch-and-torchoptics/bin/python \
#     [BEFORE=path/to/an/older/wavetrain] scripts/anchors.sh [--quick] [OUT]
#
# writes into OUT (default data/results/anchors):
#   meta.txt         date, machine (CPU model, vector extensions, cores, memory), commit, versions,
#                    and the load average before and after every part;
#   fftw.json/.txt   scripts/fftw_compare.py: FFTW 3 (pyfftw, FFTW_MEASURE) against `wavetrain bench`
#                    for fft2 and the free-space step, 128²–2048², batch 1 and 16, 1 and 2 threads,
#                    interleaved (BEFORE, when given, is interleaved too);
#   mlp-T.txt        paper-mlp, one epoch, wavetrain (and BEFORE) against plain PyTorch, T = 1, 2 threads;
#   trainers.txt     d2nn-50 and d2nn-100, one epoch of 4,000 images, wavetrain, plain PyTorch and
#                    torchoptics, 2 threads; trainers-200.txt the same for d2nn-200 (LightRidge's
#                    size, batch 500) on IMAGES_200 images (default 500: one step, as torchoptics
#                    takes minutes per step);
#   growth.jsonl     `wavetrain bench` training steps of d2nn-mnist scaled to field sides 64–1024
#                    (padded 128–2048), batches 1 and 4, 2 threads;
#   d2nn-200.jsonl   `wavetrain bench` training step of benches/d2nn-200.toml (batch 500), 2 threads.
# --quick: small sizes and one round each (a smoke run of the script, minutes).
# A part that fails is recorded in meta.txt and the others still run; the exit status is 1 then.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
if [ "${1:-}" = --quick ]; then
  quick=1
  shift
fi
out=${1:-$root/data/results/anchors}
wt=${WAVETRAIN:-$root/target/release/wavetrain}
fftw_py=${FFTW_PYTHON:-python3}
torch_py=${TORCH_PYTHON:-python3}
before=${BEFORE:-}
[ -x "$wt" ] || { echo "anchors: no wavetrain binary at $wt (cargo build --release)" >&2; exit 2; }
[ -z "$before" ] || [ -x "$before" ] || { echo "anchors: BEFORE=$before is not an executable" >&2; exit 2; }
"$fftw_py" -c "import pyfftw, numpy" 2>/dev/null || { echo "anchors: $fftw_py lacks pyfftw and numpy (pip install pyfftw numpy)" >&2; exit 2; }
"$torch_py" -c "import torch, torchoptics" 2>/dev/null || { echo "anchors: $torch_py lacks torch and torchoptics (pip install torch torchoptics==1.0.2)" >&2; exit 2; }
mkdir -p "$out"
meta=$out/meta.txt
failed=0
{
  echo "started: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "vector extensions: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f)$' | tr '\n' ' ')"
  echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "wavetrain: $wt${before:+; before: $before}"
  echo "python: fftw $("$fftw_py" -c 'import pyfftw, numpy; print("pyfftw", pyfftw.__version__, "numpy", numpy.__version__)'); torch $("$torch_py" -c 'import torch, torchoptics; print("torch", torch.__version__, "torchoptics", torchoptics.__version__)')"
} >"$meta"
part() { # name, command...: runs one part, notes its load, time and status in meta.txt
  local name=$1
  shift
  local t0=$SECONDS
  echo "part $name: load before $(cut -d' ' -f1-3 /proc/loadavg)" >>"$meta"
  echo "== $name" >&2
  "$@"
  local rc=$?
  echo "part $name: exit $rc after $((SECONDS - t0)) s, load after $(cut -d' ' -f1-3 /proc/loadavg)" >>"$meta"
  [ $rc = 0 ] || failed=1
}
if [ $quick = 1 ]; then
  grids=128,256
  rounds=1
  growth=64,128
  images=512
else
  grids=128,256,512,1024,2048
  rounds=3
  growth=64,128,256,512,1024
  images=4000
fi
bins=$wt${before:+,$before}
part fftw sh -c '"$0" "$1/scripts/fftw_compare.py" --bin "$2" --grids "$3" --rounds "$4" --out "$5/fftw.json" >"$5/fftw.txt"' \
  "$fftw_py" "$root" "$bins" "$grids" "$rounds" "$out"
for t in 1 2; do
  part "mlp-$t" env THREADS=$t PYTHON="$torch_py" WAVETRAIN="$wt" EXTRA="$before" \
    sh -c '"$0" "$1" mlp >"$2"' "$root/benches/compare/epoch_vs_pytorch.sh" $((rounds * 2 + 1)) "$out/mlp-$t.txt"
done
part trainers env THREADS=2 PYTHON="$torch_py" WAVETRAIN="$wt" PEERS="pytorch torchoptics" IMAGES=$images \
  sh -c '"$0" "$1" 50 100 >"$2"' "$root/benches/compare/epoch_vs_pytorch.sh" "$rounds" "$out/trainers.txt"
part trainers-200 env THREADS=2 PYTHON="$torch_py" WAVETRAIN="$wt" PEERS="pytorch torchoptics" IMAGES="${IMAGES_200:-500}" \
  sh -c '"$0" "$1" 200 >"$2"' "$root/benches/compare/epoch_vs_pytorch.sh" "$rounds" "$out/trainers-200.txt"
part growth env RAYON_NUM_THREADS=2 sh -c '"$0" bench --backend cpu --json --ops train_step:d2nn-mnist --grids "$1" --batches 1,4 >"$2"' \
  "$wt" "$growth" "$out/growth.jsonl"
if [ $quick = 0 ]; then
  part d2nn-200 env RAYON_NUM_THREADS=2 sh -c '"$0" bench --backend cpu --json --ops train_step:d2nn-200 --config "$1" >"$2"' \
    "$wt" "$root/benches/d2nn-200.toml" "$out/d2nn-200.jsonl"
fi
echo "finished: $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$meta"
cat "$meta"
exit $failed
