"""Installs a team's active policies into its PostHog project: one Hog transformation, drop rules per service.

Idempotent: objects are found by name; equal ones are left alone, changed ones patched, missing ones created, and
our drop rules that no policy asks for any more are disabled (never deleted, so an operator can see them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lipservice_sdk.policy import PolicyDocument, policy_from_dict

from lipservice.models import Team
from patterns.selectors import pattern_list_for_service, service_list
from patterns.sources import PostHogClient, SourceError
from policies.exporters import DROP_RULE_PREFIX, HOG_FUNCTION_NAME, hog_function_body, policy_to_drop_rules
from policies.exporters.drop_rules import MAX_PATH_DROPS
from policies.selectors import policy_active
from posthog_app.project_writes import (
    drop_rule_create,
    drop_rule_update,
    hog_function_create,
    hog_function_list,
    hog_function_update,
)


@dataclass(frozen=True)
class InstallAction:
    verb: str  # create, update, unchanged, disable, skip, error, plan
    kind: str  # hog function, drop rule, service
    name: str
    detail: str = ""

    def describe(self, *, dry_run: bool) -> str:
        verb = self.verb
        if dry_run and verb in ("create", "update", "disable"):
            verb = f"would {verb}"
        text = f"{verb} {self.kind} {self.name!r}"
        return f"{text}: {self.detail}" if self.detail else text


@dataclass
class InstallPlan:
    policies: dict[str, PolicyDocument] = field(default_factory=dict)
    drop_rules: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[InstallAction] = field(default_factory=list)


def install_plan(*, team: Team, documents: Mapping[str, Mapping[str, Any]] | None = None) -> InstallPlan:
    """The active policy of each service; `documents` (service name → policy) stands in for them, for a preview."""
    plan = InstallPlan()
    for service in service_list(team=team):
        if documents is not None and service.name in documents:
            raw: Mapping[str, Any] | None = documents[service.name]
        else:
            version = policy_active(service=service)
            raw = version.document if version is not None else None
        if raw is None:
            plan.skipped.append(InstallAction("skip", "service", service.name, "no active policy"))
            continue
        document = policy_from_dict(dict(raw))
        plan.policies[service.name] = document
        severities = {p.pattern_id: dict(p.severity_counts or {}) for p in pattern_list_for_service(service=service)}
        rules = policy_to_drop_rules(document, pattern_severities=severities)
        plan.drop_rules.extend(rules)
        plan.skipped.append(InstallAction("plan", "service", service.name, _explain(document, rules)))
    return plan


def _explain(document: PolicyDocument, rules: list[dict[str, Any]]) -> str:
    """Why each part of the policy goes where it goes, as measured (bench/RESULTS.md, native drop rules against the
    Hog path): a native path drop costs every record one regex test, the Hog transformation about the same per
    record whatever the policy's size, so only the busiest dead patterns are dropped natively."""
    drops = sum(1 for rule in rules if rule["rule_type"] == "path_drop" and ":drop:" in rule["name"])
    dead = sum(1 for rule in document.patterns if rule.rate <= 0.0)
    sampled = sum(1 for rule in document.patterns if 0.0 < rule.rate < 1.0)
    return (
        f"{drops} of {dead} pattern(s) at rate 0 dropped natively by PostHog (path drops for the busiest ones with "
        f"no error in their history, at most {MAX_PATH_DROPS}: each costs every record a regex test, about a "
        "microsecond, and spares the transformation on its lines; guarded so that no line reading as an error can "
        f"match); {len(document.patterns)} pattern(s), {sampled} sampled at a fraction, in the Hog transformation "
        "(patterns indexed by their literal tokens, errors kept before any pattern work, about the same cost per "
        "record at 10 or 5,000 patterns); the severity rule keeps every bucket, since PostHog reads a record's text "
        "before its severity number"
    )


