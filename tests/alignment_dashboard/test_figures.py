"""The dashboard's figures, checked against a small portfolio computed by hand."""

import datetime
import itertools
from decimal import Decimal
from fractions import Fraction

import pytest

from alignment import dashboard, strategy_map
from alignment.selectors import portfolio_figures
from goals.models import GoalStatus
from projects.models import FeatureStatus, ProjectStatus
from strategies.models import StrategyStatus
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


def money(project_budget: dict) -> dict:
    keys = ("technology", "people", "process", "training", "incentives")
    return {f"budget_{key}": Decimal(project_budget.get(key, 0)) for key in keys}


@pytest.fixture
def portfolio():
    """Two active goals (and a retired one) with their strategies, six projects.

    P1 1000 → A (weight 3) + B (weight 1): A 750 → BS1; B 250 → BS1 125, BS2 125.
    P2  900 → A (no weight) + C (weight 5): mixed weights → evenly: A 450 → BS1; C 450 → BS3
              (C also serves BS4, whose goal is retired, so BS3 gets all of it).
    P3  500 → D (draft CRM strategy): broken chain, not traced.
    P4  300 → no links: untraced.
    P5  200 → C, but done: history, not in the live portfolio.
    P6  100 → A (weight 1) + D (weight 9): only A traces, so A carries all 100 → BS1.
    BS1 = 750 + 125 + 450 + 100 = 1425; BS2 = 125; BS3 = 450. G1 = 1550; G2 = 450.
    """
    g1, g2 = GoalFactory(title="G1"), GoalFactory(title="G2")
    g3 = GoalFactory(title="G3", status=GoalStatus.RETIRED)
    bs1 = BusinessStrategyFactory(goal=g1, title="BS1")
    bs2 = BusinessStrategyFactory(goal=g1, title="BS2")
    bs3 = BusinessStrategyFactory(goal=g2, title="BS3")
    bs4 = BusinessStrategyFactory(goal=g3, title="BS4")
    a = CRMStrategyFactory(title="A", serves=[bs1])
    b = CRMStrategyFactory(title="B", serves=[bs1, bs2])
    c = CRMStrategyFactory(title="C", serves=[bs3, bs4])
    d = CRMStrategyFactory(title="D", serves=[bs3], status=StrategyStatus.DRAFT)
    p1 = ProjectFactory(title="P1", **money({"technology": 600, "people": 400}))
    ProjectLinkFactory(project=p1, crm_strategy=a, weight=3)
    ProjectLinkFactory(project=p1, crm_strategy=b, weight=1)
    p2 = ProjectFactory(title="P2", **money({"technology": 900}))
    ProjectLinkFactory(project=p2, crm_strategy=a)
    ProjectLinkFactory(project=p2, crm_strategy=c, weight=5)
    p3 = ProjectFactory(title="P3", **money({"technology": 250, "training": 250}))
    ProjectLinkFactory(project=p3, crm_strategy=d)
    ProjectFactory(title="P4", **money({"process": 300}))
    p5 = ProjectFactory(title="P5", status=ProjectStatus.DONE, **money({"technology": 200}))
    ProjectLinkFactory(project=p5, crm_strategy=c)
    p6 = ProjectFactory(title="P6", **money({"incentives": 100}))
    ProjectLinkFactory(project=p6, crm_strategy=a, weight=1)
    ProjectLinkFactory(project=p6, crm_strategy=d, weight=9)
    return {"p1": p1, "p2": p2, "p3": p3, "p6": p6, "a": a, "b": b, "c": c, "d": d}


def test_investment_by_business_strategy_follows_weights_then_even_split(portfolio):
    rows = {row["title"]: row for row in dashboard.investment_by_business_strategy()}

    assert set(rows) == {"BS1", "BS2", "BS3"}  # BS4's goal is retired
    assert rows["BS1"]["amount"] == Decimal("1425.00")
    assert rows["BS2"]["amount"] == Decimal("125.00")
    assert rows["BS3"]["amount"] == Decimal("450.00")
    assert rows["BS1"]["projects"] == 3
    assert rows["BS3"]["goal_title"] == "G2"


