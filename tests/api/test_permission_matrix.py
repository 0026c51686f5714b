"""The permission matrix: every API route by method by role by own/other object has an expected
status. The route list comes from the URL configuration, and a meta-test fails when a route
exists that the matrix does not cover.

Each request runs inside a savepoint that is rolled back, so one world of objects serves all
roles (a DELETE by one role does not take the object away from the next)."""

import datetime
from types import SimpleNamespace

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from alignment.models import Flag, Scan
from onboarding.models import ImportJob
from reports.models import ReportJob
from tests.factories import (
    PASSWORD,
    BusinessStrategyFactory,
    CRMStrategyFactory,
    FeatureFactory,
    GoalFactory,
    KPICheckInFactory,
    KPIFactory,
    MetricReadingFactory,
    ProjectCheckInFactory,
    ProjectFactory,
    ProjectLinkFactory,
    ProjectSystemFactory,
    RoadmapPhaseFactory,
    SuccessMetricFactory,
    SystemFactory,
    UserFactory,
    UserGroupFactory,
)
from webhooks.models import Webhook

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "nobody", "viewer", "executive", "project_manager", "sponsor", "admin"]
OWNERSHIP = ["own", "other"]
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


# --- Routes, read from the URL configuration


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{pattern.namespace}:" if pattern.namespace else ""
            yield from (
                (namespace + name if name and ":" not in name else name, callback)
                for name, callback in _walk(pattern.url_patterns)
            )
        elif isinstance(pattern, URLPattern):
            yield pattern.name, pattern.callback


def _methods(callback) -> set[str]:
    actions = getattr(callback, "actions", None)
    if actions:
        return {method for method in actions if method in HTTP_METHODS}
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    return {method for method in HTTP_METHODS if hasattr(view_class, method)}


def api_routes() -> set[tuple[str, str]]:
    """Every (url name, method) served under /api/."""
    routes = set()
    for name, callback in _walk(get_resolver().url_patterns):
        if name and name.startswith("api:"):
            routes |= {(name, method) for method in _methods(callback)}
    return routes


# --- Expected answers. `ok` is the success status of the route.


def read_list(ok):
    return dict.fromkeys(ROLES, ok) | {"anonymous": 401}


def read_detail(ok):
    return dict.fromkeys(ROLES, ok) | {"anonymous": 401, "nobody": 404}


def strategy_create(ok):
    return dict.fromkeys(ROLES, 403) | {"anonymous": 401, "executive": ok, "admin": ok}


def strategy_object(ok):
    return strategy_create(ok) | {"nobody": 404}


def project_create(ok):
    return dict.fromkeys(ROLES, 403) | {"anonymous": 401, "project_manager": ok, "admin": ok}


def project_part_create(ok):
    """Create something inside a project: its manager (own) or an admin."""
    return {
        "own": project_create(ok),
        "other": project_create(ok) | {"project_manager": 403},
    }


def project_object(ok):
    return project_part_create(ok) | {
        "own": project_create(ok) | {"nobody": 404},
        "other": project_create(ok) | {"nobody": 404, "project_manager": 403},
    }


def sponsor_decision(ok):
    """Approve a project, acknowledge or waive a flag: its sponsor, executives, admins."""
    base = dict.fromkeys(ROLES, 403) | {
        "anonymous": 401,
        "nobody": 404,
        "executive": ok,
        "admin": ok,
    }
    return {"own": base | {"sponsor": ok}, "other": base}


def commenter(ok):
    """The approval thread: the project's manager and sponsor (own), executives, admins."""
    base = dict.fromkeys(ROLES, 403) | {
        "anonymous": 401,
        "nobody": 404,
        "executive": ok,
        "admin": ok,
    }
    return {"own": base | {"sponsor": ok, "project_manager": ok}, "other": base}


def scan_start(ok):
    return dict.fromkeys(ROLES, 403) | {
        "anonymous": 401,
        "executive": ok,
        "sponsor": ok,
        "admin": ok,
    }


def importer(ok):
    """Import a workbook: executives and admins."""
    return dict.fromkeys(ROLES, 403) | {"anonymous": 401, "executive": ok, "admin": ok}


def own_job(ok):
    """An import job: the person who started it (an executive, "own") and admins; anyone else
    gets 404, as if it did not exist."""
    hidden = dict.fromkeys(ROLES, 404) | {"anonymous": 401, "admin": ok}
    return {"own": hidden | {"executive": ok}, "other": hidden}


