"""`{% may_get_board_pack as flag %}`: whether the signed-in user gets the dashboard's "Board
report" button (the same rule as the board pack's pages, reports.pack)."""

from typing import Any

from django import template

from reports import pack

register = template.Library()


@register.simple_tag(takes_context=True)
def may_get_board_pack(context: dict[str, Any]) -> bool:
    request = context.get("request")
    return bool(request is not None and pack.may_get_board_pack(request.user))
