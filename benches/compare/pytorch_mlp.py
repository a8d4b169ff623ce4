#!/usr/bin/env python3
"""A straightforward PyTorch CPU implementation of the `paper-mlp` preset, for timing wavetrain's
dense CPU executor against on the same machine, in the same session (issue 20).

The network is the preset's: 784-128-128-10 optical fully connected layers `z = gain·W a`
(gains 1.5, 2.0, 0.25; weights N(0, 1/in) clipped to [−1, 1] and kept there after every update,
as the SLM shows them), a thin saturable absorber `g(z) = z·exp(−(α₀/2)/(1 + z²))` with α₀ = 10
after each of the first two layers; MSE on the output amplitudes against the one-hot label
(summed over classes, mean over the batch); Adam, lr 5e-4, batch 64; one epoch of the bundled
4,000 training images as amplitudes pixel/255.

The optical gradient: each absorber's backward multiplies the incoming gradient by the
transmission the forward pass set, t(z²) (what a weak counter-propagating probe sees), in a custom
autograd function; everything else is autograd. As in wavetrain, the timed loop is the training
steps (the images are encoded once before it).

    python3 benches/compare/pytorch_mlp.py --threads 2

prints one line: `pytorch <version> threads <T> epoch_seconds <s> loss <l> accuracy <a>`.
"""
import argparse
import gzip
import os
import struct
import time

import torch


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype, dims = struct.unpack(">HBB", raw[:4])
    shape = struct.unpack(">" + "I" * dims, raw[4 : 4 + 4 * dims])
    data = torch.frombuffer(bytearray(raw[4 + 4 * dims :]), dtype=torch.uint8)
    return data.reshape(shape)


class OpticalAbsorber(torch.autograd.Function):
    """Thin saturable absorber on real amplitudes; backward = the optical probe, t(z²)·grad."""

    @staticmethod
    def forward(ctx, z, od):
        t = torch.exp(-0.5 * od / (1.0 + z * z))
        ctx.save_for_backward(t)
        return z * t

    @staticmethod
    def backward(ctx, grad):
        (t,) = ctx.saved_tensors
        return grad * t, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "data"))
    ap.add_argument("--images", type=int, default=4000)
    ap.add_argument("--epochs", type=int, default=1, help="epochs; the last one is timed")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    dims, gains, od, batch = [784, 128, 128, 10], [1.5, 2.0, 0.25], 10.0, 64
    imgs = read_idx(os.path.join(args.data, "mnist5k-train-images-idx3-ubyte.gz"))[: args.images]
    labels = read_idx(os.path.join(args.data, "mnist5k-train-labels-idx1-ubyte.gz"))[: args.images].long()
    x_all = imgs.reshape(imgs.shape[0], -1).float() / 255.0
    onehot_all = torch.nn.functional.one_hot(labels, 10).float()
    weights = [
        (torch.randn(o, i) / i**0.5).clamp(-1.0, 1.0).requires_grad_()
        for i, o in zip(dims[:-1], dims[1:])
    ]
    opt = torch.optim.Adam(weights, lr=5e-4)

    def forward(a):
        for li, (w, g) in enumerate(zip(weights, gains)):
            a = g * (a @ w.t())
            if li < len(weights) - 1:
                a = OpticalAbsorber.apply(a, od)
        return a

    for epoch in range(args.epochs):
        order = torch.randperm(x_all.shape[0])
        t0 = time.perf_counter()
        total, hits = 0.0, 0
        for s in range(0, len(order), batch):
            idx = order[s : s + batch]
            y = forward(x_all[idx])
            loss = ((y - onehot_all[idx]) ** 2).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for w in weights:
                    w.clamp_(-1.0, 1.0)
            total += loss.item() * len(idx)
            hits += (y.argmax(1) == labels[idx]).sum().item()
        dt = time.perf_counter() - t0
    print(
        f"pytorch {torch.__version__} threads {torch.get_num_threads()} "
        f"epoch_seconds {dt:.4f} loss {total / len(order):.4f} accuracy {hits / len(order):.4f}"
    )


if __name__ == "__main__":
    main()
