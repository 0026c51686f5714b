"""API tokens (django-rest-knox): issue, list and revoke a user's tokens.

Knox stores only a SHA-512 digest of each token and its first characters (`token_key`, to
find it and to show the user which token is which), with an expiry of API_TOKEN_TTL days. A
password change or deactivation revokes every token of the user (core.apps connects
`revoke_on_credentials_change` to the user model's post_save). Expired tokens are deleted when
presented (core.api_base.ApiTokenAuthentication) and when their user is issued a new one.
"""

from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from knox.models import AuthToken


def issue_token(user: Any) -> tuple[str, datetime | None]:
    """A new token for the user: the key (shown once, never stored) and its expiry. The user's
    expired tokens go meanwhile (the API's authentication deletes only the one presented)."""
    AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
    instance, key = AuthToken.objects.create(user=user)
    return key, instance.expiry


def tokens_of(user: Any) -> QuerySet[AuthToken]:
    """The user's tokens still valid, newest first (expired ones are of no use to list)."""
    return AuthToken.objects.filter(user=user, expiry__gt=timezone.now()).order_by("-created")


def revoke_token(user: Any, token_key: str) -> int:
    """Revoke the user's tokens whose shown prefix is `token_key` (only their own); the count."""
    deleted, _ = AuthToken.objects.filter(user=user, token_key=token_key).delete()
    return deleted


def revoke_all_tokens(user: Any) -> int:
    """Revoke every token of the user, in one statement; the count."""
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted


def revoke_on_credentials_change(sender: Any, instance: Any, **kwargs: Any) -> None:
    """post_save of the user model: a new password (set_password leaves the raw one in
    `_password` until the save completes) or a deactivated account ends every token, so a
    leaked token does not outlive the password that was changed because of it."""
    if kwargs.get("created"):
        return  # a new user has no tokens yet
    if getattr(instance, "_password", None) is not None or not instance.is_active:
        revoke_all_tokens(instance)
