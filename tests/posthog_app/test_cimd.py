"""The client metadata document meets the rules PostHog applies when it fetches a CIMD client id, and every URL in
it answers on a running server."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from posthog_app.manifest import oauth_client_metadata, scopes
from posthog_app.oauth import redirect_uri_for

# PostHog's limits for a CIMD document: 5 KB, a cache lifetime it clamps to [5 min, 24 h], no secret-based auth.
MAX_DOCUMENT_BYTES = 5 * 1024
MIN_CACHE_SECONDS = 300
SECRET_AUTH_METHODS = {"client_secret_post", "client_secret_basic", "client_secret_jwt"}
# Scopes PostHog lets a self-registered client ask for that LipService may need.
GRANTABLE = {"logs:read", "logs:write", "query:read", "project:read", "hog_function:read", "hog_function:write"}


def posthog_cimd_problems(document: Any, *, fetched_from: str, require_https: bool) -> list[str]:
    """What PostHog's CIMD fetch would refuse (or silently drop) in this document."""
    problems = []
    parts = urlsplit(fetched_from)
    if require_https and parts.scheme != "https":
        problems.append("client_id must use https")
    if not parts.path or parts.path == "/" or parts.query or parts.fragment or parts.username:
        problems.append("client_id needs a path and no query, fragment or userinfo")
    if not isinstance(document, dict):
        return [*problems, "not a JSON object"]
    if document.get("client_id") != fetched_from:
        problems.append("client_id differs from the URL it was fetched from")
    if not isinstance(document.get("client_name"), str) or not document["client_name"].strip():
        problems.append("client_name is required")
    uris = document.get("redirect_uris")
    if not isinstance(uris, list) or not uris:
        problems.append("redirect_uris must be a non-empty array")
    elif any(not isinstance(u, str) or not u.strip() or re.search(r"\s", u) for u in uris):
        problems.append("every redirect_uri must be a string without whitespace")
    if document.get("token_endpoint_auth_method", "none") in SECRET_AUTH_METHODS:
        problems.append("a CIMD client cannot use a client secret")
    logo = document.get("logo_uri")
    if require_https and logo is not None and not str(logo).startswith("https://"):
        problems.append("logo_uri must be https or PostHog drops it")
    ceiling = (document.get("com.posthog") or {}).get("scopes")
    if not isinstance(ceiling, list) or not ceiling:
        problems.append("com.posthog.scopes must declare the scope ceiling")
    elif not set(ceiling) <= GRANTABLE:
        problems.append(f"scopes PostHog would not grant: {sorted(set(ceiling) - GRANTABLE)}")
    return problems


def test_the_production_document_passes_posthogs_checks() -> None:
    document = oauth_client_metadata(base_url="https://lipservice.example.com")

    assert (
        posthog_cimd_problems(
            document, fetched_from="https://lipservice.example.com/posthog-app/oauth-client.json", require_https=True
        )
        == []
    )
    assert document["com.posthog"]["scopes"] == scopes()
    assert set(document["scope"].split()) == set(scopes())
    assert document["redirect_uris"] == [redirect_uri_for("https://lipservice.example.com")]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"client_id": "https://other.example/x.json"}, "client_id differs"),
        ({"redirect_uris": []}, "non-empty array"),
        ({"redirect_uris": ["https://a.example/cb https://b.example/cb"]}, "without whitespace"),
        ({"token_endpoint_auth_method": "client_secret_basic"}, "client secret"),
        ({"com.posthog": {}}, "scope ceiling"),
        ({"com.posthog": {"scopes": ["*"]}}, "would not grant"),
    ],
)
def test_the_checker_refuses_what_posthog_refuses(change: dict[str, Any], problem: str) -> None:
    document = {**oauth_client_metadata(base_url="https://lipservice.example.com"), **change}

    problems = posthog_cimd_problems(
        document, fetched_from="https://lipservice.example.com/posthog-app/oauth-client.json", require_https=True
    )

    assert any(problem in p for p in problems), problems


def test_the_served_document_is_small_short_lived_and_every_url_in_it_answers(live_server: Any) -> None:
    url = live_server.url + "/posthog-app/oauth-client.json"
    response = httpx.get(url)

    assert response.status_code == 200
    assert len(response.content) < MAX_DOCUMENT_BYTES
    max_age = int(re.search(r"max-age=(\d+)", response.headers["cache-control"]).group(1))  # type: ignore[union-attr]
    assert max_age == MIN_CACHE_SECONDS  # as short as PostHog honours
    document = json.loads(response.content)
    assert posthog_cimd_problems(document, fetched_from=url, require_https=False) == []
    listed = [document["client_id"], document["client_uri"], document["logo_uri"], *document["redirect_uris"]]
    for link in listed:
        assert link.startswith(live_server.url), link
        answer = httpx.get(link, follow_redirects=False)
        assert answer.status_code < 400, (link, answer.status_code)
    logo = httpx.get(document["logo_uri"])
    assert logo.headers["content-type"].startswith("image/")
    callback = httpx.get(document["redirect_uris"][0], follow_redirects=False)
    assert callback.status_code == 302 and "/admin/login/" in callback.headers["location"]
