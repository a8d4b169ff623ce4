#!/usr/bin/env python3
"""Checks the links of the built user guide and API reference, so that neither can rot silently.

    check_docs.py [--root DIR] [--readme README.md] [--results-copies SRC ORIG] HTML_DIR...
    check_docs.py --self-test

Every HTML page under each HTML_DIR (the mdBook output, target/book; the pdoc output,
target/doc-python) is read, and every relative link (`href`, `src`) must name a file that exists
and, when it has a `#fragment`, an `id` (or `name`) that the target page defines. A link may
point from one folder into another (the guide links to the API reference) but not outside
`--root`. External links (http:, https:, mailto:, …) are not fetched.

`--readme` checks a Markdown file's relative links as GitHub shows them: the file must exist, and
a `#fragment` into a Markdown file must be one of its headings' anchors, computed with mdBook's
rule (`normalize_id`: lower case, letters, digits, `-` and `_` kept, spaces to `-`, anything else
dropped; a repeated heading gets `-1`, `-2`, …).

`--results-copies SRC ORIG`: every file under SRC (docs/src/results, the pictures the guide shows,
which mdBook only copies from its own source folder) must be byte-identical to the file of the
same relative path under ORIG (data/results), so that a regenerated picture cannot leave a stale
copy in the guide.

Exits 1 naming every broken link (page, link, why), 0 when there is none. Standard library only.
"""

from __future__ import annotations

import argparse
import html.parser
import os
import pathlib
import re
import sys
import tempfile
import urllib.parse
from typing import Dict, List, Optional, Set, Tuple

EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//")


class _Page(html.parser.HTMLParser):
    """The ids a page defines and the links it makes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: Set[str] = set()
        self.links: List[Tuple[int, str]] = []

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (name == "name" and tag == "a"):
                self.ids.add(value)
            # <link href> (stylesheets), <a href>, <img src>, <script src>; not <form action>.
            if (name == "href" and tag in ("a", "link", "area")) or (
                name == "src" and tag in ("img", "script", "iframe", "source")
            ):
                self.links.append((self.getpos()[0], value))


def _parse(path: pathlib.Path, cache: Dict[pathlib.Path, _Page]) -> _Page:
    if path not in cache:
        page = _Page()
        page.feed(path.read_text(encoding="utf-8", errors="replace"))
        page.close()
        cache[path] = page
    return cache[path]


def _inside(path: pathlib.Path, root: pathlib.Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def check_html(dirs: List[pathlib.Path], root: pathlib.Path) -> List[str]:
    """Broken links of every .html page under `dirs`, as 'page:line: link: why'."""
    root = root.resolve()
    errors: List[str] = []
    cache: Dict[pathlib.Path, _Page] = {}
    pages: List[pathlib.Path] = []
    for d in dirs:
        if not d.is_dir():
            errors.append(f"{d}: no such folder (build it first)")
            continue
        found = sorted(p.resolve() for p in d.rglob("*.html"))
        if not found:
            errors.append(f"{d}: holds no .html page (build it first)")
        pages.extend(found)
    for page in pages:
        for line, link in _parse(page, cache).links:
            if not link or EXTERNAL.match(link):
                continue
            parts = urllib.parse.urlsplit(link)
            target_path = urllib.parse.unquote(parts.path)
            fragment = urllib.parse.unquote(parts.fragment)
            where = f"{page}:{line}: {link}"
            if target_path:
                target = (page.parent / target_path).resolve()
                if not _inside(target, root):
                    errors.append(f"{where}: leads outside {root}")
                    continue
                if target.is_dir():
                    target = target / "index.html"
                if not target.is_file():
                    errors.append(f"{where}: no such file {target}")
                    continue
            else:
                target = page
            if fragment and target.suffix == ".html":
                if fragment not in _parse(target, cache).ids:
                    errors.append(f"{where}: {target.name} has no anchor #{fragment}")
    return errors


def normalize_id(text: str) -> str:
    """mdBook's heading anchor (`utils::normalize_id`), which GitHub's matches for plain text."""
    out = []
    for ch in text:
        if ch.isalnum() or ch in "_-":
            out.append(ch.lower())
        elif ch.isspace():
            out.append("-")
    return "".join(out)


def _heading_text(md: str) -> str:
    """A heading's rendered text: link targets, code ticks and emphasis marks removed."""
    md = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", md)
    md = md.replace("`", "")
    md = re.sub(r"(\*\*|\*)", "", md)
    return md.strip()


def markdown_anchors(path: pathlib.Path) -> Set[str]:
    """The anchors of a Markdown file's headings (fenced code skipped)."""
    anchors: Set[str] = set()
    counts: Dict[str, int] = {}
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        m = None if fenced else re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = normalize_id(_heading_text(m.group(1)))
            n = counts.get(base, 0)
            counts[base] = n + 1
            anchors.add(base if n == 0 else f"{base}-{n}")
    return anchors


