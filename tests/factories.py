"""factory_boy factories with minimal valid defaults."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from goals.models import KPI, BusinessGoal, GoalStatus, KPICheckIn
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
    UserGroup,
)
from strategies.models import BusinessStrategy, CRMStrategy, CRMStrategyServes, StrategyStatus

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            for name in extracted:
                # get_or_create: a transactional test elsewhere may have flushed the groups
                # that the roles migration created.
                self.groups.add(Group.objects.get_or_create(name=name)[0])


class GoalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessGoal

    title = factory.Sequence(lambda n: f"Goal {n}")
    owner = factory.SubFactory(UserFactory)
    status = GoalStatus.ACTIVE


class KPIFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KPI

    goal = factory.SubFactory(GoalFactory)
    name = factory.Sequence(lambda n: f"KPI {n}")
    unit = "%"
    baseline = Decimal("10")
    target = Decimal("20")


class KPICheckInFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KPICheckIn

    kpi = factory.SubFactory(KPIFactory)
    value = Decimal("12")
    recorded_on = factory.Faker("date_this_year")


class BusinessStrategyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessStrategy

    goal = factory.SubFactory(GoalFactory)
    title = factory.Sequence(lambda n: f"Business strategy {n}")
    owner = factory.SubFactory(UserFactory)
    status = StrategyStatus.ACTIVE


class CRMStrategyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CRMStrategy
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"CRM strategy {n}")
    owner = factory.SubFactory(UserFactory)
    status = StrategyStatus.ACTIVE

    @factory.post_generation
    def serves(self, create, extracted, **kwargs):
        """serves=[business strategies]; serves=None (default) makes one active chain."""
        if not create:
            return
        targets = [BusinessStrategyFactory()] if extracted is None else extracted
        for business_strategy in targets:
            CRMStrategyServes.objects.create(crm_strategy=self, business_strategy=business_strategy)


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Department {n}")


class UserGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserGroup
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"User group {n}")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CRMProject

    title = factory.Sequence(lambda n: f"Project {n}")
    manager = factory.SubFactory(UserFactory)
    sponsor = factory.SubFactory(UserFactory)
    department = factory.SubFactory(DepartmentFactory)
    budget_technology = Decimal("1000")
    budget_people = Decimal("500")


class ProjectLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProjectLink

    project = factory.SubFactory(ProjectFactory)
    crm_strategy = factory.SubFactory(CRMStrategyFactory)
    rationale = "Serves this CRM strategy directly."


class FeatureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Feature

    project = factory.SubFactory(ProjectFactory)
    title = factory.Sequence(lambda n: f"Feature {n}")
    position = factory.Sequence(lambda n: n)


class FeatureLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FeatureLink

    feature = factory.SubFactory(FeatureFactory)
    crm_strategy = factory.SubFactory(CRMStrategyFactory)
    rationale = "Needed to deliver this CRM strategy."


class SuccessMetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SuccessMetric

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Metric {n}")
    baseline = Decimal("1")
    target = Decimal("2")


class RoadmapPhaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoadmapPhase

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Phase {n}")


class ProjectCheckInFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProjectCheckIn

    project = factory.SubFactory(ProjectFactory)
    checked_in_on = factory.Faker("date_this_month")
    summary = "On track."


class SystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = System

    name = factory.Sequence(lambda n: f"System {n}")
    owner = factory.SubFactory(UserFactory)


class ProjectSystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProjectSystem

    project = factory.SubFactory(ProjectFactory)
    system = factory.SubFactory(SystemFactory)
    status = "designed"
    owner = factory.SubFactory(UserFactory)


class MetricReadingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MetricReading

    metric = factory.SubFactory(SuccessMetricFactory)
    recorded_on = factory.Faker("date_this_month")
    value = Decimal("1.5")


def rule_settings():
    """The rule settings rows, (re)created with each rule's defaults first: a transactional
    test elsewhere in the run may have flushed the rows the migration seeded."""
    from alignment.engine import effective_settings
    from alignment.models import RuleSetting

    effective_settings()
    return RuleSetting.objects
