"""The demo data flags exactly its deliberate problems and nothing else."""

from io import StringIO

import pytest
from django.core.management import call_command

from alignment.models import Flag, FlagState
from alignment.readiness import project_readiness
from crm_alignment.demo import EXPECTED_FLAGS, P_MARKET_FUND, P_SOCIAL
from projects.models import CRMProject

from .conftest import all_unresolved

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug_on(settings):
    """load_demo is a development command (it refuses with debug off unless --force, tested
    in tests/foundation/test_demo.py); Django's test set-up turns DEBUG off."""
    settings.DEBUG = True


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


def test_the_demo_proposal_awaiting_the_sponsor_is_ready_and_the_unsponsored_pilot_is_not():
    """The sponsor's pending proposal is ready (they can approve it in the demo); the pilot
    with no sponsor, metric or roadmap would be refused for all three."""
    call_command("load_demo", stdout=StringIO())
    fund = CRMProject.objects.get(title=P_MARKET_FUND)
    social = CRMProject.objects.get(title=P_SOCIAL)

    assert fund.status == "proposed" and not project_readiness(fund.pk).blocking
    assert {item.code for item in project_readiness(social.pk).blocking} == {
        "project.no_sponsor",
        "project.no_success_metrics",
        "project.no_roadmap",
    }


def test_the_demo_change_collision_names_the_group_its_projects_and_dates():
    from crm_alignment.demo import P_CERTIFICATION, P_PARTNER_PORTAL, UG_PARTNER_MANAGERS

    call_command("load_demo", stdout=StringIO())
    call_command("scan_alignment", stdout=StringIO())
    flag = Flag.objects.get(rule="portfolio.change_collision")
    assert flag.subject_label == UG_PARTNER_MANAGERS
    for title in (P_PARTNER_PORTAL, P_CERTIFICATION, P_MARKET_FUND):
        assert title in flag.message
    assert "Pilot go/no-go" not in flag.message
