"""The rows-fetched helper (tests/rows.py) counts what the database hands to Python."""

import pytest

from tests.factories import GoalFactory
from tests.rows import RowsFetched, Statement, assert_same_cost, rows_fetched

pytestmark = pytest.mark.django_db


def test_it_counts_each_statement_and_the_rows_it_fetched():
    from goals.models import BusinessGoal

    GoalFactory.create_batch(3)

    with rows_fetched() as fetched:
        titles = list(BusinessGoal.objects.values_list("title", flat=True))
        first = BusinessGoal.objects.order_by("pk").first()
        BusinessGoal.objects.filter(pk=first.pk).update(title="Renamed")

    assert len(titles) == 3
    assert fetched.queries == 3
    assert [s.rows for s in fetched.statements] == [3, 1, 0]
    assert fetched.total == 4


def test_it_tells_a_query_that_loads_more_rows_from_one_that_does_not():
    from goals.models import BusinessGoal

    GoalFactory.create_batch(2)
    with rows_fetched() as few:
        list(BusinessGoal.objects.all())
    GoalFactory.create_batch(5)
    with rows_fetched() as many:
        list(BusinessGoal.objects.all())

    assert few.queries == many.queries
    with pytest.raises(AssertionError, match="2 rows for the small portfolio, 1 queries / 7"):
        assert_same_cost(few, many, "goals")


def test_its_report_names_each_statement_with_its_rows():
    fetched = RowsFetched([Statement("SELECT 1", rows=1)])
    assert fetched.report() == "     1 rows  SELECT 1"
