"""The layering of DESIGN.md, checked by parsing every import of ``sciml/`` and ``problems/``.

* a module imports only from its own layer or lower ones (the table below);
* no cycle between packages and no cycle between files;
* no function-level import of sciml or problems (the usual way to dodge a cycle);
* no module imports a private (``_name``) module of another package.

Run alone with ``pytest tests/test_architecture.py -q``; the failure lists every offending line.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# DESIGN.md, "Layout": a package may import from its own layer and the layers below.
LAYERS = {
    "sciml": 0, "sciml.validation": 0, "sciml.solvers": 0,
    "sciml.pde": 1, "sciml.data": 1,
    "sciml.problems": 2, "sciml.nn": 2,
    "sciml.train": 3,
    "sciml.operators": 4, "sciml.pinn": 4, "sciml.conserve": 4, "sciml.nde": 4, "sciml.generative": 4,
    "sciml.sim": 5,
    "sciml.app": 6, "sciml.cli": 6,
}
# Concrete problems build on the layers up to training only: methods reach them through protocols.
PROBLEMS_MAY_IMPORT = 3


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    files = sorted((ROOT / "sciml").rglob("*.py")) + sorted((ROOT / "problems").rglob("*.py"))
    return {_module_name(f): f for f in files}


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom | ast.Import, modules: dict) -> list[str]:
    """The project modules an import statement loads (``from pkg import sub`` loads ``pkg.sub``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] in ("sciml", "problems")]
    if node.level:
        base = importer.split(".") if is_package else importer.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] not in ("sciml", "problems"):
        return []
    out = [target]
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        if sub in modules:
            out.append(sub)
    return out


def _imports():
    """``[(importer, imported, line, top_level)]`` for every project import."""
    modules = _sources()
    found = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _resolve(name, path.name == "__init__.py", node, modules):
                    found.append((name, target, node.lineno, id(node) in top))
    return modules, found


def _package(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "problems":
        return "problems"
    return ".".join(parts[:2])


def _layer(package: str) -> int:
    if package == "problems":
        return 4
    assert package in LAYERS, f"{package} has no layer in tests/test_architecture.py (and DESIGN.md): add it"
    return LAYERS[package]


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
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
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_imports_run_down_the_layers():
    _, found = _imports()
    bad = []
    for importer, target, line, _ in found:
        a, b = _package(importer), _package(target)
        if a == b:
            continue
        if a == "problems":
            ok = b != "problems" and _layer(b) <= PROBLEMS_MAY_IMPORT
        elif b == "problems":
            ok = _layer(a) > 4
        else:
            ok = _layer(b) <= _layer(a)
        if not ok:
            bad.append(f"{importer}:{line} imports {target}")
    assert not bad, "imports that run up the layers:\n" + "\n".join(bad)


def test_no_package_or_file_cycles():
    modules, found = _imports()
    packages, files = defaultdict(set), defaultdict(set)
    for importer, target, _, _ in found:
        if _package(importer) != _package(target):
            packages[_package(importer)].add(_package(target))
        if target in modules and target != importer:
            files[importer].add(target)
    assert not _cycles(packages), f"package cycles: {_cycles(packages)}"
    assert not _cycles(files), f"file cycles: {_cycles(files)}"


def test_no_function_level_project_imports():
    _, found = _imports()
    bad = [f"{importer}:{line} imports {target} inside a function or class"
           for importer, target, line, top in found if not top]
    assert not bad, "\n".join(bad)


def test_no_private_imports_across_packages():
    _, found = _imports()
    bad = []
    for importer, target, line, _ in found:
        private = any(part.startswith("_") for part in target.split(".")[1:])
        if private and _package(importer) != _package(target):
            bad.append(f"{importer}:{line} imports the private module {target}")
    assert not bad, "\n".join(bad)


def test_no_private_names_imported_from_other_files():
    """A helper two files share is named as shared (no leading underscore) in its private module."""
    bad = []
    for name, path in _sources().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] in
                                                     ("sciml", "problems")):
                hidden = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                if hidden:
                    bad.append(f"{name}:{node.lineno} imports {', '.join(hidden)} from {node.module or '.'}")
    assert not bad, "\n".join(bad)


def test_the_checker_sees_violations(tmp_path):
    """The cycle finder and the resolver work on a small made-up graph."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    node = ast.parse("from ..solvers import _sde").body[0]
    assert _resolve("sciml.pde._x", False, node, {"sciml.solvers._sde": None}) == ["sciml.solvers",
                                                                                   "sciml.solvers._sde"]
