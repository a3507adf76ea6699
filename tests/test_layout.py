"""The code's shape: the rules a newcomer can rely on when reading or adding a module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "adapters")
MAX_LINES = 350
FORBIDDEN_IN_CORE = {"discord", "slack_bolt", "slack_sdk", "adapters"}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_at_load(path: Path) -> set[str]:
    """Modules `path` imports at its top level (type-checking imports included, not those in functions)."""
    names: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If):
                # TYPE_CHECKING imports count too: a cycle there is a cycle for the reader.
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)

    visit(ast.parse(path.read_text()).body)
    return names


def graph() -> dict[str, set[str]]:
    known = modules()
    # A module's own package is loaded before it anyway: `from adapters.discord import commands`
    # leads to the sibling, not back to the package.
    return {name: {imp for imp in imports_at_load(path)
                   if imp in known and imp != name and not name.startswith(imp + ".")}
            for name, path in known.items()}


def test_the_core_imports_no_platform_library() -> None:
    for name, path in modules().items():
        if name.startswith("bot"):
            platform = {imp for imp in imports_at_load(path) if imp.split(".")[0] in FORBIDDEN_IN_CORE}
            assert not platform, f"{name} imports {platform}"


def test_no_two_modules_import_each_other_even_through_others() -> None:
    edges = graph()
    state: dict[str, int] = {}

    def walk(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join([*trail[trail.index(nxt):], nxt]))
            if nxt not in state:
                walk(nxt, [*trail, nxt])
        state[node] = 2

    for name in edges:
        if name not in state:
            walk(name, [name])


@pytest.mark.parametrize("name", sorted(modules()))
def test_every_module_reads_in_one_sitting(name: str) -> None:
    lines = len(modules()[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by concept"
