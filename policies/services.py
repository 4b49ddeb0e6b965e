"""Writes for policies: publish, propose, approve, rollback; each audited, cached and announced by webhook."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from lipservice_sdk.policy import PolicyDocument, policy_to_dict

from lipservice.delivery import deliver, signed_headers
from lipservice.metrics import LLM_FAILURES, LLM_SECONDS, POLICY_GENERATION_SECONDS
from lipservice.models import Team
from patterns.models import Service
from policies import cache as policy_cache
from policies.diff import same_rates
from policies.engine.checker import check_invariants, find_violations
from policies.engine.llm.config import LLMConfig
from policies.engine.llm.generate import generate_policy
from policies.engine.rules import ReductionTarget, generate_rule_policy
from policies.models import AuditEntry, PolicyVersion, Webhook, WebhookDelivery
from policies.selectors import pattern_stats_for_service, policy_active, policy_version_get
from policies.simulation import policy_simulate, share_floor_failure, simulation_passes

logger = logging.getLogger(__name__)


def audit_record(*, team: Team, service: Service | None, action: str, actor: str, detail: Mapping[str, Any]) -> None:
    AuditEntry.objects.create(team=team, service=service, action=action, actor=actor, detail=dict(detail))


def _stamp(document: PolicyDocument | Mapping[str, Any], *, service: Service, number: int) -> PolicyDocument:
    """Validate, then fix the identity fields the server owns: service, version, time and etag."""
    raw = policy_to_dict(document) if isinstance(document, PolicyDocument) else dict(document)
    raw["service"] = service.name
    raw["version"] = number
    raw["etag"] = ""
    raw["generated_at"] = raw.get("generated_at") or datetime.now(UTC).isoformat(timespec="seconds")
    checked = check_invariants(raw, stats=pattern_stats_for_service(service=service))
    return checked.with_etag()


@transaction.atomic
def policy_create(
    *,
    service: Service,
    document: PolicyDocument | Mapping[str, Any],
    actor: str,
    activate: bool,
    simulation: Mapping[str, Any] | None = None,
    fallback_reason: str = "",
    action: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> PolicyVersion:
    """Store a new immutable version (active, or a proposal). Raises PolicyInvariantError and stores nothing."""
    # Locking the service row serialises concurrent publishes, so version numbers never collide or skip.
    Service.objects.select_for_update().get(pk=service.pk)
    number = (PolicyVersion.objects.filter(service=service).aggregate(n=Max("number"))["n"] or 0) + 1
    stamped = _stamp(document, service=service, number=number)
    status = PolicyVersion.Status.ACTIVE if activate else PolicyVersion.Status.PROPOSED
    if activate:
        PolicyVersion.objects.filter(service=service, status=PolicyVersion.Status.ACTIVE).update(
            status=PolicyVersion.Status.SUPERSEDED
        )
    version = PolicyVersion.objects.create(
        service=service,
        number=number,
        status=status,
        document=policy_to_dict(stamped),
        etag=stamped.etag,
        generated_by=stamped.generated_by,
        reasoning=stamped.reasoning,
        fallback_reason=fallback_reason,
        simulation=dict(simulation or {}),
        created_by=actor,
        published_at=timezone.now() if activate else None,
    )
    event = action or ("policy.published" if activate else "policy.proposed")
    audit_record(
        team=service.team,
        service=service,
        action=event,
        actor=actor,
        detail={"version": number, "generated_by": stamped.generated_by, **(detail or {})},
    )
    if activate:
        _announce(service=service, version=version, event=event)
    return version


def policy_publish(
    *, service: Service, document: PolicyDocument | Mapping[str, Any], actor: str, **extra: Any
) -> PolicyVersion:
    return policy_create(service=service, document=document, actor=actor, activate=True, **extra)


@transaction.atomic
def policy_approve(*, service: Service, number: int, actor: str) -> PolicyVersion:
    """Make a proposal the active version, as it is (the checker passed it when it was proposed)."""
    Service.objects.select_for_update().get(pk=service.pk)
    version = policy_version_get(service=service, number=number)
    if version.status != PolicyVersion.Status.PROPOSED:
        from lipservice.errors import Conflict

        raise Conflict(f"Version {number} is {version.status}; only a proposal can be approved.")
    check_invariants(version.document, stats=pattern_stats_for_service(service=service))
    PolicyVersion.objects.filter(service=service, status=PolicyVersion.Status.ACTIVE).update(
        status=PolicyVersion.Status.SUPERSEDED
    )
    version.status = PolicyVersion.Status.ACTIVE
    version.published_at = timezone.now()
    version.save(update_fields=["status", "published_at"])
    audit_record(team=service.team, service=service, action="policy.approved", actor=actor, detail={"version": number})
    _announce(service=service, version=version, event="policy.published")
    return version


def policy_rollback(*, service: Service, number: int, actor: str) -> PolicyVersion:
    """Republish an earlier version's document as a new version; history is never rewritten."""
    old = policy_version_get(service=service, number=number)
    current = policy_active(service=service)
    document = dict(old.document)
    document["generated_at"] = ""
    return policy_create(
        service=service,
        document=document,
        actor=actor,
        activate=True,
        simulation=old.simulation,
        action="policy.rolled_back",
        detail={"to_version": number, "from_version": current.number if current else None},
    )


