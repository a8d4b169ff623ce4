"""The package as installed: its stubs match the extension, and the benchmark script runs."""

import json
import pathlib
import subprocess
import sys

import wavetrain as wt

HERE = pathlib.Path(__file__).resolve().parent


def test_type_stubs_match_the_extension():
    # mypy's stubtest imports wavetrain._core and compares every signature with _core.pyi.
    r = subprocess.run([sys.executable, "-m", "mypy.stubtest", "wavetrain._core"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    pkg = pathlib.Path(wt.__file__).parent
    assert (pkg / "_core.pyi").is_file() and (pkg / "py.typed").is_file()


def test_every_public_function_has_a_docstring():
    for name in wt.__all__:
        obj = getattr(wt, name)
        assert obj.__doc__ and len(obj.__doc__) > 20, name
    for name in ["preset", "from_toml", "from_checkpoint", "forward", "planes", "gradients",
                 "params", "with_params", "encode"]:
        assert getattr(wt.Network, name).__doc__, name


def test_forward_benchmark_runs():
    r = subprocess.run([sys.executable, str(HERE.parent / "benches" / "forward.py"), "--rounds",
                        "1", "--batch", "16"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["batch"] == 16 and rec["python_forward_s"] > 0 and rec["engine_s"] > 0
