"""The page permission matrix: every page route by method by role by own/other object has an
expected status, like the API's (tests/api/test_permission_matrix.py, whose world it reuses).
The route list comes from the URL configuration, and a meta-test fails for a page route that
the matrix does not cover — so a new page cannot ship without saying who may open it.

Pages are default-deny (core.middleware): anonymous visitors are sent to sign in (302), a
signed-in user without a role gets 404, and a role that may read but not change gets 403.
POSTs carry no data: a permitted one re-renders its form with errors (200) or redirects after
acting (302) — the waive form answers 400 naming the missing reason; each runs in a savepoint
that is rolled back."""

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.api.test_permission_matrix import world  # noqa: F401  (the shared fixture)

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "nobody", "viewer", "executive", "project_manager", "sponsor", "admin"]
OWNERSHIP = ["own", "other"]
SELF_GUARDED = ("api:", "admin:")


def page_routes() -> set[str]:
    """Every named page route (the API and the admin guard themselves)."""

    def walk(patterns, namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
                yield from walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield namespace + pattern.name

    return {name for name in walk(get_resolver().url_patterns) if not name.startswith(SELF_GUARDED)}


# --- Expected answers


def public(ok):
    return dict.fromkeys(ROLES, ok)


def signed_in(ok):
    return dict.fromkeys(ROLES, ok) | {"anonymous": 302}


def read(ok=200):
    return dict.fromkeys(ROLES, ok) | {"anonymous": 302, "nobody": 404}


def strategist(ok):
    """Goals, KPIs and strategies: executives and admins change them."""
    return read(403) | {"executive": ok, "admin": ok}


def admin_only(ok):
    """The systems catalogue: admins change it, as departments."""
    return read(403) | {"admin": ok}


def project_creator(ok):
    return read(403) | {"project_manager": ok, "admin": ok}


def project_editor(ok):
    """Inside a project: its manager (own) or an admin."""
    return {"own": project_creator(ok), "other": project_creator(ok) | {"project_manager": 403}}


def sponsor_decision(ok):
    """Approve a project, acknowledge or waive a flag: its sponsor, executives, admins."""
    base = read(403) | {"executive": ok, "admin": ok}
    return {"own": base | {"sponsor": ok}, "other": base}


def user_group_keeper(ok):
    """The user group catalogue: project managers, executives and admins keep it."""
    return read(403) | {"project_manager": ok, "executive": ok, "admin": ok}


def commenter(ok):
    """The approval thread: the project's manager and sponsor (own), executives, admins."""
    base = read(403) | {"executive": ok, "admin": ok}
    return {"own": base | {"sponsor": ok, "project_manager": ok}, "other": base}


def scan_starter(ok):
    return read(403) | {"executive": ok, "sponsor": ok, "admin": ok}


def importer(ok):
    """The Import page and applying a checked file: executives and admins."""
    return read(403) | {"executive": ok, "admin": ok}


def own_job(ok):
    """An import job's pages: the person who started it (an executive, "own") and admins;
    anyone else gets 404."""
    hidden = read(404) | {"admin": ok}
    return {"own": hidden | {"executive": ok}, "other": hidden}


def board_reader(ok):
    """The board report: executives, sponsors and admins."""
    return read(403) | {"executive": ok, "sponsor": ok, "admin": ok}


def own_report(ok):
    """A board-pack job's pages: only the person who asked (an executive, "own")."""
    hidden = read(404)
    return {"own": hidden | {"executive": ok}, "other": hidden}


# Each row: (url name, method) → (object kind for the {pk} or None, expected)
MATRIX = {
    ("home", "get"): (None, signed_in(200)),
    ("search", "get"): (None, read()),
    # The people picker's suggestions; asked without naming a picker: 400 (test_people_picker).
    ("people", "get"): (None, read(400)),
    # The department picker's suggestions (test_department_picker).
    ("departments", "get"): (None, read()),
    # The user group picker's suggestions (tests/web/test_user_groups_and_roadmap.py).
    ("user_groups", "get"): (None, read()),
    ("login", "get"): (None, public(200)),
    ("logout", "post"): (None, public(302)),
    ("password_change", "get"): (None, signed_in(200)),
    ("api_tokens", "get"): (None, signed_in(200)),
    ("api_tokens", "post"): (None, signed_in(302)),
    ("password_change_done", "get"): (None, signed_in(200)),
    ("password_reset", "get"): (None, public(200)),
    ("password_reset_done", "get"): (None, public(200)),
    ("password_reset_confirm", "get"): ("reset_link", public(200)),
    ("password_reset_complete", "get"): (None, public(200)),
    ("invitation", "get"): ("reset_link", public(200)),
    ("invitation_done", "get"): (None, public(200)),
    # goals
    ("goals:list", "get"): (None, read()),
    ("goals:detail", "get"): ("goal", read()),
    ("goals:create", "get"): (None, strategist(200)),
    ("goals:create", "post"): (None, strategist(200)),
    ("goals:edit", "get"): ("goal", strategist(200)),
    ("goals:edit", "post"): ("goal", strategist(200)),
    ("goals:retire", "post"): ("goal", strategist(302)),
    ("goals:kpi_create", "get"): ("goal", strategist(200)),
    ("goals:kpi_create", "post"): ("goal", strategist(200)),
    ("goals:kpi_edit", "get"): ("kpi", strategist(200)),
    ("goals:kpi_edit", "post"): ("kpi", strategist(200)),
    ("goals:kpi_delete", "get"): ("kpi", strategist(200)),  # asks first
    ("goals:kpi_delete", "post"): ("kpi", strategist(302)),
    ("goals:kpi_reading_edit", "get"): ("kpi_reading", strategist(200)),
    ("goals:kpi_reading_edit", "post"): ("kpi_reading", strategist(200)),
    ("goals:kpi_reading_delete", "get"): ("kpi_reading", strategist(200)),
    ("goals:kpi_reading_delete", "post"): ("kpi_reading", strategist(302)),
    ("goals:kpi_check_in", "get"): ("kpi", strategist(200)),
    ("goals:kpi_check_in", "post"): ("kpi", strategist(200)),
    # strategies
    ("strategies:list", "get"): (None, read()),
    ("strategies:business_list", "get"): (None, read()),
    ("strategies:crm_detail", "get"): ("crm_strategy", read()),
    ("strategies:business_detail", "get"): ("business_strategy", read()),
    ("strategies:crm_create", "get"): (None, strategist(200)),
    ("strategies:crm_create", "post"): (None, strategist(200)),
    ("strategies:crm_edit", "get"): ("crm_strategy", strategist(200)),
    ("strategies:crm_edit", "post"): ("crm_strategy", strategist(200)),
    ("strategies:crm_retire", "post"): ("crm_strategy", strategist(302)),
    ("strategies:business_create", "get"): (None, strategist(200)),
    ("strategies:business_create", "post"): (None, strategist(200)),
    ("strategies:business_edit", "get"): ("business_strategy", strategist(200)),
    ("strategies:business_edit", "post"): ("business_strategy", strategist(200)),
    ("strategies:business_retire", "post"): ("business_strategy", strategist(302)),
    # projects
    ("projects:list", "get"): (None, read()),
    ("projects:mine", "get"): (None, read()),
    ("projects:detail", "get"): ("project", read()),
    ("projects:feature_detail", "get"): ("feature", read()),
    ("projects:feature_row", "get"): ("feature", read()),
    ("projects:create", "get"): (None, project_creator(200)),
    ("projects:create", "post"): (None, project_creator(200)),
    ("projects:edit", "get"): ("project", project_editor(200)),
    ("projects:edit", "post"): ("project", project_editor(200)),
    ("projects:links", "get"): ("project", project_editor(200)),
    ("projects:links", "post"): ("project", project_editor(302)),
    # Not sent back, so refused with a message (302); a blank comment likewise.
    ("projects:resubmit", "post"): ("project", project_editor(302)),
    ("projects:comment", "post"): ("project", commenter(302)),
    ("projects:feature_create", "post"): ("project", project_editor(200)),
    ("projects:metric_create", "post"): ("project", project_editor(200)),
    ("projects:phase_create", "post"): ("project", project_editor(200)),
    ("projects:check_in_create", "post"): ("project", project_editor(200)),
    ("projects:feature_edit", "get"): ("feature", project_editor(200)),
    ("projects:feature_edit", "post"): ("feature", project_editor(200)),
    ("projects:feature_links", "get"): ("feature", project_editor(200)),
    ("projects:feature_links", "post"): ("feature", project_editor(302)),
    ("projects:feature_move", "post"): ("feature", project_editor(302)),
    ("projects:feature_delete", "post"): ("feature", project_editor(302)),
    ("projects:metric_edit", "get"): ("metric", project_editor(200)),
    ("projects:metric_edit", "post"): ("metric", project_editor(200)),
    ("projects:metric_delete", "get"): ("metric", project_editor(200)),
    ("projects:metric_delete", "post"): ("metric", project_editor(302)),
    ("projects:phase_edit", "get"): ("phase", project_editor(200)),
    ("projects:phase_edit", "post"): ("phase", project_editor(200)),
    ("projects:phase_delete", "get"): ("phase", project_editor(200)),
    ("projects:phase_delete", "post"): ("phase", project_editor(302)),
    ("projects:check_in_edit", "get"): ("check_in", project_editor(200)),
    ("projects:check_in_edit", "post"): ("check_in", project_editor(200)),
    ("projects:check_in_delete", "get"): ("check_in", project_editor(200)),
    ("projects:check_in_delete", "post"): ("check_in", project_editor(302)),
    ("projects:roadmap", "get"): (None, read()),
    ("projects:user_groups", "get"): (None, read()),
    ("projects:user_group_create", "get"): (None, user_group_keeper(200)),
    ("projects:user_group_create", "post"): (None, user_group_keeper(200)),
    ("projects:user_group_edit", "get"): ("user_group", user_group_keeper(200)),
    ("projects:user_group_edit", "post"): ("user_group", user_group_keeper(200)),
    ("projects:user_group_delete", "get"): ("user_group", user_group_keeper(200)),
    ("projects:user_group_delete", "post"): ("user_group", user_group_keeper(302)),
    # The integration register and benefits review (projects.register).
    ("projects:systems", "get"): (None, read()),
    ("projects:system_suggestions", "get"): (None, read()),
    ("projects:system_detail", "get"): ("system", read()),
    ("projects:system_create", "get"): (None, admin_only(200)),
    ("projects:system_create", "post"): (None, admin_only(200)),
    ("projects:system_edit", "get"): ("system", admin_only(200)),
    ("projects:system_edit", "post"): ("system", admin_only(200)),
    ("projects:system_delete", "get"): ("system", admin_only(200)),
    ("projects:system_delete", "post"): ("system", admin_only(302)),
    ("projects:project_system_create", "post"): ("project", project_editor(200)),
    ("projects:project_system_edit", "get"): ("project_system", project_editor(200)),
    ("projects:project_system_edit", "post"): ("project_system", project_editor(200)),
    ("projects:project_system_delete", "get"): ("project_system", project_editor(200)),
    ("projects:project_system_delete", "post"): ("project_system", project_editor(302)),
    ("projects:metric_reading_create", "post"): ("project", project_editor(200)),
    ("projects:metric_reading_edit", "get"): ("metric_reading", project_editor(200)),
    ("projects:metric_reading_edit", "post"): ("metric_reading", project_editor(200)),
    ("projects:metric_reading_delete", "get"): ("metric_reading", project_editor(200)),
    ("projects:metric_reading_delete", "post"): ("metric_reading", project_editor(302)),
    # alignment
    ("alignment:dashboard", "get"): (None, read()),
    ("alignment:map", "get"): (None, read()),
    ("alignment:map_flow", "get"): (None, read()),
    ("alignment:map_goal", "get"): ("goal", read()),
    ("alignment:map_business_strategy", "get"): ("business_strategy", read()),
    ("alignment:map_crm_strategy", "get"): ("crm_strategy", read()),
    ("alignment:map_project", "get"): ("project", read()),
    ("alignment:map_not_traced", "get"): (None, read()),
    ("alignment:map_not_traced_features", "get"): (None, read()),
    ("alignment:matrix", "get"): (None, read()),
    ("alignment:flags", "get"): (None, read()),
    ("alignment:project_flags", "get"): ("project", read()),
    ("alignment:project_readiness", "get"): ("project", read()),
    ("alignment:project_approve", "post"): ("project", sponsor_decision(302)),
    # Without a comment: refused with a message naming it, back on the project page (302).
    ("alignment:project_reject", "post"): ("project", sponsor_decision(302)),
    ("alignment:project_send_back", "post"): ("project", sponsor_decision(302)),
    ("alignment:scan", "post"): (None, scan_starter(302)),
    ("alignment:flag_acknowledge", "post"): ("flag", sponsor_decision(302)),
    ("alignment:flag_waive", "post"): ("flag", sponsor_decision(400)),  # no reason given
    # No flag selected: the form again, 400. Which flags a user may decide is answered per
    # flag (tests/web/test_flag_inbox_scales.py).
    ("alignment:flag_bulk", "post"): (None, read(400)),
    ("alignment:scan_status", "get"): ("scan", read()),
    # A change that can break chains, with its impact first (kind:change).
    ("alignment:change_goal", "get"): ("goal:retire", strategist(200)),
    ("alignment:change_goal", "post"): ("goal:retire", strategist(302)),
    ("alignment:change_business_strategy", "get"): ("business_strategy:retire", strategist(200)),
    ("alignment:change_business_strategy", "post"): ("business_strategy:retire", strategist(302)),
    ("alignment:change_crm_strategy", "get"): ("crm_strategy:retire", strategist(200)),
    ("alignment:change_crm_strategy", "post"): ("crm_strategy:retire", strategist(302)),
    ("alignment:change_project", "get"): ("project:cancel", project_editor(200)),
    ("alignment:change_project", "post"): ("project:cancel", project_editor(302)),
    # the spreadsheet: the Import page re-renders its form without a file (200)
    ("onboarding:import", "get"): (None, importer(200)),
    ("onboarding:import", "post"): (None, importer(200)),
    ("onboarding:job", "get"): ("import_job", own_job(200)),
    ("onboarding:job_status", "get"): ("import_job", own_job(200)),
    # The job is no finished check, so applying it is refused with a message (302 back).
    ("onboarding:apply", "post"): (
        "import_job",
        {
            "own": importer(302),
            "other": importer(404) | {"admin": 302},
        },
    ),
    ("onboarding:template", "get"): (None, read()),
    ("onboarding:demo", "get"): (None, read()),
    ("onboarding:export", "get"): (None, read()),
    ("onboarding:goals_csv", "get"): (None, read()),
    ("onboarding:projects_csv", "get"): (None, read()),
    ("onboarding:flags_csv", "get"): (None, read()),
    ("reports:board", "get"): (None, board_reader(200)),
    ("reports:monthly", "post"): (None, board_reader(302)),
    ("reports:board_pdf", "get"): (None, board_reader(200)),
    ("reports:job", "get"): ("report_job", own_report(200)),
    ("reports:job_status", "get"): ("report_job", own_report(200)),
    ("reports:job_pdf", "get"): ("report_job", own_report(200)),
    # The monthly mail's one-click link: public, its signed token the proof (a damaged one: 400).
    ("reports:unsubscribe", "get"): ("unsubscribe_link", public(400)),
    ("reports:unsubscribe", "post"): ("unsubscribe_link", public(400)),
    # history (crm_alignment.history): an object's History tab, for everyone who reads it;
    # the Activity page for executives, sponsors and admins; restoring (these objects exist,
    # so a permitted restore redirects saying there is nothing to restore).
    ("activity", "get"): (None, read(404) | {"executive": 200, "sponsor": 200, "admin": 200}),
    ("object_history", "get"): ("history:project", read()),
    ("history_restore", "post"): ("history:project", read(403) | {"executive": 302, "admin": 302}),
    # notifications: each signed-in person's own list and preferences (an empty POST of the
    # preferences is a form error, 400); opening a notification marks it read and goes to its
    # subject, someone else's is 404; the mails' unsubscribe link works signed out (token).
    ("notifications:list", "get"): (None, signed_in(200)),
    ("notifications:read_all", "post"): (None, signed_in(302)),
    ("notifications:preferences", "get"): (None, signed_in(200)),
    ("notifications:preferences", "post"): (None, signed_in(400)),
    (
        "notifications:open",
        "post",
    ): ("notification", {"own": signed_in(404) | {"executive": 302}, "other": signed_in(404)}),
    ("notifications:unsubscribe", "get"): ("unsubscribe", public(200)),
    ("notifications:unsubscribe", "post"): ("unsubscribe", public(200)),
}


def test_every_page_route_is_in_the_matrix():
    routes = page_routes()
    assert routes, "no page routes found"
    covered = {name for name, _ in MATRIX}
    missing = sorted(routes - covered)
    stale = sorted(covered - routes)
    assert not missing, f"page routes without expected answers: {missing}"
    assert not stale, f"matrix rows for page routes that no longer exist: {stale}"


def _notification_for(user):
    from core import events
    from notifications import services

    services.record(
        [
            events.Event(
                type=events.JOB_FINISHED,
                key=f"matrix:{user.pk}",
                subject_kind="import",
                subject_id=1,
                subject_title="portfolio.xlsx",
                path="/import/",
                summary="Your import finished",
                recipients=(user.pk,),
            )
        ]
    )
    return user.notifications.get()


def _url(w, url_name, kind, side):
    if kind == "notification":
        from tests.factories import UserFactory

        owner = w.users["executive"] if side == "own" else UserFactory(username="someone-else")
        return reverse(url_name, kwargs={"pk": _notification_for(owner).pk})
    if kind == "unsubscribe":
        from notifications.services import unsubscribe_token

        return reverse(url_name, args=[unsubscribe_token(w.users["viewer"].pk, "digest.weekly")])
    if kind == "reset_link":
        return reverse(url_name, kwargs={"uidb64": "Mg", "token": "set-password"})
    if kind == "unsubscribe_link":
        return reverse(url_name, kwargs={"token": "not-a-signed-token"})
    if kind and kind.startswith("history:"):
        kind = kind.removeprefix("history:")
        return reverse(url_name, kwargs={"kind": kind, "pk": w.objects[side][kind].pk})
    kind, _, change = (kind or "").partition(":")
    kwargs = {"pk": w.objects[side][kind].pk} if kind else {}
    if change:
        kwargs["change"] = change
    return reverse(url_name, kwargs=kwargs)


def _request(w, url_name, method, kind, role, side):
    client = Client()
    user = w.users[role]
    if user is not None:
        client.force_login(user)
    with transaction.atomic():
        response = getattr(client, method)(_url(w, url_name, kind, side))
        transaction.set_rollback(True)
    return response


@pytest.mark.parametrize(("url_name", "method"), sorted(MATRIX))
def test_page_answers_each_role_as_the_matrix_says(world, url_name, method):  # noqa: F811
    kind, expected = MATRIX[(url_name, method)]
    by_side = expected if "own" in expected else {"own": expected, "other": expected}
    wrong = []
    for side in OWNERSHIP if kind else OWNERSHIP[:1]:
        for role in ROLES:
            response = _request(world, url_name, method, kind, role, side)
            if response.status_code != by_side[side][role]:
                wrong.append(
                    f"{role}/{side}: {response.status_code} (expected {by_side[side][role]})"
                )
    assert not wrong, f"{method.upper()} {url_name}:\n" + "\n".join(wrong)


def test_an_anonymous_visitor_is_sent_to_sign_in_and_comes_back(client):
    response = client.get(reverse("goals:list"))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={reverse('goals:list')}"


def test_a_new_page_is_closed_to_users_without_a_role_unless_it_says_otherwise(rf, nobody):
    """Default-deny: a view that declares nothing needs a role, before its own code runs."""
    from django.http import Http404, HttpResponse

    from core.middleware import DefaultDenyMiddleware

    ran = []

    def brand_new_page(request):
        ran.append(True)
        return HttpResponse("secret")

    request = rf.get("/somewhere/")
    request.user = nobody
    request.resolver_match = None
    middleware = DefaultDenyMiddleware(lambda r: HttpResponse())

    with pytest.raises(Http404):
        middleware.process_view(request, brand_new_page, (), {})
    assert ran == []
