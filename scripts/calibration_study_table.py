#!/usr/bin/env python3
"""The calibration study's table and figure data (scripts/calibration_study.sh): the hidden
system's values against each fitted twin (recovery.csv: RMS shift error in pixels, RMS distance
error in µm, fringing error, the lookup table's largest phase error over the drive levels, the
RMS of error/σ), the hardware accuracy of each training (twin-noise.csv, one row per run, the
baselines repeated at every x for the plot) and table.md.

Usage: scripts/calibration_study_table.py OUT_DIR   (standard library only)
"""
import csv
import json
import math
import statistics
import sys
import tomllib
from pathlib import Path

NOMINAL = Path("src/presets/d2nn-mnist.toml")


def rows(path: Path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def interp(levels, phases, x):
    for i in range(len(levels) - 1):
        if levels[i] <= x <= levels[i + 1]:
            t = (x - levels[i]) / (levels[i + 1] - levels[i])
            return phases[i] + t * (phases[i + 1] - phases[i])
    return phases[-1]


def recovery(out: Path, hidden: dict, pitch: float, lut_true):
    """One dict per fitted twin: its capture and the errors of its parameters."""
    truth = {}
    for i, s in enumerate(hidden["shifts"]):
        for a in range(2):
            truth[f"hardware.shifts[{i}][{a}]"] = s[a] / pitch
    for j, d in enumerate(hidden["distance_errors"]):
        truth[f"hardware.distance_errors[{j}]"] = d
    truth["hardware.fringing"] = hidden["fringing"]
    result = []
    for rep in sorted((out / "twins").glob("*.calibration.json")):
        name = rep.name.removesuffix(".calibration.json")
        r = json.loads(rep.read_text())
        caps = json.loads((out / "captures" / name / "captures.json").read_text())
        p = {q["name"]: q for q in r["parameters"]}
        shift = [p[k]["value"] - v for k, v in truth.items() if "shifts" in k]
        dist = [p[k]["value"] - v for k, v in truth.items() if "distance" in k]
        z = [
            (p[k]["value"] - v) / p[k]["sigma"]
            for k, v in truth.items()
            if p[k]["sigma"]
        ]
        lut = r["lut"]
        lut_err = max(
            abs(interp(lut["level"], lut["phase"], l) - lut_true[l]) for l in range(255)
        )
        frames = r["frames"]
        result.append({
            "twin": name,
            "photo_electrons": caps["camera"]["shot_noise"],
            "patterns": ",".join(sorted({q["name"] for q in caps["patterns"]})),
            "frames": len(frames),
            "shift_rms_px": math.sqrt(statistics.fmean(e * e for e in shift)),
            "distance_rms_um": 1e6 * math.sqrt(statistics.fmean(e * e for e in dist)),
            "fringing_error_px": p["hardware.fringing"]["value"] - hidden["fringing"],
            "lut_max_error_rad": lut_err,
            "z_rms": math.sqrt(statistics.fmean(v * v for v in z)),
            "misfit_before": statistics.fmean(f["before"] for f in frames),
            "misfit_after": statistics.fmean(f["after"] for f in frames),
        })
    return result


def method(target: str, twin: bool) -> str:
    model = "twin" if twin else "nominal"
    return {"model": f"in-silico {model}", "physics-aware": f"physics-aware {model}",
            "hardware": "in-situ"}[target]


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "data/results/calibration")
    hidden = tomllib.loads((out / "hidden.toml").read_text())["hardware"]
    pitch = tomllib.loads(NOMINAL.read_text())["optics"]["pitch"]
    lut_true = [float(r["phase"]) for r in rows(out / "hidden-lut.csv")]
    rec = recovery(out, hidden, pitch, lut_true)
    with open(out / "recovery.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rec[0].keys()))
        w.writeheader()
        for r in rec:
            w.writerow({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in r.items()})
    # Accuracy: baselines (no twin) and each twin of the photo-electron sweep.
    acc = {}
    base = rows(out / "baselines" / "sweep.csv")
    for r in base:
        acc.setdefault(method(r["train.target"], False), []).append(float(r["hardware_accuracy"]))
    noises = []
    plot = []
    for d in sorted(out.glob("twin-noise-*/sweep.csv"), key=lambda p: float(p.parent.name[11:])):
        n = d.parent.name[len("twin-noise-"):]
        noises.append(n)
        for r in rows(d):
            m = method(r["train.target"], True)
            acc.setdefault((m, n), []).append(float(r["hardware_accuracy"]))
            plot.append((n, m, r["seed"], r["hardware_accuracy"]))
        for r in base:
            plot.append((n, method(r["train.target"], False), r["seed"], r["hardware_accuracy"]))
    with open(out / "twin-noise.csv", "w") as f:
        f.write("capture photo-electrons,method,seed,test_accuracy,hardware_accuracy\n")
        for n, m, s, a in plot:
            f.write(f"{n},{m},{s},{a},{a}\n")
    (out / "twin-noise.title").write_text(
        "d2nn-mnist: hardware accuracy vs the calibration captures' photo-electrons\n")

    def ms(v):
        return f"{100 * statistics.fmean(v):.1f} ± {100 * statistics.pstdev(v):.1f} %"

    main_n = "1e4" if "1e4" in noises else (noises[-1] if noises else None)
    t = ["# Calibration study", "",
         f"Hardware accuracy on the hidden system (mean ± s.d. over {len(acc['in-situ'])} seeds); "
         f"twin calibrated from captures at {main_n} photo-electrons:", "",
         "| training | its model of the system | hardware accuracy |", "|---|---|---|"]
    t.append(f"| in silico | nominal | {ms(acc['in-silico nominal'])} |")
    if main_n:
        t.append(f"| in silico | calibrated twin | {ms(acc[('in-silico twin', main_n)])} |")
    t.append(f"| physics-aware | nominal | {ms(acc['physics-aware nominal'])} |")
    if main_n:
        t.append(f"| physics-aware | calibrated twin | {ms(acc[('physics-aware twin', main_n)])} |")
    t.append(f"| in situ | (none: the hardware's own gradient) | {ms(acc['in-situ'])} |")
    if main_n:
        a0 = statistics.fmean(acc["in-silico nominal"])
        a1 = statistics.fmean(acc[("in-silico twin", main_n)])
        a2 = statistics.fmean(acc["in-situ"])
        t += ["", f"The twin closes {100 * (a1 - a0) / (a2 - a0):.0f} % of the gap between in silico "
              f"on the nominal model ({100 * a0:.1f} %) and in situ ({100 * a2:.1f} %)."]
    t += ["", "In silico and physics-aware on twins from captures of other photo-electron counts:", "",
          "| photo-electrons | in silico on the twin | physics-aware on the twin |", "|---|---|---|"]
    for n in noises:
        t.append(f"| {n} | {ms(acc[('in-silico twin', n)])} | {ms(acc[('physics-aware twin', n)])} |")
    t += ["", "Parameter recovery (hidden values against the fit; z: RMS of error / reported σ):", "",
          "| twin | photo-electrons | patterns | frames | shifts RMS (px) | distances RMS (µm) "
          "| fringing error (px) | LUT max error (rad) | z RMS | misfit before → after |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rec:
        t.append(
            f"| {r['twin']} | {r['photo_electrons']:.0e} | {r['patterns']} | {r['frames']} "
            f"| {r['shift_rms_px']:.4f} | {r['distance_rms_um']:.3f} | {r['fringing_error_px']:+.4f} "
            f"| {r['lut_max_error_rad']:.3f} | {r['z_rms']:.1f} "
            f"| {100 * r['misfit_before']:.1f} % → {100 * r['misfit_after']:.2f} % |")
    (out / "table.md").write_text("\n".join(t) + "\n")
    print(out / "table.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
