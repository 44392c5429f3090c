"""The layering of diffx, read from its source with ``ast``: no import cycle (counting imports
inside functions too: a lazy import hides a cycle, it does not remove it), no private name
imported from another module, and the dual engine short enough to read in one sitting.
"""

from __future__ import annotations

import ast
from pathlib import Path

import diffx

PACKAGE = Path(diffx.__file__).parent
DUAL_MAX_LINES = 600  # engines/dual.py is teaching material (notebook 03 points at it)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(module: str) -> list[tuple[str, list[str], int]]:
    """(imported diffx module, names taken from it, line) for every import in ``module``."""
    found = []
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names
                      if alias.name.startswith("diffx")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.startswith("diffx"):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if submodule in MODULES:  # from diffx.engines import dual: the submodule
                    found.append((submodule, [], node.lineno))
                else:
                    found.append((node.module, [alias.name], node.lineno))
    return found


def _graph() -> dict[str, set[str]]:
    graph = {module: set() for module in MODULES}
    for module in MODULES:
        for target, _, _ in _imports(module):
            if target in MODULES and target != module:
                graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected component that has one (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return components


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_diffx():
    """A package's __init__ importing its own submodules is not a cycle (Python runs it first
    anyway); any other loop, through module-level or lazy imports, is."""
    graph = _graph()
    for module in graph:
        if MODULES[module].name == "__init__.py":
            graph[module] = {t for t in graph[module] if not t.startswith(module + ".")}
    assert _cycles(graph) == []


def test_no_private_name_is_imported_from_another_module():
    crossings = [f"{module}:{line} imports {name} from {target}"
                 for module in MODULES for target, names, line in _imports(module)
                 for name in names if name.startswith("_") and not name.startswith("__")]
    assert crossings == []


def test_the_dual_engine_is_short_enough_to_read():
    lines = len((PACKAGE / "engines" / "dual.py").read_text().splitlines())
    assert lines <= DUAL_MAX_LINES
