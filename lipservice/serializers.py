"""Wire shapes for the team's own settings; secrets are write-only and shown back masked."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from lipservice.models import Team


class TeamConnectionSerializer(serializers.ModelSerializer[Team]):
    posthog_personal_api_key = serializers.CharField(
        write_only=True, required=False, allow_blank=True, help_text="phx_…; never shown back."
    )
    clickhouse_url = serializers.CharField(write_only=True, required=False, allow_blank=True)
    posthog_personal_api_key_masked = serializers.SerializerMethodField()
    clickhouse_url_masked = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = [
            "name",
            "display_name",
            "posthog_host",
            "posthog_ingest_host",
            "posthog_project_id",
            "posthog_project_token",
            "clickhouse_team_id",
            "posthog_personal_api_key",
            "clickhouse_url",
            "posthog_personal_api_key_masked",
            "clickhouse_url_masked",
        ]
        read_only_fields = ["name"]

    def get_posthog_personal_api_key_masked(self, obj: Team) -> str:
        return obj.masked_secret("posthog_personal_api_key")

    def get_clickhouse_url_masked(self, obj: Team) -> str:
        return obj.masked_secret("clickhouse_url")

    def validate_posthog_personal_api_key(self, value: str) -> str:
        _refuse_environment_reference(value)
        if value.startswith("phc_"):
            raise serializers.ValidationError(
                "phc_ is a project token for sending; reading needs a personal key (phx_)."
            )
        return value

    def validate_clickhouse_url(self, value: str) -> str:
        _refuse_environment_reference(value)
        return value

    def update(self, instance: Team, validated_data: dict[str, Any]) -> Team:
        for secret in ("posthog_personal_api_key", "clickhouse_url"):
            if secret in validated_data:
                setattr(instance, secret, validated_data.pop(secret))
        return super().update(instance, validated_data)


def _refuse_environment_reference(value: str) -> None:
    if value.strip().lower().startswith("env:"):
        raise serializers.ValidationError(
            "env:NAME secrets are set by the operator, not through the API; give the secret itself."
        )


class CheckSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=["ok", "denied", "unavailable", "error", "unknown", "skipped"])
    detail = serializers.CharField()


class ConnectionReportSerializer(serializers.Serializer[Any]):
    logs_read = CheckSerializer()
    hogql = CheckSerializer()
    drop_rule_write = CheckSerializer()
    clickhouse = CheckSerializer()