def test_investment_by_goal_adds_up_to_the_budget_that_traces(portfolio):
    rows = dashboard.investment_by_goal()

    assert [(row["title"], row["amount"], row["projects"]) for row in rows] == [
        ("G1", Decimal("1550.00"), 3),
        ("G2", Decimal("450.00"), 1),
    ]
    assert sum(row["amount"] for row in rows) == Decimal("2000.00")  # P1 + P2 + P6


def _goals_served_by_one_crm_strategy(n: int, prefix: str):
    """n active goals, each with one business strategy, all served by one CRM strategy."""
    strategies = [
        BusinessStrategyFactory(goal=GoalFactory(title=f"{prefix}{i}"), title=f"{prefix}{i} BS")
        for i in range(1, n + 1)
    ]
    return CRMStrategyFactory(title=f"{prefix} CRM", serves=strategies)


def test_a_thousand_over_three_goals_adds_up_to_the_thousand_not_999_99():
    crm = _goals_served_by_one_crm_strategy(3, "G")
    ProjectLinkFactory(project=ProjectFactory(**money({"technology": "1000"})), crm_strategy=crm)

    rows = dashboard.investment_by_goal()

    assert sorted(row["amount"] for row in rows) == [
        Decimal("333.33"),
        Decimal("333.33"),
        Decimal("333.34"),
    ]
    assert sum(row["amount"] for row in rows) == Decimal("1000.00")
    assert portfolio_figures()["budget_traced"] == Decimal("1000.00")
    assert sorted(row["share_pct"] for row in rows) == [33, 33, 34]


@pytest.fixture
def odd_portfolio():
    """Odd amounts over 3 and 7 goals: G1-G3 are served by A, G1-G7 by B (each goal has one
    business strategy per CRM strategy, so a goal can hold two); C serves G7 alone.

    P1    0.01 → A (3 goals).                  P2  999.99 → B (7 goals).
    P3  333.33 → A (weight 1) + B (weight 2).  P4  100.00 → B + C (no weights: evenly).
    P5   12.34 → C, but on hold: still live.   P6   55.55 → A, but done: left out."""
    goals = [GoalFactory(title=f"G{i}") for i in range(1, 8)]
    a = CRMStrategyFactory(
        title="A", serves=[BusinessStrategyFactory(goal=g, title=f"{g.title} A") for g in goals[:3]]
    )
    b = CRMStrategyFactory(
        title="B", serves=[BusinessStrategyFactory(goal=g, title=f"{g.title} B") for g in goals]
    )
    c = CRMStrategyFactory(title="C", serves=[BusinessStrategyFactory(goal=goals[6], title="G7 C")])
    p1 = ProjectFactory(title="P1", **money({"people": "0.01"}))
    ProjectLinkFactory(project=p1, crm_strategy=a)
    p2 = ProjectFactory(title="P2", **money({"technology": "999.99"}))
    ProjectLinkFactory(project=p2, crm_strategy=b)
    p3 = ProjectFactory(title="P3", **money({"technology": "333.33"}))
    ProjectLinkFactory(project=p3, crm_strategy=a, weight=1)
    ProjectLinkFactory(project=p3, crm_strategy=b, weight=2)
    p4 = ProjectFactory(title="P4", **money({"training": "100.00"}))
    ProjectLinkFactory(project=p4, crm_strategy=b)
    ProjectLinkFactory(project=p4, crm_strategy=c)
    p5 = ProjectFactory(title="P5", status=ProjectStatus.ON_HOLD, **money({"process": "12.34"}))
    ProjectLinkFactory(project=p5, crm_strategy=c)
    p6 = ProjectFactory(title="P6", status=ProjectStatus.DONE, **money({"technology": "55.55"}))
    ProjectLinkFactory(project=p6, crm_strategy=a)
    third, seventh = Fraction(1, 3), Fraction(1, 7)
    exact = {f"G{i}": Fraction(0) for i in range(1, 8)}
    for i in range(1, 4):
        exact[f"G{i}"] += Fraction("0.01") * third + Fraction("333.33") * third * third
    for i in range(1, 8):
        exact[f"G{i}"] += (
            Fraction("999.99") * seventh
            + Fraction("333.33") * 2 * third * seventh
            + Fraction("100") / 2 * seventh
        )
    exact["G7"] += Fraction("100") / 2 + Fraction("12.34")
    return exact


