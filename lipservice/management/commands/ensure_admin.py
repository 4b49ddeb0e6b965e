"""Make sure an `admin` superuser exists in the demo team, with a known or a freshly printed password."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from lipservice.models import TeamMembership
from lipservice.selectors import team_get
from lipservice.services import team_member_add


class Command(BaseCommand):
    help = "Create or update the `admin` superuser (password from LIPSERVICE_DEMO_ADMIN_PASSWORD, else random)."

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get("LIPSERVICE_DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(username="admin", defaults={"email": "admin@example.com"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        team = team_get(name="demo")
        if team is not None:
            team_member_add(team=team, user=user, role=TeamMembership.Role.ADMIN)
        shown = "from LIPSERVICE_DEMO_ADMIN_PASSWORD" if os.environ.get("LIPSERVICE_DEMO_ADMIN_PASSWORD") else password
        self.stdout.write(f"admin user {'created' if created else 'updated'}; password: {shown}")
