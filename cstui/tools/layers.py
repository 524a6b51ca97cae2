"""Check the layering the code relies on, from the source alone:

- no SQL outside cstui/store/ (no `sqlite3` import, no `.execute(` / `.executemany(` / `.executescript(`);
- no Textual outside screens/, cstui/widgets/ and cstui/app.py (the core and evaluators run headless);
- no import cycles among module-level imports (an import inside a function is a deliberate lazy import).

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


def _module_level_imports(tree: ast.Module, module: str, is_package: bool) -> Iterator[str]:
    """Imports executed when the module is imported (not inside functions or `if TYPE_CHECKING:`)."""
    def walk(body: list[ast.stmt]) -> Iterator[str]:
        for node in body:
            if isinstance(node, ast.Import):
                yield from (alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module.split(".") if is_package else module.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                yield target
                yield from (f"{target}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If) and not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                yield from walk(node.body)
                yield from walk(node.orelse)
            elif isinstance(node, ast.Try):
                yield from walk(node.body)
    yield from walk(tree.body)


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
        is_package = path.name == "__init__.py"
        graph[module] = {m for m in _module_level_imports(tree, module, is_package) if m in known and m != module}
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
