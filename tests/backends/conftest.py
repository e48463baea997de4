"""Redis fixtures: the shared service, private servers we can stop, a real cluster.

The shared Redis comes from ``SESSIONWARE_REDIS_URL``; every test gets its
own key prefix and its keys are deleted afterwards.  Private servers and the
3-master cluster are ``redis-server`` processes started here on free loopback
ports and stopped by PID.  A missing service or binary skips loudly locally
and fails under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.ci import in_ci

REDIS_URL = os.environ.get("SESSIONWARE_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = in_ci()


def unavailable(reason: str) -> None:
    """Skip with a loud reason, or fail when running in CI."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(f"!!! {reason} (set CI=true to make this a failure)")


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(start: int, count: int, *, bus: bool = False) -> list[int]:
    """``count`` consecutive free ports from ``start`` (and their +10000 bus ports)."""
    for base in range(start, start + 500):
        ports = list(range(base, base + count))
        if all(port_free(p) and (not bus or port_free(p + 10000)) for p in ports):
            return ports
    raise RuntimeError(f"no {count} free ports near {start}")


def wait_for(check: object, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


class RedisProcess:
    """A ``redis-server`` we own: started on a fixed port, stopped by PID, restartable."""

    def __init__(self, port: int, workdir: Path, *extra: str) -> None:
        self.port = port
        self.workdir = workdir
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(self.workdir), *self.extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            wait_for(client.ping, f"redis-server on port {self.port}")
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _need_binary(name: str) -> None:
    if shutil.which(name) is None:
        unavailable(f"{name} is not installed")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The shared Redis service, checked once."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"no Redis at {REDIS_URL} ({exc})")
    finally:
        client.close()
    return REDIS_URL


def delete_prefix(client: object, prefix: str) -> None:
    keys = list(client.scan_iter(match=prefix + "*", count=500))  # type: ignore[attr-defined]
    for key in keys:
        client.delete(key)  # type: ignore[attr-defined]


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test alone; its keys are deleted at teardown."""
    prefix = f"swtest:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        delete_prefix(client, prefix)
    finally:
        client.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server of this test alone, on a free port in 27000-27499."""
    _need_binary("redis-server")
    server = RedisProcess(free_ports(27000, 1)[0], tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real 3-master Redis Cluster on loopback; yields a ``redis+cluster://`` URL."""
    _need_binary("redis-server")
    _need_binary("redis-cli")
    workdir = tmp_path_factory.mktemp("redis-cluster")
    ports = free_ports(30101, 3, bus=True)
    nodes = [
        RedisProcess(p, workdir, "--cluster-enabled", "yes",
                     "--cluster-config-file", str(workdir / f"nodes-{p}.conf"))
        for p in ports
    ]  # fmt: skip
    try:
        for node in nodes:
            node.start()
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
        )  # fmt: skip
        for port in ports:
            client = redis.Redis(port=port, decode_responses=True)
            try:
                wait_for(
                    lambda c=client: c.execute_command("CLUSTER INFO").get("cluster_state") == "ok",
                    f"cluster_state:ok on {port}",
                    timeout=30,
                )
            finally:
                client.close()
        yield "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)
    finally:
        for node in nodes:
            node.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each conformance test once per face its class lists (``FACES``)."""
    faces = getattr(metafunc.cls, "FACES", None)
    if faces and "face" in metafunc.fixturenames:
        metafunc.parametrize("face", faces, indirect=True)
