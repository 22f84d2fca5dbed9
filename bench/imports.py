"""The shape of the house, measured from the imports (every import, those inside functions too; only
imports for type checking are left out), for a tree of this repository at any commit.

    python bench/imports.py            # the working tree
    python bench/imports.py --at REV   # another commit, read with git (nothing is checked out)

Units are app/'s packages and its top-level modules. Each module gets a layer: the kit (app/core, the tables,
the job runtime, the outbox; before they moved, the same modules at app/'s top level), the domains, the
edge (app/http, app/web, the API's shared deps and schemas, and every router: they translate requests) and
the composition roots
(app/main.py, app/cli.py, app/worker.py, app/actors.py). An arrow runs upward when a module imports one of a
higher layer. It prints the modules and units, the arrows between units, the import circles among modules
and among units, and the upward arrows.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
from collections import defaultdict
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]
ROOTS = {"app.main", "app.cli", "app.worker", "app.actors"}
KIT = ("app.core", "app.models", "app.jobs", "app.outbox")
# Where the kit and the edge lived before they had folders of their own.
OLD_KIT = {
    f"app.{m}"
    for m in [
        "config",
        "db",
        "errors",
        "security",
        "ids",
        "tenancy",
        "logs",
        "metrics",
        "rate_limits",
        "markdown",
        "migrate",
        "backup",
    ]
}
OLD_EDGE = {f"app.{m}" for m in ["deps", "idempotency", "body_limit", "security_headers", "slow_clients"]}
LAYERS = ("kit", "domain", "edge", "root")


def sources(rev: str | None) -> dict[str, str]:
    """Module name -> source, for app/ at `rev` (or the working tree)."""
    if rev is None:
        files = {str(p.relative_to(ROOT)): p.read_text() for p in (ROOT / "app").rglob("*.py")}
    else:
        listing = git("ls-tree", "-r", "--name-only", rev, "app").split()
        files = {path: git("show", f"{rev}:{path}") for path in listing if path.endswith(".py")}
    return {_dotted(path): text for path, text in files.items()}


def _dotted(path: str) -> str:
    return ".".join(PurePosixPath(path).with_suffix("").parts).removesuffix(".__init__")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def imports(tree: ast.AST, known: set[str]) -> set[str]:
    found: set[str] = set()
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            continue
        if isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
            for alias in child.names:
                sub = f"{child.module}.{alias.name}"
                found.add(sub if sub in known else child.module)
        elif isinstance(child, ast.Import):
            found.update(alias.name for alias in child.names)
        found |= imports(child, known)
    return found


def layer(module: str) -> str:
    if module in ROOTS:
        return "root"
    if module.startswith(KIT) or module in OLD_KIT:
        return "kit"
    if module.startswith(("app.http.", "app.web.")) or module in OLD_EDGE | {"app.http", "app.web"}:
        return "edge"
    if module in ("app.api.deps", "app.api.schemas") or module.endswith((".router", ".candidate_api")):
        return "edge"
    return "domain"


def unit(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def measure(rev: str | None) -> None:
    code = sources(rev)
    known = set(code)
    graph = {
        name: {
            m
            for m in imports(ast.parse(text), known)
            if m in known and m != name and not name.startswith(m + ".")
        }
        for name, text in code.items()
    }
    units: dict[str, set[str]] = defaultdict(set)
    for name, targets in graph.items():
        units[unit(name)] |= {unit(t) for t in targets if unit(t) != unit(name)}
    arrows = sum(len(t) for t in units.values())
    upward = sorted(
        (a, b)
        for a, targets in graph.items()
        for b in targets
        if LAYERS.index(layer(a)) < LAYERS.index(layer(b))
    )
    module_circles = circles(graph)
    unit_circles = circles(dict(units))
    print(f"at {rev or 'the working tree'}")
    print(f"  modules: {len(code)}   units: {len(units)}   arrows between units: {arrows}")
    print(f"  import circles among modules: {len(module_circles)} (sizes {[len(c) for c in module_circles]})")
    print(f"  import circles among units: {len(unit_circles)} (sizes {[len(c) for c in unit_circles]})")
    for circle in unit_circles:
        print(f"    {' <-> '.join(circle)}")
    print(f"  upward arrows (a module importing one of a higher layer): {len(upward)}")
    for a, b in upward:
        print(f"    {a} ({layer(a)}) -> {b} ({layer(b)})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--at", action="append", help="a commit to measure (repeatable); default: working tree"
    )
    args = parser.parse_args()
    for rev in args.at or [None]:
        measure(rev)


if __name__ == "__main__":
    main()
