"""Importing a portfolio workbook: read it, check every row against the workbook itself and the
database, report every problem at once, and — only when there is none and it is not a dry run —
write it all in one transaction through the services' bulk paths, then run one full scan.

An import adds and updates; it never deletes. Rows are matched by natural key (workbook.py), so
importing the same workbook twice writes nothing the second time.

Goals, business and CRM strategies the workbook retires are retired after everything under
them is written, as a user would do it (the services refuse a *new* link to something already
retired): so a workbook that records a retired strategy with its old links imports as it was
exported. A new link to something retired in the database before the import is refused.
"""

from __future__ import annotations

import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import DatabaseError, connection, models, transaction
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from alignment import engine, notify
from core import audit
from core.models import Lifecycle
from core.permissions import can_import_portfolio
from core.roles import Role
from core.services import require
from goals import services as goal_services
from goals.models import KPI, BusinessGoal, GoalStatus, KPICheckIn
from projects import services as project_services
from projects.models import (
    CRMProject,
    Department,
    Feature,
    FeatureLink,
    MetricReading,
    ProjectCheckIn,
    ProjectLink,
    ProjectSystem,
    ProjectUserGroup,
    RoadmapPhase,
    SuccessMetric,
    System,
    UserGroup,
)
from projects.services import LinkRow, rationale_refusal
from strategies import services as strategy_services
from strategies.models import BusinessStrategy, CRMStrategy

from .export import stored_rows
from .reading import Problem, ReadResult, SheetData, read
from .workbook import (
    MONEY,
    PERSON,
    REFERENCE,
    REFERENCES,
    SHEET_BY_NAME,
    SHEETS,
    Column,
    Sheet,
    position,
)

log = logging.getLogger(__name__)

__all__ = ["ImportReport", "Problem", "import_workbook"]

Progress = Callable[[int, int], None]

_MODELS: dict[str, type[models.Model]] = {
    "Departments": Department,
    "User groups": UserGroup,
    "Systems": System,
    "Goals": BusinessGoal,
    "KPIs": KPI,
    "KPI readings": KPICheckIn,
    "Business strategies": BusinessStrategy,
    "CRM strategies": CRMStrategy,
    "Projects": CRMProject,
    "Project links": ProjectLink,
    "Features": Feature,
    "Feature links": FeatureLink,
    "Success metrics": SuccessMetric,
    "Roadmap": RoadmapPhase,
    "Check-ins": ProjectCheckIn,
    "Project user groups": ProjectUserGroup,
    "Project systems": ProjectSystem,
    "Metric readings": MetricReading,
}
# References to a row whose key starts with its project's: (project, name or title).
_WITHIN_PROJECT = {"Features", "Success metrics"}
# Chain items whose retirement waits until everything under them is written.
_RETIRABLE = {"Goals": GoalStatus.RETIRED, "Business strategies": Lifecycle.RETIRED}
_RETIRABLE["CRM strategies"] = Lifecycle.RETIRED
_USERNAME = re.compile(r"^[\w.@+-]{1,150}$")
# Who may be named in a project's person fields (projects.services.PROJECT_PEOPLE), by header.
_PEOPLE_ROLES: dict[str, tuple[Role, ...]] = {
    "Manager": (Role.PROJECT_MANAGER,),
    "Sponsor": (Role.SPONSOR, Role.EXECUTIVE),
    "Business owner": (),
}


@dataclass
class ImportReport:
    """What an import found and did."""

    total_rows: int
    created: dict[str, int] = field(default_factory=dict)  # kind (sheet name) -> count
    updated: dict[str, int] = field(default_factory=dict)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    people_invited: list[str] = field(default_factory=list)  # usernames created inactive
    applied: bool = False  # True only when written (not a dry run, no errors)
    scan_id: int | None = None  # the full scan run after applying
    # Wall-clock seconds per phase (read, check, write, scan): what bench_import prints.
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "total_rows": self.total_rows,
            "created": dict(self.created),
            "updated": dict(self.updated),
            "errors": [p.as_dict() for p in self.errors],
            "warnings": [p.as_dict() for p in self.warnings],
            "people_invited": list(self.people_invited),
            "applied": self.applied,
            "scan_id": self.scan_id,
        }


