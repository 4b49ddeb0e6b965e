"""The admin is scoped by team: another team's rows are invisible (lists, pages, choices), and a view never writes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import models
from django.test import Client
from django.urls import reverse
from model_bakery import baker

from insights.models import AlertChannel, Incident
from lipservice.admin_scope import team_path
from lipservice.models import ApiKey, Team, TeamMembership
from patterns.models import AnalysisRun, Pattern, Service
from policies.models import PolicyVersion, Webhook

pytestmark = pytest.mark.django_db

User = get_user_model()
MODELS = sorted(admin.site._registry, key=lambda m: m._meta.label)


@dataclass
class Tenant:
    team: Team
    rows: dict[type[models.Model], models.Model]


def _tenant(name: str) -> Tenant:
    team = Team.objects.create(name=name)
    service = baker.make(Service, team=team, name=f"{name}-api")
    parents: dict[str, models.Model] = {
        "team": team,
        "service": service,
        "pattern": baker.make(Pattern, service=service, pattern_id=f"{name}-p1", template="User <*> logged in"),
        "webhook": baker.make(Webhook, team=team, url="https://hooks.example.com/x"),
        "channel": baker.make(AlertChannel, team=team, name=f"{name}-pager", kind="webhook"),
        "incident": baker.make(Incident, team=team, service=service, dedup_key=f"{name}-incident"),
    }
    rows: dict[type[models.Model], models.Model] = {Team: team}
    for value in parents.values():
        rows[type(value)] = value
    for model in MODELS:
        if model in rows or team_path(model) is None:
            continue
        links: dict[str, Any] = {
            f.name: parents[f.name]
            for f in model._meta.get_fields()
            if (f.many_to_one or f.one_to_one)
            and f.concrete
            and f.name in parents
            and f.related_model is type(parents[f.name])
        }
        extra: dict[str, Any] = {"document": {}} if model is PolicyVersion else {}
        rows[model] = baker.make(model._meta.label, **links, **extra)
    return Tenant(team=team, rows=rows)


@pytest.fixture
def tenants() -> tuple[Tenant, Tenant]:
    return _tenant("team-a"), _tenant("team-b")


def _staff(username: str, team: Team, role: str, codenames: tuple[str, ...] = ("view", "change")) -> Any:
    user = User.objects.create_user(username=username, password="x", is_staff=True)
    TeamMembership.objects.create(team=team, user=user, role=role)
    wanted = [p for p in Permission.objects.all() if p.codename.split("_", 1)[0] in codenames]
    user.user_permissions.set(wanted)
    return user


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _context(response: Any) -> Any:
    return response.context_data


def _url(model: type[models.Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_team_b_staff_sees_no_row_of_team_a_in_any_admin_list(model: type[models.Model], tenants: Any) -> None:
    team_a, team_b = tenants
    alice = _staff("alice", team_a.team, TeamMembership.Role.ADMIN)
    bob = _staff("bob", team_b.team, TeamMembership.Role.ADMIN)

    response = _client(bob).get(_url(model, "changelist"))

    if model is User:
        listed = {row.pk for row in _context(response)["cl"].result_list}
        assert bob.pk in listed and alice.pk not in listed
    elif team_path(model) is None:
        assert response.status_code == 403, "a model that belongs to no team is for superusers only"
    else:
        assert response.status_code == 200
        listed = {row.pk for row in _context(response)["cl"].result_list}
        assert team_b.rows[model].pk in listed
        assert team_a.rows[model].pk not in listed
        assert str(team_a.team.name) not in response.content.decode()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_team_b_staff_gets_404_on_team_a_change_pages(model: type[models.Model], tenants: Any) -> None:
    team_a, _ = tenants
    alice = _staff("alice", team_a.team, TeamMembership.Role.ADMIN)
    bob = _staff("bob", tenants[1].team, TeamMembership.Role.ADMIN)
    target = alice if model is User else team_a.rows.get(model)

    response = _client(bob).get(_url(model, "change", target.pk if target is not None else 1))

    expected = 403 if team_path(model) is None and model is not User else 404
    assert response.status_code == expected


def test_superusers_see_every_team(tenants: Any) -> None:
    root = User.objects.create_superuser(username="root", password="x")
    response = _client(root).get(_url(Service, "changelist"))
    listed = {row.pk for row in _context(response)["cl"].result_list}
    assert {t.rows[Service].pk for t in tenants} <= listed


def test_foreign_key_choices_offer_only_the_users_teams(tenants: Any) -> None:
    team_a, team_b = tenants
    bob = _staff("bob", team_b.team, TeamMembership.Role.ADMIN, codenames=("view", "change", "add"))
    client = _client(bob)

    page = client.get(_url(ApiKey, "add"))
    choices = {str(pk) for pk, _ in _context(page)["adminform"].form.fields["team"].choices if pk}
    assert choices == {str(team_b.team.pk)}

    response = client.post(_url(ApiKey, "add"), {"team": team_a.team.pk, "name": "planted"})
    assert response.status_code == 200 and "team" in _context(response)["adminform"].form.errors
    assert not ApiKey.objects.filter(name="planted").exists()


def test_an_api_key_cannot_be_moved_to_another_team(tenants: Any) -> None:
    team_a, team_b = tenants
    root = User.objects.create_superuser(username="root", password="x")
    key = team_b.rows[ApiKey]
    response = _client(root).post(_url(ApiKey, "change", key.pk), {"team": team_a.team.pk, "name": "moved"})
    key.refresh_from_db()
    assert response.status_code == 302
    assert key.name == "moved" and key.team_id == team_b.team.pk


def test_a_team_admin_chooses_the_scope_of_a_new_key_and_it_works_as_chosen(tenants: Any) -> None:
    team_a, _ = tenants
    client = _client(_staff("alice", team_a.team, TeamMembership.Role.ADMIN, ("view", "change", "add")))
    response = client.post(_url(ApiKey, "add"), {"team": team_a.team.pk, "name": "deployer", "scope": "management"})
    assert response.status_code == 302
    key = ApiKey.objects.get(team=team_a.team, name="deployer")
    assert key.scope == ApiKey.Scope.MANAGEMENT
    shown = [str(m) for m in response.wsgi_request._messages]  # type: ignore[attr-defined]
    raw = next(m.split(": ", 1)[1] for m in shown if "shown once" in m)
    assert raw.startswith(key.prefix)
    # The key it showed is a management key for team A: it may read the team, which an sdk key may not.
    assert Client().get("/api/v1/team", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200

    # What the add form offers unless the admin picks otherwise: the app's scope.
    form = _context(client.get(_url(ApiKey, "add")))["adminform"].form
    assert form["scope"].initial == ApiKey.Scope.SDK


def test_the_scope_of_an_existing_key_cannot_be_widened_in_the_admin(tenants: Any) -> None:
    team_a, _ = tenants
    key = team_a.rows[ApiKey]
    key.scope = ApiKey.Scope.SDK
    key.save(update_fields=["scope"])
    client = _client(_staff("alice", team_a.team, TeamMembership.Role.ADMIN))
    response = client.post(_url(ApiKey, "change", key.pk), {"name": "renamed", "scope": "management"})
    key.refresh_from_db()
    assert response.status_code == 302
    assert key.name == "renamed" and key.scope == ApiKey.Scope.SDK


def _membership_post(team: Team, user: Any) -> dict[str, Any]:
    prefix = "teammembership_set"
    return {
        "name": team.name,
        "display_name": "",
        "posthog_host": "https://us.posthog.com",
        "posthog_ingest_host": "https://us.i.posthog.com",
        "config": "{}",
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
        f"{prefix}-0-user": user.pk,
        f"{prefix}-0-role": "admin",
    }


def test_a_member_cannot_make_itself_admin_of_its_team_nor_join_another(tenants: Any) -> None:
    team_a, team_b = tenants
    carol = _staff("carol", team_b.team, TeamMembership.Role.MEMBER, codenames=("view", "change", "add"))
    client = _client(carol)

    own = client.post(_url(Team, "change", team_b.team.pk), _membership_post(team_b.team, carol))
    other = client.post(_url(Team, "change", team_a.team.pk), _membership_post(team_a.team, carol))

    assert own.status_code == 403
    assert other.status_code == 404
    assert list(TeamMembership.objects.filter(user=carol).values_list("team_id", "role")) == [
        (team_b.team.pk, TeamMembership.Role.MEMBER)
    ]


def test_a_team_admin_offers_only_members_of_its_teams_as_new_members(tenants: Any) -> None:
    team_a, team_b = tenants
    alice = _staff("alice", team_a.team, TeamMembership.Role.ADMIN)
    bob = _staff("bob", team_b.team, TeamMembership.Role.ADMIN, codenames=("view", "change", "add", "delete"))

    response = _client(bob).post(_url(Team, "change", team_b.team.pk), _membership_post(team_b.team, alice))

    assert response.status_code == 200
    assert not TeamMembership.objects.filter(user=alice, team=team_b.team).exists()


def test_a_view_permission_never_writes_through_the_policy_editor(tenants: Any) -> None:
    _, team_b = tenants
    viewer = _staff("viewer", team_b.team, TeamMembership.Role.ADMIN, codenames=("view",))
    version = team_b.rows[PolicyVersion]
    client = _client(viewer)
    document = {"service": "x", "severity_rates": {}}

    assert client.get(_url(PolicyVersion, "edit_document", version.pk)).status_code == 200
    response = client.post(_url(PolicyVersion, "edit_document", version.pk), {"document": json.dumps(document)})

    assert response.status_code == 403
    assert PolicyVersion.objects.filter(service=version.service).count() == 1


def test_a_member_without_the_admin_role_cannot_write_through_the_policy_editor(tenants: Any) -> None:
    _, team_b = tenants
    member = _staff("member", team_b.team, TeamMembership.Role.MEMBER)
    version = team_b.rows[PolicyVersion]
    response = _client(member).post(_url(PolicyVersion, "edit_document", version.pk), {"document": "{}"})
    assert response.status_code == 403


def test_the_policy_editor_of_another_team_is_404(tenants: Any) -> None:
    team_a, team_b = tenants
    bob = _staff("bob", team_b.team, TeamMembership.Role.ADMIN)
    response = _client(bob).get(_url(PolicyVersion, "edit_document", team_a.rows[PolicyVersion].pk))
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/proc/self/environ", "/etc/passwd", "{root}/../../etc/passwd", "/etc/*"])
def test_a_file_source_outside_the_operator_root_is_refused_in_the_admin(
    tenants: Any, settings: Any, tmp_path: Any, path: str
) -> None:
    settings.LIPSERVICE_FILE_SOURCE_ROOTS = [str(tmp_path)]
    _, team_b = tenants
    bob = _staff("bob", team_b.team, TeamMembership.Role.ADMIN)
    service = team_b.rows[Service]
    config = {"path": path.format(root=tmp_path), "format": "text"}

    response = _client(bob).post(
        _url(Service, "change", service.pk),
        {
            "name": service.name,
            "description": "",
            "source_kind": "file",
            "source_config": json.dumps(config),
            "target_reduction": "0.7",
        },
    )

    assert response.status_code == 200
    errors = _context(response)["adminform"].form.errors["source_config"]
    assert "outside the folders" in errors[0] and "LIPSERVICE_FILE_SOURCE_ROOTS" in errors[0]
    service.refresh_from_db()
    assert service.source_config != config


def test_a_file_source_under_the_operator_root_is_accepted(tenants: Any, settings: Any, tmp_path: Any) -> None:
    settings.LIPSERVICE_FILE_SOURCE_ROOTS = [str(tmp_path)]
    _, team_b = tenants
    bob = _staff("bob", team_b.team, TeamMembership.Role.ADMIN)
    service = team_b.rows[Service]
    config = {"path": str(tmp_path / "app.log"), "format": "text"}
    response = _client(bob).post(
        _url(Service, "change", service.pk),
        {
            "name": service.name,
            "source_kind": "file",
            "source_config": json.dumps(config),
            "target_reduction": "0.7",
        },
    )
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.source_config == config


def test_a_planted_file_source_outside_the_root_is_never_read(tenants: Any, settings: Any, tmp_path: Any) -> None:
    from patterns.analysis import analysis_execute, analysis_run_create

    settings.LIPSERVICE_FILE_SOURCE_ROOTS = [str(tmp_path / "logs")]
    link = tmp_path / "logs"
    link.mkdir()
    (link / "escape.log").symlink_to("/etc/passwd")
    for path in ("/proc/self/environ", str(link / "escape.log"), str(link / "*.log")):
        service = Service.objects.create(
            team=tenants[1].team, name=f"planted-{len(path)}", source_kind="file", source_config={"path": path}
        )
        start = service.created_at - timedelta(hours=1)
        run = analysis_run_create(service=service, start=start, end=service.created_at, method="fetch")
        finished: AnalysisRun = analysis_execute(run_id=run.pk)
        assert finished.status == "failed" and "outside the folders" in finished.error
        assert not Pattern.objects.filter(service=service).exists()
