"""Issue 29, item 2 (and 6: complex inputs): Network.vjp against finite differences of
forward(precision="f64") in double precision, on the model and on an imperfect system, for real,
complex and float64 inputs and full-precision params; with the loss's own upstream it is the
training gradient; complex input fields through forward."""

import numpy as np
import pytest

import wavetrain as wt

HW = ('\n[hardware]\nshifts = [[3e-6, -2e-6], [1e-6, 2.5e-6]]\n'
      'distance_errors = [4e-6, -6e-6, 5e-6]\nfringing = 0.3\n')


def setup(tiny, hw=""):
    net = wt.Network.from_toml(tiny + hw, overrides={"train.target": "hardware"})
    rng = np.random.default_rng(3)
    params = {k: rng.uniform(0.2, 2.5, v.shape) for k, v in net.params().items()}
    x = rng.uniform(0.0, 1.2, (2, 16, 16)) + 1j * rng.uniform(-0.4, 0.4, (2, 16, 16))
    # Powers are in I_sat·m²: an upstream of order 1/dx² gives gradients of order 1.
    up = rng.uniform(-1.0, 1.0, (2, net.classes)) / 64e-12
    return net, params, x, up


def objective(net, x, up, params, system=None):
    n = net if system is None else wt.Network.from_toml(
        net.toml, overrides={"train.target": system})
    return float((n.forward(x, precision="f64", params=params) * up).sum())


@pytest.mark.parametrize("hw,system", [("", None), (HW, None), (HW, "model")])
def test_vjp_matches_finite_differences(tiny, hw, system):
    net, params, x, up = setup(tiny, hw)
    grads, gx = net.vjp(x, up, params=params, system=system)
    assert gx.dtype == np.complex128 and gx.shape == x.shape
    h = 1e-6
    rng = np.random.default_rng(0)
    scale = max(np.abs(g).max() for g in grads.values())
    assert scale > 1e-3
    for name, p in params.items():
        for idx in rng.choice(p.size, 4, replace=False):
            d = np.zeros(p.size)
            d[idx] = h
            plus = dict(params, **{name: p + d.reshape(p.shape)})
            minus = dict(params, **{name: p - d.reshape(p.shape)})
            fd = (objective(net, x, up, plus, system) - objective(net, x, up, minus, system)) / (2 * h)
            assert abs(fd - grads[name].flat[idx]) < 1e-6 * scale, (name, idx)
    xs = np.abs(gx).max()
    for idx in rng.choice(x.size, 6, replace=False):
        for unit, part in ((1.0, np.real), (1j, np.imag)):
            d = np.zeros(x.size, complex)
            d[idx] = unit * h
            fd = (objective(net, x + d.reshape(x.shape), up, params, system)
                  - objective(net, x - d.reshape(x.shape), up, params, system)) / (2 * h)
            assert abs(fd - part(gx.flat[idx])) < 1e-6 * xs, idx
    # Real float64 inputs: the real part of the same gradient.
    g2, gx2 = net.vjp(x.real.copy(), up, params=params, system=system)
    g3, gx3 = net.vjp(x.real.astype(complex), up, params=params, system=system)
    assert gx2.dtype == np.float64
    np.testing.assert_array_equal(gx2, gx3.real)
    for k in g2:
        np.testing.assert_array_equal(g2[k], g3[k])


def test_with_the_losss_upstream_the_vjp_is_the_training_gradient(tiny, test_images, test_labels):
    net = wt.Network.from_toml(tiny)
    x, y = test_images[:4], test_labels[:4].astype(np.int64)
    tau = 0.05
    powers = net.forward(x, precision="f64")
    # ∂L/∂P of the mean cross-entropy of softmax(p/τ), p = P/ΣP.
    s = powers.sum(axis=1, keepdims=True)
    p = powers / s
    z = p / tau
    q = np.exp(z - z.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    dz = q.copy()
    dz[np.arange(len(y)), y] -= 1.0
    dp = dz / tau / len(y)
    dl_dP = (dp - (dp * p).sum(axis=1, keepdims=True)) / s
    for mode in ("exact", "optical"):
        want = net.gradients(x, y, gradient=mode, precision="f64")
        got, _ = net.vjp(x, dl_dP, gradient=mode)
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-6, atol=1e-9 * np.abs(want[k]).max())


