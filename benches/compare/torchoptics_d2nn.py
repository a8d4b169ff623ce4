#!/usr/bin/env python3
"""Issue 6's comparison network built with the peer library torchoptics (1.0.2), for timing
wavetrain's CPU engine against on the same machine, in the same session; the torchoptics twin of
`pytorch_d2nn.py`.

The same as `pytorch_d2nn.py`: the network of `benches/d2nn-50.toml`, `benches/d2nn-100.toml` or
`benches/d2nn-200.toml` (a field of N×N SLM pixels, pitch 8 µm, 780 nm; free space, 3 mm, 10 mm
for N = 200; five phase layers each followed by free space; a thin saturable absorber (α₀ = 10,
t(s) = exp(−α₀/2/(1+s))) after each of the first four; ten square detectors, 5, 10 or 20 pixels
wide, in 3-4-3 rows; softmax cross-entropy on the normalised powers at temperature 0.05; Adam,
lr 0.05, batch 64 (500 for N = 200)), the same data, encoding (input resampled to 32, 64 or 128
pixels), shuffle (seed 0), flags and timing (the training loop only), and the absorber's optical
gradient: its backward multiplies the incoming gradient by t(s), in a custom autograd function.

What torchoptics does: the field is a `torchoptics.Field`, the five layers are
`torchoptics.elements.PhaseModulator`s with a trainable `phase`, the detectors a
`torchoptics.elements.LinearDetector` (0/1 masks over the 3-4-3 squares; it also multiplies by
the cell area, which the normalisation cancels), and free space is torchoptics's own
`Field.propagate_to_plane(..., propagation_method="ASM", asm_pad=N/2)`: its angular-spectrum
method zero-pads `asm_pad` pixels on each side (so N/2 gives the same 2N×2N grid as
`pytorch_d2nn.py`; its default, 2N a side, would be a 5N grid), `fft2`s, multiplies by
H = exp(i·z·√(k²−kx²−ky²)) and `ifft2`s, then crops back to N×N by resampling onto the next
element's plane (`grid_sample`, nearest, which lands exactly on the centre N×N pixels). The
absorber is a plain function applied to the field's data between elements (torchoptics has no
saturable absorber); the loop is `torchoptics.System.forward` unrolled to make room for it.

What differs, all inside torchoptics: (1) H has no band limit (Matsushima & Shimobaba); for these
three sizes the band limit of `pytorch_d2nn.py` lies beyond the grid's Nyquist frequency
(1/(2·8 µm) = 62.5 mm⁻¹ against ≥ 169 mm⁻¹), so the two H agree except for (2) the carrier
exp(ikz), a global phase that torchoptics keeps and `pytorch_d2nn.py` drops — the powers are the
same; (3) torchoptics computes H afresh at every propagation, in its default dtype, which is set
to float32 here so the fields are complex64 as in `pytorch_d2nn.py`; with the carrier kept, k·z is
2.4·10⁴ rad (8·10⁴ for N = 200), so float32 rounds H's phase by up to 3·10⁻³ rad (9·10⁻³), and the
detector powers differ from `pytorch_d2nn.py`'s by up to ~10⁻³ relative (2–7·10⁻⁴ once
normalised) — float32 noise, not different physics: in float64, torchoptics's default, the two
agree to 10⁻¹²; (4) the library's own overheads stay in the timing: a new `Field` (a copy of the
data) per step, fftshift/ifftshift (`roll`, the largest of them) around the product, H rebuilt per
step, the crop as two `grid_sample`s.

    pip install torch torchoptics==1.0.2
    python3 benches/compare/torchoptics_d2nn.py --n 50 --threads 2

prints one line: `torchoptics <version> n <N> threads <T> epoch_seconds <s> loss <l> accuracy <a>`.
"""
import argparse
import os
import sys

import torch
import torchoptics
from torchoptics import Field
from torchoptics.elements import LinearDetector, PhaseModulator

# The data, encoding, detector layout, sizes and absorber are pytorch_d2nn.py's own.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_d2nn import SIZES, OpticalAbsorber, encode, epoch, layout, read_idx  # noqa: E402


def build(n, distance, det, pitch=8e-6):
    """The five phase layers (z = 1..5 distances) and the detector plane (z = 6 distances)."""
    layers = [
        PhaseModulator(torch.nn.Parameter(torch.zeros(n, n)), z=(i + 1) * distance, spacing=pitch)
        for i in range(5)
    ]
    masks = torch.zeros(10, n, n)
    for c, (x, y) in enumerate(layout(n, det)):
        masks[c, y : y + det, x : x + det] = 1.0
    detector = LinearDetector(masks, z=6 * distance, spacing=pitch)
    return layers, detector


def forward(field, layers, detector, od, pad):
    """torchoptics.System.forward, unrolled to put the absorber between the elements."""
    for i, layer in enumerate(layers):
        field = field.propagate_to_plane(layer, propagation_method="ASM", asm_pad=pad)
        if i > 0:
            field = field.copy(data=OpticalAbsorber.apply(field.data, od))
        field = layer(field)
    field = field.propagate_to_plane(detector, propagation_method="ASM", asm_pad=pad)
    return detector(field)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50, choices=sorted(SIZES))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "data"))
    ap.add_argument("--images", type=int, default=4000)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    torchoptics.set_default_dtype(torch.float32)  # complex64 fields, as in pytorch_d2nn.py

    n, od, temp, wavelength = args.n, 10.0, 0.05, 780e-9
    size, distance, det, batch = SIZES[n]
    pad = n // 2  # per side: a 2N×2N propagation grid
    imgs = read_idx(os.path.join(args.data, "mnist5k-train-images-idx3-ubyte.gz"))[: args.images]
    labels = read_idx(os.path.join(args.data, "mnist5k-train-labels-idx1-ubyte.gz"))[: args.images].long()
    x_all = encode(imgs, n, size, 100.0).to(torch.complex64)
    layers, detector = build(n, distance, det)
    opt = torch.optim.Adam([layer.phase for layer in layers], lr=0.05)

    def step_forward(x):
        field = Field(x, wavelength=wavelength, z=0, spacing=8e-6)
        return forward(field, layers, detector, od, pad)

    epoch("torchoptics " + torchoptics.__version__, n, step_forward, x_all, labels, batch, temp, opt)

if __name__ == "__main__":
    main()
