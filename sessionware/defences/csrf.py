"""Cross-site request forgery defence for cookie sessions (CS-01).

``SameSite=Lax`` already keeps the cookie off most cross-site POSTs, but not
all (same-site sibling domains, old browsers, top-level GET-to-POST tricks),
and ASVS 5.0 3.5.1 asks for more than SameSite alone.  So an unsafe request
(POST, PUT, PATCH, DELETE) that arrives with a *live* session is refused with
403 when the browser says it is cross-site:

* ``Origin`` is present and is neither the request's own origin nor in
  ``allowed_origins``; ``Origin: null`` (sandboxed frames, privacy
  redirects) is refused too.  Own origin: the scheme and host after trusted
  proxies, or an ``https`` Origin whose host (and port, as written) equals
  the ``Host`` header of a request that arrived as ``http`` (TLS ended at a
  proxy that is not listed in ``trusted_proxies``).  The reverse, an
  ``http`` Origin on an ``https`` request, stays cross-origin.
  ``allowed_origins`` may hold ``https://*.example.com``: any depth of
  subdomain of ``example.com`` over https, not ``example.com`` itself;
* or, without an ``Origin`` from ``allowed_origins``, ``Sec-Fetch-Site`` is
  ``cross-site``.

Login CSRF.  An unsafe cross-site request whose handler calls ``login()``
is refused with 403 too, with or without a prior session, and nothing is
stored: otherwise a cross-site form signs the victim's browser in as the
attacker (OWASP CSRF Cheat Sheet, "Login CSRF").  Identity providers that
POST into a login view (SAML POST binding, OIDC ``form_post``, Sign in with
Apple) work once their origin is listed in ``allowed_origins``.

Requests with neither header (curl, server-to-server) pass: no browser sent
them, so no victim's ambient cookie is being abused.  A websocket handshake
carrying a live session gets the same ``Origin`` test (cross-site websocket
hijacking); the adapter closes it with 1008.

Apps that want a synchronizer token as well use :meth:`Session.csrf_token`
in their forms and :func:`verify_csrf` on submit.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence

from ..config import normalize_origin
from ..events import Event
from ..facts import RequestFacts
from ..session import CSRF_KEY, Session

__all__ = ["CSRF_HEADER", "UNSAFE_METHODS", "CsrfPolicy", "verify_csrf"]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: The header an app's JavaScript can send the synchronizer token in.
CSRF_HEADER = "X-CSRF-Token"
_HTTP = {"ws": "http", "wss": "https"}
#: The subdomain labels a wildcard origin matches (one or more, dot-separated).
_LABELS = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*")


class CsrfPolicy:
    """Decides whether a request on a live session is a cross-site forgery.

    :param allowed_origins: extra origins trusted to send unsafe requests
        (normalized by :class:`~sessionware.config.SessionConfig`).

    .. versionadded:: 0.1
    """

    __slots__ = ("_allowed", "_wild")

    def __init__(self, allowed_origins: Sequence[str] = ()) -> None:
        self._allowed = frozenset(o for o in allowed_origins if "*" not in o)
        #: ``https://*.example.com`` as ``("https://", ".example.com")``.
        self._wild = tuple(
            (o[: o.index("*")], o[o.index("*") + 1 :]) for o in allowed_origins if "*" in o
        )

    def allowed(self, normal: str) -> bool:
        """True when the normalized origin ``normal`` is listed (exactly or by a wildcard)."""
        if normal in self._allowed:
            return True
        for scheme, suffix in self._wild:
            if normal.startswith(scheme) and normal.endswith(suffix):
                label = normal[len(scheme) : len(normal) - len(suffix)]
                if label and _LABELS.fullmatch(label) is not None:
                    return True
        return False

    def check(self, facts: RequestFacts, *, websocket: bool = False) -> Event | None:
        """A ``csrf`` event when ``facts`` must be refused, else None."""
        if not websocket and facts.method not in UNSAFE_METHODS:
            return None
        origin = facts.origin
        if origin is not None and origin != f"{facts.scheme}://{facts.host}":  # fast same-origin
            normal = normalize_origin(origin)
            if normal is not None and self.allowed(normal):
                return None
            if normal is None or not _same_origin(normal, facts):
                return _event(facts, "origin")
        if facts.sec_fetch_site == "cross-site":
            return _event(facts, "sec-fetch-site")
        return None


def _same_origin(normal: str, facts: RequestFacts) -> bool:
    """``normal`` is the request's own origin, or its https twin behind a TLS proxy."""
    if not facts.host:
        return False
    scheme = _HTTP.get(facts.scheme, facts.scheme)
    if normal == normalize_origin(f"{scheme}://{facts.host}"):
        return True
    return scheme == "http" and normal == normalize_origin(f"https://{facts.host}")


def _event(facts: RequestFacts, reason: str) -> Event:
    return Event(
        "csrf",
        facts.client,
        detail={
            "reason": reason,
            "method": facts.method,
            "path": facts.path[:200],
            "origin": (facts.origin or "-")[:200],
            "fetch_site": facts.sec_fetch_site or "-",
            "agent": facts.user_agent[:200],
        },
    )


def verify_csrf(session: Session, token: str | None) -> bool:
    """True when ``token`` is the session's synchronizer token (constant-time compare).

    Pair it with :meth:`Session.csrf_token` in forms (a hidden field) or
    JavaScript (the :data:`CSRF_HEADER` header).  A session without a token,
    or an empty ``token``, never verifies.

    .. versionadded:: 0.1
    """
    expected = dict.get(session, CSRF_KEY)
    if not isinstance(expected, str) or not token:
        return False
    return hmac.compare_digest(expected.encode(), token.encode())
