"""From "Connect" to a first proposed policy: services PostHog knows, a pushed-down analysis of the last 24 hours,
and per chosen service a proposal with its simulated saving; then the enforcement (SDK key or install into PostHog).

The analysis advances one slice per call (`onboarding_advance`), so the page shows progress between calls and a
lost connection stops it between two slices, with every finished slice kept. Counting happens inside PostHog
(HogQL GROUP BY on the template key): only distinct keys and their counts travel, never a raw line, and the
simulation is estimated from those counts for the same reason. Each step's start and duration are recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from lipservice.models import Team
from lipservice.services import api_key_create
from patterns.analysis import analysis_execute, analysis_run_create, floor_hour
from patterns.connections import posthog_client_for_team
from patterns.models import AnalysisRun, Service
from patterns.selectors import service_get
from patterns.services import service_get_or_create
from policies.models import PolicyVersion
from policies.services import policy_approve, policy_propose
from posthog_app.install import InstallAction, posthog_install
from posthog_app.models import Onboarding, PostHogConnection
from posthog_app.tokens import connection_for_team

logger = logging.getLogger(__name__)

HOURS = 24
SLICE_HOURS = 6
MAX_SERVICES = 25
SOURCE_CONFIG = {"pushdown": True, "raw_lines": False}
DAYS_PER_MONTH = 30


class OnboardingError(Exception):
    """A step cannot run as asked (bad choice, wrong stage); the message is for the person."""


def _now() -> datetime:
    return timezone.now()


def _step_start(onboarding: Onboarding, name: str, *, at: datetime | None = None) -> None:
    onboarding.steps.setdefault(name, {"started_at": (at or _now()).isoformat()})


def _step_end(onboarding: Onboarding, name: str) -> None:
    step = onboarding.steps.setdefault(name, {"started_at": _now().isoformat()})
    if "seconds" not in step:
        step["seconds"] = round((_now() - datetime.fromisoformat(step["started_at"])).total_seconds(), 3)


def onboarding_begin(*, team: Team, user: Any, connect_started_at: datetime) -> Onboarding:
    """Called when the Connect completes; the clock started when the person pressed "Connect".

    A team that connects again (after a lost grant) goes on with its onboarding where it stopped.
    """
    existing = onboarding_current(team=team)
    if existing is not None:
        return onboarding_retry(onboarding=existing)
    onboarding = Onboarding.objects.create(
        team=team,
        started_by=user if getattr(user, "pk", None) else None,
        stage=Onboarding.Stage.CHOOSING,
        connect_started_at=connect_started_at,
    )
    _step_start(onboarding, "connect", at=connect_started_at)
    _step_end(onboarding, "connect")
    onboarding.save(update_fields=["steps"])
    return onboarding


def onboarding_current(*, team: Team) -> Onboarding | None:
    return Onboarding.objects.filter(team=team).first()


def onboarding_services_list(*, onboarding: Onboarding) -> list[dict[str, Any]]:
    """The services PostHog saw in the last 24 hours, by volume (PostHog's `logs/services/`)."""
    _step_start(onboarding, "services")
    end = _now()
    with posthog_client_for_team(onboarding.team) as client:
        rows = client.logs_services(
            query={"dateRange": {"date_from": (end - timedelta(hours=HOURS)).isoformat(), "date_to": end.isoformat()}}
        )
    services = []
    for row in rows[:MAX_SERVICES]:
        name = str(row.get("service_name") or "")[:200]
        if not name or name == "(no service)":
            continue
        services.append(
            {
                "name": name,
                "log_count": _int(row.get("log_count")),
                "error_count": _int(row.get("error_count")),
                "error_rate": float(row.get("error_rate") or 0.0),
            }
        )
    onboarding.services = services
    _step_end(onboarding, "services")
    onboarding.save(update_fields=["services", "steps"])
    return services


def _int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


@transaction.atomic
def onboarding_choose(*, onboarding: Onboarding, names: Iterable[str]) -> Onboarding:
    """Create (or point at PostHog) the chosen services and lay out the 24-hour window to analyse."""
    known = {s["name"] for s in onboarding.services}
    chosen = [n for n in dict.fromkeys(names) if n in known]
    if not chosen:
        raise OnboardingError("Choose at least one of the services PostHog reported.")
    end = floor_hour(_now())
    start = end - timedelta(hours=HOURS)
    progress: dict[str, Any] = {"window_start": start.isoformat(), "window_end": end.isoformat(), "services": {}}
    for name in chosen:
        service_get_or_create(
            team=onboarding.team, name=name, source_kind=Service.SourceKind.POSTHOG, source_config=dict(SOURCE_CONFIG)
        )
        progress["services"][name] = {"hours_done": 0, "lines": 0, "status": "pending"}
    onboarding.progress = progress
    onboarding.stage = Onboarding.Stage.ANALYSING
    onboarding.error = ""
    _step_start(onboarding, "analysis")
    onboarding.save(update_fields=["progress", "stage", "error", "steps"])
    return onboarding


def onboarding_advance(*, onboarding_id: int) -> Onboarding:
    """Do the next slice of work: analyse SLICE_HOURS of one service, or propose its policy once all 24 are read."""
    with transaction.atomic():
        onboarding = Onboarding.objects.select_for_update(of=("self",)).select_related("team").get(pk=onboarding_id)
        if onboarding.stage != Onboarding.Stage.ANALYSING:
            return onboarding
        start = datetime.fromisoformat(onboarding.progress["window_start"])
        todo = next(
            ((name, state) for name, state in onboarding.progress["services"].items() if state["status"] != "proposed"),
            None,
        )
        if todo is None:
            onboarding.stage = Onboarding.Stage.PROPOSED
            _step_end(onboarding, "analysis")
            onboarding.save(update_fields=["stage", "steps"])
            return onboarding
        name, state = todo
        service = service_get(team=onboarding.team, name=name)
        if state["hours_done"] < HOURS:
            problem = _analyse_slice(service, state, start=start)
            if problem:
                connection = connection_for_team(onboarding.team)
                reconnect = connection is not None and connection.status == PostHogConnection.Status.RECONNECT
                onboarding.stage = Onboarding.Stage.FAILED
                onboarding.error = ("reconnect: " if reconnect else "") + problem[:1000]
        else:
            _propose(onboarding, service, state)
        onboarding.save(update_fields=["progress", "stage", "error", "steps", "first_policy_at"])
    return onboarding


def _analyse_slice(service: Service, state: dict[str, Any], *, start: datetime) -> str:
    slice_start = start + timedelta(hours=state["hours_done"])
    slice_end = slice_start + timedelta(hours=SLICE_HOURS)
    if service.analysis_watermark is not None and service.analysis_watermark >= slice_end:
        state["hours_done"] += SLICE_HOURS  # already analysed by an earlier run; counting it again would double it
        return ""
    if service.analysis_watermark is not None and service.analysis_watermark > slice_start:
        slice_start = service.analysis_watermark
    state["status"] = "analysing"
    run = analysis_run_create(service=service, start=slice_start, end=slice_end, method="pushdown")
    run = analysis_execute(run_id=run.pk)
    if run.status != AnalysisRun.Status.SUCCEEDED:
        state["status"] = "failed"
        state["error"] = run.error[:500]
        return run.error or "the analysis failed"
    state["hours_done"] += SLICE_HOURS
    state["lines"] += run.lines_read
    state["patterns"] = run.patterns_total
    return ""


def _propose(onboarding: Onboarding, service: Service, state: dict[str, Any]) -> None:
    version = policy_propose(service=service, actor=_actor(onboarding))
    if version is None:
        state["status"] = "proposed"
        state["policy"] = None
        state["note"] = "no log lines in the last 24 hours: nothing to propose"
        return
    state["status"] = "proposed"
    state["policy"] = version.number
    state["saving"] = saving_summary(version.simulation)
    if onboarding.first_policy_at is None:
        onboarding.first_policy_at = _now()
        _step_start(onboarding, "first_policy", at=onboarding.connect_started_at)
        _step_end(onboarding, "first_policy")


def onboarding_retry(*, onboarding: Onboarding) -> Onboarding:
    """After a failure (or a reconnect) go on where the analysis stopped: finished slices are kept."""
    if onboarding.stage == Onboarding.Stage.FAILED and onboarding.progress.get("services"):
        for state in onboarding.progress["services"].values():
            if state["status"] == "failed":
                state["status"] = "pending"
                state.pop("error", None)
        onboarding.stage = Onboarding.Stage.ANALYSING
        onboarding.error = ""
        onboarding.save(update_fields=["progress", "stage", "error"])
    return onboarding


def _actor(onboarding: Onboarding) -> str:
    user = onboarding.started_by
    return f"user:{user.get_username()}" if user is not None else "system:onboarding"


def saving_summary(simulation: Mapping[str, Any]) -> dict[str, Any]:
    """What a person reads first: money per month before and after, percent saved, errors and patterns kept."""
    before = float(simulation.get("dollars_before") or 0.0)
    after = float(simulation.get("dollars_after") or 0.0)
    return {
        "method": simulation.get("method", ""),
        "reduction_percent": round(100 * float(simulation.get("reduction_bytes") or 0.0), 1),
        "monthly_before": round(before * DAYS_PER_MONTH, 2),
        "monthly_after": round(after * DAYS_PER_MONTH, 2),
        "monthly_saving": round((before - after) * DAYS_PER_MONTH, 2),
        "lines_total": int(simulation.get("lines_total") or 0),
        "bytes_total": int(simulation.get("bytes_total") or 0),
        "errors_total": int(simulation.get("errors_total") or 0),
        "errors_kept": int(simulation.get("errors_kept") or 0),
        "patterns_total": int(simulation.get("patterns_total") or 0),
        "patterns_covered": int(simulation.get("patterns_covered") or 0),
    }


def onboarding_status(onboarding: Onboarding) -> dict[str, Any]:
    services = onboarding.progress.get("services", {})
    total = max(1, len(services) * (HOURS + SLICE_HOURS))
    done = sum(
        min(s["hours_done"], HOURS) + (SLICE_HOURS if s["status"] == "proposed" else 0) for s in services.values()
    )
    return {
        "id": onboarding.pk,
        "stage": onboarding.stage,
        "error": onboarding.error,
        "percent": round(100 * done / total),
        "services": services,
        "seconds_to_first_policy": onboarding.seconds_to_first_policy,
        "steps": onboarding.steps,
    }


def _proposals(onboarding: Onboarding) -> list[tuple[Service, PolicyVersion]]:
    found = []
    for name, state in onboarding.progress.get("services", {}).items():
        number = state.get("policy")
        if not number:
            continue
        service = service_get(team=onboarding.team, name=name)
        version = PolicyVersion.objects.filter(service=service, number=number).first()
        if version is not None:
            found.append((service, version))
    return found


def onboarding_policies_approve(*, onboarding: Onboarding, actor: str) -> list[str]:
    """Make each proposed policy of this onboarding the active one (already active ones are left as they are)."""
    approved = []
    for service, version in _proposals(onboarding):
        if version.status == PolicyVersion.Status.PROPOSED:
            policy_approve(service=service, number=version.number, actor=actor)
            approved.append(service.name)
    return approved


def onboarding_install(*, onboarding: Onboarding, actor: str, dry_run: bool) -> list[InstallAction]:
    """The Hog transformation and drop rules into PostHog; a dry run shows what would change and changes nothing."""
    if not dry_run:
        onboarding_policies_approve(onboarding=onboarding, actor=actor)
        _mark(onboarding, "enforce_posthog")
    documents = None
    if dry_run:
        documents = {service.name: version.document for service, version in _proposals(onboarding)}
    with posthog_client_for_team(onboarding.team) as client:
        return posthog_install(team=onboarding.team, client=client, dry_run=dry_run, documents=documents)


def onboarding_sdk_key(
    *, onboarding: Onboarding, user: Any, service: str, language: str, base_url: str
) -> dict[str, str]:
    """A new SDK key, shown once, and the snippet that uses it; policies are approved so the SDK has one to fetch."""
    if language not in SNIPPETS:
        raise OnboardingError("Choose Python or JavaScript.")
    if service not in onboarding.progress.get("services", {}):
        raise OnboardingError("Choose one of the analysed services.")
    onboarding_policies_approve(onboarding=onboarding, actor=f"user:{user.get_username()}")
    _, raw = api_key_create(team=onboarding.team, name=f"sdk: {service}"[:100], created_by=user)
    _mark(onboarding, f"enforce_sdk_{language}")
    team = onboarding.team
    snippet = SNIPPETS[language].format(
        service=_quoted(service),
        url=_quoted(base_url),
        key=_quoted(raw),
        token=_quoted(team.posthog_project_token or "phc_..."),
        host=_quoted(team.posthog_ingest_host),
    )
    return {"api_key": raw, "snippet": snippet, "language": language}


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{escaped}"'


def _mark(onboarding: Onboarding, step: str) -> None:
    _step_start(onboarding, step)
    _step_end(onboarding, step)
    onboarding.save(update_fields=["steps"])


SNIPPETS = {
    "python": """import logging
from lipservice_sdk import configure_adaptive_logging

logging.basicConfig(level=logging.INFO)
configure_adaptive_logging(
    {service},
    lipservice_url={url},
    api_key={key},
    posthog_token={token},
    posthog_host={host},
)
""",
    "javascript": """import {{ configureAdaptiveLogging }} from "@lipservice/sdk";

configureAdaptiveLogging({{
  service: {service},
  lipserviceUrl: {url},
  apiKey: {key},
  posthogToken: {token},
  posthogHost: {host},
}});
""",
}
