"""A team's price table: validated, then stored on the team."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from insights.engine.pricing import Pricing, PricingError, parse_pricing
from insights.selectors import InvalidPricing
from lipservice.models import Team

if TYPE_CHECKING:
    pass


def team_pricing_set(*, team: Team, pricing: Mapping[str, Any] | None) -> Pricing:
    """Validate and store the team's price table; None removes it (back to the settings default)."""
    from policies.selectors import default_price_table

    config = dict(team.config or {})
    if pricing is None:
        config.pop("pricing", None)
        parsed = parse_pricing(default_price_table())
    else:
        try:
            parsed = parse_pricing(pricing, default=parse_pricing(default_price_table()))
        except PricingError as exc:
            raise InvalidPricing(f"Invalid pricing: {exc}", details={"errors": exc.issues}) from exc
        config["pricing"] = dict(pricing)
    team.config = config
    team.save(update_fields=["config"])
    return parsed
