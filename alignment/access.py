"""The one fetch-and-authorise step for flags, used by the inbox pages, the API and services.

Everyone with a role reads flags (anyone else gets 404); the sponsor of the flag's project, an
executive or an admin acts on one — acknowledges or waives it (anyone else gets 403).
"""

from typing import Any

from core.permissions import can_act_on_flag, get_for_user

from .models import Flag
from .selectors import flags_visible_to


def flag_for(user: Any, flag_id: Any, *, act: bool = False, for_update: bool = False) -> Flag:
    """The flag (with its project and deciders), if the user may see it (and act on it, with
    `act`); else 404 / 403. `for_update` locks the flag's row until the transaction ends."""
    return get_for_user(
        flags_visible_to(user),
        user,
        pk=flag_id,
        may=can_act_on_flag if act else None,
        refusal="Only the project's sponsor, an executive or an admin may act on this flag.",
        for_update=for_update,
    )
