#!/usr/bin/env python3
"""Runs every command the user guide shows, so that the guide cannot go stale silently.

    run_doc_commands.py [--page NAME]... [--list] [--scratch DIR] [--python PY] [--timeout S]

Reads docs/src/*.md (in the order of docs/src/SUMMARY.md) and, of README.md, the first fenced
block (the set-up lines) and the `python` blocks. Every fenced block of the guide must name its
language:

- `sh` and `console` blocks are run: each command (a line, with its `\\` continuations and
  here-document) in page order; in a `console` block only the lines after a `$ ` prompt;
- `python` blocks are run as scripts with the package's interpreter (`--python`), in page order
  among the commands;
- `text`, `toml`, `json` and `csv` blocks are shown, not run (long runs, cluster submissions,
  file contents); a block with another language, or none, is an error.

The commands of one page run in order in one bash process, in a fresh scratch folder
(`target/doc-commands/PAGE/`, inside the Cargo workspace so that `cargo run` finds it), with
`target/release` (the `wavetrain` binary) and the Python environment's `bin/` first on the
`PATH`, on the bundled data. A command that exits non-zero stops its page; the run fails naming
the page, its line and the command, with the end of its output. Pages are independent: every
page runs even when one fails. Nothing is run when there is nothing to run (that is an error).

Two commands of the README's first block are not run here, and the output says so: the test
suite (`scripts/test.sh`), which is what runs this script, and `pip install ./python`, which the
suite has just done (with the test extras) into the environment whose interpreter runs the
`python` blocks.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import List, Optional

ROOT = pathlib.Path(__file__).resolve().parent.parent
RUN = {"sh", "console", "python"}
SHOWN = {"text", "toml", "json", "csv"}
# README commands that are not run here, with the reason printed.
NOT_RUN = {
    "scripts/test.sh": "the test suite itself: it is what runs this script (CI's .ci/run runs it)",
    "pip install ./python": "scripts/test.sh has just installed ./python[test] into the environment that runs the python blocks",
}
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^\s`]*)\s*$")


@dataclass
class Step:
    """One command (kind 'sh') or one python block (kind 'python') of a page."""

    page: str
    line: int
    kind: str
    text: str


def blocks(path: pathlib.Path):
    """(language, first line number of the body, body lines) of every fenced block; errors."""
    out, errors = [], []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.group(1), m.group(2), m.group(3).lower()
        body, j = [], i + 1
        while j < len(lines) and not (
            lines[j].strip().startswith(fence[0] * len(fence)) and lines[j].strip().strip(fence[0]) == ""
        ):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
            j += 1
        if j == len(lines):
            errors.append(f"{path.name}:{i + 1}: a fenced block that is never closed")
        if lang not in RUN | SHOWN:
            what = f"language '{lang}'" if lang else "no language"
            errors.append(
                f"{path.name}:{i + 1}: a fenced block with {what}: mark it sh (run by CI), "
                f"python (run by CI) or text/toml/json/csv (shown only)"
            )
        out.append((lang, i + 2, body))
        i = j + 1
    return out, errors


def split_commands(body: List[str], first_line: int, console: bool):
    """(line, command) of a shell block: continuations joined, here-documents kept whole."""
    cmds = []
    i = 0
    while i < len(body):
        line = body[i]
        start = i
        if console:
            if not line.startswith("$ "):
                i += 1
                continue
            line = line[2:]
        if not line.strip() or line.lstrip().startswith("#"):
            i += 1
            continue
        text = [line]
        while text[-1].endswith("\\") and i + 1 < len(body):
            i += 1
            nxt = body[i]
            text.append(nxt[2:] if console and nxt.startswith("> ") else nxt)
        heredoc = re.search(r"<<-?\s*(['\"]?)(\w+)\1", " ".join(text))
        if heredoc:
            end = heredoc.group(2)
            while i + 1 < len(body):
                i += 1
                text.append(body[i])
                if body[i].strip() == end:
                    break
            else:
                raise ValueError(f"line {first_line + start}: here-document never ends with {end}")
        cmds.append((first_line + start, "\n".join(text)))
        i += 1
    return cmds


def pages(root: pathlib.Path) -> List[pathlib.Path]:
    """The guide's chapters in SUMMARY.md order, then any page SUMMARY.md does not list."""
    src = root / "docs" / "src"
    listed = re.findall(r"\]\(([^)#]+\.md)\)", (src / "SUMMARY.md").read_text(encoding="utf-8"))
    order = [src / p for p in dict.fromkeys(listed)]
    rest = sorted(p for p in src.glob("*.md") if p not in order and p.name != "SUMMARY.md")
    return [p for p in order if p.is_file()] + rest


def extract(root: pathlib.Path, names: Optional[List[str]]):
    """{page name: [Step]} and the errors found while reading."""
    found, errors = {}, []
    sources = [(root / "README.md", True)] + [(p, False) for p in pages(root)]
    for path, is_readme in sources:
        if names and path.name not in names and path.stem not in names:
            continue
        bl, errs = blocks(path)
        if is_readme:
            # The README: its first block (the set-up lines) and its Python examples; its other
            # blocks are not checked for a language (GitHub shows them as they are).
            bl = [b for k, b in enumerate(bl) if k == 0 or b[0] == "python"]
            errs = []
        errors += errs
        steps = []
        for lang, first, body in bl:
            if lang in ("sh", "console"):
                try:
                    for line, cmd in split_commands(body, first, lang == "console"):
                        steps.append(Step(path.name, line, "sh", cmd))
                except ValueError as e:
                    errors.append(f"{path.name}: {e}")
            elif lang == "python":
                steps.append(Step(path.name, first, "python", "\n".join(body) + "\n"))
        if steps:
            found[path.name] = steps
    return found, errors


