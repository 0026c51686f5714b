"""One way for tests to get an API token: a real knox token, hashed in the database."""

from knox.models import AuthToken


def token_for(user) -> str:
    """A new API token for the user; the key to send as `Authorization: Token <key>`."""
    _, key = AuthToken.objects.create(user=user)
    return key
