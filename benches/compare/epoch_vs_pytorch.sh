#!/usr/bin/env bash
# Times one training epoch of the comparison networks with wavetrain's CPU engine, with the plain
# PyTorch version (pytorch_d2nn.py) and, with PEERS="pytorch torchoptics", with the peer library
# torchoptics (torchoptics_d2nn.py), interleaved run by run on the same machine, and prints every
# time and the medians.
#
#   PYTHON=/path/to/python-with-torch benches/compare/epoch_vs_pytorch.sh [rounds] [50|100|200|mlp ...]
#
# `mlp` is the `paper-mlp` preset (one epoch) against pytorch_mlp.py; 50, 100 and 200 are
# benches/d2nn-50.toml, d2nn-100.toml and d2nn-200.toml (LightRidge's size) against
# pytorch_d2nn.py (and torchoptics_d2nn.py). IMAGES (default 4000, the bundled training set)
# trains on the first IMAGES images only (`--max-train`; the d2nn networks), and the figure is
# the time of those steps; PEERS (default pytorch) names the Python trainers to interleave. THREADS (default 2) is the
# thread count of both (RAYON_NUM_THREADS for wavetrain, torch.set_num_threads for PyTorch);
# MLP_EPOCHS (default 1) trains paper-mlp that many epochs in both and times the last (from 2 on,
# without the first epoch's warm-up).
#
# WAVETRAIN (default target/release/wavetrain) may name another build to compare, e.g. an older
# commit's binary; EXTRA names more wavetrain binaries to interleave.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rounds=${1:-3}
shift || true
sizes=${*:-50 100}
py=${PYTHON:-python3}
threads=${THREADS:-2}
mlp_epochs=${MLP_EPOCHS:-1}
images=${IMAGES:-4000}
peers=${PEERS:-pytorch}
wt=${WAVETRAIN:-$root/target/release/wavetrain}
bins="$wt ${EXTRA:-}"
failed=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for n in $sizes; do
  for r in $(seq "$rounds"); do
    for b in $bins; do
      rm -rf "$out/run"
      if [ "$n" = mlp ]; then
        net=(--preset paper-mlp --set "epochs=$mlp_epochs")
      else
        net=(--config "$root/benches/d2nn-$n.toml" --max-train "$images")
      fi
      RAYON_NUM_THREADS=$threads "$b" train "${net[@]}" --backend cpu --no-pictures --out "$out/run" >/dev/null 2>&1
      if [ "$n" = mlp ]; then k=4000; else k=$images; fi
      t=$(tail -1 "$out/run/metrics.csv" | awk -F, -v k="$k" '{print k / $5}')
      echo "$n $b $t" | tee -a "$out/times"
    done
    for peer in $peers; do
      if [ "$n" = mlp ]; then
        [ "$peer" = pytorch ] || continue
        pyargs=("$here/pytorch_mlp.py" --threads "$threads" --epochs "$mlp_epochs")
      else
        pyargs=("$here/${peer}_d2nn.py" --n "$n" --threads "$threads" --images "$images")
      fi
      t=$("$py" "${pyargs[@]}" 2>"$out/err" | awk '{for (i=1;i<NF;i++) if ($i=="epoch_seconds") print $(i+1)}') || true
      if [ -z "$t" ]; then
        echo "$n $peer failed: $(tail -3 "$out/err")" >&2
        failed=1
        continue
      fi
      echo "$n $peer $t" | tee -a "$out/times"
    done
  done
done
echo "medians (s per epoch of 4,000 images; d2nn: of $images):"
awk '{print $1" "$2}' "$out/times" | sort -u | while read -r n who; do
  m=$(awk -v n="$n" -v w="$who" '$1==n && $2==w {print $3}' "$out/times" | median)
  [ "$n" = mlp ] && name=paper-mlp || name=d2nn-$n
  echo "  $name $who $m"
done
exit $failed
