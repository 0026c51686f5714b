"""The sponsor's pages through HTTP: dashboard, strategy map, matrix, flag inbox, partials."""

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alignment import engine
from alignment.models import Flag, FlagState, Scan, ScanState, Snapshot
from projects.models import ProjectStatus
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    FeatureFactory,
    FeatureLinkFactory,
    GoalFactory,
    ProjectFactory,
    ProjectLinkFactory,
)

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"  # between the currency code and the amount

PAGES = ["alignment:dashboard", "alignment:map", "alignment:matrix", "alignment:flags"]
ROLES = ["executive", "pm", "sponsor", "viewer", "admin_user"]


def make_flag(project=None, *, rule="project.untraced", severity="critical", **fields):
    """A flag as the engine would write it, on a project (made if not given)."""
    project = project or ProjectFactory()
    now = timezone.now()
    defaults = {
        "subject_type": "project",
        "subject_id": project.pk,
        "subject_label": project.title,
        "message": "Link this project to the CRM strategy it serves.",
        "state": FlagState.OPEN,
        "first_seen": now,
        "last_seen": now,
    }
    defaults.update(fields)
    return Flag.objects.create(rule=rule, severity=severity, project=project, **defaults)


def future_day(days=30):
    return (timezone.localdate() + datetime.timedelta(days=days)).isoformat()