def test_complex_inputs_and_refusals(tiny):
    net = wt.Network.from_toml(tiny)
    rng = np.random.default_rng(1)
    amp = rng.uniform(0.0, 1.0, (3, 16, 16))
    # A real field given as complex gives the real input's powers; a phase object changes them.
    real = net.forward(amp, precision="f64")
    as_complex = net.forward(amp.astype(np.complex128), precision="f64")
    np.testing.assert_array_equal(real, as_complex)
    np.testing.assert_allclose(net.forward(amp.astype(np.complex64)), real, rtol=1e-4)
    phase = amp * np.exp(1j * rng.uniform(0, 2 * np.pi, amp.shape))
    assert not np.allclose(net.forward(phase, precision="f64"), real, rtol=1e-3, atol=0)
    with pytest.raises(wt.ConfigError, match="backend"):
        net.forward(phase, backend="gpu")
    with pytest.raises(ValueError, match="shape"):
        net.forward(np.ascontiguousarray(phase[:, :8]))
    up = np.ones((3, net.classes))
    with pytest.raises(ValueError, match="upstream"):
        net.vjp(amp, up[:2])
    with pytest.raises(wt.ConfigError, match="system"):
        net.vjp(amp, up, system="physics-aware")
    with pytest.raises(wt.ConfigError, match="params"):
        net.vjp(amp, up, params={"nope": np.zeros(3)})
    dense = wt.Network.preset("paper-2layer")
    with pytest.raises(wt.ConfigError, match="dense"):
        dense.forward(np.ones((1, 3), np.complex128))
    g, gx = dense.vjp(np.ones((2, 3)), np.ones((2, 2)))
    assert gx.shape == (2, 3) and set(g) == set(dense.params())


def gpu_or_skip(call):
    """`call()` on the GPU, skipped where no adapter exists unless WAVETRAIN_REQUIRE_GPU=1 (CI,
    with the software Vulkan driver), where that fails."""
    import os

    try:
        return call()
    except wt.GpuError as e:
        if os.environ.get("WAVETRAIN_REQUIRE_GPU") == "1":
            raise
        pytest.skip(f"no GPU adapter: {e}")


@pytest.mark.parametrize("hw,system", [("", None), (HW, None), (HW, "model")])
@pytest.mark.parametrize("mode", ["optical", "exact"])
def test_the_gpu_vjp_matches_the_cpu(tiny, hw, system, mode):
    net, params, x, up = setup(tiny, hw)
    x = np.ascontiguousarray(x.real, dtype=np.float32)
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    # The network's batch is 64: 70 images are two chunks on the GPU.
    x = np.concatenate([x] * 35)
    up = np.concatenate([up] * 35)
    kw = dict(gradient=mode, system=system, params=p32, precision="f32")
    got, gx = gpu_or_skip(lambda: net.vjp(x, up, backend="gpu", **kw))
    want, _ = net.vjp(x, up, **kw)
    assert gx is None
    for k in want:
        scale = np.abs(want[k]).max()
        assert scale > 0
        np.testing.assert_allclose(got[k], want[k], atol=1e-4 * scale, rtol=0)
    # The network's own parameters when none are given (not the last call's).
    own, _ = net.vjp(x, up, backend="gpu", gradient=mode, system=system, precision="f32")
    ref, _ = net.vjp(x, up, gradient=mode, system=system, precision="f32")
    for k in ref:
        np.testing.assert_allclose(own[k], ref[k], atol=1e-4 * np.abs(ref[k]).max(), rtol=0)
    # Forward with params on the GPU: the CPU's powers.
    np.testing.assert_allclose(net.forward(x[:5], backend="gpu", params=p32),
                               net.forward(x[:5], params=p32), rtol=1e-4, atol=0)
    with pytest.raises(wt.ConfigError, match="single precision"):
        net.vjp(x, up, backend="gpu", gradient=mode)
    with pytest.raises(wt.ConfigError, match="real float32"):
        net.vjp(x.astype(np.complex64), up, backend="gpu", precision="f32")


def test_forward_with_params_in_single_precision_is_the_networks_own(tiny):
    # forward(params=…) at f32 (the torch layer's forward) runs a kept engine given the
    # parameters at every call: the powers of the network holding those parameters, bit for
    # bit, call after call, and the network's own engine is left as it was.
    net, params, x, _ = setup(tiny)
    x = np.ascontiguousarray(x.real, dtype=np.float32)
    own = net.forward(x)
    for seed in (0, 1):
        p = {k: (v + seed).astype(np.float32) for k, v in params.items()}
        np.testing.assert_array_equal(net.forward(x, params=p), net.with_params(p).forward(x))
    np.testing.assert_array_equal(net.forward(x), own)
