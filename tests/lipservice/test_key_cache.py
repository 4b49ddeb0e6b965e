"""Key lookups: revocation leaves a tombstone a racing lookup cannot overwrite; unknown keys are cached and their
database lookups throttled per client; /metrics is never public in production."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from lipservice import selectors
from lipservice.models import ApiKey, Team
from lipservice.selectors import api_key_find_active
from lipservice.services import api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


def test_a_key_revoked_during_a_racing_lookup_is_refused(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    key, raw = api_key_create(team=team, name="sdk", scope=ApiKey.Scope.MANAGEMENT)
    real_load = selectors._load

    def load_then_revoke(key_hash: str) -> ApiKey | None:
        found = real_load(key_hash)  # the lookup has read the key as active...
        api_key_revoke(key=ApiKey.objects.get(pk=key.pk))  # ...and the revocation lands before it caches it
        return found

    monkeypatch.setattr(selectors, "_load", load_then_revoke)
    api_key_find_active(raw=raw)
    monkeypatch.setattr(selectors, "_load", real_load)
    assert api_key_find_active(raw=raw) is None
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/services").status_code == 401


def test_a_deleted_key_is_refused_at_once(team: Team) -> None:
    key, raw = api_key_create(team=team, name="sdk")
    assert api_key_find_active(raw=raw) is not None
    key.delete()
    assert api_key_find_active(raw=raw) is None


def test_an_unknown_key_costs_one_query_then_none(team: Team) -> None:
    raw = "lsk_" + "x" * 40
    with CaptureQueriesContext(connection) as first:
        assert api_key_find_active(raw=raw) is None
    with CaptureQueriesContext(connection) as second:
        assert api_key_find_active(raw=raw) is None
    assert len(first) == 1 and len(second) == 0


def test_a_new_key_is_not_shadowed_by_an_earlier_unknown_answer(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = "lsk_" + "y" * 40
    assert api_key_find_active(raw=raw) is None
    monkeypatch.setattr("lipservice.models.generate_api_key", lambda: raw)
    monkeypatch.setattr("lipservice.services.generate_api_key", lambda: raw)
    api_key_create(team=team, name="late")
    assert api_key_find_active(raw=raw) is not None


def test_guessing_keys_is_throttled_before_the_database(anon: APIClient, team: Team, settings: Any) -> None:
    settings.LIPSERVICE_KEY_LOOKUP_RATE = "3/day"
    statuses = []
    with CaptureQueriesContext(connection) as queries:
        for guess in range(5):
            anon.credentials(HTTP_AUTHORIZATION=f"Bearer lsk_guess{guess:036d}")
            statuses.append(anon.get("/api/v1/services").status_code)
    assert statuses == [401, 401, 401, 429, 429]
    assert sum("lipservice_apikey" in q["sql"] for q in queries.captured_queries) == 3


@pytest.mark.parametrize(("production", "token", "status"), [(True, "", 403), (False, "", 200), (True, "t0k", 401)])
def test_metrics_need_their_token_in_production(
    anon: APIClient, settings: Any, production: bool, token: str, status: int
) -> None:
    settings.PRODUCTION = production
    settings.LIPSERVICE_METRICS_TOKEN = token
    assert anon.get("/metrics").status_code == status
    if token:
        anon.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert anon.get("/metrics").status_code == 200
