"""Overhead of the Python binding on `Network.forward`: a batch of 500 bundled test images
through d2nn-mnist (CPU engine), timed from Python, against the engine's own time for the same
work (encoding the images and the engine's predict, timed in Rust inside the same call by
`Network._forward_timed`). Rounds interleave the two, after warm-up; medians are reported.

    python python/benches/forward.py [--rounds 15] [--preset d2nn-mnist] [--batch 500]

Prints one JSON line: median seconds of each and their ratio (Python / engine).
"""

import argparse
import json
import statistics
import time

import wavetrain as wt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--preset", default="d2nn-mnist")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--backend", default="cpu")
    a = ap.parse_args()
    images = wt.load_idx(wt.bundled_data() / "mnist5k-test-images-idx3-ubyte.gz")[: a.batch]
    net = wt.Network.preset(a.preset)
    for _ in range(2):  # warm-up: builds the engine, faults the buffers in
        net.forward(images, backend=a.backend)
        net._forward_timed(images, backend=a.backend)
    python, engine = [], []
    for _ in range(a.rounds):
        t0 = time.perf_counter()
        net.forward(images, backend=a.backend)
        python.append(time.perf_counter() - t0)
        _, encode, predict = net._forward_timed(images, backend=a.backend)
        engine.append(encode + predict)
    py_s, en_s = statistics.median(python), statistics.median(engine)
    print(json.dumps({
        "preset": a.preset,
        "batch": len(images),
        "backend": a.backend,
        "rounds": a.rounds,
        "python_forward_s": round(py_s, 6),
        "engine_s": round(en_s, 6),
        "ratio": round(py_s / en_s, 4),
    }))


if __name__ == "__main__":
    main()
