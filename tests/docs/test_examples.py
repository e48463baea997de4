"""Every Python example in README.md and docs/ runs, or says why not (#15 item 4).

Programs run in a fresh namespace in a temporary directory, against the real
adapters (the examples use Starlette's and werkzeug's test clients over
``https://``).  README programs are also type-checked: they are copied into
``tests/typing/readme_programs.py``, which CI's ``mypy --strict`` reads; a
test keeps that copy equal to the README.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .examples import ROOT, Block, blocks, pages, programs

TYPED = ROOT / "tests" / "typing" / "readme_programs.py"
HEADER = '''"""README.md programs, copied by tests/docs/test_examples.py for ``mypy --strict``.

Do not edit: change README.md, then run
``SESSIONWARE_UPDATE_EXAMPLES=1 python -m pytest tests/docs``.
"""

# ruff: noqa
'''


def _ids() -> list[pytest.param]:
    return [
        pytest.param(group, id=group[0].where)
        for page in pages()
        for group in programs(page)
    ]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Examples may add handlers or set levels (docs/guard.md does): undo that afterwards."""
    loggers = [logging.getLogger(), *(
        logger for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    )]
    saved = {logger: (logger.handlers[:], logger.level) for logger in loggers}
    yield
    for logger in logging.Logger.manager.loggerDict.values():
        if isinstance(logger, logging.Logger) and logger not in saved:
            logger.handlers.clear()
            logger.setLevel(logging.NOTSET)
    for logger, (handlers, level) in saved.items():
        logger.handlers[:] = handlers
        logger.setLevel(level)


@pytest.mark.parametrize("group", _ids())
@pytest.mark.usefixtures("restore_logging")
def test_example_program_runs(
    group: list[Block], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documented program (and its "try it" continuations) runs without error."""
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "docs_example"}
    for block in group:
        exec(compile(block.code, block.where, "exec"), namespace)


def test_every_block_is_a_program_or_says_why_not() -> None:
    """A block marked as tested names a test file that exists and reads its page."""
    for page in pages():
        for block in blocks(page):
            if block.marker == "tested":
                assert block.tested_by is not None
                test = ROOT / block.tested_by
                assert test.is_file(), f"{block.where}: {block.tested_by} does not exist"
                assert page.name in test.read_text(), f"{test} never reads {page.name}"


def _readme_module() -> str:
    parts = [HEADER]
    for n, group in enumerate(programs(ROOT / "README.md")):
        parts.append(f"\n\ndef program_{n}() -> None:\n")
        code = "".join(block.code for block in group)
        parts.append("".join(f"    {line}\n" if line else "\n" for line in code.splitlines()))
    return "".join(parts)


def test_readme_programs_are_copied_for_mypy() -> None:
    """tests/typing/readme_programs.py is exactly the README's programs (mypy checks it in CI)."""
    expected = _readme_module()
    if os.environ.get("SESSIONWARE_UPDATE_EXAMPLES"):
        TYPED.write_text(expected)
    assert TYPED.read_text() == expected, (
        "README.md changed: run SESSIONWARE_UPDATE_EXAMPLES=1 python -m pytest tests/docs"
    )
