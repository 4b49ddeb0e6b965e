"""Celery entry points for policies."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from lipservice.delivery import MAX_RETRIES, RETRY_POLICY, DeliveryRetry
from policies.loop import pipeline_run, pipeline_services
from policies.services import webhook_deliver


@shared_task(
    bind=True,
    name="policies.deliver_webhook",
    autoretry_for=(DeliveryRetry,),
    max_retries=MAX_RETRIES,
    **RETRY_POLICY,
)
def deliver_webhook(self: Any, *, delivery_id: int) -> str:
    delivery = webhook_deliver(delivery_id=delivery_id, final_attempt=self.request.retries >= MAX_RETRIES)
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
