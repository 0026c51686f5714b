"""Signing in and out, passwords, the home page (what needs my attention) and search."""

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from alignment.models import Flag, FlagState
from projects.models import ProjectStatus
from tests.factories import (
    PASSWORD,
    BusinessStrategyFactory,
    CRMStrategyFactory,
    FeatureFactory,
    GoalFactory,
    ProjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def open_flag(project, rule="project.untraced", severity="critical"):
    now = timezone.now()
    return Flag.objects.create(
        rule=rule,
        severity=severity,
        subject_type="project",
        subject_id=project.pk,
        subject_label=project.title,
        project=project,
        message="Link this project to the CRM strategy it serves.",
        state=FlagState.OPEN,
        first_seen=now,
        last_seen=now,
    )


# --- signing in and out -------------------------------------------------------------------


def test_the_login_page_has_labelled_fields_and_a_sign_in_button(client):
    response = client.get(reverse("login"))

    html = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_username">Username' in html
    assert '<label for="id_password">Password' in html
    assert ">Sign in</button>" in html
    assert "csrfmiddlewaretoken" in html


def test_signing_in_lands_on_home(client, pm):
    response = client.post(reverse("login"), {"username": "pm", "password": PASSWORD})

    assert response.status_code == 302
    assert response.url == reverse("home")


def test_a_wrong_password_is_refused_with_a_message(client, pm):
    response = client.post(reverse("login"), {"username": "pm", "password": "nope"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("home"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_logging_out_is_a_post_form_in_the_user_menu(as_user, pm):
    client = as_user(pm)

    page = client.get(reverse("home")).content.decode()
    response = client.post(reverse("logout"))

    assert f'<form method="post" action="{reverse("logout")}">' in page
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_a_user_changes_their_password(as_user, pm):
    client = as_user(pm)

    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-much-better-passphrase-42",
            "new_password2": "a-much-better-passphrase-42",
        },
    )

    assert response.status_code == 302
    pm.refresh_from_db()
    assert pm.check_password("a-much-better-passphrase-42")


def test_a_password_change_with_a_wrong_old_password_shows_the_error(as_user, pm):
    response = as_user(pm).post(
        reverse("password_change"),
        {
            "old_password": "wrong",
            "new_password1": "x-y-z-1234567",
            "new_password2": "x-y-z-1234567",
        },
    )

    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()


def test_a_password_reset_sends_a_link_by_email(client, pm):
    response = client.post(reverse("password_reset"), {"email": pm.email})

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/" in mail.outbox[0].body
    assert mail.outbox[0].to == [pm.email]


def test_an_invalid_reset_link_says_so(client):
    response = client.get(
        reverse("password_reset_confirm", kwargs={"uidb64": "MQ", "token": "bad-token"})
    )

    assert "invalid or has already been used" in response.content.decode()


# --- the layout ---------------------------------------------------------------------------


def test_every_page_has_the_navigation_a_skip_link_and_htmx_with_a_csrf_header(as_user, viewer):
    html = as_user(viewer).get(reverse("home")).content.decode()

    for label in ["Home", "Goals", "Strategies", "Projects", "My projects", "Dashboard"]:
        assert f">{label}</a>" in html
    assert f'href="{reverse("alignment:map")}"' in html
    assert f'href="{reverse("alignment:matrix")}"' in html
    assert f'href="{reverse("alignment:flags")}"' in html
    assert 'class="skip-link" href="#main"' in html
    assert "htmx-2.min.js" in html
    assert 'hx-headers=\'{"X-CSRFToken": "' in html
    assert '<label class="visually-hidden" for="site-search">Search</label>' in html


# --- home ---------------------------------------------------------------------------------


def test_home_shows_a_managers_projects_and_their_open_flags(as_user, pm):
    mine = ProjectFactory(manager=pm, title="Partner portal")
    open_flag(mine)
    open_flag(ProjectFactory(title="Someone else's project"))

    html = as_user(pm).get(reverse("home")).content.decode()

    assert "Partner portal" in html
    assert "project.untraced" in html
    assert "Someone else&#x27;s project" not in html


def test_home_shows_a_sponsor_the_projects_waiting_for_their_approval(as_user, sponsor):
    ProjectFactory(sponsor=sponsor, status=ProjectStatus.PROPOSED, title="Awaiting me")
    ProjectFactory(status=ProjectStatus.PROPOSED, title="Awaiting another sponsor")

    html = as_user(sponsor).get(reverse("home")).content.decode()

    assert "Awaiting me" in html
    assert "Awaiting another sponsor" not in html


def test_home_shows_an_executive_every_open_flag_most_severe_first(as_user, executive):
    open_flag(ProjectFactory(title="Warned"), rule="project.no_roadmap", severity="warning")
    open_flag(ProjectFactory(title="Critical one"))

    html = as_user(executive).get(reverse("home")).content.decode()

    assert html.index("Critical one") < html.index("Warned")


def test_home_tells_a_user_without_a_role_to_ask_for_one(as_user, nobody):
    ProjectFactory(title="Hidden project")

    html = as_user(nobody).get(reverse("home")).content.decode()

    assert "Your account has no role" in html
    assert "Hidden project" not in html


def test_home_makes_the_same_number_of_queries_for_2_and_50_flags(
    as_user, pm, queries_for, django_assert_num_queries
):
    client = as_user(pm)
    for _ in range(2):
        open_flag(ProjectFactory(manager=pm))
    baseline = queries_for(reverse("home"))
    for _ in range(48):
        open_flag(ProjectFactory(manager=pm))

    with django_assert_num_queries(baseline):
        client.get(reverse("home"))


# --- search -------------------------------------------------------------------------------


def test_search_finds_goals_strategies_projects_and_features(as_user, viewer):
    GoalFactory(title="Grow partner revenue")
    BusinessStrategyFactory(title="Partner channel in emerging markets")
    CRMStrategyFactory(title="Enable local partners")
    project = ProjectFactory(title="Partner portal")
    FeatureFactory(project=project, title="Partner deal registration")
    ProjectFactory(title="Unrelated clean-up")

    html = as_user(viewer).get(reverse("search"), {"q": "partner"}).content.decode()

    for title in [
        "Grow partner revenue",
        "Partner channel in emerging markets",
        "Enable local partners",
        "Partner portal",
        "Partner deal registration",
    ]:
        assert title in html
    assert "Unrelated clean-up" not in html


def test_search_runs_one_query_per_type(as_user, viewer, django_assert_num_queries):
    client = as_user(viewer)
    client.get(reverse("search"), {"q": "x"})  # warm up the session
    GoalFactory(title="Partner goal")

    # session + user + roles, the bell's unread count, then goals, business strategies, CRM
    # strategies, projects, features: the same however many match.
    with django_assert_num_queries(9):
        client.get(reverse("search"), {"q": "partner"})


@pytest.mark.postgres
def test_postgresql_answers_a_search_of_projects_and_features_from_their_trigram_index(
    as_user, viewer
):
    """A project's or a feature's title or description containing a term (the search page,
    `?search=` on the API) is found through a trigram index of the upper-cased text, not by
    reading every row: with table and plain index scans priced out, the plan still stands."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    project = ProjectFactory(title="Partner portal")
    FeatureFactory(project=project, title="Deal registration", description="For partners.")
    client = as_user(viewer)
    with CaptureQueriesContext(connection) as captured:
        html = client.get(reverse("search"), {"q": "partner"}).content.decode()
        assert client.get("/api/features/", {"search": "deal"}).json()["count"] == 1
    assert "Partner portal" in html and "Deal registration" in html
    searches = {
        "projects_crmproject": "project_text_search",
        "projects_feature": "feature_text_search",
    }
    checked = 0
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        for query in captured.captured_queries:
            sql = query["sql"]
            for table, index in searches.items():
                if f'FROM "{table}"' in sql and "LIKE" in sql and "COUNT" not in sql:
                    cursor.execute("EXPLAIN " + sql)
                    plan = "\n".join(row[0] for row in cursor.fetchall())
                    assert f"Bitmap Index Scan on {index}" in plan, plan
                    checked += 1
    assert checked == 3  # the page's projects and features, the API's features


def test_search_asks_for_two_characters_at_least(as_user, viewer):
    html = as_user(viewer).get(reverse("search"), {"q": "p"}).content.decode()

    assert "Type at least two characters" in html


def test_search_is_not_found_for_a_user_without_a_role(as_user, nobody):
    assert as_user(nobody).get(reverse("search"), {"q": "partner"}).status_code == 404


def test_a_user_is_greeted_by_name(as_user):
    user = UserFactory(username="amara", first_name="Amara", roles=["viewer"])

    assert "Hello, Amara" in as_user(user).get(reverse("home")).content.decode()


# --- CSRF ----------------------------------------------------------------------------------


def _csrf_client(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_a_page_form_posted_without_the_csrf_token_is_refused(executive):
    from goals.models import BusinessGoal

    client = _csrf_client(executive)

    forged = client.post(reverse("goals:create"), {"title": "Forged", "status": "active"})
    form = client.get(reverse("goals:create"))
    token = form.cookies["csrftoken"].value
    genuine = client.post(
        reverse("goals:create"),
        {"title": "Genuine", "status": "active", "priority": "2", "csrfmiddlewaretoken": token},
    )

    assert forged.status_code == 403
    assert 'name="csrfmiddlewaretoken"' in form.content.decode()
    assert genuine.status_code == 302
    assert list(BusinessGoal.objects.values_list("title", flat=True)) == ["Genuine"]


def test_an_htmx_post_without_the_csrf_header_is_refused(pm):
    from projects.models import Feature

    project = ProjectFactory(manager=pm)
    client = _csrf_client(pm)
    url = reverse("projects:feature_create", args=[project.pk])
    client.get(reverse("projects:detail", args=[project.pk]))  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value

    def fields(title):
        return {
            "new-feature-title": title,
            "new-feature-priority": "1",
            "new-feature-status": "planned",
        }

    forged = client.post(url, fields("Forged"), HTTP_HX_REQUEST="true")
    genuine = client.post(url, fields("Genuine"), HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token)

    assert forged.status_code == 403
    assert genuine.status_code == 200
    assert list(Feature.objects.values_list("title", flat=True)) == ["Genuine"]


# --- attempt limits -------------------------------------------------------------------------


@pytest.fixture
def fresh_throttle(settings):
    """Three reset requests a minute, counted from zero (the cache may be Redis, shared by
    runs). Sign-in attempts have their lockout (tests/web/test_sign_in_lockout.py)."""
    from django.core.cache import cache

    settings.PASSWORD_RESET_THROTTLE = "3/min"
    cache.delete_many([f"throttle_password-reset_{ip}" for ip in IPS])


IPS = ["10.1.1.1", "10.2.2.2", "10.3.3.3"]


def test_password_reset_requests_from_one_address_are_limited(client, viewer, fresh_throttle):
    url = reverse("password_reset")

    answers = [
        client.post(url, {"email": viewer.email}, REMOTE_ADDR=IPS[0]).status_code for _ in range(4)
    ]

    assert answers == [302, 302, 302, 429]
    assert len(mail.outbox) == 3


def test_password_reset_still_works_when_the_cache_is_down(
    client, viewer, fresh_throttle, monkeypatch, caplog
):
    from django.core.cache import cache

    def down(*args, **kwargs):
        raise ConnectionError("cache unreachable")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "set", down)

    response = client.post(reverse("password_reset"), {"email": viewer.email}, REMOTE_ADDR=IPS[1])

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "PasswordResetThrottle not applied" in caplog.text
