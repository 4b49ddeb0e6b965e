"""Connect with PostHog: RFC 8414 discovery, the authorization-code flow with PKCE (S256), and the code exchange.

Authlib does the protocol (authorization URL, state check, code exchange, refresh, revocation); this module picks
the authorization server from the region, checks what discovery returned, and keeps the flow's secrets in the
person's session, so a callback only completes the Connect that the same browser started.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc6749.errors import MismatchingStateException, MissingCodeException
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata, get_well_known_url
from django.conf import settings

from lipservice.outbound import pinned_transport_for
from patterns.sources.posthog_client import outbound_transport
from posthog_app.manifest import OAUTH_CALLBACK_PATH, OAUTH_CLIENT_PATH, scopes

SESSION_KEY = "posthog_oauth_flow"
HTTP_TIMEOUT = 15.0
MAX_DISCOVERY_BYTES = 64 * 1024

# The authorization server per region, and the app hosts its tokens may be used against (tried in order).
REGIONS: dict[str, dict[str, Any]] = {
    "us": {
        "issuer": "https://us.posthog.com",
        "api_hosts": ["https://us.posthog.com"],
        "ingest_host": "https://us.i.posthog.com",
    },
    "eu": {
        "issuer": "https://eu.posthog.com",
        "api_hosts": ["https://eu.posthog.com"],
        "ingest_host": "https://eu.i.posthog.com",
    },
    "any": {
        "issuer": "https://oauth.posthog.com",
        "api_hosts": ["https://us.posthog.com", "https://eu.posthog.com"],
        "ingest_hosts": {
            "https://us.posthog.com": "https://us.i.posthog.com",
            "https://eu.posthog.com": "https://eu.i.posthog.com",
        },
    },
}


class OAuthSetupError(Exception):
    """The Connect cannot go on; the message says why in words a person can act on."""


@dataclass(frozen=True)
class FlowStart:
    authorization_url: str
    session_data: dict[str, Any]


def regions() -> dict[str, dict[str, Any]]:
    # An operator (or a test) may point a region at another host; the code paths stay the same.
    overrides = getattr(settings, "LIPSERVICE_POSTHOG_REGIONS", None) or {}
    return {**REGIONS, **overrides}


def public_base(request_base: str) -> str:
    return (getattr(settings, "LIPSERVICE_PUBLIC_URL", "") or request_base).rstrip("/")


def client_id_for(base: str) -> str:
    return base + OAUTH_CLIENT_PATH


def redirect_uri_for(base: str) -> str:
    return base + OAUTH_CALLBACK_PATH


def self_hosted_url(raw: str) -> str:
    """A self-hosted PostHog's origin, checked: http(s), a host, nothing that could smuggle credentials or a path."""
    value = (raw or "").strip()
    if len(value) > 300:
        raise OAuthSetupError("The PostHog URL is too long.")
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise OAuthSetupError("The PostHog URL is not a URL.") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise OAuthSetupError("Give the PostHog URL as https://posthog.example.com.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise OAuthSetupError("The PostHog URL must not contain a user, a query or a fragment.")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise OAuthSetupError("OAuth needs https: give the https:// URL of your PostHog.")
    try:
        port = parts.port
    except ValueError as exc:
        raise OAuthSetupError("The PostHog URL has an invalid port.") from exc
    netloc = parts.hostname + (f":{port}" if port else "")
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def discover(issuer: str) -> dict[str, Any]:
    """Fetch and check the authorization server's metadata (RFC 8414 §3); raises OAuthSetupError."""
    url = get_well_known_url(issuer, external=True)
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT, transport=outbound_transport(), follow_redirects=False) as http:
            response = http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise OAuthSetupError(f"Cannot reach {issuer} to discover its OAuth server: {exc}") from exc
    if response.status_code == 404:
        raise OAuthSetupError(
            f"{issuer} offers no OAuth server (no {url}). A self-hosted PostHog without OAuth can still be connected"
            " with a personal API key."
        )
    if response.status_code != 200:
        raise OAuthSetupError(f"OAuth discovery at {url} answered HTTP {response.status_code}.")
    if len(response.content) > MAX_DISCOVERY_BYTES:
        raise OAuthSetupError("The OAuth discovery document is too large.")
    try:
        data = response.json()
    except ValueError as exc:
        raise OAuthSetupError("The OAuth discovery document is not JSON.") from exc
    if not isinstance(data, dict):
        raise OAuthSetupError("The OAuth discovery document is not a JSON object.")
    metadata = AuthorizationServerMetadata(data)
    try:
        metadata.validate()
    except ValueError as exc:
        raise OAuthSetupError(f"The OAuth discovery document is invalid: {exc}") from exc
    if str(data["issuer"]).rstrip("/") != issuer.rstrip("/"):
        # RFC 8414 §3.3: a document naming another issuer must not be used.
        raise OAuthSetupError(f"The OAuth server at {issuer} says it is {data['issuer']}; refusing to use it.")
    for name in ("authorization_endpoint", "token_endpoint", "revocation_endpoint"):
        endpoint = data.get(name)
        if name != "revocation_endpoint" and not endpoint:
            raise OAuthSetupError(f"The OAuth server lists no {name}.")
        if endpoint and _origin(str(endpoint)) != _origin(issuer):
            # Tokens and codes go only to the host the person chose.
            raise OAuthSetupError(f"The OAuth server's {name} is on another host ({endpoint}); refusing to use it.")
    if "S256" not in (data.get("code_challenge_methods_supported") or []):
        raise OAuthSetupError("The OAuth server does not support PKCE with S256.")
    return dict(data)


