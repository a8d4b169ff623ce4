"""The guide's checkers catch what they are for (so that they cannot pass vacuously), and the
README's links, the guide's pictures and the guide's code blocks are in order. The guide itself is
built, link-checked and its commands run by scripts/test.sh after pytest."""

import importlib.util
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


check_docs = load("check_docs")
run_doc_commands = load("run_doc_commands")


def test_link_checker_finds_a_broken_link_and_a_broken_anchor(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    (book / "a.html").write_text(
        '<h1 id="top">A</h1>\n<a href="b.html#here">fine</a> <a href="#top">fine</a>\n'
        '<a href="c.html">broken</a>\n<a href="b.html#gone">broken anchor</a>\n'
        '<a href="https://example.org/">external, not fetched</a>\n'
    )
    (book / "b.html").write_text('<p id="here">B</p>')
    errors = check_docs.check_html([book], tmp_path)
    assert len(errors) == 2, errors
    assert "a.html:3: c.html" in errors[0] and "no such file" in errors[0]
    assert "a.html:4: b.html#gone" in errors[1] and "no anchor #gone" in errors[1]
    (book / "a.html").write_text('<a href="b.html#here">fine</a>')
    assert check_docs.check_html([book], tmp_path) == []
    # The command line fails (exit 1) and names the page and the link.
    (book / "a.html").write_text('<a href="c.html">broken</a>')
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_docs.py"), str(book)],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "a.html:1: c.html" in r.stderr, r.stderr


def test_link_checker_self_test_passes():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_docs.py"), "--self-test"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "self-test passed" in r.stdout, r.stdout + r.stderr


def test_markdown_anchors_follow_mdbooks_rule(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("# The papers' networks (`paper-mlp`, `paper-2layer`)\n\n## `--set` keys\n\n"
                    "## Again\n\n## Again\n\n```sh\n# not a heading\n```\n")
    assert check_docs.markdown_anchors(page) == {
        "the-papers-networks-paper-mlp-paper-2layer", "--set-keys", "again", "again-1"}


def test_readme_links_and_guide_pictures_are_whole():
    assert check_docs.check_markdown(ROOT / "README.md", ROOT) == []
    assert check_docs.check_copies(ROOT / "docs" / "src" / "results", ROOT / "data" / "results") == []


def test_every_guide_block_names_its_language_and_there_are_commands():
    found, errors = run_doc_commands.extract(ROOT, None)
    assert errors == []
    steps = [s for page in found.values() for s in page]
    assert sum(s.kind == "sh" for s in steps) >= 50 and sum(s.kind == "python" for s in steps) >= 3
    # Every chapter listed in SUMMARY.md exists and every page of the guide is listed.
    src = ROOT / "docs" / "src"
    listed = {p.name for p in run_doc_commands.pages(ROOT)}
    assert listed == {p.name for p in src.glob("*.md")} - {"SUMMARY.md"}


def fake_repo(tmp_path, page_text):
    """A repository with one guide page and a stand-in `wavetrain` binary."""
    (tmp_path / "docs" / "src").mkdir(parents=True)
    (tmp_path / "docs" / "src" / "SUMMARY.md").write_text("- [Page](page.md)\n")
    (tmp_path / "docs" / "src" / "page.md").write_text(page_text)
    (tmp_path / "README.md").write_text("# x\n\n```sh\necho set-up\n```\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "wavetrain").write_text("#!/bin/sh\necho fake wavetrain \"$@\"\n")
    (bin_dir / "wavetrain").chmod(0o755)
    return ["--root", str(tmp_path), "--bin", str(bin_dir), "--scratch", str(tmp_path / "scratch"),
            "--python", sys.executable]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_command_runner_fails_naming_page_line_and_command(tmp_path, capsys):
    args = fake_repo(tmp_path, "# Page\n\n```sh\nwavetrain info\necho one > f.txt\n"
                               "cat f.txt \\\n  missing.txt\necho never\n```\n\n"
                               "```python\nprint('not reached')\n```\n")
    assert run_doc_commands.main(args) == 1
    err = capsys.readouterr().err
    assert "FAILED page.md:6: exit code 1: cat f.txt" in err, err
    log = (tmp_path / "scratch" / "page" / ".output.log").read_text()
    assert "fake wavetrain info" in log and "never" not in log


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_command_runner_runs_heredocs_python_and_expected_failures(tmp_path, capsys):
    args = fake_repo(tmp_path, "# Page\n\n```sh\ncat > a.toml <<'TOML'\nx = 1\n# a comment line\nTOML\n"
                               "false || echo \"exit code $?\"\n```\n\n"
                               "```python\nimport pathlib\nassert 'x = 1' in pathlib.Path('a.toml').read_text()\n```\n")
    assert run_doc_commands.main(args) == 0, capsys.readouterr().err
    log = (tmp_path / "scratch" / "page" / ".output.log").read_text()
    assert "exit code 1" in log
    # A failing python block fails the page.
    (tmp_path / "docs" / "src" / "page.md").write_text("```python\nraise SystemExit(3)\n```\n")
    assert run_doc_commands.main(args) == 1
    assert "page.md:2: exit code 3: python block" in capsys.readouterr().err


def test_command_runner_refuses_an_unlabelled_block(tmp_path, capsys):
    args = fake_repo(tmp_path, "# Page\n\n```\nwavetrain train\n```\n")
    assert run_doc_commands.main(args) == 1
    assert "page.md:3: a fenced block with no language" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_command_runner_runs_only_the_prompted_lines_of_a_console_block(tmp_path, capsys):
    args = fake_repo(tmp_path, "```console\n$ wavetrain presets\nfake output, not a command\n"
                               "$ echo two \\\n> three\ntwo three\n```\n")
    found, errors = run_doc_commands.extract(tmp_path, ["page"])
    assert errors == [] and [s.text for s in found["page.md"]] == ["wavetrain presets", "echo two \\\nthree"]
    assert run_doc_commands.main(args + ["--page", "page"]) == 0, capsys.readouterr().err
    log = (tmp_path / "scratch" / "page" / ".output.log").read_text()
    assert "fake wavetrain presets" in log and "two three" in log
