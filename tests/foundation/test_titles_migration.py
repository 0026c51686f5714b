"""The migration that makes goal titles unique ignoring case keeps existing data: titles that
differ only in case are numbered (the oldest keeps its own), nothing is deleted."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from core.titles import _numbered
from tests.factories import UserFactory

BEFORE = [("goals", "0002_versioned")]
AFTER = [("goals", "0003_title_unique_ignoring_case")]


@pytest.mark.django_db(transaction=True)
def test_goals_differing_only_in_case_are_numbered_not_lost():
    owner = UserFactory()
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        _check_numbering(owner, executor)
    finally:
        # Back to the latest schema of every app: migrating back to BEFORE also unapplied the
        # later migrations (of goals and of whatever depends on them) that other tests in
        # this database need.
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


def _check_numbering(owner, executor):
    Goal = executor.loader.project_state(BEFORE).apps.get_model("goals", "BusinessGoal")
    titles = ["Grow revenue", "GROW REVENUE", "grow revenue", "Grow revenue (2)", "Other"]
    ids = [Goal.objects.create(title=title, owner_id=owner.pk).pk for title in titles]

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)

    Goal = executor.loader.project_state(AFTER).apps.get_model("goals", "BusinessGoal")
    renamed = dict(Goal.objects.filter(pk__in=ids).values_list("pk", "title"))
    assert [renamed[pk] for pk in ids] == [
        "Grow revenue",
        "GROW REVENUE (3)",
        "grow revenue (4)",
        "Grow revenue (2)",
        "Other",
    ]
    assert Goal.objects.get(pk=ids[1]).version == 2


def test_a_numbered_title_stays_within_the_length_limit():
    assert _numbered("x" * 200, 12, 200) == "x" * 195 + " (12)"
