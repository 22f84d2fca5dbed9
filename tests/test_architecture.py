"""The shape of the house, read from the imports: no import circle, services that do not reach into job
modules, and a job runtime that knows no domain. Every import counts, those inside functions too (a lazy
import is still a dependency); only imports for type checking are left out."""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterable, Mapping
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The kit every domain may use: app/core, the tables, the job runtime. Everything else is a domain, the edge
# or a composition root.
KIT = ("app.core", "app.models", "app.jobs", "app.outbox")


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


@cache
def modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted((ROOT / "app").rglob("*.py"))}


def _for_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported_modules(node: ast.AST, known: Collection[str]) -> set[str]:
    """The app modules `node` imports (bench/imports.py measures with it too)."""
    found: set[str] = set()
    for child in ast.iter_child_nodes(node):
        if _for_type_checking(child):
            continue
        if isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
            for alias in child.names:
                submodule = f"{child.module}.{alias.name}"
                found.add(submodule if submodule in known else child.module)
        elif isinstance(child, ast.Import):
            found.update(alias.name for alias in child.names)
        found |= imported_modules(child, known)
    return found


@cache
def graph() -> dict[str, frozenset[str]]:
    known = modules()
    return {
        name: frozenset(
            m for m in imported_modules(ast.parse(path.read_text()), known) if m in known and m != name
        )
        for name, path in known.items()
    }


def circles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            step = next(successors, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(edges[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_circle_finder_finds_a_circle() -> None:
    edges = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}
    assert circles(edges) == [["a", "b", "c"]]


def test_no_module_of_the_app_imports_itself_back() -> None:
    assert circles(graph()) == []


def test_no_service_imports_a_job_module() -> None:
    offenders = {
        name: sorted(m for m in imported if m.endswith(".tasks"))
        for name, imported in graph().items()
        if name.endswith(".service")
    }
    assert {name: found for name, found in offenders.items() if found} == {}


@pytest.mark.parametrize(
    "name",
    sorted(
        m
        for m in modules()
        if m.startswith(("app.core", "app.jobs.runtime", "app.jobs.schedule", "app.outbox"))
    ),
)
def test_the_kit_the_job_runtime_and_the_outbox_import_no_domain(name: str) -> None:
    assert all(imported.startswith(KIT) for imported in graph()[name]), sorted(graph()[name])


EDGE_AND_ROOTS = ("app.http", "app.web", "app.main", "app.worker", "app.actors", "app.cli")


def test_no_service_or_job_module_reaches_up_to_the_edge() -> None:
    reaching_up = {
        name: sorted(
            m
            for m in imported
            if m == "app.web" or m.startswith(tuple(f"{r}." for r in EDGE_AND_ROOTS)) or m in EDGE_AND_ROOTS
        )
        for name, imported in graph().items()
        if name.endswith((".service", ".tasks"))
    }
    assert {name: found for name, found in reaching_up.items() if found} == {}


def _edge(name: str) -> bool:
    """Routers, pages and the request edge: they translate requests, the services act."""
    return name.startswith(("app.web.", "app.http.")) or name.endswith((".router", ".candidate_api"))


def test_the_edge_leaves_auditing_to_the_services() -> None:
    """A change is audited by the service that makes it, beside its event, whichever door it came through:
    no router or page writes the audit trail itself."""
    writers = {
        name
        for name, path in modules().items()
        if _edge(name)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom)
        and node.module == "app.audit.service"
        and any(alias.name in ("record", "_add") for alias in node.names)
    }
    assert writers == set()


def test_pages_declare_the_role_they_need() -> None:
    """Pages take `Editor`, `TeamManager` or `Owner` (app/http/deps.py) as the API takes scopes, instead of
    checking the role inside the handler, where one can be forgotten."""
    checking = {
        name
        for name, path in modules().items()
        if name.startswith("app.web.")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr.startswith("require_")
    }
    assert checking == set()


def test_queries_live_in_services() -> None:
    """Routers and pages ask services for rows (or for a statement to page through); they build none. (The
    request edge's own machinery, app/http, keeps its idempotency table itself.)"""
    querying = {
        name
        for name, path in modules().items()
        if _edge(name) and not name.startswith("app.http.")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom)
        and node.module == "sqlalchemy"
        and any(alias.name in ("select", "update", "delete", "insert") for alias in node.names)
    }
    assert querying == set()
