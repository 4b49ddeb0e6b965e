"""Sync the beat schedule declared in code into django-celery-beat; idempotent, keeps an admin's pause."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from lipservice.schedule import SCHEDULE

MANAGED_MARK = "[managed by lipservice.schedule]"


class Command(BaseCommand):
    help = "Create, update or remove the periodic tasks so the database matches lipservice/schedule.py."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        created = updated = 0
        for name, job in SCHEDULE.items():
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=job.every_seconds, period=IntervalSchedule.SECONDS
            )
            wanted = {
                "task": job.task,
                "interval": interval,
                "kwargs": json.dumps(job.kwargs, sort_keys=True),
                "description": f"{job.description} {MANAGED_MARK}",
            }
            task = PeriodicTask.objects.filter(name=name).first()
            if task is None:
                PeriodicTask.objects.create(name=name, enabled=True, **wanted)
                created += 1
            elif any(getattr(task, key) != value for key, value in wanted.items()):
                # `enabled` is left as it is: an admin may pause a job, but git defines what the job is.
                for key, value in wanted.items():
                    setattr(task, key, value)
                task.save()
                updated += 1
        removed, _ = (
            PeriodicTask.objects.filter(description__endswith=MANAGED_MARK).exclude(name__in=list(SCHEDULE)).delete()
        )
        self.stdout.write(
            f"periodic tasks: {created} created, {updated} updated, {removed} removed, {len(SCHEDULE)} declared"
        )
