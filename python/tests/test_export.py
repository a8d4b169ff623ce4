"""Issue 28 from Python: export → read back (the phases within a level, the .npy in metres
with numpy), Network.from_masks and evaluate_masks against the CLI, refused checksums and bad
options, captures read back."""

import json
import pathlib

import numpy as np
import pytest

import wavetrain as wt

from conftest import run_cli


def wrap(p):
    return np.mod(p, 2 * np.pi)


def circle(a, b):
    d = wrap(a - b)
    return np.minimum(d, 2 * np.pi - d)


def test_export_round_trip(checkpoint, tmp_path):
    trained = wt.Network.from_checkpoint(checkpoint).params()
    m = wt.export(checkpoint, tmp_path / "x", slm_bits=12, panel=(80, 70), replicate=1)
    assert m["format"] == "wavetrain-export-1" and len(m["slms"]) == 5
    back = wt.read_masks(tmp_path / "x")
    assert list(back) == list(trained)
    for name, p in back.items():
        assert p.dtype == np.float64 and p.shape == trained[name].shape
        assert circle(p, trained[name].astype(np.float64)).max() <= np.pi / 4096 * (1 + 1e-6)
    # The height map as numpy reads it: metres, h = wrap(φ)·λ/(2π(n−1)).
    m = wt.export(checkpoint, tmp_path / "h", height=True, index=1.5)
    e = m["slms"][0]
    h = np.load(tmp_path / "h" / e["height"]["npy"]["file"])
    lam = m["settings"]["height"]["wavelength"]
    want = wrap(trained[e["name"]].astype(np.float64)) * lam / (2 * np.pi * 0.5)
    np.testing.assert_allclose(h, want, rtol=0, atol=1e-15)
    assert json.loads((tmp_path / "h" / "export.json").read_text()) == m


def test_from_masks_and_evaluate_match_the_cli(cli, checkpoint, tmp_path):
    out = tmp_path / "x8"
    wt.export(checkpoint, out, slm_bits=8)
    net = wt.Network.from_masks(checkpoint, out)
    back = wt.read_masks(out)
    for name, p in net.params().items():
        np.testing.assert_array_equal(p, back[name].astype(np.float32))
    r = wt.evaluate_masks(checkpoint, out)
    cli_json = json.loads(
        run_cli(cli, "eval", "--checkpoint", checkpoint, "--masks", out, "--backend", "cpu",
                "--json").strip().splitlines()[-1]
    )
    for k in ["accuracy", "masks_accuracy", "model_accuracy", "masks_hardware_accuracy"]:
        assert r[k] == pytest.approx(cli_json[k], abs=1e-12), k
    # The readout of the exported masks is the network's forward with those parameters.
    img = wt.load_idx(wt.bundled_data() / "mnist5k-test-images-idx3-ubyte.gz")[:4]
    ref = wt.Network.from_checkpoint(checkpoint).with_params(
        {k: v.astype(np.float32) for k, v in back.items()}
    )
    np.testing.assert_array_equal(net.forward(img), ref.forward(img))


def test_refusals(checkpoint, tmp_path):
    with pytest.raises(wt.ConfigError, match="slm-bits"):
        wt.export(checkpoint, tmp_path / "a", slm_bits=9)
    with pytest.raises(wt.ConfigError, match="index"):
        wt.export(checkpoint, tmp_path / "b", height=True)
    with pytest.raises(wt.ConfigError, match="panel"):
        wt.export(checkpoint, tmp_path / "c", panel=(8, 8))
    with pytest.raises(wt.ConfigError, match="kind"):
        wt.read_masks(tmp_path, kind="hologram")
    assert not any(tmp_path.iterdir())
    out = tmp_path / "x"
    wt.export(checkpoint, out)
    with pytest.raises(wt.ConfigError, match="--out"):
        wt.export(checkpoint, out)
    f = out / "slm3.png"
    b = bytearray(f.read_bytes())
    b[-20] ^= 1
    f.write_bytes(bytes(b))
    with pytest.raises(wt.DataError, match="slm3.png"):
        wt.read_masks(out)
    with pytest.raises(wt.DataError, match="slm3.png"):
        wt.Network.from_masks(checkpoint, out)