def test_odd_amounts_over_3_and_7_goals_add_up_exactly_to_the_traced_budget(odd_portfolio):
    rows = dashboard.investment_by_goal()

    traced = (
        Decimal("0.01") + Decimal("999.99") + Decimal("333.33") + Decimal("100") + Decimal("12.34")
    )
    assert portfolio_figures()["budget_traced"] == traced == Decimal("1445.67")
    assert sum(row["amount"] for row in rows) == traced
    assert sum(row["share_pct"] for row in rows) == 100
    for row in rows:
        assert row["amount"] == row["amount"].quantize(Decimal("0.01"))
        assert abs(Fraction(row["amount"]) - odd_portfolio[row["title"]]) < Fraction(1, 100)


def test_a_goals_business_strategies_add_up_exactly_to_the_goal(odd_portfolio):
    goals = {row["title"]: row["amount"] for row in dashboard.investment_by_goal()}
    strategies = dashboard.investment_by_business_strategy()

    assert sum(row["amount"] for row in strategies) == sum(goals.values())
    assert sum(row["share_pct"] for row in strategies) == 100
    for title, amount in goals.items():
        assert sum(row["amount"] for row in strategies if row["goal_title"] == title) == amount


def test_equal_shares_give_the_odd_cent_to_the_same_goal_every_time():
    crm = _goals_served_by_one_crm_strategy(3, "G")
    ProjectLinkFactory(project=ProjectFactory(**money({"technology": "0.02"})), crm_strategy=crm)

    first = [(row["title"], row["amount"]) for row in dashboard.investment_by_goal()]
    again = [(row["title"], row["amount"]) for row in dashboard.investment_by_goal()]

    assert first == again
    assert sorted(amount for _title, amount in first) == [
        Decimal("0.00"),
        Decimal("0.01"),
        Decimal("0.01"),
    ]


def test_headline_budgets_come_back_to_the_cent_not_with_a_floats_noise():
    # SQLite adds decimals as REAL: 0.1 + 0.2 is 0.30000000000000004 there.
    ProjectFactory(**money({"technology": "0.10", "people": "0.20"}))
    ProjectFactory(**money({"technology": "0.20", "people": "0.01"}))

    figures = portfolio_figures()

    assert [str(figures[key]) for key in ("budget_total", "budget_technology")] == [
        "0.51",
        "0.30",
    ]
    assert str(figures["budget_capability"]) == "0.21"
    assert str(figures["budget_traced"]) == "0.00"


def test_investment_lists_goals_that_receive_nothing_with_zero():
    GoalFactory(title="Quiet goal")

    assert [(r["title"], r["amount"], r["share_pct"]) for r in dashboard.investment_by_goal()] == [
        ("Quiet goal", Decimal("0.00"), 0)
    ]


def test_spend_split_separates_technology_from_capability_over_live_projects(portfolio):
    split = dashboard.spend_split()

    # Live: P1 600/400, P2 900/0, P3 250/250, P4 0/300, P6 0/100; P5 (done) is left out.
    assert split["technology"] == Decimal("1750.00")
    assert split["capability"] == Decimal("1050.00")
    assert split["capability_parts"]["training"] == Decimal("250.00")
    # 62.5 % and 37.5 %: whole percentages that add up to 100, the tie to the first part.
    assert split["technology_pct"] == 63
    assert split["capability_pct"] == 37
    assert split["traced_technology"] == Decimal("1500.00")  # P1 + P2
    assert split["traced_capability"] == Decimal("500.00")  # P1 + P6
    assert split["technology_only_projects"] == 1  # P2


def test_spend_split_of_an_empty_portfolio_is_zero_not_an_error():
    split = dashboard.spend_split()

    assert split["total"] == Decimal("0.00")
    assert split["technology_pct"] == 0


def test_projects_with_untraced_features_are_worst_first(portfolio):
    FeatureLinkFactory(feature=FeatureFactory(project=portfolio["p1"]), crm_strategy=portfolio["a"])
    FeatureFactory(project=portfolio["p1"])
    FeatureFactory(project=portfolio["p2"])
    FeatureFactory(project=portfolio["p2"])
    FeatureFactory(project=portfolio["p6"], status=FeatureStatus.DROPPED)  # not counted

    rows = dashboard.projects_with_untraced_features()

    assert [(r["title"], r["untraced"], r["total"]) for r in rows] == [
        ("P2", 2, 2),
        ("P1", 1, 2),
    ]


