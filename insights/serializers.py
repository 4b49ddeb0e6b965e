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
    bytes = serializers.FloatField(help_text="Bytes sent (forecast: under the policy in force).")
    bytes_without = serializers.FloatField(help_text="Bytes the application produced (forecast: without LipService).")
    forecast = serializers.BooleanField()


class ProjectionSerializer(serializers.Serializer[Any]):
    method = serializers.CharField()
    month_start = serializers.DateField(allow_null=True)
    month_end = serializers.DateField(allow_null=True)
    series = DayPointSerializer(many=True)
    actual_to_date_bytes = serializers.FloatField()
    month_end_bytes = serializers.FloatField()
    month_end_gb = serializers.FloatField()
    month_end_cost = _money(help_text="Month-end dollars under the policy in force.")
    counterfactual_bytes = serializers.FloatField(help_text="Month-end bytes without LipService.")
    counterfactual_cost = _money(help_text="Month-end dollars without LipService.")
    currency = serializers.CharField()
    regime_start = serializers.DateField(allow_null=True, help_text="First whole day under the policy in force.")
    keep_share = serializers.FloatField(help_text="Share of produced bytes the policy in force sends.")
    keep_basis = serializers.CharField(help_text="measured (SDK counts), simulated, mixed, unknown or no_policy.")
    backtest = BacktestSerializer(allow_null=True, help_text="Forecasts of bytes sent, from origins in the regime.")
    backtest_scope = serializers.CharField()


class RunRateFieldsSerializer(serializers.Serializer[Any]):
    without = _money(help_text="Dollars per month without LipService, from what was seen.")
    without_bytes = serializers.IntegerField(help_text="Bytes per 30-day month without LipService.")
    without_basis = serializers.CharField()
    with_policy = _money(help_text="Dollars per month under the policy now in force.")
    with_policy_bytes = serializers.IntegerField()
    with_policy_basis = serializers.CharField()
    policy_basis = serializers.CharField(help_text="measured, simulated, mixed, unknown or no_policy.")
    keep_share = serializers.FloatField()
    saving = _money(help_text="without - with_policy, per month.")
    saving_share = serializers.FloatField(help_text="saving / without (0 when without is 0).")
    saved_this_month = _money(help_text="Dollars saved since the first of this month (UTC).")
    saved_this_month_bytes = serializers.IntegerField()
    saved_this_month_basis = serializers.CharField()


class ServiceRunRateSerializer(RunRateFieldsSerializer):
    service = serializers.CharField()
    currency = serializers.CharField()
    policy_version = serializers.IntegerField(allow_null=True)
    policy_since = serializers.DateTimeField(allow_null=True)


class TeamRunRateSerializer(RunRateFieldsSerializer):
    currency = serializers.CharField()
    services = ServiceRunRateSerializer(many=True)


class ProofSerializer(serializers.Serializer[Any]):
    policy_version = serializers.IntegerField()
    since = serializers.DateTimeField()
    sdk_hours = serializers.IntegerField(help_text="Hours with SDK counts since the policy took effect.")
    predicted_reduction = serializers.FloatField(allow_null=True)
    measured_reduction = serializers.FloatField(allow_null=True)
    band_low = serializers.FloatField(allow_null=True)
    band_high = serializers.FloatField(allow_null=True)
    tolerance = serializers.FloatField()
    agrees = serializers.BooleanField(allow_null=True)
    drift = serializers.BooleanField(help_text="The measured reduction is outside the band around the prediction.")
    bytes_seen = serializers.IntegerField()
    bytes_kept = serializers.IntegerField()
    errors_seen = serializers.IntegerField(
        help_text="Lines of error patterns the SDK saw since the policy took effect."
    )
    errors_kept = serializers.IntegerField()
    errors_lost = serializers.IntegerField(
        help_text="Kept ERROR/FATAL lines that never reached PostHog since the policy took effect, as the SDKs "
        "reported them: given up on after retries (spool full, refused for good, left at exit) or shed by a full "
        "export queue."
    )
    lines_shed = serializers.IntegerField(
        help_text="Kept lines of any severity the SDKs shed because their export queue was full (errors included)."
    )
    lines_lost = serializers.IntegerField(help_text="Kept lines below ERROR whose export failed after its retries.")
    spool_files_corrupt = serializers.IntegerField(
        help_text="Spool files of undelivered errors the SDKs found damaged and discarded."
    )
    patterns_reported = serializers.IntegerField()
    patterns_kept = serializers.IntegerField(help_text="Patterns with at least one kept line.")


class ServiceProofSerializer(ProofSerializer):
    service = serializers.CharField()


class IncidentAnomalySerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    severity = serializers.CharField()
    pattern = serializers.CharField(allow_null=True)
    template = serializers.CharField(allow_null=True)
    observed = serializers.FloatField()
    expected = serializers.FloatField()


class AlertDeliveryRowSerializer(serializers.Serializer[Any]):
    channel = serializers.CharField()
    status = serializers.CharField()


class IncidentAlertSerializer(serializers.Serializer[Any]):
    channels = serializers.ListField(child=serializers.CharField())
    deliveries = AlertDeliveryRowSerializer(many=True)
    would_send = serializers.BooleanField(help_text="No channel is set up: this is the alert that would have gone out.")
    summary = serializers.CharField()
    likely_causes = serializers.ListField(child=serializers.CharField())
    debugging_steps = serializers.ListField(child=serializers.CharField())


class IncidentDetailSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    service = serializers.CharField()
    severity = serializers.CharField()
    status = serializers.CharField()
    title = serializers.CharField()
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    explanation = serializers.JSONField()
    anomalies = IncidentAnomalySerializer(many=True)
    alert = IncidentAlertSerializer()


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
    demo = serializers.BooleanField(help_text="The team's data is the generated demo.")
    cost = ServiceCostSerializer()
    run_rate = ServiceRunRateSerializer()
    proof = ProofSerializer(allow_null=True, help_text="The active policy's prediction against SDK counts.")
    incidents = IncidentDetailSerializer(many=True)
    savings_check = SavingsCheckSerializer(allow_null=True, help_text="The active policy's promise vs SDK counts.")
    projection = ProjectionSerializer()
    anomalies = AnomalySerializer(many=True)
    recommendations = RecommendationSerializer(many=True)


class TeamInsightsSerializer(serializers.Serializer[Any]):
    team = serializers.CharField()
    demo = serializers.BooleanField(help_text="The team's data is the generated demo.")
    cost = TeamCostSerializer()
    run_rate = TeamRunRateSerializer()
    proof = ServiceProofSerializer(many=True)
    incidents = IncidentDetailSerializer(many=True)
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