def board_reader(ok):
    """The board pack: executives, sponsors and admins."""
    return dict.fromkeys(ROLES, 403) | {
        "anonymous": 401,
        "executive": ok,
        "sponsor": ok,
        "admin": ok,
    }


def own_report(ok):
    """A board-pack job: only the person who asked for it (an executive, "own"), admins
    included in the 404s: a pack is made for its reader."""
    hidden = dict.fromkeys(ROLES, 404) | {"anonymous": 401}
    return {"own": hidden | {"executive": ok}, "other": hidden}


def _upload(w, o):
    from django.core.files.uploadedfile import SimpleUploadedFile

    csv = b"title,status\nGrow revenue,active\n"
    return {"file": SimpleUploadedFile("goals.csv", csv, "text/csv"), "dry_run": "true"}


def restorer(ok):
    """Restore a deleted goal, strategy, project or feature: executives and admins."""
    return dict.fromkeys(ROLES, 403) | {
        "anonymous": 401,
        "nobody": 404,
        "executive": ok,
        "admin": ok,
    }


def admin_only(ok):
    """Webhooks: admins alone; anyone else is refused the list and creating (403)."""
    return dict.fromkeys(ROLES, 403) | {"anonymous": 401, "admin": ok}


def admin_only_object(ok):
    """A webhook by id: anyone but an admin finds none (404)."""
    return dict.fromkeys(ROLES, 404) | {"anonymous": 401, "admin": ok}


def _webhook(w, o):
    # A public address, written as one: saving it resolves no name (nothing is sent).
    return {"name": "Alerts", "url": "https://93.184.215.14/hook", "events": ["flag.opened"]}


def signed_in_with_role(ok):
    return dict.fromkeys(ROLES, ok) | {"anonymous": 401, "nobody": 403}


def public(ok):
    return dict.fromkeys(ROLES, ok)


def authenticated(ok):
    """Any signed-in user, role or not (revoking one's own token needs no role)."""
    return dict.fromkeys(ROLES, ok) | {"anonymous": 401}


def token(ok):
    # Each role posts its own username and password; anonymous posts nothing.
    return dict.fromkeys(ROLES, ok) | {"anonymous": 400}


def admin_create(ok):
    """The systems catalogue: admins, as departments."""
    return dict.fromkeys(ROLES, 403) | {"anonymous": 401, "admin": ok}


def admin_object(ok):
    return admin_create(ok) | {"nobody": 404}


def _link(w):
    return {"crm_strategy": w.crm.pk, "rationale": "Serves it for the permission matrix."}


def _resource(name, kind, create, put, patch, *, create_policy, object_policy):
    """The five CRUD rows of one router resource."""
    return {
        (f"api:{name}-list", "get"): (None, None, read_list(200)),
        (f"api:{name}-list", "post"): (None, create, create_policy(201)),
        (f"api:{name}-detail", "get"): (kind, None, read_detail(200)),
        (f"api:{name}-detail", "put"): (kind, put, object_policy(200)),
        (f"api:{name}-detail", "patch"): (kind, patch, object_policy(200)),
        (f"api:{name}-detail", "delete"): (kind, None, object_policy(204)),
    }


def user_group_keeper(ok):
    """The user group catalogue: project managers, executives and admins keep it."""
    return dict.fromkeys(ROLES, 403) | {
        "anonymous": 401,
        "project_manager": ok,
        "executive": ok,
        "admin": ok,
    }


def user_group_object(ok):
    return user_group_keeper(ok) | {"nobody": 404}


def _future():
    return (timezone.now() + datetime.timedelta(days=30)).isoformat()


