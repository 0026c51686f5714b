"""The commands: export_portfolio (portfolio, template, demo), import_portfolio (dry run and
for real, problems listed with their place), bench_import (a small run)."""

import pytest
from django.core.management import CommandError, call_command

from goals.models import BusinessGoal
from projects.models import CRMProject
from tests.factories import UserFactory

from .conftest import SMALL, build_workbook, data_sheets, table_counts

pytestmark = pytest.mark.django_db


def test_export_and_import_commands_round_trip(tmp_path, importer, capsys):
    UserFactory(username="pm", roles=["project_manager"])
    UserFactory(username="sponsor", roles=["sponsor"])
    source = tmp_path / "small.xlsx"
    source.write_bytes(build_workbook(SMALL))

    call_command("import_portfolio", str(source), "--as", "importer", "--dry-run")
    assert "Dry run" in capsys.readouterr().out
    assert not CRMProject.objects.exists()

    call_command("import_portfolio", str(source), "--as", "importer")
    assert "Imported" in capsys.readouterr().out
    assert CRMProject.objects.count() == 1

    exported = tmp_path / "out.xlsx"
    call_command("export_portfolio", str(exported), "--as", "importer")
    assert data_sheets(exported.read_bytes())["Goals"][1][0] == "Grow revenue"


def test_import_command_lists_each_problem_and_fails(tmp_path, importer, capsys):
    rows = {**SMALL, "Goals": [{"Title": "Grow revenue", "Status": "someday"}]}
    source = tmp_path / "bad.xlsx"
    source.write_bytes(build_workbook(rows))
    before = table_counts()
    with pytest.raises(CommandError, match="nothing written"):
        call_command("import_portfolio", str(source), "--as", "importer")
    assert "error: Goals row 2, Status:" in capsys.readouterr().err
    assert table_counts() == before


def test_import_command_refuses_someone_who_may_not_import(tmp_path, viewer):
    source = tmp_path / "small.xlsx"
    source.write_bytes(build_workbook(SMALL))
    with pytest.raises(CommandError, match="Only executives and admins"):
        call_command("import_portfolio", str(source), "--as", "viewer")


def test_export_command_writes_the_template_and_the_demo(tmp_path, settings):
    settings.DEBUG = True
    call_command("export_portfolio", str(tmp_path / "t.xlsx"), "--template")
    assert len(data_sheets((tmp_path / "t.xlsx").read_bytes())["Projects"]) == 2
    before = table_counts()
    call_command("export_portfolio", str(tmp_path / "d.xlsx"), "--demo")
    assert len(data_sheets((tmp_path / "d.xlsx").read_bytes())["Projects"]) == 14
    assert table_counts() == before


def test_bench_import_generates_and_imports_a_small_workbook(admin_user, settings, capsys):
    settings.DEBUG = True
    call_command("bench_import", "--rows", "200")
    out = capsys.readouterr().out
    assert "Imported" in out and "Phases: read" in out and "peak" in out
    assert CRMProject.objects.count() == 200 // 9
    assert BusinessGoal.objects.count() == 1
