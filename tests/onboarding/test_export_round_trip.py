"""The demo as a workbook, imported into an empty database, is the demo again: the same cells
when exported, and the same flags after the import's scan."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from alignment import engine
from alignment.models import Flag, FlagState
from crm_alignment.demo import load_demo
from onboarding.export import XLSX_CONTENT_TYPE, write_demo_workbook, write_workbook
from onboarding.importer import import_workbook

from .conftest import data_sheets, table_counts

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug_on(settings):
    settings.DEBUG = True  # load_demo is a development command


def open_flags() -> set[tuple[str, str, str]]:
    return set(
        Flag.objects.exclude(state=FlagState.RESOLVED).values_list(
            "rule", "subject_type", "subject_label"
        )
    )


class _Undo(Exception):
    pass


def demo_export_and_flags() -> tuple[bytes, set[tuple[str, str, str]]]:
    """The demo's workbook and flags, from a transaction rolled back afterwards."""
    out = io.BytesIO()
    flags: set[tuple[str, str, str]] = set()
    try:
        with transaction.atomic():
            load_demo()
            engine.scan_full()
            flags = open_flags()
            admin = get_user_model().objects.get(username="admin")
            write_workbook(out, actor=admin)
            raise _Undo
    except _Undo:
        pass
    return out.getvalue(), flags


def test_the_demo_workbook_imported_into_an_empty_database_exports_the_same_and_flags_the_same():
    before = table_counts()
    demo, demo_flags = demo_export_and_flags()
    assert table_counts() == before  # the demo was rolled back
    assert demo_flags, "the demo is meant to raise flags"

    root = get_user_model().objects.create_superuser("root", "root@example.com", "pass-12345678")
    report = import_workbook(io.BytesIO(demo), filename="demo.xlsx", actor=root, dry_run=False)
    assert report.errors == []
    assert report.applied and report.scan_id is not None
    assert report.created["Projects"] == 13
    assert open_flags() == demo_flags

    again = io.BytesIO()
    write_workbook(again, actor=root)
    first, second = data_sheets(demo), data_sheets(again.getvalue())
    assert list(first) == list(second)
    for name in first:
        assert second[name] == first[name], f"sheet {name} differs"


def test_the_demo_workbook_is_written_the_same_each_time_and_changes_nothing():
    before = table_counts()
    one, two = io.BytesIO(), io.BytesIO()
    write_demo_workbook(one)
    write_demo_workbook(two)
    assert table_counts() == before
    assert data_sheets(one.getvalue()) == data_sheets(two.getvalue())
    demo, _ = demo_export_and_flags()
    assert data_sheets(one.getvalue()) == data_sheets(demo)
    assert len(data_sheets(demo)["Projects"]) == 14  # the header and the demo's 13 projects


def test_the_content_type_is_the_xlsx_one():
    assert XLSX_CONTENT_TYPE.endswith("spreadsheetml.sheet")