# Each row: (url name, method) → (object kind for the {pk} or None, payload builder, expected)
# Payload builders take the world and "own"/"other" and return the JSON body.
MATRIX = {
    **_resource(
        "goal",
        "goal",
        create=lambda w, o: {"title": "A new goal"},
        put=lambda w, o: {"title": "Renamed goal", "status": "active"},
        patch=lambda w, o: {"description": "Sharper"},
        create_policy=strategy_create,
        object_policy=strategy_object,
    ),
    **_resource(
        "kpi",
        "kpi",
        create=lambda w, o: {"goal": w.goal[o].pk, "name": "NPS", "baseline": 1, "target": 5},
        put=lambda w, o: {"goal": w.goal[o].pk, "name": "NPS", "baseline": 1, "target": 9},
        patch=lambda w, o: {"current": "3"},
        create_policy=strategy_create,
        object_policy=strategy_object,
    ),
    **_resource(
        "business-strategy",
        "business_strategy",
        create=lambda w, o: {"goal": w.goal[o].pk, "title": "Mature markets"},
        put=lambda w, o: {"goal": w.goal[o].pk, "title": "Mature markets", "status": "active"},
        patch=lambda w, o: {"scope": "Top 100 accounts"},
        create_policy=strategy_create,
        object_policy=strategy_object,
    ),
    **_resource(
        "crm-strategy",
        "crm_strategy",
        create=lambda w, o: {"title": "Break down silos", "business_strategies": [w.bs.pk]},
        put=lambda w, o: {"title": "Break down silos", "business_strategies": []},
        patch=lambda w, o: {"customer_need": "One face to the customer"},
        create_policy=strategy_create,
        object_policy=strategy_object,
    ),
    **_resource(
        "project",
        "project",
        create=lambda w, o: {"title": "A new project", "links": [_link(w)]},
        put=lambda w, o: {"title": "Renamed project", "links": [_link(w)]},
        patch=lambda w, o: {"integration_notes": "Via the ERP bus"},
        create_policy=project_create,
        object_policy=project_object,
    ),
    **_resource(
        "feature",
        "feature",
        create=lambda w, o: {"project": w.project[o].pk, "title": "Partner onboarding"},
        put=lambda w, o: {"project": w.project[o].pk, "title": "Renamed", "status": "planned"},
        patch=lambda w, o: {"links": [_link(w)]},
        create_policy=project_part_create,
        object_policy=project_object,
    ),
    **_resource(
        "metric",
        "metric",
        create=lambda w, o: {"project": w.project[o].pk, "name": "Win rate", "target": "5"},
        put=lambda w, o: {"project": w.project[o].pk, "name": "Win", "baseline": 1, "target": 2},
        patch=lambda w, o: {"current": "1.5"},
        create_policy=project_part_create,
        object_policy=project_object,
    ),
    **_resource(
        "phase",
        "phase",
        create=lambda w, o: {"project": w.project[o].pk, "name": "Pilot", "kind": "milestone"},
        put=lambda w, o: {"project": w.project[o].pk, "name": "Rollout"},
        patch=lambda w, o: {"start_date": "2026-01-01"},
        create_policy=project_part_create,
        object_policy=project_object,
    ),
    ("api:project-check-in-list", "get"): (None, None, read_list(200)),
    ("api:project-check-in-list", "post"): (
        None,
        lambda w, o: {"project": w.project[o].pk, "summary": "On track", "health": "at_risk"},
        project_part_create(201),
    ),
    ("api:project-check-in-detail", "get"): ("check_in", None, read_detail(200)),
    # Corrections: whoever may add a check-in (or a KPI reading) may correct or delete it.
    ("api:project-check-in-detail", "put"): (
        "check_in",
        lambda w, o: {"project": w.project[o].pk, "summary": "Corrected", "health": "on_track"},
        project_object(200),
    ),
    ("api:project-check-in-detail", "patch"): (
        "check_in",
        lambda w, o: {"summary": "Corrected"},
        project_object(200),
    ),
    ("api:project-check-in-detail", "delete"): ("check_in", None, project_object(204)),
    ("api:kpi-reading-detail", "get"): ("kpi_reading", None, read_detail(200)),
    ("api:kpi-reading-detail", "put"): (
        "kpi_reading",
        lambda w, o: {"value": "13.00", "recorded_on": "2026-01-15", "note": "Typo"},
        strategy_object(200),
    ),
    ("api:kpi-reading-detail", "patch"): (
        "kpi_reading",
        lambda w, o: {"value": "13.00"},
        strategy_object(200),
    ),
    ("api:kpi-reading-detail", "delete"): ("kpi_reading", None, strategy_object(204)),
    **_resource(
        "user-group",
        "user_group",
        create=lambda w, o: {"name": f"New group {o}", "description": "Field sales"},
        put=lambda w, o: {"name": f"Renamed group {o}"},
        patch=lambda w, o: {"description": "Service agents in Spain"},
        create_policy=user_group_keeper,
        object_policy=user_group_object,
    ),
    **_resource(
        "system",
        "system",
        create=lambda w, o: {"name": "Billing", "owner": w.users["executive"].pk},
        put=lambda w, o: {"name": "Billing v2", "owner": w.users["executive"].pk},
        patch=lambda w, o: {"description": "Invoices"},
        create_policy=admin_create,
        object_policy=admin_object,
    ),
    **_resource(
        "project-system",
        "project_system",
        create=lambda w, o: {"project": w.project[o].pk, "system": w.spare_system.pk},
        put=lambda w, o: {
            "project": w.project[o].pk,
            "system": w.objects[o]["project_system"].system_id,
            "status": "built",
        },
        patch=lambda w, o: {"status": "tested"},
        create_policy=project_part_create,
        object_policy=project_object,
    ),
    **_resource(
        "metric-reading",
        "metric_reading",
        create=lambda w, o: {"metric": w.objects[o]["metric"].pk, "value": "3"},
        put=lambda w, o: {
            "metric": w.objects[o]["metric_reading"].metric_id,
            "value": "4",
            "recorded_on": "2026-01-15",
        },
        patch=lambda w, o: {"value": "4.5"},
        create_policy=project_part_create,
        object_policy=project_object,
    ),
    ("api:department-list", "get"): (None, None, read_list(200)),
    ("api:department-detail", "get"): ("department", None, read_detail(200)),
    ("api:flag-list", "get"): (None, None, read_list(200)),
    ("api:flag-detail", "get"): ("flag", None, read_detail(200)),
    ("api:flag-acknowledge", "post"): ("flag", None, sponsor_decision(200)),
    ("api:flag-waive", "post"): (
        "flag",
        lambda w, o: {"reason": "Accepted for the pilot", "expires_at": _future()},
        sponsor_decision(200),
    ),
    # Decided per flag: 200 for any signed-in user, the refusals per flag in the body
    # (tests/api/test_flag_bulk.py); a flag nobody may see is "not_found" there.
    ("api:flag-bulk", "post"): (
        None,
        lambda w, o: {"action": "acknowledge", "ids": [w.objects[o]["flag"].pk]},
        authenticated(200),
    ),
    ("api:project-approve", "post"): ("project", None, sponsor_decision(200)),
    ("api:project-reject", "post"): (
        "project",
        lambda w, o: {"comment": "Not now."},
        sponsor_decision(200),
    ),
    ("api:project-send-back", "post"): (
        "project",
        lambda w, o: {"comment": "Name the users."},
        sponsor_decision(200),
    ),
    ("api:project-decisions", "get"): ("project", None, read_detail(200)),
    ("api:project-decisions", "post"): (
        "project",
        lambda w, o: {"comment": "Looks fine."},
        commenter(201),
    ),
    # Not sent back: refused once permitted (400 naming `status`).
    ("api:project-resubmit", "post"): ("project", None, project_object(400)),
    # Link suggestions read like the project or feature they are for (alignment.suggestions).
    ("api:project-suggestions", "get"): ("project", None, read_detail(200)),
    ("api:feature-suggestions", "get"): ("feature", None, read_detail(200)),
    # The impact preview answers like the change it previews (alignment.impact); reactivating
    # something that is not retired is a 400 naming `status` (happy paths: test_impact_api).
    ("api:goal-impact", "post"): ("goal", lambda w, o: {"status": "retired"}, strategy_object(200)),
    ("api:business-strategy-impact", "post"): (
        "business_strategy",
        lambda w, o: {"status": "retired"},
        strategy_object(200),
    ),
    ("api:crm-strategy-impact", "post"): (
        "crm_strategy",
        lambda w, o: {"serves": []},
        strategy_object(200),
    ),
    ("api:project-impact", "post"): (
        "project",
        lambda w, o: {"crm_strategies": []},
        project_object(200),
    ),
    ("api:goal-reactivate", "post"): ("goal", None, strategy_object(400)),
    ("api:business-strategy-reactivate", "post"): (
        "business_strategy",
        None,
        strategy_object(400),
    ),
    ("api:crm-strategy-reactivate", "post"): ("crm_strategy", None, strategy_object(400)),
    ("api:project-trace", "get"): ("project", None, read_detail(200)),
    ("api:project-reorder-features", "post"): (
        "project",
        lambda w, o: {"features": [w.feature[o].pk]},
        project_object(204),
    ),
    ("api:kpi-check-in", "post"): (
        "kpi",
        lambda w, o: {"value": "4", "recorded_on": "2026-01-15"},
        strategy_object(201),
    ),
    # Every resource's change history: whoever may read the object (core.audit).
    **{
        (f"api:{name}-history", "get"): (kind, None, read_detail(200))
        for name, kind in (
            ("goal", "goal"),
            ("kpi", "kpi"),
            ("kpi-reading", "kpi_reading"),
            ("business-strategy", "business_strategy"),
            ("crm-strategy", "crm_strategy"),
            ("project", "project"),
            ("feature", "feature"),
            ("metric", "metric"),
            ("phase", "phase"),
            ("project-check-in", "check_in"),
            ("department", "department"),
            ("user-group", "user_group"),
            ("system", "system"),
            ("project-system", "project_system"),
            ("metric-reading", "metric_reading"),
            ("flag", "flag"),
        )
    },
    # Restoring a deleted object: executives and admins; these objects exist, so the restore
    # is refused as having nothing to do (400) once permitted (tests/history).
    **{
        (f"api:{name}-restore", "post"): (kind, None, restorer(400))
        for name, kind in (
            ("goal", "goal"),
            ("business-strategy", "business_strategy"),
            ("crm-strategy", "crm_strategy"),
            ("project", "project"),
            ("feature", "feature"),
        )
    },
    ("api:webhook-list", "get"): (None, None, admin_only(200)),
    ("api:webhook-list", "post"): (None, _webhook, admin_only(201)),
    ("api:webhook-detail", "get"): ("webhook", None, admin_only_object(200)),
    ("api:webhook-detail", "put"): ("webhook", _webhook, admin_only_object(200)),
    ("api:webhook-detail", "patch"): (
        "webhook",
        lambda w, o: {"name": "Ops"},
        admin_only_object(200),
    ),
    ("api:webhook-detail", "delete"): ("webhook", None, admin_only_object(204)),
    ("api:webhook-history", "get"): ("webhook", None, admin_only_object(200)),
    ("api:webhook-deliveries", "get"): ("webhook", None, admin_only_object(200)),
    ("api:webhook-resume", "post"): ("webhook", None, admin_only_object(200)),
    ("api:webhook-send-test", "post"): ("webhook", None, admin_only_object(202)),
    ("api:alignment-summary", "get"): (None, None, signed_in_with_role(200)),
    ("api:alignment-scan", "post"): (None, None, scan_start(202)),
    ("api:alignment-scan-detail", "get"): ("scan", None, read_detail(200)),
    ("api:portfolio-export", "get"): (None, None, signed_in_with_role(200)),
    ("api:portfolio-import", "post"): (None, _upload, importer(202)),
    ("api:portfolio-import-detail", "get"): ("import_job", None, own_job(200)),
    ("api:report-board", "get"): (None, None, board_reader(200)),
    ("api:report-job-detail", "get"): ("report_job", None, own_report(200)),
    ("api:report-job-pdf", "get"): ("report_job", None, own_report(200)),
    ("api:token", "post"): (None, "credentials", token(200)),
    ("api:token", "delete"): (None, None, authenticated(204)),
    ("api:schema", "get"): (None, None, public(200)),
    ("api:docs", "get"): (None, None, public(200)),
    **{("api:not-found", method): (None, None, public(404)) for method in HTTP_METHODS},
}


