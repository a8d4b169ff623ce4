"""train: the CLI's run folder and metrics, the epoch callback, Ctrl-C and resume."""

import csv
import os
import signal
import threading
import time

import numpy as np
import pytest

import wavetrain as wt
from conftest import run_cli

TIMING = {"images_per_second", "seconds"}


def metrics_without_timing(path):
    with open(path / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


def test_train_equals_cli(cli, tmp_path):
    args = dict(epochs=2, max_train=192, batch=32, seed=3)
    cli_out = tmp_path / "cli"
    run_cli(cli, "train", "--preset", "d2nn-mnist", "--epochs", 2, "--max-train", 192,
            "--batch", 32, "--seed", 3, "--backend", "cpu", "--set", "od=5", "--set",
            "train.lr=0.03", "--no-pictures", "--json", "--out", cli_out)
    seen = []
    run = wt.train("d2nn-mnist", backend="cpu", overrides={"od": 5, "train.lr": 0.03},
                   out=tmp_path / "py", progress=False, pictures=False, callback=seen.append,
                   **args)
    assert run.dir == tmp_path / "py"
    cli_rows = metrics_without_timing(cli_out)
    assert len(cli_rows) == 3  # epoch 0 (untrained) and two epochs
    assert metrics_without_timing(run.dir) == cli_rows
    for name in ["config.toml", "confusion.csv"]:
        assert (run.dir / name).read_text() == (cli_out / name).read_text(), name
    a, b = run.network.params(), wt.Network.from_checkpoint(cli_out).params()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    # The callback saw each epoch's row as metrics.csv holds it.
    assert [m["epoch"] for m in seen] == [1, 2]
    rows = run.metrics
    assert [r["epoch"] for r in rows] == [0, 1, 2]
    for m, r in zip(seen, rows[1:]):
        assert abs(m["test_accuracy"] - r["test_accuracy"]) < 1e-6
        assert abs(m["train_loss"] - r["train_loss"]) < 1e-6
    assert run.test_accuracy == rows[-1]["test_accuracy"]
    assert abs(run.summary["test_accuracy"] - run.test_accuracy) < 1e-6
    assert run.config["readout"]["classes"] == 10
    assert run.config["elements"][3]["od"] == 5.0
    assert run.confusion.shape == (10, 10) and run.confusion.sum() == 500
    # A run folder loads back; provenance names the Python call.
    loaded = wt.Run.load(run.dir)
    assert loaded.metrics == run.metrics
    assert "wavetrain.train(" in (run.dir / "provenance.json").read_text()
    np.testing.assert_array_equal(run.curve("test_accuracy")[1:],
                                  [r["test_accuracy"] for r in rows[1:]])
    assert np.isnan(run.curve("train_loss")[0])


def test_callback_exception_stops_a_resumable_run(tmp_path):
    class Stop(Exception):
        pass

    def cb(m):
        raise Stop(f"seen epoch {m['epoch']}")

    out = tmp_path / "run"
    with pytest.raises(Stop, match="seen epoch 1"):
        wt.train("d2nn-mnist", epochs=3, max_train=64, batch=32, backend="cpu", out=out,
                 progress=False, pictures=False, callback=cb)
    assert (out / "checkpoint.safetensors").is_file()
    run = wt.train(resume=out, progress=False, pictures=False)
    assert [r["epoch"] for r in run.metrics] == [0, 1, 2, 3]


def test_ctrl_c_raises_keyboard_interrupt_and_the_run_resumes(tmp_path):
    args = dict(epochs=2, max_train=640, batch=32, seed=2, backend="cpu", progress=False,
                pictures=False)
    out = tmp_path / "interrupted"
    ckpt = out / "checkpoint.safetensors"

    def interrupt():
        # SIGINT to this process once the first step's checkpoint is written (checkpoint
        # after every step), as Ctrl-C in a terminal or a notebook's interrupt sends it.
        deadline = time.monotonic() + 60
        while not ckpt.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(os.getpid(), signal.SIGINT)

    t = threading.Thread(target=interrupt)
    t.start()
    try:
        with pytest.raises(KeyboardInterrupt) as info:
            wt.train(out=out, checkpoint_every=0, **args)
    finally:
        t.join()
    msg = str(info.value)
    assert "checkpoint written" in msg and "resume" in msg and str(out) in msg
    # The folder is resumable: its checkpoint is there and its lock was released (the resume
    # below opens it).
    assert ckpt.exists()
    # Stopped mid-run: no epoch finished, or not all of them.
    done = len(metrics_without_timing(out)) - 1 if (out / "metrics.csv").exists() else 0
    assert done < 2
    resumed = wt.train(resume=out, progress=False, pictures=False)
    straight = wt.train(out=tmp_path / "straight", **args)
    assert metrics_without_timing(resumed.dir) == metrics_without_timing(straight.dir)


def test_in_silico_training_reports_the_hardware_accuracy(tmp_path):
    # Issue 18's options through overrides: train the ideal model, deploy on a misaligned system.
    seen = []
    run = wt.train("d2nn-mnist", backend="cpu", epochs=1, max_train=64, batch=32, seed=0,
                   overrides={"train.target": "model", "hardware.shift_std": 8e-6},
                   out=tmp_path / "run", progress=False, pictures=False, callback=seen.append)
    row = run.metrics[-1]
    assert [m["epoch"] for m in seen] == [1]
    for key in ["model_accuracy", "hardware_accuracy"]:
        assert seen[0][key] is not None and abs(seen[0][key] - row[key]) < 1e-6, key
        assert abs(run.summary[key] - row[key]) < 1e-6, key
    # In silico: the accuracy of the system it trained on is the ideal model's.
    assert abs(row["test_accuracy"] - row["model_accuracy"]) < 1e-6
