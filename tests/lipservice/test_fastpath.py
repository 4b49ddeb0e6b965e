"""The policy poll answered in front of Django: same answers as Django's, and every doubtful case left to Django."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.cache import cache
from django.test import override_settings

from lipservice.metrics import POLICY_FAST_READS
from lipservice.models import Team
from lipservice.services import api_key_create, api_key_revoke
from lipservice.wsgi import application, django_application
from patterns.models import Service
from policies.exporters.sdk import policy_to_sdk_json
from policies.services import policy_publish
from tests.conftest import service_unavailable
from tests.lipservice.test_health import UNREACHABLE_REDIS
from tests.policies.conftest import make_document

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_LOCATION = "redis://127.0.0.1:6379/7"
REDIS_CACHE = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_LOCATION,
        "KEY_PREFIX": "lipservice-fastpath-test",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
    }
}
IGNORED = {"x-request-id", "date"}


@pytest.fixture(autouse=True)
def _redis_cache() -> Iterator[None]:
    try:
        redis.Redis.from_url(REDIS_LOCATION, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        service_unavailable("Redis", str(exc))
    with override_settings(CACHES=REDIS_CACHE):
        cache.clear()
        yield
        cache.clear()


@pytest.fixture
def key(team: Team) -> str:
    service = Service.objects.create(team=team, name="checkout")
    policy_publish(service=service, actor="test", document=make_document())
    _, raw = api_key_create(team=team, name="sdk")
    return raw


def call(app: Any, raw_key: str | None, *, path: str = "/api/v1/policies/checkout", **extra: str) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **extra,
    }
    if raw_key is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {raw_key}"
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"] = int(status.split()[0])
        answer["headers"] = {name.lower(): value for name, value in headers}

    chunks = application_result = app(environ, start_response)
    answer["body"] = b"".join(chunks)
    if hasattr(application_result, "close"):
        application_result.close()
    return answer


def fast_reads() -> float:
    return POLICY_FAST_READS._value.get()  # type: ignore[no-any-return]


def test_a_known_key_is_answered_in_front_of_django_exactly_as_django_answers(key: str) -> None:
    first = call(application, key)  # Django: learns the key and fills the cache
    assert first["status"] == 200
    before = fast_reads()
    fast = call(application, key)
    assert fast_reads() == before + 1
    reference = call(django_application, key)
    assert fast["status"] == reference["status"] == 200
    assert fast["body"] == reference["body"] == first["body"]
    assert json.loads(fast["body"])["service"] == "checkout"
    for name in set(fast["headers"]) | set(reference["headers"]):
        if name not in IGNORED:
            assert fast["headers"].get(name) == reference["headers"].get(name), name

    etag = fast["headers"]["etag"]
    for header in (etag, f'"other", {etag}', "*"):
        not_modified = call(application, key, HTTP_IF_NONE_MATCH=header)
        assert not_modified["status"] == 304 and not_modified["body"] == b""
        assert call(django_application, key, HTTP_IF_NONE_MATCH=header)["status"] == 304
    assert fast_reads() == before + 4


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"HTTP_IF_NONE_MATCH": "ETAG"},
        {"HTTP_IF_NONE_MATCH": '"other", ETAG'},
        {"HTTP_IF_NONE_MATCH": "*"},
        {"HTTP_IF_NONE_MATCH": '"stale"'},
        {"HTTP_X_REQUEST_ID": "req-42"},
        {"HTTP_ACCEPT_ENCODING": "gzip"},
    ],
    ids=["plain", "etag", "etag-in-list", "star", "stale-etag", "request-id", "gzip"],
)
def test_both_read_adapters_give_the_same_bytes_and_headers(key: str, team: Team, extra: dict[str, str]) -> None:
    warm = call(application, key)  # Django learns the key and fills the cache; later reads can be fast
    extra = {name: value.replace("ETAG", warm["headers"]["etag"]) for name, value in extra.items()}
    before = fast_reads()
    fast = call(application, key, **extra)
    assert fast_reads() == before + 1
    reference = call(django_application, key, **extra)
    assert fast["status"] == reference["status"]
    assert fast["body"] == reference["body"]
    assert fast["headers"].keys() - {"date"} == reference["headers"].keys() - {"date"}
    for name in fast["headers"].keys() - {"date", "x-request-id"}:
        assert fast["headers"][name] == reference["headers"][name], name
    if "HTTP_X_REQUEST_ID" in extra:
        assert fast["headers"]["x-request-id"] == reference["headers"]["x-request-id"] == "req-42"
    version = Service.objects.get(team=team, name="checkout").policy_versions.get(status="active")
    if fast["status"] == 200:
        assert fast["body"] == policy_to_sdk_json(version.document).encode()


def test_request_ids_are_echoed_or_made(key: str) -> None:
    call(application, key)
    assert call(application, key, HTTP_X_REQUEST_ID="abc-123")["headers"]["x-request-id"] == "abc-123"
    made = call(application, key, HTTP_X_REQUEST_ID="not valid!")["headers"]["x-request-id"]
    assert made != "not valid!" and len(made) == 32


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ({"HTTP_HOST": "evil.example"}, 400),  # ALLOWED_HOSTS is Django's to enforce
        ({"PATH_INFO": "/api/v1/policies/missing"}, 404),
        ({"PATH_INFO": "/api/v1/policies/checkout/history"}, 403),  # an sdk key reads the policy only
        ({"REQUEST_METHOD": "HEAD"}, 200),
    ],
)
def test_other_requests_go_to_django(key: str, extra: dict[str, str], status: int) -> None:
    call(application, key)
    before = fast_reads()
    answer = call(application, key, **extra)
    assert answer["status"] == status
    assert fast_reads() == before


def test_unknown_revoked_and_missing_keys_are_refused_by_django(team: Team, key: str) -> None:
    assert call(application, None)["status"] == 401
    assert call(application, "lsk_unknown")["status"] == 401
    revoked, raw = api_key_create(team=team, name="old")
    assert call(application, raw)["status"] == 200
    assert call(application, raw)["status"] == 200
    api_key_revoke(key=revoked)
    refused = call(application, raw)
    assert refused["status"] == 401 and b"revoked" in refused["body"]


def test_the_rate_limit_holds_and_django_answers_the_429(key: str, settings: Any) -> None:
    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {"sdk": "4/day", "management": "4/day"}
    with override_settings(REST_FRAMEWORK=rest):
        statuses = [call(application, key)["status"] for _ in range(5)]
        throttled = call(application, key)
    assert statuses == [200, 200, 200, 200, 429]
    assert throttled["status"] == 429 and "retry-after" in throttled["headers"]


def test_a_new_version_is_served_at_once_after_publish(team: Team, key: str) -> None:
    first = call(application, key)
    call(application, key)
    policy_publish(service=Service.objects.get(team=team), actor="test", document=make_document(info=0.2))
    after = call(application, key)
    assert after["status"] == 200 and after["headers"]["etag"] != first["headers"]["etag"]
    assert json.loads(after["body"])["severity_rates"]["INFO"] == 0.2


def test_with_redis_unreachable_django_answers_from_the_database(key: str) -> None:
    call(application, key)
    with override_settings(CACHES=UNREACHABLE_REDIS):
        before = fast_reads()
        answer = call(application, key)
    assert answer["status"] == 200 and json.loads(answer["body"])["service"] == "checkout"
    assert fast_reads() == before


def test_a_poll_that_misses_the_cache_counts_once_against_the_rate_limit(team: Team, key: str, settings: Any) -> None:
    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {"sdk": "3/day", "management": "3/day"}
    with override_settings(REST_FRAMEWORK=rest):
        assert call(application, key)["status"] == 200  # Django: learns the key, fills the cache
        policy_publish(service=Service.objects.get(team=team), actor="test", document=make_document(info=0.2))
        assert call(application, key)["status"] == 200  # misses the cache in front, served by Django
        assert call(application, key)["status"] == 200  # in front again
        assert call(application, key)["status"] == 429
