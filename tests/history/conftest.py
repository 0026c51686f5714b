from tests.api.conftest import api, chain, other_project, own_project  # noqa: F401
from tests.web.conftest import as_user, queries_for  # noqa: F401
