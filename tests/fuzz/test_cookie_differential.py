"""Differential test of the cookie reader against werkzeug (hypothesis, no atheris needed).

The atheris harness (``fuzz_cookies.py``) runs the same comparison
coverage-guided; this test gives pytest a deterministic share of it: headers
built from RFC 6265's grammar (so most are clean and really compared),
arbitrary text (robustness only), and every header kept in
``tests/fuzz/corpus/cookie-headers/`` (regressions and interesting seeds).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessionware.cookies import read_session_cookies
from tests.ci import in_ci
from tests.fuzz.cookie_reference import NAME, agree, clean

CORPUS = Path(__file__).parent / "corpus" / "cookie-headers"
EXAMPLES = 2000 if in_ci() else 300

tchar = st.sampled_from("!#$%&'*+-.^_`|~0123456789AZaz")
octet = st.sampled_from([chr(c) for c in range(0x21, 0x7F) if chr(c) not in '",;\\'])
name = st.one_of(
    st.just(NAME),
    st.just(NAME.lower()),
    st.just(NAME + "x"),
    st.just("x" + NAME),
    st.text(tchar, min_size=1, max_size=8),
)
value = st.text(octet, max_size=20)
pair = st.builds(
    lambda n, v, quoted: f'{n}="{v}"' if quoted else f"{n}={v}", name, value, st.booleans()
)
separator = st.sampled_from([";", "; ", ";  ", ";\t"])
padding = st.sampled_from(["", " ", "\t", "  "])


def _join(pairs: list[str], seps: list[str], before: str, after: str) -> str:
    body = "".join(
        p + (seps[i % len(seps)] if i < len(pairs) - 1 else "") for i, p in enumerate(pairs)
    )
    return before + body + after


grammar_header = st.builds(
    _join,
    st.lists(pair, min_size=1, max_size=6),
    st.lists(separator, min_size=1, max_size=3),
    padding,
    padding,
)
any_header = st.one_of(
    grammar_header,
    st.text(max_size=120),
    st.binary(max_size=120).map(lambda b: b.decode("latin-1")),
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(header=any_header)
def _example(reach: Counter[str], header: str) -> None:
    agree(header)
    reach["total"] += 1
    if clean(header):
        reach["compared"] += 1
        reach["ours"] += bool(read_session_cookies(header, NAME))


def test_reader_agrees_with_werkzeug_on_clean_headers() -> None:
    """On every RFC 6265 cookie-string, our reader returns exactly werkzeug's values."""
    reach: Counter[str] = Counter()
    _example(reach)
    # Reach: a third of the examples are compared and many carry our name.
    assert reach["compared"] >= 0.25 * reach["total"], reach
    assert reach["ours"] >= 0.1 * reach["total"], reach


def _corpus() -> list[Path]:
    return sorted(CORPUS.iterdir())


def test_the_corpus_is_kept() -> None:
    """The header corpus is checked in, so every run starts from what earlier runs found."""
    assert len(_corpus()) >= 10
    assert sum(clean(p.read_bytes().decode("latin-1")) for p in _corpus()) >= 5


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_corpus_header(path: Path) -> None:
    """Each kept header still reads the same as werkzeug reads it (or stays robust)."""
    agree(path.read_bytes().decode("latin-1"))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"{NAME}=a", ["a"]),
        (f"x=1; {NAME}=a;{NAME}=b", ["a", "b"]),
        (f"{NAME}x=a; x{NAME}=b", []),
        (f'{NAME}="a"', ['"a"']),
        (f"  {NAME}=a=b  ", ["a=b"]),
    ],
)
def test_known_answers(header: str, expected: list[str]) -> None:
    """Hand-checked cases: exact name, every occurrence, quotes kept, '=' inside a value."""
    assert clean(header)
    assert read_session_cookies(header, NAME) == expected
    agree(header)