def check_markdown(path: pathlib.Path, root: pathlib.Path) -> List[str]:
    """Broken relative links of one Markdown file, as 'file:line: link: why'."""
    root = root.resolve()
    errors: List[str] = []
    fenced = False
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        line = re.sub(r"`[^`]*`", "", line)  # code spans are not links
        for link in re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", line):
            if EXTERNAL.match(link):
                continue
            parts = urllib.parse.urlsplit(link)
            where = f"{path}:{n}: {link}"
            target = (path.parent / urllib.parse.unquote(parts.path)).resolve() if parts.path else path.resolve()
            if not _inside(target, root):
                errors.append(f"{where}: leads outside {root}")
                continue
            if not target.exists():
                errors.append(f"{where}: no such file {target}")
                continue
            frag = urllib.parse.unquote(parts.fragment)
            if frag and target.suffix == ".md" and frag not in markdown_anchors(target):
                errors.append(f"{where}: {target.name} has no heading with anchor #{frag}")
    return errors


def check_copies(src: pathlib.Path, orig: pathlib.Path) -> List[str]:
    """Files under `src` that differ from (or lack) their original under `orig`."""
    errors: List[str] = []
    for f in sorted(p for p in src.rglob("*") if p.is_file()):
        o = orig / f.relative_to(src)
        if not o.is_file():
            errors.append(f"{f}: no original {o} (remove the copy, or copy the file it shows)")
        elif o.read_bytes() != f.read_bytes():
            errors.append(f"{f}: differs from {o}: copy it again (cp {o} {f})")
    return errors


def self_test() -> int:
    """A small book with one good and three broken links, and a stale copy: each must be found."""
    with tempfile.TemporaryDirectory() as t:
        d = pathlib.Path(t)
        (d / "book").mkdir()
        (d / "book" / "a.html").write_text(
            '<h1 id="top">A</h1><a href="b.html#there">ok</a><a href="#top">ok</a>'
            '<a href="https://example.org/x">external</a>'
            '<a href="missing.html">broken file</a><a href="b.html#nowhere">broken anchor</a>'
            '<img src="../../outside.png">'
        )
        (d / "book" / "b.html").write_text('<h2 id="there">B</h2>')
        errors = check_html([d / "book"], d)
        want = ["missing.html", "b.html#nowhere", "../../outside.png"]
        ok = len(errors) == 3 and all(any(w in e for e in errors) for w in want)
        (d / "README.md").write_text(
            "# Top\n\n## The `x` part (2)\n\n[a](README.md#the-x-part-2) [b](README.md#nope) "
            "[c](gone.md)\n\n```sh\n[not](a-link.md)\n```\n"
        )
        md = check_markdown(d / "README.md", d)
        ok = ok and len(md) == 2 and "#nope" in md[0] and "gone.md" in md[1]
        (d / "copy").mkdir()
        (d / "orig").mkdir()
        (d / "copy" / "p.png").write_bytes(b"new")
        (d / "orig" / "p.png").write_bytes(b"old")
        cp = check_copies(d / "copy", d / "orig")
        ok = ok and len(cp) == 1 and "differs" in cp[0]
    for e in errors + md + cp:
        print(f"  (expected) {e}")
    print("self-test", "passed" if ok else "FAILED")
    return 0 if ok else 1


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="*", type=pathlib.Path, help="built HTML folders to check")
    ap.add_argument("--root", type=pathlib.Path, default=None,
                    help="links may not leave this folder (default: the common parent of the HTML folders)")
    ap.add_argument("--readme", type=pathlib.Path, action="append", default=[],
                    help="a Markdown file whose relative links and #anchors to check")
    ap.add_argument("--results-copies", nargs=2, type=pathlib.Path, metavar=("SRC", "ORIG"),
                    help="files under SRC must equal those under ORIG")
    ap.add_argument("--self-test", action="store_true", help="check that broken links are found")
    a = ap.parse_args(argv)
    if a.self_test:
        return self_test()
    if not a.dirs and not a.readme and not a.results_copies:
        ap.error("nothing to check: give HTML folders, --readme or --results-copies")
    root = a.root or (pathlib.Path(os.path.commonpath([str(d.resolve()) for d in a.dirs])) if a.dirs else pathlib.Path.cwd())
    errors = check_html(a.dirs, root) if a.dirs else []
    for r in a.readme:
        errors += check_markdown(r, r.resolve().parent)
    if a.results_copies:
        errors += check_copies(*a.results_copies)
    for e in errors:
        print(f"check_docs: {e}", file=sys.stderr)
    if errors:
        print(f"check_docs: {len(errors)} broken link(s) or stale copies", file=sys.stderr)
        return 1
    print(f"check_docs: no broken links ({', '.join(str(d) for d in a.dirs + a.readme)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
