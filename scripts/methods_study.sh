#!/usr/bin/env bash
# Issue 27: which training method for this hardware? Optical backpropagation (optical and exact
# gradient), direct feedback alignment, SPSA (forward passes only), PEPITA, physics-aware
# training and training in silico, on the same simulated systems and data: paper-mlp (dense;
# every method) and d2nn-mnist (diffractive; backprop and SPSA, the methods a diffractive
# network admits), each on the ideal system, under a fixed miscalibration (paper-mlp:
# weight_error 0.1; d2nn-mnist: SLM shifts of 8 µm) and under detector noise (paper-mlp: 5 %
# signal errors on the multiplier outputs; d2nn-mnist: 10³ photo-electrons at the detectors).
# 3 seeds, bundled data, CPU. Writes one sweep folder per (network, condition, group), then
# table.md, per-figure CSVs and the plots (hardware accuracy against epochs and against the
# hardware passes spent).
#
#   scripts/methods_study.sh                       # data/results/methods/
#   MLP_TRAIN=256 D2NN_TRAIN=64 SEEDS=0 scripts/methods_study.sh   # a smoke test
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/wavetrain}
OUT=${OUT:-data/results/methods}
MLP_TRAIN=${MLP_TRAIN:-1000}
MLP_EPOCHS=${MLP_EPOCHS:-5}
D2NN_TRAIN=${D2NN_TRAIN:-500}
D2NN_EPOCHS=${D2NN_EPOCHS:-3}
SEEDS=${SEEDS:-0,1,2}
[ -x "$BIN" ] || cargo build --release
cargo build --release --example hardware_study_plot
PLOT=target/release/examples/hardware_study_plot
mkdir -p "$OUT"
sweep() { # folder preset max_train epochs args...
    local name=$1 preset=$2 n=$3 epochs=$4
    shift 4
    "$BIN" sweep --preset "$preset" --backend cpu --max-train "$n" --epochs "$epochs" \
        --set seed="$SEEDS" "$@" --out "$OUT/$name" > /dev/null
    echo "$OUT/$name/sweep.csv"
}
declare -A MLP_COND=([ideal]="" [miscal]="hardware.weight_error=0.1" [noise]="hardware.signal_error=0.05")
declare -A D2NN_COND=([ideal]="" [miscal]="hardware.shift_std=8e-6" [noise]="hardware.shot_noise=1e3")
for c in ideal miscal noise; do
    hw=(--set hardware.seed=3)
    [ -z "${MLP_COND[$c]}" ] || hw+=(--set "${MLP_COND[$c]}")
    sweep "mlp-$c-methods" paper-mlp "$MLP_TRAIN" "$MLP_EPOCHS" "${hw[@]}" \
        --set train.method=backprop,dfa,spsa,pepita
    sweep "mlp-$c-baselines" paper-mlp "$MLP_TRAIN" "$MLP_EPOCHS" "${hw[@]}" \
        --set train.target=model,physics-aware
    sweep "mlp-$c-exact" paper-mlp "$MLP_TRAIN" "$MLP_EPOCHS" "${hw[@]}" --set train.gradient=exact
    hw=(--set hardware.seed=3)
    [ -z "${D2NN_COND[$c]}" ] || hw+=(--set "${D2NN_COND[$c]}")
    sweep "d2nn-$c-methods" d2nn-mnist "$D2NN_TRAIN" "$D2NN_EPOCHS" "${hw[@]}" \
        --set train.method=backprop,spsa
    sweep "d2nn-$c-baselines" d2nn-mnist "$D2NN_TRAIN" "$D2NN_EPOCHS" "${hw[@]}" \
        --set train.target=model,physics-aware
    sweep "d2nn-$c-exact" d2nn-mnist "$D2NN_TRAIN" "$D2NN_EPOCHS" "${hw[@]}" --set train.gradient=exact
done
# PEPITA's published setting on optical hardware (Pes et al., arXiv 2501.04141, a 4f system:
# 600 training and 100 test MNIST images; backprop 88.8 ± 4 %, PEPITA 87.6 ± 3 %): paper-mlp on
# 600 bundled training images, tested on the bundled 500, 20 epochs, ideal system.
sweep mlp-pes2025 paper-mlp 600 20 --set hardware.seed=3 --set train.method=backprop,pepita
python3 scripts/methods_study_table.py "$OUT"
for f in "$OUT"/*-epochs.csv "$OUT"/*-passes.csv; do
    [ -f "$f" ] || continue
    png=${f%.csv}.png
    "$PLOT" "$f" "$png" "$(head -1 "${f%.csv}.title")"
    echo "$png"
done
