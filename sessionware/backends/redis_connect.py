"""Connecting to Redis: URLs, client construction, retry policy and error mapping.

Kept apart from :mod:`.redis` so the backend class reads as the protocol and
nothing else.  Importing this module without redis-py installed raises
:class:`~sessionware.errors.MissingExtra`, which names the extra to install.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from ..errors import BackendError, BackendUnavailable, ConfigError, MissingExtra

try:
    import redis
    import redis.asyncio
    import redis.asyncio.cluster
    import redis.cluster
    from redis.asyncio.retry import Retry as AsyncRetry
    from redis.backoff import NoBackoff
    from redis.exceptions import (
        ClusterError,
        NoScriptError,
        ReadOnlyError,
        RedisClusterException,
        RedisError,
        TryAgainError,
    )
    from redis.retry import Retry
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtra("redis", "redis") from exc

__all__ = [
    "DOWN",
    "NoScriptError",
    "RedisClusterException",
    "RedisError",
    "Target",
    "check_client",
    "failed",
    "is_cluster",
    "parse_url",
    "release",
]

#: Errors that mean "Redis is not there right now" rather than "Redis said no".
DOWN: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ClusterError,
    RedisClusterException,
    TryAgainError,
    ReadOnlyError,
    OSError,
)

#: Only a dead connection is worth one immediate retry; a timeout is not.
RETRY_ON = (redis.exceptions.ConnectionError,)


def parse_url(url: str, cluster: bool) -> tuple[str, list[tuple[str, int]], dict[str, Any]]:
    """Split a Redis URL into (plain single-node URL, cluster nodes, auth options).

    ``redis+cluster://`` / ``rediss+cluster://`` or several comma-separated
    hosts (``redis://h1:7000,h2:7001``) select Redis Cluster; nodes are then
    returned with the credentials and TLS flag of the URL.
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme.endswith("+cluster"):
        scheme, cluster = scheme[: -len("+cluster")], True
    if not sep or scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"not a Redis URL (use redis://, rediss://, redis+cluster://): {url!r}")
    netloc = rest.split("/", 1)[0].split("?", 1)[0]
    creds, _, hosts = netloc.rpartition("@")
    cluster = cluster or "," in hosts
    plain = f"{scheme}://{rest}"
    if not cluster:
        return plain, [], {}
    if "?" in rest or scheme == "unix":
        raise ConfigError(
            "Redis Cluster URLs take no query options: pass them as keyword arguments"
        )
    nodes = []
    for host in hosts.split(","):
        name, port = host, "6379"
        if host.startswith("["):
            name, _, tail = host[1:].partition("]")
            port = tail.lstrip(":") or port
        elif ":" in host:
            name, port = host.rsplit(":", 1)
        if not name or not port.isdigit():
            raise ConfigError(f"bad Redis Cluster node {host!r} in URL")
        nodes.append((name, int(port)))
    options: dict[str, Any] = {"ssl": scheme == "rediss"}
    user, colon, password = creds.partition(":")
    if user:
        options["username"] = unquote(user)
    if colon and password:
        options["password"] = unquote(password)
    return plain, nodes, options


def is_cluster(client: Any) -> bool:
    return isinstance(client, redis.cluster.RedisCluster | redis.asyncio.cluster.RedisCluster)


def check_client(client: Any) -> Any:
    if not client.get_encoder().decode_responses:
        raise ConfigError("a Redis client given to RedisBackend needs decode_responses=True")
    return client


def failed(exc: BaseException) -> BackendError:
    if isinstance(exc, DOWN):
        return BackendUnavailable(f"Redis is unavailable: {exc}")
    return BackendError(f"Redis refused a session operation: {exc}")


@dataclass(frozen=True, slots=True)
class Target:
    """Where to connect and how; builds the sync and async clients."""

    url: str
    nodes: list[tuple[str, int]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)

    def sync_client(self) -> Any:
        """A ``redis.Redis`` or ``RedisCluster``; the latter connects here."""
        if not self.nodes:
            retry = Retry(NoBackoff(), 1, supported_errors=RETRY_ON)
            return redis.Redis.from_url(self.url, retry=retry, **self.options)
        node: Any = redis.cluster.ClusterNode  # untyped in redis-py
        nodes = [node(h, p) for h, p in self.nodes]
        try:
            return redis.cluster.RedisCluster(
                startup_nodes=nodes, retry=Retry(NoBackoff(), 1), **self.options
            )
        except (RedisError, RedisClusterException, OSError) as exc:
            raise failed(exc) from exc

    def tracking_connection(self) -> Any:
        """One plain RESP2 connection (not pooled), for the client cache's invalidations."""
        options = {**self.options, "protocol": 2, "socket_timeout": None}
        return redis.ConnectionPool.from_url(self.url, **options).make_connection()

    def async_client(self) -> Any:
        """A ``redis.asyncio`` client; it connects on first use."""
        if not self.nodes:
            retry = AsyncRetry(NoBackoff(), 1, supported_errors=RETRY_ON)
            return redis.asyncio.Redis.from_url(self.url, retry=retry, **self.options)
        nodes = [redis.asyncio.cluster.ClusterNode(h, p) for h, p in self.nodes]
        return redis.asyncio.cluster.RedisCluster(
            startup_nodes=nodes, retry=AsyncRetry(NoBackoff(), 1), **self.options
        )


def release(client: Any) -> None:
    """Close, without awaiting, the sockets of an async client whose event loop is closed.

    asyncio closes a transport's socket from a callback on its loop, and a
    closed loop runs no callbacks, so neither ``aclose`` nor any other public
    call can do it any more.  This reaches into redis-py's connection lists
    and asyncio's transport the one way left; every step is optional, so a
    change in either library costs at worst a ``ResourceWarning``, never an
    error.  Used only for loops closed without ``shutdown_asyncgens``.
    """
    pools = [getattr(client, "connection_pool", None)]
    if is_cluster(client):
        manager = client.nodes_manager  # the slot map's nodes and the startup ones
        pools = [*manager.nodes_cache.values(), *manager.startup_nodes.values()]
        setattr(client, "_initialize", True)  # noqa: B010 - what its aclose() marks
    for pool in pools:
        conns = [
            *getattr(pool, "_available_connections", ()),
            *getattr(pool, "_in_use_connections", ()),
            *getattr(pool, "_connections", ()),
        ]
        for conn in conns:
            writer = getattr(conn, "_writer", None)
            if writer is None:
                continue
            transport = writer.transport
            with contextlib.suppress(RuntimeError):
                transport.abort()  # marks it closing, then fails to schedule the close
            lost = getattr(transport, "_call_connection_lost", None)
            with contextlib.suppress(Exception):
                if lost is not None:
                    lost(None)  # closes the socket, as the loop would have
            setattr(conn, "_writer", None)  # noqa: B010
            setattr(conn, "_reader", None)  # noqa: B010
