"""The board pack of the demo portfolio, read back from the PDF: the cover, the goals, the
headline figures the dashboard shows, a critical flag's explanation, the decisions needed and
the KPIs; a sponsor's decisions are theirs; lists are capped with "and N more"."""

import datetime

import pytest
from django.utils import timezone

from alignment.models import Flag, FlagState, Severity
from alignment.selectors import alignment_summary
from crm_alignment.demo import (
    GOAL_RETENTION,
    GOAL_REVENUE,
    P_DIALLER,
    P_MARKET_FUND,
    P_SOCIAL,
)
from goals.models import KPI
from reports import pack
from tests.factories import ProjectFactory, UserFactory

from .conftest import pdf_text

pytestmark = pytest.mark.django_db


def test_the_demo_board_pack_shows_goals_figures_flags_decisions_and_kpis(demo):
    executive = demo["executive"]
    summary = alignment_summary()

    pdf, scope = pack.render_pdf(executive)
    text = pdf_text(pdf)

    # Cover: date and scope.
    assert "Board pack" in text
    assert f"{timezone.localdate():%B %Y}" in text
    assert scope == "Whole portfolio: 12 live projects; decisions across the portfolio."
    assert "Whole portfolio: 12 live projects" in text
    # The goals, in the investment table and over their KPIs.
    assert GOAL_REVENUE in text and GOAL_RETENTION in text
    # The headline figures, as the dashboard reads them from the latest full scan.
    assert f"{summary['projects_traced_pct']}%" in text
    assert f"{summary['projects_traced']} of {summary['projects_total']} live projects" in text
    assert f"{summary['budget_traced_pct']}%" in text
    assert f"{summary['features_traced_pct']}%" in text
    # A critical flag with its explanation: the dialler's chain breaks at a retired strategy.
    critical = Flag.objects.filter(severity=Severity.CRITICAL, state=FlagState.OPEN)
    assert critical.filter(rule="project.broken_chain", subject_label=P_DIALLER).exists()
    assert (
        f"{P_DIALLER} → CRM strategy “Mid-market telesales lead factory” (active) → business "
        "strategy “Grow mid-market revenue through direct telesales” (retired on"
    ) in text
    assert f"{critical.count()} open critical flags" in text
    # Decisions needed: the proposals waiting (an executive decides on all of them).
    assert P_MARKET_FUND in text and P_SOCIAL in text
    # KPIs per goal with baseline, target and current.
    kpi = KPI.objects.filter(goal__title=GOAL_REVENUE, current__isnull=False).first()
    assert kpi is not None
    assert f"{kpi.name}" in text and f"{kpi.baseline} {kpi.target} {kpi.current}" in text


def test_a_sponsors_decisions_are_the_projects_they_sponsor(demo):
    sponsor = demo["sponsor"]

    context = pack.board_pack_context(sponsor)

    approvals = {project.title for project in context["approvals"].rows}
    # The market fund is the demo sponsor's proposal; the social pilot has no sponsor.
    assert approvals == {P_MARKET_FUND}
    assert context["scope"].endswith("decisions on the projects you sponsor.")
    # The portfolio's figures are the same for every reader (everyone with a role reads all).
    assert context["projects_live"] == 12


def test_waivers_expiring_within_30_days_are_decisions_of_the_projects_sponsor(demo):
    sponsor, executive = demo["sponsor"], demo["executive"]
    flag = Flag.objects.filter(project__sponsor=sponsor, state=FlagState.OPEN).first()
    far = Flag.objects.filter(project__sponsor=executive, state=FlagState.OPEN).first()
    soon = timezone.now() + datetime.timedelta(days=5)
    later = timezone.now() + datetime.timedelta(days=60)
    for item, expires in ((flag, soon), (far, later)):
        item.state, item.waiver_reason, item.waiver_expires_at = "waived", "Pilot", expires
        item.waived_by = executive
        item.save()

    for_sponsor = pack.board_pack_context(sponsor)["waivers"]
    for_executive = pack.board_pack_context(executive)["waivers"]

    assert [f.pk for f in for_sponsor.rows] == [flag.pk]
    # The executive sees the one expiring soon, not the one in 60 days.
    assert [f.pk for f in for_executive.rows] == [flag.pk]


def test_lists_are_capped_and_count_the_rest_in_a_fixed_number_of_queries(
    db, django_assert_max_num_queries
):
    executive = UserFactory(username="boss", roles=["executive"])
    ProjectFactory.create_batch(3, status="proposed")
    assert pack.may_get_board_pack(executive)  # reads (and caches) the roles once
    with django_assert_max_num_queries(30) as few:
        small = pack.board_pack_context(executive)
    ProjectFactory.create_batch(pack.PACK_LIST_CAP + 5, status="proposed")
    with django_assert_max_num_queries(30) as many:
        large = pack.board_pack_context(executive)

    assert len(many.captured_queries) == len(few.captured_queries)
    assert small["approvals"].total == 3 and small["approvals"].more == 0
    assert len(large["approvals"].rows) == pack.PACK_LIST_CAP
    assert large["approvals"].total == pack.PACK_LIST_CAP + 8
    assert "and 8 more" in pack.render_html(large)


def test_the_pack_draws_the_dashboards_charts_in_its_colours_and_the_dashboard_stays_inline_free(
    demo, client
):
    html = pack.render_html(pack.board_pack_context(demo["executive"]))

    # The dashboard's trend chart, spend split and investment bars, each SVG carrying the
    # pack's colours inside it (WeasyPrint styles an SVG from nothing else).
    chart = html[html.index('<svg class="chart"') :]
    chart = chart[: chart.index("</svg>")]
    assert "<style>" in chart and ".series--projects { stroke: #1f4fd1; }" in chart
    assert chart.count("<polyline") == 3
    assert '<rect class="split__tech"' in html and '<rect class="bar__fill"' in html
    # The page itself keeps no inline style (its Content-Security-Policy allows none).
    client.force_login(demo["executive"])
    dashboard = client.get("/alignment/").content.decode()
    assert '<svg class="chart"' in dashboard and "<style>" not in dashboard