@pytest.fixture
def as_user(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


# --- Who sees the pages -------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", PAGES)
def test_every_role_sees_each_alignment_page(request, as_user, role, page):
    user = request.getfixturevalue(role)
    make_flag()

    response = as_user(user).get(reverse(page))

    assert response.status_code == 200
    assert b'href="/static/alignment/alignment.css"' in response.content


@pytest.mark.parametrize("page", PAGES)
def test_a_user_without_a_role_gets_404_on_each_page(as_user, nobody, page):
    assert as_user(nobody).get(reverse(page)).status_code == 404


@pytest.mark.parametrize("page", PAGES)
def test_an_anonymous_visitor_is_sent_to_log_in(client, page):
    response = client.get(reverse(page))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_user_without_a_role_cannot_reach_flags_or_their_actions(as_user, nobody):
    flag = make_flag()
    client = as_user(nobody)

    assert client.get(reverse("alignment:project_flags", args=[flag.project_id])).status_code == 404
    assert client.post(reverse("alignment:flag_acknowledge", args=[flag.pk])).status_code == 404
    assert client.get(reverse("alignment:flag_waive", args=[flag.pk])).status_code == 404
    flag.refresh_from_db()
    assert flag.state == FlagState.OPEN


# --- Dashboard ----------------------------------------------------------------------------


def test_dashboard_shows_the_share_of_projects_and_budget_that_trace(as_user, viewer):
    traced = ProjectFactory(budget_technology=Decimal("3000"), budget_people=Decimal("0"))
    ProjectLinkFactory(project=traced)
    ProjectFactory(budget_technology=Decimal("1000"), budget_people=Decimal("0"))  # untraced
    engine.scan_full()

    html = as_user(viewer).get(reverse("alignment:dashboard")).content.decode()

    assert "1 of 2 live projects" in html
    assert "75%" in html  # 3,000 of 4,000
    assert f"EUR{NBSP}3,000.00 of EUR{NBSP}4,000.00" in html


def test_dashboard_shows_a_thousand_over_three_goals_as_shares_that_add_up(
    as_user, sponsor, settings
):
    settings.CURRENCY = "USD"
    goals = [GoalFactory(title=f"Goal {i}") for i in (1, 2, 3)]
    crm = CRMStrategyFactory(serves=[BusinessStrategyFactory(goal=goal) for goal in goals])
    ProjectLinkFactory(
        project=ProjectFactory(budget_technology=Decimal("1000"), budget_people=Decimal("0")),
        crm_strategy=crm,
    )
    engine.scan_full()

    html = as_user(sponsor).get(reverse("alignment:dashboard")).content.decode()

    by_goal = html[html.index('id="by-goal-heading"') : html.index('id="by-bs-heading"')]
    assert by_goal.count(f"USD{NBSP}333.33") == 2
    assert by_goal.count(f"USD{NBSP}333.34") == 1
    assert by_goal.count('data-share="33"') == 2
    assert by_goal.count('data-share="34"') == 1
    assert f"USD{NBSP}1,000.00 of USD{NBSP}1,000.00" in html  # the budget that traces
    assert "add up exactly to the budget that traces" in html
    assert f"EUR{NBSP}" not in html  # (a bare "EUR" may occur in a CSRF token)


def test_dashboard_shows_investment_by_goal_and_the_sharing_rule(as_user, sponsor):
    crm = CRMStrategyFactory()
    goal = crm.serves.get().business_strategy.goal
    ProjectLinkFactory(
        project=ProjectFactory(budget_technology=Decimal("1200"), budget_people=Decimal("800")),
        crm_strategy=crm,
    )
    engine.scan_full()

    html = as_user(sponsor).get(reverse("alignment:dashboard")).content.decode()

    assert f'data-investment="{goal.title}"' in html
    assert 'data-amount="2000.00"' in html
    assert "How money is shared out" in html


def test_dashboard_says_how_old_its_figures_are(as_user, viewer):
    ProjectLinkFactory()
    engine.scan_full()
    taken = timezone.now() - datetime.timedelta(minutes=3)
    Snapshot.objects.update(taken_at=taken)

    html = as_user(viewer).get(reverse("alignment:dashboard")).content.decode()

    local = timezone.localtime(taken)
    assert f"Figures as of the full scan at {local:%H:%M}" in html
    assert f"3{NBSP}minutes ago" in html
    assert "1 of 1 live projects" in html


def test_dashboard_shows_the_last_scans_figures_not_live_ones(as_user, viewer):
    ProjectLinkFactory()
    engine.scan_full()
    ProjectFactory()  # after the scan

    client = as_user(viewer)
    assert "1 of 1 live projects" in client.get(reverse("alignment:dashboard")).content.decode()
    engine.scan_full()
    assert "1 of 2 live projects" in client.get(reverse("alignment:dashboard")).content.decode()


def test_dashboard_before_any_full_scan_says_so_and_computes_nothing(as_user, sponsor):
    ProjectLinkFactory()
    make_flag(severity="critical")

    html = as_user(sponsor).get(reverse("alignment:dashboard")).content.decode()

    assert "No full scan has recorded figures yet." in html
    assert not re.search(r"\d+ of \d+ live projects", html) and "data-investment" not in html
    assert html.count("Not recorded yet") == 4  # both investments, spend, untraced features
    assert "1 critical" in html  # open flags are live


def test_dashboard_counts_open_flags_by_severity_and_rule(as_user, viewer):
    make_flag(severity="critical")
    make_flag(rule="project.no_roadmap", severity="warning")
    make_flag(rule="project.no_roadmap", severity="warning", state=FlagState.RESOLVED)

    html = as_user(viewer).get(reverse("alignment:dashboard")).content.decode()

    assert "1 critical" in html
    assert "1 warning" in html
    assert 'data-rule="project.no_roadmap"' in html


def snapshot_at(when, *, traced, budget_traced="0"):
    scan = Scan.objects.create(state=ScanState.DONE, finished_at=when)
    return Snapshot.objects.create(
        scan=scan,
        taken_at=when,
        projects_total=4,
        projects_traced=traced,
        budget_total=Decimal("1000"),
        budget_traced=Decimal(budget_traced),
        open_by_severity={"critical": 2},
    )


def test_dashboard_draws_the_trend_by_day_the_last_scan_of_each_with_dates(as_user, viewer):
    today = timezone.localdate()
    first_day = today - datetime.timedelta(days=4)

    def at(day, hour):
        return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))

    snapshot_at(at(first_day, 9), traced=1)
    snapshot_at(at(first_day, 16), traced=2, budget_traced="120.5")  # the day's last
    snapshot_at(at(today, 8), traced=3)  # nothing in the three days between

    html = as_user(viewer).get(reverse("alignment:dashboard")).content.decode()

    chart = html[html.index('<svg class="chart"') : html.index("</svg>", html.index('"chart"'))]
    assert '<title id="trend-title">' in chart
    assert chart.count('<circle class="dot') == 3 * 2  # three series, two days
    labels = [f"{first_day.day} {first_day:%b}", f"{today.day} {today:%b}"]
    for label in labels:
        assert f'text-anchor="middle">{label}</text>' in chart  # dates on the axis
    assert "2 days with a full scan" in html
    table = html[html.index('data-table="trend"') :]
    assert table.count("<tr data-day=") == 2
    assert f'data-day="{first_day:%Y-%m-%d}"' in table and f'data-day="{today:%Y-%m-%d}"' in table
    assert '<td class="num">50%</td>' in table  # 2 of 4: the first day's last scan
    assert '<td class="num">25%</td>' not in table  # its earlier scan is not a point
    assert '<td class="num">75%</td>' in table
    assert f"EUR{NBSP}120.50 of EUR{NBSP}1,000.00" in table  # the amount, with its currency


