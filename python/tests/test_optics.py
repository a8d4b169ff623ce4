"""propagate against an independent numpy angular spectrum; absorber and sampling against the
CLI."""

import csv
import io
import json
import math

import numpy as np
import pytest

import wavetrain as wt
from conftest import run_cli


def padded_len(n: int, pad: float) -> int:
    """ceil(n·pad), at least n, rounded up so that n and it differ by an even number."""
    p = max(math.ceil(n * pad), n)
    return p + (p - n) % 2


def angular_spectrum(u, dx, lam, z, pad, band_limit):
    """Band-limited angular spectrum in float64, written from DESIGN.md: zero-pad to the padded
    grid (the field in its middle), H(f) = exp(i2πz(√(1/λ² − f²) − 1/λ)) on propagating
    frequencies, exp(−2π|z|√(f² − 1/λ²)) on evanescent ones, the Matsushima–Shimobaba limit
    |f| ≤ 1/(λ√((2Δf z)² + 1)) with Δf of the padded grid, crop."""
    ny, nx = u.shape
    qx, qy = padded_len(nx, pad), padded_len(ny, pad)
    oy, ox = (qy - ny) // 2, (qx - nx) // 2
    big = np.zeros((qy, qx), np.complex128)
    big[oy:oy + ny, ox:ox + nx] = u
    fx, fy = np.meshgrid(np.fft.fftfreq(qx, dx), np.fft.fftfreq(qy, dx))
    f2 = fx**2 + fy**2
    inv = 1.0 / lam**2
    prop = f2 < inv
    kz = -f2 / (np.sqrt(np.where(prop, inv - f2, 0.0)) + 1.0 / lam)
    decay = np.exp(-2 * np.pi * abs(z) * np.sqrt(np.where(prop, 0.0, f2 - inv)))
    h = np.where(prop, np.exp(2j * np.pi * z * kz), decay)
    if band_limit:
        lim_x = 1.0 / (lam * np.sqrt((2 * z / (qx * dx)) ** 2 + 1))
        lim_y = 1.0 / (lam * np.sqrt((2 * z / (qy * dx)) ** 2 + 1))
        h[(np.abs(fx) > lim_x) | (np.abs(fy) > lim_y)] = 0
    return np.fft.ifft2(np.fft.fft2(big) * h)[oy:oy + ny, ox:ox + nx]


CASES = [
    # ny, nx, distance, padding, band limit
    (48, 64, 3e-3, 2.0, True),
    (64, 64, 3e-3, 2.0, False),
    (50, 50, 1e-2, 1.5, True),
    (64, 64, 5e-2, 2.0, True),
]


@pytest.mark.parametrize("ny,nx,z,pad,bl", CASES)
def test_propagate_matches_numpy_angular_spectrum(ny, nx, z, pad, bl):
    rng = np.random.default_rng(ny * nx)
    u = (rng.normal(size=(ny, nx)) + 1j * rng.normal(size=(ny, nx))).astype(np.complex64)
    ref = angular_spectrum(u.astype(np.complex128), 8e-6, 780e-9, z, pad, bl)
    out = wt.propagate(u, pitch=8e-6, wavelength=780e-9, distance=z, padding=pad, band_limit=bl)
    assert out.dtype == np.complex64 and out.shape == u.shape
    assert np.linalg.norm(out - ref) / np.linalg.norm(ref) < 1e-6
    out64 = wt.propagate(u.astype(np.complex128), pitch=8e-6, wavelength=780e-9, distance=z,
                         padding=pad, band_limit=bl)
    assert out64.dtype == np.complex128
    assert np.linalg.norm(out64 - ref) / np.linalg.norm(ref) < 1e-12


def test_propagate_batch_is_each_image_propagated():
    rng = np.random.default_rng(3)
    u = (rng.normal(size=(3, 32, 40)) + 1j * rng.normal(size=(3, 32, 40))).astype(np.complex64)
    kw = dict(pitch=8e-6, wavelength=780e-9, distance=2e-3)
    batch = wt.propagate(u, **kw)
    for i in range(3):
        np.testing.assert_allclose(batch[i], wt.propagate(u[i].copy(), **kw), rtol=0, atol=1e-6)
    # The input is not modified.
    assert np.array_equal(u, u.copy())


def cli_absorber(cli, od, model):
    text = run_cli(cli, "absorber", "--od", od, "--model", model, "--from", 0, "--to", 16,
                   "--step", 0.5)
    rows = list(csv.DictReader(io.StringIO(text)))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


@pytest.mark.parametrize("od,model", [(10.0, "thin"), (3.0, "beer-lambert"), (0.0, "thin")])
def test_absorber_matches_cli_csv(cli, od, model):
    ref = cli_absorber(cli, od, model)
    g, t, ge = wt.absorber(ref["z"], od=od, model=model)
    # The CSV carries 9 decimals.
    for got, key in [(g, "g"), (t, "t_probe"), (ge, "g_exact")]:
        np.testing.assert_allclose(got, ref[key], rtol=0, atol=6e-10, err_msg=key)
    # Scalars and shapes pass through.
    g1, t1, _ = wt.absorber(2.0, od=od, model=model)
    assert isinstance(g1, float) and g1 == g[4] and t1 == t[4]
    assert wt.absorber(np.zeros((2, 3)), od=od)[0].shape == (2, 3)


def test_sampling_matches_cli_json(cli):
    ref = json.loads(run_cli(cli, "sampling", "--nx", 50, "--pitch", 8e-6, "--wavelength",
                             780e-9, "--distance", 3e-2, "--pad", 1.5, "--json"))
    got = wt.sampling(nx=50, pitch=8e-6, wavelength=780e-9, distance=3e-2, padding=1.5)
    warnings = got.pop("warnings")
    assert got == ref
    # This step aliases and wraps around: both of the CLI's warnings.
    assert got["aliasing_likely"] and got["wraparound_likely"]
    assert len(warnings) == 2 and "cannot represent" in warnings[0] and "wrap-around" in warnings[1]
    sound = wt.sampling(nx=64, pitch=8e-6, wavelength=780e-9, distance=3e-3)
    assert sound["warnings"] == [] and sound["kept_fraction"] == 1.0
