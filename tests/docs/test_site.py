"""The documentation site: every public name has a reference entry, every page a nav entry.

(#15 item 3.)
"""

from __future__ import annotations

import importlib
import re

import yaml

from .examples import ROOT

DOCS = ROOT / "docs"
#: Modules users import by path; each name in their ``__all__`` needs an entry.
PUBLIC_MODULES = (
    "sessionware",
    "sessionware.backends",
    "sessionware.backends.sql_schema",
    "sessionware.integrations",
    "sessionware.integrations.fastapi",
    "sessionware.integrations.flask",
    "sessionware.tokens",
    "sessionware.testing",
    "sessionware.defences.csrf",
    "sessionware.defences.counters",
    "sessionware.defences.metrics",
)


def reference_entries() -> set[str]:
    entries: set[str] = set()
    for page in (DOCS / "reference").glob("*.md"):
        entries |= set(re.findall(r"^::: ([\w.]+)\s*$", page.read_text(), flags=re.M))
    return entries


def test_every_public_name_has_a_reference_entry() -> None:
    """Each name exported by a public module is rendered from its docstring (mkdocstrings)."""
    entries = reference_entries()
    missing = [
        f"{module}.{name}"
        for module in PUBLIC_MODULES
        for name in importlib.import_module(module).__all__
        if name != "__version__" and f"{module}.{name}" not in entries
    ]
    assert not missing, f"add '::: NAME' lines to docs/reference/ for {missing}"


def test_every_reference_entry_exists() -> None:
    """No entry names something that is gone (mkdocs would fail; this says which)."""
    for entry in reference_entries():
        module, _, name = entry.rpartition(".")
        assert hasattr(importlib.import_module(module), name), entry


def _nav_files(node: object) -> list[str]:
    if isinstance(node, str):
        return [] if node.startswith("http") else [node]
    if isinstance(node, list):
        return [f for item in node for f in _nav_files(item)]
    if isinstance(node, dict):
        return [f for value in node.values() for f in _nav_files(value)]
    return []


def test_every_page_is_in_the_navigation() -> None:
    """Each docs/*.md page is reachable from mkdocs.yml's nav, and each nav entry exists."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    nav = set(_nav_files(config["nav"]))
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert pages == nav, (sorted(pages - nav), sorted(nav - pages))


def test_benchmark_chart_on_the_site_is_the_results_chart() -> None:
    """docs/img/benchmarks-full.png is byte-for-byte benchmarks/results/full.png."""
    site = (DOCS / "img" / "benchmarks-full.png").read_bytes()
    assert site == (ROOT / "benchmarks" / "results" / "full.png").read_bytes()


def test_site_builds_strictly(tmp_path: object) -> None:
    """``mkdocs build --strict`` succeeds: no broken link, no missing page, no docstring error."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_docstring_markup_is_rendered_as_markdown() -> None:
    """Roles, double backticks, ``::`` blocks and versionadded become Markdown on the site."""
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from griffe_rst import markdown
    finally:
        sys.path.pop(0)
    text = markdown(
        "Use :class:`~sessionware.Session` and ``x``::\n\n    a = 1\n\n.. versionadded:: 0.2"
    )
    assert "`Session`" in text and "`x`" in text and ":class:" not in text
    assert "```python\na = 1\n```" in text
    assert "*New in 0.2.*" in text
