"""Explicit output (and query) serializers of the insights API; money is a JSON number with six decimals."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


def _money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=24, decimal_places=6, coerce_to_string=False, **kwargs)


class InsightsQuerySerializer(serializers.Serializer[Any]):
    days = serializers.IntegerField(min_value=1, max_value=90, default=30, help_text="Trailing days the cost covers.")


class PeriodSerializer(serializers.Serializer[Any]):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    observed_start = serializers.DateTimeField(allow_null=True, help_text="First window with data in the period.")
    observed_days = serializers.FloatField()
    basis = serializers.CharField(help_text="monthly_run_rate: dollars per 30-day month at the observed rate.")


class PatternCostSerializer(serializers.Serializer[Any]):
    pattern = serializers.CharField()
    template = serializers.CharField()
    bytes_before = serializers.IntegerField()
    bytes_after = serializers.IntegerField()
    before = _money()
    after = _money()
    savings = _money()


class CostSerializer(serializers.Serializer[Any]):
    currency = serializers.CharField()
    period = PeriodSerializer()
    before = _money(help_text="Dollars per month for everything the application produced.")
    after = _money(help_text="Dollars per month for what was sent to PostHog.")
    savings = _money()
    savings_share = serializers.FloatField(help_text="savings / before (0 when before is 0).")
    bytes_before = serializers.IntegerField()
    bytes_after = serializers.IntegerField()


class ServiceCostSerializer(CostSerializer):
    patterns = PatternCostSerializer(many=True)


class ServiceRowSerializer(serializers.Serializer[Any]):
    service = serializers.CharField()
    before = _money()
    after = _money()
    savings = _money()
    bytes_before = serializers.IntegerField()
    bytes_after = serializers.IntegerField()


class TeamCostSerializer(CostSerializer):
    services = ServiceRowSerializer(many=True, help_text="One row per service; the rows sum to the team's totals.")


class BacktestSerializer(serializers.Serializer[Any]):
    mape = serializers.FloatField(help_text="Mean absolute percentage error, as a fraction (0.05 = 5%).")
    horizon_days = serializers.IntegerField()
    origins = serializers.IntegerField()
    points = serializers.IntegerField()


class DayPointSerializer(serializers.Serializer[Any]):
    date = serializers.DateField()
    bytes = serializers.FloatField()
    forecast = serializers.BooleanField()


class ProjectionSerializer(serializers.Serializer[Any]):
    method = serializers.CharField()
    month_start = serializers.DateField(allow_null=True)
    month_end = serializers.DateField(allow_null=True)
    series = DayPointSerializer(many=True)
    actual_to_date_bytes = serializers.FloatField()
    month_end_bytes = serializers.FloatField()
    month_end_gb = serializers.FloatField()
    month_end_cost = _money()
    currency = serializers.CharField()
    backtest = BacktestSerializer(allow_null=True)


class IncidentSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    dedup_key = serializers.CharField()
    severity = serializers.CharField()
    status = serializers.CharField()
    title = serializers.CharField()
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    explanation = serializers.JSONField()


class AnomalySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    severity = serializers.CharField()
    pattern = serializers.CharField(allow_null=True)
    template = serializers.CharField(allow_null=True)
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    observed = serializers.FloatField()
    expected = serializers.FloatField()
    score = serializers.FloatField()
    confidence = serializers.FloatField()
    incident = IncidentSerializer(allow_null=True)


class RecommendationSerializer(serializers.Serializer[Any]):
    pattern = serializers.CharField()
    template = serializers.CharField()
    bytes_share = serializers.FloatField()
    current_rate = serializers.FloatField()
    suggested_rate = serializers.FloatField()
    savings_per_month = _money()
    cost_after_per_month = _money()
    roi = serializers.FloatField(allow_null=True, help_text="Dollars saved per dollar still spent on the pattern.")
    errors_kept = serializers.IntegerField()
    message = serializers.CharField()


class SavingsCheckSerializer(serializers.Serializer[Any]):
    policy_version = serializers.IntegerField()
    predicted_reduction = serializers.FloatField(
        allow_null=True, help_text="Byte reduction the simulator predicted for the policy."
    )
    measured_reduction = serializers.FloatField(allow_null=True, help_text="1 - SDK bytes kept / seen since publish.")
    bytes_seen = serializers.IntegerField()
    bytes_kept = serializers.IntegerField()
    relative_error = serializers.FloatField(allow_null=True)
    tolerance = serializers.FloatField()
    agrees = serializers.BooleanField(allow_null=True, help_text="Null until the SDK has reported counts.")


class ServiceInsightsSerializer(serializers.Serializer[Any]):
    service = serializers.CharField()
    cost = ServiceCostSerializer()
    savings_check = SavingsCheckSerializer(allow_null=True, help_text="The active policy's promise vs SDK counts.")
    projection = ProjectionSerializer()
    anomalies = AnomalySerializer(many=True)
    recommendations = RecommendationSerializer(many=True)


class TeamInsightsSerializer(serializers.Serializer[Any]):
    team = serializers.CharField()
    cost = TeamCostSerializer()
    projection = ProjectionSerializer()


class PriceTierSerializer(serializers.Serializer[Any]):
    up_to_gb = serializers.FloatField(allow_null=True)
    price_per_gb = serializers.FloatField()


class RetentionSerializer(serializers.Serializer[Any]):
    days = serializers.IntegerField()
    included_days = serializers.IntegerField()
    price_per_gb_month = serializers.FloatField()
    multiplier = serializers.FloatField()


class PricingSerializer(serializers.Serializer[Any]):
    currency = serializers.CharField()
    tiers = PriceTierSerializer(many=True)
    retention = RetentionSerializer()


class PricingInputSerializer(serializers.Serializer[Any]):
    """Shape only; the pricing engine validates values (bounds increasing, last tier unbounded...)."""

    pricing = serializers.DictField(
        child=serializers.JSONField(), allow_null=True, help_text="A pricing object, or null for the default."
    )