def test_every_api_route_is_in_the_matrix():
    routes = api_routes()
    assert routes, "no API routes found"
    missing = sorted(routes - set(MATRIX))
    stale = sorted(set(MATRIX) - routes)
    assert not missing, f"routes without expected answers: {missing}"
    assert not stale, f"matrix rows for routes that no longer exist: {stale}"


# --- The world every row runs against


@pytest.fixture
def world(executive, pm, other_pm, sponsor, viewer, admin_user, nobody):
    other_exec = UserFactory(username="exec2", roles=["executive"])
    other_sponsor = UserFactory(username="sponsor2", roles=["sponsor"])
    goal = GoalFactory(owner=executive)
    bs = BusinessStrategyFactory(goal=goal, owner=executive)
    crm = CRMStrategyFactory(owner=executive, serves=[bs])
    now = timezone.now()
    w = SimpleNamespace(
        users={
            "anonymous": None,
            "nobody": nobody,
            "viewer": viewer,
            "executive": executive,
            "project_manager": pm,
            "sponsor": sponsor,
            "admin": admin_user,
        },
        bs=bs,
        crm=crm,
        spare_system=SystemFactory(name="Spare system"),
        goal={},
        project={},
        feature={},
        objects={},
    )
    owners = {"own": (executive, pm, sponsor), "other": (other_exec, other_pm, other_sponsor)}
    for side, (strategist, manager, project_sponsor) in owners.items():
        # Leaves: nothing depends on them, so a permitted DELETE succeeds.
        leaf_goal = GoalFactory(owner=strategist)
        w.goal[side] = leaf_goal
        project = ProjectFactory(manager=manager, sponsor=project_sponsor)
        ProjectLinkFactory(project=project, crm_strategy=crm)
        SuccessMetricFactory(project=project)
        w.project[side] = project
        w.feature[side] = FeatureFactory(project=project)
        w.objects[side] = {
            "goal": leaf_goal,
            "kpi": KPIFactory(goal=leaf_goal),
            # Under the shared goal: a reading would keep the leaf goal from being deleted.
            "kpi_reading": KPICheckInFactory(kpi=KPIFactory(goal=goal)),
            "business_strategy": BusinessStrategyFactory(goal=goal, owner=strategist),
            "crm_strategy": CRMStrategyFactory(owner=strategist, serves=[]),
            "project": project,
            "feature": w.feature[side],
            "metric": SuccessMetricFactory(project=project),
            "phase": RoadmapPhaseFactory(project=project),
            "check_in": ProjectCheckInFactory(project=project),
            "department": project.department,
            "user_group": UserGroupFactory(),
            # A leaf: no project lists it, so a permitted DELETE succeeds.
            "system": SystemFactory(),
            "project_system": ProjectSystemFactory(project=project),
            "metric_reading": MetricReadingFactory(metric=SuccessMetricFactory(project=project)),
            "flag": Flag.objects.create(
                rule="project.no_roadmap",
                severity="warning",
                subject_type="project",
                subject_id=project.pk,
                subject_label=project.title,
                project=project,
                message="Add a roadmap.",
                first_seen=now,
                last_seen=now,
            ),
            "scan": Scan.objects.create(requested_by=project_sponsor),
            "import_job": ImportJob.objects.create(
                created_by=strategist, filename="portfolio.xlsx", content=b"PK", size=2
            ),
            "webhook": Webhook.objects.create(
                name=f"Alerts {side}",
                url="https://93.184.215.14/hook",
                secret="s" * 32,
                events=["flag.opened"],
                owner=admin_user,
            ),
            "report_job": ReportJob.objects.create(
                created_by=strategist, state="done", pdf=b"%PDF-1.7 a made pack", size=20
            ),
        }
    return w