def _announce(*, service: Service, version: PolicyVersion, event: str) -> None:
    team_id, name = service.team_id, service.name
    transaction.on_commit(lambda: policy_cache.policy_cache_invalidate(team_id, name), robust=True)
    payload = {
        "event": event,
        "team": service.team.name,
        "service": service.name,
        "version": version.number,
        "etag": version.etag,
        "generated_by": version.generated_by,
        "published_at": (version.published_at or timezone.now()).isoformat(),
    }
    webhooks_enqueue(team=service.team, event=event, payload=payload)


def webhook_create(*, team: Team, name: str, url: str, events: list[str] | None = None) -> tuple[Webhook, str]:
    secret = "whsec_" + secrets.token_urlsafe(24)
    webhook = Webhook(team=team, name=name, url=url, events=events or [])
    webhook.secret = secret
    webhook.save()
    return webhook, secret


def webhooks_enqueue(*, team: Team, event: str, payload: Mapping[str, Any]) -> list[WebhookDelivery]:
    from policies.tasks import deliver_webhook

    deliveries = [
        WebhookDelivery.objects.create(webhook=hook, event=event, payload=dict(payload))
        for hook in Webhook.objects.filter(team=team, active=True)
        if hook.wants(event)
    ]
    for delivery in deliveries:
        delivery_id = delivery.pk
        transaction.on_commit(
            lambda d=delivery_id: deliver_webhook.delay(delivery_id=d),  # type: ignore[misc]
            robust=True,
        )
    return deliveries


def webhook_deliver(*, delivery_id: int, final_attempt: bool) -> WebhookDelivery:
    """One signed attempt through lipservice.delivery (raises DeliveryRetry when a retry may help)."""
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    if delivery.status == WebhookDelivery.Status.DELIVERED:
        return delivery
    body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "LipService-Webhooks/1",
        **signed_headers(secret=delivery.webhook.secret, body=body, event=delivery.event, delivery_id=str(delivery.pk)),
    }
    deliver(delivery, url=delivery.webhook.url, body=body, headers=headers, final_attempt=final_attempt)
    return delivery


def policy_validate(*, service: Service, document: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every violation the checker finds, as `{path, code, message}`; empty means publishable."""
    raw = {**document, "service": service.name, "version": 0, "etag": ""}
    return [issue.as_dict() for issue in find_violations(raw, stats=pattern_stats_for_service(service=service))]


def policy_propose(
    *, service: Service, actor: str = "system:pipeline", unless_same_as: PolicyVersion | None = None
) -> PolicyVersion | None:
    """Write a policy for the service's patterns (LLM if configured, else rules) and simulate it on real history.

    It is published when the service has auto-publish on and the simulation passes; otherwise it waits as a proposal.
    Returns None when there is nothing to mine, or when the rates equal those of `unless_same_as`.
    """
    stats = pattern_stats_for_service(service=service)
    if not stats:
        return None
    config = LLMConfig.from_settings(settings)
    started = time.perf_counter()
    result = generate_policy(
        service=service.name, stats=stats, target=ReductionTarget(service.target_reduction), config=config
    )
    if config.provider != "rules":
        LLM_SECONDS.labels(config.provider).observe(time.perf_counter() - started)
        if result.fallback_reason:
            LLM_FAILURES.labels(result.fallback_reason.split(":", 1)[0][:40]).inc()
    if unless_same_as is not None and same_rates(unless_same_as.document, policy_to_dict(result.document)):
        return None
    report = policy_simulate(service=service, document=result.document)
    passes, why = simulation_passes(report)
    if passes and result.generated_by.startswith("llm:"):
        rules = generate_rule_policy(
            service=service.name, stats=stats, target=ReductionTarget(service.target_reduction)
        )
        failure = share_floor_failure(report, policy_simulate(service=service, document=rules))
        if failure is not None:
            passes, why = False, f"waits for review: {failure}"
    POLICY_GENERATION_SECONDS.labels(result.generated_by.split(":", 1)[0]).observe(time.perf_counter() - started)
    report["verdict"] = {"passes": passes, "reason": why}
    return policy_create(
        service=service,
        document=result.document,
        actor=actor,
        activate=service.auto_publish and passes,
        simulation=report,
        fallback_reason=result.fallback_reason or "",
        detail={"simulation": why, "auto_publish": service.auto_publish},
    )
