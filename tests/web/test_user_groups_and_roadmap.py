"""User group pages, the project form's user group picker, go-live on the phase form, and the
roadmap timeline (bounded: a page of projects whatever the portfolio's size)."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from projects import services
from projects.models import (
    CRMProject,
    PhaseKind,
    ProjectStatus,
    ProjectUserGroup,
    RoadmapPhase,
    UserGroup,
)
from projects.roadmap import PER_PAGE
from tests.factories import ProjectFactory, RoadmapPhaseFactory, UserGroupFactory
from tests.rows import count_rows

pytestmark = pytest.mark.django_db


def test_a_pm_adds_edits_and_deletes_a_user_group(as_user, pm):
    client = as_user(pm)
    response = client.post(
        reverse("projects:user_group_create"), {"name": "Service agents", "description": "L1"}
    )
    assert response.status_code == 302
    group = UserGroup.objects.get(name="Service agents")
    response = client.post(
        reverse("projects:user_group_edit", args=[group.pk]),
        {"name": "Service agents EMEA", "version": group.version},
    )
    assert response.status_code == 302
    group.refresh_from_db()
    assert group.name == "Service agents EMEA"
    assert (group.version, group.updated_by) == (2, pm)
    page = client.get(reverse("projects:user_groups")).content.decode()
    assert "Service agents EMEA" in page
    client.post(reverse("projects:user_group_delete", args=[group.pk]))
    assert not UserGroup.objects.exists()


def test_a_rename_from_a_stale_page_is_refused_and_keeps_the_other_rename(as_user, pm, executive):
    group = UserGroupFactory(name="Service agents")
    opened_at = group.version
    services.user_group_update(
        actor=executive, user_group_id=group.pk, changes={"name": "Service agents EMEA"}
    )
    client = as_user(pm)

    response = client.post(
        reverse("projects:user_group_edit", args=[group.pk]),
        {"name": "Field service agents", "version": opened_at},
    )

    assert response.status_code == 200
    assert "changed by" in response.content.decode()
    assert UserGroup.objects.get(pk=group.pk).name == "Service agents EMEA"
    # Without the version the form was opened at, a save is refused too.
    response = client.post(
        reverse("projects:user_group_edit", args=[group.pk]), {"name": "Field service agents"}
    )
    assert response.status_code == 200
    assert "out of date or incomplete" in response.content.decode()
    assert UserGroup.objects.get(pk=group.pk).name == "Service agents EMEA"


def test_a_duplicate_name_in_another_case_is_refused_on_the_name(as_user, pm):
    UserGroupFactory(name="Partner managers")
    response = as_user(pm).post(reverse("projects:user_group_create"), {"name": "PARTNER managers"})
    assert response.status_code == 200
    assert "A user group named “Partner managers” already exists." in response.content.decode()
    assert UserGroup.objects.count() == 1


def test_a_group_a_project_names_is_not_deleted(as_user, pm):
    group = UserGroupFactory(name="Sales reps")
    ProjectUserGroup.objects.create(project=ProjectFactory(title="CPQ"), user_group=group)
    response = as_user(pm).post(reverse("projects:user_group_delete", args=[group.pk]), follow=True)
    assert "Projects still affect “Sales reps”: CPQ" in response.content.decode()
    assert UserGroup.objects.filter(pk=group.pk).exists()


def test_a_viewer_reads_the_catalogue_but_may_not_change_it(as_user, viewer):
    group = UserGroupFactory()
    client = as_user(viewer)
    assert client.get(reverse("projects:user_groups")).status_code == 200
    assert client.post(reverse("projects:user_group_create"), {"name": "X"}).status_code == 403
    assert (
        client.post(reverse("projects:user_group_edit", args=[group.pk]), {"name": "Y"}).status_code
        == 403
    )
    assert not UserGroup.objects.filter(name__in=["X", "Y"]).exists()


def test_the_project_form_names_user_groups_by_name_and_refuses_unknown_ones(as_user, pm):
    UserGroupFactory(name="Service agents")
    UserGroupFactory(name="Sales reps EMEA")
    project = ProjectFactory(manager=pm, title="Case routing")
    client = as_user(pm)
    form_page = client.get(reverse("projects:edit", args=[project.pk])).content.decode()
    assert 'data-picker-url="/user-groups/"' in form_page
    assert "<select" not in re.search(r'<input[^>]*name="user_groups"[^>]*>', form_page).group(0)
    data = {
        "title": "Case routing",
        "manager": pm.username,
        "status": "proposed",
        "version": project.version,
        "user_groups": "service AGENTS; Nobody here",
        **{
            f"budget_{k}": "0"
            for k in ("technology", "people", "process", "training", "incentives")
        },
    }
    response = client.post(reverse("projects:edit", args=[project.pk]), data)
    assert response.status_code == 200
    assert "No user group named “Nobody here”" in response.content.decode()
    assert not ProjectUserGroup.objects.exists()
    data["user_groups"] = "service AGENTS; Sales reps EMEA"
    response = client.post(reverse("projects:edit", args=[project.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert set(project.user_groups.values_list("name", flat=True)) == {
        "Service agents",
        "Sales reps EMEA",
    }


def test_the_suggestions_answer_matching_groups_by_name(as_user, viewer):
    UserGroupFactory(name="Service agents")
    UserGroupFactory(name="Sales reps")
    body = as_user(viewer).get(reverse("user_groups"), {"q": "serv"}).json()
    assert [r["label"] for r in body["results"]] == ["Service agents"]


def test_go_live_on_a_phase_is_refused_with_a_field_error(as_user, pm):
    project = ProjectFactory(manager=pm)
    client = as_user(pm)
    day = timezone.localdate().isoformat()
    response = client.post(
        reverse("projects:phase_create", args=[project.pk]),
        {
            "phases-name": "Build",
            "phases-kind": "phase",
            "phases-start_date": day,
            "phases-end_date": day,
            "phases-go_live": "on",
        },
    )
    assert "Only a milestone can be a go-live." in response.content.decode()
    assert not RoadmapPhase.objects.exists()
    client.post(
        reverse("projects:phase_create", args=[project.pk]),
        {
            "phases-name": "Launch",
            "phases-kind": "milestone",
            "phases-start_date": day,
            "phases-end_date": day,
            "phases-go_live": "on",
        },
    )
    assert RoadmapPhase.objects.get().go_live is True


def _portfolio(size: int, group: UserGroup) -> None:
    today = timezone.localdate()
    for i in range(CRMProject.objects.count(), size):
        project = ProjectFactory(title=f"Roadmap project {i:03}", status=ProjectStatus.ACTIVE)
        ProjectUserGroup.objects.create(project=project, user_group=group)
        RoadmapPhaseFactory(
            project=project,
            kind=PhaseKind.PHASE,
            start_date=today,
            end_date=today + datetime.timedelta(days=30),
        )
        RoadmapPhaseFactory(
            project=project,
            name="Go-live",
            kind=PhaseKind.MILESTONE,
            start_date=today + datetime.timedelta(days=i % 20),
            end_date=today + datetime.timedelta(days=i % 20),
            go_live=True,
        )


def test_the_roadmap_reads_a_page_whatever_the_portfolio_size(as_user, viewer):
    group = UserGroupFactory(name="Field agents")
    client = as_user(viewer)
    url = reverse("projects:roadmap")
    client.get(url)  # warm up: the session

    def measured(size: int) -> tuple[int, int, str]:
        _portfolio(size, group)
        with CaptureQueriesContext(connection) as queries, count_rows() as rows:
            response = client.get(url, {"user_group": group.pk})
        assert response.status_code == 200
        return len(queries.captured_queries), rows.total, response.content.decode()

    queries_2, _, small = measured(2)
    queries_page, rows_page, _ = measured(PER_PAGE)
    queries_200, rows_200, large = measured(200)
    assert queries_2 == queries_page == queries_200
    assert rows_page == rows_200
    assert small.count('class="timeline__go-live"') == 2 + 1  # two go-lives + the legend
    assert large.count('class="timeline__go-live"') == PER_PAGE + 1
    assert "Projects affecting this group: 200" in large


def test_the_roadmap_groups_by_chain_filters_and_marks_today(as_user, viewer):
    from tests.factories import (
        BusinessStrategyFactory,
        CRMStrategyFactory,
        GoalFactory,
        ProjectLinkFactory,
    )

    goal = GoalFactory(title="Grow EMEA")
    business = BusinessStrategyFactory(goal=goal, title="Partners first")
    crm = CRMStrategyFactory(title="Partner portal CRM")
    crm.business_strategies.set([business])
    linked = ProjectFactory(title="Portal", status=ProjectStatus.ACTIVE)
    ProjectLinkFactory(project=linked, crm_strategy=crm)
    ProjectFactory(title="Loose one", status=ProjectStatus.PROPOSED)
    ProjectFactory(title="Finished", status=ProjectStatus.DONE)
    client = as_user(viewer)
    page = client.get(reverse("projects:roadmap")).content.decode()
    assert "Grow EMEA → Partners first → Partner portal CRM" in page
    assert "Not linked to a CRM strategy" in page
    assert "Finished" not in page
    assert 'class="timeline__today"' in page
    filtered = client.get(reverse("projects:roadmap"), {"goal": goal.pk}).content.decode()
    assert "Portal" in filtered and "Loose one" not in filtered
    bad = client.get(reverse("projects:roadmap"), {"user_group": "Nobody"})
    assert bad.status_code == 200
    assert "No user group named “Nobody”" in bad.content.decode()


def test_the_roadmap_orders_groups_by_chain_titles_and_pages_continue_the_order():
    from projects import roadmap
    from tests.factories import (
        BusinessStrategyFactory,
        CRMStrategyFactory,
        GoalFactory,
        ProjectLinkFactory,
    )

    a_goal, b_goal = GoalFactory(title="A goal"), GoalFactory(title="B goal")
    a1 = BusinessStrategyFactory(goal=a_goal, title="A1")
    b1 = BusinessStrategyFactory(goal=b_goal, title="B1")
    zeta = CRMStrategyFactory(title="Zeta")
    zeta.business_strategies.set([b1, a1])  # its first business strategy: under "A goal"
    alpha = CRMStrategyFactory(title="Alpha")
    alpha.business_strategies.set([b1])
    mid = CRMStrategyFactory(title="Mid")
    mid.business_strategies.clear()  # serves no business strategy
    live = ProjectStatus.ACTIVE
    beta = ProjectFactory(title="Beta", status=live)
    # Its first CRM strategy by title is Alpha, so it sits in Alpha's group, not Zeta's.
    ProjectLinkFactory(project=beta, crm_strategy=zeta)
    ProjectLinkFactory(project=beta, crm_strategy=alpha)
    for title in ("Cobra", "Aardvark"):
        ProjectLinkFactory(project=ProjectFactory(title=title, status=live), crm_strategy=zeta)
    ProjectLinkFactory(project=ProjectFactory(title="Dingo", status=live), crm_strategy=mid)
    ProjectFactory(title="Anteater", status=live)  # linked to nothing: last
    ProjectFactory(title="Done one", status=ProjectStatus.DONE)  # not live: not shown

    expected = [
        ("Aardvark", "A goal", "A1", "Zeta"),
        ("Cobra", "A goal", "A1", "Zeta"),
        ("Beta", "B goal", "B1", "Alpha"),
        ("Dingo", None, None, "Mid"),
        ("Anteater", None, None, None),
    ]
    # Unfiltered (every link grouped) and filtered (only the chosen projects' links).
    for rows in (roadmap.timeline_projects(), roadmap.timeline_projects(status=live)):
        assert rows.count() == 5
        shown = [(p.title, p.goal_title, p.business_title, p.crm_title) for p in rows[0:5]]
        assert shown == expected
        assert [p.title for p in rows[1:3]] == ["Cobra", "Beta"]
        assert [p.title for p in rows[4:25]] == ["Anteater"]
        assert rows[5:25] == []
    timeline = roadmap.timeline_for(list(roadmap.timeline_projects()[0:5]), timezone.localdate())
    assert [g.title for g in timeline.groups] == [
        "A goal → A1 → Zeta",
        "B goal → B1 → Alpha",
        "Mid",
        roadmap.NO_GROUP,
    ]


def test_a_project_page_shows_its_own_timeline(as_user, viewer):
    project = ProjectFactory(title="Solo")
    day = timezone.localdate()
    RoadmapPhaseFactory(
        project=project, name="Launch", kind="milestone", start_date=day, end_date=day, go_live=True
    )
    page = as_user(viewer).get(project.get_absolute_url()).content.decode()
    assert "Roadmap timeline" in page
    assert "Launch (Go-live milestone)" in page


def _collision(group, days, manager=None):
    """Active projects affecting `group`, each with a go-live `days[i]` days from today."""
    today = timezone.localdate()
    projects = []
    for i, offset in enumerate(days):
        project = ProjectFactory(
            title=f"{group.name} launch {i}",
            status=ProjectStatus.ACTIVE,
            **({"manager": manager} if manager else {}),
        )
        ProjectUserGroup.objects.create(project=project, user_group=group)
        day = today + datetime.timedelta(days=offset)
        RoadmapPhaseFactory(
            project=project,
            name="Go-live",
            kind="milestone",
            start_date=day,
            end_date=day,
            go_live=True,
        )
        projects.append(project)
    return projects


def test_a_collision_shows_on_the_page_of_each_project_it_names_and_no_other(as_user, pm):
    from alignment.engine import scan_full

    crowded = UserGroupFactory(name="Service agents")
    calm = UserGroupFactory(name="Partner managers")
    colliding = _collision(crowded, [1, 5, 9], manager=pm)
    apart = _collision(calm, [1, 60, 120], manager=pm)
    scan_full()
    client = as_user(pm)
    for project in colliding:
        panel = client.get(reverse("alignment:project_flags", args=[project.pk])).content.decode()
        assert 'data-rule="portfolio.change_collision"' in panel, project.title
        assert "More than 2 go-lives hit “Service agents” within 30 days" in panel
        assert "Service agents launch 0 on" in panel and "Service agents launch 2 on" in panel
    for project in apart:
        page = client.get(project.get_absolute_url()).content.decode()
        assert "portfolio.change_collision" not in page


def test_the_roadmap_of_a_group_shows_its_collision_or_says_there_is_none(as_user, viewer):
    from alignment.engine import scan_full

    crowded = UserGroupFactory(name="Service agents")
    calm = UserGroupFactory(name="Partner managers")
    _collision(crowded, [1, 5, 9])
    _collision(calm, [1, 60])
    scan_full()
    client = as_user(viewer)
    page = client.get(reverse("projects:roadmap"), {"user_group": crowded.pk}).content.decode()
    assert 'data-rule="portfolio.change_collision"' in page
    assert "More than 2 go-lives hit “Service agents”" in page
    page = client.get(reverse("projects:roadmap"), {"user_group": calm.pk}).content.decode()
    assert "portfolio.change_collision" not in page
    assert "No change collision on this group" in page


def test_the_flag_inbox_for_a_project_lists_what_its_page_lists_collisions_included(
    as_user, executive
):
    """The "Open these in the flag inbox" link of a project's page: the inbox (and `/api/flags/`)
    filtered by the project lists the same flags, the collisions of its user groups included,
    and none of another group's."""
    from rest_framework.test import APIClient

    from alignment.engine import scan_full
    from alignment.selectors import project_flags_needing_attention

    colliding = _collision(UserGroupFactory(name="Service agents"), [1, 5, 9])
    _collision(UserGroupFactory(name="Field sales"), [2, 4, 6])
    apart = _collision(UserGroupFactory(name="Partner managers"), [1, 60, 120])
    scan_full()
    project = colliding[0]

    page = as_user(executive).get(reverse("alignment:flags"), {"project": project.pk})
    api = APIClient()
    api.force_authenticate(executive)
    listed = api.get("/api/flags/", {"project": project.pk, "page_size": 100}).json()["results"]

    html = page.content.decode()
    assert page.status_code == 200
    assert "More than 2 go-lives hit “Service agents” within 30 days" in html
    assert "go-lives hit “Field sales”" not in html
    on_its_page = set(
        project_flags_needing_attention(executive, project).values_list("pk", flat=True)
    )
    assert {row["id"] for row in listed} == on_its_page
    collisions = [row for row in listed if row["rule"] == "portfolio.change_collision"]
    assert [(row["subject_type"], row["subject_label"]) for row in collisions] == [
        ("user_group", "Service agents")
    ]
    assert all(row["project"] == project.pk for row in listed if row not in collisions)
    apart_rules = {
        row["rule"] for row in api.get("/api/flags/", {"project": apart[0].pk}).json()["results"]
    }
    assert "portfolio.change_collision" not in apart_rules
