"""CHANGELOG.md: Keep a Changelog with links; the first release lists no fixes (#15 item 10)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "CHANGELOG.md").read_text()
HEADINGS = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", TEXT, flags=re.M)


def test_unreleased_comes_first_then_dated_releases() -> None:
    """``[Unreleased]`` heads the file; every release below it has a date."""
    assert HEADINGS[0] == ("Unreleased", "")
    assert all(date for _, date in HEADINGS[1:])


def test_the_package_version_has_a_section() -> None:
    """The version in pyproject.toml is a released section."""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert version in [name for name, _ in HEADINGS[1:]]


def test_every_section_has_a_link() -> None:
    """Each heading has a reference link at the bottom (compare, or the first tag)."""
    links = dict(re.findall(r"^\[([^\]]+)\]: (https://\S+)$", TEXT, flags=re.M))
    for name, _ in HEADINGS:
        assert name in links, name
    assert links["Unreleased"].endswith(f"compare/v{HEADINGS[1][0]}...HEAD")


def test_first_release_lists_no_fixes_for_bugs_that_never_shipped() -> None:
    """The oldest release has no Fixed section: nobody ran a version with those bugs."""
    oldest = TEXT[TEXT.index(f"## [{HEADINGS[-1][0]}]") :]
    assert "### Fixed" not in oldest


def test_unreleased_entries_end_with_an_issue_number() -> None:
    """Every entry is one line ending in ``(#N)``."""
    unreleased = TEXT[: TEXT.index(f"## [{HEADINGS[1][0]}]")]
    entries = [line for line in unreleased.splitlines() if line.startswith("- ")]
    assert entries and all(re.search(r"\(#\d+\)\.?$", line) for line in entries)