def _request(world, url_name, method, kind, payload, role, side, **headers):
    user = world.users[role]
    from rest_framework.test import APIClient

    from tests.tokens import token_for

    client = APIClient()
    if user is not None and payload != "credentials":
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    kwargs = {"pk": world.objects[side][kind].pk} if kind else {}
    url = reverse(url_name, kwargs=kwargs)
    if payload == "credentials":
        body = (
            {}
            if user is None
            else {
                "username": user.username,
                "password": "admin-pass-123" if user.is_superuser else PASSWORD,
            }
        )
    else:
        body = payload(world, side) if payload else None
    # A file goes as multipart (the import), anything else as JSON.
    multipart = isinstance(body, dict) and any(hasattr(v, "read") for v in body.values())
    with transaction.atomic():
        response = getattr(client, method)(
            url, body, format="multipart" if multipart else "json", **headers
        )
        transaction.set_rollback(True)
    return response


@pytest.mark.parametrize(("url_name", "method"), sorted(MATRIX))
def test_route_answers_each_role_as_the_matrix_says(world, url_name, method):
    kind, payload, expected = MATRIX[(url_name, method)]
    by_side = expected if "own" in expected else {"own": expected, "other": expected}
    wrong = []
    for side in OWNERSHIP:
        for role in ROLES:
            response = _request(world, url_name, method, kind, payload, role, side)
            if response.status_code != by_side[side][role]:
                body = getattr(response, "data", None)
                wrong.append(
                    f"{role}/{side}: {response.status_code} (expected {by_side[side][role]}) {body}"
                )
    assert not wrong, f"{method.upper()} {url_name}:\n" + "\n".join(wrong)
