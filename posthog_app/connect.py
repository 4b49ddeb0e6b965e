"""Pages of "Connect with PostHog" and the onboarding that follows; thin: they validate, call a service, render."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from authlib.oauth2.rfc6749.errors import MismatchingStateException, MissingCodeException
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from lipservice.models import Team, TeamMembership
from lipservice.selectors import team_for_user
from patterns.selectors import service_list
from patterns.sources import SourceError
from policies.engine.checker import PolicyInvariantError
from posthog_app import onboarding as steps
from posthog_app.models import Onboarding, PostHogConnection
from posthog_app.oauth import SESSION_KEY, OAuthSetupError, flow_finish, flow_start, public_base, regions
from posthog_app.tokens import (
    api_host_probe,
    connection_disconnect,
    connection_for_team,
    connection_store,
    projects_visible,
)

logger = logging.getLogger(__name__)

LOGIN_URL = "/admin/login/"
PROJECTS_KEY = "posthog_oauth_projects"


def _base(request: HttpRequest) -> str:
    return public_base(request.build_absolute_uri("/"))


def _admin_team(request: HttpRequest) -> Team | None:
    team = team_for_user(user=request.user)
    if team is None:
        return None
    if getattr(request.user, "is_superuser", False):
        return team
    if request.user.pk is None:
        return None
    role = TeamMembership.objects.filter(team=team, user_id=request.user.pk).values_list("role", flat=True).first()
    return team if role == TeamMembership.Role.ADMIN else None


def _render(request: HttpRequest, template: str, team: Team, status: int = 200, **context: Any) -> HttpResponse:
    names = list(service_list(team=team).values_list("name", flat=True))
    base = {"team": team, "services": names, "page": "connect", "current_service": "", "title": "Connect with PostHog"}
    return render(request, template, {**base, **context}, status=status)


def _refuse(request: HttpRequest, team: Team | None, message: str, status: int = 400) -> HttpResponse:
    if team is None:
        return render(request, "dashboard/no_team.html", status=403)
    return _render(request, "posthog_app/connect.html", team, status=status, error=message, regions=_region_choices())


def _region_choices() -> list[tuple[str, str, str]]:
    known = regions()
    return [
        ("us", "US Cloud", known["us"]["issuer"]),
        ("eu", "EU Cloud", known["eu"]["issuer"]),
        ("any", "Region-agnostic", known["any"]["issuer"]),
    ]


@login_required(login_url=LOGIN_URL)
@require_http_methods(["GET", "POST"])
def connect(request: HttpRequest) -> HttpResponse:
    team = _admin_team(request)
    if team is None:
        return _refuse(request, team_for_user(user=request.user), "Only a team admin can connect PostHog.", 403)
    if request.method == "GET":
        return _render(request, "posthog_app/connect.html", team, regions=_region_choices())
    region = str(request.POST.get("region", ""))[:32]
    try:
        start = flow_start(region=region, self_hosted=str(request.POST.get("self_hosted_url", "")), base=_base(request))
    except OAuthSetupError as exc:
        return _refuse(request, team, str(exc))
    request.session[SESSION_KEY] = start.session_data
    return HttpResponseRedirect(start.authorization_url)


@login_required(login_url=LOGIN_URL)
@require_http_methods(["GET"])
def oauth_callback(request: HttpRequest) -> HttpResponse:
    team = _admin_team(request)
    flow = request.session.pop(SESSION_KEY, None)
    if team is None:
        return _refuse(request, team_for_user(user=request.user), "Only a team admin can connect PostHog.", 403)
    if not isinstance(flow, dict):
        return _refuse(request, team, "No Connect with PostHog was started in this browser session; start again.")
    try:
        token = flow_finish(flow=flow, callback_url=_base(request) + request.get_full_path())
    except MismatchingStateException:
        return _refuse(
            request,
            team,
            "PostHog's answer does not belong to the Connect started here (state mismatch); nothing stored.",
        )
    except MissingCodeException:
        return _refuse(request, team, "PostHog's answer carried no authorization code; nothing stored.")
    except OAuthSetupError as exc:
        return _refuse(request, team, str(exc))
    connection = connection_store(team=team, flow=flow, token=token, api_host=flow["api_hosts"][0], user=request.user)
    try:
        if len(flow["api_hosts"]) > 1:
            connection.api_host = api_host_probe(connection=connection, candidates=flow["api_hosts"])
            connection.save(update_fields=["api_host"])
        projects = projects_visible(connection=connection)
    except SourceError as exc:
        return _refuse(request, team, f"Connected, but PostHog's projects could not be listed: {exc}", 502)
    if not projects:
        return _refuse(
            request, team, "Connected, but the grant gives access to no project; connect again choosing one."
        )
    ingest = flow.get("ingest_hosts", {}).get(connection.api_host) or flow.get("ingest_host") or connection.api_host
    started = datetime.fromisoformat(flow["started_at"])
    steps.onboarding_begin(team=team, user=request.user, connect_started_at=started)
    if len(projects) == 1:
        _project_set(team, connection, projects[0], ingest)
        return redirect("posthog_app:onboarding")
    request.session[PROJECTS_KEY] = {"projects": projects, "ingest": ingest}
    return redirect("posthog_app:projects")


def _project_set(team: Team, connection: PostHogConnection, project: dict[str, Any], ingest: str) -> None:
    team.posthog_project_id = str(project["id"])
    team.posthog_host = connection.api_host
    team.posthog_ingest_host = ingest
    fields = ["posthog_project_id", "posthog_host", "posthog_ingest_host"]
    if str(project.get("api_token", "")).startswith("phc_"):
        team.posthog_project_token = project["api_token"]
        fields.append("posthog_project_token")
    team.save(update_fields=fields)


@login_required(login_url=LOGIN_URL)
@require_http_methods(["GET", "POST"])
def projects(request: HttpRequest) -> HttpResponse:
    team = _admin_team(request)
    pending = request.session.get(PROJECTS_KEY)
    connection = connection_for_team(team) if team is not None else None
    if team is None or connection is None or not isinstance(pending, dict):
        return redirect("posthog_app:connect")
    if request.method == "POST":
        chosen = str(request.POST.get("project", ""))
        project = next((p for p in pending["projects"] if str(p["id"]) == chosen), None)
        if project is None:
            return _render(
                request,
                "posthog_app/projects.html",
                team,
                status=400,
                projects=pending["projects"],
                error="Choose one of the listed projects.",
            )
        _project_set(team, connection, project, pending["ingest"])
        request.session.pop(PROJECTS_KEY, None)
        return redirect("posthog_app:onboarding")
    return _render(request, "posthog_app/projects.html", team, projects=pending["projects"])


@login_required(login_url=LOGIN_URL)
@require_POST
def disconnect(request: HttpRequest) -> HttpResponse:
    team = _admin_team(request)
    if team is None:
        return _refuse(request, team_for_user(user=request.user), "Only a team admin can disconnect PostHog.", 403)
    notes = connection_disconnect(team=team)
    return _render(request, "posthog_app/connect.html", team, regions=_region_choices(), disconnected=True, notes=notes)


@login_required(login_url=LOGIN_URL)
@require_http_methods(["GET"])
def onboarding_page(request: HttpRequest) -> HttpResponse:
    team = _admin_team(request)
    if team is None:
        return _refuse(request, team_for_user(user=request.user), "Only a team admin can run the onboarding.", 403)
    onboarding = steps.onboarding_current(team=team)
    connection = connection_for_team(team)
    if onboarding is None or connection is None:
        return redirect("posthog_app:connect")
    error = ""
    if onboarding.stage == Onboarding.Stage.CHOOSING and not onboarding.services:
        try:
            steps.onboarding_services_list(onboarding=onboarding)
        except SourceError as exc:
            error = f"PostHog's services could not be listed: {exc}"
    return _render(
        request,
        "posthog_app/onboarding.html",
        team,
        onboarding=onboarding,
        progress=steps.onboarding_status(onboarding),
        connection=connection,
        error=error or onboarding.error,
        proposals=_proposal_rows(onboarding),
        title="Onboarding",
    )


def _proposal_rows(onboarding: Onboarding) -> list[dict[str, Any]]:
    rows = []
    for name, state in onboarding.progress.get("services", {}).items():
        if state.get("status") == "proposed":
            rows.append({"name": name, **state})
    return rows


@login_required(login_url=LOGIN_URL)
@require_POST
def onboarding_choose(request: HttpRequest) -> HttpResponse:
    team = _admin_team(request)
    onboarding = steps.onboarding_current(team=team) if team is not None else None
    if team is None or onboarding is None:
        return redirect("posthog_app:connect")
    if onboarding.stage != Onboarding.Stage.CHOOSING:
        return redirect("posthog_app:onboarding")
    try:
        steps.onboarding_choose(onboarding=onboarding, names=[str(n)[:200] for n in request.POST.getlist("service")])
    except steps.OnboardingError as exc:
        return _render(
            request,
            "posthog_app/onboarding.html",
            team,
            status=400,
            onboarding=onboarding,
            progress=steps.onboarding_status(onboarding),
            connection=connection_for_team(team),
            error=str(exc),
            proposals=[],
        )
    return redirect("posthog_app:onboarding")


@login_required(login_url=LOGIN_URL)
@require_POST
def onboarding_advance(request: HttpRequest) -> JsonResponse:
    team = _admin_team(request)
    onboarding = steps.onboarding_current(team=team) if team is not None else None
    if onboarding is None:
        return JsonResponse({"error": {"code": "not_found", "message": "No onboarding in progress."}}, status=404)
    onboarding = steps.onboarding_advance(onboarding_id=onboarding.pk)
    return JsonResponse(steps.onboarding_status(onboarding))


@login_required(login_url=LOGIN_URL)
@require_POST
def onboarding_retry(request: HttpRequest) -> HttpResponse:
    team = _admin_team(request)
    onboarding = steps.onboarding_current(team=team) if team is not None else None
    if onboarding is not None:
        steps.onboarding_retry(onboarding=onboarding)
    return redirect("posthog_app:onboarding")


@login_required(login_url=LOGIN_URL)
@require_POST
def onboarding_sdk(request: HttpRequest) -> HttpResponse:
    team = _admin_team(request)
    onboarding = steps.onboarding_current(team=team) if team is not None else None
    if team is None or onboarding is None or onboarding.stage != Onboarding.Stage.PROPOSED:
        return redirect("posthog_app:onboarding")
    try:
        result = steps.onboarding_sdk_key(
            onboarding=onboarding,
            user=request.user,
            service=str(request.POST.get("service", ""))[:200],
            language=str(request.POST.get("language", ""))[:20],
            base_url=_base(request),
        )
    except (steps.OnboardingError, PolicyInvariantError) as exc:
        return _render(request, "posthog_app/enforce.html", team, status=400, error=str(exc), title="Enforce")
    response = _render(request, "posthog_app/enforce.html", team, sdk=result, title="Enforce with the SDK")
    response["Cache-Control"] = "no-store"  # the key is shown once
    return response


@login_required(login_url=LOGIN_URL)
@require_POST
def onboarding_install(request: HttpRequest) -> HttpResponse:
    team = _admin_team(request)
    onboarding = steps.onboarding_current(team=team) if team is not None else None
    if team is None or onboarding is None or onboarding.stage != Onboarding.Stage.PROPOSED:
        return redirect("posthog_app:onboarding")
    dry_run = request.POST.get("confirm") != "install"
    try:
        actions = steps.onboarding_install(
            onboarding=onboarding, actor=f"user:{request.user.get_username()}", dry_run=dry_run
        )
    except (SourceError, PolicyInvariantError) as exc:
        return _render(request, "posthog_app/enforce.html", team, status=502, error=str(exc), title="Install")
    lines = [a.describe(dry_run=dry_run) for a in actions]
    failed = any(a.verb == "error" for a in actions)
    return _render(
        request,
        "posthog_app/enforce.html",
        team,
        install={"dry_run": dry_run, "lines": lines, "failed": failed},
        title="Install into PostHog",
    )


@login_required(login_url=LOGIN_URL)
@require_http_methods(["GET"])
def onboarding_status(request: HttpRequest) -> JsonResponse:
    team = team_for_user(user=request.user)
    onboarding = steps.onboarding_current(team=team) if team is not None else None
    if onboarding is None:
        return JsonResponse({"error": {"code": "not_found", "message": "No onboarding."}}, status=404)
    return JsonResponse(steps.onboarding_status(onboarding))
