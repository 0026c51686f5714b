"""The flag inbox at scale: grouped by rule or by project with a count per group (a page of
groups, then a page of one group's flags), the rule's advice once per group, several flags
acknowledged or waived together, rows that say why the reader cannot act on them, and "Run
scan now" followed until the scan ends."""

import datetime
import re
from html import unescape

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alignment.models import Flag, FlagState, Scan, ScanKind, ScanState
from alignment.services import BULK_MAX
from tests.alignment.test_bulk_decisions import make_flag
from tests.factories import ProjectFactory, UserFactory
from tests.rows import count_rows

pytestmark = pytest.mark.django_db

INBOX = reverse("alignment:flags")
BULK = reverse("alignment:flag_bulk")


def groups_on(response) -> list[tuple[str, int]]:
    """(group key, count) of each group row, in page order."""
    html = response.content.decode()
    rows = re.findall(r'data-group="([^"]*)".*?class="group-count">(\d+)<', html, re.S)
    return [(key, int(count)) for key, count in rows]


def crm_flag() -> Flag:
    """A flag about a CRM strategy: it concerns no project."""
    flag = make_flag(ProjectFactory(), rule="crm.unanchored", subject_type="crm_strategy")
    Flag.objects.filter(pk=flag.pk).update(project=None)
    return flag


