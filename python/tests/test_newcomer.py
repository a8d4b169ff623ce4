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


def test_from_toml_tells_text_from_a_path():
    # One-line TOML text is text (a ConfigError about its content), not a missing file.
    with pytest.raises(wt.ConfigError, match="<toml text>"):
        wt.Network.from_toml("[optics]")
    with pytest.raises(wt.ConfigError, match="<toml text>"):
        wt.Network.from_toml("x = [")
    with pytest.raises(FileNotFoundError):
        wt.Network.from_toml("no-such-config.toml")


def quick(tmp_path, name, **kw):
    kw.setdefault("epochs", 1)
    return wt.train(backend="cpu", out=tmp_path / name, progress=False, pictures=False, seed=3,
                    max_train=512, **kw)


def same_run(a, b):
    for k in ("train_loss", "train_accuracy", "test_accuracy"):
        assert a.summary[k] == b.summary[k], k
    assert (a.dir / "config.toml").read_text() == (b.dir / "config.toml").read_text()


def test_train_takes_a_network_or_a_config_dict(tmp_path):
    ref = quick(tmp_path, "ref", preset="paper-2layer")
    net = wt.Network.preset("paper-2layer")
    same_run(quick(tmp_path, "net", config=net), ref)
    same_run(quick(tmp_path, "dict", config=net.config), ref)
    assert wt.compose.config_toml(net.config) and wt.Network.from_toml(
        wt.compose.config_toml(net.config)).config == net.config
    with pytest.raises(wt.ConfigError):
        quick(tmp_path, "bad", config=dict(net.config, readout={"loss": "hinge"}))


def test_train_takes_arrays_in_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    d = wt.bundled_data()
    arrays = (wt.load_idx(d / "mnist5k-train-images-idx3-ubyte.gz"),
              wt.load_idx(d / "mnist5k-train-labels-idx1-ubyte.gz"),
              wt.load_idx(d / "mnist5k-test-images-idx3-ubyte.gz"),
              wt.load_idx(d / "mnist5k-test-labels-idx1-ubyte.gz"))
    ref = quick(tmp_path, "ref", preset="paper-mlp")
    run = quick(tmp_path, "arrays", preset="paper-mlp", data=arrays)
    same_run(run, ref)
    # The folder provenance.json names holds the arrays, named by their content.
    import json
    folder = json.loads((run.dir / "provenance.json").read_text())["data"]["dir"]
    assert folder.startswith(str(tmp_path / "cache" / "wavetrain" / "arrays-"))
    assert (wt.load_idx(f"{folder}/t10k-labels-idx1-ubyte.gz") == arrays[3]).all()
    # The same arrays as a dict give the same folder; a resume finds them without them.
    again = quick(tmp_path, "dict", preset="paper-mlp",
                  data={"train": arrays[:2], "test": arrays[2:]})
    assert json.loads((again.dir / "provenance.json").read_text())["data"]["dir"] == folder
    assert wt.train(resume=run.dir, epochs=2, backend="cpu", progress=False,
                    pictures=False).summary["epochs"] == 2
    with pytest.raises(ValueError, match=r"uint8 \(n, rows, cols\).*astype\(np.uint8\)"):
        quick(tmp_path, "f", preset="paper-mlp",
              data=(arrays[0] / 255.0, arrays[1], arrays[2], arrays[3]))
    with pytest.raises(ValueError, match="one per image"):
        quick(tmp_path, "n", preset="paper-mlp",
              data=(arrays[0], arrays[1][:10], arrays[2], arrays[3]))
    with pytest.raises(TypeError, match="data must be"):
        quick(tmp_path, "t", preset="paper-mlp", data=(arrays[0], arrays[1]))