def test_before_any_scan_the_trend_says_to_run_one_and_offers_the_button(as_user, sponsor):
    html = as_user(sponsor).get(reverse("alignment:dashboard")).content.decode()

    empty = html[html.index('data-empty="trend"') :]
    assert "Run a scan to see the trend." in empty
    assert f'action="{reverse("alignment:scan")}"' in empty[: empty.index("</section>")]
    assert '<svg class="chart"' not in html


def test_before_any_scan_a_viewer_is_told_who_can_run_one(as_user, viewer):
    html = as_user(viewer).get(reverse("alignment:dashboard")).content.decode()

    empty = html[html.index('data-empty="trend"') :]
    empty = empty[: empty.index("</section>")]
    assert "Run a scan to see the trend." in empty
    assert "A sponsor, an executive or an administrator can run one" in empty
    assert "<form" not in empty


def test_dashboard_bars_print_their_amount_with_its_currency(as_user, viewer, settings):
    settings.CURRENCY = "CHF"
    crm = CRMStrategyFactory()
    ProjectLinkFactory(
        project=ProjectFactory(budget_technology=Decimal("1200.5"), budget_people=Decimal("0")),
        crm_strategy=crm,
    )
    ProjectFactory()  # untraced: a flag, so a rule bar
    engine.scan_full()

    html = as_user(viewer).get(reverse("alignment:dashboard")).content.decode()

    by_goal = html[html.index('id="by-goal-heading"') : html.index('id="by-bs-heading"')]
    assert f'<span class="bar__value">CHF{NBSP}1,200.50</span>' in by_goal
    rules = html[html.index('id="rules-heading"') : html.index('id="trend-heading"')]
    assert '<span class="bar__value">1</span>' in rules  # the untraced project's flag
    assert 'class="bar bar--critical"' in rules  # coloured by the rule's severity


def test_only_those_who_may_scan_see_the_scan_button(as_user, sponsor, pm):
    assert b"Run scan now" in as_user(sponsor).get(reverse("alignment:dashboard")).content
    assert b"Run scan now" not in as_user(pm).get(reverse("alignment:dashboard")).content


def test_a_sponsor_runs_a_scan_from_the_dashboard(
    as_user, sponsor, django_capture_on_commit_callbacks
):
    ProjectFactory()  # untraced: the scan flags it

    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(sponsor).post(reverse("alignment:scan"), follow=True)

    scan = Scan.objects.get()
    assert scan.requested_by == sponsor
    assert scan.state == ScanState.DONE
    assert Flag.objects.filter(rule="project.untraced").exists()
    # In a test the commit hooks run after the response, so the page still says "queued".
    assert f"Scan {scan.pk} is queued".encode() in response.content


def test_a_scan_that_failed_to_start_says_why_on_the_dashboard(as_user, sponsor, monkeypatch):
    from alignment import views

    def queue_refused(*, actor):
        return Scan.objects.create(
            requested_by=actor, state=ScanState.FAILED, error="the task queue did not accept it"
        )

    # Outside a test's transaction the commit hook runs inside scan_request; stand in for that.
    monkeypatch.setattr(views, "scan_request", queue_refused)
    response = as_user(sponsor).post(reverse("alignment:scan"), follow=True)

    scan = Scan.objects.get()
    assert f"Scan {scan.pk} failed: the task queue did not accept it" in response.content.decode()


@pytest.mark.parametrize("role", ["pm", "viewer"])
def test_those_who_may_not_scan_get_403(request, as_user, role):
    response = as_user(request.getfixturevalue(role)).post(reverse("alignment:scan"))

    assert response.status_code == 403
    assert not Scan.objects.exists()


def test_the_scan_button_only_answers_post(as_user, sponsor):
    assert as_user(sponsor).get(reverse("alignment:scan")).status_code == 405


# --- Strategy map -------------------------------------------------------------------------


def test_map_shows_the_chain_and_hangs_untraced_items_loose(as_user, viewer):
    link = ProjectLinkFactory(rationale="Partners sell locally.")
    feature = FeatureLinkFactory(
        feature=FeatureFactory(project=link.project), crm_strategy=link.crm_strategy
    ).feature
    loose = ProjectFactory(title="Shiny dashboard")
    loose_feature = FeatureFactory(project=link.project, title="Gamified leaderboard")
    client = as_user(viewer)
    business = link.crm_strategy.serves.get().business_strategy

    html = client.get(reverse("alignment:map")).content.decode()
    crm = client.get(reverse("alignment:map_business_strategy", args=[business.pk])).content
    projects = client.get(reverse("alignment:map_crm_strategy", args=[link.crm_strategy.pk]))
    features = client.get(
        reverse("alignment:map_project", args=[link.project.pk]) + f"?crm={link.crm_strategy.pk}"
    )
    not_traced = client.get(reverse("alignment:map_not_traced")).content.decode()
    loose_features = client.get(reverse("alignment:map_not_traced_features")).content.decode()

    chain, _loose_part = html.split('id="not-traced"')
    assert business.goal.title in chain and business.title in chain
    assert "<details" in chain and "<summary>" in chain
    assert link.crm_strategy.title.encode() in crm
    assert b"Partners sell locally." in projects.content
    assert link.project.title.encode() in projects.content
    assert feature.title.encode() in features.content
    assert loose.title not in chain and loose.title in not_traced
    assert loose_feature.title in loose_features
    assert "map-node--loose" in not_traced


