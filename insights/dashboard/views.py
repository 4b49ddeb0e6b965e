"""Dashboard pages: Django renders a shell per page and the React bundle (frontend/dist) fills it from the API."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from lipservice.errors import NotFound
from lipservice.models import Team
from lipservice.selectors import team_for_user
from patterns.selectors import pattern_get, service_get, service_list

if TYPE_CHECKING:
    from patterns.models import Service

LOGIN_URL = "/admin/login/"
BUNDLE = ("dashboard/main.js", "dashboard/main.css")


@lru_cache(maxsize=4)
def _digest(path: str, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def asset_version() -> str | None:
    """A content hash of the bundle for cache busting; None when the bundle has not been built."""
    parts = []
    for name in BUNDLE:
        found = finders.find(name)
        if not found or isinstance(found, list):
            return None
        parts.append(_digest(found, Path(found).stat().st_mtime))
    return "".join(parts)[:12]


def _team(request: HttpRequest) -> Team | None:
    return team_for_user(user=request.user)


def _service(team: Team, name: str) -> Service:
    try:
        return service_get(team=team, name=name)
    except NotFound as exc:
        raise Http404(str(exc)) from exc


def _page(request: HttpRequest, *, page: str, title: str, **data: Any) -> HttpResponse:
    team = _team(request)
    if team is None:
        return render(request, "dashboard/no_team.html", status=403)
    context = {
        "page": page,
        "title": title,
        "team": team,
        "services": list(service_list(team=team).values_list("name", flat=True)),
        "data": {"page": page, "actor": request.user.get_username(), **data},
        "asset_version": asset_version(),
        "current_service": data.get("service", ""),
    }
    return render(request, "dashboard/page.html", context)


@login_required(login_url=LOGIN_URL)
@ensure_csrf_cookie
def overview(request: HttpRequest) -> HttpResponse:
    return _page(request, page="overview", title="Cost overview")


@login_required(login_url=LOGIN_URL)
@ensure_csrf_cookie
def service_page(request: HttpRequest, service: str) -> HttpResponse:
    team = _team(request)
    if team is not None:
        _service(team, service)
    return _page(request, page="service", title=service, service=service)


@login_required(login_url=LOGIN_URL)
@ensure_csrf_cookie
def pattern_page(request: HttpRequest, service: str, pattern_id: str) -> HttpResponse:
    team = _team(request)
    if team is not None:
        try:
            pattern_get(service=_service(team, service), pattern_id=pattern_id)
        except NotFound as exc:
            raise Http404(str(exc)) from exc
    return _page(request, page="pattern", title=f"{service}: pattern {pattern_id}", service=service, pattern=pattern_id)


@login_required(login_url=LOGIN_URL)
@ensure_csrf_cookie
def policy_editor(request: HttpRequest, service: str) -> HttpResponse:
    team = _team(request)
    if team is not None:
        _service(team, service)
    version = request.GET.get("version", "")
    return _page(
        request,
        page="editor",
        title=f"{service}: policy",
        service=service,
        version=version if version.isdigit() else "",
    )
