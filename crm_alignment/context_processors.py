"""Template context every page gets: the user's roles, for navigation."""

from typing import Any

from django.http import HttpRequest

from core.permissions import (
    can_create_project,
    can_import_portfolio,
    can_manage_strategy,
    can_see_activity,
    can_start_scan,
    is_admin,
    user_roles,
)


def roles(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "user_roles": user_roles(user),
        "is_admin_user": is_admin(user),
        "can_manage_strategy": can_manage_strategy(user),
        "can_create_project": can_create_project(user),
        "can_start_scan": can_start_scan(user),
        "can_import_portfolio": can_import_portfolio(user),
        "can_see_activity": can_see_activity(user),
    }
