"""Re-encrypt every stored secret under the newest key of LIPSERVICE_ENCRYPTION_KEY, after a rotation."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from lipservice.services import secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret under the first key of LIPSERVICE_ENCRYPTION_KEY. Put the new key first, "
        "keep the old ones after it, run this, then drop the old keys."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = secrets_reencrypt()
        for label, count in counts.items():
            self.stdout.write(f"{label}: {count} secret(s) re-encrypted")
        self.stdout.write(f"total: {sum(counts.values())}")
