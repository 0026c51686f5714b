"""The role groups come from a data migration (crm_alignment/migrations/0001_roles.py)."""

import importlib

from django.apps import apps
from django.contrib.auth.models import Group

from core.roles import Role

roles_migration = importlib.import_module("crm_alignment.migrations.0001_roles")


def test_the_roles_migration_creates_the_four_role_groups_and_is_rerun_safe(db):
    # Transactional tests elsewhere flush the database (groups included) when they end, so run
    # the migration's own function rather than trust what an earlier test left behind.
    Group.objects.filter(name__in=Role.values).delete()

    roles_migration.create_roles(apps, None)
    roles_migration.create_roles(apps, None)

    assert sorted(Group.objects.values_list("name", flat=True)) == sorted(Role.values)
    assert sorted(roles_migration.ROLES) == sorted(Role.values)


def test_reversing_the_roles_migration_removes_the_groups(db):
    roles_migration.create_roles(apps, None)

    roles_migration.remove_roles(apps, None)

    assert not Group.objects.filter(name__in=Role.values).exists()
