"""Session stores behind one small protocol (see :mod:`sessionware.backends.base`).

``MemoryBackend`` needs nothing extra.  ``SQLBackend`` (extra ``sql``) and
``RedisBackend`` (extra ``redis``) import their drivers only when used, so a
missing extra fails with a message naming it, at use and not at import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import AsyncBackend, Backend, SyncBackend
from .memory import MemoryBackend

if TYPE_CHECKING:
    from .redis import RedisBackend
    from .sql import SQLBackend

__all__ = [
    "AsyncBackend",
    "Backend",
    "MemoryBackend",
    "RedisBackend",
    "SQLBackend",
    "SyncBackend",
    "from_url",
]


def __getattr__(name: str) -> Any:
    if name == "RedisBackend":
        from .redis import RedisBackend

        return RedisBackend
    if name == "SQLBackend":
        from .sql import SQLBackend

        return SQLBackend
    raise AttributeError(name)


def from_url(url: str | None) -> Backend:
    """A backend for ``url``: ``memory://`` (or None), ``redis://``/``rediss://``,
    or any SQLAlchemy URL (``sqlite:///file.db``, ``postgresql://...``)."""
    if url is None or url in ("memory", "memory://"):
        return MemoryBackend()
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("redis", "rediss", "redis+cluster", "unix"):
        return __getattr__("RedisBackend")(url)  # type: ignore[no-any-return]
    if scheme.split("+", 1)[0] in ("sqlite", "postgresql", "postgres", "mysql", "mariadb"):
        return __getattr__("SQLBackend")(url)  # type: ignore[no-any-return]
    raise ValueError(f"no backend for URL scheme {scheme!r}: use memory://, redis:// or a SQL URL")
