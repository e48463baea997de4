"""Token mode: JWT access tokens and rotating refresh tokens over the same sessions.

Browsers get cookies; mobile apps and API clients get the *same* server-side
sessions as a short-lived access token plus a single-use refresh token.  The
parts, each importing only those listed before it:

- :mod:`~sessionware.tokens.config`: :class:`TokenSettings`, validated once.
- :mod:`~sessionware.tokens.keys`: signing keys, rotation, the public JWKS.
- :mod:`~sessionware.tokens.access`: the pinned-algorithm JWT codec.
- :mod:`~sessionware.tokens.refresh`: refresh-token minting, parsing, rotation rules.
- :mod:`~sessionware.tokens.types`: the values handed to apps.
- :mod:`~sessionware.tokens.service`: :class:`TokenService`, the stateful part.
- :mod:`~sessionware.tokens.transport`: the bearer gate the middlewares use.
- :mod:`~sessionware.tokens.endpoints`: ready-made refresh endpoints (ASGI, WSGI).

The service never imports its transport or endpoints; they import it.
"""

from __future__ import annotations

from .endpoints import refresh_endpoint, wsgi_refresh_endpoint
from .keys import generate_keypair
from .service import TokenService
from .transport import TokenSession
from .types import AccessClaims, TokenPair

__all__ = [
    "AccessClaims",
    "TokenPair",
    "TokenService",
    "TokenSession",
    "generate_keypair",
    "refresh_endpoint",
    "wsgi_refresh_endpoint",
]
