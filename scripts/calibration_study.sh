#!/usr/bin/env bash
# Issue 28: how much of the gap between training in silico and training in situ does a digital
# twin calibrated from camera captures close? A hidden imperfect d2nn-mnist system (SLM shifts,
# free-space distance errors, fringing, a non-linear SLM lookup table; hidden.toml, drawn once
# with a fixed seed) is captured with camera noise (`wavetrain capture`), its twin fitted from
# the nominal config (`wavetrain calibrate --fit shifts,distances,fringing,phase_lut`), and the
# hardware accuracy compared of: in silico on the nominal model, in silico on the twin,
# physics-aware on each, and in situ. Then the parameter recovery error (and the twin's
# in-silico accuracy) against the capture's photo-electrons and against the pattern sets used.
# 3 seeds, bundled data, CPU, MAX_TRAIN images for EPOCHS epochs: about 15 minutes on 2 cores.
#
#   scripts/calibration_study.sh        # data/results/calibration/*.csv, *.png, table.md
#   MAX_TRAIN=64 EPOCHS=1 SEEDS=0 NOISES="1e4" SETS="full" scripts/calibration_study.sh  # smoke
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/wavetrain}
OUT=${OUT:-data/results/calibration}
MAX_TRAIN=${MAX_TRAIN:-1000}
EPOCHS=${EPOCHS:-3}
SEEDS=${SEEDS:-0,1,2}
NOISES=${NOISES:-1e2 1e3 1e4 1e5 1e6}
SETS=${SETS:-gratings defocus random full inputs}
FIT=shifts,distances,fringing,phase_lut
[ -x "$BIN" ] || cargo build --release
cargo build --release --example hardware_study_plot
PLOT=target/release/examples/hardware_study_plot
NOMINAL=src/presets/d2nn-mnist.toml
mkdir -p "$OUT/twins" "$OUT/captures" "$OUT/configs"
# The hidden system: explicit values drawn once (Python's random, seed 3), a power-law table.
if [ ! -f "$OUT/hidden.toml" ]; then
    python3 - "$OUT" <<'PY'
import math, random, sys
out = sys.argv[1]
r = random.Random(3)
shifts = [[round(r.gauss(0, 6e-6), 9), round(r.gauss(0, 6e-6), 9)] for _ in range(5)]
dist = [round(r.gauss(0, 60e-6), 9) for _ in range(6)]
with open(f"{out}/hidden-lut.csv", "w") as f:
    f.write("level,phase\n")
    for l in range(256):
        f.write(f"{l},{2 * math.pi * 0.9 * (l / 255) ** 1.3:.6f}\n")
with open(f"{out}/hidden.toml", "w") as f:
    f.write("\n# The hidden imperfect system of the calibration study (scripts/calibration_study.sh).\n")
    f.write(f"[hardware]\nseed = 3\nshifts = {shifts}\ndistance_errors = {dist}\n")
    f.write(f'fringing = 0.4\nphase_lut = "{out}/hidden-lut.csv"\n')
PY
fi
cat "$NOMINAL" "$OUT/hidden.toml" > "$OUT/configs/hidden-system.toml"
patterns_of() {
    case $1 in
        gratings) echo blank,gratings ;;
        defocus) echo blank,gratings,defocus ;;
        random) echo blank,gratings,random ;;
        full) echo blank,gratings,defocus,random ;;
        inputs) echo blank,gratings,defocus,random,inputs:16 ;;
    esac
}
# One capture and its twin: name, pattern set, photo-electrons at full scale.
fit() {
    local name=$1 set=$2 noise=$3
    [ -f "$OUT/captures/$name/captures.json" ] ||
        "$BIN" capture --config "$OUT/configs/hidden-system.toml" --patterns "$(patterns_of "$set")" \
            --set hardware.shot_noise="$noise" --out "$OUT/captures/$name" > /dev/null
    [ -f "$OUT/twins/$name.toml" ] ||
        "$BIN" calibrate --config "$NOMINAL" --captures "$OUT/captures/$name" --fit "$FIT" \
            --section twin --out "$OUT/twins/$name.toml" --json > "$OUT/twins/$name.line.json"
    cat "$OUT/configs/hidden-system.toml" "$OUT/twins/$name.toml" > "$OUT/configs/twin-$name.toml"
    echo "$OUT/twins/$name.toml"
}
sweep() { # name config targets
    [ -f "$OUT/$1/sweep.csv" ] && return 0
    "$BIN" sweep --config "$2" --backend cpu --max-train "$MAX_TRAIN" --epochs "$EPOCHS" \
        --set train.target="$3" --set seed="$SEEDS" --out "$OUT/$1" > /dev/null
    echo "$OUT/$1/sweep.csv"
}
# Training on the hidden system without a twin: in silico (nominal model), physics-aware
# (backward through the nominal model), in situ.
sweep baselines "$OUT/configs/hidden-system.toml" model,physics-aware,hardware
# Against the capture's photo-electrons (full pattern set): recovery, and training on each twin.
for n in $NOISES; do
    fit "noise-$n" full "$n"
    sweep "twin-noise-$n" "$OUT/configs/twin-noise-$n.toml" model,physics-aware
done
# Against the pattern sets (1e4 photo-electrons): recovery only.
for s in $SETS; do fit "set-$s" "$s" 1e4; done
python3 scripts/calibration_study_table.py "$OUT"
"$PLOT" "$OUT/twin-noise.csv" "$OUT/twin-noise.png" "$(head -1 "$OUT/twin-noise.title")"
echo "$OUT/twin-noise.png"
