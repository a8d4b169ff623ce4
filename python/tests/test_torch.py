"""Issue 29, item 3: wavetrain.torch. The optical layer's backward is the engine's
vector–Jacobian product (gradcheck in exact mode, double precision; with the built-in loss it is
the training gradient, optical and exact); the absorber activation; no memory growth over 1,000
calls; the base package never imports torch; the two examples (a hybrid model, the
saturable-absorber CNN of Guo et al. 2021) train above chance.

torch is an optional extra (`pip install ./python[torch]`): without it these tests are skipped,
unless WAVETRAIN_REQUIRE_TORCH=1 (the README's test command sets it), where they fail."""

import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import wavetrain as wt

if os.environ.get("WAVETRAIN_REQUIRE_TORCH") == "1":
    import torch  # a missing torch fails the suite here
else:
    torch = pytest.importorskip("torch", reason="the [torch] extra is not installed")

from wavetrain.torch import Absorber, OpticalLayer, optical_function  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Detector powers are in I_sat·m² (dx = 8 µm): scaled by 1/dx² they and their gradients are of
# order one, so gradcheck's absolute tolerance means something.
DX2 = 64e-12


def test_gradcheck_in_exact_mode_double_precision(tiny):
    net = wt.Network.from_toml(tiny)
    layer = OpticalLayer(net, gradient="exact", dtype=torch.float64)
    rng = np.random.default_rng(5)
    x = torch.tensor(rng.uniform(0.0, 1.2, (2, 16, 16)), requires_grad=True)
    params = [p.detach().clone().requires_grad_(True) for p in layer.weights]

    def f(x, *p):
        return optical_function(net, x, list(p), gradient="exact") / DX2

    assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-6, rtol=1e-4)
    # Complex input fields: torch's convention for a real loss (∂L/∂Re u + i ∂L/∂Im u) is the
    # engine's.
    xc = torch.tensor(rng.uniform(0.0, 1.0, (1, 16, 16)) + 1j * rng.uniform(-0.5, 0.5, (1, 16, 16)),
                      requires_grad=True)
    assert torch.autograd.gradcheck(f, (xc, *params), eps=1e-6, atol=1e-6, rtol=1e-4)


def torch_loss(powers, labels, tau=0.05):
    """The built-in loss (readout.loss = cross-entropy): softmax of the normalised powers / τ."""
    p = powers / powers.sum(dim=1, keepdim=True)
    return torch.nn.functional.cross_entropy(p / tau, labels)