def test_map_leaves_done_projects_out_unless_asked(as_user, viewer):
    link = ProjectLinkFactory(project=ProjectFactory(title="Old campaign", status="done"))
    client = as_user(viewer)
    branch = reverse("alignment:map_crm_strategy", args=[link.crm_strategy.pk])

    assert b"Old campaign" not in client.get(branch).content
    assert b"Old campaign" in client.get(branch + "?history=on").content


# --- Matrix -------------------------------------------------------------------------------


def test_matrix_marks_links_with_their_rationale_and_untraced_rows(as_user, viewer):
    link = ProjectLinkFactory(rationale="Enables partner onboarding")
    ProjectFactory(title="Lonely project")

    html = as_user(viewer).get(reverse("alignment:matrix")).content.decode()

    assert 'title="Enables partner onboarding"' in html
    assert f'data-crm="{link.crm_strategy_id}"' in html
    assert "Untraced: linked to no CRM strategy" in html
    assert html.count('class="row--loose"') == 1


def test_matrix_marks_a_strategy_that_is_not_anchored_in_danger_not_in_green(as_user, viewer):
    loose = CRMStrategyFactory(title="Loose strategy", serves=[])  # active, serves nothing
    ProjectLinkFactory(crm_strategy=loose)
    draft = CRMStrategyFactory(title="Draft strategy", serves=[], status="draft")
    ProjectLinkFactory(crm_strategy=draft)

    html = as_user(viewer).get(reverse("alignment:matrix")).content.decode()

    column = html[html.index(f'data-crm="{loose.pk}"') :]
    column = column[: column.index("</th>")]
    assert '<span class="badge badge--untraced">Not anchored</span>' in column
    assert "badge--active" not in column
    draft_column = html[html.index(f'data-crm="{draft.pk}"') :]
    draft_column = draft_column[: draft_column.index("</th>")]
    assert '<span class="badge badge--draft">draft</span>' in draft_column


def test_matrix_filters_by_status_and_paginates(as_user, viewer):
    for n in range(30):
        ProjectFactory(title=f"Project {n:02}")
    ProjectFactory(title="Shelved", status=ProjectStatus.ON_HOLD)
    client = as_user(viewer)

    on_hold = client.get(reverse("alignment:matrix") + "?status=on_hold").content.decode()
    page_two = client.get(reverse("alignment:matrix") + "?page=2").content.decode()

    assert "Shelved" in on_hold and "Project 00" not in on_hold
    assert "Project 29" in page_two and "Project 00" not in page_two
    assert "26\u201331 of 31" in page_two


def test_a_later_page_of_the_matrix_marks_its_own_rows_and_skips_the_others_cheaply(
    as_user, viewer
):
    for n in range(26):
        ProjectLinkFactory(project=ProjectFactory(title=f"Project {n:02}"))
    ProjectFactory(title="Project 99 unlinked")
    client = as_user(viewer)

    with CaptureQueriesContext(connection) as queries:
        page_two = client.get(reverse("alignment:matrix") + "?page=2").content.decode()

    assert "Project 25" in page_two and "Project 99 unlinked" in page_two
    assert "Project 24" not in page_two
    assert page_two.count('class="row--loose"') == 1
    assert "Untraced: linked to no CRM strategy" in page_two
    # The rows before the page are skipped by their ids alone: no per-row figure for them.
    skipping = [q["sql"] for q in queries if "OFFSET 25" in q["sql"]]
    assert len(skipping) == 1 and "EXISTS" not in skipping[0]


