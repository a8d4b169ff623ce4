#!/usr/bin/env bash
# Issue 26: does optical backpropagation still beat training in silico once its gradient is
# measured by a camera rather than computed? Hardware accuracy of d2nn-mnist against the probe's
# strength (hardware.probe_ratio: from "buried in shot noise" to "saturates the absorbers") and
# against the read-out camera's photo-electrons, for in-situ training with the optical and the
# exact gradient (both measured by the same phase-stepping read-out), physics-aware training and
# training in silico; the same for paper-mlp with its probe_power and beam shot noise; and the
# cosine similarity of the measured gradient to the exact one against the photon budget.
# The imperfect system also has a fixed imperfection (SLM shifts for d2nn-mnist, weight
# miscalibration for paper-mlp) that training in silico cannot see. 3 seeds, bundled data, CPU,
# short runs (MAX_TRAIN images, EPOCHS epochs): about 20 minutes on 2 cores.
#
#   scripts/readout_study.sh               # data/results/readout/*.csv, *.png, table.md
#   scripts/readout_study.sh d2nn-probe    # only the sweeps named (then the table and plots)
#   MAX_TRAIN=64 SEEDS=0 scripts/readout_study.sh   # a smoke test
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/wavetrain}
OUT=${OUT:-data/results/readout}
MAX_TRAIN=${MAX_TRAIN:-1000}
EPOCHS=${EPOCHS:-1}
MLP_EPOCHS=${MLP_EPOCHS:-5}
SEEDS=${SEEDS:-0,1,2}
[ -x "$BIN" ] || cargo build --release
cargo build --release --example hardware_study_plot --example readout_cosine
PLOT=target/release/examples/hardware_study_plot
mkdir -p "$OUT"
only=" $* "
sweep() { # name preset epochs args...
    local name=$1 preset=$2 epochs=$3
    shift 3
    [ "$only" = "  " ] || [[ "$only" == *" $name "* ]] || return 0
    "$BIN" sweep --preset "$preset" --backend cpu --max-train "$MAX_TRAIN" --epochs "$epochs" \
        --set seed="$SEEDS" "$@" --out "$OUT/$name" > /dev/null
    echo "$OUT/$name/sweep.csv"
}
# d2nn-mnist: a misaligned system (SLM shifts) whose in-situ gradient is read by a 4-frame
# phase-stepping camera. (Axes are applied in the order given, and camera noise needs the probe
# ratio: it comes first.)
d2nn=(--set hardware.shift_std=8e-6 --set hardware.seed=3)
camera=(--set hardware.readout=phase-stepping --set hardware.readout_steps=4)
sweep d2nn-probe d2nn-mnist "$EPOCHS" "${d2nn[@]}" "${camera[@]}" \
    --set hardware.probe_ratio=0.01,0.03,0.1,0.3,1,3,10,30,100 --set hardware.readout_shot_noise=1e4 \
    --set train.gradient=optical,exact
sweep d2nn-shot d2nn-mnist "$EPOCHS" "${d2nn[@]}" "${camera[@]}" \
    --set hardware.probe_ratio=0.3 --set hardware.readout_shot_noise=1e2,1e3,1e4,1e5,1e6 \
    --set train.gradient=optical,exact
# Their gradients are computed, not measured: the read-out plays no part.
sweep d2nn-baselines d2nn-mnist "$EPOCHS" "${d2nn[@]}" --set train.target=model,physics-aware
# paper-mlp: a miscalibrated system whose weight gradient is the product of two camera-measured
# beams; the probe saturates the absorbers with probe_power.
mlp=(--set hardware.weight_error=0.1 --set hardware.seed=3)
sweep mlp-probe paper-mlp "$MLP_EPOCHS" "${mlp[@]}" \
    --set hardware.probe_power=0,0.1,1,10,100 --set hardware.shot_noise=1e3 \
    --set train.gradient=optical,exact
sweep mlp-shot paper-mlp "$MLP_EPOCHS" "${mlp[@]}" \
    --set hardware.shot_noise=10,1e2,1e3,1e4,1e5 --set train.gradient=optical,exact
sweep mlp-baselines paper-mlp "$MLP_EPOCHS" "${mlp[@]}" --set train.target=model,physics-aware
if [ "$only" = "  " ] || [[ "$only" == *" cosine "* ]]; then
    target/release/examples/readout_cosine > "$OUT/cosine.csv"
fi
# One CSV per figure (the baselines drawn at every x), the table, the plots.
python3 scripts/readout_study_table.py "$OUT"
for f in d2nn-probe d2nn-shot mlp-probe mlp-shot; do
    [ -f "$OUT/$f.csv" ] || continue
    "$PLOT" "$OUT/$f.csv" "$OUT/$f.png" "$(head -1 "$OUT/$f.title")"
    echo "$OUT/$f.png"
done
