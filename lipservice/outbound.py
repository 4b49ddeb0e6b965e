"""The one door for connections a tenant chose the destination of (PostHog hosts, ClickHouse URLs, webhooks, Slack,
PagerDuty): the host is resolved, loopback, link-local, private and reserved addresses are refused unless the
operator allows them (LIPSERVICE_OUTBOUND_ALLOW: host names and CIDRs), the connection goes to the address that was
checked (so a second DNS answer cannot point it elsewhere), redirects are not followed, and production needs https.
"""

from __future__ import annotations

import functools
import importlib
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class OutboundRefused(httpx.ConnectError):
    """A destination this server will not connect to on a tenant's behalf. Never worth retrying."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Destination:
    host: str
    port: int
    address: str  # the checked address to connect to


def _allowances() -> tuple[frozenset[str], tuple[Network, ...]]:
    hosts: set[str] = set()
    networks: list[Network] = []
    for entry in getattr(settings, "LIPSERVICE_OUTBOUND_ALLOW", []):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.strip().lower().rstrip("."))
    return frozenset(hosts), tuple(networks)


def _kind(address: IPAddress) -> str | None:
    """Why an address is not a public destination, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for kind in ("loopback", "link_local", "private", "reserved", "multicast", "unspecified"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if address.is_global else "non-global"


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundRefused(f"cannot resolve {host}") from exc
    seen: dict[str, IPAddress] = {}
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        seen.setdefault(text, ipaddress.ip_address(text))
    return list(seen.values())


def check_host(host: str, port: int) -> Destination:
    """The address to connect to for host:port, every resolved address checked; raises OutboundRefused."""
    name = host.strip().lower().rstrip(".").strip("[]")
    if not name:
        raise OutboundRefused("no host given")
    allowed_hosts, allowed_networks = _allowances()
    addresses = _resolve(name, port)
    if not addresses:
        raise OutboundRefused(f"{name} resolves to no address")
    if name not in allowed_hosts:
        for address in addresses:
            kind = _kind(address)
            if kind is not None and not any(address in network for network in allowed_networks):
                raise OutboundRefused(
                    f"{name} resolves to {address}, a {kind} address; an operator may allow it in "
                    "LIPSERVICE_OUTBOUND_ALLOW"
                )
    return Destination(host=name, port=port, address=str(addresses[0]))


def check_url(url: str, *, schemes: Iterable[str] = ("https", "http")) -> Destination:
    """Check an http(s) URL's scheme and host; production accepts https only."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    accepted = set(schemes)
    if settings.PRODUCTION:
        accepted -= {"http"}
    if scheme not in accepted:
        raise OutboundRefused(f"the URL must use {' or '.join(sorted(accepted))}, not {scheme or 'no scheme'}")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise OutboundRefused("the URL has an invalid port") from exc
    return check_host(parts.hostname or "", port)


class PinnedTransport(httpx.HTTPTransport):
    """Checks every request's destination and connects to the checked address, keeping Host and TLS SNI (and the
    certificate check) on the name."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        destination = check_url(str(request.url))
        request.url = request.url.copy_with(host=destination.address)
        request.extensions = {**request.extensions, "sni_hostname": destination.host}
        return super().handle_request(request)


@functools.cache
def _pinned_transport_class(module_name: str) -> type[Any]:
    http: Any = importlib.import_module(module_name)

    class Pinned(http.HTTPTransport):  # type: ignore[misc]
        def handle_request(self, request: Any) -> Any:
            destination = check_url(str(request.url))
            request.url = request.url.copy_with(host=destination.address)
            request.extensions = {**request.extensions, "sni_hostname": destination.host}
            return super().handle_request(request)

    return Pinned


def pinned_transport_for(client_class: type[Any], *, verify: bool = True) -> Any:
    """The pinned transport for a client built on another httpx line (Authlib's OAuth client may use `httpx2`),
    whose transports are not interchangeable with httpx's."""
    base = next(cls for cls in client_class.__mro__ if cls.__name__ == "Client" and cls.__module__.startswith("httpx"))
    module_name = base.__module__.split(".")[0]
    if module_name == "httpx":
        return PinnedTransport(verify=verify)
    return _pinned_transport_class(module_name)(verify=verify)


def outbound_client(*, timeout: float, verify: bool = True, **kwargs: Any) -> httpx.Client:
    """An httpx client for tenant-chosen destinations: pinned, checked, no redirects."""
    return httpx.Client(transport=PinnedTransport(verify=verify), timeout=timeout, follow_redirects=False, **kwargs)


def error_summary(response: httpx.Response) -> str:
    """What a failed answer may echo back: its status and reason phrase, never the peer's body."""
    return f"HTTP {response.status_code} {response.reason_phrase}".strip()
