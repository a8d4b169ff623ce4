#!/usr/bin/env python3
"""The readout study's figures and table (scripts/readout_study.sh): for each study, one CSV of
hardware accuracy against its axis with a `method` column (in-situ optical: in situ with the
optical gradient; in-situ exact: with the exact gradient; physics-aware; in-silico; the two baselines, whose gradient is
computed, repeated at every x), a title file, and `table.md`: the hardware accuracy of each
method at each x (mean ± s.d. over the seeds), the best x of each in-situ method marked.

Usage: scripts/readout_study_table.py OUT_DIR   (standard library only)
"""
import csv
import statistics
import sys
from pathlib import Path

STUDIES = [
    # name, sweep of the in-situ runs, its axis, baselines, title
    ("d2nn-probe", "d2nn-probe", "hardware.probe_ratio", "d2nn-baselines",
     "d2nn-mnist: hardware accuracy vs probe ratio (camera 1e4 e-, 4 frames)"),
    ("d2nn-shot", "d2nn-shot", "hardware.readout_shot_noise", "d2nn-baselines",
     "d2nn-mnist: hardware accuracy vs read-out photo-electrons at full scale (r = 0.3)"),
    ("mlp-probe", "mlp-probe", "hardware.probe_power", "mlp-baselines",
     "paper-mlp: hardware accuracy vs probe power (I_sat; beams 1e3 e-)"),
    ("mlp-shot", "mlp-shot", "hardware.shot_noise", "mlp-baselines",
     "paper-mlp: hardware accuracy vs beam photo-electrons at full scale"),
]
# No commas: the plot reads the CSV by splitting lines on them.
METHODS = ["in-situ optical", "in-situ exact", "physics-aware", "in-silico"]


def rows(path: Path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def method(r) -> str:
    target = r.get("train.target", "hardware")
    if target == "model":
        return "in-silico"
    if target == "physics-aware":
        return "physics-aware"
    return "in-situ " + r.get("train.gradient", "optical")


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "data/results/readout")
    table = ["# Readout study: hardware accuracy (mean ± s.d. over seeds)", ""]
    for name, sweep, axis, base, title in STUDIES:
        s, b = out / sweep / "sweep.csv", out / base / "sweep.csv"
        if not s.is_file():
            continue
        xs, data = [], {}
        for r in rows(s):
            x = r[axis]
            if x not in xs:
                xs.append(x)
            data.setdefault((method(r), x), []).append((r["seed"], float(r["hardware_accuracy"])))
        if b.is_file():
            for r in rows(b):
                for x in xs:
                    data.setdefault((method(r), x), []).append(
                        (r["seed"], float(r["hardware_accuracy"])))
        with open(out / f"{name}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow([axis, "method", "seed", "test_accuracy", "hardware_accuracy"])
            for m in METHODS:
                for x in xs:
                    for seed, acc in data.get((m, x), []):
                        w.writerow([x, m, seed, f"{acc:.4f}", f"{acc:.4f}"])
        (out / f"{name}.title").write_text(title + "\n")
        table += [f"## {title}", "", "| method | " + " | ".join(f"{axis.split('.')[-1]} = {x}" for x in xs) + " |",
                  "|---|" + "---|" * len(xs)]
        for m in METHODS:
            cells, means = [], []
            for x in xs:
                v = [a for _, a in data.get((m, x), [])]
                means.append(statistics.mean(v) if v else float("nan"))
                cells.append(f"{100 * statistics.mean(v):.1f} ± {100 * statistics.stdev(v):.1f}"
                             if len(v) > 1 else (f"{100 * v[0]:.1f}" if v else ""))
            if m.startswith("in-situ") and any(v == v for v in means):
                best = max(range(len(xs)), key=lambda i: means[i] if means[i] == means[i] else -1)
                cells[best] = f"**{cells[best]}**"
            table.append(f"| {m} | " + " | ".join(cells) + " |")
        table.append("")
    cos = out / "cosine.csv"
    if cos.is_file():
        table += ["## d2nn-mnist: cosine similarity of the measured gradient to the exact one", "",
                  "| probe ratio | photo-electrons at full scale | photo-electrons per update | cosine |",
                  "|---|---|---|---|"]
        for r in rows(cos):
            table.append(f"| {r['probe_ratio']} | {r['readout_shot_noise']} | "
                         f"{float(r['photoelectrons_per_update']):.3g} | {float(r['cosine']):.4f} |")
        table.append("")
    (out / "table.md").write_text("\n".join(table))
    print(out / "table.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
