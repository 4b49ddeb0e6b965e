"""A team's PostHog OAuth tokens: stored encrypted, refreshed before expiry and once on a 401, revoked on disconnect.

A refresh that PostHog refuses puts the connection in the "reconnect" state: nothing else is touched (services,
patterns and policies stay), reads fail with ReconnectRequired, and every page says so until the person connects
again. Refreshes are serialised per connection by a row lock, because PostHog rotates refresh tokens: two workers
refreshing at once would otherwise leave one holding a refresh token that no longer exists.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from authlib.common.errors import AuthlibBaseError
from django.db import transaction
from django.utils import timezone

from lipservice.models import Team
from patterns.sources import PostHogClient, PostHogConfig, SourceAuthError, SourceError, SourceUnavailableError
from posthog_app.models import PostHogConnection
from posthog_app.oauth import oauth_client

logger = logging.getLogger(__name__)

REFRESH_LEEWAY = timedelta(seconds=60)


class ReconnectRequired(SourceAuthError):
    """The stored grant no longer works; a person has to connect again."""


def _expires_at(token: dict[str, Any]) -> datetime | None:
    expires_at = token.get("expires_at")
    if isinstance(expires_at, int | float):
        return datetime.fromtimestamp(expires_at, tz=UTC)
    expires_in = token.get("expires_in")
    if isinstance(expires_in, int | float):
        return timezone.now() + timedelta(seconds=expires_in)
    return None


def _apply_token(connection: PostHogConnection, token: dict[str, Any]) -> None:
    connection.access_token = str(token["access_token"])
    if token.get("refresh_token"):
        connection.refresh_token = str(token["refresh_token"])
    connection.expires_at = _expires_at(token)
    if token.get("scope"):
        connection.scope = str(token["scope"])[:1000]
    teams = token.get("scoped_teams")
    if isinstance(teams, list):
        connection.scoped_teams = [int(t) for t in teams if isinstance(t, int) or str(t).isdigit()][:1000]


def connection_store(
    *,
    team: Team,
    flow: dict[str, Any],
    token: dict[str, Any],
    api_host: str,
    user: Any,
) -> PostHogConnection:
    connection = PostHogConnection.objects.filter(team=team).first() or PostHogConnection(team=team)
    connection.region = flow["region"]
    connection.issuer = flow["issuer"]
    connection.client_id = flow["client_id"]
    connection.api_host = api_host
    connection.server_metadata = flow["metadata"]
    _apply_token(connection, token)
    connection.status = PostHogConnection.Status.CONNECTED
    connection.status_detail = ""
    connection.connected_by = user if getattr(user, "pk", None) else None
    connection.refreshed_at = timezone.now()
    connection.save()
    return connection


def connection_for_team(team: Team) -> PostHogConnection | None:
    return PostHogConnection.objects.filter(team=team).first()


@dataclass(frozen=True)
class _Outcome:
    token: str = ""
    reconnect: str = ""
    unavailable: str = ""


def _refresh_locked(connection_id: int, *, rejected: str | None) -> _Outcome:
    with transaction.atomic():
        connection = PostHogConnection.objects.select_for_update().get(pk=connection_id)
        if connection.status == PostHogConnection.Status.RECONNECT:
            return _Outcome(reconnect=connection.status_detail or "the PostHog connection needs to be renewed")
        current = connection.access_token
        fresh = connection.expires_at is None or connection.expires_at - timezone.now() > REFRESH_LEEWAY
        if current and fresh and current != rejected:
            return _Outcome(token=current)  # valid, or another worker refreshed it while this one waited
        refresh_token = connection.refresh_token
        if not refresh_token:
            detail = "PostHog gave no refresh token; connect again"
        else:
            try:
                with oauth_client(client_id=connection.client_id) as client:
                    token = client.refresh_token(connection.endpoint("token_endpoint"), refresh_token=refresh_token)
            except httpx.HTTPError as exc:
                return _Outcome(unavailable=f"cannot reach PostHog's token endpoint: {exc}")
            except AuthlibBaseError as exc:
                detail = f"PostHog refused to refresh the access token ({exc.error}); connect again"
            else:
                _apply_token(connection, dict(token))
                connection.refreshed_at = timezone.now()
                connection.save()
                return _Outcome(token=connection.access_token)
        connection.status = PostHogConnection.Status.RECONNECT
        connection.status_detail = detail[:500]
        connection.save(update_fields=["status", "status_detail"])
        logger.warning(
            "posthog oauth connection %s of team %s needs reconnecting: %s", connection.pk, connection.team_id, detail
        )
        return _Outcome(reconnect=detail)


def access_token_refresh(*, connection_id: int, rejected: str | None = None) -> str:
    """A usable access token: the stored one if still fresh (and not the one just rejected), else a refreshed one."""
    outcome = _refresh_locked(connection_id, rejected=rejected)
    if outcome.reconnect:
        raise ReconnectRequired(f"PostHog connection lost: {outcome.reconnect}", scope="(oauth)")
    if outcome.unavailable:
        raise SourceUnavailableError(outcome.unavailable)
    return outcome.token


def access_token_fresh(*, connection_id: int) -> str:
    connection = PostHogConnection.objects.get(pk=connection_id)
    if connection.status == PostHogConnection.Status.RECONNECT:
        raise ReconnectRequired(f"PostHog connection lost: {connection.status_detail}", scope="(oauth)")
    if connection.expires_at is None or connection.expires_at - timezone.now() > REFRESH_LEEWAY:
        return connection.access_token
    return access_token_refresh(connection_id=connection_id)


class ConnectionAuth(httpx.Auth):
    """Bearer auth from the stored grant: refreshed ahead of expiry, and once more if PostHog answers 401."""

    def __init__(self, connection_id: int) -> None:
        self.connection_id = connection_id

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = access_token_fresh(connection_id=self.connection_id)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            token = access_token_refresh(connection_id=self.connection_id, rejected=token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request


def oauth_client_for(connection: PostHogConnection, *, project_id: str | int = "") -> PostHogClient:
    config = PostHogConfig(
        host=connection.api_host,
        project_id=project_id,
        personal_api_key=connection.access_token or "pha_unset",
        max_attempts=3,
    )
    return PostHogClient(config, auth=ConnectionAuth(connection.pk))


def oauth_credentials_for_team(team: Team) -> tuple[PostHogConfig, httpx.Auth] | None:
    """The credential provider registered with patterns.connections: the OAuth grant wins over a pasted key."""
    connection = connection_for_team(team)
    if connection is None:
        return None
    if connection.status == PostHogConnection.Status.RECONNECT:
        raise ReconnectRequired(f"PostHog connection lost: {connection.status_detail}", scope="(oauth)")
    config = PostHogConfig(
        host=connection.api_host,
        project_id=team.posthog_project_id,
        personal_api_key=connection.access_token or "pha_unset",
    )
    return config, ConnectionAuth(connection.pk)


def projects_visible(*, connection: PostHogConnection) -> list[dict[str, Any]]:
    """The projects the token may read: PostHog's listing, narrowed to the grant's scoped teams when it has any."""
    with oauth_client_for(connection) as client:
        projects = client.list_projects()
    allowed = set(connection.scoped_teams or [])
    result = []
    for project in projects:
        project_id = project.get("id")
        if not isinstance(project_id, int) or (allowed and project_id not in allowed):
            continue
        result.append(
            {
                "id": project_id,
                "name": str(project.get("name") or f"Project {project_id}")[:200],
                "api_token": str(project.get("api_token") or "")[:128],
            }
        )
    return result


def api_host_probe(*, connection: PostHogConnection, candidates: list[str]) -> str:
    """The first app host (of a region-agnostic grant) where the token lists projects."""
    last: SourceError | None = None
    for host in candidates:
        # A plain bearer: a 401 from the wrong region must not spend a refresh.
        config = PostHogConfig(host=host, project_id="", personal_api_key=connection.access_token, max_attempts=2)
        try:
            with PostHogClient(config) as client:
                client.list_projects()
        except SourceError as exc:
            last = exc
            continue
        return host
    raise SourceUnavailableError(f"no PostHog region accepted the token: {last}")


def connection_disconnect(*, team: Team) -> list[str]:
    """Revoke both tokens at PostHog (best effort, reported) and delete them here whatever PostHog answered."""
    connection = connection_for_team(team)
    if connection is None:
        return []
    notes: list[str] = []
    endpoint = connection.endpoint("revocation_endpoint")
    if endpoint:
        with oauth_client(client_id=connection.client_id) as client:
            for hint, value in (("refresh_token", connection.refresh_token), ("access_token", connection.access_token)):
                if not value:
                    continue
                try:
                    response = client.revoke_token(endpoint, token=value, token_type_hint=hint)
                except (httpx.HTTPError, AuthlibBaseError) as exc:
                    notes.append(f"{hint} not revoked: {exc}")
                    continue
                if response.status_code >= 400:
                    notes.append(f"{hint} not revoked: HTTP {response.status_code}")
    else:
        notes.append("PostHog lists no revocation endpoint; tokens deleted here only")
    connection.delete()
    return notes
