"""The differential test: on generated portfolios, the engine's unresolved flags are exactly the
subjects the raw-SQL oracle (tests/alignment/oracle.py) finds, rule by rule."""

import datetime

import pytest
from django.utils import timezone

from alignment import engine
from alignment.models import UNRESOLVED_STATES, Flag, FlagState, RuleSetting
from alignment.rules import RULES
from crm_alignment.portfolio import Shape, generate_portfolio
from projects.models import CRMProject, ProjectCheckIn, ProjectLink, ProjectStatus
from strategies.models import CRMStrategy, StrategyStatus

from . import oracle

pytestmark = pytest.mark.django_db


def unresolved_flags() -> dict[tuple[str, str], set[int]]:
    found: dict[tuple[str, str], set[int]] = {key: set() for key in oracle.RULE_SUBJECTS}
    rows = Flag.objects.filter(state__in=UNRESOLVED_STATES).values_list(
        "rule", "subject_type", "subject_id"
    )
    for rule, subject_type, subject_id in rows:
        found.setdefault((rule, subject_type), set()).add(subject_id)
    return found


def differences() -> list[str]:
    """One line per (rule, subject type) where the engine and the oracle disagree."""
    expected = oracle.findings()
    flagged = unresolved_flags()
    lines = []
    for key in sorted(set(expected) | set(flagged)):
        missing = expected.get(key, set()) - flagged.get(key, set())
        extra = flagged.get(key, set()) - expected.get(key, set())
        if missing or extra:
            lines.append(
                f"{key[0]} ({key[1]}): not flagged {sorted(missing)[:10]} "
                f"({len(missing)}), flagged wrongly {sorted(extra)[:10]} ({len(extra)})"
            )
    return lines


def test_the_oracle_answers_for_every_rule_and_subject_type_of_the_catalogue():
    catalogue = {(r.code, str(kind)) for r in RULES.values() for kind in r.subject_types}
    assert catalogue == oracle.RULE_SUBJECTS


def test_the_engine_flags_exactly_what_the_raw_sql_oracle_finds():
    generate_portfolio(Shape(projects=300, features_per_project=4, seed=7))
    engine.scan_full()

    found = oracle.findings()
    absent = sorted(key for key, ids in found.items() if not ids)
    assert not absent, f"the generated portfolio has no case of {absent}"
    # Stalled by each of its three clocks: the newest check-in, the start date, the creation.
    stalled = CRMProject.objects.filter(pk__in=found[("project.stalled", "project")])
    assert stalled.filter(check_ins__isnull=False).exists()
    assert stalled.filter(check_ins__isnull=True, start_date__isnull=False).exists()
    assert stalled.filter(check_ins__isnull=True, start_date__isnull=True).exists()
    assert differences() == []


def test_engine_and_oracle_still_agree_after_edits_decisions_and_other_settings():
    """Other thresholds, a rule switched off, acknowledged and waived flags (one expired), and
    edits that both open and resolve flags, re-scanned: still the same sets."""
    generate_portfolio(Shape(projects=200, features_per_project=3, seed=11))
    engine.scan_full()
    now = timezone.now()
    open_flags = Flag.objects.filter(state=FlagState.OPEN).order_by("id")
    Flag.objects.filter(pk__in=list(open_flags.values_list("pk", flat=True)[:20])).update(
        state=FlagState.ACKNOWLEDGED, acknowledged_at=now
    )
    for i, pk in enumerate(open_flags.values_list("pk", flat=True)[:20]):
        expires = now + datetime.timedelta(days=-1 if i % 2 else 30)
        Flag.objects.filter(pk=pk).update(
            state=FlagState.WAIVED,
            waiver_reason="Agreed.",
            waived_at=now,
            waiver_expires_at=expires,
        )
    engine.effective_settings()  # the rows exist, so the admin's changes below stick
    RuleSetting.objects.filter(code="project.stalled").update(threshold=60)
    RuleSetting.objects.filter(code="portfolio.overloaded").update(threshold=3)
    RuleSetting.objects.filter(code="project.no_roadmap").update(enabled=False)
    # Edits: a CRM strategy retired, links and check-ins removed, projects reactivated.
    CRMStrategy.objects.filter(pk=CRMStrategy.objects.order_by("pk")[0].pk).update(
        status=StrategyStatus.RETIRED
    )
    ProjectLink.objects.filter(project__in=CRMProject.objects.order_by("pk")[20:30]).delete()
    ProjectCheckIn.objects.filter(project__in=CRMProject.objects.order_by("pk")[30:60]).delete()
    CRMProject.objects.filter(status=ProjectStatus.DONE).update(status=ProjectStatus.ACTIVE)

    engine.scan_full()

    assert differences() == []
    assert not oracle.findings()[("project.no_roadmap", "project")]
