"""The insights API: shapes, per-service rows summing to the team, team scoping, pricing validation."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from lipservice_sdk.stats import LOSS_COUNTERS
from model_bakery import baker
from rest_framework.test import APIClient

from insights.services.anomalies import DetectedAnomaly, anomalies_record
from lipservice.models import Team
from patterns.models import Service, StatsBatch
from policies.models import PolicyVersion
from tests.insights.conftest import add_window, make_pattern

GB = 10**9


def _usage(team: Team) -> None:
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for name, share in (("checkout", 3), ("search", 1)):
        service = baker.make(Service, team=team, name=name)
        noisy = make_pattern(service, "p_noisy", "cache hit key=<*>", severity_counts={"DEBUG": 10}, count=10)
        quiet = make_pattern(service, "p_err", "Traceback <*>", severity_counts={"ERROR": 10}, count=10)
        for h in range(1, 24 * 30):
            bucket = now - timedelta(hours=h)
            add_window(
                noisy,
                bucket,
                sdk_seen=5000,
                sdk_kept=5000,
                sdk_bytes_seen=share * GB // 100,
                sdk_bytes_kept=share * GB // 100,
            )
            add_window(quiet, bucket, sdk_seen=10, sdk_kept=10, sdk_bytes_seen=10**6, sdk_bytes_kept=10**6, errors=10)
        baker.make(
            PolicyVersion,
            service=service,
            number=1,
            status="active",
            published_at=now - timedelta(days=30),
            document={"patterns": [{"id": "p_noisy", "template": "cache hit key=<*>", "rate": 1.0}]},
        )


def _dec(value: object) -> Decimal:
    return Decimal(str(value))


@pytest.mark.django_db
def test_team_summary_rows_sum_to_the_total(client: APIClient, team: Team) -> None:
    _usage(team)
    response = client.get("/api/v1/insights")
    assert response.status_code == 200, response.content
    body = response.json()
    cost = body["cost"]
    assert set(body) == {"team", "demo", "cost", "run_rate", "proof", "incidents", "projection"}
    assert [row["service"] for row in cost["services"]] == ["checkout", "search"]
    for field in ("before", "after", "savings", "bytes_before", "bytes_after"):
        assert sum(_dec(row[field]) for row in cost["services"]) == _dec(cost[field])
    rates = body["run_rate"]
    for field in ("without", "with_policy", "saving", "saved_this_month"):
        assert sum(_dec(row[field]) for row in rates["services"]) == _dec(rates[field]), field
    assert rates["policy_basis"] == "measured" and "SDK counts" in rates["services"][0]["with_policy_basis"]
    assert cost["currency"] == "USD" and cost["period"]["basis"] == "monthly_run_rate"
    assert body["projection"]["backtest"] is not None and body["projection"]["month_end_cost"] > 0


@pytest.mark.django_db
def test_service_insights_shape(client: APIClient, team: Team) -> None:
    _usage(team)
    service = Service.objects.get(team=team, name="checkout")
    start = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    anomalies_record(
        service=service,
        anomalies=[
            DetectedAnomaly(
                service.patterns.get(pattern_id="p_noisy"), "spike", start, start + timedelta(hours=1), 900, 100, 9, 0.9
            )
        ],
    )
    response = client.get("/api/v1/insights/checkout?days=14")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {
        "service",
        "demo",
        "cost",
        "run_rate",
        "proof",
        "incidents",
        "savings_check",
        "projection",
        "anomalies",
        "recommendations",
    }
    [incident] = body["incidents"]
    assert incident["alert"]["would_send"] is True and incident["anomalies"][0]["pattern"] == "p_noisy"
    check = body["savings_check"]
    assert (
        check["policy_version"] == 1 and check["bytes_seen"] > 0 and check["agrees"] is None
    )  # no simulation to compare with
    cost = body["cost"]
    assert set(cost) >= {"before", "after", "savings", "currency", "period", "patterns"}
    assert sum(_dec(p["before"]) for p in cost["patterns"]) == _dec(cost["before"])
    assert cost["period"]["observed_days"] == pytest.approx(14, abs=0.05)
    projection = body["projection"]
    assert set(projection) >= {"series", "month_end_bytes", "month_end_cost", "backtest"}
    assert projection["backtest"]["horizon_days"] == 7 and 0 <= projection["backtest"]["mape"] <= 0.1
    assert projection["series"] and all(
        set(p) == {"date", "bytes", "bytes_without", "forecast"} for p in projection["series"]
    )
    [anomaly] = body["anomalies"]
    assert (anomaly["kind"], anomaly["severity"], anomaly["pattern"]) == ("spike", "warning", "p_noisy")
    assert anomaly["incident"]["dedup_key"].startswith("lipservice:acme:checkout:")
    assert anomaly["incident"]["explanation"]["logs_url"].startswith("https://us.posthog.com/project/")
    [first, *_] = body["recommendations"]
    assert first["pattern"] == "p_noisy" and first["suggested_rate"] == 0.01 and first["current_rate"] == 1.0
    assert first["savings_per_month"] > 0 and first["roi"] == pytest.approx(99, rel=0.01)
    assert "keeps all errors" in first["message"] or "has no errors" in first["message"]


@pytest.mark.django_db
def test_another_teams_service_is_not_found(client: APIClient, other_team: Team) -> None:
    baker.make(Service, team=other_team, name="secret-service")
    response = client.get("/api/v1/insights/secret-service")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_anonymous_requests_are_refused(anon: APIClient) -> None:
    assert anon.get("/api/v1/insights").status_code in {401, 403}


@pytest.mark.django_db
def test_pricing_round_trip_and_validation(client: APIClient, team: Team) -> None:
    assert client.get("/api/v1/pricing").json()["tiers"] == [{"up_to_gb": None, "price_per_gb": 0.5}]
    table = {"tiers": [{"up_to_gb": 50, "price_per_gb": 0}, {"up_to_gb": None, "price_per_gb": 0.4}]}
    response = client.put("/api/v1/pricing", {"pricing": table}, format="json")
    assert response.status_code == 200
    assert response.json()["tiers"][1] == {"up_to_gb": None, "price_per_gb": 0.4}
    team.refresh_from_db()
    assert team.config["pricing"] == table
    bad = client.put("/api/v1/pricing", {"pricing": {"tiers": [{"up_to_gb": 10, "price_per_gb": 1}]}}, format="json")
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["code"] == "invalid_pricing" and "$.tiers[0].up_to_gb" in error["details"]["errors"]
    assert client.put("/api/v1/pricing", {"pricing": None}, format="json").json()["tiers"][0]["price_per_gb"] == 0.5


@pytest.mark.django_db
@pytest.mark.parametrize("pricing", [[None, None], "cheap", 3, {"tiers": "all"}, {"tiers": [None]}])
def test_malformed_pricing_is_a_400_not_a_500(client: APIClient, team: Team, pricing: object) -> None:
    response = client.put("/api/v1/pricing", {"pricing": pricing}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"invalid", "invalid_pricing"}


@pytest.mark.django_db
def test_days_out_of_range_is_a_validation_error(client: APIClient, team: Team) -> None:
    response = client.get("/api/v1/insights?days=0")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


@pytest.mark.django_db
def test_schema_documents_the_insights_endpoints(anon: APIClient) -> None:
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert {"/api/v1/insights", "/api/v1/insights/{service}", "/api/v1/pricing"} <= set(schema["paths"])
    service = schema["paths"]["/api/v1/insights/{service}"]["get"]
    assert service["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("ServiceInsights")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "table",
    [
        {"tiers": [{"up_to_gb": 50, "price_per_gb": 0}, {"up_to_gb": None, "price_per_gb": 0.35}]},
        '{"tiers": [{"up_to_gb": 50, "price_per_gb": 0}, {"up_to_gb": null, "price_per_gb": 0.35}]}',
    ],
)
def test_the_settings_default_table_applies_to_teams_without_their_own(
    client: APIClient, settings: object, table: object
) -> None:
    settings.LIPSERVICE_PRICE_TABLE = table  # type: ignore[attr-defined]
    assert client.get("/api/v1/pricing").json()["tiers"] == [
        {"up_to_gb": 50.0, "price_per_gb": 0.0},
        {"up_to_gb": None, "price_per_gb": 0.35},
    ]


def _post_losses(client: APIClient, service: str, losses: dict[str, int]) -> None:
    body = {"batch_id": str(uuid.uuid4()), "service": service, "stats": [], "losses": losses}
    assert client.post("/api/v1/patterns/stats", body, format="json").status_code == 202


@pytest.mark.django_db
def test_the_proof_says_how_many_kept_errors_were_lost_in_delivery_and_lines_shed(
    client: APIClient, team: Team
) -> None:
    _usage(team)
    checkout = Service.objects.get(team=team, name="checkout")
    policy = PolicyVersion.objects.get(service=checkout)
    quiet = client.get("/api/v1/insights/checkout").json()["proof"]
    assert [quiet[name] for name in ("errors_lost", "lines_shed", "lines_lost", "spool_files_corrupt")] == [0, 0, 0, 0]

    _post_losses(client, "checkout", {"errors_lost": 4, "shed_errors": 1, "export_failed": 30, "shed": 100})
    _post_losses(client, "checkout", {"errors_lost": 2, "spool_corrupt": 1})
    _post_losses(client, "checkout", {"errors_lost": 50, "shed": 50})
    # That last batch arrived before the policy took effect: the proof covers the policy's time only.
    assert policy.published_at is not None
    StatsBatch.objects.filter(service=checkout, errors_lost=50).update(
        received_at=policy.published_at - timedelta(minutes=1)
    )
    _post_losses(client, "search", {"errors_lost": 9})

    proof = client.get("/api/v1/insights/checkout").json()["proof"]
    assert proof["errors_seen"] == proof["errors_kept"] > 0  # the policy kept every error it saw
    assert proof["errors_lost"] == 4 + 1 + 2  # ... and 7 of them never reached PostHog
    assert (proof["lines_shed"], proof["lines_lost"], proof["spool_files_corrupt"]) == (101, 30, 1)
    rows = {row["service"]: row for row in client.get("/api/v1/insights").json()["proof"]}
    assert (rows["checkout"]["errors_lost"], rows["search"]["errors_lost"]) == (7, 9)


@pytest.mark.django_db
def test_the_schema_describes_delivery_losses(anon: APIClient) -> None:
    schemas = anon.get("/api/schema/", HTTP_ACCEPT="application/json").json()["components"]["schemas"]
    proof = schemas["Proof"]
    assert {"errors_lost", "lines_shed", "lines_lost", "spool_files_corrupt"} <= set(proof["required"])
    assert "never reached PostHog" in proof["properties"]["errors_lost"]["description"]
    losses = schemas["DeliveryLossesRequest"]["properties"]
    assert set(losses) == set(LOSS_COUNTERS)
    assert all(field["minimum"] == 0 and field["maximum"] == 10**12 for field in losses.values())
