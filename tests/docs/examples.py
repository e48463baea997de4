"""Python code blocks of README.md and docs/, and how each is kept honest.

A block is a program and runs as written, unless the HTML comment on the line
just before its fence (invisible on GitHub, PyPI and the docs site) says:

- ``<!-- fragment -->``: a piece of a larger app (a view body, a config
  excerpt); not run.
- ``<!-- continued -->``: runs after the previous block, in its namespace
  (a "try it" step after an app).
- ``<!-- tested: tests/path.py -->``: run by that test, which reads this page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*$")
MARKER = re.compile(r"^\s*<!--\s*(fragment|continued|tested:\s*(?P<test>\S+))\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced ``python`` block: where it is, its code and its marker."""

    page: Path
    line: int
    code: str
    marker: str | None  # None (a program), "fragment", "continued" or "tested"
    tested_by: str | None = None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        indent, lang, start = match["indent"], match["lang"], i
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        if lang not in ("python", "py"):
            continue
        before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        marked = MARKER.match(before)
        marker = tested = None
        if marked is not None:
            marker = "tested" if marked["test"] else marked[1]
            tested = marked["test"]
        out.append(Block(page, start + 1, "\n".join(body) + "\n", marker, tested))
    return out


def programs(page: Path) -> list[list[Block]]:
    """The runnable blocks of ``page``, each program with its continuations."""
    groups: list[list[Block]] = []
    for block in blocks(page):
        if block.marker is None:
            groups.append([block])
        elif block.marker == "continued":
            if not groups:
                raise AssertionError(f"{block.where}: 'continued' with no program before it")
            groups[-1].append(block)
    return groups
