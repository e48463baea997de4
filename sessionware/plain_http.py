"""The one message for every way of saying "not always ``Secure``".

Three spellings reach the cookie's ``Secure`` attribute, and they mean two
different things (docs: "Plain HTTP"):

- the native ``secure=False``: **off**, the cookie never carries ``Secure``;
  for plain-HTTP development (a local server driven by httpx or requests,
  which withhold ``Secure`` cookies over ``http://``);
- Starlette's ``https_only=False`` and Flask's ``SESSION_COOKIE_SECURE=False``
  (both frameworks' defaults): ``Secure`` **exactly when the request arrived
  over HTTPS** (its scheme, or a trusted proxy's), so TLS deployments keep it
  and test clients on ``http://testserver`` keep working.

Start-up logs, audit findings and docs all use :func:`secure_notice`, so a
user sees the same sentence whichever spelling they wrote.
"""

from __future__ import annotations

__all__ = ["FRAMEWORK_SPELLINGS", "NATIVE_SPELLING", "secure_notice"]

NATIVE_SPELLING = "secure=False"
#: The framework settings that mean "Secure when the request arrived over HTTPS".
FRAMEWORK_SPELLINGS = ("https_only=False", "SESSION_COOKIE_SECURE=False")


def secure_notice(spelling: str, cookie_name: str) -> str:
    """The sentence describing what ``spelling`` does to cookie ``cookie_name``.

    :param spelling: ``"secure=False"``, ``"https_only=False"`` or
        ``"SESSION_COOKIE_SECURE=False"``, as the user wrote it.
    """
    if spelling in FRAMEWORK_SPELLINGS:
        return (
            f"session cookie {cookie_name!r} is Secure when the request arrived over HTTPS "
            f"({spelling}); plain-HTTP requests (tests on http://testserver) get it without "
            "Secure; pass secure=True to require HTTPS always"
        )
    return (
        f"session cookie {cookie_name!r} is never Secure ({spelling}): for plain-HTTP "
        "development only (local servers driven by httpx or requests); production needs "
        "secure=True, the default"
    )