def oauth_client(*, client_id: str, redirect_uri: str | None = None, state: str | None = None) -> OAuth2Client:
    """A public client (no secret): PKCE proves the code exchange; refresh and revocation send only the client id."""
    return OAuth2Client(
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=" ".join(scopes()),
        code_challenge_method="S256",
        token_endpoint_auth_method="none",  # noqa: S106 - an auth method name, not a secret
        revocation_endpoint_auth_method="none",
        state=state,
        timeout=HTTP_TIMEOUT,
        transport=pinned_transport_for(OAuth2Client),
        follow_redirects=False,
    )


def flow_start(*, region: str, self_hosted: str, base: str) -> FlowStart:
    """Discover the server for the chosen region and build the authorization URL; the caller keeps session_data."""
    known = regions()
    if region == "self_hosted":
        issuer = self_hosted_url(self_hosted)
        api_hosts = [issuer]
        ingest_host = issuer
    elif region in known:
        issuer = known[region]["issuer"]
        api_hosts = list(known[region]["api_hosts"])
        ingest_host = known[region].get("ingest_host", "")
    else:
        raise OAuthSetupError("Choose US, EU, region-agnostic or a self-hosted URL.")
    metadata = discover(issuer)
    verifier = generate_token(64)
    client_id, redirect_uri = client_id_for(base), redirect_uri_for(base)
    with oauth_client(client_id=client_id, redirect_uri=redirect_uri) as client:
        url, state = client.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier)
    return FlowStart(
        authorization_url=url,
        session_data={
            "state": state,
            "verifier": verifier,
            "region": region,
            "issuer": issuer,
            "api_hosts": api_hosts,
            "ingest_host": ingest_host,
            "ingest_hosts": known.get(region, {}).get("ingest_hosts", {}),
            "metadata": metadata,
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "started_at": datetime.now(UTC).isoformat(),
        },
    )


def flow_finish(*, flow: dict[str, Any], callback_url: str) -> dict[str, Any]:
    """Exchange the code for tokens; Authlib refuses a callback whose state is not this session's.

    Raises OAuthSetupError for a refusal by the person or the server, MismatchingStateException for a bad state.
    """
    query = dict(httpx.URL(callback_url).params)
    if query.get("error"):
        detail = query.get("error_description") or query["error"]
        raise OAuthSetupError(f"PostHog did not authorize LipService: {detail[:200]}")
    with oauth_client(client_id=flow["client_id"], redirect_uri=flow["redirect_uri"], state=flow["state"]) as client:
        try:
            token = client.fetch_token(
                flow["metadata"]["token_endpoint"],
                authorization_response=callback_url,
                code_verifier=flow["verifier"],
            )
        except (MismatchingStateException, MissingCodeException):
            raise
        except AuthlibBaseError as exc:
            raise OAuthSetupError(f"PostHog refused the authorization code ({exc.error}): {exc.description}") from exc
        except httpx.HTTPError as exc:
            raise OAuthSetupError(f"Cannot reach PostHog's token endpoint: {exc}") from exc
    if not token.get("access_token"):
        raise OAuthSetupError("PostHog's token endpoint returned no access token.")
    return dict(token)
