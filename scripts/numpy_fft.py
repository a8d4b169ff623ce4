#!/usr/bin/env python3
"""numpy.fft.fft2 timings to set beside `wavetrain bench` (issue: the CPU 2-D FFT at least as fast
as numpy's on the same machine and thread count). complex64 input (numpy >= 2 keeps single
precision), forward transform over the last two axes of a (batch, n, n) array, median of repeats
after one warm-up. numpy's pocketfft is single-threaded: compare with RAYON_NUM_THREADS=1.

    python3 scripts/numpy_fft.py [--grids 128,256,512,1024,2048] [--batches 1,16]
"""
import argparse
import json
import time

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--grids", default="128,256,512,1024,2048")
ap.add_argument("--batches", default="1,16")
args = ap.parse_args()
print(f"# numpy {np.__version__}")
for n in map(int, args.grids.split(",")):
    for b in map(int, args.batches.split(",")):
        if n * n * b > (1 << 24):
            continue
        rng = np.random.default_rng(0)
        x = (rng.random((b, n, n)) + 1j * rng.random((b, n, n))).astype(np.complex64)
        np.fft.fft2(x)
        ts = []
        t_start = time.perf_counter()
        while len(ts) < 5 or (time.perf_counter() - t_start < 1.0 and len(ts) < 30):
            t0 = time.perf_counter()
            y = np.fft.fft2(x)
            ts.append(time.perf_counter() - t0)
        assert y.dtype == np.complex64
        ts.sort()
        print(json.dumps({"op": "numpy.fft.fft2", "grid": f"{n}x{n}", "batch": b,
                          "median_ms": 1e3 * ts[len(ts) // 2], "reps": len(ts)}))