def test_matrix_shows_the_crm_strategies_a_page_of_columns_at_a_time(as_user, viewer, monkeypatch):
    monkeypatch.setattr("alignment.views.MATRIX_STRATEGIES_PER_PAGE", 2)
    strategies = [CRMStrategyFactory(title=title) for title in ("Alpha", "Bravo", "Charlie")]
    project = ProjectFactory(title="Linked everywhere")
    for strategy in strategies:
        ProjectLinkFactory(project=project, crm_strategy=strategy, rationale=f"For {strategy}")
    client = as_user(viewer)

    first = client.get(reverse("alignment:matrix") + "?status=all").content.decode()
    later = client.get(reverse("alignment:matrix") + "?status=all&columns=2").content.decode()

    headers = re.compile(r'<th scope="col" data-crm="(\d+)"')
    assert headers.findall(first) == [str(strategies[0].pk), str(strategies[1].pk)]
    assert headers.findall(later) == [str(strategies[2].pk)]
    # Cells only under the page's columns; the other filters and the row page are kept.
    assert first.count("cell--linked") == 2 and later.count("cell--linked") == 1
    assert 'title="For Charlie"' in later and 'title="For Charlie"' not in first
    assert "CRM strategies 1\u20132 of 3" in first and "CRM strategies 3\u20133 of 3" in later
    assert 'href="?status=all&amp;columns=2">Later strategies' in first
    assert 'href="?status=all&amp;columns=1">← Earlier strategies' in later


def test_matrix_fetches_a_page_of_columns_however_many_strategies(as_user, viewer):
    """The columns cost the page: 40 strategies or 4, at most a page of them is fetched."""
    from alignment.views import MATRIX_STRATEGIES_PER_PAGE

    project = ProjectFactory(title="Linked")
    for n in range(MATRIX_STRATEGIES_PER_PAGE + 10):
        ProjectLinkFactory(project=project, crm_strategy=CRMStrategyFactory(title=f"S{n:02}"))
    client = as_user(viewer)

    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("alignment:matrix")).content.decode()

    assert html.count('<th scope="col" data-crm=') == MATRIX_STRATEGIES_PER_PAGE
    strategy_reads = [q["sql"] for q in queries if 'FROM "strategies_crmstrategy"' in q["sql"]]
    assert strategy_reads and all("LIMIT" in sql or "COUNT(" in sql for sql in strategy_reads)


def test_matrix_ignores_a_nonsense_status_and_page(as_user, viewer):
    ProjectFactory(title="Visible")

    response = as_user(viewer).get(
        reverse("alignment:matrix") + "?status=bogus&page=zzz&columns=-1"
    )

    assert response.status_code == 200
    assert b"Visible" in response.content


# --- Flag inbox ---------------------------------------------------------------------------


def test_inbox_shows_each_flag_with_what_to_do(as_user, viewer):
    make_flag(message="Link this project to the CRM strategy it serves.")

    html = as_user(viewer).get(reverse("alignment:flags")).content.decode()

    assert "Project serves no CRM strategy" in html  # the rule's title
    assert "What to do:</strong> Link this project" in html
    assert "Why it matters" in html


def test_inbox_filters_by_severity_rule_state_and_subject(as_user, viewer):
    critical = make_flag(severity="critical")
    warning = make_flag(rule="project.no_roadmap", severity="warning")
    resolved = make_flag(rule="project.no_sponsor", state=FlagState.RESOLVED)
    feature = FeatureFactory()
    feature_flag = make_flag(
        feature.project,
        rule="feature.untraced",
        severity="warning",
        subject_type="feature",
        subject_id=feature.pk,
        subject_label="A feature",
    )
    client = as_user(viewer)

    def shown(query):
        html = client.get(reverse("alignment:flags") + query).content.decode()
        return {
            f for f in (critical, warning, resolved, feature_flag) if f'id="flag-{f.pk}"' in html
        }

    assert shown("") == {critical, warning, feature_flag}
    assert shown("?severity=warning") == {warning, feature_flag}
    assert shown("?rule=project.no_roadmap") == {warning}
    assert shown("?state=resolved") == {resolved}
    assert shown("?state=all") == {critical, warning, resolved, feature_flag}
    assert shown("?subject_type=feature") == {feature_flag}
    assert shown(f"?project={feature.project_id}") == {feature_flag}


def test_inbox_mine_shows_flags_of_my_projects(as_user, sponsor):
    mine = make_flag(ProjectFactory(sponsor=sponsor))
    theirs = make_flag()

    html = as_user(sponsor).get(reverse("alignment:flags") + "?mine=true").content.decode()

    assert f'id="flag-{mine.pk}"' in html
    assert f'id="flag-{theirs.pk}"' not in html


