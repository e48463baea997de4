"""What a user installing from PyPI sees: extras, metadata, LICENSE, import errors (#15)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_sql_extra_installs_sqlalchemys_asyncio_dependencies() -> None:
    """The ``sql`` extra asks for ``sqlalchemy[asyncio]``, which brings greenlet (issue item 1)."""
    sql = PROJECT["optional-dependencies"]["sql"]
    assert any(re.match(r"sqlalchemy\[asyncio\]", req, re.I) for req in sql), sql


def test_missing_extra_names_the_real_import_error() -> None:
    """With greenlet unimportable, the MissingExtra message says so on one line (item 1)."""
    code = (
        "import sys; sys.modules['greenlet'] = None\n"
        "try:\n"
        "    from sessionware.backends import SQLBackend\n"
        "except ImportError as exc:\n"
        "    print(str(exc))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout.strip()
    assert "\n" not in out
    assert "pip install 'sessionware[sql]'" in out
    assert "greenlet" in out


def test_wheel_metadata_has_urls_license_and_python_version() -> None:
    """Project URLs (homepage, docs, changelog, issues), MIT LICENSE and Python >= 3.11 (item 2)."""
    urls = {k.lower() for k in PROJECT["urls"]}
    assert {"homepage", "documentation", "changelog", "issues"} <= urls
    assert all(u.startswith("https://") for u in PROJECT["urls"].values())
    assert PROJECT["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert PROJECT["requires-python"] == ">=3.11"


def test_dev_includes_all_and_docs() -> None:
    """``dev`` pulls every runtime extra plus the docs toolchain, so CI builds the site."""
    dev = " ".join(PROJECT["optional-dependencies"]["dev"])
    assert "sessionware[all]" in dev and "sessionware[docs]" in dev
    docs = " ".join(PROJECT["optional-dependencies"]["docs"])
    assert "mkdocs-material" in docs and "mkdocstrings" in docs


def test_help_of_the_package_says_how_to_start() -> None:
    """``help(sessionware)`` shows an example and the documentation address, not one line."""
    import sessionware

    doc = sessionware.__doc__ or ""
    assert len(doc.splitlines()) > 10
    assert "session_of(request)" in doc and "https://" in doc


README = (ROOT / "README.md").read_text()


def test_readme_works_on_pypi() -> None:
    """No relative link or image (PyPI breaks them); set-up commands first; install lines."""
    targets = re.findall(r"\]\(([^)]+)\)", README)
    assert targets and all(t.startswith(("https://", "#")) for t in targets), [
        t for t in targets if not t.startswith(("https://", "#"))
    ]
    first_block = README.split("```")[1]
    assert "sessionware demo" in first_block and "python -m pytest" in first_block
    for extra in PROJECT["optional-dependencies"]:
        if extra not in ("bench", "dev", "docs"):
            assert f'pip install "sessionware[{extra}]"' in README, extra
    assert "pip install sessionware" in README and "Python ≥ 3.11" in README


def test_readme_says_what_the_tests_need() -> None:
    """The services and browser the test command needs, and what happens without them."""
    for needed in ("SESSIONWARE_REDIS_URL", "SESSIONWARE_POSTGRES_URL", "Chromium", "CI=true"):
        assert needed in README, needed
    assert "skip loudly" in README