def flag_ids_on(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="flag-(\d+)"', response.content.decode())]


@pytest.fixture
def portfolio(sponsor):
    """Two projects of the sponsor: the first with three flags (one critical), the second with
    one; and a project of someone else's with one."""
    first = ProjectFactory(title="Partner portal", sponsor=sponsor)
    second = ProjectFactory(title="Mobile app", sponsor=sponsor)
    other = ProjectFactory(title="Data lake", sponsor=UserFactory(roles=["sponsor"]))
    return {
        "first": first,
        "second": second,
        "other": other,
        "flags": [
            make_flag(first, rule="project.untraced", severity="critical", message="Link it."),
            make_flag(first, rule="project.no_roadmap"),
            make_flag(first, rule="project.no_metrics", severity="info", message="Measure it."),
            make_flag(second, rule="project.no_roadmap"),
            make_flag(other, rule="project.no_roadmap"),
        ],
    }


# --- Grouping -----------------------------------------------------------------------------


def test_grouped_by_rule_each_rule_is_counted_worst_first(as_user, viewer, portfolio):
    response = as_user(viewer).get(INBOX, {"group": "rule"})

    assert response.status_code == 200
    assert groups_on(response) == [
        ("project.untraced", 1),
        ("project.no_roadmap", 3),
        ("project.no_metrics", 1),
    ]


def test_grouped_by_project_each_project_is_counted_with_its_title(as_user, viewer, portfolio):
    response = as_user(viewer).get(INBOX, {"group": "project"})

    first, second, other = (portfolio[k] for k in ("first", "second", "other"))
    # Worst first: the first project has a critical flag; then the larger groups.
    assert groups_on(response)[0] == (str(first.pk), 3)
    assert sorted(groups_on(response)[1:]) == sorted([(str(second.pk), 1), (str(other.pk), 1)])
    html = response.content.decode()
    assert "Partner portal" in html and "Mobile app" in html and "Data lake" in html


def test_grouping_keeps_the_filters_and_the_filter_bar_keeps_the_grouping(
    as_user, viewer, portfolio
):
    response = as_user(viewer).get(INBOX, {"group": "rule", "severity": "warning"})

    assert groups_on(response) == [("project.no_roadmap", 3)]
    # The grouping is a field of the filter bar's form: filtering again keeps it.
    html = response.content.decode()
    bar = html[html.index('class="filters"') : html.index("</form>", html.index('class="filters"'))]
    assert '<select name="group"' in bar and '<option value="rule" selected>' in bar
    # A group's link keeps the filters.
    assert "severity=warning" in re.search(r'href="(\?[^"]*open=project.no_roadmap[^"]*)"', html)[1]


def test_groups_are_paginated(as_user, viewer, portfolio, monkeypatch):
    monkeypatch.setattr("alignment.views.FLAGS_PER_PAGE", 2)
    client = as_user(viewer)

    first = client.get(INBOX, {"group": "rule"})
    second = client.get(INBOX, {"group": "rule", "page": 2})

    assert [key for key, _ in groups_on(first)] == ["project.untraced", "project.no_roadmap"]
    assert groups_on(second) == [("project.no_metrics", 1)]


def test_an_opened_rule_group_lists_its_flags_a_page_at_a_time_with_the_advice_once(
    as_user, viewer, portfolio, monkeypatch
):
    monkeypatch.setattr("alignment.views.FLAGS_PER_PAGE", 2)
    client = as_user(viewer)
    query = {"group": "rule", "open": "project.no_roadmap"}

    first = client.get(INBOX, query)
    second = client.get(INBOX, query | {"page": 2})

    roadmap = {f.pk for f in portfolio["flags"] if f.rule == "project.no_roadmap"}
    assert len(flag_ids_on(first)) == 2 and len(flag_ids_on(second)) == 1
    assert set(flag_ids_on(first) + flag_ids_on(second)) == roadmap
    html = first.content.decode()
    assert html.count("Plan the next releases.") == 1  # the advice, once for the group
    assert html.count("Why it matters:") == 1
    assert "All groups by rule" in html


def test_an_opened_project_group_lists_that_project_s_flags(as_user, viewer, portfolio):
    first = portfolio["first"]

    response = as_user(viewer).get(INBOX, {"group": "project", "open": first.pk})

    assert set(flag_ids_on(response)) == {f.pk for f in portfolio["flags"] if f.project == first}


def test_a_group_that_cannot_exist_is_404_and_an_unknown_grouping_groups_nothing(
    as_user, viewer, portfolio
):
    client = as_user(viewer)

    assert client.get(INBOX, {"group": "project", "open": "abc"}).status_code == 404
    flat = client.get(INBOX, {"group": "colour"})
    assert flat.status_code == 200 and len(flag_ids_on(flat)) == 5


GROUPED = {
    "by rule": {"group": "rule"},
    "by project": {"group": "project"},
    "a rule's group": {"group": "rule", "open": "project.no_roadmap"},
    "a project's group": {"group": "project", "open": "none"},
}


@pytest.mark.parametrize("name", sorted(GROUPED))
def test_a_grouped_inbox_costs_a_page_not_the_portfolio(
    as_user, sponsor, django_assert_num_queries, monkeypatch, name
):
    """The same queries and the same rows fetched for 2 projects as for 60 (pages of 2)."""
    monkeypatch.setattr("alignment.views.FLAGS_PER_PAGE", 2)
    client = as_user(sponsor)

    def grow(n):
        for _ in range(n):
            project = ProjectFactory(sponsor=sponsor)
            make_flag(project)
            make_flag(project, rule="project.untraced", severity="critical")
            crm_flag()

    grow(2)
    client.get(INBOX, GROUPED[name])
    with CaptureQueriesContext(connection) as small, count_rows() as small_rows:
        assert client.get(INBOX, GROUPED[name]).status_code == 200

    grow(58)

    with django_assert_num_queries(len(small.captured_queries)), count_rows() as rows:
        assert client.get(INBOX, GROUPED[name]).status_code == 200
    assert rows.total == small_rows.total, rows.report()


# --- Bulk decisions on the page -------------------------------------------------------------


def in_a_month() -> str:
    return (timezone.localdate() + datetime.timedelta(days=30)).isoformat()


def test_a_sponsor_waives_two_selected_flags_with_one_reason_and_date(as_user, sponsor, portfolio):
    client = as_user(sponsor)
    chosen = portfolio["flags"][:2]

    response = client.post(
        BULK,
        {
            "action": "waive",
            "ids": [f.pk for f in chosen],
            "reason": "Pilot only",
            "expires_on": in_a_month(),
            "next": f"{INBOX}?group=rule",
        },
    )

    assert response.status_code == 302 and response["Location"] == f"{INBOX}?group=rule"
    stored = Flag.objects.filter(pk__in=[f.pk for f in chosen])
    assert {(f.state, f.waiver_reason) for f in stored} == {(FlagState.WAIVED, "Pilot only")}
    until = timezone.localdate() + datetime.timedelta(days=30)
    expected = f"Waived 2 flags until {until:%d %b %Y}."
    assert [str(m) for m in get_messages(response.wsgi_request)] == [expected]


def test_a_sponsor_s_bulk_action_is_refused_for_flags_of_projects_they_do_not_sponsor(
    as_user, sponsor, portfolio
):
    client = as_user(sponsor)
    mine, theirs = portfolio["flags"][1], portfolio["flags"][4]

    response = client.post(BULK, {"action": "acknowledge", "ids": [mine.pk, theirs.pk, 10**9]})

    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Acknowledged 1 flag.",
        "Not acknowledged: Data lake. Only the project's sponsor, an executive or an admin "
        "may act on this flag.",
        "1 selected flag was not found.",
    ]
    assert Flag.objects.get(pk=mine.pk).state == FlagState.ACKNOWLEDGED
    assert Flag.objects.get(pk=theirs.pk).state == FlagState.OPEN


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"reason": ""}, "Reason for the waivers: Say why this flag is waived."),
        ({"expires_on": ""}, "Give the date the waiver expires."),
        ({"expires_on": "2001-01-01"}, "The waiver must expire in the future."),
        ({"expires_on": "soon"}, "Waived until: Enter a date such as 2030-12-31."),
        ({"ids": ["abc"]}, "Selected flags: A flag id must be a whole number."),
        ({"ids": []}, "Selected flags: Select at least one flag."),
        (
            {"ids": [str(n) for n in range(1, BULK_MAX + 2)]},
            f"Select at most {BULK_MAX} flags at a time ({BULK_MAX + 1} were sent).",
        ),
        ({"action": "delete"}, "With the selected flags: Select a valid choice."),
    ],
)
def test_bad_bulk_input_shows_the_form_again_naming_the_field_and_decides_nothing(
    as_user, sponsor, portfolio, data, error
):
    client = as_user(sponsor)
    payload = {
        "action": "waive",
        "ids": [f.pk for f in portfolio["flags"][:2]],
        "reason": "Pilot only",
        "expires_on": in_a_month(),
    }

    response = client.post(BULK, payload | data)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert set(Flag.objects.values_list("state", flat=True)) == {FlagState.OPEN}


