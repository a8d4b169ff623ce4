#!/usr/bin/env python3
"""Compare two run folders bit for bit: every column of metrics.csv except the timings
(images_per_second, seconds), and the tensor bytes of checkpoint.safetensors (the metadata
holds timings, so it is left out). Pure Python, no packages.

Usage: scripts/compare_runs.py [--common-columns] RUN_A RUN_B   (exit 0 when identical, 1 otherwise)

--common-columns compares only the metrics.csv columns both runs have (a newer version may add
columns, e.g. model_accuracy and hardware_accuracy) and names the others.
"""
import csv
import json
import struct
import sys
from pathlib import Path

TIMINGS = {"images_per_second", "seconds"}


def metrics(run: Path):
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: v for k, v in r.items() if k not in TIMINGS} for r in rows]


def tensors(run: Path):
    data = (run / "checkpoint.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        out[name] = (t["dtype"], tuple(t["shape"]), body[a:b])
    return out


def main() -> int:
    args = sys.argv[1:]
    common = "--common-columns" in args
    args = [x for x in args if x != "--common-columns"]
    if len(args) != 2:
        print(__doc__)
        return 2
    a, b = Path(args[0]), Path(args[1])
    ok = True
    ma, mb = metrics(a), metrics(b)
    if common and ma and mb:
        shared = set(ma[0]) & set(mb[0])
        only = sorted((set(ma[0]) | set(mb[0])) - shared)
        if only:
            print(f"not compared (in one run only): {', '.join(only)}")
        ma = [{k: v for k, v in r.items() if k in shared} for r in ma]
        mb = [{k: v for k, v in r.items() if k in shared} for r in mb]
    if ma != mb:
        ok = False
        print(f"metrics differ:\n  {a}: {ma}\n  {b}: {mb}")
    ta, tb = tensors(a), tensors(b)
    if ta.keys() != tb.keys():
        ok = False
        print(f"tensor names differ: {sorted(ta)} vs {sorted(tb)}")
    for k in sorted(set(ta) & set(tb)):
        if ta[k] != tb[k]:
            ok = False
            print(f"tensor {k} differs")
    print(f"{'identical' if ok else 'DIFFERENT'}: {a} vs {b} ({len(ma)} epochs, {len(ta)} tensors)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
