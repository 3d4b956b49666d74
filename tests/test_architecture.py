"""The import directions of the layout (README, "Architecture"), checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from geo.core.settings import PROJECT_ROOT

GEO = PROJECT_ROOT / "geo"
# What each package of geo may import from geo besides itself; nothing in geo imports api or cli.
# The feature engine (features) imports only core: it knows no mining terms.
MAY_IMPORT = {
    "core": set(),
    "store": {"core"},
    "access": {"core", "store"},
    "rules": {"core"},
    "features": {"core"},
    "catalog": {"core", "rules", "features"},
    "queries": {"core", "store", "rules", "features", "catalog"},
    "io": {"core", "store", "rules", "features", "catalog", "queries"},
    "rasters": {"core", "store", "rules", "features", "catalog", "queries"},
    "planning": {"core", "store", "rules", "features", "catalog", "queries"},
    "editing": {"core", "store", "rules", "features", "catalog", "queries", "io"},
}


def _imports(path: Path) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.append(node.module)
        elif isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
    return modules


def _modules():
    for path in sorted(GEO.rglob("*.py")):
        parts = path.relative_to(GEO).parts
        if len(parts) > 1:
            yield parts[0], path


def test_every_package_of_geo_is_placed():
    packages = {p.name for p in GEO.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(MAY_IMPORT)
    loose = [p.name for p in GEO.glob("*.py") if p.name != "__init__.py"]
    assert loose == [], "every module of geo belongs to a package"


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_imports_follow_the_directions(package):
    wrong = []
    for owner, path in _modules():
        if owner != package:
            continue
        for module in _imports(path):
            top = module.split(".")[0]
            if top in ("api", "cli"):
                wrong.append(f"{path.relative_to(PROJECT_ROOT)} imports {module}")
            elif top == "geo" and module != "geo":
                target = module.split(".")[1]
                if target != package and target not in MAY_IMPORT[package]:
                    wrong.append(f"{path.relative_to(PROJECT_ROOT)} imports {module}")
    assert wrong == []


def test_nothing_registers_collections_when_imported():
    """Collections are registered by the app and the command line, never as an import's side effect."""
    for _, path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            call = node.value if isinstance(node, ast.Expr) else None
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "register":
                pytest.fail(f"{path} calls register() at import")
