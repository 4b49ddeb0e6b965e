"""The app manifest and the OAuth client metadata document PostHog reads to identify LipService as a client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

APP_DIR = Path(__file__).resolve().parent
MANIFEST_PATH = APP_DIR / "manifest.json"
TEMPLATE_PATH = APP_DIR / "hog" / "template.json"
OAUTH_CLIENT_PATH = "/posthog-app/oauth-client.json"
OAUTH_CALLBACK_PATH = "/posthog-app/oauth/callback"
LOGO_PATH = "/static/posthog-app-logo.svg"
# PostHog re-reads the document no sooner than 5 minutes; a short cache lets a scope change reach it quickly.
METADATA_MAX_AGE = 300


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(MANIFEST_PATH.read_text())
    return data


def scopes() -> list[str]:
    return [entry["scope"] for entry in manifest()["scopes"]]


def oauth_client_metadata(*, base_url: str) -> dict[str, Any]:
    """An OAuth client id metadata document: the client id is the URL this document is served from."""
    base = base_url.rstrip("/")
    app = manifest()
    return {
        "client_id": base + OAUTH_CLIENT_PATH,
        "client_name": app["name"],
        "client_uri": base + app["homepage"],
        "logo_uri": base + LOGO_PATH,
        "redirect_uris": [base + OAUTH_CALLBACK_PATH],
        "scope": " ".join(scopes()),
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        # PostHog's extension: the ceiling of what any token issued to this client may carry.
        "com.posthog": {"scopes": scopes()},
    }
