"""A lab in the training loop (issue 29): the numpy stand-in lab against the engine's simulated
imperfect system, physics-aware and in-situ runs against it, and a lab that raises, hangs or
returns the wrong thing."""

import json
import time

import numpy as np
import pytest

import wavetrain as wt
from wavetrain.lab import StandInLab

from conftest import TINY

# The misalignment: the first SLM two pixels right and one down (integer shifts: exact rolls in
# the engine, np.roll in the stand-in).
SHIFTED = TINY + 'target = "{target}"\n\n[hardware]\nshifts = [[16e-6, 8e-6], [0.0, 0.0]]\n'

RUN = dict(epochs=2, max_train=128, batch=32, backend="cpu", progress=False, pictures=False)


def config(target="physics-aware"):
    return SHIFTED.format(target=target)


def train(tmp_path, name, **kw):
    args = {**RUN, **kw}
    args.setdefault("config", config())
    return wt.train(out=tmp_path / name, **args)


def test_stand_in_forward_is_the_engines_imperfect_system(test_images):
    net = wt.Network.from_toml(config())
    x = net.encode(test_images[:6]).astype(np.float64)
    lab = StandInLab(net, output="powers")
    u, _ = lab._run(net.params(), x)
    mine = lab._powers(u)
    # The engine's readout of the simulated imperfect system (physics-aware: its pump runs on
    # the hardware), at double precision: agreement to round-off shows the lab is right.
    engine = net.forward(x, precision="f64")
    assert np.allclose(mine, engine, rtol=1e-9, atol=1e-12 * np.abs(engine).max())
    # The float32 engine and the lab's float32 frames, integrated by the trainer, agree too.
    f32 = net.forward(x.astype(np.float32))
    assert np.allclose(lab.forward(net.params(), x.astype(np.float32)), f32, rtol=1e-5, atol=1e-6 * f32.max())
    # The shift matters: the ideal network's readout is far from it.
    ideal = wt.Network.from_toml(TINY).forward(x, precision="f64")
    assert np.abs(ideal - engine).max() > 1e-3 * np.abs(engine).max()


def test_stand_in_probe_is_the_gradient_of_its_forward():
    net = wt.Network.from_toml(config("hardware"))
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1.5, (3, 16, 16)).astype(np.float32)
    up = rng.normal(size=(3, 10)).astype(np.float32)
    lab = StandInLab(net, output="powers", gradient="exact")
    masks = {k: v.astype(np.float64) for k, v in net.params().items()}
    g = lab.probe(masks, x, up)
    # Central finite differences of Σ upstream·P in float64.
    k = "elements[1] phase SLM"
    for i, j in [(3, 4), (8, 8), (12, 2)]:
        h = 1e-5
        p, m = {**masks, k: masks[k].copy()}, {**masks, k: masks[k].copy()}
        p[k][i, j] += h
        m[k][i, j] -= h
        fd = ((lab._powers(lab._run(p, x)[0]) - lab._powers(lab._run(m, x)[0])) * up).sum() / (2 * h)
        assert abs(g[k][i, j] - fd) <= 1e-4 * np.abs(g[k]).max()
    # The optical probe agrees with the engine's hardware gradient (vjp on its imperfect system).
    lab = StandInLab(net, output="powers", gradient="optical")
    mine = lab.probe(net.params(), x, up)
    ref, _ = net.vjp(x, up, gradient="optical", system="hardware")
    for n in mine:
        assert np.allclose(mine[n], ref[n], rtol=1e-3, atol=1e-4 * np.abs(ref[n]).max())


def test_physics_aware_run_against_the_stand_in_reproduces_the_simulated_one(tmp_path):
    # A calibrated twin (the misalignment known to the model): the simulated physics-aware
    # probe runs through the twin at the hardware's saved pump fields, the lab run's backward
    # pass through the twin at the twin's own pump, which is then the same field. The runs agree
    # to the round-off of the lab's float64 forward pass against the engine's float32 one
    # (1e-5 of the loss; measured 3e-8), and the test accuracies (500 images) exactly.
    twin = config() + "\n[twin]\nshifts = [[16e-6, 8e-6], [0.0, 0.0]]\n"
    sim = train(tmp_path, "sim", config=twin)
    lab = StandInLab(wt.Network.from_toml(twin))
    run = train(tmp_path, "lab", config=twin, lab=lab)
    s, l = sim.summary, run.summary
    assert abs(l["train_loss"] - s["train_loss"]) <= 1e-5 * s["train_loss"]
    assert l["test_accuracy"] == s["test_accuracy"]
    assert l["lab"] == "StandInLab" and "lab StandInLab" in l["backend"] and s.get("lab") is None
    assert l["gradient_cosine"] is None and l["forward_passes"] == s["forward_passes"]
    # Test accuracy is the lab's; model accuracy the twin's (the same system here).
    assert l["hardware_accuracy"] == l["test_accuracy"] == l["model_accuracy"]
    assert lab.calls["forward"] > 0 and lab.calls["probe"] == 0
    record = json.loads((tmp_path / "lab" / "hardware.json").read_text())
    assert record["lab"] == {"name": "StandInLab", "probe": True} and "system" not in record
    assert record["target"] == "physics-aware" and "twin" in record["model"]