def test_a_full_scan_stores_the_dashboard_figures_as_the_functions_compute_them(portfolio):
    from alignment import engine
    from alignment.models import Snapshot

    FeatureFactory(project=portfolio["p1"])
    live = {
        "investment_by_goal": dashboard.investment_by_goal(),
        "investment_by_business_strategy": dashboard.investment_by_business_strategy(),
        "spend": dashboard.spend_split(),
        "untraced_features": dashboard.projects_with_untraced_features(),
    }

    engine.scan_full()
    stored = dashboard.stored_dashboard_figures(Snapshot.objects.get().figures)

    assert stored["investment_by_goal"] == live["investment_by_goal"]
    assert stored["investment_by_business_strategy"] == live["investment_by_business_strategy"]
    assert stored["spend"] == live["spend"]
    assert isinstance(stored["spend"]["capability_parts"]["people"], Decimal)
    assert [(r["title"], r["status_label"]) for r in stored["untraced_features"]] == [
        ("P1", "Proposed")
    ]


def test_a_snapshot_from_before_the_dashboard_figures_has_none():
    assert dashboard.stored_dashboard_figures({}) is None


def _flag(subject, *, state="open", subject_type="project"):
    from django.utils import timezone

    from alignment.models import Flag

    now = timezone.now()
    return Flag.objects.create(
        rule=f"test.{subject_type}",
        severity="warning",
        subject_type=subject_type,
        subject_id=subject.pk,
        subject_label=str(subject),
        project=subject if subject_type == "project" else None,
        message="Look at it.",
        state=state,
        first_seen=now,
        last_seen=now,
    )


def test_node_health_counts_live_projects_traced_and_open_flags_per_node(portfolio):
    """Live projects: P1 (A, B), P2 (A, C), P3 (D: draft), P4 (none), P6 (A, D); P5 is done.
    A serves BS1, B BS1 and BS2, C BS3 and BS4 (of the retired G3), D BS3."""
    from goals.models import BusinessGoal
    from strategies.models import BusinessStrategy

    _flag(portfolio["p3"])
    _flag(portfolio["p1"], state="acknowledged")
    _flag(portfolio["p2"], state="resolved")  # not open: not counted
    g2 = BusinessGoal.objects.get(title="G2")
    _flag(g2, subject_type="goal")

    health = strategy_map.node_health()

    def of(kind, pk):
        return health[kind][str(pk)]

    bs = {b.title: b.pk for b in BusinessStrategy.objects.all()}
    goals = {g.title: g.pk for g in BusinessGoal.objects.all()}
    assert of("crm_strategy", portfolio["a"].pk) == [3, 3, 1]  # P1 P2 P6; P1's flag
    assert of("crm_strategy", portfolio["b"].pk) == [1, 1, 1]
    assert of("crm_strategy", portfolio["c"].pk) == [1, 1, 0]  # P2 (P5 is done)
    assert of("crm_strategy", portfolio["d"].pk) == [2, 1, 1]  # P3 does not trace, P6 does
    assert of("business_strategy", bs["BS1"]) == [3, 3, 1]  # A, B: P1 counts once
    assert of("business_strategy", bs["BS3"]) == [3, 2, 1]  # C, D: P2, P3, P6
    assert of("goal", goals["G1"]) == [3, 3, 1]
    assert of("goal", goals["G2"]) == [3, 2, 2]  # P3's flag and the goal's own
    assert of("goal", goals["G3"]) == [1, 1, 0]


def test_node_health_counts_the_flags_of_a_project_that_also_serves_a_loose_strategy():
    """A project linked to a CRM strategy that serves nothing, and to one that serves a
    business strategy: its flags count under that business strategy and its goal."""
    business = BusinessStrategyFactory()
    project = ProjectFactory()
    ProjectLinkFactory(project=project, crm_strategy=CRMStrategyFactory(serves=[business]))
    ProjectLinkFactory(project=project, crm_strategy=CRMStrategyFactory(serves=[]))
    _flag(project)

    health = strategy_map.node_health()

    assert health["business_strategy"][str(business.pk)] == [1, 1, 1]
    assert health["goal"][str(business.goal_id)] == [1, 1, 1]


