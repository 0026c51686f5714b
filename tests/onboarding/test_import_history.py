"""An import's writes are in the change history like any other: each row it creates or
changes gets its entry, by the person who imported, through the `import` channel — also
those written through the services' bulk paths, which send no signal."""

import copy
import io
import json

from auditlog import get_logentry_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core import audit
from goals.models import KPI, BusinessGoal, KPICheckIn
from onboarding.importer import import_workbook
from projects.models import CRMProject, Feature, FeatureLink, ProjectLink
from strategies.models import CRMStrategy, CRMStrategyServes

from .conftest import SMALL, build_workbook
from .test_import_apply import people  # noqa: F401  (the fixture)

Entry = get_logentry_model()

WITH_READING = copy.deepcopy(SMALL)
WITH_READING["KPI readings"] = [
    {"Goal": "Grow revenue", "KPI": "Revenue growth", "Recorded on": "2026-03-31", "Value": 3}
]


def run(rows, actor):
    report = import_workbook(
        io.BytesIO(build_workbook(rows)), filename="p.xlsx", actor=actor, dry_run=False
    )
    assert report.errors == [] and report.applied, report.errors
    return report


def entries(model, **filters):
    return Entry.objects.filter(content_type=ContentType.objects.get_for_model(model), **filters)


def test_every_row_an_import_creates_is_recorded_as_the_import_by_the_importer(
    importer,
    people,  # noqa: F811
):
    run(WITH_READING, importer)

    for model in (
        BusinessGoal,
        KPI,
        KPICheckIn,
        CRMStrategy,
        CRMStrategyServes,
        CRMProject,
        ProjectLink,
        Feature,
        FeatureLink,
    ):
        rows = model.objects.count()
        created = entries(model, action=audit.CREATED)
        assert rows >= 1 and created.count() == rows, model
        assert set(created.values_list("channel", "actor")) == {("import", importer.pk)}, model

    link = entries(ProjectLink, action=audit.CREATED).get()
    assert link.changes["rationale"] == [None, "Partners register their deals through the portal"]
    project = CRMProject.objects.get()
    assert link.page_key == f"project:{project.pk}"  # on the project's History tab
    reading = entries(KPICheckIn, action=audit.CREATED).get()
    kpi = KPI.objects.get()
    assert reading.page_key == f"goal:{kpi.goal_id}" and reading.subpage_key == f"kpi:{kpi.pk}"
    assert "Revenue growth" in reading.object_repr


def test_an_edited_cell_is_recorded_with_its_old_and_new_value_and_a_same_import_adds_none(
    importer,
    people,  # noqa: F811
):
    run(SMALL, importer)
    before = Entry.objects.count()
    run(SMALL, importer)
    assert Entry.objects.count() == before  # nothing changed, nothing recorded

    edited = copy.deepcopy(SMALL)
    edited["Projects"][0]["Budget people"] = 75
    edited["Project links"][0]["Rationale"] = "Partners register every deal through the portal"
    run(edited, importer)

    project = CRMProject.objects.get()
    (change,) = entries(CRMProject, action=audit.UPDATED, object_id=project.pk)
    assert change.channel == "import" and change.actor == importer
    assert change.changes == {"budget_people": ["50.00", "75"]} or change.changes == {
        "budget_people": ["50.00", "75.00"]
    }
    (link_change,) = entries(ProjectLink, action=audit.UPDATED)
    assert link_change.changes == {
        "rationale": [
            "Partners register their deals through the portal",
            "Partners register every deal through the portal",
        ]
    }
    assert link_change.channel == "import"


def renamed(rows, suffix):
    """The workbook with every goal, strategy and project title given a suffix: all new rows."""
    text = json.dumps(rows)
    for title in (
        "Grow revenue",
        "Win emerging markets",
        "Enable local partners",
        "Partner portal",
    ):
        text = text.replace(json.dumps(title), json.dumps(f"{title} {suffix}"))
    return json.loads(text)


def test_recording_an_import_costs_the_same_statements_for_one_row_as_for_many(
    importer,
    people,  # noqa: F811
    django_assert_max_num_queries,
):
    """The history of a bulk write is written in batches, never a statement per row."""
    many = renamed(WITH_READING, "B")
    many["KPI readings"] = [
        {"Goal": "Grow revenue B", "KPI": "Revenue growth", "Recorded on": f"2026-01-{d:02}"}
        | {"Value": d}
        for d in range(1, 29)
    ]
    many["Features"] = [
        {"Project": "Partner portal B", "Title": f"Feature {n}", "Priority": "must"}
        for n in range(30)
    ]
    many["Feature links"] = [
        {
            "Project": "Partner portal B",
            "Feature": f"Feature {n}",
            "CRM strategy": "Enable local partners B",
            "Rationale": "Registered deals are how partners are credited",
        }
        for n in range(30)
    ]
    with CaptureQueriesContext(connection) as small:
        run(renamed(WITH_READING, "A"), importer)

    with django_assert_max_num_queries(len(small) + 3):
        run(many, importer)

    assert entries(FeatureLink, action=audit.CREATED).count() == 1 + 30
    assert entries(KPICheckIn, action=audit.CREATED).count() == 1 + 28
