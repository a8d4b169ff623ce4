"""Overhead of the PyTorch layer (wavetrain.torch.OpticalLayer) against the engine's own work:
a batch of bundled test images through a preset (CPU engine, float32), interleaved rounds after
warm-up, medians reported.

Forward: `layer(x)` under `torch.no_grad()` against the engine's own time for the same readout
(`Network._forward_timed`: the engine's predict, timed in Rust inside the call, encoding
excluded). Forward + backward: `layer(x)` then `.backward(upstream)` against `net.forward(x)`
plus `net.vjp(x, upstream)` called directly from numpy (the same engine work without torch).

    python python/benches/torch_layer.py [--rounds 11] [--preset d2nn-mnist] [--batch 64]

Prints one JSON line: the medians (seconds) and the ratios layer / engine.
"""

import argparse
import json
import statistics
import time

import numpy as np
import torch

import wavetrain as wt
from wavetrain.torch import OpticalLayer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--preset", default="d2nn-mnist")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--gradient", default="optical")
    a = ap.parse_args()
    images = wt.load_idx(wt.bundled_data() / "mnist5k-test-images-idx3-ubyte.gz")[: a.batch]
    net = wt.Network.preset(a.preset)
    x = net.encode(images)
    xt = torch.from_numpy(x)
    layer = OpticalLayer(net, gradient=a.gradient)
    up = np.random.default_rng(0).uniform(-1, 1, (len(x), net.classes)) / 64e-12
    upt = torch.from_numpy(up.astype(np.float32))

    def engine_forward() -> float:
        return net._forward_timed(images)[2]

    def layer_forward() -> None:
        with torch.no_grad():
            layer(xt)

    def layer_step() -> None:
        layer.zero_grad()
        layer(xt).backward(upt)

    def numpy_step() -> None:
        net.forward(x)
        net.vjp(x, up, gradient=a.gradient, precision="f32")

    for _ in range(2):  # warm-up: engines built, buffers faulted in
        engine_forward(), layer_forward(), layer_step(), numpy_step()
    times = {"engine_forward_s": [], "layer_forward_s": [], "numpy_forward_vjp_s": [],
             "layer_forward_backward_s": []}
    for _ in range(a.rounds):
        times["engine_forward_s"].append(engine_forward())
        for key, f in (("layer_forward_s", layer_forward), ("numpy_forward_vjp_s", numpy_step),
                       ("layer_forward_backward_s", layer_step)):
            t0 = time.perf_counter()
            f()
            times[key].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({
        "preset": a.preset,
        "batch": len(x),
        "gradient": a.gradient,
        "rounds": a.rounds,
        "threads": torch.get_num_threads(),
        **{k: round(v, 6) for k, v in med.items()},
        "forward_ratio": round(med["layer_forward_s"] / med["engine_forward_s"], 3),
        "backward_ratio": round(med["layer_forward_backward_s"] / med["numpy_forward_vjp_s"], 3),
    }))


if __name__ == "__main__":
    main()
