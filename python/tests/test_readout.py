"""Issue 26 through Python: the gradient read-out's options reach a run through ``overrides``
(its camera frames and photo-electrons land in the metrics), and ``Network.gradients`` returns
the gradient as the hardware measures it."""

import numpy as np
import pytest

import wavetrain as wt


def test_readout_options_through_overrides(tmp_path):
    run = wt.train("d2nn-mnist", backend="cpu", epochs=1, max_train=32, batch=16, seed=0,
                   overrides={"hardware.readout": "phase-stepping", "hardware.readout_steps": 3,
                              "hardware.probe_ratio": 0.2, "hardware.readout_shot_noise": 1000.0},
                   out=tmp_path / "run", progress=False, pictures=False)
    row = run.metrics[-1]
    # Two updates of 16 images, 3 frames per SLM and image (d2nn-mnist has 5 SLMs).
    slms = len(wt.Network.preset("d2nn-mnist").params())
    assert row["camera_frames"] == 2 * 16 * 3 * slms
    assert row["photoelectrons"] > 0
    with pytest.raises(wt.ConfigError, match="hardware.readout_steps"):
        wt.train("d2nn-mnist", backend="cpu", epochs=1, max_train=8, out=tmp_path / "bad",
                 progress=False, pictures=False,
                 overrides={"hardware.readout": "heterodyne", "hardware.readout_steps": 2})


def test_gradients_are_the_measured_ones(tiny, test_images, test_labels):
    x, y = test_images[:4], test_labels[:4].astype(np.int64)
    exact = wt.Network.from_toml(tiny).gradients(x, y, precision="f64")
    # Without noise the heterodyne read-out recovers the computed gradient to round-off.
    clean = wt.Network.from_toml(tiny, overrides={"hardware.readout": "heterodyne"})
    g = clean.gradients(x, y, precision="f64")
    # With shot noise it is a noisy estimate of it, closer with more photo-electrons.
    def measured(electrons):
        return wt.Network.from_toml(tiny, overrides={
            "hardware.readout": "phase-stepping", "hardware.probe_ratio": 0.3,
            "hardware.readout_shot_noise": electrons}).gradients(x, y, precision="f64")

    few, many = measured(1e3), measured(1e9)
    for name, e in exact.items():
        np.testing.assert_allclose(g[name], e, rtol=0, atol=1e-10 * np.abs(e).max())
        cos = [(n[name] * e).sum() / np.linalg.norm(n[name]) / np.linalg.norm(e)
               for n in (few, many)]
        assert cos[0] < cos[1] and cos[1] > 0.99, (name, cos)
        assert not np.array_equal(many[name], e), name


def test_readout_on_the_gpu_matches_the_cpu(tmp_path):
    """The read-out runs on the GPU backend too, drawing the CPU's numbers: the same frames,
    photo-electrons and loss. Skipped where no GPU adapter exists, unless
    WAVETRAIN_REQUIRE_GPU=1 (CI, with the software Vulkan driver), where that fails."""
    import os

    kw = dict(epochs=1, max_train=16, batch=8, seed=0, progress=False, pictures=False,
              overrides={"hardware.readout": "heterodyne", "hardware.probe_ratio": 1.5,
                         "hardware.readout_shot_noise": 1e4, "hardware.shift_std": 8e-6})
    try:
        gpu = wt.train("d2nn-mnist", backend="gpu", out=tmp_path / "gpu", **kw)
    except wt.GpuError as e:
        if os.environ.get("WAVETRAIN_REQUIRE_GPU") == "1":
            raise
        pytest.skip(f"no GPU adapter: {e}")
    cpu = wt.train("d2nn-mnist", backend="cpu", out=tmp_path / "cpu", **kw)
    g, c = gpu.metrics[-1], cpu.metrics[-1]
    assert g["camera_frames"] == c["camera_frames"] == 2 * 8 * 4 * 5
    assert g["photoelectrons"] == pytest.approx(c["photoelectrons"], rel=1e-5)
    assert g["train_loss"] == pytest.approx(c["train_loss"], rel=1e-4)
