"""A griffe extension: the reST bits of sessionware's docstrings, as Markdown.

The docstrings follow itsdangerous' Sphinx style (``:param:`` lines, which
mkdocstrings' ``sphinx`` parser reads, plus roles, double backticks,
``::`` literal blocks and ``.. versionadded::``).  mkdocstrings renders
docstrings as Markdown, so without this the site would show the raw markup.
Used by mkdocs.yml only; the package never imports it.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc|obj):`~?([^`]+)`")
LITERAL = re.compile(r"``([^`]+)``")
VERSION = re.compile(r"^(\s*)\.\. version(added|changed):: *(\S+)\s*$", re.M)


def _literal_blocks(text: str) -> str:
    """``Intro::`` followed by an indented block becomes a fenced Python block."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::") and not line.lstrip().startswith(".."):
            head = line.rstrip()[:-2].rstrip()
            block: list[str] = []
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or lines[j].startswith((" ", "\t"))):
                block.append(lines[j])
                j += 1
            while block and not block[-1].strip():
                block.pop()
            while block and not block[0].strip():
                block.pop(0)
            if block:
                width = min(len(b) - len(b.lstrip()) for b in block if b.strip())
                out.extend([head + (":" if head and not head.endswith(":") else ""), "",
                            "```python", *(b[width:] for b in block), "```", ""])
                i = j
                continue
        out.append(line)
        i += 1
    return "\n".join(out)


def markdown(text: str) -> str:
    """One docstring's reST markup turned into the Markdown mkdocstrings expects."""
    text = ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", text)
    text = LITERAL.sub(r"`\1`", text)
    text = _literal_blocks(text)  # last: its fences must not meet the backtick rule
    words = {"added": "New", "changed": "Changed"}
    return VERSION.sub(lambda m: f"{m.group(1)}*{words[m.group(2)]} in {m.group(3)}.*", text)


class RestToMarkdown(griffe.Extension):
    """Rewrite every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
