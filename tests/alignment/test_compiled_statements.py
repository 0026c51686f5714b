"""A scan's statements are compiled once per shape and run with each scan's values bound to
their slots (core.slots, engine._compiled): a re-check of another project, of other
groups, at another time, reuses them and still flags exactly what the rules say."""

import datetime
import zoneinfo

import pytest
from auditlog import get_logentry_model
from django.db import connection
from django.utils import timezone

from alignment import engine
from alignment.models import UNRESOLVED_STATES, Flag, FlagState
from alignment.rules import RULES
from core import slots
from crm_alignment.portfolio import Shape, generate_portfolio
from projects.models import CRMProject, ProjectLink, ProjectStatus
from tests.factories import UserFactory

from . import oracle
from .test_oracle import differences

pytestmark = pytest.mark.django_db

# The rules a re-check evaluates: those about a project or its features, and those about the
# groups of projects it belongs to. Rules about goals and strategies wait for a full scan.
RECHECKED = {
    (code, str(kind))
    for code, rule in RULES.items()
    if rule.project_scoped or rule.groups_projects
    for kind in rule.subject_types
}


@pytest.fixture
def compiles(monkeypatch):
    """The statements compiled from here on, by kind (match, history, update, …)."""
    built: list[str] = []
    real = engine._compiled

    def counting(key, build):
        def counted_build():
            built.append(key[0])
            return build()

        return real(key, counted_build)

    engine._STATEMENTS.clear()
    monkeypatch.setattr(engine, "_compiled", counting)
    return built


def test_rechecks_of_other_projects_reuse_the_compiled_statements_and_agree_with_the_oracle(
    compiles,
):
    """One project after another is edited and re-checked on its own: the first re-check
    compiles the match, the rest bind their own project and groups to it, and the flags of the
    rules a re-check covers are exactly the raw-SQL oracle's."""
    generate_portfolio(Shape(projects=120, features_per_project=3, seed=5))
    engine.scan_full()
    compiles.clear()
    active = list(
        CRMProject.objects.filter(status=ProjectStatus.ACTIVE)
        .order_by("pk")
        .values_list("pk", "manager_id")
    )
    busy = UserFactory(username="busy")
    edited = []
    # Sponsors removed, links cut: flags opened on the project and its features.
    for pk, _manager in active[:3]:
        CRMProject.objects.filter(pk=pk).update(sponsor=None)
        edited.append((pk, {}))
    for pk, _manager in active[3:6]:
        ProjectLink.objects.filter(project_id=pk).delete()
        edited.append((pk, {}))
    # Six active projects moved to one manager, one at a time: the sixth tips them over the
    # limit (5); each move may relieve the manager it left.
    for pk, manager in active[6:12]:
        CRMProject.objects.filter(pk=pk).update(manager=busy)
        edited.append((pk, {"manager": [manager]}))

    first = None
    for pk, left in edited:
        engine.scan_projects([pk], left_groups=left)
        assert engine.Scan.objects.order_by("-pk")[0].state == engine.ScanState.DONE
        first = first or list(compiles)

    # The first re-check compiled its statements; the eleven after it, of other projects with
    # other flags and groups, compiled none.
    assert compiles == first, compiles
    assert first.count("match") == 1, first
    # The insert of new flags is the same statement for any scan: the full scan compiled it.
    assert "insert" not in compiles, compiles
    assert [line for line in differences() if _key(line) in RECHECKED] == []
    assert _manager_overloaded(busy.pk)
    assert oracle.findings()[("project.no_sponsor", "project")] >= {pk for pk, _m in active[:3]}


def test_a_recheck_after_a_full_scan_looks_only_at_its_own_groups(compiles):
    """A re-check run after a full scan (which built and compiled the rules over every group)
    covers its own groups only: two managers are overloaded behind the scans' back; a re-check
    of one's project flags that manager only, and the full scan after it the other."""
    generate_portfolio(Shape(projects=40, features_per_project=2, seed=3))
    engine.scan_full()
    first, second = UserFactory(username="first"), UserFactory(username="second")
    projects = list(
        CRMProject.objects.filter(status=ProjectStatus.ACTIVE)
        .order_by("pk")
        .values_list("pk", flat=True)[:12]
    )
    CRMProject.objects.filter(pk__in=projects[:6]).update(manager=first)
    CRMProject.objects.filter(pk__in=projects[6:]).update(manager=second)
    engine.scan_projects([projects[0]])
    assert (_manager_overloaded(first.pk), _manager_overloaded(second.pk)) == (True, False)
    engine.scan_full()
    assert (_manager_overloaded(first.pk), _manager_overloaded(second.pk)) == (True, True)


