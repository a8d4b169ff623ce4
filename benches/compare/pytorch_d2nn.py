#!/usr/bin/env python3
"""A straightforward PyTorch CPU implementation of issue 6's comparison network, for timing
wavetrain's CPU engine against on the same machine, in the same session.

The network is the one of `benches/d2nn-50.toml`, `benches/d2nn-100.toml` or
`benches/d2nn-200.toml` (LightRidge's size): a field of N×N SLM pixels (pitch 8 µm, 780 nm), free
space (3 mm; 10 mm for N = 200), then five phase layers each followed by free space, a thin
saturable absorber (α₀ = 10, t(s) = exp(−α₀/2/(1+s))) after each of the first four; ten square
detectors (5, 10 or 20 pixels wide) in 3-4-3 rows; softmax cross-entropy on the normalised powers
at temperature 0.05; Adam, lr 0.05, batch 64 (500 for N = 200); one epoch of the bundled 4,000
training images (`--images` fewer). The input is resampled to 32, 64 or 128 pixels.

Free space is the textbook band-limited angular-spectrum step: zero-pad to 2N, `fft2`, multiply by
H, `ifft2`, crop. The optical gradient: each absorber's backward multiplies the incoming gradient
by the transmission the forward pass set, t(s) (what a weak counter-propagating probe sees), in
a custom autograd function; everything else is autograd.

    python3 benches/compare/pytorch_d2nn.py --n 50 --threads 2

prints one line: `pytorch <version> n <N> threads <T> epoch_seconds <s> loss <l> accuracy <a>`.
"""
import argparse
import gzip
import math
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


def encode(images, n, size, intensity):
    """Bilinear resample to size×size (pixel centres aligned), amplitude √I·pixel/255, centred."""
    x = images.float().unsqueeze(1)
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    x = x.squeeze(1) * (math.sqrt(intensity) / 255.0)
    out = torch.zeros(images.shape[0], n, n)
    o = (n - size) // 2
    out[:, o : o + size, o : o + size] = x
    return out


def transfer_function(p, dx, wavelength, z):
    """Band-limited angular spectrum H on a p×p grid (Matsushima & Shimobaba 2009)."""
    f = torch.fft.fftfreq(p, d=dx, dtype=torch.float64)
    fy, fx = torch.meshgrid(f, f, indexing="ij")
    df = 1.0 / (p * dx)
    lim = 1.0 / (wavelength * math.sqrt((2 * df * z) ** 2 + 1))
    inv_l2 = 1.0 / wavelength**2
    f2 = fx**2 + fy**2
    kz = -f2 / (torch.sqrt(torch.clamp(inv_l2 - f2, min=0)) + 1.0 / wavelength)
    h = torch.exp(1j * 2 * math.pi * z * kz)
    h = torch.where(f2 < inv_l2, h, torch.exp(-2 * math.pi * z * torch.sqrt(torch.clamp(f2 - inv_l2, min=0))) + 0j)
    h = torch.where((fx.abs() <= lim) & (fy.abs() <= lim), h, torch.zeros_like(h))
    return h.to(torch.complex64)


class OpticalAbsorber(torch.autograd.Function):
    """Thin saturable absorber; backward = the optical probe, t(s)·grad."""

    @staticmethod
    def forward(ctx, v, od):
        t = torch.exp(-0.5 * od / (1.0 + v.real**2 + v.imag**2))
        ctx.save_for_backward(t)
        return v * t

    @staticmethod
    def backward(ctx, grad):
        (t,) = ctx.saved_tensors
        return grad * t, None


# N: (input size, distance in m, detector size, batch), as in benches/d2nn-N.toml.
SIZES = {50: (32, 3e-3, 5, 64), 100: (64, 3e-3, 10, 64), 200: (128, 10e-3, 20, 500)}


def layout(n, d=5):
    rows, gap = [3, 4, 3], (d + 1) // 2
    pitch = d + gap
    h = len(rows) * pitch - gap
    y0 = (n - h) // 2
    out = []
    for ri, count in enumerate(rows):
        x0 = (n - (count * pitch - gap)) // 2
        out += [(x0 + c * pitch, y0 + ri * pitch) for c in range(count)]
    return out


def epoch(who, n, forward, x_all, labels, batch, temp, opt):
    """One timed epoch in a shuffled order (softmax cross-entropy on the normalised detector
    powers `forward(x)` at temperature `temp`); prints the harness's line, starting with `who`."""
    order = torch.randperm(x_all.shape[0])
    t0 = time.perf_counter()
    total, hits = 0.0, 0
    for s in range(0, len(order), batch):
        idx = order[s : s + batch]
        powers = forward(x_all[idx])
        logits = powers / powers.sum(1, keepdim=True) / temp
        loss = torch.nn.functional.cross_entropy(logits, labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
        hits += (logits.argmax(1) == labels[idx]).sum().item()
    dt = time.perf_counter() - t0
    print(
        f"{who} n {n} threads {torch.get_num_threads()} "
        f"epoch_seconds {dt:.3f} loss {total / len(order):.4f} accuracy {hits / len(order):.4f}"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50, choices=sorted(SIZES))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "data"))
    ap.add_argument("--images", type=int, default=4000)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    n, p, od, temp = args.n, 2 * args.n, 10.0, 0.05
    size, distance, det, batch = SIZES[n]
    imgs = read_idx(os.path.join(args.data, "mnist5k-train-images-idx3-ubyte.gz"))[: args.images]
    labels = read_idx(os.path.join(args.data, "mnist5k-train-labels-idx1-ubyte.gz"))[: args.images].long()
    x_all = encode(imgs, n, size, 100.0).to(torch.complex64)
    h = transfer_function(p, 8e-6, 780e-9, distance)
    phases = [torch.zeros(n, n, requires_grad=True) for _ in range(5)]
    opt = torch.optim.Adam(phases, lr=0.05)
    regions = layout(n, det)
    o = (p - n) // 2

    def propagate(u):
        u = torch.nn.functional.pad(u, (o, p - n - o, o, p - n - o))
        u = torch.fft.ifft2(torch.fft.fft2(u) * h)
        return u[:, o : o + n, o : o + n]

    def forward(u):
        u = propagate(u)
        for i, ph in enumerate(phases):
            u = propagate(u * torch.exp(1j * ph))
            if i < 4:
                u = OpticalAbsorber.apply(u, od)
        inten = u.real**2 + u.imag**2
        return torch.stack([inten[:, y : y + det, x : x + det].sum((1, 2)) for x, y in regions], 1)

    epoch("pytorch " + torch.__version__, n, forward, x_all, labels, batch, temp, opt)

if __name__ == "__main__":
    main()
