"""Explicit wire shapes for the policy API; the document shape is `lipservice.policy/v1`."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from policies.models import PolicyVersion, WebhookDelivery


class PatternRuleSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    template = serializers.CharField()
    signatures = serializers.ListField(child=serializers.CharField(), required=False)
    rate = serializers.FloatField(min_value=0, max_value=1)
    reason = serializers.CharField(required=False, allow_blank=True)


class AttributePredicateSerializer(serializers.Serializer[Any]):
    attribute = serializers.CharField()
    op = serializers.ChoiceField(choices=["eq", "ne", "gt", "gte", "lt", "lte", "in", "exists"])
    value = serializers.JSONField(required=False, allow_null=True)


class KeepRulesSerializer(serializers.Serializer[Any]):
    first_per_pattern = serializers.BooleanField()
    window_seconds = serializers.IntegerField(min_value=0)
    attributes = AttributePredicateSerializer(many=True, required=False)


class AnomalyBoostSerializer(serializers.Serializer[Any]):
    enabled = serializers.BooleanField()
    factor = serializers.FloatField(min_value=1)
    threshold = serializers.FloatField(min_value=0)
    duration_seconds = serializers.IntegerField(min_value=0)


class ErrorContextSerializer(serializers.Serializer[Any]):
    enabled = serializers.BooleanField()
    lines_per_trace = serializers.IntegerField(min_value=0)
    seconds = serializers.FloatField(min_value=0)


class PolicyDocumentSerializer(serializers.Serializer[Any]):
    """`lipservice.policy/v1`; unknown fields are refused by the server's checker."""

    schema = serializers.CharField(default="lipservice.policy/v1")
    service = serializers.CharField()
    version = serializers.IntegerField(required=False)
    etag = serializers.CharField(required=False)
    generated_by = serializers.CharField(required=False)
    generated_at = serializers.CharField(required=False)
    severity_rates = serializers.DictField(child=serializers.FloatField(min_value=0, max_value=1), required=False)
    patterns = PatternRuleSerializer(many=True, required=False)
    default_rate = serializers.FloatField(min_value=0, max_value=1, required=False)
    keep = KeepRulesSerializer(required=False)
    anomaly_boost = AnomalyBoostSerializer(required=False)
    error_context = ErrorContextSerializer(required=False)
    trace_consistent = serializers.BooleanField(required=False)
    reasoning = serializers.CharField(required=False, allow_blank=True)


class PolicyPublishInputSerializer(serializers.Serializer[Any]):
    document = serializers.DictField(help_text="A lipservice.policy/v1 document.")
    activate = serializers.BooleanField(default=True, help_text="False stores a proposal for review.")


class PolicyRollbackInputSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField(min_value=1)


class PolicyVersionSerializer(serializers.ModelSerializer[PolicyVersion]):
    class Meta:
        model = PolicyVersion
        fields = [
            "number",
            "status",
            "etag",
            "generated_by",
            "reasoning",
            "fallback_reason",
            "created_by",
            "created_at",
            "published_at",
            "simulation",
        ]


class PolicyVersionDetailSerializer(PolicyVersionSerializer):
    document = PolicyDocumentSerializer()

    class Meta(PolicyVersionSerializer.Meta):
        fields = [*PolicyVersionSerializer.Meta.fields, "document"]


class PolicyDiffSerializer(serializers.Serializer[Any]):
    from_version = serializers.IntegerField()
    to_version = serializers.IntegerField()
    severity_rates = serializers.DictField()
    patterns_added = serializers.ListField(child=serializers.DictField())
    patterns_removed = serializers.ListField(child=serializers.DictField())
    patterns_changed = serializers.ListField(child=serializers.DictField())
    changed_fields = serializers.DictField()
    identical = serializers.BooleanField()


class WebhookDeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "status", "attempts", "response_status", "error", "created_at", "delivered_at"]


class PolicyDocumentInputSerializer(serializers.Serializer[Any]):
    document = serializers.DictField(help_text="A lipservice.policy/v1 document.")


class PolicySimulateInputSerializer(PolicyDocumentInputSerializer):
    target_reduction = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0.0,
        max_value=1.0,
        help_text="The byte reduction the document is meant to reach; the report then says whether it did and why not.",
    )


class SimulationTargetCauseSerializer(serializers.Serializer[Any]):
    cause = serializers.CharField()
    lines = serializers.IntegerField()
    bytes = serializers.IntegerField()
    description = serializers.CharField()


class SimulationTargetSerializer(serializers.Serializer[Any]):
    target_reduction = serializers.FloatField()
    achieved_reduction = serializers.FloatField()
    met = serializers.BooleanField()
    shortfall = serializers.FloatField()
    bytes_over_budget = serializers.IntegerField()
    causes = SimulationTargetCauseSerializer(many=True, help_text="What kept the bytes, largest first; empty if met.")


class PolicyIssueSerializer(serializers.Serializer[Any]):
    path = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class PolicyValidationSerializer(serializers.Serializer[Any]):
    valid = serializers.BooleanField()

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # `errors` would shadow Serializer.errors as a class attribute, so it is declared here.
        fields = super().get_fields()
        fields["errors"] = PolicyIssueSerializer(many=True)
        return fields


class PatternEffectSerializer(serializers.Serializer[Any]):
    pattern_id = serializers.CharField()
    template = serializers.CharField()
    rate = serializers.FloatField(allow_null=True)
    lines = serializers.IntegerField()
    kept = serializers.IntegerField()
    bytes = serializers.IntegerField()
    bytes_kept = serializers.IntegerField()
    errors_kept = serializers.IntegerField()

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # `errors` would shadow Serializer.errors as a class attribute, so it is declared here.
        fields = super().get_fields()
        kept = fields.pop("errors_kept")
        return {**fields, "errors": serializers.IntegerField(), "errors_kept": kept}


class SimulationReportSerializer(serializers.Serializer[Any]):
    method = serializers.ChoiceField(choices=["replay", "estimate"], help_text="replay of real history, or estimate")
    service = serializers.CharField()
    window_start = serializers.DateTimeField(required=False)
    window_end = serializers.DateTimeField(required=False)
    lines_total = serializers.IntegerField()
    lines_kept = serializers.IntegerField(required=False)
    bytes_total = serializers.IntegerField()
    bytes_kept = serializers.IntegerField()
    reduction_lines = serializers.FloatField(required=False)
    reduction_bytes = serializers.FloatField()
    errors_total = serializers.IntegerField()
    errors_kept = serializers.IntegerField()
    patterns_total = serializers.IntegerField()
    patterns_covered = serializers.IntegerField()
    price_per_gb = serializers.FloatField()
    dollars_before = serializers.FloatField()
    dollars_after = serializers.FloatField()
    observed_seconds = serializers.FloatField(required=False, allow_null=True)
    dollars_per_month_before = serializers.FloatField(required=False, allow_null=True)
    dollars_per_month_after = serializers.FloatField(required=False, allow_null=True)
    keys_total = serializers.IntegerField(required=False)
    keys_covered = serializers.IntegerField(required=False)
    coverage_lost = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Patterns with a template key that kept no line."
    )
    kept_by = serializers.DictField(required=False, help_text="Kept lines and bytes by why they were kept.")
    target = SimulationTargetSerializer(required=False, allow_null=True)
    per_pattern = PatternEffectSerializer(many=True, help_text="Empty for an estimate.")
