"""Where logs come from: one LogSource interface and one door per system (PostHog API, ClickHouse, files)."""

from __future__ import annotations

from patterns.sources.base import (
    LogSource,
    SourceAuthError,
    SourceConfigError,
    SourceError,
    SourceFormatError,
    SourceNotSupportedError,
    SourceQueryError,
    SourceRateLimitedError,
    SourceRecord,
    SourceUnavailableError,
    TemplateKeyCount,
    VolumeBucket,
    template_keys_from_records,
    volume_from_records,
)
from patterns.sources.clickhouse import ClickHouseConfig, ClickHouseLogSource
from patterns.sources.files import FileLogSource, FileSourceConfig
from patterns.sources.posthog import PostHogLogSource
from patterns.sources.posthog_client import CheckResult, ConnectionReport, PostHogClient, PostHogConfig

__all__ = [
    "CheckResult",
    "ClickHouseConfig",
    "ClickHouseLogSource",
    "ConnectionReport",
    "FileLogSource",
    "FileSourceConfig",
    "LogSource",
    "PostHogClient",
    "PostHogConfig",
    "PostHogLogSource",
    "SourceAuthError",
    "SourceConfigError",
    "SourceError",
    "SourceFormatError",
    "SourceNotSupportedError",
    "SourceQueryError",
    "SourceRateLimitedError",
    "SourceRecord",
    "SourceUnavailableError",
    "TemplateKeyCount",
    "VolumeBucket",
    "template_keys_from_records",
    "volume_from_records",
]
