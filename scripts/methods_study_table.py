#!/usr/bin/env python3
"""The methods study's table and plot data (scripts/methods_study.sh): for each network and
condition, the hardware accuracy of every method after the last epoch (mean ± s.d. over seeds),
the image passes through the hardware in one epoch (forward and probe), and the cosine similarity of the
last epoch's update to the exact gradient; and, per network and condition, two CSVs for the
plots: hardware accuracy against the epoch and against the cumulative image passes through the
hardware (one curve per method).

Usage: scripts/methods_study_table.py OUT_DIR   (standard library only)
"""
import csv
import statistics
import sys
from pathlib import Path

NETS = [("mlp", "paper-mlp"), ("d2nn", "d2nn-mnist")]
CONDS = [("ideal", "ideal system"), ("miscal", "fixed miscalibration"),
         ("noise", "detector noise")]
ORDER = ["backprop (optical)", "backprop (exact)", "dfa", "spsa", "pepita", "physics-aware",
         "in-silico"]


def rows(path: Path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def method(r) -> str:
    if r.get("train.target") == "model":
        return "in-silico"
    if r.get("train.target") == "physics-aware":
        return "physics-aware"
    if r.get("train.gradient") == "exact":
        return "backprop (exact)"
    m = r.get("train.method", "backprop")
    return "backprop (optical)" if m == "backprop" else m


def history(run_dir: Path):
    """Per epoch: (epoch, hardware accuracy, cumulative image passes, cosine, the epoch's
    forward and probe passes)."""
    out, passes = [], 0
    for r in rows(run_dir / "metrics.csv"):
        f = int(r.get("forward_passes") or 0) + int(r.get("probe_passes") or 0)
        passes += f
        cos = r.get("gradient_cosine") or ""
        out.append((int(r["epoch"]), float(r["hardware_accuracy"]), passes,
                    float(cos) if cos else None, r.get("forward_passes"), r.get("probe_passes")))
    return out


def fmt(v):
    return f"{100 * statistics.mean(v):.1f} ± {100 * statistics.stdev(v):.1f}" if len(v) > 1 \
        else (f"{100 * v[0]:.1f}" if v else "")


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "data/results/methods")
    table = ["# Training methods: hardware accuracy after the last epoch (mean ± s.d. over seeds)",
             "", "Passes: image passes through the hardware in one epoch, forward + probe (in silico: none; "
             "physics-aware: forward only). "
             "cos: cosine similarity of the last epoch's update to the exact gradient (one fixed "
             "batch).", ""]
    for net, preset in NETS:
        for cond, words in CONDS:
            runs = {}
            for group in ("methods", "baselines", "exact"):
                p = out / f"{net}-{cond}-{group}" / "sweep.csv"
                if not p.is_file():
                    continue
                for r in rows(p):
                    runs.setdefault(method(r), []).append((r["seed"], history(Path(r["run_dir"]))))
            if not runs:
                continue
            title = f"{preset}, {words}"
            table += [f"## {title}", "", "| method | hardware accuracy | passes per epoch | cos |",
                      "|---|---|---|---|"]
            for kind in ("epochs", "passes"):
                x = "epoch" if kind == "epochs" else "hardware_image_passes"
                with open(out / f"{net}-{cond}-{kind}.csv", "w", newline="") as f:
                    w = csv.writer(f)
                    w.writerow([x, "method", "seed", "test_accuracy", "hardware_accuracy"])
                    for m in ORDER:
                        if kind == "passes" and m == "in-silico":
                            continue  # no pass through the hardware at all
                        for seed, h in runs.get(m, []):
                            for (e, acc, passes, _, _, _) in h:
                                w.writerow([e if kind == "epochs" else max(passes, 1), m, seed,
                                            f"{acc:.4f}", f"{acc:.4f}"])
                (out / f"{net}-{cond}-{kind}.title").write_text(
                    f"{title}: hardware accuracy vs {'epoch' if kind == 'epochs' else 'hardware image passes'}\n")
            for m in ORDER:
                if m not in runs:
                    continue
                last = [h[-1] for _, h in runs[m]]
                accs = [l[1] for l in last]
                fwd, prb = last[0][4] or "", last[0][5] or ""
                coss = [l[3] for l in last if l[3] is not None]
                cos = f"{statistics.mean(coss):.2f}" if coss else ""
                table.append(f"| {m} | {fmt(accs)} | {fwd} + {prb} | {cos} |")
            table.append("")
    pes = out / "mlp-pes2025" / "sweep.csv"
    if pes.is_file():
        table += ["## PEPITA's published setting (Pes et al., arXiv 2501.04141: 600/100 MNIST images)",
                  "", "paper-mlp, 600 bundled training images, the bundled 500 test images, 20 epochs.",
                  "", "| method | ours | published |", "|---|---|---|"]
        published = {"backprop (optical)": "88.8 ± 4", "pepita": "87.6 ± 3"}
        by = {}
        for r in rows(pes):
            by.setdefault(method(r), []).append(float(r["hardware_accuracy"]))
        for m, v in by.items():
            table.append(f"| {m} | {fmt(v)} | {published.get(m, '')} |")
        table.append("")
    (out / "table.md").write_text("\n".join(table) + "\n")
    print(out / "table.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
