"""Network: forward against `wavetrain eval`, gradients against finite differences of a
forward-based loss, planes, parameters and encoding."""

import csv

import numpy as np
import pytest

import wavetrain as wt
from conftest import run_cli


def test_forward_argmax_equals_cli_eval(cli, checkpoint, test_images, test_labels, tmp_path):
    outputs = tmp_path / "outputs.csv"
    run_cli(cli, "eval", "--checkpoint", checkpoint, "--backend", "cpu", "--outputs", outputs)
    with open(outputs, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(test_images) == 500
    net = wt.Network.from_checkpoint(checkpoint)
    powers = net.forward(test_images)
    assert powers.shape == (500, 10) and powers.dtype == np.float32
    predicted = np.array([int(r["predicted"]) for r in rows])
    assert np.array_equal(powers.argmax(axis=1), predicted)
    assert np.array_equal(np.array([int(r["label"]) for r in rows]), test_labels)
    # The readout itself, as the CLI prints it (shortest round-trip f32 text).
    readout = np.array([[float(r[f"readout_{j}"]) for j in range(10)] for r in rows], np.float32)
    np.testing.assert_allclose(powers, readout, rtol=1e-6, atol=0)
    # Some learning happened, so the comparison is not one of constant predictions.
    assert len(set(predicted)) > 3


def test_forward_of_encoded_inputs_and_batches_agree(checkpoint, test_images):
    net = wt.Network.from_checkpoint(checkpoint)
    x = net.encode(test_images[:7])
    assert x.shape == (7, 64, 64) and x.dtype == np.float32
    # A white pixel carries √intensity (100 I_sat): amplitude 10.
    assert 9.0 < x.max() <= 10.0 + 1e-6
    a = net.forward(test_images[:7])
    np.testing.assert_array_equal(net.forward(x), a)
    np.testing.assert_array_equal(net.forward(x.astype(np.float64)), a)
    np.testing.assert_allclose(net.forward(test_images[:3]), a[:3], rtol=1e-6)
    np.testing.assert_allclose(net.forward(x, precision="f64"), a, rtol=1e-4)
    assert net.forward(x, precision="f64").dtype == np.float64
    assert net.forward(test_images[:0]).shape == (0, 10)


def test_planes_end_at_the_detector_plane(checkpoint, test_images):
    net = wt.Network.from_checkpoint(checkpoint)
    planes = net.planes(test_images[0])
    names = [n for n, _ in planes]
    assert names[0] == "input" and names[1:] == net.elements
    for _, a in planes:
        assert a.shape == (64, 64) and a.dtype == np.complex64
    np.testing.assert_array_equal(planes[0][1].real, net.encode(test_images[:1])[0])
    # The detectors integrate |E|²·dx² of the last plane: the largest detector is forward's.
    intensity = np.abs(planes[-1][1]) ** 2
    assert intensity.sum() > 0
    powers = net.forward(test_images[:1])[0]
    total = intensity.sum() * 8e-6**2
    assert powers.sum() <= total * (1 + 1e-5)
    # Free space conserves power (a unitary step, up to what leaves the padded window).
    i = names.index("elements[0] free space")
    p_in, p_out = (np.abs(planes[i - 1][1]) ** 2).sum(), (np.abs(planes[i][1]) ** 2).sum()
    assert abs(p_out - p_in) / p_in < 0.05


def test_params_round_trip_and_with_params(tiny):
    net = wt.Network.from_toml(tiny)
    params = net.params()
    assert list(params) == ["elements[1] phase SLM", "elements[4] phase SLM"]
    assert all(p.shape == (16, 16) and p.dtype == np.float32 for p in params.values())
    zero = net.with_params({"elements[1] phase SLM": np.zeros((16, 16), np.float32)})
    assert np.all(zero.params()["elements[1] phase SLM"] == 0)
    np.testing.assert_array_equal(zero.params()["elements[4] phase SLM"],
                                  params["elements[4] phase SLM"])
    with pytest.raises(ValueError, match="shape"):
        net.with_params({"elements[1] phase SLM": np.zeros((4, 4), np.float32)})
    with pytest.raises(ValueError, match="no parameters"):
        net.with_params({"elements[0] free space": np.zeros((16, 16), np.float32)})


def mean_loss(net, x, labels, tau=0.05):
    """The training loss from forward: cross-entropy of softmax(p/τ), p = P/ΣP (f64 engine)."""
    powers = net.forward(x, precision="f64")
    assert powers.dtype == np.float64
    p = powers / powers.sum(axis=1, keepdims=True)
    z = p / tau
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(labels)), labels].mean()


