"""Check the layering the code relies on, from the source alone:

- no SQL outside cstui/store/ (no `sqlite3` import, no `.execute(` / `.executemany(` / `.executescript(`);
- no Textual outside screens/, cstui/widgets/ and cstui/app.py (the core and evaluators run headless);
- no import cycles, lazy imports (inside functions) included: a lazy import hides a cycle, it does not remove it
  (only `if TYPE_CHECKING:` imports, never executed, are left out);
- no database call on the UI thread: in screens and widgets, a store is read and written through
  `screens/data.py` workers (`data.load` / `data.save`, whose functions get a `store` of their own), never as
  `self.store.<method>(…)`.

    python -m cstui.tools.layers        # exit 1 with one line per violation
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Source directory → the package it installs as (see pyproject.toml).
PACKAGES = {"cstui": "cstui", "screens": "cstui.screens", "evaluators": "cstui.evaluators",
            "sample_data": "cstui.sample_data"}
SQL_HOME = "cstui.store"
TEXTUAL_HOMES = ("cstui.screens", "cstui.widgets", "cstui.app")
SQL_CALLS = ("execute", "executemany", "executescript")


def modules(root: Path = ROOT) -> Iterator[tuple[str, Path]]:
    for folder, package in PACKAGES.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join([package, *parts]), path


def _within(module: str, homes: tuple[str, ...] | str) -> bool:
    homes = (homes,) if isinstance(homes, str) else homes
    return any(module == h or module.startswith(h + ".") for h in homes)


def _all_imports(tree: ast.Module, module: str, is_package: bool) -> Iterator[str]:
    """Every import the module can execute, at module level or inside functions (not under TYPE_CHECKING)."""
    def resolve(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        return ".".join(base + ([node.module] if node.module else []))

    def visit(node: ast.AST) -> Iterator[str]:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.orelse:
                yield from visit(child)
            return
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = resolve(node)
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            yield from visit(child)

    yield from visit(tree)


# What screens may call on a store they hold: handing its path or a connection of their own to a worker.
UI_STORE_CALLS_ALLOWED = frozenset({"reopen", "close"})


def _ui_thread_store_calls(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """`<anything>.store.<method>(…)` calls: a screen or widget reading or writing on the UI thread."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "store"
                and node.func.attr not in UI_STORE_CALLS_ALLOWED):
            yield node.lineno, node.func.attr


def check(root: Path = ROOT) -> list[str]:
    problems: list[str] = []
    graph: dict[str, set[str]] = {}
    known = dict(modules(root))
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        rel = path.relative_to(root)
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if top in ("textual", "textual_plotext") and not _within(module, TEXTUAL_HOMES):
                    problems.append(f"{rel}:{node.lineno}: imports {name} outside screens/, widgets/ and app.py")
                if top == "sqlite3" and not _within(module, SQL_HOME):
                    problems.append(f"{rel}:{node.lineno}: imports sqlite3 outside cstui/store/")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS
                    and not _within(module, SQL_HOME)):
                problems.append(f"{rel}:{node.lineno}: runs SQL (.{node.func.attr}) outside cstui/store/")
        if _within(module, TEXTUAL_HOMES):
            problems += [f"{rel}:{line}: calls the database on the UI thread (.store.{name}); read and write "
                         "through screens/data.py" for line, name in _ui_thread_store_calls(tree)]
        is_package = path.name == "__init__.py"
        graph[module] = {m for m in _all_imports(tree, module, is_package) if m in known and m != module}
    problems += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(graph)]
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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
                found.append(sorted(component) + [sorted(component)[0]])

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main() -> int:
    problems = check()
    for line in problems:
        print(line)
    n = len(dict(modules()))
    print(f"layers: {n} modules checked, {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