def test_a_full_scan_stores_the_maps_health_and_it_reads_back(portfolio):
    from alignment import engine
    from alignment.models import Snapshot

    engine.scan_full()
    stored = strategy_map.stored_health(Snapshot.objects.get().figures)

    a = stored["crm_strategy"][portfolio["a"].pk]
    assert (a.items, a.traced, a.traced_pct) == (3, 3, 100)
    assert strategy_map.stored_health({}) is None


def test_matrix_cells_carry_rationale_per_project_and_strategy(portfolio):
    p1 = portfolio["p1"]
    a, b = portfolio["a"].pk, portfolio["b"].pk
    cells = dashboard.matrix_cells([p1.pk], [a, b])

    assert set(cells) == {(p1.pk, a), (p1.pk, b)}
    assert cells[(p1.pk, a)]["weight"] == 3
    # Only the strategies of the page's columns.
    assert set(dashboard.matrix_cells([p1.pk], [b])) == {(p1.pk, b)}


def test_matrix_rows_default_to_live_projects_and_filter_by_status(portfolio):
    assert "P5" not in {p.title for p in dashboard.matrix_projects()}
    assert [p.title for p in dashboard.matrix_projects(status="done")] == ["P5"]
    assert dashboard.matrix_projects(status="all").count() == 6


def test_untraced_projects_and_features_hang_loose_but_inactive_strategies_do_not():
    assert strategy_map.Node(
        kind="project", id=1, title="P", status="active", traceable=False
    ).hangs_loose
    assert not strategy_map.Node(
        kind="crm_strategy", id=1, title="C", status="draft", traceable=False
    ).hangs_loose


def test_trend_chart_places_points_at_their_dates_on_a_percent_scale():
    from alignment.charts import trend_chart

    first = datetime.date(2026, 3, 1)
    # Days 0, 1 and 10: the gap of eight days without a scan stays a gap on the axis.
    rows = [
        {"day": first + datetime.timedelta(days=d), "p": p} for d, p in ((0, 0), (1, 50), (10, 100))
    ]

    chart = trend_chart(rows, [("p", "Projects", "series--projects")], width=720, height=240)

    (series,) = chart.series
    xs = [point.x for point in series.points]
    plot_w = 720 - 44 - 24
    assert xs == [44, 44 + plot_w / 10, 44 + plot_w]
    assert series.points[0].y == chart.plot_bottom  # 0% sits on the axis
    assert series.points[-1].y == 12  # 100% at the top margin
    assert series.points[1].label == "Projects, 2 Mar 2026: 50%"
    assert series.latest == 100


def test_trend_chart_labels_dates_apart_always_with_the_first_and_the_newest():
    from alignment.charts import trend_chart

    first = datetime.date(2026, 1, 1)
    # Thirty days in a row, then the newest three weeks later: the labels must not crowd.
    days = [first + datetime.timedelta(days=d) for d in (*range(30), 51)]
    chart = trend_chart([{"day": day, "p": 1} for day in days], [("p", "P", "x")])

    xs = [x for x, _label in chart.x_labels]
    labels = [label for _x, label in chart.x_labels]
    assert labels[0] == "1 Jan" and labels[-1] == "21 Feb"
    assert len(labels) <= 7
    assert all(b - a >= (720 - 44 - 24) / 6 for a, b in itertools.pairwise(xs))


def test_trend_chart_of_one_day_centres_its_point():
    from alignment.charts import trend_chart

    chart = trend_chart([{"day": datetime.date(2026, 5, 4), "p": 50}], [("p", "Projects", "x")])

    (point,) = chart.series[0].points
    assert (point.x, point.y) == (44 + (720 - 44 - 24) / 2, 12 + (240 - 28 - 12) / 2)
    assert [label for _x, label in chart.x_labels] == ["4 May"]


