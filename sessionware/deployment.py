"""How this process is deployed, as far as it can tell: is it one of several workers?

The embedded :class:`~sessionware.backends.MemoryBackend` keeps sessions in
one process's memory, so under gunicorn ``-w 4`` or ``uvicorn --workers 4``
each worker has its own sessions and a user is signed out whenever a
request lands on another worker.  The adapters warn once per process when
they can tell (``sessionware audit`` says the same).  Detection reads only
the command line and the environment the servers document: gunicorn's
``-w``/``--workers`` and ``GUNICORN_CMD_ARGS``, uvicorn's ``--workers``
(its spawned workers inherit the parent's ``sys.argv``), and
``WEB_CONCURRENCY``, which both servers honour.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
from collections.abc import Mapping, Sequence

__all__ = ["warn_memory_backend", "worker_count"]

log = logging.getLogger("sessionware")
_warned = False


def worker_count(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> int | None:
    """The number of worker processes the server was asked for, or None if unknown."""
    argv = list(sys.argv if argv is None else argv)
    environ = os.environ if environ is None else environ
    server = os.path.basename(argv[0]) if argv else ""
    args = argv[1:]
    if "gunicorn" in server or any("gunicorn" in a for a in args[:1]):
        args = [*shlex.split(environ.get("GUNICORN_CMD_ARGS", "")), *args]
    count = _flag(args, ("-w", "--workers"))
    if count is None and environ.get("WEB_CONCURRENCY", "").isdigit():
        count = int(environ["WEB_CONCURRENCY"])
    return count


def _flag(args: Sequence[str], names: tuple[str, ...]) -> int | None:
    found = None
    for i, arg in enumerate(args):
        value = None
        if arg in names and i + 1 < len(args):
            value = args[i + 1]
        else:
            for name in names:
                if name.startswith("--") and arg.startswith(name + "="):
                    value = arg.partition("=")[2]
                elif (
                    not name.startswith("--")
                    and arg.startswith(name)
                    and arg[len(name) :].isdigit()
                ):
                    value = arg[len(name) :]
        if value is not None and value.isdigit():
            found = int(value)
    return found


def warn_memory_backend() -> bool:
    """Log once per process when a MemoryBackend serves one of several workers."""
    global _warned
    if _warned:
        return False
    count = worker_count()
    if count is None or count < 2:
        return False
    _warned = True
    log.warning(
        "sessionware: the default MemoryBackend keeps sessions in this process only, but "
        "the server runs %d workers: users are signed out whenever a request reaches "
        "another worker, and on every restart; pass backend=RedisBackend(...) or "
        "SQLBackend(...)",
        count,
    )
    return True
