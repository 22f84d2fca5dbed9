"""The outbox's HTTP client: requests Assay makes to addresses its users give it (webhook endpoints, partner
callbacks), made safe against server-side request forgery.

A destination must resolve only to public addresses: loopback, private, link-local (cloud metadata lives
at 169.254.169.254), carrier-grade NAT, multicast and reserved ranges are refused unless the operator's
allow-list (`ASSAY_OUTBOUND_ALLOW_LIST`) names the host or its network. The request then goes to the very
address that was checked, with the original host name in `Host` and TLS SNI, so a second DNS answer
(rebinding) cannot redirect it; redirects are never followed. Production accepts HTTPS only.
"""

from __future__ import annotations

import email.utils
import fnmatch
import ipaddress
import re
import socket
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import httpx2 as httpx

from app.core.config import Settings
from app.core.db import storable
from app.core.errors import FieldError, ValidationFailed
from app.outbox.service import Outcome, failure

EXCERPT_CHARS = 1000
USER_AGENT = "Assay/1"
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeDestination(ValidationFailed):
    def __init__(self, message: str, field: str = "url") -> None:
        super().__init__(message, errors=[FieldError(field, message)])


def _on_allow_list(host: str, address: IpAddress | None, allow_list: list[str]) -> bool:
    for entry in allow_list:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            if fnmatch.fnmatch(host, entry):
                return True
        else:
            if address is not None and address in network:
                return True
    return False


def _public(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_url(url: str, settings: Settings, *, field: str = "url") -> tuple[str, int]:
    """The URL's host and port when its form is acceptable; where it resolves is checked at send time."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeDestination("This is not a valid URL.", field) from None
    allowed_schemes = ("https",) if settings.environment == "production" else ("https", "http")
    if parts.scheme not in allowed_schemes:
        raise UnsafeDestination(f"The URL must start with {' or '.join(allowed_schemes)}://.", field)
    host = (parts.hostname or "").lower().rstrip(".")
    if not host or parts.username or parts.password:
        raise UnsafeDestination("The URL needs a host name and no user name or password in it.", field)
    try:
        literal: IpAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if (
        (literal is not None and not _public(literal)) or host == "localhost" or host.endswith(".localhost")
    ) and not _on_allow_list(host, literal, settings.outbound_allow_list):
        raise UnsafeDestination("Assay does not send to private or local addresses.", field)
    return host, port


def resolve_safely(url: str, settings: Settings) -> IpAddress:
    """The address to connect to: every address the host resolves to must be allowed."""
    host, port = check_url(url, settings)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeDestination(f"The host {host!r} could not be resolved ({exc}).") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if not _public(address) and not _on_allow_list(host, address, settings.outbound_allow_list):
            raise UnsafeDestination(f"{host} resolves to {address}, a private or local address.")
    return addresses[0]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    if re.fullmatch(r"[0-9]{1,9}", value.strip()):  # seconds (not str.isdigit(): "²" is not a number)
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def send(method: str, url: str, *, body: bytes, headers: dict[str, str], settings: Settings) -> Outcome:
    """One request to a checked address. Never raises for network trouble: the outcome says what happened."""
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        address = resolve_safely(url, settings)
    except UnsafeDestination as refused:
        return Outcome(False, latency_ms=elapsed(), error=refused.message)
    parts = urlsplit(url)
    pinned_host = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{pinned_host}:{parts.port}" if parts.port else pinned_host
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    request_headers = {"User-Agent": USER_AGENT, **headers, "Host": parts.netloc.rsplit("@", 1)[-1]}
    try:
        with httpx.Client(timeout=settings.webhook_timeout_seconds, follow_redirects=False) as client:
            response = client.request(
                method,
                pinned,
                content=body,
                headers=request_headers,
                extensions={"sni_hostname": parts.hostname or ""},
            )
    except httpx.HTTPError as exc:
        return failure(exc, latency_ms=elapsed())
    succeeded = 200 <= response.status_code < 300
    return Outcome(
        succeeded,
        status_code=response.status_code,
        latency_ms=elapsed(),
        excerpt=storable(response.text[:EXCERPT_CHARS]),
        error="" if succeeded else f"HTTP {response.status_code}",
        retry_after=_retry_after(response),
        gone=response.status_code == 410,
    )