def test_a_statement_compiled_in_one_time_zone_is_not_run_in_another(compiles):
    """A rule that takes a date from a timestamp (project.stalled: the day a project was
    created) names the active time zone in its statement: another zone compiles its own, even
    one on the same day at the same offset (Abidjan keeps UTC's time under its own name)."""
    generate_portfolio(Shape(projects=20, features_per_project=1, seed=3))
    now = timezone.now()
    project = CRMProject.objects.filter(status=ProjectStatus.ACTIVE).order_by("pk")[0]
    with timezone.override(datetime.UTC):
        engine.evaluate(engine.Scope(project_ids=(project.pk,)), now=now)
        engine.evaluate(engine.Scope(project_ids=(project.pk,)), now=now)
    assert compiles.count("match") == 1
    with timezone.override(zoneinfo.ZoneInfo("Africa/Abidjan")):
        engine.evaluate(engine.Scope(project_ids=(project.pk,)), now=now)
    assert compiles.count("match") == 2
    with timezone.override(datetime.UTC):
        engine.evaluate(engine.Scope(project_ids=(project.pk,)), now=now)
    assert compiles.count("match") == 2


def _manager_overloaded(manager_id: int) -> bool:
    return Flag.objects.filter(
        rule="portfolio.overloaded",
        subject_type="manager",
        subject_id=manager_id,
        state__in=UNRESOLVED_STATES,
    ).exists()


def _key(line: str) -> tuple[str, str]:
    """The (rule, subject type) a line of `differences()` is about."""
    rule, rest = line.split(" (", 1)
    return rule, rest.split(")", 1)[0]


def test_a_recheck_binds_its_own_time_to_the_compiled_statements(compiles):
    """The scan's time is a slot: a waiver that expires between two re-checks reopens on the
    second, which reuses the statements the first compiled, and the flag carries its time."""
    generate_portfolio(Shape(projects=40, features_per_project=2, seed=3))
    engine.scan_full()
    flag = Flag.objects.filter(state=FlagState.OPEN, project__isnull=False).order_by("pk")[0]
    now = timezone.now()
    Flag.objects.filter(pk=flag.pk).update(
        state=FlagState.WAIVED,
        waiver_reason="Agreed.",
        waived_at=now,
        waiver_expires_at=now + datetime.timedelta(days=2),
    )
    compiles.clear()
    engine.evaluate(engine.Scope(project_ids=(flag.project_id,)), now=now)
    flag.refresh_from_db()
    assert flag.state == FlagState.WAIVED
    later = now + datetime.timedelta(days=3)
    before = list(compiles)
    engine.evaluate(engine.Scope(project_ids=(flag.project_id,)), now=later)
    flag.refresh_from_db()
    assert (flag.state, flag.opened_at, flag.last_seen) == (FlagState.OPEN, later, later)
    # Another day, so the rules' match is compiled again (the day is in its SQL); every other
    # statement was compiled by the first re-check.
    assert compiles[len(before) :] == ["match"]
    # The history of the reopening carries that time too.
    entry = get_logentry_model().objects.filter(object_id=flag.pk).order_by("-pk")[0]
    assert (entry.timestamp, entry.channel) == (later, "scan")
    assert entry.changes_dict == {"state": ["waived", "open"]}


def test_a_statement_compiled_for_one_settings_is_not_run_for_others(compiles):
    """The rules' settings are in the match's shape: a new threshold compiles a new match and
    is the one applied; going back reuses the first."""
    generate_portfolio(Shape(projects=40, features_per_project=2, seed=3))
    engine.scan_full()
    project = CRMProject.objects.filter(status=ProjectStatus.ACTIVE).order_by("pk")[0]
    manager = project.manager
    for other in CRMProject.objects.filter(status=ProjectStatus.ACTIVE).exclude(manager=manager)[
        :3
    ]:
        CRMProject.objects.filter(pk=other.pk).update(manager=manager)
    count = CRMProject.objects.filter(status=ProjectStatus.ACTIVE, manager=manager).count()
    engine.effective_settings()
    settings = engine.RuleSetting.objects.filter(code="portfolio.overloaded")

    compiles.clear()
    settings.update(threshold=count - 1)
    engine.scan_projects([project.pk])
    assert _manager_overloaded(manager.pk)
    settings.update(threshold=count)
    engine.scan_projects([project.pk])
    assert not _manager_overloaded(manager.pk)
    settings.update(threshold=count - 1)
    engine.scan_projects([project.pk])
    assert _manager_overloaded(manager.pk)
    assert compiles.count("match") == 2, compiles


def test_a_slot_left_unbound_is_an_error_not_a_null():
    params = ["x", slots.Marker("projects"), slots.Marker(engine.NOW, engine.DateTimeField())]
    with pytest.raises(KeyError):
        slots.bind(params, {"projects": (1, 2)}, connection)
    now = timezone.now()
    bound = slots.bind(params, {"projects": (2, 1), engine.NOW: now}, connection)
    assert bound[0] == "x"
    assert bound[1] == ([2, 1] if connection.vendor == "postgresql" else "[2, 1]")
    assert bound[2] == engine.DateTimeField().get_db_prep_value(now, connection)
