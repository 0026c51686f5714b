"""Dependencies point one way: the engine reads the domain apps, never the reverse."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("app", ["goals", "strategies", "projects"])
def test_a_domain_app_never_imports_the_alignment_engine(app):
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in _imported_modules(path) if name.split(".")[0] == "alignment"
        )
        for path in (ROOT / app).rglob("*.py")
    }

    assert {path: names for path, names in offenders.items() if names} == {}