def test_the_bulk_form_carries_a_csrf_token_and_a_post_without_one_is_refused(sponsor, portfolio):
    client = Client(enforce_csrf_checks=True)
    client.force_login(sponsor)
    html = client.get(INBOX).content.decode()
    form = html[html.index('id="flag-bulk"') : html.index("</form>", html.index('id="flag-bulk"'))]
    assert 'name="csrfmiddlewaretoken"' in form
    assert f'value="{portfolio["flags"][0].pk}" form="flag-bulk"' in html

    response = client.post(BULK, {"action": "acknowledge", "ids": [portfolio["flags"][0].pk]})

    assert response.status_code == 403
    assert Flag.objects.get(pk=portfolio["flags"][0].pk).state == FlagState.OPEN


def test_a_reader_who_may_act_on_nothing_is_offered_no_bulk_form(as_user, viewer, portfolio):
    html = as_user(viewer).get(INBOX).content.decode()

    assert 'id="flag-bulk"' not in html and 'form="flag-bulk"' not in html


# --- Why a row cannot be acted on ----------------------------------------------------------


NOT_THEIR_PROJECT = (
    "Only the project's sponsor or an executive can act on this; you do not sponsor it."
)
NO_DECIDING_ROLE = "Only the project's sponsor or an executive can acknowledge or waive this."


def test_rows_the_reader_cannot_act_on_say_why(as_user, sponsor, viewer, portfolio):
    theirs = portfolio["flags"][4]
    sponsor_page = unescape(as_user(sponsor).get(INBOX).content.decode())
    row = sponsor_page[sponsor_page.index(f'id="flag-{theirs.pk}"') :].split("</tr>")[0]
    assert NOT_THEIR_PROJECT in row
    assert 'form="flag-bulk"' not in row

    viewer_page = unescape(as_user(viewer).get(INBOX).content.decode())
    assert viewer_page.count(NO_DECIDING_ROLE) == 5


def test_a_flag_about_no_project_says_only_an_executive_can_act_on_it(as_user, sponsor):
    crm_flag()

    html = unescape(as_user(sponsor).get(INBOX).content.decode())

    assert "Only an executive can acknowledge or waive a flag that concerns no project." in html


# --- Run scan now --------------------------------------------------------------------------


def test_run_scan_now_from_the_inbox_returns_to_the_inbox(as_user, sponsor, portfolio):
    client = as_user(sponsor)
    assert "Run scan now" in client.get(INBOX).content.decode()

    response = client.post(reverse("alignment:scan"), {"next": f"{INBOX}?group=rule"})

    assert response.status_code == 302 and response["Location"] == f"{INBOX}?group=rule"


def test_the_inbox_follows_a_running_scan_and_reloads_when_it_ends(as_user, sponsor):
    client = as_user(sponsor)
    scan = Scan.objects.create(kind=ScanKind.FULL, state=ScanState.RUNNING)
    status_url = reverse("alignment:scan_status", args=[scan.pk])

    html = client.get(INBOX).content.decode()
    assert f'hx-get="{status_url}" data-poll-seconds="2" hx-trigger="poll"' in html

    running = client.get(status_url, headers={"HX-Request": "true"})
    assert running.status_code == 200 and "HX-Refresh" not in running
    assert f"Scan {scan.pk} is running" in running.content.decode()

    Scan.objects.filter(pk=scan.pk).update(state=ScanState.DONE, opened=3, resolved=1)
    ended = client.get(status_url, headers={"HX-Request": "true"})
    assert ended["HX-Refresh"] == "true"
    assert [str(m) for m in get_messages(ended.wsgi_request)] == [
        f"Scan {scan.pk} finished: 3 flags opened, 1 resolved."
    ]
    assert 'id="scan-status"' not in client.get(INBOX).content.decode()


def test_a_scan_s_status_is_404_to_a_user_without_a_role(client):
    scan = Scan.objects.create(kind=ScanKind.FULL, state=ScanState.RUNNING)
    client.force_login(UserFactory())

    assert client.get(reverse("alignment:scan_status", args=[scan.pk])).status_code == 404
