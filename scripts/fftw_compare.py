#!/usr/bin/env python3
"""FFTW 3 (through pyfftw, FFTW_MEASURE) against `wavetrain bench`, interleaved in one run.

Two measurements, complex64, over the last two axes of a (batch, n, n) array:

* `fft2`: the forward 2-D transform in place, as `wavetrain bench`'s `fft2` record;
* `propagate`: one free-space step as `wavetrain bench`'s `propagate` record (the n×n field
  zero-padded to p×p, p = 2n, forward transform, product with the band-limited angular-spectrum
  transfer function, inverse transform, the n×n window kept). FFTW gets two layouts and the faster
  counts: `full` (pad, fftw2, product, ifft2, crop) and `pruned` (row
  transforms of the n non-zero rows only, column transforms, the product, inverse columns, inverse
  rows of the n kept rows only), each with plans made once by FFTW_MEASURE.

Both engines run with the same thread count (`--threads`, RAYON_NUM_THREADS for wavetrain, the
plan's `threads` for FFTW). `--bin` may name several wavetrain binaries (comma-separated, e.g. a
build before a change and one after): each case is planned once in FFTW, then measured for
`--rounds` rounds, each round running every binary and then FFTW, one after the other, so that
all of them see the same load; the figures are medians over rounds of each round's median.
`ratio` is FFTW's time over wavetrain's: above 1, wavetrain is faster. The load average (before
and after) goes into the JSON's meta: on a shared machine only the ratios mean much.

    pip install pyfftw numpy
    python3 scripts/fftw_compare.py [--bin target/release/wavetrain[,other]] [--ops fft2,propagate]
        [--grids 128,256,512,1024,2048] [--batches 1,16] [--threads 1,2] [--rounds 3]
        [--out fftw.json]
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

try:
    import pyfftw
except ImportError:  # pragma: no cover - told to the user
    sys.exit("fftw_compare: needs pyfftw (pip install pyfftw numpy)")

WAVELENGTH, PITCH, DISTANCE = 780e-9, 8e-6, 5e-3  # as `wavetrain bench`'s propagate record
CAP = 1 << 24  # the bench's largest field (samples), so both measure the same cases


def median_time(fn, min_reps=5, max_reps=30, budget=0.5):
    fn()
    ts = []
    t_start = time.perf_counter()
    while len(ts) < min_reps or (time.perf_counter() - t_start < budget and len(ts) < max_reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def transfer(p):
    """The band-limited angular-spectrum transfer function on a p×p grid (complex64)."""
    f = np.fft.fftfreq(p, d=PITCH)
    fx, fy = np.meshgrid(f, f)
    arg = 1.0 / WAVELENGTH**2 - fx**2 - fy**2
    kz = 2 * np.pi * np.sqrt(np.maximum(arg, 0.0))
    h = np.exp(1j * (kz - 2 * np.pi / WAVELENGTH) * DISTANCE) * (arg > 0) / (p * p)
    # The Matsushima–Shimobaba band limit, |f| ≤ 1/(λ·√((2·Δf·z)² + 1)), Δf = 1/(p·pitch).
    lim = 1.0 / (WAVELENGTH * np.sqrt((2 * (1.0 / (p * PITCH)) * DISTANCE) ** 2 + 1))
    h *= (np.abs(fx) <= lim) & (np.abs(fy) <= lim)
    return h.astype(np.complex64)


class FftwCase:
    """FFTW plans for one (n, batch, threads)."""

    def __init__(self, n, b, threads, propagate=True):
        flags = ("FFTW_MEASURE",)
        rng = np.random.default_rng(0)
        self.x = pyfftw.empty_aligned((b, n, n), dtype="complex64")
        self.x[:] = (rng.random((b, n, n)) + 1j * rng.random((b, n, n))).astype(np.complex64)
        self.fft2 = pyfftw.FFTW(self.x, self.x, axes=(-2, -1), flags=flags, threads=threads)
        self.x[:] = (rng.random((b, n, n)) + 1j * rng.random((b, n, n))).astype(np.complex64)
        if not propagate:
            return
        p = 2 * n
        o = (p - n) // 2
        self.n, self.p, self.o = n, p, o
        self.h = transfer(p)
        # full: pad, 2-D forward, product, 2-D inverse, crop
        self.big = pyfftw.empty_aligned((b, p, p), dtype="complex64")
        self.big[:] = 0
        self.f_full = pyfftw.FFTW(self.big, self.big, axes=(-2, -1), flags=flags, threads=threads)
        self.i_full = pyfftw.FFTW(self.big, self.big, axes=(-2, -1), direction="FFTW_BACKWARD",
                                  flags=flags, threads=threads, normalise_idft=False)
        # pruned: rows of the n non-zero rows, columns, product, inverse columns, inverse rows of
        # the n kept rows; the row plans work on the strided window of the padded array, so the
        # only copies are the field in and out
        band = self.big[:, o:o + n, :]
        self.f_rows = pyfftw.FFTW(band, band, axes=(-1,), flags=flags, threads=threads)
        self.f_cols = pyfftw.FFTW(self.big, self.big, axes=(-2,), flags=flags, threads=threads)
        self.i_cols = pyfftw.FFTW(self.big, self.big, axes=(-2,), direction="FFTW_BACKWARD",
                                  flags=flags, threads=threads, normalise_idft=False)
        self.i_rows = pyfftw.FFTW(band, band, axes=(-1,), direction="FFTW_BACKWARD",
                                  flags=flags, threads=threads, normalise_idft=False)

    def run_fft2(self):
        self.fft2()

    def run_full(self):
        n, o = self.n, self.o
        self.big[:] = 0
        self.big[:, o:o + n, o:o + n] = self.x
        self.f_full()
        np.multiply(self.big, self.h, out=self.big)
        self.i_full()
        self.x[:] = self.big[:, o:o + n, o:o + n]

    def run_pruned(self):
        n, o = self.n, self.o
        big = self.big
        big[:, :o, :] = 0
        big[:, o + n:, :] = 0
        big[:, o:o + n, :o] = 0
        big[:, o:o + n, o + n:] = 0
        big[:, o:o + n, o:o + n] = self.x
        self.f_rows()
        self.f_cols()
        np.multiply(big, self.h, out=big)
        self.i_cols()
        self.i_rows()
        self.x[:] = big[:, o:o + n, o:o + n]


def wavetrain_times(binary, n, b, threads, ops):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run(
        [binary, "bench", "--json", "--backend", "cpu", "--grids", str(n), "--batches", str(b),
         "--ops", ",".join(ops)],
        env=env, check=True, capture_output=True, text=True).stdout
    recs = {r["op"]: r for r in map(json.loads, out.splitlines())}
    return recs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="target/release/wavetrain",
                    help="wavetrain binaries, comma-separated, measured side by side")
    ap.add_argument("--ops", default="fft2,propagate", help="fft2, propagate or both")
    ap.add_argument("--grids", default="128,256,512,1024,2048")
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", help="also write every figure to this JSON file")
    args = ap.parse_args()
    bins = args.bin.split(",")
    for b in bins:
        if not os.access(b, os.X_OK):
            sys.exit(f"fftw_compare: no wavetrain binary at {b}: build it (cargo build --release) or pass --bin")
    ops = args.ops.split(",")
    if not ops or any(o not in ("fft2", "propagate") for o in ops):
        sys.exit(f"fftw_compare: --ops {args.ops}: name fft2, propagate or both (fft2,propagate)")
    cases = [(n, b, t) for n in map(int, args.grids.split(",")) for b in map(int, args.batches.split(","))
             for t in map(int, args.threads.split(",")) if n * n * b <= CAP]
    load_before = os.getloadavg()
    samples = {}
    for c in cases:
        n, b, t = c
        f = FftwCase(n, b, t, "propagate" in ops)
        s = {k: [] for k in ("fftw_fft2", "fftw_propagate_full", "fftw_propagate_pruned")}
        for binary in bins:
            for k in ("fft2", "propagate", "fft2_gb_per_s", "fft2_bandwidth_fraction",
                      "propagate_gb_per_s", "propagate_bandwidth_fraction"):
                s[(binary, k)] = []
        for r in range(args.rounds):
            for binary in bins:
                w = wavetrain_times(binary, n, b, t, ops)
                for op in ops:
                    s[(binary, op)].append(w[op]["median_ms"])
                    s[(binary, op + "_gb_per_s")].append(w[op]["gb_per_s"])
                    s[(binary, op + "_bandwidth_fraction")].append(w[op]["bandwidth_fraction"])
            if "fft2" in ops:
                s["fftw_fft2"].append(1e3 * median_time(f.run_fft2))
            if "propagate" in ops:
                s["fftw_propagate_full"].append(1e3 * median_time(f.run_full))
                s["fftw_propagate_pruned"].append(1e3 * median_time(f.run_pruned))
            print(f"# {n}x{n} batch {b} threads {t}: round {r + 1}/{args.rounds} done", file=sys.stderr)
        samples[c] = s
        del f
    rows = []
    nan = float("nan")
    for (n, b, t), s in samples.items():
        med = {k: statistics.median(v) if v else nan for k, v in s.items()}
        for binary in bins:
            m = lambda k: med[(binary, k)]
            fftw_prop = min(med["fftw_propagate_full"], med["fftw_propagate_pruned"])
            rows.append({
                "grid": f"{n}x{n}", "batch": b, "threads": t, "bin": binary,
                "wavetrain_fft2_ms": m("fft2"), "fftw_fft2_ms": med["fftw_fft2"],
                "fft2_ratio": med["fftw_fft2"] / m("fft2"),
                "fft2_gb_per_s": m("fft2_gb_per_s"),
                "fft2_bandwidth_fraction": m("fft2_bandwidth_fraction"),
                "wavetrain_propagate_ms": m("propagate"),
                "fftw_propagate_full_ms": med["fftw_propagate_full"],
                "fftw_propagate_pruned_ms": med["fftw_propagate_pruned"],
                "propagate_ratio": fftw_prop / m("propagate"),
                "propagate_gb_per_s": m("propagate_gb_per_s"),
                "propagate_bandwidth_fraction": m("propagate_bandwidth_fraction"),
            })
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "fftw": "pyfftw " + pyfftw.__version__ + " (FFTW_MEASURE)",
            "numpy": np.__version__, "rounds": args.rounds, "bins": bins, "ops": ops,
            "loadavg_before": load_before, "loadavg_after": os.getloadavg()}
    print(json.dumps({"meta": meta}))
    for row in rows:
        print(json.dumps(row))
    print("\n| grid | batch | threads | binary | fft2: wavetrain ms | FFTW ms | FFTW/ours | ours GB/s (of copy) "
          "| propagate: wavetrain ms | FFTW ms (best layout) | FFTW/ours | ours GB/s (of copy) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        best = min(r["fftw_propagate_full_ms"], r["fftw_propagate_pruned_ms"])
        print(f"| {r['grid']} | {r['batch']} | {r['threads']} | {r['bin']} | {r['wavetrain_fft2_ms']:.3f} | "
              f"{r['fftw_fft2_ms']:.3f} | {r['fft2_ratio']:.2f} | {r['fft2_gb_per_s']:.1f} "
              f"({100 * r['fft2_bandwidth_fraction']:.0f} %) | {r['wavetrain_propagate_ms']:.3f} | "
              f"{best:.3f} | {r['propagate_ratio']:.2f} | {r['propagate_gb_per_s']:.1f} "
              f"({100 * r['propagate_bandwidth_fraction']:.0f} %) |")
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w") as fh:
            json.dump({"meta": meta, "rows": rows}, fh, indent=1)
        os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
