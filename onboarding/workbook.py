"""The portfolio workbook's format, declared once: its sheets, their columns, what each column
takes and means. Export writes it, import reads it, the template and the README sheet are
generated from it, so the three can never disagree.

Every sheet's first row holds the column headers (matched ignoring case, spaces around them and
a trailing "*", which marks a required column). Objects are matched by natural key — titles
(unique ignoring case), a KPI's or metric's name within its goal or project, people by username
or e-mail, departments by name — so importing a workbook twice changes nothing, and editing a
cell and importing again updates that object. An import adds and updates; it never deletes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from core.models import Lifecycle
from core.roles import Role
from goals.models import Direction, GoalStatus, Priority
from projects.models import (
    FeaturePriority,
    FeatureStatus,
    Health,
    IntegrationStatus,
    PhaseKind,
    ProjectStatus,
)
from projects.services import RATIONALE_RULE

# Kinds of column: how a cell is read and written.
TEXT = "text"  # one line, up to the model field's length
LONG_TEXT = "long_text"  # free text, up to LONG_TEXT_LIMIT characters
DECIMAL = "decimal"
MONEY = "money"  # a decimal that cannot be negative
DATE = "date"
INTEGER = "integer"
CHOICE = "choice"
YES_NO = "yes_no"
PERSON = "person"
REFERENCE = "reference"  # the key of a row of another sheet (or of the database)
REFERENCES = "references"  # several, separated by ";"

LONG_TEXT_LIMIT = 10_000
# More data rows than this (all sheets together) is refused before anything is parsed: split
# the file. Far above any real portfolio, well inside what an import finishes in a minute.
MAX_ROWS = 200_000
LIST_SEPARATOR = ";"

# Sheets the import skips: the explanation and the lists behind the dropdowns.
README_SHEET = "README"
LISTS_SHEET = "Lists"


def _choices(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return dict(pairs)


GOAL_STATUSES = _choices([(v, v) for v in GoalStatus.values])
LIFECYCLE = _choices([(v, v) for v in Lifecycle.values])
PROJECT_STATUSES = _choices([(v, v) for v in ProjectStatus.values])
FEATURE_STATUSES = _choices([(v, v) for v in FeatureStatus.values])
GOAL_PRIORITIES = _choices([(p.label.lower(), p.value) for p in Priority])
FEATURE_PRIORITIES = {
    "must": FeaturePriority.MUST.value,
    "should": FeaturePriority.SHOULD.value,
    "could": FeaturePriority.COULD.value,
    "wont": FeaturePriority.WONT.value,
}
DIRECTIONS = _choices([(v, v) for v in Direction.values])
HEALTHS = _choices([(v, v) for v in Health.values])
PHASE_KINDS = _choices([(v, v) for v in PhaseKind.values])
INTEGRATION_STATUSES = _choices([(v, v) for v in IntegrationStatus.values])


@dataclass(frozen=True)
class Column:
    """One column: its header, the model field it fills, how it is read, and what it means."""

    header: str
    field: str
    kind: str
    help: str
    required: bool = False
    choices: dict[str, Any] = dataclasses.field(default_factory=dict)
    refers_to: str = ""  # the sheet whose keys a REFERENCE column names
    role: Role | None = None  # the role a person named here is invited with
    max_length: int | None = None
    example: Any = None

    @property
    def heading(self) -> str:
        """The header as written: required columns end in "*"."""
        return f"{self.header}*" if self.required else self.header


@dataclass(frozen=True)
class Sheet:
    """One kind of object: its sheet name, columns, and the columns that make up its key."""

    name: str
    kind: str  # the key in ImportReport.created / updated: the sheet name
    help: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # headers whose values identify a row

    def column(self, header: str) -> Column:
        return next(c for c in self.columns if c.header == header)

    @property
    def file_stem(self) -> str:
        """How a CSV of this sheet may be named: "project_links.csv"."""
        return self.name.lower().replace(" ", "_").replace("-", "_")


def _title(noun: str, example: str, unique: str = "unique ignoring case") -> Column:
    return Column(
        "Title",
        "title",
        TEXT,
        f"The {noun}'s title; {unique}. It is the key: an import updates the {noun} with "
        "this title, or creates it.",
        required=True,
        max_length=200,
        example=example,
    )


def _status(choices: dict[str, Any], default: str, example: str) -> Column:
    return Column(
        "Status",
        "status",
        CHOICE,
        f"One of: {', '.join(choices)}. Empty: {default}.",
        choices=choices,
        example=example,
    )


def _owner(noun: str, example: str) -> Column:
    return Column(
        "Owner",
        "owner",
        PERSON,
        f"Username or e-mail of the {noun}'s owner. Empty: the person importing. Someone "
        "unknown is invited as an executive.",
        role=Role.EXECUTIVE,
        example=example,
    )


def _ref(
    header: str, sheet: str, field_name: str, help_text: str, example: str, required: bool = True
) -> Column:
    return Column(
        header,
        field_name,
        REFERENCE,
        help_text,
        required=required,
        refers_to=sheet,
        example=example,
    )


def _project_ref(example: str = "Partner portal") -> Column:
    return _ref(
        "Project",
        "Projects",
        "project",
        "The project's title: a row of the Projects sheet or a project already here.",
        example,
    )


def _date(header: str, field_name: str, help_text: str, example: str, **kw: Any) -> Column:
    return Column(
        header, field_name, DATE, help_text + " A date (YYYY-MM-DD).", example=example, **kw
    )


def _decimal(header: str, field_name: str, help_text: str, example: Any, **kw: Any) -> Column:
    return Column(header, field_name, DECIMAL, help_text, example=example, **kw)


def _money(header: str, field_name: str, what: str, example: Any) -> Column:
    return Column(
        header,
        field_name,
        MONEY,
        f"Budget for {what}; a number, not negative. Empty: 0.",
        example=example,
    )


def _rationale() -> Column:
    return Column(
        "Rationale",
        "rationale",
        TEXT,
        RATIONALE_RULE,
        required=True,
        max_length=500,
        example="Partners register deals and leads through it, which the partner strategy needs",
    )


def _weight() -> Column:
    return Column(
        "Weight",
        "weight",
        INTEGER,
        "Optional contribution weight, 1 to 100.",
        example=100,
    )


def _crm_ref() -> Column:
    return _ref(
        "CRM strategy",
        "CRM strategies",
        "crm_strategy",
        "The CRM strategy served: a title from the CRM strategies sheet or one already here.",
        "Enable local partners",
    )


# The template's example row of each sheet: one small, consistent chain.
_GOAL = "Grow revenue while maintaining profit margin"
_BUSINESS_STRATEGY = "Win share in emerging markets through local partners"

SHEETS: tuple[Sheet, ...] = (
    Sheet(
        "Departments",
        "Departments",
        "Departments that own projects as their business owner.",
        (
            Column(
                "Name",
                "name",
                TEXT,
                "The department's name; the key.",
                required=True,
                max_length=100,
                example="Sales",
            ),
            Column(
                "Is IT",
                "is_it",
                YES_NO,
                "yes for an IT department (a project it owns alone is flagged), else no.",
                example="no",
            ),
        ),
        key=("Name",),
    ),
    Sheet(
        "User groups",
        "User groups",
        "The people a change lands on; projects name the groups they affect.",
        (
            Column(
                "Name",
                "name",
                TEXT,
                "The user group's name; unique ignoring case (the key).",
                required=True,
                max_length=100,
                example="Partner managers",
            ),
            Column("Description", "description", LONG_TEXT, "Free text.", example=""),
        ),
        key=("Name",),
    ),
    Sheet(
        "Systems",
        "Systems",
        "The systems projects integrate with (ERP, billing, …), with their owners.",
        (
            Column(
                "Name",
                "name",
                TEXT,
                "The system's name; unique ignoring case (the key).",
                required=True,
                max_length=100,
                example="ERP",
            ),
            Column("Description", "description", LONG_TEXT, "Free text.", example=""),
            Column(
                "Owner",
                "owner",
                PERSON,
                "Username or e-mail of the system's owner: anyone with a role. Empty: the "
                "person importing. Someone unknown is invited as a viewer.",
                role=Role.VIEWER,
                example="exec",
            ),
        ),
        key=("Name",),
    ),
    Sheet(
        "Goals",
        "Goals",
        "Business goals.",
        (
            _title("goal", _GOAL),
            Column("Description", "description", LONG_TEXT, "Free text.", example=""),
            _owner("goal", "exec"),
            _status(GOAL_STATUSES, "draft", "active"),
            Column(
                "Priority",
                "priority",
                CHOICE,
                f"One of: {', '.join(GOAL_PRIORITIES)}. Empty: medium.",
                choices=GOAL_PRIORITIES,
                example="high",
            ),
            _date("Horizon start", "horizon_start", "When work on the goal starts.", "2026-01-01"),
            _date(
                "Horizon end",
                "horizon_end",
                "When it should be reached; on or after the start.",
                "2028-12-31",
            ),
        ),
        key=("Title",),
    ),
    Sheet(
        "KPIs",
        "KPIs",
        "The measures of each goal.",
        (
            _ref("Goal", "Goals", "goal", "The goal's title.", _GOAL),
            Column(
                "Name",
                "name",
                TEXT,
                "The KPI's name; unique within its goal (the key, with the goal).",
                required=True,
                max_length=200,
                example="Revenue growth",
            ),
            Column("Unit", "unit", TEXT, "e.g. %, EUR m.", max_length=40, example="%"),
            _decimal("Baseline", "baseline", "Where it started; a number.", 2, required=True),
            _decimal(
                "Target",
                "target",
                "Where it must get; above the baseline when higher is better, below it when "
                "lower is better — never equal.",
                6,
                required=True,
            ),
            _decimal("Current", "current", "Where it is now; a number.", 3),
            Column(
                "Direction",
                "direction",
                CHOICE,
                f"One of: {', '.join(DIRECTIONS)}. Empty: increase.",
                choices=DIRECTIONS,
                example="increase",
            ),
            _date("Due date", "due_date", "When the target is due.", "2027-12-31"),
        ),
        key=("Goal", "Name"),
    ),
    Sheet(
        "KPI readings",
        "KPI readings",
        "Readings of KPIs over time; the KPI's current value follows its newest reading.",
        (
            _ref("Goal", "Goals", "goal", "The goal's title.", _GOAL),
            _ref("KPI", "KPIs", "kpi", "The KPI's name within that goal.", "Revenue growth"),
            _date(
                "Recorded on", "recorded_on", "The day of the reading.", "2026-03-31", required=True
            ),
            _decimal("Value", "value", "The reading; a number.", 3, required=True),
            Column("Note", "note", TEXT, "Optional.", max_length=500, example=""),
        ),
        key=("Goal", "KPI", "Recorded on"),
    ),
    Sheet(
        "Business strategies",
        "Business strategies",
        "How each goal will be reached.",
        (
            _ref("Goal", "Goals", "goal", "The goal it serves.", _GOAL),
            _title(
                "business strategy",
                _BUSINESS_STRATEGY,
                "unique within its goal ignoring case (the key, with the goal)",
            ),
            Column(
                "Description", "description", LONG_TEXT, "How we will reach the goal.", example=""
            ),
            Column(
                "Scope",
                "scope",
                TEXT,
                "e.g. a market segment.",
                max_length=200,
                example="Emerging markets",
            ),
            _owner("business strategy", "exec"),
            _status(LIFECYCLE, "draft", "active"),
        ),
        key=("Goal", "Title"),
    ),
    Sheet(
        "CRM strategies",
        "CRM strategies",
        "What CRM builds, and which business strategies each serves.",
        (
            _title("CRM strategy", "Enable local partners"),
            Column("Description", "description", LONG_TEXT, "Free text.", example=""),
            Column("Customer need", "customer_need", LONG_TEXT, "The customer need.", example=""),
            Column(
                "People capabilities",
                "capability_people",
                LONG_TEXT,
                "People capabilities it builds.",
                example="",
            ),
            Column(
                "Process capabilities",
                "capability_process",
                LONG_TEXT,
                "Process capabilities it builds.",
                example="",
            ),
            Column(
                "Technology capabilities",
                "capability_technology",
                LONG_TEXT,
                "Technology capabilities it builds.",
                example="",
            ),
            _owner("CRM strategy", "exec"),
            _status(LIFECYCLE, "draft", "active"),
            Column(
                "Serves business strategies",
                "business_strategies",
                REFERENCES,
                "Titles of the business strategies it serves, separated by “;”. An import "
                "adds the ones missing and removes none.",
                refers_to="Business strategies",
                example=_BUSINESS_STRATEGY,
            ),
        ),
        key=("Title",),
    ),
    Sheet(
        "Projects",
        "Projects",
        "CRM projects: who runs and sponsors them, status, dates, budget split.",
        (
            _title("project", "Partner portal"),
            Column("Description", "description", LONG_TEXT, "Free text.", example=""),
            Column(
                "Manager",
                "manager",
                PERSON,
                "Username or e-mail of a project manager. Someone unknown is invited as a "
                "project manager.",
                required=True,
                role=Role.PROJECT_MANAGER,
                example="pm",
            ),
            Column(
                "Sponsor",
                "sponsor",
                PERSON,
                "The executive sponsor: a sponsor or an executive. Someone unknown is invited "
                "as a sponsor.",
                role=Role.SPONSOR,
                example="sponsor",
            ),
            Column(
                "Business owner",
                "business_owner",
                PERSON,
                "The person on the business side accountable for the outcome: anyone with a "
                "role. Someone unknown is invited as a viewer.",
                role=Role.VIEWER,
                example="",
            ),
            _ref(
                "Department",
                "Departments",
                "department",
                "The department that owns it: a name from the Departments sheet or one already "
                "here. Empty: none.",
                "Sales",
                required=False,
            ),
            _status(PROJECT_STATUSES, "proposed", "proposed"),
            _date("Start date", "start_date", "When it starts.", "2026-02-01"),
            _date("End date", "end_date", "When it ends; on or after the start.", "2026-12-31"),
            _money("Budget technology", "budget_technology", "technology", 400000),
            _money("Budget people", "budget_people", "people (hiring, roles)", 50000),
            _money("Budget process", "budget_process", "process change", 50000),
            _money("Budget training", "budget_training", "training", 30000),
            _money("Budget incentives", "budget_incentives", "incentives", 20000),
            Column(
                "Integration notes",
                "integration_notes",
                LONG_TEXT,
                "How it integrates with other systems.",
                example="",
            ),
        ),
        key=("Title",),
    ),
    Sheet(
        "Project links",
        "Project links",
        "Each project's claim to serve a CRM strategy, with the rationale.",
        (_project_ref(), _crm_ref(), _rationale(), _weight()),
        key=("Project", "CRM strategy"),
    ),
    Sheet(
        "Features",
        "Features",
        "The features (requirements) of each project.",
        (
            _project_ref(),
            Column(
                "Title",
                "title",
                TEXT,
                "The feature's title; unique within its project ignoring case (the key, with "
                "the project).",
                required=True,
                max_length=200,
                example="Deal registration",
            ),
            Column("Description", "description", LONG_TEXT, "Free text.", example=""),
            Column(
                "Priority",
                "priority",
                CHOICE,
                f"One of: {', '.join(FEATURE_PRIORITIES)}. Empty: should.",
                choices=FEATURE_PRIORITIES,
                example="must",
            ),
            _status(FEATURE_STATUSES, "proposed", "proposed"),
            Column(
                "Position",
                "position",
                INTEGER,
                "Order within the project (0 first). Empty: 0.",
                example=0,
            ),
        ),
        key=("Project", "Title"),
    ),
    Sheet(
        "Feature links",
        "Feature links",
        "Each feature's claim to serve a CRM strategy, with the rationale.",
        (
            _project_ref(),
            _ref(
                "Feature",
                "Features",
                "feature",
                "The feature's title within that project.",
                "Deal registration",
            ),
            _crm_ref(),
            _rationale(),
            _weight(),
        ),
        key=("Project", "Feature", "CRM strategy"),
    ),
    Sheet(
        "Success metrics",
        "Success metrics",
        "How each project's success is measured.",
        (
            _project_ref(),
            Column(
                "Name",
                "name",
                TEXT,
                "The metric's name; unique within its project.",
                required=True,
                max_length=200,
                example="Partner-sourced revenue",
            ),
            Column("Unit", "unit", TEXT, "e.g. %, EUR m.", max_length=40, example="EUR m"),
            _decimal("Baseline", "baseline", "Where it starts; a number.", 5),
            _decimal("Target", "target", "Where it must get; not equal to the baseline.", 12),
            _decimal("Current", "current", "Where it is now.", ""),
        ),
        key=("Project", "Name"),
    ),
    Sheet(
        "Roadmap",
        "Roadmap",
        "Roadmap phases and milestones of each project.",
        (
            _project_ref(),
            Column(
                "Name",
                "name",
                TEXT,
                "The phase's or milestone's name; the key within the project.",
                required=True,
                max_length=200,
                example="Pilot in two countries",
            ),
            Column(
                "Kind",
                "kind",
                CHOICE,
                f"One of: {', '.join(PHASE_KINDS)}. Empty: phase.",
                choices=PHASE_KINDS,
                example="phase",
            ),
            _date("Start date", "start_date", "When it starts.", "2026-03-01"),
            _date("End date", "end_date", "When it ends; on or after the start.", "2026-06-30"),
            Column(
                "Go-live",
                "go_live",
                YES_NO,
                "yes for a milestone where the change reaches its users (dated by its start "
                "date; only a milestone can be one), else no.",
                example="no",
            ),
            Column("Position", "position", INTEGER, "Order on the roadmap (0 first).", example=0),
        ),
        key=("Project", "Name"),
    ),
    Sheet(
        "Check-ins",
        "Check-ins",
        "Dated progress notes of each project.",
        (
            _project_ref(),
            _date(
                "Checked in on",
                "checked_in_on",
                "The day of the check-in; not in the future.",
                "2026-03-15",
                required=True,
            ),
            Column(
                "Health",
                "health",
                CHOICE,
                f"One of: {', '.join(HEALTHS)}. Empty: on_track.",
                choices=HEALTHS,
                example="on_track",
            ),
            Column(
                "Summary",
                "summary",
                LONG_TEXT,
                "What happened; with the project and date, the key.",
                required=True,
                example="Pilot partners onboarded",
            ),
        ),
        key=("Project", "Checked in on", "Summary"),
    ),
    Sheet(
        "Project user groups",
        "Project user groups",
        "The user groups each project's change lands on. An import adds the pairs missing and "
        "removes none.",
        (
            _project_ref(),
            _ref(
                "User group",
                "User groups",
                "user_group",
                "The user group's name: a row of the User groups sheet or one already here.",
                "Partner managers",
            ),
        ),
        key=("Project", "User group"),
    ),
    Sheet(
        "Project systems",
        "Project systems",
        "The systems each project touches: how far each integration is, and who owns it.",
        (
            _project_ref(),
            _ref(
                "System",
                "Systems",
                "system",
                "The system's name: a row of the Systems sheet or one already here.",
                "ERP",
            ),
            _status(INTEGRATION_STATUSES, "not_started", "designed"),
            Column(
                "Integration owner",
                "owner",
                PERSON,
                "Username or e-mail of who owns this integration: anyone with a role. Empty: "
                "nobody yet. Someone unknown is invited as a viewer.",
                role=Role.VIEWER,
                example="pm",
            ),
            Column("Notes", "notes", LONG_TEXT, "What the integration involves.", example=""),
        ),
        key=("Project", "System"),
    ),
    Sheet(
        "Metric readings",
        "Metric readings",
        "Readings of success metrics over time; the metric's current value follows its newest "
        "reading.",
        (
            _project_ref(),
            _ref(
                "Metric",
                "Success metrics",
                "metric",
                "The success metric's name within that project.",
                "Partner-sourced revenue",
            ),
            _date(
                "Recorded on",
                "recorded_on",
                "The day of the reading; not in the future.",
                "2026-03-31",
                required=True,
            ),
            _decimal("Value", "value", "The reading; a number.", 6, required=True),
            Column("Note", "note", TEXT, "Optional.", max_length=500, example=""),
        ),
        key=("Project", "Metric", "Recorded on"),
    ),
)

SHEET_BY_NAME = {sheet.name: sheet for sheet in SHEETS}


def normal_header(text: Any) -> str:
    """A header as matched: case, surrounding spaces and a trailing "*" do not count."""
    return str(text or "").strip().rstrip("*").strip().lower()


def sheet_for_file_name(filename: str) -> Sheet | None:
    """The sheet a CSV file's name names ("Project links.csv", "project_links.csv")."""
    stem = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    stem = stem.rsplit(".", 1)[0].strip().lower().replace(" ", "_").replace("-", "_")
    return next((s for s in SHEETS if s.file_stem == stem), None)


def sheet_for_headers(headers: list[str]) -> Sheet | None:
    """The sheet whose columns a CSV's header row matches best: every required column present,
    most columns in common; None when none fits."""
    given = {normal_header(h) for h in headers if normal_header(h)}
    best: tuple[int, int, Sheet] | None = None
    for sheet in SHEETS:
        needed = {normal_header(c.header) for c in sheet.columns if c.required}
        if not needed <= given:
            continue
        known = {normal_header(c.header) for c in sheet.columns}
        score = (len(given & known), -len(given - known))
        if best is None or score > best[:2]:
            best = (*score, sheet)
    return best[2] if best else None


_POSITIONS: dict[str, dict[str, int]] = {
    sheet.name: {column.header: index for index, column in enumerate(sheet.columns)}
    for sheet in SHEETS
}


def position(sheet: Sheet, header: str) -> int:
    """Where the column `header` is in the sheet's rows."""
    return _POSITIONS[sheet.name][header]