def test_capture_and_read_back(tiny, tmp_path):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(tiny + "\n[hardware]\nseed = 1\nshift_std = 4e-6\ncamera_bits = 12\n")
    m = wt.capture(tmp_path / "cap", config=cfg, patterns="blank,gratings,inputs:2",
                   slm_planes=True, noise=False)
    assert m["camera"]["max_value"] == 4095
    man, frames = wt.read_captures(tmp_path / "cap")
    # serde_json parses floats to within an ulp (no float_roundtrip feature): scales approx.
    for a, b in zip(man["frames"], m["frames"]):
        assert a.pop("scale") == pytest.approx(b.pop("scale"), rel=1e-15)
    assert man == m
    assert frames.shape == (len(m["frames"]), 16, 16) and frames.dtype == np.float64
    # The blank detector frame is the imperfect system's detector-plane intensity (within a
    # level), seen through Network.planes of the same config on its hardware.
    net = wt.Network.from_toml(cfg, overrides={"train.target": "hardware"})
    zero = net.with_params({k: np.zeros_like(v) for k, v in net.params().items()})
    white = np.load(tmp_path / "cap" / m["patterns"][0]["input"]["amplitude"]["file"])
    plane = zero.planes(white.astype(np.float32))[-1][1]
    i = [k for k, f in enumerate(m["frames"]) if f["pattern"] == 0 and f["plane"] == "detector"][0]
    _, frames = wt.read_captures(tmp_path / "cap")
    scale = json.loads((tmp_path / "cap" / "captures.json").read_text())["frames"][i]["scale"]
    np.testing.assert_allclose(frames[i], np.abs(plane) ** 2, rtol=0, atol=scale / 2 * (1 + 1e-6))
    with pytest.raises(wt.ConfigError, match="patterns"):
        wt.capture(tmp_path / "c2", config=cfg, patterns="stripes")


def test_calibrate_recovers_the_captured_system(tiny, tmp_path):
    # A hidden system (shifts, fringing) captured without noise; the twin fitted from the
    # nominal config recovers it, and its [twin] section drops into a config.
    hidden = tmp_path / "hidden.toml"
    hidden.write_text(tiny + "\n[hardware]\nshifts = [[3.2e-6, -2.0e-6], [-4.4e-6, 1.2e-6]]\n"
                      "fringing = 0.5\n")
    nominal = tmp_path / "nominal.toml"
    nominal.write_text(tiny)
    wt.capture(tmp_path / "cap", config=hidden, patterns="blank,gratings,defocus,random",
               noise=False)
    fit = wt.calibrate(nominal, tmp_path / "cap", tmp_path / "twin.toml", fit="shifts,fringing",
                       section="twin")
    got = {p["name"]: p for p in fit["parameters"]}
    want = {"hardware.shifts[0][0]": 0.4, "hardware.shifts[0][1]": -0.25,
            "hardware.shifts[1][0]": -0.55, "hardware.shifts[1][1]": 0.15,
            "hardware.fringing": 0.5}
    assert set(got) == set(want)
    for k, v in want.items():
        assert got[k]["value"] == pytest.approx(v, abs=0.01), k
        assert got[k]["sigma"] is not None and got[k]["sigma"] > 0
    assert fit["converged"] and fit["misfit_after"] < 5e-3 < fit["misfit_before"]
    for f in ("toml", "report", "picture"):
        assert pathlib.Path(fit["files"][f]).is_file()
    text = (tmp_path / "twin.toml").read_text()
    assert "[twin]" in text
    # The twin config reads back with its [twin].
    net = wt.Network.from_toml(hidden.read_text() + text)
    assert net.config["twin"]["fringing"] == pytest.approx(0.5, abs=0.01)
    with pytest.raises(wt.ConfigError, match="fit"):
        wt.calibrate(nominal, tmp_path / "cap", tmp_path / "t2.toml", fit="tilt")
    with pytest.raises(wt.ConfigError, match="section"):
        wt.calibrate(nominal, tmp_path / "cap", tmp_path / "t2.toml", section="model")
    with pytest.raises(FileNotFoundError, match="captures.json"):
        wt.calibrate(nominal, tmp_path, tmp_path / "t2.toml")
