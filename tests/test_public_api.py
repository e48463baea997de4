"""The public surface: ``__all__`` is exact, and the core imports no web framework or driver."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types

import sessionware
import sessionware.backends

#: The names DESIGN.md promises at the top level, plus the errors and helpers users catch or call.
DESIGN_NAMES = {
    "SessionConfig",
    "SessionMiddleware",
    "WSGISessionMiddleware",
    "SessionManager",
    "MemoryBackend",
    "ConfigError",
    "SessionDataTooLarge",
    "BackendUnavailable",
}


def public_members(module: types.ModuleType) -> set[str]:
    """Names a user could mean: not private, not a submodule, not a __future__ feature."""
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_") or isinstance(value, types.ModuleType):
            continue
        if name == "annotations" or name == "TYPE_CHECKING":
            continue
        names.add(name)
    return names


def test_all_lists_exactly_the_public_names() -> None:
    """Every public attribute is in __all__ and every name in __all__ exists (httpx-style check)."""
    exported = set(sessionware.__all__) - {"__version__"}
    assert exported == public_members(sessionware)
    assert len(sessionware.__all__) == len(set(sessionware.__all__))


def test_all_names_are_importable_and_not_private() -> None:
    """``from sessionware import X`` works for each exported name and none is private."""
    for name in sessionware.__all__:
        assert name == "__version__" or not name.startswith("_"), name
        assert getattr(sessionware, name) is not None
    assert set(sessionware.__all__) >= DESIGN_NAMES


def test_public_classes_come_from_the_package() -> None:
    """Exported classes are sessionware's own (no re-exported third-party names)."""
    for name in sessionware.__all__:
        value = getattr(sessionware, name)
        if isinstance(value, type):
            assert value.__module__.startswith("sessionware."), (name, value.__module__)


def test_backends_all_is_importable() -> None:
    """Every name in sessionware.backends.__all__ that needs no extra resolves."""
    for name in sessionware.backends.__all__:
        if name in ("RedisBackend", "SQLBackend"):
            continue  # optional extras, imported lazily by __getattr__
        assert hasattr(sessionware.backends, name), name


BLOCKER = textwrap.dedent(
    """
    import importlib.abc
    import sys

    BLOCKED = ("starlette", "flask", "redis", "sqlalchemy", "jwt", "uvicorn", "httpx")

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked for this test: {name}")
            return None

    sys.meta_path.insert(0, Block())
    """
)


#: Importing any of these runs sessionware/__init__.py too, so adapters are covered as well.
CORE_MODULES = (
    "sessionware.core",
    "sessionware.config",
    "sessionware.session",
    "sessionware.ids",
    "sessionware.records",
    "sessionware.events",
    "sessionware.backends.memory",
)


def test_core_imports_without_frameworks() -> None:
    """The sans-I/O core (and the package root) loads with starlette, flask and redis blocked."""
    code = BLOCKER + textwrap.dedent(
        f"""
        import {", ".join(CORE_MODULES)}
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        assert not leaked, leaked
        try:
            import starlette
        except ImportError:
            pass
        else:
            raise SystemExit("the blocker does not work")
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
