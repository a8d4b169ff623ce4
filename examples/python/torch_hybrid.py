"""A hybrid optical–electronic classifier trained end to end with PyTorch: a small diffractive
front end (two phase masks and a saturable absorber, wavetrain's engine, the optical gradient as
its backward) feeding a digital linear head, on the bundled MNIST subset.

    python examples/python/torch_hybrid.py [--steps 60] [--batch 32]

Needs ``pip install ./python[torch]``. Prints the test accuracy of the hybrid model.
"""

import argparse
import time

import numpy as np
import torch

import wavetrain as wt
from wavetrain.torch import OpticalLayer


def front() -> wt.Network:
    """The optical front end, composed in Python: 32×32 grid of 8 µm pixels at 780 nm, two phase
    masks 2 mm apart with a saturable absorber (α₀ = 2) between, 16 detectors of 4×4 pixels."""
    return wt.Network.from_elements(
        [wt.FreeSpace(distance=2e-3), wt.Phase(init_std=0.5), wt.FreeSpace(distance=2e-3),
         wt.Absorber(od=2.0), wt.Phase(init_std=0.5), wt.FreeSpace(distance=2e-3)],
        grid=(32, 32), pitch=8e-6, wavelength=780e-9, padding=2.0,
        input=wt.Input(intensity=20.0, size=20),
        readout=wt.Readout(classes=16, detector_size=4),
        name="hybrid-front",
    )


class Hybrid(torch.nn.Module):
    """Optics (16 detector powers) → normalisation → a digital linear layer (10 classes)."""

    def __init__(self) -> None:
        super().__init__()
        self.optics = OpticalLayer(front(), gradient="optical")
        self.head = torch.nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.optics(x)
        p = p / p.sum(dim=1, keepdim=True)          # the detectors' share of the light
        return self.head(16.0 * p - 1.0)


def main() -> float:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    d = wt.bundled_data()
    train_x = wt.load_idx(d / "mnist5k-train-images-idx3-ubyte.gz")
    train_y = wt.load_idx(d / "mnist5k-train-labels-idx1-ubyte.gz").astype(np.int64)
    test_x = wt.load_idx(d / "mnist5k-test-images-idx3-ubyte.gz")
    test_y = wt.load_idx(d / "mnist5k-test-labels-idx1-ubyte.gz").astype(np.int64)
    model = Hybrid()
    enc = model.optics.network.encode
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    rng = np.random.default_rng(a.seed)
    t0 = time.perf_counter()
    for step in range(a.steps):
        idx = rng.choice(len(train_x), a.batch, replace=False)
        x = torch.from_numpy(enc(train_x[idx]))
        loss = torch.nn.functional.cross_entropy(model(x), torch.from_numpy(train_y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 20 == 0 or step == a.steps - 1:
            print(f"step {step:4d}  loss {loss.item():.3f}  ({time.perf_counter() - t0:.1f} s)")
    with torch.no_grad():
        pred = model(torch.from_numpy(enc(test_x))).argmax(dim=1).numpy()
    acc = float((pred == test_y).mean())
    print(f"hybrid test accuracy: {100 * acc:.1f} % on {len(test_y)} images "
          f"({a.steps} steps of {a.batch}, {time.perf_counter() - t0:.1f} s)")
    return acc


if __name__ == "__main__":
    main()
