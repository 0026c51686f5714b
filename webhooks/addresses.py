"""Where a webhook may send: http(s) only, never the app itself, never a private, loopback,
link-local, multicast or reserved address unless WEBHOOK_ALLOWED_PRIVATE_NETWORKS lists it.

The host name is resolved and every address it resolves to is checked, when the webhook is
saved and again before each send (a name may be pointed elsewhere in between: DNS rebinding);
the send then connects to an address that was checked, never resolving the name a second time
(webhooks.sending)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.http.request import validate_host

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Unresolvable(Exception):
    """The host name did not resolve (now): worth trying again later."""


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(network, strict=False)
        for network in settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS
    ]


def is_public(address: IPAddress) -> bool:
    """Whether a webhook may reach `address` without it being listed as allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
    )


def address_allowed(address: IPAddress) -> bool:
    if is_public(address):
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in _allowed_networks())


def own_hosts() -> list[str]:
    """The host names the app answers to: SITE_URL's and ALLOWED_HOSTS (patterns included)."""
    hosts = [host for host in settings.ALLOWED_HOSTS if host != "*"]
    site = urlsplit(settings.SITE_URL).hostname if settings.SITE_URL else None
    if site:
        hosts.append(site)
    return hosts


def check_url(url: str) -> None:
    """Everything about the URL that needs no name resolution; ValidationError says what."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port out of range)
    except ValueError:
        raise ValidationError("Enter a valid URL.", code="invalid") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError(
            "Only http:// and https:// addresses may receive webhooks.", code="scheme"
        )
    host = (parts.hostname or "").rstrip(".").lower()
    if ":" in host:
        host = f"[{host}]"  # as ALLOWED_HOSTS writes an IPv6 address
    if host and validate_host(host, own_hosts()):
        raise ValidationError(
            "A webhook may not point at this application's own address.", code="own_address"
        )
    URLValidator(schemes=["http", "https"])(url)
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            "Leave the user name and password out of the address; receivers check the "
            "signature made with the secret instead.",
            code="credentials",
        )


def resolve(url: str) -> list[IPAddress]:
    """The addresses the URL's host stands for, every one checked. ValidationError when one
    may not be reached; Unresolvable when the name does not resolve."""
    check_url(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise Unresolvable(f"The host name {host} does not resolve ({exc}).") from exc
        addresses = []
        for info in infos:
            # The scope of a link-local IPv6 address ("fe80::1%eth0") is not part of it.
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
    if not addresses:
        raise Unresolvable(f"The host name {host} does not resolve.")
    for address in addresses:
        if not address_allowed(address):
            raise ValidationError(
                f"{host} is (or resolves to) {address}, a private, loopback, link-local, "
                "multicast or reserved address, which webhooks may not reach. An "
                "administrator may allow it in WEBHOOK_ALLOWED_PRIVATE_NETWORKS.",
                code="private_address",
            )
    return addresses


def validate_webhook_url(url: str) -> None:
    """The check made when a webhook is saved: a name that does not resolve is refused too
    (what it points at cannot be checked)."""
    try:
        resolve(url)
    except Unresolvable as exc:
        raise ValidationError(str(exc), code="unresolvable") from exc
