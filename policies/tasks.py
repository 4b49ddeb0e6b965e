"""Celery entry points for policies."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from policies.pipeline import pipeline_run, pipeline_services
from policies.services import WebhookDeliveryError, webhook_deliver

WEBHOOK_MAX_RETRIES = 5


@shared_task(
    bind=True,
    name="policies.deliver_webhook",
    autoretry_for=(WebhookDeliveryError,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=WEBHOOK_MAX_RETRIES,
)
def deliver_webhook(self: Any, *, delivery_id: int) -> str:
    delivery = webhook_deliver(delivery_id=delivery_id, final_attempt=self.request.retries >= WEBHOOK_MAX_RETRIES)
    return str(delivery.status)


@shared_task(name="policies.run_pipeline")
def run_pipeline(*, service_id: int) -> str:
    return pipeline_run(service_id=service_id)


@shared_task(name="policies.pipeline_all")
def pipeline_all() -> int:
    service_ids = pipeline_services()
    for service_id in service_ids:
        run_pipeline.delay(service_id=service_id)
    return len(service_ids)
