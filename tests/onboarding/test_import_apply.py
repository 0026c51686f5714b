"""Applying an import: all of it or nothing, idempotent, an edited cell updates its object,
through the services' permissions, with new people invited and one full scan at the end."""

import copy
import io
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError

from alignment.models import Flag, Scan, ScanKind
from core.permissions import user_roles
from goals.models import KPI, BusinessGoal
from onboarding.importer import import_workbook
from projects import services as project_services
from projects.models import CRMProject, Feature, FeatureLink, ProjectLink
from strategies.models import CRMStrategy
from tests.factories import UserFactory

from .conftest import SMALL, build_workbook, table_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    UserFactory(username="pm", roles=["project_manager"])
    UserFactory(username="sponsor", roles=["sponsor"])


def run(rows, actor, *, dry_run=False, **kw):
    return import_workbook(
        io.BytesIO(build_workbook(rows)), filename="p.xlsx", actor=actor, dry_run=dry_run, **kw
    )


def test_an_import_writes_the_portfolio_and_runs_one_full_scan(importer, people):
    report = run(SMALL, importer)
    assert report.errors == [] and report.applied
    assert report.created == {
        "Departments": 2,
        "Goals": 1,
        "KPIs": 1,
        "Business strategies": 1,
        "CRM strategies": 1,
        "Projects": 1,
        "Project links": 1,
        "Features": 1,
        "Feature links": 1,
        "Success metrics": 1,
        "Roadmap": 1,
        "Check-ins": 1,
    }
    project = CRMProject.objects.get(title="Partner portal")
    assert project.manager.username == "pm" and project.department.name == "Sales"
    assert project.budget_technology == Decimal("100.00")
    assert project.updated_by == importer and project.version >= 1
    crm = CRMStrategy.objects.get(title="Enable local partners")
    assert list(crm.business_strategies.values_list("title", flat=True)) == ["Win emerging markets"]
    assert FeatureLink.objects.get().rationale.startswith("Registered deals")
    scan = Scan.objects.get(pk=report.scan_id)
    assert scan.kind == ScanKind.FULL and scan.state == "done"
    # The flags exist when the import returns: no active project executes the strategy yet.
    assert Flag.objects.filter(rule="business_strategy.unserved").count() == 1


def test_a_dry_run_counts_what_it_would_do_and_writes_nothing(importer, people):
    before = table_counts()
    report = run(SMALL, importer, dry_run=True)
    assert report.errors == [] and not report.applied and report.scan_id is None
    assert report.created["Projects"] == 1
    assert table_counts() == before


def test_importing_the_same_workbook_twice_changes_nothing(importer, people):
    run(SMALL, importer)
    versions = dict(CRMProject.objects.values_list("title", "version"))
    before = table_counts()
    again = run(SMALL, importer)
    assert again.errors == [] and again.applied
    assert again.created == {} and again.updated == {}
    counts = table_counts()
    # Only the second scan's own records are new.
    assert {k: v for k, v in counts.items() if not k.startswith("alignment.")} == {
        k: v for k, v in before.items() if not k.startswith("alignment.")
    }
    assert dict(CRMProject.objects.values_list("title", "version")) == versions


def test_editing_a_cell_and_importing_again_updates_that_object_only(importer, people):
    run(SMALL, importer)
    goal_version = BusinessGoal.objects.get().version
    rows = copy.deepcopy(SMALL)
    rows["Projects"][0]["Budget technology"] = 250
    rows["Projects"][0]["Title"] = "PARTNER PORTAL"  # the key ignores case
    rows["KPIs"][0]["Target"] = 8
    rows["Project links"][0]["Rationale"] = "Partners register every deal through the portal"
    report = run(rows, importer)
    assert report.errors == []
    assert report.created == {}
    assert report.updated == {"KPIs": 1, "Projects": 1, "Project links": 1}
    project = CRMProject.objects.get()
    assert project.title == "PARTNER PORTAL" and project.budget_technology == 250
    assert KPI.objects.get().target == 8
    assert ProjectLink.objects.get().rationale == "Partners register every deal through the portal"
    assert BusinessGoal.objects.get().version == goal_version


