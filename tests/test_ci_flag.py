"""``CI`` is read one way everywhere: every usual truthy spelling counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ci import in_ci

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("value", ["1", "true", "True", "TRUE", "yes", "Yes", "on", " true "])
def test_truthy_spellings_mean_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """``CI=1`` or ``CI=True`` must not silently turn service failures into skips."""
    monkeypatch.setenv("CI", value)
    assert in_ci()


@pytest.mark.parametrize("value", ["", "0", "false", "no", "off", "maybe"])
def test_other_values_mean_a_developer_machine(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """Anything else (or nothing) is a local run, where missing services skip loudly."""
    monkeypatch.setenv("CI", value)
    assert not in_ci()


def test_unset_means_a_developer_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``CI`` variable at all is a local run."""
    monkeypatch.delenv("CI", raising=False)
    assert not in_ci()


def test_no_test_compares_ci_by_hand() -> None:
    """Every test area goes through tests/ci.py, so no spelling is read differently."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").rglob("*.py")
        if path.name not in {"ci.py", "test_ci_flag.py"}
        and (
            'environ.get("CI"' in (text := path.read_text(encoding="utf-8"))
            or 'environ["CI"]' in text
            or 'getenv("CI"' in text
        )
    ]
    assert not offenders, f"read CI through tests.ci.in_ci(): {offenders}"
