"""The layering rule (docs/architecture.md): `harness` is the bottom layer and imports neither `baselines` nor
`leaderboard`; those two import `harness` but not each other. Checked on every import statement of every
module, including imports inside functions, so a lazy import cannot hide a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("harness", "baselines", "leaderboard")
# package -> the packages of this project it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {"harness": ("baselines", "leaderboard"), "baselines": ("leaderboard",), "leaderboard": ("baselines",)}


def imported_packages(path: Path, root: Path) -> set[tuple[str, int]]:
    """(top-level package, line) of every import in a module, relative imports resolved to its own package."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {(alias.name.split(".")[0], node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add((path.relative_to(root).parts[0] if node.level else (node.module or "").split(".")[0], node.lineno))
    return found


def violations(package: str, root: Path = REPO) -> list[str]:
    return [
        f"{path.relative_to(root)}:{line} imports {target}"
        for path in sorted((root / package).rglob("*.py"))
        for target, line in sorted(imported_packages(path, root))
        if target in FORBIDDEN[package]
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_imports_a_layer_it_must_not(package):
    assert violations(package) == []


def test_the_check_sees_a_lazy_import(tmp_path):
    """The rule would fail on an import inside a function: the check is not vacuous."""
    fake = tmp_path / "harness"
    fake.mkdir()
    (fake / "mod.py").write_text("def f():\n    from leaderboard.db import make_engine\n    return make_engine\n")
    assert violations("harness", tmp_path) == ["harness/mod.py:2 imports leaderboard"]


def test_the_packages_commands_arrive_through_entry_points():
    """`harness` finds the leaderboard's and the baselines' commands without importing them itself."""
    from typer.main import get_command

    from harness.cli import app

    names = set(get_command(app).commands)
    assert {"evaluate", "validate", "template", "list", "compare", "demo"} <= names
    assert {"export", "leaderboard", "db", "baseline", "regress"} <= names
