"""The project list renders its page from plain rows (projects.api.project_list_results), not
through ProjectSerializer; what it answers must be exactly what the serializer shows for each
project — the detail endpoint's answer — field for field, in the same order, on a generated
portfolio with every rule's condition in it and on hand-made edge cases."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers

from core.lists import RowRenderer
from crm_alignment.portfolio import Shape, generate_portfolio
from projects.api import NestedMetricSerializer, ProjectSerializer, project_queryset
from projects.models import CRMProject, SuccessMetric
from tests.factories import (
    CRMStrategyFactory,
    FeatureFactory,
    FeatureLinkFactory,
    ProjectCheckInFactory,
    ProjectFactory,
    ProjectLinkFactory,
    RoadmapPhaseFactory,
    SuccessMetricFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _serialized(ids):
    """What ProjectSerializer shows for these projects (the detail endpoint's body)."""
    projects = project_queryset().in_bulk(ids)
    return [dict(ProjectSerializer(projects[pk]).data) for pk in ids]


def _listed(client, query=""):
    response = client.get(f"/api/projects/?page_size=200{query}")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _as_json(rows):
    """Through the JSON renderer, as a client sees the serializer's output."""
    import json

    from rest_framework.renderers import JSONRenderer

    return json.loads(JSONRenderer().render(rows))


@pytest.mark.parametrize(
    "query", ["", "&ordering=-budget_total", "&is_traceable=false", "&ordering=feature_count"]
)
def test_the_list_shows_what_the_serializer_shows_on_a_generated_portfolio(api, viewer, query):
    generate_portfolio(Shape(projects=60, features_per_project=3, seed=5))

    listed = _listed(api(viewer), query)

    assert listed, "the list is empty"
    expected = _as_json(_serialized([row["id"] for row in listed]))
    for row, want in zip(listed, expected, strict=True):
        assert row == want
        assert list(row) == list(want)  # the same keys in the same order


def test_the_list_shows_the_edge_cases_as_the_serializer_does(api, viewer, settings):
    settings.TIME_ZONE = "Europe/Berlin"  # datetimes shown with an offset, not "Z"
    anchored = CRMStrategyFactory()
    broken = CRMStrategyFactory(serves=[])
    approver = UserFactory(roles=["executive"])
    bare = ProjectFactory(
        title="Ünïcode — “quoted” & <tagged>",
        department=None,
        sponsor=None,
        budget_technology=Decimal("0"),
        budget_people=Decimal("0"),
    )
    full = ProjectFactory(
        budget_technology=Decimal("123456789.56"),
        budget_people=Decimal("0.01"),
        budget_process=Decimal("7.10"),
        start_date=date(2026, 1, 31),
        end_date=None,
        business_owner=UserFactory(),
        approved_by=approver,
        approved_at=timezone.now().replace(microsecond=0),
        integration_notes="Line one\nline two",
    )
    ProjectLinkFactory(project=full, crm_strategy=broken, rationale="", weight=None)
    ProjectLinkFactory(project=full, crm_strategy=anchored, weight=40)
    only_broken = ProjectFactory()
    ProjectLinkFactory(project=only_broken, crm_strategy=broken)
    traced = FeatureFactory(project=full)
    FeatureLinkFactory(feature=traced, crm_strategy=anchored)
    FeatureLinkFactory(feature=traced, crm_strategy=broken)  # traced once, not twice
    FeatureLinkFactory(feature=FeatureFactory(project=full), crm_strategy=broken)
    FeatureFactory(project=full)
    SuccessMetricFactory(project=full, name="B", baseline=None, target=Decimal("99.90"))
    SuccessMetricFactory(project=full, name="A", current=Decimal("-3.50"))
    RoadmapPhaseFactory(project=full, position=2, start_date=date(2026, 3, 1))
    RoadmapPhaseFactory(project=full, position=1, start_date=None, end_date=None)
    ProjectCheckInFactory(project=full, checked_in_on=date(2026, 2, 1))
    ProjectCheckInFactory(project=full, checked_in_on=date(2026, 2, 2))

    listed = {row["id"]: row for row in _listed(api(viewer))}

    for project in (bare, full, only_broken):
        assert listed[project.pk] == _as_json(_serialized([project.pk]))[0]
    shown = listed[full.pk]
    assert (shown["is_linked"], shown["is_traceable"]) == (True, True)
    assert (shown["feature_count"], shown["features_traced"]) == (3, 1)
    assert shown["approved_at"].endswith(("+01:00", "+02:00"))
    assert shown["budget_total"] == "123456796.67"
    assert [m["name"] for m in shown["metrics"]] == ["A", "B"]
    assert (listed[only_broken.pk]["is_linked"], listed[only_broken.pk]["is_traceable"]) == (
        True,
        False,
    )
    assert (listed[bare.pk]["is_linked"], listed[bare.pk]["links"]) == (False, [])


def test_the_list_answers_what_the_detail_endpoint_answers(api, viewer):
    generate_portfolio(Shape(projects=15, features_per_project=2, seed=3))
    client = api(viewer)

    for row in _listed(client):
        assert row == client.get(f"/api/projects/{row['id']}/").json()


def test_the_project_list_reads_a_page_in_nine_queries(api, viewer):
    """The token with its user and roles, the count, the page's ids, then one query per part
    of the page: projects with their figures, links, user groups, metrics, phases, check-ins."""
    generate_portfolio(Shape(projects=30, features_per_project=2, seed=2))
    client = api(viewer)

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/projects/?page_size=20").status_code == 200

    assert len(queries.captured_queries) == 9, "\n".join(
        q["sql"][:150] for q in queries.captured_queries
    )


def test_an_unfiltered_list_counts_and_pages_without_the_per_row_figures(api, viewer):
    ProjectLinkFactory()
    client = api(viewer)

    with CaptureQueriesContext(connection) as plain:
        client.get("/api/projects/")
    with CaptureQueriesContext(connection) as filtered:
        client.get("/api/projects/?is_traceable=true&ordering=-feature_count")

    def counts(captured):  # Django's count of the projects, filtered or not
        return [
            q["sql"]
            for q in captured.captured_queries
            if 'COUNT(*) AS "__count" FROM "projects_crmproject"' in q["sql"]
        ]

    # On PostgreSQL the whole list reads its kept count instead (core.counts): no COUNT(*).
    assert len(counts(plain)) == (0 if connection.vendor == "postgresql" else 1)
    assert not any("EXISTS" in sql for sql in counts(plain))
    (filtered_count,) = counts(filtered)
    assert "EXISTS" in filtered_count  # the filter's figure is there when it is named


def test_the_row_renderer_refuses_a_field_it_cannot_read_from_a_row():
    with pytest.raises(ImproperlyConfigured, match="metrics"):
        RowRenderer(ProjectSerializer, given=("currency", "crm_strategies", "links", "user_groups"))
    with pytest.raises(ImproperlyConfigured, match="no field"):
        RowRenderer(NestedMetricSerializer, given=("nonsense",))


def test_the_row_renderer_leaves_values_it_has_no_shortcut_for_to_the_field():
    class Odd(serializers.ModelSerializer):
        baseline = serializers.DecimalField(max_digits=16, decimal_places=1)
        created_at = serializers.DateTimeField(format="%Y")

        class Meta:
            model = SuccessMetric
            fields = ["baseline", "target", "created_at"]

    renderer = RowRenderer(Odd)
    moment = timezone.now()
    row = {"baseline": Decimal("1.25"), "target": Decimal("2.5"), "created_at": moment}

    assert renderer.render([row]) == [
        {"baseline": "1.2", "target": "2.50", "created_at": str(moment.year)}
    ]
    assert renderer.render([{**row, "target": None}])[0]["target"] is None


def test_the_row_renderer_shows_dates_as_the_field_does_in_its_format():
    from projects.models import RoadmapPhase

    class Dated(serializers.ModelSerializer):
        start_date = serializers.DateField(format="%d/%m/%Y")

        class Meta:
            model = RoadmapPhase
            fields = ["start_date", "end_date"]

    renderer = RowRenderer(Dated)
    row = {"start_date": date(2026, 2, 28), "end_date": date(2026, 3, 1)}

    assert renderer.render([row]) == [{"start_date": "28/02/2026", "end_date": "2026-03-01"}]
    assert renderer.render([{"start_date": None, "end_date": "2026-03-01"}]) == [
        {"start_date": None, "end_date": "2026-03-01"}  # a string stays as it is, as in DRF
    ]


def test_the_row_renderer_shows_ids_booleans_and_choices_as_their_fields_do():
    class Kinds(serializers.ModelSerializer):
        plain = serializers.IntegerField(source="id")
        flag = serializers.BooleanField(source="baseline")
        numbered = serializers.ChoiceField(choices=[(1, "One"), (2, "Two")], source="unit")
        named = serializers.ChoiceField(choices=[("a", "A")], source="target")

        class Meta:
            model = SuccessMetric
            fields = ["id", "plain", "flag", "numbered", "named"]

    renderer = RowRenderer(Kinds)
    rows = [
        {"id": 7, "baseline": True, "unit": "1", "target": "a"},
        {"id": 8, "baseline": 0, "unit": 2, "target": "b"},
    ]

    shown = renderer.render(rows)

    assert shown == [
        {"id": 7, "plain": 7, "flag": True, "numbered": 1, "named": "a"},
        {"id": 8, "plain": 8, "flag": False, "numbered": 2, "named": "b"},
    ]
    assert type(shown[1]["flag"]) is bool


def test_a_big_integer_shown_as_a_string_stays_a_string(settings):
    from rest_framework.settings import api_settings

    class Ids(serializers.ModelSerializer):
        class Meta:
            model = SuccessMetric
            fields = ["id"]

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "COERCE_BIGINT_TO_STRING": True}
    api_settings.reload()
    try:
        assert RowRenderer(Ids).render([{"id": 9}]) == [{"id": "9"}]
    finally:
        del settings.REST_FRAMEWORK["COERCE_BIGINT_TO_STRING"]
        api_settings.reload()
    assert RowRenderer(Ids).render([{"id": 9}]) == [{"id": 9}]


def test_a_filterset_builds_its_form_class_once_and_each_form_its_own_fields():
    from projects.filters import ProjectFilterSet

    first = ProjectFilterSet({"status": "active"}, CRMProject.objects.all())
    second = ProjectFilterSet({"status": "nonsense"}, CRMProject.objects.all())

    assert type(first.form) is type(second.form)
    assert first.form.fields["status"] is not second.form.fields["status"]
    assert first.form.is_valid() and not second.form.is_valid()


def test_a_filterset_keeps_a_figure_its_queryset_annotates_itself():
    from django.db.models import Value

    from projects.filters import ProjectFilterSet

    ProjectFactory()
    annotated = CRMProject.objects.annotate(feature_count=Value(7))

    rows = ProjectFilterSet({"ordering": "-feature_count"}, annotated).qs

    assert [project.feature_count for project in rows] == [7]
