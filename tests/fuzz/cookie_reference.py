"""The cookie reader against an independent parser: werkzeug's ``parse_cookie``.

``sessionware.cookies.read_session_cookies`` is a hand-written scan (it is on
every request's path, so it skips werkzeug).  Hand-written parsers drift, so
the fuzz harness and ``test_cookie_differential.py`` compare it with werkzeug
on every input the *reference* parses cleanly:

* the header follows RFC 6265 §4.2.1's ``cookie-string`` (``name=value``
  pairs, a token for each name, cookie-octets or a quoted string for each
  value), with optional whitespace after each ``;`` and around the header;
* werkzeug decodes it without raising.

On those inputs both must return the same values under our name, in order,
with one documented difference: werkzeug removes the quotes of a quoted
value and we keep them (a quoted value is never a signed ID, so
``IdCodec.unsign`` refuses it either way).  Outside the grammar the parsers
may legitimately differ (``name =value`` is a name with a space to us, as to
browsers, which never send one), so those inputs are only checked for
robustness.  Nothing here is imported by the package.
"""

from __future__ import annotations

import re

from werkzeug.http import parse_cookie

from sessionware.cookies import read_session_cookies

__all__ = ["NAME", "agree", "clean", "reference"]

NAME = "__Host-session"
#: RFC 9110 tchar, the characters of a cookie name (RFC 6265 §4.1.1).
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
#: RFC 6265 cookie-octet: printable US-ASCII except DQUOTE, comma, semicolon, backslash.
_OCTETS = r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"
_PAIR = rf"{_TOKEN}=(?:{_OCTETS}|\"{_OCTETS}\")"
_STRING = re.compile(rf"[ \t]*{_PAIR}(?:;[ \t]*{_PAIR})*[ \t]*")


def clean(header: str) -> bool:
    """True when ``header`` is an RFC 6265 cookie-string werkzeug decodes without error."""
    if _STRING.fullmatch(header) is None:
        return False
    try:
        parse_cookie(header)
    except (UnicodeDecodeError, ValueError):
        return False
    return True


def reference(header: str, name: str = NAME) -> list[str]:
    """werkzeug's values for ``name``, re-quoted where the header quoted them."""
    values = parse_cookie(header).getlist(name)
    firsts = [m.group(1) for m in re.finditer(rf"(?:^|;)[ \t]*{re.escape(name)}=(?=(.?))", header)]
    return [
        f'"{value}"' if first == '"' else value for value, first in zip(values, firsts, strict=True)
    ]


def agree(header: str, name: str = NAME) -> None:
    """Raise AssertionError when our reader and the reference disagree on a clean header."""
    ours = read_session_cookies(header, name)
    if not clean(header):
        if any(";" in value for value in ours):
            raise AssertionError(f"a value kept its separator: {ours!r}")
        return
    theirs = reference(header, name)
    if ours != theirs:
        raise AssertionError(f"{header!r}: ours {ours!r}, werkzeug {theirs!r}")
