"""lipservice-sdk: adaptive, pattern-aware log sampling for PostHog."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from lipservice_sdk.runtime import AdaptiveLogging, active, configure_adaptive_logging

__all__ = ["AdaptiveLogging", "__version__", "active", "configure_adaptive_logging"]

# The runtime pulls in OpenTelemetry and registers exit and fork hooks, so it loads only when asked for: the server
# imports lipservice_sdk.signature and must not pay for it.
_LAZY = {"AdaptiveLogging", "active", "configure_adaptive_logging"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from lipservice_sdk import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module 'lipservice_sdk' has no attribute {name!r}")