@pytest.mark.parametrize("mode", ["exact", "optical"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_with_the_built_in_loss_the_backward_is_the_training_gradient(tiny, test_images, test_labels, mode, dtype):
    net = wt.Network.from_toml(tiny)
    layer = OpticalLayer(net, gradient=mode, dtype=dtype)
    images, labels = test_images[:6], test_labels[:6].astype(np.int64)
    powers = layer(torch.from_numpy(net.encode(images)))
    assert powers.dtype == dtype and powers.shape == (6, 10)
    ref = net.forward(images, precision="f64" if dtype == torch.float64 else "f32")
    np.testing.assert_allclose(powers.detach().numpy(), ref, rtol=1e-12 if dtype == torch.float64 else 1e-6, atol=0)
    torch_loss(powers, torch.from_numpy(labels)).backward()
    want = net.gradients(images, labels, gradient=mode, precision="f64" if dtype == torch.float64 else "f32")
    for name, w in zip(layer.names, layer.weights):
        assert w.grad is not None and w.grad.dtype == dtype
        scale = np.abs(want[name]).max()
        assert scale > 0
        tol = 1e-9 if dtype == torch.float64 else 2e-3
        np.testing.assert_allclose(w.grad.numpy(), want[name], atol=tol * scale, rtol=0)


def test_optical_and_exact_backward_differ_and_the_optical_one_is_the_vjps(tiny):
    net = wt.Network.from_toml(tiny)
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.uniform(0.0, 1.2, (3, 16, 16)))
    up = rng.uniform(-1, 1, (3, 10)) / DX2
    grads = {}
    for mode in ("optical", "exact"):
        layer = OpticalLayer(net, gradient=mode, dtype=torch.float64)
        xg = x.clone().requires_grad_(True)
        (layer(xg) * torch.from_numpy(up)).sum().backward()
        g, gx = net.vjp(x.numpy(), up, gradient=mode, precision="f64")
        for name, w in zip(layer.names, layer.weights):
            np.testing.assert_array_equal(w.grad.numpy(), g[name])
        np.testing.assert_array_equal(xg.grad.numpy(), gx)
        grads[mode] = g
    # The optical derivative is an approximation: it is not the exact gradient.
    name = layer.names[0]
    assert not np.allclose(grads["optical"][name], grads["exact"][name], rtol=1e-3, atol=0)


def test_the_layer_trains_and_hands_its_parameters_back(tiny, test_images, test_labels):
    net = wt.Network.from_toml(tiny)
    layer = OpticalLayer(net, gradient="optical")
    assert [tuple(w.shape) for w in layer.weights] == [v.shape for v in net.params().values()]
    np.testing.assert_array_equal(layer.weights[0].detach().numpy(), list(net.params().values())[0])
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    x = torch.from_numpy(net.encode(test_images[:64]))
    y = torch.from_numpy(test_labels[:64].astype(np.int64))
    losses = []
    for _ in range(15):
        loss = torch_loss(layer(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.05, losses
    trained = layer.to_network()
    np.testing.assert_allclose(trained.forward(test_images[:64]), layer(x).detach().numpy(), rtol=1e-6, atol=0)


def test_bad_arguments_are_clear(tiny):
    net = wt.Network.from_toml(tiny)
    with pytest.raises(ValueError, match="gradient='adjoint': give 'optical' or 'exact'"):
        OpticalLayer(net, gradient="adjoint")
    with pytest.raises(ValueError, match="give torch.float32 or torch.float64"):
        OpticalLayer(net, dtype=torch.float16)
    with pytest.raises(ValueError, match="1 parameter tensors given; the network has 2"):
        optical_function(net, torch.zeros(1, 16, 16), [torch.zeros(16, 16)])
    layer = OpticalLayer(net)
    with pytest.raises(ValueError, match="16"):
        layer(torch.zeros(2, 8, 8))  # the engine's shape check, as a Python error


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_no_memory_growth_over_1000_calls(tiny):
    net = wt.Network.from_toml(tiny)
    layer = OpticalLayer(net, gradient="optical")
    x = torch.from_numpy(np.random.default_rng(0).uniform(0, 1, (4, 16, 16)).astype(np.float32))

    def call():
        layer.zero_grad()
        layer(x).sum().backward()

    for _ in range(200):
        call()
    before = rss_bytes()
    for _ in range(1000):
        call()
    grown = rss_bytes() - before
    # A leak of the inputs, the output or the gradients (≥ 4 KB a call) would grow by ≥ 4 MB.
    assert grown < 4 << 20, f"resident memory grew by {grown / 2**20:.1f} MiB over 1000 calls"


def test_the_absorber_activation():
    z = torch.tensor(np.linspace(-3.0, 3.0, 41), requires_grad=True)
    g, t, ge = wt.absorber(np.abs(z.detach().numpy()), od=2.0, model="thin")
    for mode, want in (("optical", t), ("exact", ge)):
        act = Absorber(od=2.0, gradient=mode)
        out = act(z)
        np.testing.assert_allclose(out.detach().numpy(), np.sign(z.detach().numpy()) * g, rtol=1e-12)
        (grad,) = torch.autograd.grad(out.sum(), z)
        np.testing.assert_allclose(grad.numpy(), want, rtol=1e-12)
    # The exact derivative is the derivative (gradcheck), the optical one is the probe's
    # transmission t(z²) < dg/dz where the absorber saturates.
    zz = torch.tensor([-1.3, -0.2, 0.4, 2.1], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(Absorber(od=2.0, gradient="exact"), (zz,))
    assert (t[np.abs(z.detach().numpy()) > 0.5] < ge[np.abs(z.detach().numpy()) > 0.5]).all()
    with pytest.raises(wt.ConfigError):
        Absorber(od=-1.0)
    with pytest.raises(ValueError, match="gradient='probe'"):
        Absorber(gradient="probe")


def test_import_wavetrain_does_not_import_torch():
    code = "import sys, wavetrain; assert 'torch' not in sys.modules, 'torch imported'; print('ok')"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def run_example(name, *args):
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "python" / name), *args],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_the_hybrid_example_trains_above_chance():
    out = run_example("torch_hybrid.py", "--steps", "40", "--batch", "32")
    acc = float(re.search(r"hybrid test accuracy: ([\d.]+) %", out).group(1))
    assert acc > 30.0, out  # chance is 10 %


def test_the_guo2021_cnn_example_trains_above_chance():
    out = run_example("guo2021_cnn.py", "--epochs", "1", "--max-train", "1000")
    acc = float(re.search(r"epoch 1: test accuracy ([\d.]+) %", out).group(1))
    assert acc > 30.0, out  # chance is 10 %


def test_the_layer_on_the_gpu_matches_the_cpu(tiny, test_images, test_labels):
    net = wt.Network.from_toml(tiny)
    x = torch.from_numpy(net.encode(test_images[:8]))
    y = torch.from_numpy(test_labels[:8].astype(np.int64))
    cpu = OpticalLayer(net, gradient="optical")
    gpu = OpticalLayer(net, gradient="optical", backend="gpu")
    try:
        pg = gpu(x)
    except wt.GpuError as e:
        if os.environ.get("WAVETRAIN_REQUIRE_GPU") == "1":
            raise
        pytest.skip(f"no GPU adapter: {e}")
    pc = cpu(x)
    np.testing.assert_allclose(pg.detach().numpy(), pc.detach().numpy(), rtol=1e-4, atol=0)
    torch_loss(pg, y).backward()
    torch_loss(pc, y).backward()
    for a, b in zip(gpu.weights, cpu.weights):
        s = b.grad.abs().max().item()
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-3 * s, rtol=0)
    with pytest.raises(RuntimeError, match="parameters' gradient only"):
        gpu(x.clone().requires_grad_(True)).sum().backward()
    with pytest.raises(ValueError, match="single precision"):
        OpticalLayer(net, backend="gpu", dtype=torch.float64)
