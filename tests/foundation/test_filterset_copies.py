"""Each FilterSet (each request) gets filters of its own, as django-filter's deep copy gave it,
without copying what the filters hold and never change (core.filters._DeclaredFilters)."""

import pytest
from django.http import QueryDict

from projects.filters import ProjectFilterSet
from tests.factories import CRMStrategyFactory

pytestmark = pytest.mark.django_db


def _filterset(query=""):
    return ProjectFilterSet(QueryDict(query))


def test_each_filterset_has_filters_and_extras_of_its_own():
    first, second = _filterset(), _filterset()

    for name, filter_ in first.filters.items():
        other = second.filters[name]
        base = ProjectFilterSet.base_filters[name]
        assert filter_ is not other and filter_ is not base, name
        assert filter_.extra is not other.extra and filter_.extra is not base.extra, name
        assert filter_.parent is first and other.parent is second, name
    assert not hasattr(ProjectFilterSet.base_filters["crm_strategy"], "parent")


def test_what_the_filters_hold_is_shared_not_copied():
    first, second = _filterset(), _filterset()

    held = first.filters["crm_strategy"].extra["queryset"]
    assert held is second.filters["crm_strategy"].extra["queryset"]
    assert held is ProjectFilterSet.base_filters["crm_strategy"].extra["queryset"]


def test_what_one_filterset_sets_on_its_filters_stays_its_own():
    first = _filterset()
    first.filters["crm_strategy"].extra["queryset"] = None
    first.filters["crm_strategy"].label = "Changed"

    second = _filterset()

    assert second.filters["crm_strategy"].extra["queryset"] is not None
    assert second.filters["crm_strategy"].label != "Changed"


def test_the_filters_still_filter():
    strategy = CRMStrategyFactory()

    valid = _filterset(f"crm_strategy={strategy.pk}")
    refused = _filterset("crm_strategy=999999")

    assert valid.form.is_valid()
    assert not refused.form.is_valid() and "crm_strategy" in refused.form.errors


def _filtersets():
    from django.apps import apps

    from core.filters import FilterSet

    for app in apps.get_app_configs():
        try:
            __import__(f"{app.name}.filters")
        except ModuleNotFoundError:
            continue
    found, todo = [], [FilterSet]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub._meta.model is not None:
                found.append(sub)
    return found


def _referents(value):
    """The objects an attribute value is bound to (a bound method's or a FilterMethod's)."""
    return [getattr(value, name) for name in ("__self__", "f") if hasattr(value, name)]


@pytest.mark.parametrize("filterset_class", _filtersets(), ids=lambda cls: cls.__name__)
def test_no_copied_filter_refers_to_the_declared_one(filterset_class):
    filterset = filterset_class(QueryDict())

    assert filterset.filters
    for name, filter_ in filterset.filters.items():
        base = filterset_class.base_filters[name]
        for attribute, value in vars(filter_).items():
            assert base not in _referents(value), f"{name}.{attribute} is the declared filter's"
        if filter_.method is not None:
            assert filter_.filter.f is filter_, name
            assert filter_.filter.method is not None  # resolved through the copy's parent


def test_a_filter_with_a_method_filters_through_its_own_filterset(viewer):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(viewer)

    for query in ("mine=true", "mine=false"):
        response = client.get(f"/api/flags/?{query}")
        assert response.status_code == 200, response.content
