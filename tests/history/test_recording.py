"""What the change history records: who, when, through which channel, which fields old → new,
for writes through the pages, the API, the admin, an import and the scan, bulk paths included."""

import datetime

import pytest
from auditlog import get_logentry_model
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from alignment.engine import scan_full
from alignment.models import Flag, FlagState
from alignment.services import flag_acknowledge, flag_waive
from core import audit
from goals import services as goal_services
from goals.models import BusinessGoal
from projects import services as project_services
from projects.models import CRMProject, Feature, ProjectLink
from projects.services import LinkSpec
from strategies import services as strategy_services
from strategies.models import CRMStrategyServes
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    FeatureFactory,
    GoalFactory,
    ProjectFactory,
    ProjectLinkFactory,
)

Entry = get_logentry_model()
RATIONALE = "It gives partners the self-service the strategy relies on."


def entries_of(model, pk=None, **filters):
    rows = Entry.objects.filter(content_type=ContentType.objects.get_for_model(model), **filters)
    if pk is not None:
        rows = rows.filter(object_id=pk)
    return list(rows.order_by("id"))


def test_a_page_edit_is_recorded_with_its_user_channel_and_old_and_new_values(client, executive):
    goal = GoalFactory(owner=executive, title="Grow revenue")
    client.force_login(executive)

    response = client.post(
        reverse("goals:edit", args=[goal.pk]),
        {
            "title": "Grow revenue faster",
            "status": "active",
            "priority": goal.priority,
            "owner": executive.username,
            "version": goal.version,
        },
    )

    assert response.status_code == 302
    (entry,) = entries_of(BusinessGoal, goal.pk, action=audit.UPDATED)
    assert entry.actor == executive
    assert entry.channel == "page"
    assert entry.changes == {"title": ["Grow revenue", "Grow revenue faster"]}
    assert entry.page_key == f"goal:{goal.pk}"


def test_an_api_write_is_recorded_as_the_token_s_user_through_the_api(api, pm, own_project):
    response = api(pm).patch(
        f"/api/projects/{own_project.pk}/", {"budget_people": "1500.00"}, format="json"
    )

    assert response.status_code == 200, response.content
    (entry,) = entries_of(CRMProject, own_project.pk, action=audit.UPDATED)
    assert (entry.actor, entry.channel) == (pm, "api")
    assert entry.changes["budget_people"][1] in ("1500.00", "1500")


def test_an_admin_delete_is_recorded_through_the_admin_with_the_row_kept_for_a_restore(
    client, admin_user
):
    project = ProjectFactory(title="Old idea")
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:projects_crmproject_delete", args=[project.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not CRMProject.objects.filter(pk=project.pk).exists()
    (entry,) = entries_of(CRMProject, project.pk, action=audit.DELETED)
    assert (entry.actor, entry.channel) == (admin_user, "admin")
    assert entry.serialized_data["fields"]["title"] == "Old idea"


def test_an_import_records_its_writes_through_the_import_channel(executive):
    goal = GoalFactory(owner=executive)

    with audit.recording(channel="import", actor=executive):
        goal_services.goal_update(actor=executive, goal_id=goal.pk, changes={"priority": 3})
        kpi = goal_services.kpi_create(
            actor=executive, goal_id=goal.pk, name="Margin", unit="%", baseline=10, target=12
        )

    update, created = entries_of(BusinessGoal, goal.pk)[-1], entries_of(type(kpi), kpi.pk)[0]
    assert (update.channel, update.actor, update.action) == ("import", executive, audit.UPDATED)
    assert (created.channel, created.actor, created.action) == ("import", executive, audit.CREATED)
    # A KPI's changes show on its goal's page and its own.
    assert (created.page_key, created.subpage_key) == (f"goal:{goal.pk}", f"kpi:{kpi.pk}")


def test_an_unknown_channel_is_refused():
    with pytest.raises(ValueError, match="Unknown channel"), audit.recording(channel="email"):
        pass


def test_a_write_outside_any_request_is_recorded_as_the_system_by_the_service_s_actor(
    executive,
):
    goal = GoalFactory(owner=executive)

    goal_services.goal_update(actor=executive, goal_id=goal.pk, changes={"priority": 3})

    entry = entries_of(BusinessGoal, goal.pk)[-1]
    assert (entry.channel, entry.actor) == ("system", executive)


def test_linking_a_project_records_each_link_made_and_changed_in_its_bulk_write(pm, chain):
    _goal, _business, crm = chain
    other = CRMStrategyFactory(serves=[chain[1]])
    project = ProjectFactory(manager=pm)

    with audit.recording(channel="api", actor=pm):
        project_services.project_set_links(
            actor=pm, project_id=project.pk, links=[LinkSpec(crm.pk, RATIONALE)]
        )
        project_services.project_set_links(
            actor=pm,
            project_id=project.pk,
            links=[LinkSpec(crm.pk, RATIONALE + " And more.", 60), LinkSpec(other.pk, RATIONALE)],
        )

    rows = entries_of(ProjectLink)
    assert [(e.action, e.actor, e.channel) for e in rows] == [
        (audit.CREATED, pm, "api"),
        (audit.CREATED, pm, "api"),
        (audit.UPDATED, pm, "api"),
    ]
    first, second, edit = rows
    assert first.changes["rationale"] == [None, RATIONALE]
    assert first.changes["crm_strategy"] == [None, crm.pk]
    assert edit.changes == {
        "rationale": [RATIONALE, RATIONALE + " And more."],
        "weight": [None, 60],
    }
    assert {e.page_key for e in rows} == {f"project:{project.pk}"}
    assert second.serialized_data["fields"]["crm_strategy"] == other.pk


