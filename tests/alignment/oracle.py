"""The rule catalogue written a second time, independently, in plain SQL: the oracle.

One SELECT per rule and subject type returns the ids of the subjects the rule should flag.
It restates alignment/rules.py, projects/trace.py and strategies/trace.py from their words, not
from their code: no ORM, no shared helper, its own spelling of statuses, thresholds, "anchored"
(a set computed once, not a correlated EXISTS) and "overloaded" (GROUP BY … HAVING, not a
correlated count). The differential test (test_oracle.py) checks on generated portfolios that
the engine's unresolved flags are exactly these sets, rule by rule; `manage.py bench` times it
as the raw-SQL floor a full scan is compared against.

Plain SQL with parameters that runs on SQLite and PostgreSQL alike: NOT EXISTS anti-joins (no
NOT IN over large sets), no vendor functions, dates compared as dates and timestamps as
timestamps (the parameters are adapted by the backend's own `ops`).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

# The rules' numbers when no setting says otherwise (alignment/rules.py, `threshold=`).
DEFAULT_THRESHOLDS = {
    "project.stalled": 30,
    "portfolio.overloaded": 5,
    "portfolio.change_collision": 2,
    "project.integration_unplanned": 60,
    "project.benefits_unreviewed": 90,
}
# The rules' second number (`window=`): the days portfolio.change_collision counts go-lives in.
DEFAULT_WINDOWS = {"portfolio.change_collision": 30}

# Live projects: their chain and health still matter. Committed: approved or active.
LIVE = "('proposed', 'approved', 'active', 'on_hold')"
COMMITTED = "('approved', 'active')"

# A CRM strategy is anchored when it is active and serves an active business strategy of an
# active goal. Computed once as a set, then joined.
ANCHORED = """
    anchored AS (
        SELECT DISTINCT sv.crm_strategy_id AS id
        FROM strategies_crmstrategyserves sv
        JOIN strategies_crmstrategy c ON c.id = sv.crm_strategy_id
        JOIN strategies_businessstrategy bs ON bs.id = sv.business_strategy_id
        JOIN goals_businessgoal g ON g.id = bs.goal_id
        WHERE c.status = 'active' AND bs.status = 'active' AND g.status = 'active'
    )
"""

GO_LIVES = """
    go_lives AS (
        SELECT r.project_id, MIN(r.start_date) AS first_on
        FROM projects_roadmapphase r
        WHERE r.go_live = %s AND r.start_date IS NOT NULL
        GROUP BY r.project_id
    )
"""


@dataclass(frozen=True)
class Query:
    """One rule's subjects of one type, as SQL returning their ids."""

    rule: str
    subject_type: str
    sql: str
    params: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Setting:
    enabled: bool
    threshold: int | None
    window: int | None = None


def rule_settings() -> dict[str, Setting]:
    """The admin's rule settings as stored (a rule without a row is on, with its default)."""
    with connection.cursor() as cursor:
        # "window" is a reserved word in PostgreSQL: quoted (SQLite takes the quotes too).
        cursor.execute('SELECT code, enabled, threshold, "window" FROM alignment_rulesetting')
        rows = cursor.fetchall()
    return {
        code: Setting(bool(enabled), threshold, window) for code, enabled, threshold, window in rows
    }


def _window(settings: dict[str, Setting], code: str) -> int:
    setting = settings.get(code)
    if setting is not None and setting.window is not None:
        return int(setting.window)
    return DEFAULT_WINDOWS[code]


def _days_between(later: str, earlier: str) -> str:
    """Whole days from one date column to another: the one place the oracle needs the
    backend's own date arithmetic (PostgreSQL subtracts dates; SQLite stores ISO text)."""
    if connection.vendor == "sqlite":
        return f"(julianday({later}) - julianday({earlier}))"
    return f"({later} - {earlier})"


def _threshold(settings: dict[str, Setting], code: str) -> int:
    setting = settings.get(code)
    if setting is not None and setting.threshold is not None:
        return int(setting.threshold)
    return DEFAULT_THRESHOLDS[code]


