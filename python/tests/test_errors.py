"""Every exception class from a bad input, with the CLI's message; bad arrays are ValueErrors;
a Rust panic is an InternalError naming the function."""

import gzip

import numpy as np
import pytest

import wavetrain as wt

KW = dict(pitch=8e-6, wavelength=780e-9, distance=3e-3)


def test_the_classes():
    assert issubclass(wt.ConfigError, ValueError) and issubclass(wt.ConfigError, wt.WavetrainError)
    for c in [wt.DataError, wt.CheckpointError, wt.GpuError, wt.NumericalFault, wt.InternalError]:
        assert issubclass(c, wt.WavetrainError) and issubclass(c, Exception)


def test_config_errors_name_the_key():
    with pytest.raises(wt.ConfigError, match=r"--set od=-1"):
        wt.Network.preset("d2nn-mnist", od=-1)
    with pytest.raises(wt.ConfigError, match="unknown preset 'nope'"):
        wt.Network.preset("nope")
    with pytest.raises(wt.ConfigError, match="elements"):
        wt.Network.preset("d2nn-mnist", overrides={"elements[99].od": 1})
    with pytest.raises(wt.ConfigError, match="not a number, a string or a bool"):
        wt.Network.preset("d2nn-mnist", od=[1, 2])
    with pytest.raises(wt.ConfigError, match="line"):
        wt.Network.from_toml("name = 'x'\n[optics]\nnx = 'wide'\n")
    with pytest.raises(wt.ConfigError, match="wavelength"):
        wt.propagate(np.zeros((8, 8), np.complex64), pitch=8e-6, wavelength=-1.0, distance=1e-3)
    with pytest.raises(wt.ConfigError, match="padding"):
        wt.propagate(np.zeros((8, 8), np.complex64), padding=0.5, **KW)
    with pytest.raises(wt.ConfigError, match="distance"):
        wt.sampling(nx=64, pitch=8e-6, wavelength=780e-9, distance=0.0)
    with pytest.raises(wt.ConfigError, match="od"):
        wt.absorber([1.0], od=-2)
    with pytest.raises(wt.ConfigError, match="model"):
        wt.absorber([1.0], model="thick")
    net = wt.Network.preset("d2nn-mnist")
    img = np.zeros((1, 28, 28), np.uint8)
    with pytest.raises(wt.ConfigError, match="gradient"):
        net.gradients(img, [0], gradient="numerical")
    with pytest.raises(wt.ConfigError, match="backend"):
        net.forward(img, backend="tpu")
    with pytest.raises(wt.ConfigError, match="precision"):
        net.forward(img, precision="f16")


def test_train_config_errors(tmp_path):
    with pytest.raises(wt.ConfigError, match="both epochs and overrides"):
        wt.train(epochs=1, overrides={"epochs": 2}, out=tmp_path / "a", progress=False)
    with pytest.raises(wt.ConfigError, match="unknown backend"):
        wt.train(backend="abacus", out=tmp_path / "b", progress=False)
    with pytest.raises(wt.ConfigError, match="train.batch"):
        wt.train(batch=0, out=tmp_path / "c", progress=False)
    with pytest.raises(wt.ConfigError, match="callback"):
        wt.train(callback=3, out=tmp_path / "d", progress=False)
    # Nothing was left behind by the refused runs.
    assert not any((tmp_path / n).exists() for n in "abcd")


def test_data_errors(tmp_path):
    bad = tmp_path / "bad-idx"
    bad.write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 5)
    with pytest.raises(wt.DataError, match=str(bad)):
        wt.load_idx(bad)
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ["train-images-idx3-ubyte", "t10k-images-idx3-ubyte"]:
        (folder / name).write_bytes(gzip.compress(b"not an idx file"))
    for name in ["train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"]:
        (folder / name).write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(wt.DataError):
        wt.train(data=folder, out=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
    with pytest.raises(FileNotFoundError):
        wt.load_idx(tmp_path / "missing")


def test_checkpoint_errors(tmp_path):
    bad = tmp_path / "checkpoint.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    with pytest.raises(wt.CheckpointError):
        wt.Network.from_checkpoint(bad)
    with pytest.raises(wt.CheckpointError):
        wt.Network.from_checkpoint(tmp_path)  # a folder: its checkpoint.safetensors
    with pytest.raises(FileNotFoundError):
        wt.Network.from_checkpoint(tmp_path / "nothing.safetensors")
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        wt.Run.load(tmp_path / "..")


def test_gpu_error(tmp_path):
    with pytest.raises(wt.GpuError, match="no-such-adapter"):
        wt.train(backend="gpu", adapter="no-such-adapter", out=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_numerical_fault(tmp_path, monkeypatch):
    # The trainer's testing hook poisons the input of step 2 with a NaN.
    monkeypatch.setenv("WAVETRAIN_FAULT_STEP", "2")
    with pytest.raises(wt.NumericalFault, match="step 2"):
        wt.train(epochs=1, max_train=96, batch=32, backend="cpu", out=tmp_path / "run",
                 progress=False, checkpoint_every=0)


def test_a_rust_panic_is_an_internal_error_naming_the_function():
    with pytest.raises(wt.InternalError, match=r"wavetrain\._panic_for_test: index out of bounds"):
        wt._core._panic_for_test()


def test_bad_arrays_are_value_errors():
    net = wt.Network.preset("d2nn-mnist")
    img = np.zeros((2, 28, 28), np.uint8)
    cases = [
        (img.astype(np.int32), "dtype int32"),
        (img[0], r"shape \(batch, rows, cols\)"),
        (np.zeros((2, 64, 64), np.float32)[:, ::2, ::2], "not C-contiguous"),
        (np.asfortranarray(np.zeros((2, 64, 64), np.float32)), "not C-contiguous"),
        (np.full((1, 64, 64), np.nan, np.float32), "NaN"),
        (np.zeros((1, 32, 32), np.float32), r"shape \(batch, 64, 64\)"),
        (img.tolist(), "must be a numpy array"),
        (np.zeros((2, 0, 28), np.uint8), "hold nothing"),
    ]
    for bad, message in cases:
        with pytest.raises(ValueError, match=message):
            net.forward(bad)
    with pytest.raises(ValueError, match="labels\\[1\\] = 10"):
        net.gradients(img, [0, 10])
    with pytest.raises(ValueError, match="1 labels for 2 inputs"):
        net.gradients(img, [0])
    with pytest.raises(ValueError, match="complex64"):
        wt.propagate(np.zeros((8, 8)), **KW)
    with pytest.raises(ValueError, match="shape"):
        wt.propagate(np.zeros(8, np.complex64), **KW)
    with pytest.raises(ValueError, match="NaN"):
        wt.propagate(np.full((8, 8), np.inf, np.complex64), **KW)
    with pytest.raises(ValueError, match="not C-contiguous"):
        wt.propagate(np.zeros((8, 8), np.complex64).T[::2], **KW)
    with pytest.raises(ValueError, match="NaN"):
        wt.absorber([1.0, np.nan])