def test_inbox_sorts_worst_first_by_default_and_by_subject_on_request(as_user, viewer):
    info = make_flag(ProjectFactory(title="Alpha"), rule="project.stalled", severity="info")
    critical = make_flag(ProjectFactory(title="Zulu"), severity="critical")
    client = as_user(viewer)

    default = client.get(reverse("alignment:flags")).content.decode()
    by_subject = client.get(reverse("alignment:flags") + "?ordering=subject").content.decode()

    assert default.index(f'id="flag-{critical.pk}"') < default.index(f'id="flag-{info.pk}"')
    assert by_subject.index(f'id="flag-{info.pk}"') < by_subject.index(f'id="flag-{critical.pk}"')


@pytest.mark.parametrize(
    "ordering, first",
    [
        ("subject", "alpha"),
        ("-subject", "zulu"),
        ("severity", "zulu"),
        ("-severity", "alpha"),
        ("rule", "zulu"),
        ("-rule", "alpha"),
    ],
)
def test_inbox_sorts_both_ways_by_every_column_header(as_user, viewer, ordering, first):
    flags = {
        "alpha": make_flag(ProjectFactory(title="Alpha"), rule="project.stalled", severity="info"),
        "zulu": make_flag(ProjectFactory(title="Zulu"), rule="project.no_sponsor"),
    }
    second = "zulu" if first == "alpha" else "alpha"

    html = (
        as_user(viewer).get(reverse("alignment:flags") + f"?ordering={ordering}").content.decode()
    )

    assert html.index(f'id="flag-{flags[first].pk}"') < html.index(f'id="flag-{flags[second].pk}"')


def test_every_sort_link_on_the_inbox_is_one_the_inbox_accepts(as_user, viewer):
    import re

    from alignment.filters import FlagFilterSet

    make_flag()
    html = as_user(viewer).get(reverse("alignment:flags")).content.decode()
    offered = set(re.findall(r"ordering=(-?[a-z_]+)", html))
    accepted = {key for key, _ in FlagFilterSet().form.fields["ordering"].choices}

    assert offered, "the inbox offers no sortable column headers"
    assert offered <= accepted


def test_inbox_paginates_and_survives_bad_filters(as_user, viewer):
    for _ in range(27):
        make_flag()
    client = as_user(viewer)

    page_two = client.get(reverse("alignment:flags") + "?page=2").content.decode()
    bad = client.get(reverse("alignment:flags") + "?severity=nope&ordering=drop+table&page=-3")

    assert "26\u201327 of 27" in page_two
    assert bad.status_code == 200


def test_action_buttons_show_only_to_those_who_may_act(as_user, sponsor, viewer, executive):
    other_sponsor_project = ProjectFactory()
    flag_mine = make_flag(ProjectFactory(sponsor=sponsor))
    flag_other = make_flag(other_sponsor_project)

    def actions(user):
        html = as_user(user).get(reverse("alignment:flags")).content.decode()
        return {
            f
            for f in (flag_mine, flag_other)
            if reverse("alignment:flag_acknowledge", args=[f.pk]) in html
        }

    assert actions(sponsor) == {flag_mine}
    assert actions(viewer) == set()
    assert actions(executive) == {flag_mine, flag_other}


# --- Acknowledge ----------------------------------------------------------------------------


def test_the_sponsor_acknowledges_a_flag_and_returns_to_the_inbox(as_user, sponsor):
    flag = make_flag(ProjectFactory(sponsor=sponsor))
    back = reverse("alignment:flags") + "?severity=critical"

    response = as_user(sponsor).post(
        reverse("alignment:flag_acknowledge", args=[flag.pk]), {"next": back}
    )

    assert response.status_code == 302
    assert response["Location"] == back
    flag.refresh_from_db()
    assert flag.state == FlagState.ACKNOWLEDGED
    assert flag.acknowledged_by == sponsor