def test_physics_aware_without_a_twin_trains_against_the_lab(tmp_path):
    # Without a twin the backward pass runs through the ideal model at its own (unshifted) pump
    # fields, which a 2-pixel shift moves far from the lab's: this is physics-aware training as
    # a real lab allows it (its inner fields are not measured), not the simulation's, whose
    # probe sees the hardware's saved fields; the runs differ (by ~20% of the loss here) and
    # are not compared. The model accuracy is the ideal network's.
    lab = StandInLab(wt.Network.from_toml(config()))
    run = train(tmp_path, "lab", lab=lab, epochs=1)
    ideal = wt.Network.from_checkpoint(tmp_path / "lab" / "checkpoint.safetensors")
    assert run.summary["hardware_accuracy"] == run.summary["test_accuracy"]
    assert np.isfinite(run.summary["train_loss"]) and "ideal" in json.loads(
        (tmp_path / "lab" / "hardware.json").read_text())["model"]
    assert ideal.params().keys() == lab.shifts.keys()


def test_in_situ_run_with_the_stand_ins_probe(tmp_path):
    sim = train(tmp_path, "sim", config=config("hardware"))
    lab = StandInLab(wt.Network.from_toml(config("hardware")))
    run = train(tmp_path, "lab", config=config("hardware"), lab=lab)
    # The same system and the same (optical) gradient, in float64 (lab) and float32 (engine):
    # the runs agree to float32 round-off carried through 8 Adam steps.
    assert lab.calls["probe"] == 8
    assert abs(run.summary["train_loss"] - sim.summary["train_loss"]) <= 1e-3 * sim.summary["train_loss"]
    assert abs(run.summary["test_accuracy"] - sim.summary["test_accuracy"]) <= 0.01


class Flaky(StandInLab):
    """The stand-in lab, failing (raising or hanging) at its `at`-th forward call."""

    def __init__(self, *a, at, hang=0.0, **kw):
        super().__init__(*a, **kw)
        self.at, self.hang = at, hang

    def forward(self, masks, inputs):
        if self.calls["forward"] + 1 == self.at:
            self.calls["forward"] += 1
            if self.hang:
                time.sleep(self.hang)
            else:
                raise RuntimeError("laser interlock tripped")
        return super().forward(masks, inputs)


def params_of(run_dir):
    return wt.Network.from_checkpoint(run_dir / "checkpoint.safetensors").params()


# 500 test images in batches of 32: the untrained test pass makes 16 forward calls; call 19 is
# the third training step.
FAIL_AT = 19


@pytest.mark.parametrize("hang", [0.0, 3.0])
def test_a_lab_that_raises_or_hangs_stops_resumably(tmp_path, hang):
    net = wt.Network.from_toml(config())
    whole = train(tmp_path, "whole", lab=StandInLab(net))
    kw = {"lab_timeout": 0.5} if hang else {}
    with pytest.raises(wt.LabError) as e:
        train(tmp_path, "cut", lab=Flaky(net, at=FAIL_AT, hang=hang), **kw)
    msg = str(e.value)
    assert "forward" in msg and "checkpoint" in msg and "resume" in msg
    if hang:
        assert e.type is wt.LabTimeout and "0.5 s" in msg
        assert isinstance(e.value.__cause__, wt.LabTimeout)
    else:
        assert e.type is wt.LabError and "laser interlock tripped" in msg and "RuntimeError" in msg
        assert isinstance(e.value.__cause__, RuntimeError)
    assert (tmp_path / "cut" / "checkpoint.safetensors").exists()
    done = wt.train(resume=tmp_path / "cut", lab=StandInLab(net), progress=False, pictures=False)
    # Resumed, bit for bit the uninterrupted run.
    assert done.summary["train_loss"] == whole.summary["train_loss"]
    assert done.summary["test_accuracy"] == whole.summary["test_accuracy"]
    a, b = params_of(tmp_path / "cut"), params_of(tmp_path / "whole")
    assert all(np.array_equal(a[k], b[k]) for k in a)


class Wrong:
    def __init__(self, what):
        self.what = what

    def forward(self, masks, inputs):
        if self.what == "shape":
            return np.zeros((inputs.shape[0], 7), np.float32)
        out = np.ones((inputs.shape[0], 10), np.float32)
        out[0, 3] = np.nan
        return out


def test_wrong_shapes_nans_and_misuse_are_refused(tmp_path):
    with pytest.raises(wt.LabError, match=r"Wrong.forward returned an array of shape \(32, 7\).*expected"):
        train(tmp_path, "shape", lab=Wrong("shape"))
    with pytest.raises(wt.LabError, match="Wrong.forward returned the power NaN"):
        train(tmp_path, "nan", lab=Wrong("nan"))
    net = wt.Network.from_toml(config("hardware"))
    with pytest.raises(wt.ConfigError, match="has no probe"):
        train(tmp_path, "noprobe", config=config("hardware"), lab=StandInLab(net, probe=False))
    with pytest.raises(wt.ConfigError, match="in silico"):
        train(tmp_path, "model", config=config("model"), lab=StandInLab(net))
    with pytest.raises(TypeError, match="no forward"):
        train(tmp_path, "none", lab=object())
    # Resume: a lab run only with a lab, a simulated run only without.
    train(tmp_path, "lab", lab=StandInLab(net), epochs=1)
    train(tmp_path, "sim", epochs=1)
    with pytest.raises(wt.ConfigError, match="external lab 'StandInLab'"):
        wt.train(resume=tmp_path / "lab", epochs=2, progress=False, pictures=False)
    with pytest.raises(wt.ConfigError, match="simulated run"):
        wt.train(resume=tmp_path / "sim", epochs=2, lab=StandInLab(net), progress=False, pictures=False)
    with pytest.raises(wt.ConfigError, match="lab_timeout"):
        train(tmp_path, "t", lab=StandInLab(net), lab_timeout=-1)
