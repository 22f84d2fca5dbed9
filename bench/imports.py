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
import sys
from collections import defaultdict
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.test_architecture import circles, imported_modules  # noqa: E402 - the rule keeper's own reading

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


def measure(rev: str | None) -> None:
    code = sources(rev)
    known = set(code)
    graph = {
        name: {
            m
            for m in imported_modules(ast.parse(text), known)
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
