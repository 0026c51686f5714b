"""Dependencies point one way — root → alignment → projects → strategies → goals → kernel — as
the import-linter contracts in pyproject.toml say; `make lint` runs them, and these tests show
that the contracts hold today and would catch an upward import."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [
    "core",
    "goals",
    "strategies",
    "projects",
    "alignment",
    "onboarding",
    "webhooks",
    "reports",
    "notifications",
    "crm_alignment",
]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), str(cwd / "pyproject.toml"), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


@pytest.fixture
def copy_of_the_code(tmp_path):
    """The packages' Python files and pyproject.toml, copied so a test can break them."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.html", "*.css", "*.js"),
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_import_contracts_hold():
    result = _lint_imports(ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward_import", "broken"),
    [
        (
            "goals/models.py",
            "import strategies.models",
            "goals is not allowed to import strategies",
        ),
        ("projects/selectors.py", "import alignment.rules", "projects is not allowed"),
        ("strategies/services.py", "import crm_alignment.demo", "strategies is not allowed"),
        ("core/permissions.py", "import projects.models", "core is not allowed to import projects"),
    ],
)
def test_an_upward_import_breaks_the_contracts(copy_of_the_code, module, upward_import, broken):
    path = copy_of_the_code / module
    path.write_text(path.read_text() + f"\n{upward_import}  # added by the test\n")

    result = _lint_imports(copy_of_the_code)

    assert result.returncode != 0
    assert broken in result.stdout


def test_a_chain_through_the_kernel_is_caught(copy_of_the_code):
    """goals → core → alignment: the goals step looks harmless on its own."""
    (copy_of_the_code / "core" / "bridge.py").write_text("import alignment.rules\n")
    path = copy_of_the_code / "goals" / "selectors.py"
    path.write_text(path.read_text() + "\nimport core.bridge\n")

    result = _lint_imports(copy_of_the_code)

    assert result.returncode != 0
    assert "core is not allowed to import alignment" in result.stdout
    assert "core.bridge -> alignment.rules" in result.stdout