@pytest.mark.parametrize("rule_on", [True, False], ids=["from the scan's match", "rule off"])
def test_a_full_scan_counts_feature_traceability_as_the_direct_count_does(
    portfolio, monkeypatch, rule_on
):
    from alignment import engine, selectors
    from alignment.models import RuleSetting, Snapshot

    traced = FeatureFactory(project=portfolio["p1"], title="Traced")
    FeatureLinkFactory(feature=traced, crm_strategy=portfolio["a"])
    FeatureFactory(project=portfolio["p2"], title="Loose in P2")
    FeatureFactory(project=portfolio["p2"], title="Also loose in P2")
    FeatureFactory(project=portfolio["p3"], title="Loose in P3")
    FeatureFactory(project=portfolio["p6"], status=FeatureStatus.DROPPED)  # not counted
    FeatureFactory(project=ProjectFactory(status=ProjectStatus.DONE))  # history: not counted
    engine.effective_settings()
    RuleSetting.objects.filter(code=engine.FEATURE_UNTRACED).update(enabled=rule_on)
    direct = selectors.feature_traceability()
    assert (direct.total, direct.traced) == (4, 1)
    assert [(r["title"], r["untraced"], r["total"]) for r in direct.worst] == [
        ("P2", 2, 2),
        ("P3", 1, 1),
    ]
    calls = []
    counted = selectors.feature_traceability

    def spy(*args, **kwargs):
        calls.append("from match" if kwargs.get("untraced") is not None else "direct")
        return counted(*args, **kwargs)

    monkeypatch.setattr(engine, "feature_traceability", spy)

    engine.scan_full()

    snapshot = Snapshot.objects.get()
    assert (snapshot.features_total, snapshot.features_traced) == (4, 1)
    stored = dashboard.stored_dashboard_figures(snapshot.figures)
    assert [
        {key: row[key] for key in ("project_id", "title", "total", "traced", "untraced")}
        for row in stored["untraced_features"]
    ] == [
        {key: row[key] for key in ("project_id", "title", "total", "traced", "untraced")}
        for row in direct.worst
    ]
    assert calls == (["from match"] if rule_on else ["direct"])


def test_the_maps_flow_records_the_money_each_crm_strategy_carries_to_each_business_strategy():
    goal = GoalFactory()
    first, second = (BusinessStrategyFactory(goal=goal) for _ in range(2))
    both = CRMStrategyFactory(serves=[first, second])
    only_first = CRMStrategyFactory(serves=[first])
    project = ProjectFactory(**money({"technology": "900", "people": "100"}))
    ProjectLinkFactory(project=project, crm_strategy=both, weight=3)
    ProjectLinkFactory(project=project, crm_strategy=only_first, weight=1)
    ProjectLinkFactory(project=ProjectFactory(**money({"technology": "50"})), crm_strategy=both)

    figures = dashboard.dashboard_figures()

    # 1,000 by weights 3:1 → 750 to `both` (split over two business strategies) and 250 to
    # `only_first`; the second project's 50 all to `both`, split again.
    assert figures["map_flow"] == {
        f"{both.pk}:{first.pk}": "400.00",
        f"{both.pk}:{second.pk}": "400.00",
        f"{only_first.pk}:{first.pk}": "250.00",
    }


@pytest.mark.parametrize(
    "off",
    [None, "project.untraced", "project.broken_chain"],
    ids=["from the scan's match", "untraced rule off", "broken-chain rule off"],
)
def test_a_full_scan_counts_the_projects_that_trace_as_walking_the_chain_does(
    portfolio, monkeypatch, off
):
    """The snapshot's traced projects, traced budgets and the map's traced count per node come
    from the scan's match of the two rules that together flag every live project that does not
    trace; with either switched off they are walked again. Both ways agree."""
    from alignment import engine, selectors
    from alignment.models import RuleSetting, Snapshot

    # A project linked only to a retired chain (broken) next to the fixture's unlinked one.
    broken = ProjectFactory(title="Broken", **money({"technology": "70"}))
    ProjectLinkFactory(
        project=broken, crm_strategy=CRMStrategyFactory(status=StrategyStatus.RETIRED)
    )
    walked_sums = selectors.live_budget_sums()
    assert walked_sums["traced"] < walked_sums["total"]  # the fixture has projects that do not
    engine.effective_settings()
    if off:
        RuleSetting.objects.filter(code=off).update(enabled=False)
    ways = []
    walk = selectors.live_budget_sums

    def spy(untraced=None):
        ways.append("walked" if untraced is None else "from match")
        return walk(untraced)

    monkeypatch.setattr(selectors, "live_budget_sums", spy)

    engine.scan_full()

    snapshot = Snapshot.objects.get()
    assert snapshot.projects_traced == walked_sums["traced"]
    assert snapshot.budget_traced == walked_sums["budget_traced"]
    # Walked now, with the flags the scan opened (the map counts them per node).
    assert snapshot.figures["map_health"] == strategy_map.node_health()
    assert ways == (["walked"] if off else ["from match"])