def import_workbook(
    source: Any,
    *,
    filename: str,
    actor: Any,
    dry_run: bool,
    progress: Progress | None = None,
    site_url: str = "",
) -> ImportReport:
    """Check the workbook (or one sheet as CSV) and, unless `dry_run` or anything is wrong,
    write it all in one transaction and run a full scan. Raises PermissionDenied when the actor
    may not import; every problem with the file is in the report's errors.
    `site_url` ("https://crm.example.com"): where the invitations to new people point."""
    require(can_import_portfolio(actor), "Only executives and admins may import a portfolio.")
    clock = _Clock()
    try:
        found = read(source, filename=filename, progress=_scaled(progress, 0.6))
    except MemoryError:
        found = ReadResult()
        found.errors.append(Problem(filename, None, None, "The file is too large to read."))
    report = ImportReport(total_rows=found.total_rows)
    report.seconds = clock.seconds
    clock.lap("read")
    report.errors.extend(found.errors)
    report.warnings.extend(found.warnings)
    if found.fatal:
        return report
    total = max(found.total_rows, 1)
    if dry_run or report.errors:
        # Every problem at once: the rows are checked even when some cells could not be read.
        plan = _Plan(found, actor, report)
        plan.check()
        clock.lap("check")
        report.people_invited = sorted(plan.invites)
        if not dry_run:
            report.created, report.updated, report.people_invited = {}, {}, []
        return report
    invited: list[Any] = []
    try:
        # Every write inside is recorded in the change history as the import, by the actor.
        with audit.recording(channel="import", actor=actor), transaction.atomic():
            plan = _Plan(found, actor, report)
            plan.check()
            clock.lap("check")
            report.people_invited = sorted(plan.invites)
            if report.errors:
                report.created, report.updated, report.people_invited = {}, {}, []
                return report
            invited = plan.apply(lambda done: _report(progress, 0.6, done, total))
        clock.lap("write")
    except ValidationError as exc:
        report.errors.append(
            Problem("", None, None, f"Nothing was written: {' '.join(exc.messages)}")
        )
        report.created, report.updated = {}, {}
        return report
    except DatabaseError as exc:
        log.exception("Import failed while writing")
        report.errors.append(
            Problem(
                "",
                None,
                None,
                f"Nothing was written: the database refused the import ({type(exc).__name__}). "
                "Try again; if it persists, tell an administrator.",
            )
        )
        report.created, report.updated = {}, {}
        return report
    report.applied = True
    if progress is not None:
        progress(total, total)
    _invite(invited, site_url)
    if found.total_rows >= _ANALYZE_FROM_ROWS:
        _analyze()
    try:
        with audit.recording(channel="scan", actor=actor):
            scan = engine.scan_full(requested_by=actor)
    except Exception:  # the import is written; a failed scan must not hide that
        log.exception("The scan after an import failed")
        report.warnings.append(
            Problem(
                "",
                None,
                None,
                "The portfolio was imported, but the scan after it failed: its flags appear "
                "after the next scan (start one from the flags page).",
            )
        )
    else:
        report.scan_id = scan.pk if scan is not None else None
    clock.lap("scan")
    return report


