"""What LipService writes into a team's PostHog project: logs drop rules and the Hog transformation function."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from patterns.sources.posthog_client import PostHogClient, expect_dict


def drop_rule_create(client: PostHogClient, *, rule: Mapping[str, Any]) -> dict[str, Any]:
    return expect_dict(
        client.request(
            "POST",
            f"{client.project_path}/logs/sampling_rules/",
            scope="logs:write",
            json_body=dict(rule),
            idempotent=False,
        ),
        "sampling_rules",
    )


def drop_rule_update(client: PostHogClient, *, rule_id: str | int, changes: Mapping[str, Any]) -> dict[str, Any]:
    return expect_dict(
        client.request(
            "PATCH",
            f"{client.project_path}/logs/sampling_rules/{rule_id}/",
            scope="logs:write",
            json_body=dict(changes),
        ),
        "sampling_rules",
    )


def hog_function_list(
    client: PostHogClient, *, function_type: str | None = "transformation_log"
) -> list[dict[str, Any]]:
    params = {"type": function_type} if function_type else None
    return client.list_all(f"{client.project_path}/hog_functions/", scope="hog_function:read", params=params)


def hog_function_create(client: PostHogClient, *, function: Mapping[str, Any]) -> dict[str, Any]:
    return expect_dict(
        client.request(
            "POST",
            f"{client.project_path}/hog_functions/",
            scope="hog_function:write",
            json_body=dict(function),
            idempotent=False,
        ),
        "hog_functions",
    )


def hog_function_update(client: PostHogClient, *, function_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    return expect_dict(
        client.request(
            "PATCH",
            f"{client.project_path}/hog_functions/{function_id}/",
            scope="hog_function:write",
            json_body=dict(changes),
        ),
        "hog_functions",
    )
