"""No import cycle among the project's own modules (models/, explorer/).

Read from the source with ``ast``: imports inside functions count too (a lazy import still ties two
rooms together), ``importlib.import_module("pkg.mod")`` counts, and only imports under
``if TYPE_CHECKING:`` are ignored.  A package's ``__init__`` importing its children, or a module
naming its own ancestor package, is not a tie between rooms.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "explorer")


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for p in (ROOT / pkg).rglob("*.py"):
            name = ".".join(p.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = p
    return mods


def _owner(name: str, mods: dict[str, Path]) -> str | None:
    """The longest prefix of a dotted name that is one of our modules."""
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


class _Imports(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, mods: dict[str, Path]) -> None:
        self.module, self.is_package, self.mods = module, is_package, mods
        self.deps: set[str] = set()

    def _add(self, name: str) -> None:
        owner = _owner(name, self.mods)
        if owner:
            self.deps.add(owner)

    def visit_If(self, node: ast.If) -> None:
        t = node.test
        if (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
                isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"):
            for stmt in node.orelse:
                self.visit(stmt)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.module.split(".") if self.is_package else self.module.split(".")[:-1]
            base = base[:len(base) - (node.level - 1)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        self._add(prefix)
        for alias in node.names:
            self._add(f"{prefix}.{alias.name}")

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        if (getattr(f, "attr", None) or getattr(f, "id", None)) in ("import_module", "__import__") and node.args:
            a = node.args[0]
            text = a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else (
                a.values[0].value if isinstance(a, ast.JoinedStr) and a.values
                and isinstance(a.values[0], ast.Constant) else None)
            if text:
                self._add(text.rstrip("."))
        self.generic_visit(node)


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        v = _Imports(name, path.name == "__init__.py", mods)
        v.visit(ast.parse(path.read_text(encoding="utf-8", errors="replace")))
        graph[name] = {d for d in v.deps if d != name and not name.startswith(d + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in graph:
                    continue
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_the_cycle_finder_sees_a_cycle_through_a_function_level_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_models_and_explorer_have_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "import cycles (each line one circle of modules):\n" + "\n".join(
        " -> ".join(c) for c in found)
