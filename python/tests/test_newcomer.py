"""What a newcomer hit (issue 29, item 6), each with a test."""

import numpy as np
import pytest

import wavetrain as wt


def test_propagate_refuses_a_wavelength_in_nanometres():
    field = np.ones((32, 32), np.complex64)
    with pytest.raises(wt.ConfigError, match="wavelength.*metres"):
        wt.propagate(field, pitch=8e-6, wavelength=780, distance=0.01)


def test_propagate_warns_what_sampling_warns():
    field = np.ones((32, 32), np.complex64)
    args = dict(nx=32, pitch=8e-6, wavelength=780e-9, distance=0.5, padding=1.0)
    assert wt.sampling(**args)["warnings"], "the case should be badly sampled"
    with pytest.warns(UserWarning, match="propagate: free space"):
        wt.propagate(field, pitch=8e-6, wavelength=780e-9, distance=0.5, padding=1.0)


def test_train_takes_toml_text(tmp_path):
    text = wt.Network.preset("paper-2layer").toml
    r = wt.train(config=text, epochs=1, backend="cpu", out=tmp_path / "run", progress=False,
                 pictures=False)
    assert r.summary["epochs"] == 1
    with pytest.raises(wt.ConfigError):
        wt.train(config="x = [", epochs=1, backend="cpu", out=tmp_path / "bad",
                 progress=False, pictures=False)
