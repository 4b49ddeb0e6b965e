"""Template context on every page: whether the team's PostHog connection needs renewing, and the onboarding clock."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from lipservice.selectors import team_for_user
from posthog_app.models import Onboarding, PostHogConnection


def posthog_connection(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    team = team_for_user(user=user)
    if team is None:
        return {}
    connection = PostHogConnection.objects.filter(team=team).only("status", "status_detail", "issuer").first()
    first = (
        Onboarding.objects.filter(team=team, first_policy_at__isnull=False)
        .order_by("-first_policy_at")
        .only("first_policy_at", "connect_started_at")
        .first()
    )
    return {
        "posthog_connection": connection,
        "posthog_reconnect": connection is not None and connection.status == PostHogConnection.Status.RECONNECT,
        "first_insight_seconds": first.seconds_to_first_policy if first is not None else None,
    }
