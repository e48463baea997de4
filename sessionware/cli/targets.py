"""What the commands point at: importing ``module:attribute`` and opening a store.

Both fail with one line that says what to do.  An exception raised *while
importing* the user's module is reported as that (it is a bug or a missing
setting in their code, not a wrong target), and a store is checked when a
command starts, so ``sessionware demo --backend redis://...`` with Redis down
exits with the reason instead of serving 503s.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..backends import from_url
from ..backends.base import Backend
from ..errors import BackendError, MissingExtra

__all__ = ["Failure", "Usage", "check_store", "load_object", "open_backend", "reach", "redact"]


class Failure(Exception):
    """A clean, one-line failure (exit 1)."""


class Usage(Exception):
    """A bad argument (exit 2)."""


def redact(url: str) -> str:
    """``url`` without its password, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def load_object(spec: str) -> Any:
    """The object named by ``module:attribute`` (dotted attributes allowed)."""
    module_name, _, attr = spec.partition(":")
    sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise Failure(f"importing {module_name!r} raised {_one_line(exc)}") from exc
        raise Usage(f"cannot import {module_name!r}: {exc}") from exc
    except Exception as exc:
        # The module exists but its own code failed (a missing setting, a
        # bug): say so, rather than blaming the attribute or the target type.
        raise Failure(f"importing {module_name!r} raised {_one_line(exc)}") from exc
    finally:
        sys.path.pop(0)
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise Usage(f"{module_name!r} has no attribute {attr!r}") from exc
    return target


def _is_backend(obj: Any) -> bool:
    return all(callable(getattr(obj, name, None)) for name in ("load", "apply", "by_user"))


def open_backend(spec: str, *, shared: bool = True) -> Backend:
    """The backend for ``--backend``; ``shared`` refuses stores private to this process."""
    if "://" not in spec and ":" in spec and not spec.startswith("sqlite:"):
        obj = load_object(spec)
        if not _is_backend(obj) and callable(obj):
            obj = obj()
        if not _is_backend(obj):
            raise Usage(f"{spec} is not a session backend (it has no load/apply/by_user)")
        return obj  # type: ignore[no-any-return]
    if shared and spec in ("memory", "memory://"):
        raise Usage(
            "memory:// lives inside one process, so there is nothing here to list or clean; "
            "point --backend at your app's store (sqlite:///..., redis://..., postgresql://...) "
            "or at a backend object as module:attribute"
        )
    try:
        return from_url(spec)
    except MissingExtra as exc:
        raise Failure(str(exc)) from exc
    except ModuleNotFoundError as exc:
        if (exc.name or "").startswith("sessionware"):
            raise Failure(f"this sessionware build has no backend for {redact(spec)}") from exc
        raise Failure(f"{exc.name} is not installed (needed for {redact(spec)})") from exc
    except ValueError as exc:
        raise Usage(str(exc)) from exc


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def reach(spec: str, call: Any) -> Any:
    """``call()``, with a store failure turned into the CLI's one-line message."""
    try:
        return call()
    except BackendError as exc:
        raise Failure(f"cannot reach the session store at {redact(spec)}: {exc}") from exc


def check_store(backend: Backend, spec: str) -> None:
    """Read one (absent) record now, so a store that is down fails the command at start.

    A server that starts against an unreachable store would only answer 503
    later; failing here names the address and the cause while the person who
    typed the command is still looking.
    """
    reach(spec, lambda: backend.load("sessionware-startup-check", time.time()))