def test_dropping_a_link_and_reordering_features_are_recorded(pm, chain):
    project = ProjectFactory(manager=pm)
    ProjectLinkFactory(project=project, crm_strategy=chain[2])
    a = FeatureFactory(project=project, position=0)
    b = FeatureFactory(project=project, position=1)

    project_services.project_set_links(actor=pm, project_id=project.pk, links=[])
    project_services.feature_reorder(actor=pm, project_id=project.pk, feature_ids=[b.pk, a.pk])

    (dropped,) = entries_of(ProjectLink, action=audit.DELETED)
    assert dropped.changes["crm_strategy"] == [chain[2].pk, None]
    moves = {e.object_id: e.changes for e in entries_of(Feature, action=audit.UPDATED)}
    assert moves == {a.pk: {"position": [0, 1]}, b.pk: {"position": [1, 0]}}
    assert Entry.objects.filter(subpage_key=f"feature:{a.pk}").count() == 2  # created, moved


def test_what_a_crm_strategy_serves_is_recorded_on_both_strategies(executive, chain):
    _goal, business, crm = chain
    more = BusinessStrategyFactory(goal=chain[0])

    strategy_services.crm_strategy_update(
        actor=executive,
        crm_strategy_id=crm.pk,
        changes={"business_strategies": [more.pk]},
    )

    added = entries_of(CRMStrategyServes, action=audit.CREATED)[-1]
    removed = entries_of(CRMStrategyServes, action=audit.DELETED)[-1]
    assert added.changes["business_strategy"] == [None, more.pk]
    assert removed.changes["business_strategy"] == [business.pk, None]
    assert (added.page_key, added.subpage_key) == (
        f"crm_strategy:{crm.pk}",
        f"business_strategy:{more.pk}",
    )


def _flag_on(project):
    scan_full()
    return Flag.objects.filter(project=project, state=FlagState.OPEN).first()


def test_acknowledging_and_waiving_a_flag_are_recorded(sponsor, chain):
    project = ProjectFactory(sponsor=sponsor, status="active")
    flag = _flag_on(project)
    assert flag is not None

    with audit.recording(channel="page", actor=sponsor):
        flag_acknowledge(actor=sponsor, flag_id=flag.pk)
        flag_waive(
            actor=sponsor,
            flag_id=flag.pk,
            reason="Accepted until the next board meeting.",
            expires_at=timezone.now() + datetime.timedelta(days=5),
        )

    acknowledged, waived = entries_of(Flag, flag.pk)
    assert acknowledged.changes["state"] == ["open", "acknowledged"]
    assert acknowledged.changes["acknowledged_by"] == [None, sponsor.pk]
    assert waived.changes["state"] == ["acknowledged", "waived"]
    assert waived.changes["waiver_reason"][1] == "Accepted until the next board meeting."
    assert {(e.actor, e.channel) for e in (acknowledged, waived)} == {(sponsor, "page")}
    assert waived.page_key == f"project:{project.pk}"


def test_the_scan_records_reopening_an_expired_waiver_and_resolving_set_based(chain):
    project = ProjectFactory(status="active", sponsor=None)
    scan_full()
    flag = Flag.objects.get(project=project, rule="project.no_sponsor")
    Flag.objects.filter(pk=flag.pk).update(
        state=FlagState.WAIVED,
        waiver_reason="Until the new sponsor starts.",
        waiver_expires_at=timezone.now() - datetime.timedelta(days=1),
    )

    scan_full()
    project.status = "cancelled"  # the flags no longer hold
    project.save()
    scan_full()

    reopened, resolved = entries_of(Flag, flag.pk)
    assert (reopened.channel, reopened.actor, reopened.action) == ("scan", None, audit.UPDATED)
    assert reopened.changes == {"state": ["waived", "open"]}
    assert resolved.changes == {"state": ["open", "resolved"]}
    assert resolved.page_key == f"project:{project.pk}"
    assert resolved.subpage_key == f"flag:{flag.pk}"


def test_the_scan_writes_no_history_for_the_flags_it_opens(chain, django_assert_max_num_queries):
    for _ in range(20):
        ProjectFactory(status="active", sponsor=None)
    before = Entry.objects.count()

    scan_full()

    assert Flag.objects.count() >= 40
    assert Entry.objects.count() == before
    assert not entries_of(Flag)


def test_a_retirement_records_the_status_alone_not_who_and_when_again(executive):
    """Who changed a status and when are on the goal for its flags' explanations; the entry
    says who and when already, so it lists the status change alone."""
    goal = GoalFactory(owner=executive, status="active")

    goal_services.goal_update(actor=executive, goal_id=goal.pk, changes={"status": "retired"})

    goal.refresh_from_db()
    assert goal.status_changed_by == executive  # kept on the row
    entry = entries_of(BusinessGoal, goal.pk, action=audit.UPDATED)[-1]
    assert entry.changes == {"status": ["active", "retired"]}
