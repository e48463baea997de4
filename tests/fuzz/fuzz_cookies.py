"""Atheris harness: the cookie path, from raw ``Cookie`` header to storage key.

Run it directly (see tests/fuzz/README.md)::

    python tests/fuzz/fuzz_cookies.py -max_total_time=60 /tmp/corpus tests/fuzz/corpus/cookies

What it checks on every input, beyond "no exception escapes":

* ``read_session_cookies`` returns only values sent under exactly our name,
  none containing ``;`` (FX-05, FX-06), and on every header werkzeug's
  ``parse_cookie`` reads cleanly (an RFC 6265 cookie-string) exactly the
  values werkzeug reads (``tests/fuzz/cookie_reference.py``);
* ``IdCodec.unsign`` accepts a value only if re-signing its ID gives the very
  same value (no second encoding of a signature verifies; ID-07, ID-08);
* ``Engine.begin`` answers 400 or nothing, produces a storage key only for a
  value that verifies, and never puts the raw ID or cookie into an event
  (AN-04); ``Engine.resume`` on the miss gives an anonymous session.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["sessionware"]):
    from sessionware.config import SessionConfig
    from sessionware.cookies import read_session_cookies
    from sessionware.core import Engine, RequestFacts
    from sessionware.ids import IdCodec, new_id

from tests.fuzz.cookie_reference import agree

NAME = "__Host-session"
CONFIG = SessionConfig(secret_keys=["n" * 32, "o" * 32])
ENGINE = Engine(CONFIG, clock=lambda: 1_800_000_000.0)
CODEC: IdCodec = ENGINE.ids
OLD = IdCodec([b"o" * 32])  # the second key alone: its cookies must verify too
VALID = CODEC.sign(new_id())


def check_cookie_header(header: str, query: str, path: str) -> None:
    agree(header, NAME)  # the differential check against werkzeug
    values = read_session_cookies(header, NAME)
    for value in values:
        if ";" in value:
            raise AssertionError(f"a value kept its separator: {value!r}")
        verified = CODEC.unsign(value)
        if verified is not None:
            session_id, index = verified
            signer = CODEC if index == 0 else OLD
            if signer.sign(session_id) != value:
                raise AssertionError(f"a non-canonical value verified: {value!r}")
    facts = RequestFacts(cookie=header, query=query, path=path, client="192.0.2.1")
    begin = ENGINE.begin(facts)
    if begin.status not in (None, 400):
        raise AssertionError(f"unexpected status {begin.status}")
    if begin.key is not None and (len(values) != 1 or CODEC.unsign(values[0]) is None):
        raise AssertionError("a storage key came from a value that does not verify")
    for event in begin.events:
        text = repr(event.detail)
        for value in values:
            # A url_id event reports the path (and a value may happen to be part
            # of it, e.g. a run of slashes): only a value the URL does not hold counts.
            if len(value) >= 16 and value in text and value not in path + query:
                raise AssertionError("an event carries the cookie value")
    if begin.status is None:
        session = ENGINE.resume(begin, None, facts)
        if not session.is_new or session.user_id is not None:
            raise AssertionError("a missing record gave a non-anonymous session")


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    choice = fdp.ConsumeIntInRange(0, 4)
    query = fdp.ConsumeUnicodeNoSurrogates(40) if fdp.ConsumeBool() else ""
    path = "/" + (fdp.ConsumeUnicodeNoSurrogates(30) if fdp.ConsumeBool() else "")
    rest = fdp.ConsumeBytes(fdp.remaining_bytes())
    if choice == 0:  # the raw header, as an ASGI server hands it over (latin-1)
        header = rest.decode("latin-1")
    elif choice == 1:  # our name with a fuzzed value
        header = f"{NAME}=" + rest.decode("latin-1")
    elif choice == 2:  # a valid cookie with fuzzed bytes spliced in
        text = rest.decode("latin-1")
        cut = len(text) % (len(VALID) + 1)
        header = f"a=b; {NAME}={VALID[:cut]}{text}{VALID[cut + len(text) :]}"
    elif choice == 3:
        header = rest.decode("utf-8", "replace")
    else:  # pairs in the RFC 6265 shape, so the differential check compares often
        parts = rest.decode("latin-1").split("\x00")
        header = "; ".join(
            f"{NAME if i % 2 == 0 else p[:8]}={p.strip()}" for i, p in enumerate(parts[:6])
        )
    check_cookie_header(header, query, path)
    if CODEC.unsign(VALID) is None:  # pragma: no cover - sanity
        raise AssertionError("the valid cookie stopped verifying")


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
