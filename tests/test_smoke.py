from django.contrib.auth.models import Group


def test_the_four_role_groups_exist(db):
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "executive",
        "project_manager",
        "sponsor",
        "viewer",
    }
