"""generate_portfolio: deterministic, valid rows in every table, people in every role, and it
refuses what would mix fake data into real data."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from core.roles import Role
from crm_alignment.portfolio import (
    Shape,
    _Sql,
    clear_portfolio,
    generate_portfolio,
    portfolio_hash,
)
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
    RoadmapPhase,
    SuccessMetric,
    System,
)
from strategies.models import BusinessStrategy, CRMStrategy, CRMStrategyServes
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

MODELS = [
    BusinessGoal,
    KPI,
    KPICheckIn,
    BusinessStrategy,
    CRMStrategy,
    CRMStrategyServes,
    Department,
    CRMProject,
    ProjectLink,
    Feature,
    FeatureLink,
    SuccessMetric,
    RoadmapPhase,
    ProjectCheckIn,
    System,
    ProjectSystem,
    MetricReading,
]


@pytest.fixture(autouse=True)
def _debug_on(settings):
    """A development command; Django's test set-up turns DEBUG off."""
    settings.DEBUG = True


def generate(**options) -> str:
    out = StringIO()
    call_command("generate_portfolio", stdout=out, **options)
    return out.getvalue()


def counts() -> dict[str, int]:
    result = {model.__name__: model.objects.count() for model in MODELS}
    result["users"] = get_user_model().objects.count()
    return result


def fingerprint() -> tuple:
    """The portfolio's content, ids included (a second run after clearing reuses them)."""
    return (
        list(
            CRMProject.objects.order_by("pk").values_list(
                "pk",
                "title",
                "status",
                "manager_id",
                "sponsor_id",
                "department_id",
                "business_owner_id",
                "budget_technology",
                "budget_people",
                "start_date",
            )
        ),
        list(Feature.objects.order_by("pk").values_list("pk", "project_id", "title", "status")),
        sorted(FeatureLink.objects.values_list("feature_id", "crm_strategy_id")),
        sorted(ProjectLink.objects.values_list("project_id", "crm_strategy_id", "weight")),
        sorted(ProjectCheckIn.objects.values_list("project_id", "checked_in_on")),
        sorted(SuccessMetric.objects.values_list("project_id", "name", "baseline", "target")),
    )


def test_the_same_seed_generates_the_same_portfolio():
    generate(projects=60, features_per_project=3, seed=3)
    first, first_counts = fingerprint(), counts()
    clear_portfolio()
    assert counts()["CRMProject"] == 0

    generate(projects=60, features_per_project=3, seed=3)

    assert counts() == first_counts
    assert fingerprint() == first


def test_another_seed_generates_another_mix_of_the_same_size():
    generate(projects=60, features_per_project=3, seed=3)
    first = fingerprint()
    clear_portfolio()

    generate(projects=60, features_per_project=3, seed=4)

    assert CRMProject.objects.count() == 60
    assert Feature.objects.count() == 180
    assert fingerprint() != first


def test_the_portfolio_has_the_whole_chain_and_people_in_every_role():
    output = generate(projects=40, features_per_project=2)

    assert all(count for count in counts().values()), counts()
    for role in Role.values:
        assert get_user_model().objects.filter(groups__name=role).exists(), role
    assert "40 projects" in output
    assert "80 features" in output


def test_every_generated_row_is_valid_for_its_model():
    generate(projects=30, features_per_project=2)

    for model in [*MODELS, get_user_model()]:
        for obj in model.objects.all():
            obj.full_clean()
    project = CRMProject.objects.order_by("pk").first()
    assert project.version == 1 and project.updated_by_id == project.manager_id


def test_generated_people_cannot_sign_in():
    generate(projects=20, features_per_project=1)

    assert not any(u.has_usable_password() for u in get_user_model().objects.all())


def test_generate_refuses_a_database_that_has_projects_unless_appending():
    ProjectFactory()

    with pytest.raises(CommandError, match="--append"):
        generate(projects=20, features_per_project=1)
    assert CRMProject.objects.count() == 1

    generate(projects=20, features_per_project=1, append=True)
    assert CRMProject.objects.count() == 21


def test_generate_refuses_with_debug_off_unless_forced(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DJANGO_DEBUG"):
        generate(projects=20, features_per_project=1)
    assert not CRMProject.objects.exists()

    generate(projects=20, features_per_project=1, force=True)
    assert CRMProject.objects.count() == 20


def test_clearing_removes_the_portfolio_and_generated_people_only():
    someone = UserFactory(username="someone")
    generate_portfolio(Shape(projects=20, features_per_project=2))

    clear_portfolio()

    assert counts() == {**{model.__name__: 0 for model in MODELS}, "users": 1}
    assert get_user_model().objects.get() == someone


def test_the_sql_hash_computes_what_the_python_hash_says():
    sql = _Sql(seed=5)
    for channel in (1, 12, 80):
        for modulo in (1000, None):
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT s.i, {sql.h(channel, 's.i', modulo)} FROM {sql.series(500)} "
                    "ORDER BY s.i"
                )
                rows = cursor.fetchall()
            assert rows == [(i, portfolio_hash(5, channel, i, modulo)) for i in range(500)]
