"""The rows helper (tests/rows.py) counts what the database hands to Python."""

import pytest

from tests.factories import GoalFactory
from tests.rows import RowCount, Statement, count_rows

pytestmark = pytest.mark.django_db


def test_it_counts_each_statement_and_the_rows_it_fetched():
    from goals.models import BusinessGoal

    GoalFactory.create_batch(3)

    with count_rows() as counted:
        titles = list(BusinessGoal.objects.values_list("title", flat=True))
        first = BusinessGoal.objects.order_by("pk").first()
        BusinessGoal.objects.filter(pk=first.pk).update(title="Renamed")

    assert len(titles) == 3
    assert [s.rows for s in counted.statements] == [3, 1, 0]
    assert counted.total == 4


def test_it_tells_a_query_that_loads_more_rows_from_one_that_does_not():
    from goals.models import BusinessGoal

    GoalFactory.create_batch(2)
    with count_rows() as few:
        list(BusinessGoal.objects.all())
    GoalFactory.create_batch(5)
    with count_rows() as many:
        list(BusinessGoal.objects.all())

    assert len(few.statements) == len(many.statements) == 1
    assert (few.total, many.total) == (2, 7)


def test_its_report_names_each_statement_with_its_rows():
    assert RowCount([Statement("SELECT 1", rows=1)]).report() == "     1  SELECT 1"
