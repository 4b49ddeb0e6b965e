"""Settings of one configure_adaptive_logging call, validated once so the hot path never checks them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lipservice_sdk.client import check_base_url
from lipservice_sdk.policy_source import default_cache_dir

DEFAULT_POSTHOG_HOST = "https://us.i.posthog.com"


@dataclass(frozen=True)
class AdaptiveConfig:
    service_name: str
    lipservice_url: str | None = None
    api_key: str | None = None
    posthog_token: str | None = None
    posthog_host: str = DEFAULT_POSTHOG_HOST
    cache_dir: Path | None = None
    refresh_interval: float = 60.0
    stats_interval: float = 30.0
    request_timeout: float = 5.0
    export_timeout: float = 10.0
    max_queue_size: int = 2048
    export_batch_size: int = 512
    export_delay: float = 1.0
    max_context_lines: int = 10_000
    max_stat_keys: int = 20_000
    max_pending_stats: int = 50_000
    exit_timeout: float = 3.0
    seed: int | None = None
    spool_dir: Path | None = None
    spool_max_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        if not isinstance(self.service_name, str) or not self.service_name.strip():
            raise ValueError("service_name must be a non-empty string")
        if self.lipservice_url is not None:
            object.__setattr__(self, "lipservice_url", check_base_url(self.lipservice_url))
        if self.posthog_token is not None:
            check_base_url(self.posthog_host)
        for name in ("refresh_interval", "stats_interval", "request_timeout", "export_timeout", "export_delay"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        for name in ("max_queue_size", "export_batch_size", "max_stat_keys", "max_pending_stats"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.spool_max_bytes < 1:
            raise ValueError("spool_max_bytes must be at least 1")
        if self.max_context_lines < 0 or self.exit_timeout < 0:
            raise ValueError("max_context_lines and exit_timeout must not be negative")

    @property
    def online(self) -> bool:
        return self.lipservice_url is not None

    @property
    def exporting(self) -> bool:
        return bool(self.posthog_token)

    def resolved_cache_dir(self) -> Path:
        return Path(os.fspath(self.cache_dir)) if self.cache_dir is not None else default_cache_dir()
