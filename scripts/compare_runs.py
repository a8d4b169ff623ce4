#!/usr/bin/env python3
"""Compare two run folders bit for bit: every column of metrics.csv except the timings
(images_per_second, seconds), and the tensor bytes of checkpoint.safetensors (the metadata
holds timings, so it is left out). Pure Python, no packages.

Usage: scripts/compare_runs.py RUN_A RUN_B   (exit 0 when identical, 1 otherwise)
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
    a, b = Path(sys.argv[1]), Path(sys.argv[2])
    ok = True
    ma, mb = metrics(a), metrics(b)
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