def test_acknowledge_through_htmx_answers_with_the_updated_row(as_user, sponsor):
    flag = make_flag(ProjectFactory(sponsor=sponsor))

    response = as_user(sponsor).post(
        reverse("alignment:flag_acknowledge", args=[flag.pk]), HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<tr id="flag-{flag.pk}"')
    assert 'data-state="acknowledged"' in html
    assert "<html" not in html


def test_acknowledging_twice_explains_instead_of_failing(as_user, sponsor):
    flag = make_flag(ProjectFactory(sponsor=sponsor), state=FlagState.ACKNOWLEDGED)
    client = as_user(sponsor)

    plain = client.post(reverse("alignment:flag_acknowledge", args=[flag.pk]), follow=True)
    htmx = client.post(
        reverse("alignment:flag_acknowledge", args=[flag.pk]), HTTP_HX_REQUEST="true"
    )

    assert b"Only an open flag can be acknowledged" in plain.content
    assert htmx.status_code == 200
    assert b'role="alert"' in htmx.content


@pytest.mark.parametrize("role", ["viewer", "pm", "sponsor"])
def test_those_who_may_not_act_get_403_on_acknowledge(request, as_user, role):
    flag = make_flag()  # someone else's project

    response = as_user(request.getfixturevalue(role)).post(
        reverse("alignment:flag_acknowledge", args=[flag.pk])
    )

    assert response.status_code == 403
    flag.refresh_from_db()
    assert flag.state == FlagState.OPEN


def test_acknowledging_a_missing_flag_is_404(as_user, executive):
    assert (
        as_user(executive).post(reverse("alignment:flag_acknowledge", args=[999])).status_code
        == 404
    )


def test_acknowledge_refuses_get(as_user, executive):
    flag = make_flag()

    assert (
        as_user(executive).get(reverse("alignment:flag_acknowledge", args=[flag.pk])).status_code
        == 405
    )


def test_acknowledge_never_redirects_off_site(as_user, executive):
    flag = make_flag()

    response = as_user(executive).post(
        reverse("alignment:flag_acknowledge", args=[flag.pk]), {"next": "https://evil.example/"}
    )

    assert response["Location"] == reverse("alignment:flags")


# --- Waive --------------------------------------------------------------------------------


def test_the_sponsor_waives_a_flag_with_a_reason_and_an_expiry(as_user, sponsor):
    flag = make_flag(ProjectFactory(sponsor=sponsor))
    until = timezone.localdate() + datetime.timedelta(days=60)

    response = as_user(sponsor).post(
        reverse("alignment:flag_waive", args=[flag.pk]),
        {"reason": "Pilot in one country first", "expires_on": until.isoformat()},
        follow=True,
    )

    flag.refresh_from_db()
    assert flag.state == FlagState.WAIVED
    assert flag.waiver_reason == "Pilot in one country first"
    assert timezone.localtime(flag.waiver_expires_at).date() == until
    assert flag.waived_by == sponsor
    assert b"Waived until" in response.content


def test_waive_through_htmx_answers_with_the_waived_row(as_user, executive):
    flag = make_flag()

    response = as_user(executive).post(
        reverse("alignment:flag_waive", args=[flag.pk]),
        {"reason": "Accepted for Q3", "expires_on": future_day()},
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<tr id="flag-{flag.pk}"')
    assert 'data-state="waived"' in html
    assert "Accepted for Q3" in html


def test_waive_without_reason_or_expiry_names_both_fields(as_user, sponsor):
    flag = make_flag(ProjectFactory(sponsor=sponsor))

    response = as_user(sponsor).post(
        reverse("alignment:flag_waive", args=[flag.pk]), {"reason": "  ", "expires_on": ""}
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert "Reason: " in html
    assert "Waived until: Choose the date the waiver ends." in html
    flag.refresh_from_db()
    assert flag.state == FlagState.OPEN


def test_waive_with_a_past_expiry_is_refused_naming_the_date(as_user, sponsor):
    flag = make_flag(ProjectFactory(sponsor=sponsor))
    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()

    response = as_user(sponsor).post(
        reverse("alignment:flag_waive", args=[flag.pk]),
        {"reason": "Later", "expires_on": yesterday},
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert response.status_code == 200  # htmx swaps only successful answers: the row, with errors
    assert "Waived until: The waiver must expire in the future." in html
    assert "<details open>" in html
    flag.refresh_from_db()
    assert flag.state == FlagState.OPEN


def test_waive_with_a_nonsense_date_is_refused(as_user, sponsor):
    flag = make_flag(ProjectFactory(sponsor=sponsor))

    response = as_user(sponsor).post(
        reverse("alignment:flag_waive", args=[flag.pk]), {"reason": "x", "expires_on": "soon"}
    )

    assert response.status_code == 400
    assert b"Enter a date such as" in response.content


def test_waive_form_page_works_without_javascript(as_user, sponsor):
    flag = make_flag(ProjectFactory(sponsor=sponsor))

    html = as_user(sponsor).get(reverse("alignment:flag_waive", args=[flag.pk])).content.decode()

    assert f'<label for="id_flag{flag.pk}_reason">Reason' in html
    assert f'<label for="id_flag{flag.pk}_expires_on">Waived until' in html
    assert 'type="date"' in html


@pytest.mark.parametrize("role", ["viewer", "pm", "sponsor"])
def test_those_who_may_not_act_get_403_on_waive(request, as_user, role):
    flag = make_flag()

    response = as_user(request.getfixturevalue(role)).post(
        reverse("alignment:flag_waive", args=[flag.pk]),
        {"reason": "Because", "expires_on": future_day()},
    )

    assert response.status_code == 403
    flag.refresh_from_db()
    assert flag.state == FlagState.OPEN


def test_a_resolved_flag_cannot_be_waived(as_user, executive):
    flag = make_flag(state=FlagState.RESOLVED, resolved_at=timezone.now())

    response = as_user(executive).post(
        reverse("alignment:flag_waive", args=[flag.pk]),
        {"reason": "Because", "expires_on": future_day()},
    )

    assert response.status_code == 400
    assert b"nothing to waive" in response.content


# --- Project flags partial ------------------------------------------------------------------


def test_project_flags_partial_lists_open_flags_with_advice(as_user, viewer):
    project = ProjectFactory()
    open_flag = make_flag(project, message="Link this project to a CRM strategy.")
    make_flag(project, rule="project.no_sponsor", state=FlagState.RESOLVED)
    make_flag(make_flag().project, rule="project.no_roadmap")  # another project's

    response = as_user(viewer).get(reverse("alignment:project_flags", args=[project.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="flag-{open_flag.pk}"' in html
    assert html.count('class="flag flag--') == 1
    assert "<html" not in html


def test_project_flags_partial_says_when_all_is_well(as_user, viewer):
    project = ProjectFactory()

    html = as_user(viewer).get(reverse("alignment:project_flags", args=[project.pk])).content

    assert b"No open flags" in html


def test_project_flags_partial_of_a_missing_project_is_404(as_user, viewer):
    assert as_user(viewer).get(reverse("alignment:project_flags", args=[404404])).status_code == 404


# --- Query counts: the same for 2 and for 50 ---------------------------------------------------


def _portfolio(n, sponsor):
    """n projects, each linked, with a traced and an untraced feature and two flags."""
    for _ in range(n):
        link = ProjectLinkFactory(project=ProjectFactory(sponsor=sponsor))
        FeatureLinkFactory(
            feature=FeatureFactory(project=link.project), crm_strategy=link.crm_strategy
        )
        FeatureFactory(project=link.project)
        make_flag(link.project)
        make_flag(link.project, rule="project.no_roadmap", severity="warning")
    ProjectFactory()  # and an untraced one


@pytest.mark.parametrize("page", PAGES)
def test_query_count_does_not_grow_with_the_portfolio(
    as_user, sponsor, django_assert_num_queries, page
):
    client = as_user(sponsor)
    url = reverse(page)
    _portfolio(2, sponsor)
    client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200

    _portfolio(48, sponsor)

    with django_assert_num_queries(len(small.captured_queries)):
        assert client.get(url).status_code == 200


def test_project_flags_partial_query_count_does_not_grow(
    as_user, viewer, django_assert_num_queries
):
    project = ProjectFactory()
    client = as_user(viewer)
    url = reverse("alignment:project_flags", args=[project.pk])
    make_flag(project)
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    for n in range(49):
        make_flag(project, rule=f"rule.{n}", severity="info")

    with django_assert_num_queries(len(small.captured_queries)):
        client.get(url)


@pytest.mark.parametrize("subject", ["goal", "business_strategy", "crm_strategy", "feature"])
def test_detail_pages_show_flags_needing_attention_but_not_waived_or_resolved(
    as_user, viewer, subject
):
    from tests.factories import (
        BusinessStrategyFactory,
        CRMStrategyFactory,
        FeatureFactory,
        GoalFactory,
    )

    factory, url_name = {
        "goal": (GoalFactory, "goals:detail"),
        "business_strategy": (BusinessStrategyFactory, "strategies:business_detail"),
        "crm_strategy": (CRMStrategyFactory, "strategies:crm_detail"),
        "feature": (FeatureFactory, "projects:feature_detail"),
    }[subject]
    obj = factory()
    now = timezone.now()

    def flag(rule, state, **extra):
        return Flag.objects.create(
            rule=rule,
            severity="warning",
            subject_type=subject,
            subject_id=obj.pk,
            subject_label=str(obj),
            state=state,
            first_seen=now,
            last_seen=now,
            **extra,
        )

    shown = [flag("rule.open", FlagState.OPEN), flag("rule.acknowledged", FlagState.ACKNOWLEDGED)]
    hidden = [
        flag("rule.resolved", FlagState.RESOLVED, resolved_at=now),
        flag(
            "rule.waived",
            FlagState.WAIVED,
            waiver_reason="Accepted for now",
            waiver_expires_at=now + datetime.timedelta(days=3),
        ),
    ]

    html = as_user(viewer).get(reverse(url_name, args=[obj.pk])).content.decode()

    assert all(f'id="flag-{f.pk}"' in html for f in shown)
    assert not any(f'id="flag-{f.pk}"' in html for f in hidden)
