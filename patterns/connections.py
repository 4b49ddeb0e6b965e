"""Builds the log source a service reads from, out of its team's stored connection settings, and probes them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from lipservice.models import Team
from lipservice.outbound import OutboundRefused, PinnedTransport, check_host, check_url
from patterns.models import Service
from patterns.sources import (
    ClickHouseConfig,
    ClickHouseLogSource,
    FileLogSource,
    FileSourceConfig,
    LogSource,
    PostHogClient,
    PostHogConfig,
    PostHogLogSource,
    SourceConfigError,
    SourceError,
)
from patterns.sources.files import outside_roots_message, path_under_roots

# Another credential than the team's personal API key (an OAuth connection), registered by the app that owns it,
# so this module needs to know nothing about how that credential is kept or refreshed.
PostHogCredentialProvider = Callable[[Team], "tuple[PostHogConfig, httpx.Auth] | None"]
_credential_providers: list[PostHogCredentialProvider] = []


def posthog_credential_provider_register(provider: PostHogCredentialProvider) -> None:
    if provider not in _credential_providers:
        _credential_providers.append(provider)


def posthog_client_for_team(team: Team) -> PostHogClient:
    """A client whose every request goes through the outbound door (the host is the tenant's choice)."""
    if not team.posthog_project_id:
        raise SourceConfigError(f"team {team.name} has no PostHog project id; set it in the admin")
    try:
        check_url(team.posthog_host)
    except OutboundRefused as exc:
        raise SourceConfigError(f"PostHog host refused: {exc}") from exc
    for provider in _credential_providers:
        found = provider(team)
        if found is not None:
            config, auth = found
            return PostHogClient(config, auth=auth, transport=PinnedTransport(verify=config.verify_tls))
    config = PostHogConfig(
        host=team.posthog_host, project_id=team.posthog_project_id, personal_api_key=team.posthog_personal_api_key
    )
    return PostHogClient(config, transport=PinnedTransport(verify=config.verify_tls))


def clickhouse_source_for_team(team: Team, **options: Any) -> ClickHouseLogSource:
    """The team's ClickHouse, connected at the address the outbound door checked."""
    if team.clickhouse_team_id is None or not team.clickhouse_url:
        raise SourceConfigError(f"team {team.name} needs a ClickHouse URL and PostHog team id to read ClickHouse")
    url = team.clickhouse_url
    parsed = urlsplit(url)
    secure = parsed.scheme == "clickhouses" or "secure=true" in parsed.query.lower()
    try:
        destination = check_host(parsed.hostname or "", parsed.port or (9440 if secure else 9000))
    except (OutboundRefused, ValueError) as exc:
        raise SourceConfigError(f"ClickHouse host refused: {exc}") from exc
    fields = {**options, "team_id": team.clickhouse_team_id, "url": url, "address": destination.address}
    return ClickHouseLogSource(ClickHouseConfig(**fields))


def file_source_roots() -> tuple[str, ...]:
    return tuple(str(root) for root in settings.LIPSERVICE_FILE_SOURCE_ROOTS)


def file_source_paths(config: Mapping[str, Any], *, service: str) -> tuple[str, ...]:
    """A file source's paths, each checked to lie under the operator's roots; raises SourceConfigError saying why."""
    paths = config.get("paths") or ([config["path"]] if config.get("path") else [])
    if not paths:
        raise SourceConfigError(f"service {service} reads files but source_config has no 'path'")
    if not isinstance(paths, list | tuple) or not all(isinstance(p, str) and 0 < len(p) <= 1000 for p in paths):
        raise SourceConfigError("source_config 'path' must be a string and 'paths' a list of strings")
    roots = file_source_roots()
    for path in paths:
        if not path_under_roots(path, roots):
            raise SourceConfigError(outside_roots_message(path, roots))
    return tuple(paths)


def source_for_service(service: Service) -> LogSource:
    """The one configured door for this service; raises SourceConfigError naming what is missing."""
    config = service.source_config or {}
    kind = service.source_kind
    if kind == Service.SourceKind.FILE:
        return FileLogSource(
            FileSourceConfig(
                paths=file_source_paths(config, service=service.name),
                format=config.get("format", "auto"),
                loghub_format=config.get("loghub_format"),
                default_service=service.name,
                roots=file_source_roots(),
            )
        )
    if kind == Service.SourceKind.POSTHOG:
        return PostHogLogSource(posthog_client_for_team(service.team))
    if kind == Service.SourceKind.CLICKHOUSE:
        return clickhouse_source_for_team(service.team, **config.get("options", {}))
    raise SourceConfigError(f"service {service.name} has no readable log source (source kind {kind!r})")


def _skipped(detail: str) -> dict[str, str]:
    return {"status": "skipped", "detail": detail}


def team_connection_test(*, team: Team) -> dict[str, Any]:
    """Each capability probed with reads only; a capability that is not configured says so."""
    report: dict[str, Any] = {}
    # A team connected through OAuth has no pasted key; the client for the team picks the OAuth grant first.
    if team.posthog_project_id and (team.posthog_personal_api_key or hasattr(team, "posthog_oauth")):
        try:
            client = posthog_client_for_team(team)
        except SourceError as exc:
            error = {"status": "error", "detail": str(exc)}
            report.update(logs_read=error, hogql=error, drop_rule_write=error)
        else:
            with client:
                result = client.test_connection()
            report.update({name: asdict(getattr(result, name)) for name in ("logs_read", "hogql", "drop_rule_write")})
    else:
        missing = _skipped("set the PostHog project id and a personal API key (phx_…) first")
        report.update(logs_read=missing, hogql=missing, drop_rule_write=missing)
    report["clickhouse"] = _clickhouse_check(team)
    return report


def _clickhouse_check(team: Team) -> dict[str, str]:
    if not team.clickhouse_url or team.clickhouse_team_id is None:
        return _skipped("no ClickHouse connection configured (only self-hosted PostHog has one)")
    now = datetime.now(UTC)
    try:
        with clickhouse_source_for_team(team) as source:
            source.log_volume(service=None, start=now - timedelta(hours=1), end=now, bucket=timedelta(hours=1))
    except SourceError as exc:
        return {"status": "error", "detail": str(exc)}
    return {"status": "ok", "detail": "logs table readable"}
