"""Issue 27 through Python: ``train.method`` and its settings reach a run through ``overrides``,
the hardware passes and the gradient's cosine land in the metrics, and bad settings raise
ConfigError naming the key."""

import pytest

import wavetrain as wt


def run(tmp_path, name, **overrides):
    return wt.train("paper-2layer", backend="cpu", epochs=1, seed=0, overrides=overrides,
                    out=tmp_path / name, progress=False, pictures=False)


def test_methods_through_overrides(tmp_path):
    base = run(tmp_path, "backprop").metrics[-1]
    n = base["forward_passes"]
    assert n > 0 and base["probe_passes"] == n
    assert 0.5 < base["gradient_cosine"] <= 1.0
    for method, extra, fwd, probe in [("spsa", {"train.spsa_samples": 2}, 4, 0),
                                      ("dfa", {}, 1, 1), ("pepita", {}, 2, 0)]:
        row = run(tmp_path, method, **{"train.method": method, **extra}).metrics[-1]
        assert (row["forward_passes"], row["probe_passes"]) == (fwd * n, probe * n), method
        assert -1.0 <= row["gradient_cosine"] <= 1.0


def test_bad_method_settings(tmp_path):
    with pytest.raises(wt.ConfigError, match="train.spsa_sigma"):
        run(tmp_path, "bad1", **{"train.method": "dfa", "train.spsa_sigma": 0.1})
    with pytest.raises(wt.ConfigError, match="train.method"):
        wt.train("d2nn-mnist", backend="cpu", epochs=1, max_train=8, out=tmp_path / "bad2",
                 progress=False, pictures=False, overrides={"train.method": "pepita"})


def test_run_load_has_its_summary(tmp_path):
    r = run(tmp_path, "summary")
    loaded = wt.Run.load(r.dir)
    assert loaded.summary is not None
    assert loaded.summary["test_accuracy"] == r.summary["test_accuracy"]
    assert loaded.summary["method"] == "backprop"
