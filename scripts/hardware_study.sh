#!/usr/bin/env bash
# Issue 18: in situ or in silico. Hardware accuracy against each imperfection for the three
# training targets (model = in silico, hardware = in situ, physics-aware), 3 seeds, bundled data,
# short runs (MAX_TRAIN images, EPOCHS epochs). One sweep per imperfection; the plot of each is
# hardware_accuracy against the imperfection, one curve per target, seeds averaged.
#
#   scripts/hardware_study.sh            # writes data/results/hardware/*/sweep.csv and *.png
#   scripts/hardware_study.sh mlp-crosstalk   # only the studies named
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/wavetrain}
OUT=${OUT:-data/results/hardware}
MAX_TRAIN=${MAX_TRAIN:-1000}
EPOCHS=${EPOCHS:-2}
[ -x "$BIN" ] || cargo build --release
cargo build --release --example hardware_study_plot
PLOT=target/release/examples/hardware_study_plot
mkdir -p "$OUT"
targets=(--set train.target=model,hardware,physics-aware --set seed=0,1,2)
only=" $* "
study() { # name preset axis title [epochs]
    local name=$1 preset=$2 axis=$3 title=$4 epochs=${5:-$EPOCHS}
    [ "$only" = "  " ] || [[ "$only" == *" $name "* ]] || return 0
    "$BIN" sweep --preset "$preset" --backend cpu --max-train "$MAX_TRAIN" --epochs "$epochs" \
        --set "$axis" "${targets[@]}" --out "$OUT/$name" > /dev/null
    "$PLOT" "$OUT/$name/sweep.csv" "$OUT/$name.png" "$title"
    echo "$OUT/$name.png"
}
study d2nn-shift d2nn-mnist hardware.shift_std=0,4e-6,8e-6,16e-6 \
    "d2nn-mnist: hardware accuracy vs SLM shift std (m)"
study d2nn-distance d2nn-mnist hardware.distance_std=0,100e-6,300e-6 \
    "d2nn-mnist: hardware accuracy vs distance error std (m)"
study d2nn-phase-range d2nn-mnist hardware.phase_range=6.283185307179586,4.5,3 \
    "d2nn-mnist: hardware accuracy vs SLM phase range (rad)"
study d2nn-fringing d2nn-mnist hardware.fringing=0,1,2 \
    "d2nn-mnist: hardware accuracy vs fringing (SLM pixels)"
study mlp-weight-error paper-mlp hardware.weight_error=0,0.1,0.3 \
    "paper-mlp: hardware accuracy vs weight miscalibration" 5
study d2nn-fringing-small d2nn-mnist hardware.fringing=0,0.25,0.5 \
    "d2nn-mnist: hardware accuracy vs weak fringing (SLM pixels)"
study mlp-crosstalk paper-mlp hardware.crosstalk=0,0.05,0.1,0.2 \
    "paper-mlp: hardware accuracy vs weight-SLM cross-talk c" 5
