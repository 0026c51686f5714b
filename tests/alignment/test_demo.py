"""The demo data flags exactly its deliberate problems and nothing else."""

from io import StringIO

import pytest
from django.core.management import call_command

from alignment.models import Flag, FlagState
from crm_alignment.demo import EXPECTED_FLAGS

from .conftest import all_unresolved

pytestmark = pytest.mark.django_db


def test_scanning_the_demo_data_flags_exactly_the_deliberate_problems():
    call_command("load_demo", stdout=StringIO())
    call_command("scan_alignment", stdout=StringIO())
    assert all_unresolved() == EXPECTED_FLAGS
    assert set(Flag.objects.values_list("state", flat=True)) == {FlagState.OPEN}


def test_loading_the_demo_twice_and_scanning_again_changes_no_flag():
    call_command("load_demo", stdout=StringIO())
    call_command("scan_alignment", stdout=StringIO())
    before = set(Flag.objects.values_list("pk", "rule", "subject_label", "state"))
    call_command("load_demo", stdout=StringIO())
    call_command("scan_alignment", stdout=StringIO())
    assert set(Flag.objects.values_list("pk", "rule", "subject_label", "state")) == before
