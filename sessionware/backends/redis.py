"""RedisBackend: sessions shared by many app servers, on Redis or Redis Cluster.

One class, two native faces over one key layout: the sync face drives a
``redis.Redis`` / ``redis.cluster.RedisCluster`` client (WSGI), the async face
``redis.asyncio`` clients (ASGI), one per running event loop
(:mod:`.redis_loops`).  What each call sends is written once, as
a plan in :mod:`.redis_plans`; the key layout and its TTLs are drawn in
:mod:`.redis_scripts`.

Round trips (counted in ``tests/backends/test_redis*.py``):

* ``load``: 1 (``HGETALL``; expiry checked on the client to the microsecond;
  the ``LOAD_TOUCH`` script instead when a sliding touch may be due, see
  :mod:`.redis_touch`).
* ``apply``: 1 on a single node (one Lua script per commit, atomic: create,
  rotation, ``max_per_user`` eviction, patch with compare-and-set).  On a
  cluster, 1 pipelined batch for data patches, touches, new sessions and
  rotations; a delete (logout, login) or a user change adds one batch of
  index bookkeeping and ``max_per_user`` up to three (see :mod:`.redis_plans`).
* ``load_handle``: 2; ``by_user``: 1 on a single node, 2-3 on a cluster.

Faults: connection errors, timeouts and cluster-down errors become
:class:`~sessionware.errors.BackendUnavailable` (``raise ... from exc``);
any other Redis error becomes :class:`~sessionware.errors.BackendError`.
Timeouts are short by default (1 s per reply, 0.5 s per connect), so a hung
Redis costs a request about 1.5 s, not a stuck worker.  A command that fails
with a *connection* error is retried once, at once, on a fresh connection:
after Redis restarts, every pooled connection is dead, and without the retry
the first request on each of them would fail (the asyncio pool does not
notice a closed connection before using it).  Timeouts are never retried.
A retried write could in theory run twice if the server closed the
connection after running it; the scripts then report a conflict (a created
key is taken, a compare-and-set no longer matches) rather than corrupting
anything.  The cluster client retries once after refreshing its slot map,
so a failover costs one error at most.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import Any, TypeVar

from ..errors import ConfigError
from ..records import ApplyResult, Create, Op, Record, Tombstone, Touch
from . import redis_plans as plans
from .redis_cache import ClientCache, Tracker
from .redis_connect import (
    NoScriptError,
    RedisClusterException,
    RedisError,
    Target,
    check_client,
    failed,
    is_cluster,
    parse_url,
)
from .redis_layout import Layout
from .redis_loops import LoopClients
from .redis_touch import TouchMemo

__all__ = ["RedisBackend"]

T = TypeVar("T")


def _expand(cmd: plans.Command) -> tuple[Any, ...]:
    if isinstance(cmd, plans.Call):
        return ("EVALSHA", cmd.script.sha, len(cmd.keys), *cmd.keys, *cmd.args)
    return cmd


def _fallback(cmd: plans.Command) -> tuple[Any, ...]:
    """The ``EVAL`` form of a script call, which also caches the script on that node."""
    assert isinstance(cmd, plans.Call)
    return ("EVAL", cmd.script.source, len(cmd.keys), *cmd.keys, *cmd.args)


def touched_keys(ops: Sequence[Op]) -> list[str]:
    """Storage keys a commit writes (for the client cache to drop)."""
    keys: list[str] = []
    for op in ops:
        if isinstance(op, Create):
            keys.append(op.record.key)
            if op.replaces is not None:
                keys.append(op.replaces)
        else:
            keys.append(op.key)
    return keys


class RedisBackend:
    """Sessions in Redis (one server, a replicated primary, or Redis Cluster).

    :param url: ``redis://[user:pass@]host:port/db``, ``rediss://`` for TLS,
        ``unix:///path``; ``redis+cluster://h:p`` or ``redis://h1:p1,h2:p2``
        for Redis Cluster.  Query options in a single-node URL win over the
        keyword arguments.
    :param prefix: put in front of every key, so several apps or test runs
        can share one Redis.
    :param cluster: use the cluster clients even for a one-host URL.
    :param socket_timeout: seconds to wait for a reply before the call fails
        with :class:`~sessionware.errors.BackendUnavailable`.
    :param connect_timeout: seconds to wait for a new connection.
    :param client: a ready ``redis.Redis`` / ``RedisCluster`` for the sync
        face (created with ``decode_responses=True``); not closed by us.
    :param aclient: the same for the async face (``redis.asyncio``).
    :param client_cache: ``True`` or a
        :class:`~sessionware.backends.redis_cache.ClientCache`: keep sessions
        read before in this process until Redis reports they changed
        (server-assisted client-side caching; single node only).
    :param client_options: passed to the clients we create (e.g.
        ``max_connections``, ``ssl_ca_certs``).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        url: str | None = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "sw:",
        cluster: bool = False,
        socket_timeout: float = 1.0,
        connect_timeout: float = 0.5,
        client: Any = None,
        aclient: Any = None,
        client_cache: ClientCache | bool | None = None,
        **client_options: Any,
    ) -> None:
        if not prefix:
            raise ConfigError("prefix must not be empty")
        if not (0 < socket_timeout < float("inf") and 0 < connect_timeout < float("inf")):
            raise ConfigError("socket_timeout and connect_timeout must be positive seconds")
        if url is None and (client is None or aclient is None):
            raise ConfigError("RedisBackend needs a url, or both client and aclient")
        self.layout = Layout(prefix)
        self.prefix = prefix
        plain, nodes, auth = ("", [], {}) if url is None else parse_url(url, cluster)
        options: dict[str, Any] = {
            "decode_responses": True,
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": connect_timeout,
            **auth,
            **client_options,
        }
        self._target = Target(plain, nodes, options)
        self._client = None if client is None else check_client(client)
        self._aclient = None if aclient is None else check_client(aclient)
        self._own_client = client is None
        self._own_aclient = aclient is None
        # Our own async clients: one per running event loop (see .redis_loops).
        self._loops = LoopClients(self._target.async_client)
        # Async clients already made ready for concurrent use (see _aready).
        self._ready: weakref.WeakSet[Any] = weakref.WeakSet()
        self._warm: Any = None  # the last client found ready: one identity test per call
        # Reads whose touch cannot be due go out as a plain HGETALL (.redis_touch).
        self._memo = TouchMemo()
        self._cache = self._tracker(client_cache, cluster or bool(self._target.nodes))
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        """Where this store is (``redis://host:port/db`` or the cluster's nodes), no password."""
        nodes = self._target.nodes
        if nodes:
            return "redis+cluster://" + ",".join(f"{h}:{p}" for h, p in nodes)
        scheme, _, rest = (self._target.url or "a Redis client passed in").partition("://")
        # Drop the credentials and the query (which may carry password=...).
        rest = rest.split("?", 1)[0].rpartition("@")[2]
        return f"{scheme}://{rest}" if rest else scheme

    def _tracker(self, setting: ClientCache | bool | None, cluster: bool) -> Tracker | None:
        if setting is None or setting is False:
            return None
        if cluster:
            raise ConfigError(
                "client_cache is not supported on Redis Cluster: every master would need "
                "its own invalidation connection; use it with a single node or a primary"
            )
        if not self._target.url:
            raise ConfigError("client_cache needs a url: it opens its own tracking connection")
        settings = ClientCache() if setting is True else setting
        if settings.max_entries < 1 or settings.max_bytes < 1 or not settings.ping_every > 0:
            raise ConfigError("client_cache needs positive max_entries, max_bytes, ping_every")
        return Tracker(settings, self._target.tracking_connection, self.layout.session(""))

    @property
    def client_cache(self) -> Tracker | None:
        """The client-side cache (``client_cache=``), or None."""
        return self._cache

    def __repr__(self) -> str:
        nodes = self._target.nodes
        where = f"{len(nodes)}-node cluster" if nodes else "single node"
        return f"<RedisBackend {where} prefix={self.prefix!r}>"

    # -- clients, created on first use (a cluster client connects when built) --

    def _sync_client(self) -> Any:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._target.sync_client()
                client = self._client
        return client

    def _async_client(self) -> Any:
        # A client passed in is the caller's, on the caller's loop; ours
        # follow whichever loop is running, so any number of loops work.
        if self._aclient is not None:
            return self._aclient
        return self._loops.get()

    # -- sync face ----------------------------------------------------------------

    #: ``load`` accepts a :class:`~sessionware.records.Touch`: a read that
    #: slides the expiry stays one round trip (the ``LOAD_TOUCH`` script).
    touches_on_load = True

    def load(self, key: str, now: float, touch: Touch | None = None) -> Record | None:
        touch = self._memo.needed(key, now, touch)
        cache, ticket = self._cache, None
        if cache is not None:
            hit = None if touch is not None else cache.get(key, now)
            if hit is not None:
                return hit
            ticket = cache.ticket()
        record = self._drive(plans.load(self.layout, key, now, touch))
        self._memo.saw(key, record)
        if cache is not None:
            cache.put(key, record, ticket)
        return record

    def load_handle(self, handle: str, now: float) -> Record | None:
        return self._drive(plans.load_handle(self.layout, handle, now))

    def apply(self, ops: Sequence[Op], now: float) -> ApplyResult:
        if not ops:
            return ApplyResult()
        client = self._sync_client()
        if self._cache is None:
            return self._drive(plans.apply(self.layout, ops, now, is_cluster(client)))
        keys = touched_keys(ops)
        self._cache.forget(keys)
        try:
            return self._drive(plans.apply(self.layout, ops, now, is_cluster(client)))
        finally:
            self._cache.forget(keys)

    def by_user(self, user_id: str, now: float) -> list[Record]:
        client = self._sync_client()
        return self._drive(plans.by_user(self.layout, user_id, now, is_cluster(client)))

    #: Stores why sessions ended (``P t:<key>``; see :mod:`.redis_scripts`).
    keeps_tombstones = True

    def load_ending(self, key: str, now: float) -> Tombstone | None:
        return self._drive(plans.load_ending(self.layout, key, now))

    def erase_endings(self, user_id: str) -> int:
        return self._drive(plans.erase_endings(self.layout, user_id))

    def close(self) -> None:
        """Close the sync connections we opened (a client passed in is left open)
        and stop the client cache's tracking thread."""
        if self._cache is not None:
            self._cache.close()
        if self._own_client and self._client is not None:
            client, self._client = self._client, None
            client.close()

    def _drive(self, plan: plans.Plan[T]) -> T:
        try:
            batch = next(plan)
            while True:
                batch = plan.send(self._run(batch))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        except (RedisError, RedisClusterException, OSError) as exc:
            raise failed(exc) from exc

    def _run(self, batch: list[plans.Command]) -> list[Any]:
        client = self._sync_client()
        if len(batch) == 1:
            return [self._one(client, batch[0])]
        pipe = client.pipeline(transaction=False)
        cluster = is_cluster(client)
        for cmd in batch:
            if cluster and isinstance(cmd, plans.Call):
                # Name the node: otherwise the sync cluster pipeline asks the
                # server for the script's keys (COMMAND GETKEYS), a round trip.
                node = client.get_node_from_key(cmd.keys[0])
                pipe.execute_command(*_expand(cmd), target_nodes=node)
            else:
                pipe.execute_command(*_expand(cmd))
        replies: list[Any] = pipe.execute(raise_on_error=False)
        for i, reply in enumerate(replies):
            if isinstance(reply, NoScriptError):
                replies[i] = client.execute_command(*_fallback(batch[i]))
            elif isinstance(reply, Exception):
                raise reply
        return replies

    @staticmethod
    def _one(client: Any, cmd: plans.Command) -> Any:
        try:
            return client.execute_command(*_expand(cmd))
        except NoScriptError:
            return client.execute_command(*_fallback(cmd))

    # -- async face: the same plans, driven with await -------------------------------

    async def aload(self, key: str, now: float, touch: Touch | None = None) -> Record | None:
        touch = self._memo.needed(key, now, touch)
        cache, ticket = self._cache, None
        if cache is not None:
            hit = None if touch is not None else cache.get(key, now)
            if hit is not None:
                return hit
            ticket = cache.ticket()
        record = await self._adrive(plans.load(self.layout, key, now, touch))
        self._memo.saw(key, record)
        if cache is not None:
            cache.put(key, record, ticket)
        return record

    async def aload_handle(self, handle: str, now: float) -> Record | None:
        return await self._adrive(plans.load_handle(self.layout, handle, now))

    async def aapply(self, ops: Sequence[Op], now: float) -> ApplyResult:
        if not ops:
            return ApplyResult()
        cluster = is_cluster(self._async_client())
        if self._cache is None:
            return await self._adrive(plans.apply(self.layout, ops, now, cluster))
        keys = touched_keys(ops)
        self._cache.forget(keys)
        try:
            return await self._adrive(plans.apply(self.layout, ops, now, cluster))
        finally:
            self._cache.forget(keys)

    async def aby_user(self, user_id: str, now: float) -> list[Record]:
        cluster = is_cluster(self._async_client())
        return await self._adrive(plans.by_user(self.layout, user_id, now, cluster))

    async def aload_ending(self, key: str, now: float) -> Tombstone | None:
        return await self._adrive(plans.load_ending(self.layout, key, now))

    async def aerase_endings(self, user_id: str) -> int:
        return await self._adrive(plans.erase_endings(self.layout, user_id))

    async def aclose(self) -> None:
        """Close the running loop's async connections we opened; the next call opens new ones.

        Clients of other loops close with their loop (``asyncio.run`` and
        ``asyncio.Runner`` finalize them on shutdown; see :mod:`.redis_loops`).
        """
        if self._own_aclient:
            await self._loops.aclose()

    async def _aready(self, client: Any) -> None:
        """Initialise a cluster client once, before its first commands run.

        redis-py's async cluster client fetches its slot map lazily, inside
        each command.  When a new client's very first commands run
        concurrently (a burst of requests right after start, or the first
        requests on a new event loop), about half of such bursts of twelve
        lost some commands to "Connection closed by server".  Awaiting
        ``initialize()`` first (it takes the client's own lock, so concurrent
        callers wait for one another) starts every command on a client whose
        slot map is in place.  A single-node client needs nothing.
        """
        if client not in self._ready:
            if is_cluster(client):
                await client.initialize()
            self._ready.add(client)
        self._warm = client

    async def _adrive(self, plan: plans.Plan[T]) -> T:
        try:
            batch = next(plan)
            while True:
                batch = plan.send(await self._arun(batch))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        except (RedisError, RedisClusterException, OSError) as exc:
            raise failed(exc) from exc

    async def _arun(self, batch: list[plans.Command]) -> list[Any]:
        client = self._async_client()
        if client is not self._warm:
            await self._aready(client)
        if len(batch) == 1:
            cmd = batch[0]
            try:
                return [await client.execute_command(*_expand(cmd))]
            except NoScriptError:
                return [await client.execute_command(*_fallback(cmd))]
        pipe = client.pipeline(transaction=False)
        for cmd in batch:
            pipe.execute_command(*_expand(cmd))
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        for i, reply in enumerate(replies):
            if isinstance(reply, NoScriptError):
                replies[i] = await client.execute_command(*_fallback(batch[i]))
            elif isinstance(reply, Exception):
                raise reply
        return replies
