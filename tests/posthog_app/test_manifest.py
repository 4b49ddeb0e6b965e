"""The app manifest and the OAuth client metadata document served to PostHog."""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory, override_settings

from posthog_app.manifest import MANIFEST_PATH, TEMPLATE_PATH, manifest, oauth_client_metadata, scopes
from posthog_app.views import oauth_client

REQUIRED_SCOPES = {"logs:read", "query:read", "logs:write", "hog_function:read", "hog_function:write", "project:read"}


def test_manifest_names_every_scope_the_client_uses_and_why() -> None:
    data = manifest()
    assert set(scopes()) == REQUIRED_SCOPES
    assert all(entry["why"] for entry in data["scopes"])
    assert (MANIFEST_PATH.parent / data["installs"]["hog_function_templates"][0]) == TEMPLATE_PATH


def test_every_scope_the_posthog_calls_name_is_requested() -> None:
    root = MANIFEST_PATH.parents[1]
    doors = ("patterns/sources/posthog_client.py", "patterns/sources/posthog.py", "posthog_app/project_writes.py")
    source = "".join((root / door).read_text() for door in doors)
    used = {scope for scope in REQUIRED_SCOPES if f'scope="{scope}"' in source}
    assert used == REQUIRED_SCOPES, REQUIRED_SCOPES - used


def test_oauth_metadata_identifies_the_client_by_its_own_url() -> None:
    metadata = oauth_client_metadata(base_url="https://lipservice.example.com/")
    assert metadata["client_id"] == "https://lipservice.example.com/posthog-app/oauth-client.json"
    assert metadata["redirect_uris"] == ["https://lipservice.example.com/posthog-app/oauth/callback"]
    assert set(metadata["scope"].split()) == REQUIRED_SCOPES
    assert metadata["logo_uri"].startswith("https://lipservice.example.com/static/")
    assert metadata["client_name"] == "LipService"


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("", "http://testserver/posthog-app/oauth-client.json"),
        ("https://ls.example", "https://ls.example/posthog-app/oauth-client.json"),
    ],
)
def test_oauth_client_view_prefers_the_public_url_setting(setting: str, expected: str) -> None:
    with override_settings(LIPSERVICE_PUBLIC_URL=setting):
        response = oauth_client(RequestFactory().get("/posthog-app/oauth-client.json"))
    assert response.status_code == 200
    assert json.loads(response.content)["client_id"] == expected
    assert response["Access-Control-Allow-Origin"] == "*"
