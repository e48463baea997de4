"""The package reads as its parts: one-way imports, named seams, modules of readable size.

These tests parse the source (``ast``) instead of importing it, so they see
every import, including the lazy ones inside functions, and they fail with
the offending module and line.  docs/architecture.md explains the rules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "sessionware"
MAX_LINES = 450
#: Wings: optional capabilities above the core, each a package.
WINGS = ("backends", "cli", "defences", "integrations", "tokens")
#: Top-level modules that sit above the engine: the protocol edges and what they
#: share, user-facing helpers and legacy migration.  Everything else at the top
#: is the core proper and imports no wing.
EDGES = {"adapters", "asgi", "wsgi", "manager", "testing", "migration", "__init__", "__main__"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(name: str, path: Path) -> list[tuple[str, int]]:
    """Modules of the package that ``name`` imports when it runs (TYPE_CHECKING excluded)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join([*base, *([child.module] if child.module else [])])
                else:
                    target = child.module or ""
                for alias in child.names:
                    sub = f"{target}.{alias.name}"
                    found.append((sub if sub in MODULES else target, child.lineno))
            visit(child)

    visit(tree)
    return [(target, line) for target, line in found if target in MODULES and target != name]


GRAPH = {name: _runtime_imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target, _ in GRAPH[node]:
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in GRAPH:
        if node not in index:
            connect(node)
    return out


def test_no_import_cycles() -> None:
    """No module of the package imports another that (transitively) imports it back."""
    assert _cycles() == []


def _wing(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in WINGS) else None


def _top(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) == 2 and parts[1] not in WINGS else None


def test_the_core_imports_no_wing_and_no_edge() -> None:
    """config, ids, cookies, records, session, core... import neither wings nor adapters."""
    bad = []
    for name, imports in GRAPH.items():
        top = _top(name)
        if top is None or top in EDGES:
            continue
        for target, line in imports:
            if _wing(target) is not None or _top(target) in EDGES:
                bad.append(f"{name}:{line} imports {target}")
    assert bad == []


def test_backends_import_only_records_and_errors() -> None:
    """A store knows records and errors, never the engine, the session or a framework layer."""
    allowed = {"sessionware.records", "sessionware.errors"}
    bad = [
        f"{name}:{line} imports {target}"
        for name, imports in GRAPH.items()
        if _wing(name) == "backends"
        for target, line in imports
        if _wing(target) != "backends" and target not in allowed
    ]
    assert bad == []


def test_lower_layers_never_import_integrations_or_cli() -> None:
    """Only the CLI may import integrations; nothing imports the CLI."""
    bad = []
    for name, imports in GRAPH.items():
        wing = _wing(name)
        for target, line in imports:
            target_wing = _wing(target)
            if target_wing == "cli" and wing != "cli" and name != "sessionware.__main__":
                bad.append(f"{name}:{line} imports {target}")
            if target_wing == "integrations" and wing not in ("integrations", "cli"):
                bad.append(f"{name}:{line} imports {target}")
    assert bad == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_length(name: str) -> None:
    """Each module stays readable in one sitting (split by concept past 450 lines)."""
    lines = MODULES[name].read_text().count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines"


def _defined_names(tree: ast.AST) -> set[str]:
    """Every name a module defines: functions, classes, assignments, attributes, slots."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # __slots__ entries and dataclass fields by name
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
    return names


#: Documented public API of other libraries that merely starts with an underscore:
#: namedtuple's methods and werkzeug ``LocalProxy._get_current_object``.
NAMEDTUPLE_API = frozenset({"_replace", "_asdict", "_fields", "_make", "_get_current_object"})


def _private(attr: str) -> bool:
    dunder = attr.startswith("__") and attr.endswith("__")
    return attr.startswith("_") and not dunder and attr not in NAMEDTUPLE_API


def _foreign_private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    own = _defined_names(tree)
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names if _private(a.name)]
            bad += [f"{path.name}:{node.lineno} imports {name}" for name in names]
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if node.attr in own:
                continue
            bad.append(f"{path.name}:{node.lineno} reads .{node.attr}")
    return bad


def test_no_module_reads_another_modules_private_names() -> None:
    """The seams are named: no ``obj._attr`` or ``from x import _name`` across modules."""
    bad = [use for path in MODULES.values() for use in _foreign_private_uses(path)]
    assert bad == []