@pytest.mark.parametrize("absorber", [True, False])
def test_gradients_match_finite_differences(tiny, test_images, test_labels, absorber):
    toml = tiny if absorber else tiny.replace('od = 3.0', 'od = 0.0')
    net = wt.Network.from_toml(toml)
    x, y = test_images[:6], test_labels[:6].astype(np.int64)
    # The f64 engine's loss resolves ~1e-15, so a step h = 2⁻¹⁰ along a random ±1 direction
    # (exact in f32 for phases below 8) leaves the central difference's O(h²) error (~1e-6
    # relative) as the only one that matters.
    h = 2.0**-10
    rng = np.random.default_rng(5)
    base = net.params()
    exact = net.gradients(x, y, gradient="exact", precision="f64")
    optical = net.gradients(x, y, gradient="optical", precision="f64")
    f32 = net.gradients(x, y, gradient="exact")
    for name, p in base.items():
        d = rng.choice([-1.0, 1.0], size=p.shape).astype(np.float32)
        plus = net.with_params({name: p + np.float32(h) * d})
        minus = net.with_params({name: p - np.float32(h) * d})
        fd = (mean_loss(plus, x, y) - mean_loss(minus, x, y)) / (2 * h)
        analytic = float((exact[name] * d).sum())
        assert abs(fd - analytic) <= 1e-4 * abs(analytic), (name, fd, analytic)
        assert exact[name].dtype == np.float64 and f32[name].dtype == np.float32
        np.testing.assert_allclose(f32[name], exact[name], rtol=0,
                                   atol=1e-4 * np.abs(exact[name]).max())
        before_absorber = name == "elements[1] phase SLM"
        if absorber and before_absorber:
            # The probe's transmission is not the derivative: the optical gradient of an SLM
            # before the absorber differs (and still points the same way).
            o, e = optical[name].ravel(), exact[name].ravel()
            cos = o @ e / np.linalg.norm(o) / np.linalg.norm(e)
            assert 0.5 < cos < 0.9999, cos
        else:
            # After the last absorber, or without absorbers (od = 0: t ≡ 1), the optical
            # gradient is the exact one.
            np.testing.assert_allclose(optical[name], exact[name], rtol=1e-9,
                                       atol=1e-12 * np.abs(exact[name]).max())


def test_dense_network_forward_and_gradients(test_images, test_labels):
    net = wt.Network.preset("paper-mlp")
    assert net.is_dense and net.input_shape == (net.config["input"]["size"] ** 2,)
    out = net.forward(test_images[:5])
    assert out.shape == (5, net.classes)
    np.testing.assert_allclose(net.forward(test_images[:5], precision="f64"), out, rtol=1e-4,
                               atol=1e-6 * np.abs(out).max())
    g = net.gradients(test_images[:5], test_labels[:5], gradient="exact")
    assert set(g) == set(net.params()) and all(np.isfinite(v).all() for v in g.values())
    assert any(np.abs(v).max() > 0 for v in g.values())
    with pytest.raises(wt.ConfigError, match="dense network has no field planes"):
        net.planes(test_images[0])
    # A generated 2-D task takes its points, encoded: images are refused, naming the task.
    moons = wt.Network.preset("paper-2layer")
    with pytest.raises(wt.ConfigError, match="moons"):
        moons.forward(test_images[:2])
    pts = np.zeros((4,) + moons.input_shape, np.float32)
    assert moons.forward(pts).shape == (4, moons.classes)