def script(steps: List[Step], folder: pathlib.Path, python: str) -> str:
    """The bash script that runs one page's steps, stopping at the first failure."""
    out = ["set -o pipefail", f"cd {shlex.quote(str(folder))}"]
    for n, s in enumerate(steps):
        if s.kind == "python":
            f = folder / f".block-{s.line}.py"
            f.write_text(s.text, encoding="utf-8")
            run = f"{shlex.quote(python)} {shlex.quote(f.name)}"
            shown = f"python block at line {s.line}"
        else:
            reason = NOT_RUN.get(s.text.split("#")[0].strip())
            if reason:
                out.append(f"echo {shlex.quote(f'== not run: {s.text.split(chr(35))[0].strip()} ({reason})')}")
                continue
            run, shown = s.text, s.text.splitlines()[0]
        out.append(f"echo {shlex.quote(f'== {s.page}:{s.line}: {shown}')}")
        out.append("{\n" + run + "\n}")
        out.append(f'__rc=$?; if [ $__rc -ne 0 ]; then echo "__DOC_FAILED__ {n} $__rc"; exit 97; fi')
    return "\n".join(out) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--page", action="append", help="run only this page (file name or stem); repeatable")
    ap.add_argument("--list", action="store_true", help="print the commands, run nothing")
    ap.add_argument("--root", type=pathlib.Path, default=ROOT,
                    help="the repository (default: this script's); its docs/src and README.md are read")
    ap.add_argument("--scratch", type=pathlib.Path, default=None,
                    help="where the pages run (default ROOT/target/doc-commands)")
    ap.add_argument("--python", default=None,
                    help="interpreter of the python blocks (default: ROOT/target/python-venv's, else this one)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per page (default 600)")
    ap.add_argument("--bin", type=pathlib.Path, default=None,
                    help="the folder of the wavetrain binary, put first on the PATH (default ROOT/target/release)")
    a = ap.parse_args(argv)
    root = a.root.resolve()
    scratch = a.scratch or root / "target" / "doc-commands"
    bin_dir = a.bin or root / "target" / "release"
    venv = root / "target" / "python-venv" / "bin" / "python"
    python = a.python or (str(venv) if venv.exists() else sys.executable)

    found, errors = extract(root, a.page)
    for e in errors:
        print(f"run_doc_commands: {e}", file=sys.stderr)
    if errors:
        return 1
    total = sum(len(s) for s in found.values())
    if total == 0:
        print("run_doc_commands: no command found to run (wrong --page?)", file=sys.stderr)
        return 1
    if a.list:
        for page, steps in found.items():
            for s in steps:
                print(f"{page}:{s.line} [{s.kind}] {s.text.splitlines()[0]}")
        return 0

    env = dict(os.environ)
    if not (bin_dir / "wavetrain").is_file():
        print(f"run_doc_commands: no wavetrain binary in {bin_dir}: build it first (cargo build --release)",
              file=sys.stderr)
        return 1
    path = [str(bin_dir.resolve()), str(pathlib.Path(python).parent)]
    env["PATH"] = os.pathsep.join(path + [env.get("PATH", "")])
    env.setdefault("NO_COLOR", "1")
    failures = []
    started = time.monotonic()
    for page, steps in found.items():
        folder = scratch / pathlib.Path(page).stem
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        body = script(steps, folder.resolve(), python)
        (folder / ".commands.sh").write_text(body, encoding="utf-8")
        t0 = time.monotonic()
        try:
            p = subprocess.run(["bash", ".commands.sh"], cwd=folder, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=a.timeout)
            output, code = p.stdout.decode("utf-8", "replace"), p.returncode
        except subprocess.TimeoutExpired as e:
            output = (e.stdout or b"").decode("utf-8", "replace") + f"\n(page timed out after {a.timeout:.0f} s)"
            code = -1
        (folder / ".output.log").write_text(output, encoding="utf-8")
        dt = time.monotonic() - t0
        m = re.search(r"^__DOC_FAILED__ (\d+) (\d+)$", output, re.M)
        if code == 0 and not m:
            print(f"run_doc_commands: {page}: {len(steps)} block(s)/command(s) ran ({dt:.1f} s)")
            continue
        if m:
            s = steps[int(m.group(1))]
            why = f"exit code {m.group(2)}"
        else:
            started_lines = re.findall(rf"^== {re.escape(page)}:(\d+): ", output, re.M)
            s = next((x for x in steps if started_lines and x.line == int(started_lines[-1])), steps[0])
            why = "timed out" if code == -1 else f"bash exit code {code}"
        tail = "\n".join(output.rstrip().splitlines()[-25:])
        failures.append(f"{page}:{s.line}: {why}: {s.text.splitlines()[0] if s.kind == 'sh' else 'python block'}")
        print(f"run_doc_commands: FAILED {failures[-1]}\n--- the end of its output ({folder}/.output.log):\n{tail}\n---",
              file=sys.stderr)
    print(f"run_doc_commands: {total} commands and python blocks on {len(found)} pages, "
          f"{time.monotonic() - started:.0f} s")
    if failures:
        print("run_doc_commands: failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
