"""Builds the log source a service reads from, out of its team's stored connection settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings

from lipservice.models import Team
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
)
from patterns.sources.files import outside_roots_message, path_under_roots


def posthog_client_for_team(team: Team) -> PostHogClient:
    if not team.posthog_project_id:
        raise SourceConfigError(f"team {team.name} has no PostHog project id; set it in the admin")
    return PostHogClient(
        PostHogConfig(
            host=team.posthog_host, project_id=team.posthog_project_id, personal_api_key=team.posthog_personal_api_key
        )
    )


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
        team = service.team
        if team.clickhouse_team_id is None or not team.clickhouse_url:
            raise SourceConfigError(f"team {team.name} needs a ClickHouse URL and PostHog team id to read ClickHouse")
        return ClickHouseLogSource(
            ClickHouseConfig(team_id=team.clickhouse_team_id, url=team.clickhouse_url, **config.get("options", {}))
        )
    raise SourceConfigError(f"service {service.name} has no readable log source (source kind {kind!r})")