def test_a_fault_in_the_middle_of_writing_leaves_nothing_written(importer, people, monkeypatch):
    def broken(**kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(project_services, "features_import", broken)
    before = table_counts()
    report = run(SMALL, importer)
    assert not report.applied
    assert "Nothing was written" in report.errors[0].message
    assert report.created == {}
    assert table_counts() == before
    assert not CRMProject.objects.exists()


@pytest.mark.parametrize("role", ["project_manager", "sponsor", "viewer"])
def test_only_executives_and_admins_may_import(role, people):
    actor = UserFactory(username=f"a-{role}", roles=[role])
    before = table_counts()
    with pytest.raises(PermissionDenied):
        run(SMALL, actor, dry_run=True)
    assert table_counts() == before


def test_an_admin_may_import(admin_user, people):
    report = run(SMALL, admin_user)
    assert report.applied and CRMProject.objects.count() == 1


def test_people_named_who_are_not_here_are_created_inactive_with_their_role_and_invited(
    importer, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    rows = copy.deepcopy(SMALL)
    rows["Projects"][0].update(
        {"Manager": "Nora.PM@example.com", "Sponsor": "sam", "Business owner": "bo@example.com"}
    )
    rows["Goals"][0]["Owner"] = "eve@example.com"
    report = run(rows, importer, site_url="https://crm.example.com")
    assert report.errors == [] and report.applied
    assert report.people_invited == [
        "bo@example.com",
        "eve@example.com",
        "nora.pm@example.com",
        "sam",
    ]
    users = get_user_model().objects.in_bulk(report.people_invited, field_name="username")
    assert all(not u.is_active and not u.has_usable_password() for u in users.values())

    def roles(username):
        return set(users[username].groups.values_list("name", flat=True))

    assert roles("nora.pm@example.com") == {"project_manager"}
    assert roles("sam") == {"sponsor"}
    assert roles("bo@example.com") == {"viewer"}
    assert roles("eve@example.com") == {"executive"}
    assert user_roles(users["sam"]) == frozenset()  # inactive: no way in yet
    # Those with an e-mail get a link to set their password; "sam" has none to write to.
    assert sorted(m.to[0] for m in mail.outbox) == [
        "bo@example.com",
        "eve@example.com",
        "nora.pm@example.com",
    ]
    assert "https://crm.example.com/accounts/invitation/" in mail.outbox[0].body
    # Importing again keeps them: invited people still hold the roles their columns need.
    again = run(rows, importer)
    assert again.errors == [] and again.people_invited == []


def _invitation_path(message):
    path = re.search(r"https://crm\.example\.com(/accounts/invitation/\S+)", message.body)
    assert path, message.body
    return path.group(1)


def test_setting_a_password_from_the_invitation_opens_the_account_once(importer, settings, client):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    rows = copy.deepcopy(SMALL)
    rows["Projects"][0].update({"Manager": "nora@example.com", "Sponsor": None})
    run(rows, importer, site_url="https://crm.example.com")
    (message,) = mail.outbox
    link = _invitation_path(message)
    password = {"new_password1": "a-long-new-pass-2026", "new_password2": "a-long-new-pass-2026"}

    form = client.get(link, follow=True)  # Django moves the token into the session
    assert form.status_code == 200 and b"Choose your password" in form.content
    done = client.post(form.redirect_chain[-1][0], password, follow=True)

    assert b"Your account is ready" in done.content
    nora = get_user_model().objects.get(username="nora@example.com")
    assert nora.is_active and nora.check_password("a-long-new-pass-2026")
    assert user_roles(nora) == frozenset({"project_manager"})
    client.logout()
    signed_in = client.post(
        "/accounts/login/",
        {"username": "nora@example.com", "password": "a-long-new-pass-2026"},
        follow=True,
    )
    assert signed_in.context["user"] == nora
    # The link worked once: followed again it is refused, and sets nothing.
    client.logout()
    again = client.get(link, follow=True)
    assert b"Set password and start" not in again.content


def test_an_invitation_never_reopens_an_account_that_was_used_and_then_closed(
    importer, settings, client
):
    """The invitation view activates only an account still waiting for its first password."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    rows = copy.deepcopy(SMALL)
    rows["Projects"][0].update({"Manager": "nora@example.com", "Sponsor": None})
    run(rows, importer, site_url="https://crm.example.com")
    link = _invitation_path(mail.outbox[0])
    nora = get_user_model().objects.get(username="nora@example.com")
    nora.set_password("chosen-by-an-admin-2026")  # an admin gave her one and then closed it
    nora.save()

    form = client.get(link, follow=True)

    assert b"Set password and start" not in form.content  # the token died with the old password
    nora.refresh_from_db()
    assert not nora.is_active


def test_no_invitation_is_mailed_when_mail_is_not_configured(importer, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
    rows = copy.deepcopy(SMALL)
    rows["Projects"][0].update({"Manager": "new.pm@example.com", "Sponsor": None})
    report = run(rows, importer)
    assert report.people_invited == ["new.pm@example.com"]
    assert mail.outbox == []


def test_a_person_found_by_e_mail_is_the_same_person(importer, people):
    rows = copy.deepcopy(SMALL)
    rows["Projects"][0]["Manager"] = "PM@example.com"
    report = run(rows, importer)
    assert report.errors == [] and report.people_invited == []
    assert CRMProject.objects.get().manager.username == "pm"


def test_a_workbook_retiring_a_strategy_with_links_imports_links_first_then_retires(
    importer, people
):
    rows = copy.deepcopy(SMALL)
    rows["CRM strategies"][0]["Status"] = "retired"
    report = run(rows, importer)
    assert report.errors == [] and report.applied
    assert CRMStrategy.objects.get().status == "retired"
    assert ProjectLink.objects.count() == 1 and Feature.objects.count() == 1
    assert Flag.objects.filter(rule="project.broken_chain").exists()


def test_retiring_a_strategy_by_import_tells_the_projects_below_once(importer, people):
    from core import events
    from notifications.models import EventRecord, Notification

    run(SMALL, importer)
    project = CRMProject.objects.get()
    rows = copy.deepcopy(SMALL)
    rows["CRM strategies"][0]["Status"] = "retired"
    assert run(rows, importer, dry_run=True).errors == []
    assert not EventRecord.objects.filter(type=events.PARENT_RETIRED).exists()

    report = run(rows, importer)
    again = run(rows, importer)

    assert report.applied and again.applied
    (event,) = EventRecord.objects.filter(type=events.PARENT_RETIRED)
    assert (event.subject_id, event.data["parent_title"]) == (project.pk, "Enable local partners")
    assert set(Notification.objects.filter(event=event).values_list("user_id", flat=True)) == {
        project.manager_id,
        project.sponsor_id,
    }


def test_a_manager_who_lost_the_role_since_does_not_block_other_edits_of_the_project(
    importer, people
):
    run(SMALL, importer)
    get_user_model().objects.get(username="pm").groups.clear()
    rows = copy.deepcopy(SMALL)
    rows["Projects"][0]["Budget people"] = 75
    report = run(rows, importer)
    assert report.errors == [] and report.updated == {"Projects": 1}
    assert CRMProject.objects.get().budget_people == 75
    # Naming them anew is refused, as on the project's page.
    rows["Projects"].append({"Title": "Second", "Manager": "pm"})
    report = run(rows, importer, dry_run=True)
    assert [(p.sheet, p.row, p.column) for p in report.errors] == [("Projects", 3, "Manager")]
