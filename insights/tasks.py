"""Celery entry points for insights: anomaly scans, incident notification, alert delivery."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from insights.services.alerts import alert_deliver, incident_notify
from insights.services.anomalies import anomalies_scan, incident_resolve_stale
from lipservice.delivery import MAX_RETRIES, RETRY_POLICY, DeliveryRetry
from patterns.selectors import service_get_by_id, service_ids


@shared_task(name="insights.scan_all_services")
def scan_all_services() -> int:
    ids = service_ids()
    for service_id in ids:
        scan_service.delay(service_id=service_id)
    return len(ids)


@shared_task(name="insights.scan_service")
def scan_service(*, service_id: int) -> int:
    service = service_get_by_id(service_id=service_id)
    incident_resolve_stale(service=service)
    return len(anomalies_scan(service=service))


@shared_task(name="insights.notify_incident")
def notify_incident(*, incident_id: int) -> int:
    return len(incident_notify(incident_id=incident_id))


@shared_task(
    bind=True,
    name="insights.deliver_alert",
    autoretry_for=(DeliveryRetry,),
    max_retries=MAX_RETRIES,
    **RETRY_POLICY,
)
def deliver_alert(self: Any, *, delivery_id: int) -> str:
    delivery = alert_deliver(delivery_id=delivery_id, final_attempt=self.request.retries >= MAX_RETRIES)
    return str(delivery.status)
