"""docs/SECURITY.md is checked: every requirement has a row, a status and real tests.

The matrix is only evidence if it cannot rot.  This test parses the page and
fails when an ASVS or checklist ID from the standards is missing, a row has
no status (or an unknown one), a row without tests claims anything, or a
cited pytest node ID does not resolve to a test function or class.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "SECURITY.md"
STATUSES = ("met", "app + helper", "partial", "n/a")

#: The requirement IDs of /work/shared/anchors/standards.md: ASVS 4.0.3 V3 (§2.1),
#: the related 4.0.3 ones listed there, ASVS 5.0.0 V7 (§2.2), the cookie, token
#: and related 5.0.0 items (§2.3), and the checklist (section (a)).
ASVS_403_V3 = [
    "3.1.1", "3.2.1", "3.2.2", "3.2.3", "3.2.4", "3.3.1", "3.3.2", "3.3.3", "3.3.4",
    "3.4.1", "3.4.2", "3.4.3", "3.4.4", "3.4.5", "3.5.1", "3.5.2", "3.5.3", "3.6.1",
    "3.6.2", "3.7.1",
]  # fmt: skip
ASVS_403_RELATED = [
    "1.11.2", "1.11.3", "2.2.1", "4.2.2", "7.1.1", "7.2.1", "8.2.2", "8.2.3", "11.1.4",
    "13.1.3", "13.2.3",
]  # fmt: skip
ASVS_500_V7 = [
    "7.1.1", "7.1.2", "7.1.3", "7.2.1", "7.2.2", "7.2.3", "7.2.4", "7.3.1", "7.3.2",
    "7.4.1", "7.4.2", "7.4.3", "7.4.4", "7.4.5", "7.5.1", "7.5.2", "7.5.3", "7.6.1",
    "7.6.2",
]  # fmt: skip
ASVS_500_RELATED = [
    "3.3.1", "3.3.2", "3.3.3", "3.3.4", "3.3.5", "9.1.1", "9.1.2", "9.1.3", "9.2.1",
    "9.2.2", "9.2.3", "9.2.4", "2.4.1", "3.4.1", "3.5.1", "3.5.2", "3.5.3", "4.2.5",
    "4.4.3", "4.4.4", "10.4.5", "10.4.8", "10.4.9", "11.5.1", "11.5.2", "11.2.2",
    "13.3.4", "14.2.1", "14.3.1", "14.3.2", "14.3.3", "16.2.5", "16.3.1", "16.3.3",
    "16.4.1", "16.5.2 / 16.5.3",
]  # fmt: skip
CHECKLIST = [f"ID-0{i}" for i in range(1, 10)]
CHECKLIST += [f"FX-0{i}" for i in range(1, 9)]
CHECKLIST += [f"CK-0{i}" for i in range(1, 10)]
CHECKLIST += [f"EX-0{i}" for i in range(1, 7)]
CHECKLIST += [f"TM-0{i}" for i in range(1, 9)]
CHECKLIST += [f"TK-{i:02d}" for i in range(1, 12)]
CHECKLIST += ["CS-01"]
CHECKLIST += [f"AN-0{i}" for i in range(1, 7)]
CHECKLIST += [f"RS-0{i}" for i in range(1, 6)]
CHECKLIST += [f"CC-0{i}" for i in range(1, 5)]
REQUIRED = (
    [f"v4.0.3-{n}" for n in ASVS_403_V3 + ASVS_403_RELATED]
    + [f"v5.0.0-{n}" for n in ASVS_500_V7 + ASVS_500_RELATED]
    + CHECKLIST
)

ROW_ID = re.compile(r"v4\.0\.3-[\d.]+|v5\.0\.0-[\d.]+( / [\d.]+)?|[A-Z]{2}-\d\d")
NODE = re.compile(r"`(tests/[\w/]+\.py(?:::[\w]+)+)`")


def _rows() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if not ROW_ID.fullmatch(cells[0]):
            continue
        assert cells[0] not in rows, f"{cells[0]} has two rows"
        rows[cells[0]] = cells
    return rows


ROWS = _rows()


def test_every_requirement_has_a_row() -> None:
    """Each ASVS and checklist ID from the standards appears as a matrix row."""
    missing = [rid for rid in REQUIRED if rid not in ROWS]
    assert not missing, f"no row in docs/SECURITY.md for {missing}"
    assert len(REQUIRED) == len(set(REQUIRED))


@pytest.mark.parametrize("rid", REQUIRED)
def test_row_has_status_reason_and_tests(rid: str) -> None:
    """A row has four cells, a known status, an explanation and at least one test."""
    cells = ROWS.get(rid)
    assert cells is not None, f"{rid} is missing"
    assert len(cells) == 4, f"{rid}: expected ID | Status | How | Tests, got {cells}"
    _, status, how, tests = cells
    assert status in STATUSES, f"{rid}: status {status!r} is not one of {STATUSES}"
    assert len(how) >= 20, f"{rid}: say how (or, for n/a and partial, why)"
    assert NODE.findall(tests), f"{rid}: no test cited"


def _resolves(node: str) -> bool:
    path, *names = node.split("::")
    if not (ROOT / path).is_file():
        return False
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    target: object = module
    for name in names:
        target = getattr(target, name, None)
        if target is None:
            return False
    return callable(target)


CITED = sorted(set(NODE.findall(DOC.read_text(encoding="utf-8"))))


@pytest.mark.parametrize("node", CITED)
def test_cited_node_ids_exist(node: str) -> None:
    """Every pytest node ID on the page names a real test (module, class, function)."""
    assert _resolves(node), f"docs/SECURITY.md cites {node}, which does not exist"


def test_the_page_cites_tests_at_all() -> None:
    """The parser found the matrix (so the checks above are not vacuous)."""
    assert len(ROWS) >= len(REQUIRED)
    assert len(CITED) > 100