class _Clock:
    """Wall-clock and CPU seconds per phase (the CPU time is this process's only: the
    database's work shows in the wall-clock time)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()
        self._cpu = time.process_time()

    def lap(self, phase: str) -> None:
        now, cpu = time.monotonic(), time.process_time()
        self.seconds[phase] = round(now - self._last, 2)
        self.seconds[f"{phase} (CPU)"] = round(cpu - self._cpu, 2)
        self._last, self._cpu = now, cpu


def _scaled(progress: Progress | None, share: float) -> Progress | None:
    if progress is None:
        return None
    return lambda done, total: progress(int(done * share), total)


def _report(progress: Progress | None, start: float, done: int, total: int) -> None:
    if progress is not None:
        progress(min(total, int(total * start + done * (1 - start))), total)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


@dataclass
class _Invite:
    username: str
    email: str
    roles: set[str]
    pk: int | None = None


class _Plan:
    """The import's checks and writes. `check` reads the database (every stored row's key once),
    `apply` writes; both in the caller's transaction."""

    def __init__(self, found: ReadResult, actor: Any, report: ImportReport) -> None:
        self.found = found
        self.actor = actor
        self.report = report
        self.invites: dict[str, _Invite] = {}
        # Per sheet: key -> (pk, stored row in the workbook's columns).
        self.stored: dict[str, dict[tuple[Any, ...], tuple[int, tuple[Any, ...]]]] = {}
        # Per sheet: the rows to write, (key, pk or None, effective values).
        self.writes: dict[str, list[tuple[tuple[Any, ...], int | None, tuple[Any, ...]]]] = {}
        self.keys: dict[str, set[tuple[Any, ...]]] = {}  # workbook and database keys, per sheet
        self.people: dict[str, Any] = {}  # lowered username or e-mail -> user row
        self.retire: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        self._written: dict[str, dict[tuple[Any, ...], tuple[Any, ...]]] = {}

    # ---------------------------------------------------------------- checks

    def error(self, sheet: str, row: int | None, column: str | None, message: str) -> None:
        self.report.errors.append(Problem(sheet, row, column, message))

    def check(self) -> None:
        for sheet in SHEETS:
            self._load_stored(sheet)
        self._load_people()
        for sheet in SHEETS:
            data = self.found.sheets.get(sheet.name)
            if data is not None:
                self._check_sheet(sheet, data)

    def _key(self, sheet: Sheet, values: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(_lower(values[position(sheet, h)]) for h in sheet.key)

    def _load_stored(self, sheet: Sheet) -> None:
        index: dict[tuple[Any, ...], tuple[int, tuple[Any, ...]]] = {}
        for pk, *values in stored_rows(sheet, with_pk=True):
            index.setdefault(self._key(sheet, tuple(values)), (pk, tuple(values)))
        self.stored[sheet.name] = index
        keys = set(index)
        data = self.found.sheets.get(sheet.name)
        if data is not None:
            keys.update(self._key(sheet, values) for _, values in data.rows)
        self.keys[sheet.name] = keys

    def _load_people(self) -> None:
        named: set[str] = {self.actor.get_username().lower()}
        for data in self.found.sheets.values():
            for index, column in enumerate(data.sheet.columns):
                if column.kind == PERSON and data.present[index]:
                    named.update(v[index].lower() for _, v in data.rows if v[index])
        users = get_user_model().objects.annotate(
            lower_username=Lower("username"), lower_email=Lower("email")
        )
        found = list(
            users.filter(models.Q(lower_username__in=named) | models.Q(lower_email__in=named))
            .prefetch_related("groups")
            .order_by("pk")
        )
        by_email: dict[str, list[Any]] = defaultdict(list)
        for user in found:
            self.people.setdefault(user.lower_username, user)
            if user.lower_email:
                by_email[user.lower_email].append(user)
        for email, users_with_it in by_email.items():
            if email not in self.people:
                self.people[email] = users_with_it if len(users_with_it) > 1 else users_with_it[0]

    def _check_sheet(self, sheet: Sheet, data: SheetData) -> None:
        stored = self.stored[sheet.name]
        seen: dict[tuple[Any, ...], int] = {}
        writes = self.writes.setdefault(sheet.name, [])
        created = updated = 0
        first_key = sheet.key[0]
        before = len(self.report.errors)
        for number, values in data.rows:
            if any(values[i] is None for i, c in enumerate(sheet.columns) if c.required):
                continue  # the reader reported the missing value
            key = self._key(sheet, values)
            if key in seen:
                shown = ", ".join(f"{h} “{values[position(sheet, h)]}”" for h in sheet.key)
                self.error(
                    sheet.name,
                    number,
                    first_key,
                    f"Duplicate key: row {seen[key]} already has {shown}. Keep one of the two "
                    "rows.",
                )
                continue
            seen[key] = number
            existing = stored.get(key)
            effective = self._effective(sheet, data, values, existing)
            if not self._check_row(sheet, number, effective, existing):
                continue
            if existing is None:
                created += 1
                writes.append((key, None, effective))
            elif self._differs(sheet, effective, existing[1]):
                updated += 1
                writes.append((key, existing[0], effective))
        if len(self.report.errors) == before:
            if created:
                self.report.created[sheet.name] = created
            if updated:
                self.report.updated[sheet.name] = updated

    def _effective(
        self,
        sheet: Sheet,
        data: SheetData,
        values: tuple[Any, ...],
        existing: tuple[int, tuple[Any, ...]] | None,
    ) -> tuple[Any, ...]:
        """The row as it will be stored, in the workbook's columns: a column the file lacks
        keeps the stored value; an empty cell means the field's default (an empty owner keeps
        the stored one, or is the importer on a new row)."""
        model = _MODELS[sheet.name]
        out = []
        for index, column in enumerate(sheet.columns):
            value = values[index]
            if not data.present[index] or value is None:
                if existing and (not data.present[index] or column.header == "Owner"):
                    value = existing[1][index]
                elif column.kind == PERSON and column.header == "Owner":
                    value = self.actor.get_username()
                else:
                    value = self._default(model, column)
            out.append(value)
        return tuple(out)

    def _default(self, model: type[models.Model], column: Column) -> Any:
        if column.kind in (PERSON, REFERENCE):
            return None
        if column.kind == REFERENCES:
            return []
        model_field: Any = model._meta.get_field(column.field)
        return model_field.get_default()

    def _differs(self, sheet: Sheet, new: tuple[Any, ...], old: tuple[Any, ...]) -> bool:
        for column, a, b in zip(sheet.columns, new, old, strict=True):
            if column.kind == PERSON:
                if self._user_key(a) != self._user_key(b):
                    return True
            elif column.kind == REFERENCE:
                if _lower(a) != _lower(b):
                    return True
            elif column.kind == REFERENCES:
                if {_lower(t) for t in a} - {_lower(t) for t in b}:
                    return True
            elif a != b:
                return True
        return False

    def _user_key(self, text: Any) -> Any:
        if text is None:
            return None
        user = self.people.get(text.lower())
        if user is not None and not isinstance(user, list):
            return user.pk
        return text.lower()

    def _value(self, sheet: Sheet, values: tuple[Any, ...], header: str) -> Any:
        return values[position(sheet, header)]

    def _check_row(
        self,
        sheet: Sheet,
        number: int,
        values: tuple[Any, ...],
        existing: tuple[int, tuple[Any, ...]] | None,
    ) -> bool:
        before = len(self.report.errors)
        name = sheet.name

        def get(header: str) -> Any:
            return self._value(sheet, values, header)

        for column in sheet.columns:
            value = get(column.header)
            if column.kind == PERSON:
                self._check_person(sheet, number, column, value, existing)
            elif column.kind == REFERENCE and value is not None:
                self._check_reference(sheet, number, column, values)
            elif column.kind == MONEY and value is not None and value < 0:
                self.error(name, number, column.header, "A budget cannot be negative.")
        if name == "Goals":
            self._check_dates(name, number, get("Horizon start"), get("Horizon end"), "Horizon end")
        elif name == "KPIs":
            self._check_target(name, number, get("Baseline"), get("Target"), get("Direction"))
        elif name == "Business strategies" and existing is None:
            self._check_not_retired(name, number, "Goals", (_lower(get("Goal")),), "Goal")
        elif name == "CRM strategies":
            self._check_serves(sheet, number, values, existing)
        elif name == "Projects":
            self._check_dates(name, number, get("Start date"), get("End date"), "End date")
        elif name in ("Project links", "Feature links"):
            self._check_link(sheet, number, values, existing)
        elif name == "Success metrics":
            baseline, target = get("Baseline"), get("Target")
            if baseline is not None and target is not None and baseline == target:
                self.error(
                    name,
                    number,
                    "Target",
                    "The target equals the baseline, so it measures nothing: set a target "
                    "above or below it.",
                )
        elif name == "Roadmap":
            self._check_dates(name, number, get("Start date"), get("End date"), "End date")
        elif name == "Check-ins":
            day = get("Checked in on")
            if day is not None and day > timezone.localdate():
                self.error(
                    name,
                    number,
                    "Checked in on",
                    f"{day} is in the future: a check-in reports progress so far; date it "
                    "today or earlier.",
                )
        elif name == "Metric readings":
            day = get("Recorded on")
            if day is not None and day > timezone.localdate():
                self.error(
                    name,
                    number,
                    "Recorded on",
                    f"{day} is in the future: a reading records what was measured; date it "
                    "today or earlier.",
                )
        if name in _RETIRABLE and get("Status") == _RETIRABLE[name]:
            stored_status = existing[1][position(sheet, "Status")] if (existing) else None
            if stored_status != _RETIRABLE[name]:
                self.retire[name].append(self._key(sheet, values))
        return len(self.report.errors) == before

    def _check_dates(self, sheet: str, row: int, start: Any, end: Any, header: str) -> None:
        if start is not None and end is not None and end < start:
            self.error(
                sheet,
                row,
                header,
                f"The end ({end}) is before the start ({start}): swap them or fix one.",
            )

    def _check_target(
        self, sheet: str, row: int, baseline: Any, target: Any, direction: Any
    ) -> None:
        if baseline is None or target is None:
            return
        if target == baseline:
            self.error(
                sheet,
                row,
                "Target",
                f"The target equals the baseline ({baseline}), so it measures nothing: set a "
                "target above it (higher is better) or below it (lower is better).",
            )
        elif direction == "increase" and target < baseline:
            self.error(
                sheet,
                row,
                "Target",
                "The target is below the baseline but the direction is increase: raise the "
                "target, or set the direction to decrease.",
            )
        elif direction == "decrease" and target > baseline:
            self.error(
                sheet,
                row,
                "Target",
                "The target is above the baseline but the direction is decrease: lower the "
                "target, or set the direction to increase.",
            )

    def _check_person(
        self,
        sheet: Sheet,
        row: int,
        column: Column,
        text: Any,
        existing: tuple[int, tuple[Any, ...]] | None,
    ) -> None:
        if text is None:
            return
        user = self.people.get(text.lower())
        if isinstance(user, list):
            self.error(
                sheet.name,
                row,
                column.header,
                f"Several people have the e-mail {text}: type the username of the one you mean.",
            )
            return
        roles = _PEOPLE_ROLES.get(column.header) if sheet.name == "Projects" else None
        if user is None:
            self._plan_invite(sheet, row, column, text)
            return
        if roles is None:
            return
        # A person the project already names may stay, as on a page (only a change is checked).
        if existing is not None:
            stored = existing[1][position(sheet, column.header)]
            if stored is not None and stored.lower() == user.get_username().lower():
                return
        held = (
            set(Role.values)
            if user.is_superuser
            else {g.name for g in user.groups.all()} & set(Role.values)
        )
        if not user.is_active and not _invited_earlier(user):
            self.error(
                sheet.name,
                row,
                column.header,
                f"{user.get_username()} is deactivated: name someone else, or ask an admin to "
                "reactivate them.",
            )
            return
        if (held & {r.value for r in roles}) if roles else held:
            return
        needed = " or ".join(str(r.label).lower() for r in roles) or "any"
        self.error(
            sheet.name,
            row,
            column.header,
            f"{user.get_username()} cannot be the {column.header.lower()}: they need the "
            f"{needed} role. Name someone who has it, or ask an admin to give it to them.",
        )

    def _plan_invite(self, sheet: Sheet, row: int, column: Column, text: str) -> None:
        lowered = text.lower()
        invite = self.invites.get(lowered)
        if invite is None:
            if not _USERNAME.match(text):
                self.error(
                    sheet.name,
                    row,
                    column.header,
                    f"“{text}” is neither someone here nor a valid username or e-mail: type a "
                    "username (letters, digits and @ . + - _) or an e-mail address.",
                )
                return
            email = lowered if "@" in lowered else ""
            invite = _Invite(username=lowered, email=email, roles=set())
            self.invites[lowered] = invite
        if column.role is not None:
            invite.roles.add(column.role.value)

    def _check_reference(
        self, sheet: Sheet, row: int, column: Column, values: tuple[Any, ...]
    ) -> None:
        target = SHEET_BY_NAME[column.refers_to]
        name = _lower(self._value(sheet, values, column.header))
        # The key of the row referred to: a KPI is (goal, name), a feature (project, title).
        if target.name == "KPIs":
            key: tuple[Any, ...] = (_lower(self._value(sheet, values, "Goal")), name)
        elif target.name in _WITHIN_PROJECT:
            key = (_lower(self._value(sheet, values, "Project")), name)
        else:
            key = (name,)
        if key in self.keys[target.name] or not self._readable(target.name):
            return
        shown = self._value(sheet, values, column.header)
        noun = column.header if column.header.split()[0].isupper() else column.header.lower()
        within = ""
        if target.name == "KPIs":
            within = f" of the goal “{self._value(sheet, values, 'Goal')}”"
        elif target.name in _WITHIN_PROJECT:
            within = f" of the project “{self._value(sheet, values, 'Project')}”"
        self.error(
            sheet.name,
            row,
            column.header,
            f"There is no {noun} “{shown}”{within} in the {target.name} sheet or here: add it "
            f"to the {target.name} sheet, or fix the name.",
        )

    def _readable(self, sheet_name: str) -> bool:
        """False when the sheet is in the file but could not be read (a required column is
        missing): references to it are not reported again, row by row."""
        data = self.found.sheets.get(sheet_name)
        return data is None or data.readable

    def _status_after(self, sheet_name: str, key: tuple[Any, ...]) -> Any:
        """The status the row keyed `key` has after this import (that sheet is checked)."""
        sheet = SHEET_BY_NAME[sheet_name]
        status = position(sheet, "Status")
        written = self._written.get(sheet_name)
        if written is None:
            written = {key: values for key, _, values in self.writes.get(sheet_name, [])}
            self._written[sheet_name] = written
        if key in written:
            return written[key][status]
        stored = self.stored[sheet_name].get(key)
        return stored[1][status] if stored is not None else None

    def _stored_retired(self, sheet_name: str, key: tuple[Any, ...]) -> bool:
        """Retired in the database now, and still retired after this import."""
        sheet = SHEET_BY_NAME[sheet_name]
        stored = self.stored[sheet_name].get(key)
        if stored is None:
            return False
        status = position(sheet, "Status")
        retired = _RETIRABLE[sheet_name]
        return stored[1][status] == retired and self._status_after(sheet_name, key) == retired

    def _check_not_retired(
        self, sheet: str, row: int, target: str, key: tuple[Any, ...], header: str
    ) -> None:
        if self._stored_retired(target, key):
            self.error(
                sheet,
                row,
                header,
                f"“{key[-1]}” is retired, so nothing new may be put under or linked to it: "
                f"choose a live one, or set its status back in the {target} sheet.",
            )

    def _bs_by_title(self) -> dict[str, list[tuple[Any, ...]]]:
        found = getattr(self, "_bs_titles", None)
        if found is None:
            found = defaultdict(list)
            for key in self.keys["Business strategies"]:
                found[key[1]].append(key)
            self._bs_titles = found
        return found

    def _check_serves(
        self,
        sheet: Sheet,
        row: int,
        values: tuple[Any, ...],
        existing: tuple[int, tuple[Any, ...]] | None,
    ) -> None:
        header = "Serves business strategies"
        titles = self._value(sheet, values, header) or []
        already = {_lower(t) for t in existing[1][-1]} if existing else set()
        for title in titles:
            keys = self._bs_by_title().get(title.lower(), [])
            if not keys and not self._readable("Business strategies"):
                continue
            if not keys:
                self.error(
                    sheet.name,
                    row,
                    header,
                    f"There is no business strategy “{title}” in the Business strategies sheet "
                    "or here: add it there, or fix the title.",
                )
            elif len(keys) > 1:
                goals = ", ".join(sorted(f"“{k[0]}”" for k in keys))
                self.error(
                    sheet.name,
                    row,
                    header,
                    f"Several business strategies are titled “{title}” (under the goals "
                    f"{goals}): give them different titles so it is clear which one is meant.",
                )
            elif title.lower() not in already and self._stored_retired(
                "Business strategies", keys[0]
            ):
                self.error(
                    sheet.name,
                    row,
                    header,
                    f"The business strategy “{title}” is retired: a CRM strategy cannot start "
                    "serving it. Remove it here, or set its status back.",
                )

    def _check_link(
        self,
        sheet: Sheet,
        row: int,
        values: tuple[Any, ...],
        existing: tuple[int, tuple[Any, ...]] | None,
    ) -> None:
        rationale = self._value(sheet, values, "Rationale")
        weight = self._value(sheet, values, "Weight")
        if weight is not None and not 1 <= weight <= 100:
            self.error(sheet.name, row, "Weight", f"{weight} is not a weight: type 1 to 100.")
        stored_rationale = existing[1][-2] if existing else None
        if rationale is not None and rationale != stored_rationale:
            refusal = rationale_refusal(rationale)
            if refusal is not None:
                self.error(sheet.name, row, "Rationale", refusal)
        crm = _lower(self._value(sheet, values, "CRM strategy"))
        if existing is None:
            self._check_not_retired(sheet.name, row, "CRM strategies", (crm,), "CRM strategy")

    # ---------------------------------------------------------------- writes

    def apply(self, progress: Callable[[int], None]) -> list[_Invite]:
        """Write the checked rows; the invited people (to mail once committed)."""
        actor = self.actor
        invited = self._create_people()
        ids: dict[str, dict[tuple[Any, ...], int]] = {
            name: {key: pk for key, (pk, _) in index.items()} for name, index in self.stored.items()
        }
        done = 0

        def advance(count: int) -> None:
            nonlocal done
            done += count
            progress(done)

        def chunks(
            name: str,
        ) -> Iterable[list[tuple[tuple[Any, ...], int | None, tuple[Any, ...]]]]:
            # A service call per chunk: progress moves at least every _CHUNK rows.
            writes = self.writes.get(name, [])
            for start in range(0, len(writes), _CHUNK):
                part = writes[start : start + _CHUNK]
                yield part
                advance(len(part))

        def fk(name: str, *key: Any) -> int:
            return ids[name][tuple(_lower(k) for k in key)]

        def person(text: Any) -> int | None:
            return None if text is None else self._person_id(text)

        def holding(name: str) -> Callable[[tuple[Any, ...]], dict[str, Any]]:
            """The row's fields as the model takes them (references as ids)."""
            sheet = SHEET_BY_NAME[name]

            def fields(values: tuple[Any, ...]) -> dict[str, Any]:
                out: dict[str, Any] = {}
                for column, value in zip(sheet.columns, values, strict=True):
                    if column.kind == REFERENCES:
                        continue
                    if column.kind == PERSON:
                        out[f"{column.field}_id"] = person(value)
                    elif column.kind == REFERENCE:
                        out[f"{column.field}_id"] = self._reference_id(ids, sheet, column, values)
                    else:
                        out[column.field] = value
                if name in _RETIRABLE and out.get("status") == _RETIRABLE[name]:
                    key = self._key(sheet, values)
                    if key in self.retire[name]:
                        stored = self.stored[name].get(key)
                        if stored is None:
                            out["status"] = "draft"
                        else:
                            out.pop("status")
                if name == "KPI readings":
                    out.pop("goal_id", None)
                if name in ("Feature links", "Project links", "Metric readings"):
                    out.pop("project_id", None)
                return out

            return fields

        def upsert(
            name: str, service: Callable[..., tuple[list[Any], list[Any]]], **kw: Any
        ) -> None:
            fields = holding(name)
            for part in chunks(name):
                created, _ = service(
                    actor=actor, rows=[(pk, fields(values)) for _, pk, values in part], **kw
                )
                new_keys = [key for key, pk, _ in part if pk is None]
                for key, obj in zip(new_keys, created, strict=True):
                    ids[name][key] = obj.pk

        upsert("Departments", project_services.departments_import)
        upsert("User groups", project_services.user_groups_import)
        upsert("Systems", project_services.systems_import)
        upsert("Goals", goal_services.goals_import)
        upsert("KPIs", goal_services.kpis_import)
        upsert("KPI readings", goal_services.kpi_readings_import)
        upsert("Business strategies", strategy_services.business_strategies_import)
        upsert("CRM strategies", strategy_services.crm_strategies_import)
        pairs = []
        sheet = SHEET_BY_NAME["CRM strategies"]
        for key, _, values in self.writes.get("CRM strategies", []):
            for title in values[-1]:
                bs_key = self._bs_by_title()[title.lower()][0]
                pairs.append((ids["CRM strategies"][key], ids["Business strategies"][bs_key]))
        if pairs:
            strategy_services.crm_strategy_serves_import(actor=actor, pairs=pairs)
        upsert(
            "Projects",
            project_services.projects_import,
            invited=[i.pk for i in invited if i.pk is not None],
        )
        for part in chunks("Project links"):
            project_services.project_links_import(
                actor=actor,
                rows=[
                    LinkRow(
                        owner_id=fk("Projects", values[0]),
                        crm_strategy_id=fk("CRM strategies", values[1]),
                        rationale=values[2],
                        weight=values[3],
                    )
                    for _, _, values in part
                ],
            )
        upsert("Features", project_services.features_import)
        for part in chunks("Feature links"):
            project_services.feature_links_import(
                actor=actor,
                rows=[
                    LinkRow(
                        owner_id=fk("Features", values[0], values[1]),
                        crm_strategy_id=fk("CRM strategies", values[2]),
                        rationale=values[3],
                        weight=values[4],
                    )
                    for _, _, values in part
                ],
            )
        upsert("Success metrics", project_services.metrics_import)
        upsert("Roadmap", project_services.phases_import)
        upsert("Check-ins", project_services.check_ins_import)
        for part in chunks("Project user groups"):
            project_services.project_user_groups_import(
                actor=actor,
                pairs=[
                    (fk("Projects", values[0]), fk("User groups", values[1]))
                    for _, _, values in part
                ],
            )
        upsert("Project systems", project_services.project_systems_import)
        upsert("Metric readings", project_services.metric_readings_import)
        # Last, the retirements: everything under them is in place.
        for name, service in (
            ("Goals", goal_services.goals_import),
            ("Business strategies", strategy_services.business_strategies_import),
            ("CRM strategies", strategy_services.crm_strategies_import),
        ):
            keys = self.retire.get(name)
            if keys:
                retiring = [ids[name][key] for key in keys]
                # The managers and sponsors of the live projects below hear of it, as when it
                # is retired on its page (the bulk write sends no signal): read before the
                # status changes, in this transaction, so a failed import tells nobody.
                for parent in (
                    _MODELS[name]
                    ._default_manager.filter(pk__in=retiring)
                    .exclude(status=_RETIRABLE[name])
                ):
                    notify.parent_retired(parent, deleted=False)
                service(
                    actor=actor,
                    rows=[(pk, {"status": _RETIRABLE[name]}) for pk in retiring],
                )
        del sheet
        return invited

    def _reference_id(
        self,
        ids: dict[str, dict[tuple[Any, ...], int]],
        sheet: Sheet,
        column: Column,
        values: tuple[Any, ...],
    ) -> int | None:
        value = self._value(sheet, values, column.header)
        if value is None:
            return None
        target = column.refers_to
        if target == "KPIs":
            key: tuple[Any, ...] = (_lower(self._value(sheet, values, "Goal")), _lower(value))
        elif target in _WITHIN_PROJECT:
            key = (_lower(self._value(sheet, values, "Project")), _lower(value))
        else:
            key = (_lower(value),)
        return ids[target][key]

    def _person_id(self, text: str) -> int:
        lowered = text.lower()
        invite = self.invites.get(lowered)
        if invite is not None and invite.pk is not None:
            return invite.pk
        user = self.people[lowered]
        return int(user.pk)

    def _create_people(self) -> list[_Invite]:
        """Create the people the workbook names who are not here: inactive (they cannot sign
        in until they set a password), with the roles their columns imply."""
        if not self.invites:
            return []
        user_model = get_user_model()
        groups = {g.name: g for g in Group.objects.filter(name__in=Role.values)}
        invites = sorted(self.invites.values(), key=lambda i: i.username)
        users = []
        for invite in invites:
            # A sponsor column takes an executive too; a business owner needs any role.
            if Role.EXECUTIVE.value in invite.roles:
                invite.roles.discard(Role.SPONSOR.value)
            if len(invite.roles) > 1:
                invite.roles.discard(Role.VIEWER.value)
            if not invite.roles:
                invite.roles.add(Role.VIEWER.value)
            user = user_model(username=invite.username, email=invite.email, is_active=False)
            user.set_unusable_password()
            users.append(user)
        user_model.objects.bulk_create(users)
        created = {
            u.username: u
            for u in user_model.objects.filter(username__in=[i.username for i in invites])
        }
        memberships = []
        through = user_model.groups.through  # type: ignore[attr-defined]
        for invite in invites:
            invite.pk = created[invite.username].pk
            for role in sorted(invite.roles):
                memberships.append(through(user_id=invite.pk, group_id=groups[role].pk))
        through.objects.bulk_create(memberships)
        return invites


# Rows per service call while writing: the progress moves on at least this often.
_CHUNK = 1000

# After an import this large the planner's statistics are stale (thousands of new rows since
# autovacuum last looked); the scan that follows plans better with fresh ones.
_ANALYZE_FROM_ROWS = 10_000


def _analyze() -> None:
    """Refresh PostgreSQL's statistics of the tables an import writes (a no-op elsewhere)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    quote = connection.ops.quote_name
    tables = ", ".join(quote(model._meta.db_table) for model in _MODELS.values())
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {tables}")
    except DatabaseError:
        log.warning("ANALYZE after the import failed; the scan runs on older statistics")


def _invited_earlier(user: Any) -> bool:
    """Created by an import and not yet signed in: they keep the roles they were invited with."""
    return user.last_login is None and not user.has_usable_password()


def _mail_configured() -> bool:
    backend = settings.EMAIL_BACKEND
    return not backend.endswith(("dummy.EmailBackend", "console.EmailBackend"))


def _invite(invited: list[_Invite], site_url: str) -> None:
    """Mail each new person with an e-mail a link to set their password (Django's
    password-reset token), when mail is configured. Setting it activates the account
    (crm_alignment.accounts.InvitationView); until then nobody can sign in as them."""
    if not invited or not _mail_configured():
        return
    users = get_user_model().objects.in_bulk(
        [invite.pk for invite in invited if invite.email and invite.pk is not None]
    )
    for invite in invited:
        user = users.get(invite.pk)
        if user is None:
            continue
        path = reverse(
            "invitation",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
            },
        )
        try:
            send_mail(
                "You have been added to CRM Strategy Alignment",
                "Someone imported a portfolio that names you, so an account was made for you "
                f"(username {user.get_username()}). Set your password here:\n\n"
                f"{site_url.rstrip('/')}{path}\n\n"
                "The link works once; your account opens when you have set the password.",
                None,
                [invite.email],
            )
        except OSError:
            log.warning("Could not mail the invitation to %s", invite.username)