def _changes(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    changed: dict[str, Any] = {}
    for key, value in desired.items():
        existing = current.get(key)
        if key == "inputs" and isinstance(existing, Mapping):
            # PostHog stores inputs with extra fields (compiled bytecode); only the values are ours.
            existing = {k: {"value": v.get("value")} for k, v in existing.items() if isinstance(v, Mapping)}
        if existing != value:
            changed[key] = value
    return changed


def posthog_install(
    *,
    team: Team,
    client: PostHogClient,
    dry_run: bool,
    documents: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[InstallAction]:
    plan = install_plan(team=team, documents=documents)
    actions = list(plan.skipped)
    if plan.policies:
        actions.append(_install_hog_function(client, plan.policies, dry_run=dry_run))
    actions.extend(_install_drop_rules(client, plan, dry_run=dry_run))
    return actions


def _install_hog_function(
    client: PostHogClient, policies: Mapping[str, PolicyDocument], *, dry_run: bool
) -> InstallAction:
    body = hog_function_body(policies)
    summary = f"{len(policies)} service(s): {', '.join(sorted(policies))}"
    try:
        existing = next((f for f in hog_function_list(client) if f.get("name") == HOG_FUNCTION_NAME), None)
        if existing is None:
            if not dry_run:
                created = hog_function_create(client, function=body)
                summary += f" (id {created.get('id')})"
            return InstallAction("create", "hog function", HOG_FUNCTION_NAME, summary)
        changes = _changes(existing, body)
        if not changes:
            return InstallAction("unchanged", "hog function", HOG_FUNCTION_NAME, f"id {existing.get('id')}")
        if not dry_run:
            hog_function_update(client, function_id=str(existing["id"]), changes=changes)
        detail = f"id {existing.get('id')}, changed {', '.join(sorted(changes))}; {summary}"
        return InstallAction("update", "hog function", HOG_FUNCTION_NAME, detail)
    except SourceError as exc:
        return InstallAction("error", "hog function", HOG_FUNCTION_NAME, str(exc))


def _install_drop_rules(client: PostHogClient, plan: InstallPlan, *, dry_run: bool) -> list[InstallAction]:
    try:
        existing = {rule.get("name"): rule for rule in client.list_drop_rules()}
    except SourceError as exc:
        return [InstallAction("error", "drop rules", "(list)", str(exc))]
    actions: list[InstallAction] = []
    wanted = set()
    for rule in plan.drop_rules:
        name = rule["name"]
        wanted.add(name)
        try:
            current = existing.get(name)
            if current is None:
                if not dry_run:
                    drop_rule_create(client, rule=rule)
                actions.append(InstallAction("create", "drop rule", name, _rule_summary(rule)))
                continue
            changes = _changes(current, rule)
            if not changes:
                actions.append(InstallAction("unchanged", "drop rule", name))
                continue
            if not dry_run:
                drop_rule_update(client, rule_id=current["id"], changes=changes)
            actions.append(InstallAction("update", "drop rule", name, f"changed {', '.join(sorted(changes))}"))
        except SourceError as exc:
            actions.append(InstallAction("error", "drop rule", name, str(exc)))
    services = {f"{DROP_RULE_PREFIX}:{service}:" for service in plan.policies}
    for name, current in existing.items():
        ours = isinstance(name, str) and any(name.startswith(prefix) for prefix in services)
        if not ours or name in wanted or not current.get("enabled", True):
            continue
        try:
            if not dry_run:
                drop_rule_update(client, rule_id=current["id"], changes={"enabled": False})
            actions.append(InstallAction("disable", "drop rule", str(name), "no longer in the policy"))
        except SourceError as exc:
            actions.append(InstallAction("error", "drop rule", str(name), str(exc)))
    return actions


def _rule_summary(rule: Mapping[str, Any]) -> str:
    if rule["rule_type"] == "severity_sampling":
        actions = rule["config"]["actions"]
        parts = [
            f"{level} {a['type']}" + (f" {a['rate']:.3g}" if a["type"] == "sample" else "")
            for level, a in actions.items()
        ]
        keep = rule["config"].get("always_keep")
        return ", ".join(parts) + (f"; always keep {keep}" if keep else "")
    return f"{rule['rule_type']} on {rule['scope_service']}"
