"""docs/SECURITY.md is checked: every requirement has a row, a status and real tests.

The matrix is only evidence if it cannot rot.  This test parses the page and
fails when an ASVS or checklist ID from the standards is missing, a row has
no status (or an unknown one), a row without tests claims anything, or a
cited pytest node ID does not resolve to a test function or class.  For the
rows whose defence has a switch (``csrf=False``, ``url_id_policy="ignore"``,
``guard=None``, ``binding="off"``) it also runs the cited tests with the
defence off (``tests/defence_switches.py``) and expects them to fail.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from tests.defence_switches import ENV, SWITCHES

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


# -- the cited tests notice when their defence is off ------------------------------------

#: Rows whose defence has a config switch, and the switches (tests/defence_switches.py).
SWITCHED_ROWS: dict[str, tuple[str, ...]] = {
    "CS-01": ("csrf",),
    "v4.0.3-4.2.2": ("csrf",),
    "v4.0.3-13.2.3": ("csrf",),
    "v5.0.0-3.5.1": ("csrf",),
    "v5.0.0-3.5.2": ("csrf",),
    "v5.0.0-4.4.4": ("csrf", "url_ids"),
    "v4.0.3-3.1.1": ("url_ids",),
    "v4.0.3-13.1.3": ("url_ids",),
    "FX-01": ("url_ids",),
    "v5.0.0-14.2.1": ("url_ids",),
    "v4.0.3-2.2.1": ("guard",),
    "v5.0.0-2.4.1": ("guard",),
    "AN-01": ("guard",),
    "v4.0.3-11.1.4": ("guard",),
    "AN-03": ("binding",),
}

#: Cited tests that pin another half of their row's claim, so they pass with the switch off.
OTHER_HALF: dict[str, str] = {
    "tests/defences/test_csrf.py::test_login_drops_a_pre_login_token": (
        "synchronizer tokens, which csrf=False does not turn off"
    ),
    "tests/defences/test_csrf.py::test_synchronizer_token_round_trip": (
        "synchronizer tokens, which csrf=False does not turn off"
    ),
    "tests/defences/test_csrf.py::test_own_origin_behind_a_trusted_proxy": (
        "no false refusal: the own origin must pass, check or no check"
    ),
    "tests/defences/test_csrf.py::test_allowed_origins_are_accepted": (
        "no false refusal: allowed origins must pass, check or no check"
    ),
    "tests/core/test_engine.py::test_a_real_id_in_the_url_is_never_adopted": (
        "holds under both URL policies: an ID is never read from the URL"
    ),
    "tests/core/test_engine.py::test_url_ids_are_ignored_with_an_event": (
        "pins the 'ignore' policy itself"
    ),
    "tests/security/test_citations.py::"
    "test_a_refresh_token_in_the_url_is_refused_even_with_a_valid_body": (
        "the refresh endpoint's URL check has no switch; it fails with the check removed"
    ),
    "tests/core/test_engine.py::test_lookalike_urls_pass": (
        "no false refusal: values that cannot be an ID pass, check or no check"
    ),
    "tests/adapters/test_uvicorn_defences.py::"
    "test_third_party_pages_cannot_lock_a_signed_in_user_out": (
        "no false refusal: a third-party page never locks a user out, guard or no guard"
    ),
    "tests/adapters/test_uvicorn_defences.py::"
    "test_behind_an_unlisted_proxy_the_shared_address_is_reported": (
        "the untrusted-forwarding report, which the guard switch does not turn off"
    ),
    "tests/defences/test_flood.py::test_logins_are_never_limited_or_evicted": (
        "no false positive: logins are never limited, guard or no guard"
    ),
    "tests/defences/test_flood.py::test_reads_never_count": (
        "no false positive: reads must never count, guard or no guard"
    ),
    "tests/defences/test_binding.py::"
    "test_moves_inside_the_prefix_and_browser_updates_do_not_trigger": (
        "no false positive: small moves must never trigger, binding or no binding"
    ),
}


def _cited(rid: str) -> list[str]:
    return NODE.findall(ROWS[rid][3])


def _outcomes_with(switch: str, nodes: list[str]) -> dict[str, set[str]]:
    """For each node, the outcomes of its cases (FAILED, PASSED, SKIPPED...) with ``switch`` off."""
    import os
    import subprocess
    import sys

    env = {**os.environ, ENV: switch}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *nodes, "-v", "-p", "no:cacheprovider", "--tb=no"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    outcomes: dict[str, set[str]] = {node: set() for node in nodes}
    for node, outcome in re.findall(r"^(tests/\S+?)(?:\[\S*\])? (\w+)", proc.stdout, re.M):
        if node in outcomes:
            outcomes[node].add(outcome)
    missing = [node for node, seen in outcomes.items() if not seen]
    assert not missing, f"did not run: {missing}\n{proc.stdout[-3000:]}"
    return outcomes


def test_switched_rows_name_real_switches_and_exemptions() -> None:
    """Every switched row exists, names known switches, and each exemption is a citation."""
    cited = {node for rid in SWITCHED_ROWS for node in _cited(rid)}
    for rid, switches in SWITCHED_ROWS.items():
        assert rid in ROWS, rid
        assert set(switches) <= set(SWITCHES), (rid, switches)
    assert set(OTHER_HALF) <= cited, set(OTHER_HALF) - cited


@pytest.mark.slow
def test_cited_tests_fail_with_their_defence_switched_off() -> None:
    """Each switchable row's cited tests fail with the defence off (or pin another half)."""
    failing: dict[str, set[str]] = {}
    unjudged: set[str] = set()  # skipped here (a browser or service missing outside CI)
    for switch in SWITCHES:
        nodes = sorted({n for rid, s in SWITCHED_ROWS.items() if switch in s for n in _cited(rid)})
        outcomes = _outcomes_with(switch, [n for n in nodes if n not in OTHER_HALF])
        failing[switch] = {n for n, seen in outcomes.items() if "FAILED" in seen}
        unjudged |= {n for n, seen in outcomes.items() if seen == {"SKIPPED"}}
    blind = []
    for rid, switches in SWITCHED_ROWS.items():
        caught = [n for n in _cited(rid) if any(n in failing[s] for s in switches)]
        assert caught, f"{rid}: no cited test fails with {switches} off"
        blind += [
            f"{rid}: {n}"
            for n in _cited(rid)
            if n not in caught and n not in OTHER_HALF and n not in unjudged
        ]
    assert not blind, "cited tests that pass with their defence off:\n" + "\n".join(blind)