def queries(now: datetime.datetime | None = None) -> list[Query]:
    """Every rule's queries, with today's date and the stored thresholds bound in."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    settings = rule_settings()
    stalled_days = _threshold(settings, "project.stalled")
    overloaded = _threshold(settings, "portfolio.overloaded")
    collision_limit = _threshold(settings, "portfolio.change_collision")
    collision_days = _window(settings, "portfolio.change_collision")
    cutoff = today - datetime.timedelta(days=stalled_days)
    # "The day it was created is before the cutoff" for a timestamp: created before the
    # cutoff day began, in the site's time zone.
    cutoff_moment = timezone.make_aware(
        datetime.datetime.combine(cutoff, datetime.time.min), timezone.get_current_timezone()
    )
    # Integration and benefits date from the first go-live: the earliest dated go-live
    # milestone, one grouped set.
    integration_horizon = today + datetime.timedelta(
        days=_threshold(settings, "project.integration_unplanned")
    )
    review_cutoff = today - datetime.timedelta(
        days=_threshold(settings, "project.benefits_unreviewed")
    )
    ops = connection.ops
    horizon_day = ops.adapt_datefield_value(integration_horizon)
    review_day = ops.adapt_datefield_value(review_cutoff)
    cutoff_day = ops.adapt_datefield_value(cutoff)
    cutoff_at = ops.adapt_datetimefield_value(cutoff_moment)

    all_queries = [
        # --- Traceability ---
        Query(
            "project.untraced",
            "project",
            f"""
            SELECT p.id FROM projects_crmproject p
            WHERE p.status IN {LIVE}
              AND NOT EXISTS (SELECT 1 FROM projects_projectlink pl WHERE pl.project_id = p.id)
            """,
        ),
        Query(
            "project.broken_chain",
            "project",
            f"""
            WITH {ANCHORED}
            SELECT p.id FROM projects_crmproject p
            WHERE p.status IN {LIVE}
              AND EXISTS (SELECT 1 FROM projects_projectlink pl WHERE pl.project_id = p.id)
              AND NOT EXISTS (
                  SELECT 1 FROM projects_projectlink pl
                  JOIN anchored a ON a.id = pl.crm_strategy_id
                  WHERE pl.project_id = p.id)
            """,
        ),
        Query(
            "feature.untraced",
            "feature",
            f"""
            WITH {ANCHORED}
            SELECT f.id FROM projects_feature f
            JOIN projects_crmproject p ON p.id = f.project_id
            WHERE p.status IN {LIVE} AND f.status <> 'dropped'
              AND NOT EXISTS (
                  SELECT 1 FROM projects_featurelink fl
                  JOIN anchored a ON a.id = fl.crm_strategy_id
                  WHERE fl.feature_id = f.id)
            """,
        ),
        Query(
            "feature.off_scope",
            "feature",
            f"""
            SELECT f.id FROM projects_feature f
            JOIN projects_crmproject p ON p.id = f.project_id
            WHERE p.status IN {LIVE} AND f.status <> 'dropped'
              AND EXISTS (
                  SELECT 1 FROM projects_featurelink fl
                  LEFT JOIN projects_projectlink pl
                    ON pl.project_id = f.project_id AND pl.crm_strategy_id = fl.crm_strategy_id
                  WHERE fl.feature_id = f.id AND pl.id IS NULL)
            """,
        ),
        Query(
            "crm_strategy.unanchored",
            "crm_strategy",
            f"""
            WITH {ANCHORED}
            SELECT c.id FROM strategies_crmstrategy c
            WHERE c.status = 'active'
              AND NOT EXISTS (SELECT 1 FROM anchored a WHERE a.id = c.id)
            """,
        ),
        Query(
            "business_strategy.unserved",
            "business_strategy",
            """
            SELECT bs.id FROM strategies_businessstrategy bs
            WHERE bs.status = 'active'
              AND NOT EXISTS (
                  SELECT 1 FROM strategies_crmstrategyserves sv
                  JOIN strategies_crmstrategy c
                    ON c.id = sv.crm_strategy_id AND c.status = 'active'
                  JOIN projects_projectlink pl ON pl.crm_strategy_id = c.id
                  JOIN projects_crmproject p ON p.id = pl.project_id AND p.status = 'active'
                  WHERE sv.business_strategy_id = bs.id)
            """,
        ),
        Query(
            "goal.no_strategy",
            "goal",
            """
            SELECT g.id FROM goals_businessgoal g
            WHERE g.status = 'active'
              AND NOT EXISTS (
                  SELECT 1 FROM strategies_businessstrategy bs
                  WHERE bs.goal_id = g.id AND bs.status = 'active')
            """,
        ),
        # --- Project health ---
        Query(
            "project.no_sponsor",
            "project",
            f"SELECT p.id FROM projects_crmproject p "
            f"WHERE p.status IN {LIVE} AND p.sponsor_id IS NULL",
        ),
        Query(
            "project.no_success_metrics",
            "project",
            f"""
            SELECT p.id FROM projects_crmproject p
            WHERE p.status IN {COMMITTED}
              AND NOT EXISTS (
                  SELECT 1 FROM projects_successmetric m
                  WHERE m.project_id = p.id
                    AND m.baseline IS NOT NULL AND m.target IS NOT NULL)
            """,
        ),
        Query(
            "project.no_roadmap",
            "project",
            f"""
            SELECT p.id FROM projects_crmproject p
            WHERE p.status IN {COMMITTED}
              AND NOT EXISTS (SELECT 1 FROM projects_roadmapphase r WHERE r.project_id = p.id)
            """,
        ),
        Query(
            "project.it_only",
            "project",
            f"""
            SELECT p.id FROM projects_crmproject p
            JOIN projects_department d ON d.id = p.department_id
            WHERE p.status IN {LIVE} AND d.is_it = %s AND p.business_owner_id IS NULL
            """,
            (True,),
        ),
        Query(
            "project.technology_only",
            "project",
            f"""
            SELECT p.id FROM projects_crmproject p
            WHERE p.status IN {LIVE} AND p.budget_technology > 0
              AND p.budget_people = 0 AND p.budget_process = 0
              AND p.budget_training = 0 AND p.budget_incentives = 0
            """,
        ),
        # Active, and the last sign of life — the newest check-in, else the start date, else
        # the day it was created — is before the cutoff.
        Query(
            "project.stalled",
            "project",
            """
            SELECT p.id FROM projects_crmproject p
            WHERE p.status = 'active' AND (
                (EXISTS (SELECT 1 FROM projects_projectcheckin c WHERE c.project_id = p.id)
                 AND NOT EXISTS (
                     SELECT 1 FROM projects_projectcheckin c
                     WHERE c.project_id = p.id AND c.checked_in_on >= %s))
                OR (NOT EXISTS (
                        SELECT 1 FROM projects_projectcheckin c WHERE c.project_id = p.id)
                    AND ((p.start_date IS NOT NULL AND p.start_date < %s)
                         OR (p.start_date IS NULL AND p.created_at < %s))))
            """,
            (cutoff_day, cutoff_day, cutoff_at),
        ),
        # Approved or active, first go-live no later than today + N days, and a system whose
        # integration is not started or has nobody owning it.
        Query(
            "project.integration_unplanned",
            "project",
            f"""
            WITH {GO_LIVES}
            SELECT p.id FROM projects_crmproject p
            JOIN go_lives g ON g.project_id = p.id
            WHERE p.status IN {COMMITTED} AND g.first_on <= %s
              AND EXISTS (
                  SELECT 1 FROM projects_projectsystem ps
                  WHERE ps.project_id = p.id
                    AND (ps.status = 'not_started' OR ps.owner_id IS NULL))
            """,
            (True, horizon_day),
        ),
        # Went live (or, done without a go-live, ended) before today - N days, not proposed or
        # cancelled, and no reading of any of its metrics is dated after that day.
        Query(
            "project.benefits_unreviewed",
            "project",
            f"""
            WITH {GO_LIVES}
            SELECT p.id FROM projects_crmproject p
            LEFT JOIN go_lives g ON g.project_id = p.id
            WHERE p.status IN ('approved', 'active', 'on_hold', 'done')
              AND (
                (g.first_on IS NOT NULL AND g.first_on < %s
                 AND NOT EXISTS (
                     SELECT 1 FROM projects_metricreading mr
                     JOIN projects_successmetric m ON m.id = mr.metric_id
                     WHERE m.project_id = p.id AND mr.recorded_on > g.first_on))
                OR (g.first_on IS NULL AND p.status = 'done'
                    AND p.end_date IS NOT NULL AND p.end_date < %s
                    AND NOT EXISTS (
                        SELECT 1 FROM projects_metricreading mr
                        JOIN projects_successmetric m ON m.id = mr.metric_id
                        WHERE m.project_id = p.id AND mr.recorded_on > p.end_date)))
            """,
            (True, review_day, review_day),
        ),
        Query(
            "portfolio.overloaded",
            "crm_strategy",
            """
            SELECT pl.crm_strategy_id FROM projects_projectlink pl
            JOIN projects_crmproject p ON p.id = pl.project_id
            WHERE p.status = 'active'
            GROUP BY pl.crm_strategy_id HAVING COUNT(*) > %s
            """,
            (overloaded,),
        ),
        Query(
            "portfolio.overloaded",
            "manager",
            """
            SELECT p.manager_id FROM projects_crmproject p
            WHERE p.status = 'active'
            GROUP BY p.manager_id HAVING COUNT(*) > %s
            """,
            (overloaded,),
        ),
        Query(
            "portfolio.overloaded",
            "department",
            """
            SELECT p.department_id FROM projects_crmproject p
            WHERE p.status = 'active' AND p.department_id IS NOT NULL
            GROUP BY p.department_id HAVING COUNT(*) > %s
            """,
            (overloaded,),
        ),
        # A group collides when some go-live has more than N go-lives (itself included) from
        # its day to W days later: a self-join of the group's go-lives, GROUP BY … HAVING.
        Query(
            "portfolio.change_collision",
            "user_group",
            f"""
            SELECT hits.user_group_id FROM (
                SELECT ga.user_group_id, a.id
                FROM projects_projectusergroup ga
                JOIN projects_crmproject pa ON pa.id = ga.project_id
                JOIN projects_roadmapphase a ON a.project_id = pa.id
                JOIN projects_projectusergroup gb ON gb.user_group_id = ga.user_group_id
                JOIN projects_crmproject pb ON pb.id = gb.project_id
                JOIN projects_roadmapphase b ON b.project_id = pb.id
                WHERE pa.status IN {LIVE} AND pb.status IN {LIVE}
                  AND a.go_live = %s AND b.go_live = %s
                  AND a.start_date IS NOT NULL AND b.start_date IS NOT NULL
                  AND b.start_date >= a.start_date
                  AND {_days_between("b.start_date", "a.start_date")} <= %s
                GROUP BY ga.user_group_id, a.id
                HAVING COUNT(*) > %s
            ) hits
            GROUP BY hits.user_group_id
            """,
            (True, True, collision_days, collision_limit),
        ),
    ]
    # A rule switched off flags nothing.
    return [q for q in all_queries if q.rule not in settings or settings[q.rule].enabled]


# Every (rule, subject type) the oracle answers for.
RULE_SUBJECTS = {
    ("project.untraced", "project"),
    ("project.broken_chain", "project"),
    ("feature.untraced", "feature"),
    ("feature.off_scope", "feature"),
    ("crm_strategy.unanchored", "crm_strategy"),
    ("business_strategy.unserved", "business_strategy"),
    ("goal.no_strategy", "goal"),
    ("project.no_sponsor", "project"),
    ("project.no_success_metrics", "project"),
    ("project.no_roadmap", "project"),
    ("project.it_only", "project"),
    ("project.technology_only", "project"),
    ("project.integration_unplanned", "project"),
    ("project.benefits_unreviewed", "project"),
    ("project.stalled", "project"),
    ("portfolio.overloaded", "crm_strategy"),
    ("portfolio.overloaded", "manager"),
    ("portfolio.overloaded", "department"),
    ("portfolio.change_collision", "user_group"),
}


def _run(query: Query) -> Iterator[int]:
    with connection.cursor() as cursor:
        cursor.execute(query.sql, query.params)
        for (subject_id,) in cursor.fetchall():
            yield int(subject_id)


def findings(now: datetime.datetime | None = None) -> dict[tuple[str, str], set[int]]:
    """{(rule, subject type): the subject ids it flags}, every pair of the catalogue present
    (empty for a rule switched off)."""
    result: dict[tuple[str, str], set[int]] = {key: set() for key in RULE_SUBJECTS}
    for query in queries(now):
        result[(query.rule, query.subject_type)] = set(_run(query))
    return result


def count_findings(now: datetime.datetime | None = None) -> dict[tuple[str, str], int]:
    """How many subjects each query finds, counted in the database (what `bench` times: the
    SQL's own cost, without shipping the ids to Python)."""
    counts = {}
    for query in queries(now):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM ({query.sql}) AS oracle", query.params)
            row = cursor.fetchone()
        counts[(query.rule, query.subject_type)] = int(row[0]) if row else 0
    return counts
