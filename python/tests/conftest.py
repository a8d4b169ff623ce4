"""Shared fixtures: the CLI binary the bindings are compared with, the bundled data, a short
trained checkpoint, and the tiny network of the gradient tests."""

import os
import pathlib
import subprocess

import numpy as np
import pytest

import wavetrain as wt

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cli() -> pathlib.Path:
    """The `wavetrain` binary of this checkout (`cargo build --release`), or $WAVETRAIN_CLI."""
    path = pathlib.Path(os.environ.get("WAVETRAIN_CLI", ROOT / "target" / "release" / "wavetrain"))
    if not path.is_file():
        pytest.fail(
            f"the wavetrain CLI is missing at {path}: run `cargo build --release` first "
            "(scripts/test.sh does), or set WAVETRAIN_CLI"
        )
    return path


def run_cli(cli, *args, cwd=None) -> str:
    r = subprocess.run([str(cli), *map(str, args)], capture_output=True, text=True, cwd=cwd)
    assert r.returncode == 0, f"wavetrain {' '.join(map(str, args))} failed:\n{r.stderr}"
    return r.stdout


@pytest.fixture(scope="session")
def test_images() -> np.ndarray:
    return wt.load_idx(wt.bundled_data() / "mnist5k-test-images-idx3-ubyte.gz")


@pytest.fixture(scope="session")
def test_labels() -> np.ndarray:
    return wt.load_idx(wt.bundled_data() / "mnist5k-test-labels-idx1-ubyte.gz")


@pytest.fixture(scope="session")
def checkpoint(cli, tmp_path_factory) -> pathlib.Path:
    """A d2nn-mnist checkpoint after one short epoch on the CPU, trained by the CLI."""
    out = tmp_path_factory.mktemp("ck") / "run"
    run_cli(
        cli, "train", "--preset", "d2nn-mnist", "--epochs", "1", "--max-train", "256",
        "--backend", "cpu", "--seed", "1", "--no-pictures", "--json", "--out", out,
    )
    return out / "checkpoint.safetensors"


TINY = """
name = "tiny"
[optics]
wavelength = 780e-9
pitch = 8e-6
nx = 16
ny = 16
padding = 2.0
band_limit = true

[input]
intensity = 2.0
size = 10

[[elements]]
type = "free-space"
distance = 1e-3

[[elements]]
type = "phase"
init_std = 0.7

[[elements]]
type = "free-space"
distance = 1e-3

[[elements]]
type = "absorber"
od = 3.0
model = "thin"

[[elements]]
type = "phase"
init_std = 0.7

[[elements]]
type = "free-space"
distance = 1e-3

[readout]
classes = 10
detector_size = 2
loss = "cross-entropy"
temperature = 0.05

[train]
seed = 7
"""


@pytest.fixture(scope="session")
def tiny() -> str:
    """A 16×16 field network of two phase SLMs and an absorber (TOML text)."""
    return TINY
