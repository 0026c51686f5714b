"""Writing the portfolio workbook: the whole portfolio a user may read, the empty template with
one example row per sheet, and the demo portfolio. openpyxl's write-only mode streams rows to
the file, so memory stays flat however large the portfolio.

Rows are written in a fixed order (by key, ignoring case) and nothing in a cell depends on the
moment of writing, so the same portfolio always gives the same cells.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from core.permissions import can_read
from core.roles import Role
from core.services import require
from goals.models import KPI, BusinessGoal, KPICheckIn
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
from strategies.models import BusinessStrategy, CRMStrategy, CRMStrategyServes

from .workbook import (
    CHOICE,
    LISTS_SHEET,
    MAX_ROWS,
    PERSON,
    README_SHEET,
    REFERENCE,
    REFERENCES,
    SHEET_BY_NAME,
    SHEETS,
    YES_NO,
    Column,
    Sheet,
)

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The rows a dropdown covers below the header: far more than a portfolio has.
_VALIDATED_ROWS = MAX_ROWS + 1

Row = tuple[Any, ...]


# Per sheet: the rows in key order and, per column, where its value is stored (a person by
# username, a reference by the title or name it is known by).
_SOURCES: dict[str, tuple[Callable[[], QuerySet[Any]], tuple[str, ...]]] = {
    "Departments": (lambda: Department.objects.order_by(Lower("name"), "pk"), ("name", "is_it")),
    "User groups": (
        lambda: UserGroup.objects.order_by(Lower("name"), "pk"),
        ("name", "description"),
    ),
    "Systems": (
        lambda: System.objects.order_by(Lower("name"), "pk"),
        ("name", "description", "owner__username"),
    ),
    "Goals": (
        lambda: BusinessGoal.objects.order_by(Lower("title"), "pk"),
        (
            "title",
            "description",
            "owner__username",
            "status",
            "priority",
            "horizon_start",
            "horizon_end",
        ),
    ),
    "KPIs": (
        lambda: KPI.objects.order_by(Lower("goal__title"), Lower("name"), "pk"),
        ("goal__title", "name", "unit", "baseline", "target", "current", "direction", "due_date"),
    ),
    "KPI readings": (
        lambda: KPICheckIn.objects.order_by(
            Lower("kpi__goal__title"), Lower("kpi__name"), "recorded_on", "pk"
        ),
        ("kpi__goal__title", "kpi__name", "recorded_on", "value", "note"),
    ),
    "Business strategies": (
        lambda: BusinessStrategy.objects.order_by(Lower("goal__title"), Lower("title"), "pk"),
        ("goal__title", "title", "description", "scope", "owner__username", "status"),
    ),
    "CRM strategies": (
        lambda: CRMStrategy.objects.order_by(Lower("title"), "pk"),
        (
            "title",
            "description",
            "customer_need",
            "capability_people",
            "capability_process",
            "capability_technology",
            "owner__username",
            "status",
        ),
    ),
    "Projects": (
        lambda: CRMProject.objects.order_by(Lower("title"), "pk"),
        (
            "title",
            "description",
            "manager__username",
            "sponsor__username",
            "business_owner__username",
            "department__name",
            "status",
            "start_date",
            "end_date",
            "budget_technology",
            "budget_people",
            "budget_process",
            "budget_training",
            "budget_incentives",
            "integration_notes",
        ),
    ),
    "Project links": (
        lambda: ProjectLink.objects.order_by(
            Lower("project__title"), Lower("crm_strategy__title"), "pk"
        ),
        ("project__title", "crm_strategy__title", "rationale", "weight"),
    ),
    "Features": (
        lambda: Feature.objects.order_by(Lower("project__title"), "position", Lower("title"), "pk"),
        ("project__title", "title", "description", "priority", "status", "position"),
    ),
    "Feature links": (
        lambda: FeatureLink.objects.order_by(
            Lower("feature__project__title"),
            Lower("feature__title"),
            Lower("crm_strategy__title"),
            "pk",
        ),
        ("feature__project__title", "feature__title", "crm_strategy__title", "rationale", "weight"),
    ),
    "Success metrics": (
        lambda: SuccessMetric.objects.order_by(Lower("project__title"), Lower("name"), "pk"),
        ("project__title", "name", "unit", "baseline", "target", "current"),
    ),
    "Roadmap": (
        lambda: RoadmapPhase.objects.order_by(
            Lower("project__title"), "position", Lower("name"), "pk"
        ),
        ("project__title", "name", "kind", "start_date", "end_date", "go_live", "position"),
    ),
    "Check-ins": (
        lambda: ProjectCheckIn.objects.order_by(
            Lower("project__title"), "checked_in_on", "summary", "pk"
        ),
        ("project__title", "checked_in_on", "health", "summary"),
    ),
    "Project user groups": (
        lambda: ProjectUserGroup.objects.order_by(
            Lower("project__title"), Lower("user_group__name"), "pk"
        ),
        ("project__title", "user_group__name"),
    ),
    "Project systems": (
        lambda: ProjectSystem.objects.order_by(
            Lower("project__title"), Lower("system__name"), "pk"
        ),
        ("project__title", "system__name", "status", "owner__username", "notes"),
    ),
    "Metric readings": (
        lambda: MetricReading.objects.order_by(
            Lower("metric__project__title"), Lower("metric__name"), "recorded_on", "pk"
        ),
        ("metric__project__title", "metric__name", "recorded_on", "value", "note"),
    ),
}


def stored_rows(sheet: Sheet, *, with_pk: bool = False) -> Iterator[Row]:
    """The stored rows of `sheet`, in the workbook's order and columns (the pk first when asked):
    what export writes and what import compares with. Streamed from the database in chunks."""
    queryset, paths = _SOURCES[sheet.name]
    serves: dict[int, list[str]] = defaultdict(list)
    if sheet.name == "CRM strategies":
        for crm_id, title in CRMStrategyServes.objects.order_by(
            Lower("business_strategy__title"), "pk"
        ).values_list("crm_strategy_id", "business_strategy__title"):
            serves[crm_id].append(title)
    for row in queryset().values_list("pk", *paths).iterator(chunk_size=2000):
        values = row if with_pk else row[1:]
        if sheet.name == "CRM strategies":
            values = (*values, serves.get(row[0], []))
        yield values


def cell_value(column: Column, value: Any) -> Any:
    """A stored value as the workbook shows it (what the import reads back to the same value)."""
    if value is None or value == "":
        return None
    if column.kind == CHOICE:
        return next((key for key, stored in column.choices.items() if stored == value), value)
    if column.kind == YES_NO:
        return "yes" if value else "no"
    if column.kind == REFERENCES:
        return ("; ".join(value) if isinstance(value, list) else value) or None
    if isinstance(value, Decimal):
        # Whole numbers as integers, the rest as they are: the cell reads as it was typed.
        return int(value) if value == value.to_integral_value() else value
    return value


def _readme_rows() -> Iterator[list[Any]]:
    yield ["CRM Strategy Alignment — portfolio workbook"]
    yield [
        "One sheet per kind of object. The first row of each sheet holds its column headers; "
        "a header ending in * is required. Rows are matched by their key (titles ignoring "
        "case, people by username or e-mail, departments by name): importing a workbook "
        "twice changes nothing, and editing a cell then importing again updates that object. "
        "An import adds and updates; it never deletes. Every sheet must be present (leave it "
        "with just its header row when you have nothing for it). Type values, not formulas. "
        "Anything wrong is reported with its sheet, row and column, and then nothing is "
        "written. A single sheet can also be imported as a CSV file named after the sheet "
        "(e.g. projects.csv, project_links.csv) or whose header row matches the sheet's."
    ]
    yield []
    yield ["Sheet", "Column", "Required", "Key", "What it takes"]
    for sheet in SHEETS:
        yield [sheet.name, "", "", "", sheet.help]
        for column in sheet.columns:
            yield [
                sheet.name,
                column.header,
                "yes" if column.required else "",
                "yes" if column.header in sheet.key else "",
                column.help,
            ]


def _list_values() -> dict[str, list[str]]:
    """The lists behind the dropdowns: one column of the Lists sheet per choice set, plus the
    people who may be named."""
    lists: dict[str, list[str]] = {}
    for sheet in SHEETS:
        for column in sheet.columns:
            if column.kind == CHOICE:
                lists.setdefault(_list_name(column), list(column.choices))
            if column.kind == YES_NO:
                lists.setdefault("yes/no", ["yes", "no"])
    return lists


def _list_name(column: Column) -> str:
    return "/".join(column.choices)


def _validations(
    sheet: Sheet, lists: dict[str, int], people_count: int, people_column: int
) -> list[DataValidation]:
    """A dropdown on every status, choice, reference and person column of `sheet`."""
    found = []
    for index, column in enumerate(sheet.columns, start=1):
        letter = get_column_letter(index)
        area = f"{letter}2:{letter}{_VALIDATED_ROWS}"
        strict = True
        if column.kind == CHOICE:
            source = _list_range(lists[_list_name(column)], len(column.choices))
        elif column.kind == YES_NO:
            source = _list_range(lists["yes/no"], 2)
        elif column.kind == REFERENCE:
            target = SHEET_BY_NAME[column.refers_to]
            target_column = _key_column_index(target, column)
            key_letter = get_column_letter(target_column)
            source = f"'{target.name}'!${key_letter}$2:${key_letter}${_VALIDATED_ROWS}"
            strict = False  # it may also name something already in the database
        elif column.kind == PERSON:
            source = _list_range(people_column, max(people_count, 1))
            strict = False  # someone new is invited
        else:
            continue
        validation = DataValidation(
            type="list",
            formula1=source,
            allow_blank=not column.required,
            showErrorMessage=True,
            errorStyle="stop" if strict else "warning",
            errorTitle=column.header,
            error=column.help[:255],
        )
        validation.add(area)
        found.append(validation)
    return found


def _key_column_index(target: Sheet, column: Column) -> int:
    """The column of `target` a reference names: its title or name column."""
    wanted = target.key[-1]  # a title or name, after the parent's key where it has one
    headers = [c.header for c in target.columns]
    return headers.index(wanted) + 1


def _list_range(column_index: int, count: int) -> str:
    letter = get_column_letter(column_index)
    return f"'{LISTS_SHEET}'!${letter}$2:${letter}${count + 1}"


def _literal(worksheet: Any, value: Any) -> Any:
    """Text that starts with "=" as text: openpyxl would write it as a formula, which a
    spreadsheet program then runs (formula injection through a title someone typed)."""
    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(worksheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def _write(out: IO[bytes] | Any, rows_for: Callable[[Sheet], Iterable[Row]]) -> None:
    workbook = Workbook(write_only=True)
    readme = workbook.create_sheet(README_SHEET)
    for line in _readme_rows():
        readme.append(line)
    choice_lists = _list_values()
    people = list(
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=[r.value for r in Role]))
        .distinct()
        .order_by("username")
        .values_list("username", flat=True)
    )
    list_columns = {name: index for index, name in enumerate(choice_lists, start=1)}
    people_column = len(choice_lists) + 1
    for sheet in SHEETS:
        worksheet = workbook.create_sheet(sheet.name)
        for validation in _validations(sheet, list_columns, len(people), people_column):
            worksheet.data_validations.append(validation)
        worksheet.append([column.heading for column in sheet.columns])
        for row in rows_for(sheet):
            worksheet.append(
                [
                    _literal(worksheet, cell_value(column, value))
                    for column, value in zip(sheet.columns, row, strict=True)
                ]
            )
    lists = workbook.create_sheet(LISTS_SHEET)
    lists.sheet_state = "hidden"
    lists.append([*choice_lists, "people"])
    values = [*choice_lists.values(), people]
    for index in range(max(len(v) for v in values)):
        lists.append([v[index] if index < len(v) else None for v in values])
    workbook.save(out)


def write_workbook(out: IO[bytes] | Any, *, actor: Any) -> None:
    """The whole portfolio the actor may read, as the workbook (every signed-in role reads it
    all; someone without a role is refused)."""
    require(can_read(actor), "Only people with a role may export the portfolio.")
    # One snapshot: the sheets agree with each other even while others edit.
    with transaction.atomic():
        _write(out, lambda sheet: stored_rows(sheet))


def write_template(out: IO[bytes] | Any) -> None:
    """The empty workbook: README, headers, dropdowns and one example row per sheet."""
    _write(out, lambda sheet: [tuple(column.example for column in sheet.columns)])


# The demo portfolio's loader; the composition root registers it (the demo lives above this
# app, which must not import it).
_demo_loader: Callable[[], Any] | None = None


def register_demo_loader(loader: Callable[[], Any]) -> None:
    """Say how the demo portfolio is loaded (`crm_alignment.demo.load_demo`)."""
    global _demo_loader
    _demo_loader = loader


class _RollBack(Exception):
    pass


def write_demo_workbook(out: IO[bytes] | Any) -> None:
    """The demo portfolio (`manage.py load_demo`) as a workbook. The demo is loaded in a
    transaction that is rolled back once the workbook is written, so nothing here changes. Meant
    for an installation without a portfolio of its own (the workbook holds everything the
    database holds with the demo loaded); its dates are relative to today, as the demo's are,
    so two workbooks written on one day are the same."""
    if _demo_loader is None:
        raise RuntimeError("No demo loader registered (crm_alignment registers it).")
    loader = _demo_loader
    try:
        with transaction.atomic():
            loader()
            _write(out, lambda sheet: stored_rows(sheet))
            raise _RollBack
    except _RollBack:
        pass
