"""The admin policy editor saves through policy_create: checker, new version, audit; a bad document stores nothing."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from policies.models import AuditEntry, PolicyVersion
from tests.e2e.dashboard_data import DashboardData, build_dashboard_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def data() -> DashboardData:
    return build_dashboard_data()


@pytest.fixture
def admin_client(data: DashboardData) -> Client:
    user = data.user
    user.is_superuser = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def _edit_url(version: PolicyVersion) -> str:
    return reverse("admin:policies_policyversion_edit_document", args=[version.pk])


def test_changelist_links_each_version_to_the_editor(admin_client: Client, data: DashboardData) -> None:
    response = admin_client.get("/admin/policies/policyversion/")
    assert response.status_code == 200
    assert _edit_url(data.active_version) in response.content.decode()


def test_edit_page_mounts_the_interactive_editor_for_team_members(admin_client: Client, data: DashboardData) -> None:
    html = admin_client.get(_edit_url(data.first_version)).content.decode()
    assert 'data-page="editor"' in html
    assert f'data-version="{data.first_version.number}"' in html
    assert "first version keeps everything" in html


def test_saving_a_valid_document_creates_an_audited_version(admin_client: Client, data: DashboardData) -> None:
    document = dict(data.active_version.document)
    document["severity_rates"] = {**document["severity_rates"], "INFO": 0.2}
    response = admin_client.post(_edit_url(data.active_version), {"document": json.dumps(document), "activate": "on"})

    created = PolicyVersion.objects.get(service=data.service, number=data.active_version.number + 1)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:policies_policyversion_change", args=[created.pk])
    assert created.status == PolicyVersion.Status.ACTIVE
    assert created.document["severity_rates"]["INFO"] == 0.2
    assert created.created_by == f"user:{data.user.get_username()}"
    assert AuditEntry.objects.filter(service=data.service, action="policy.published", actor=created.created_by).exists()


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"severity_rates": {"ERROR": 0.5}}, "$.severity_rates"),
        ({"default_rate": 3}, "$.default_rate"),
        ({"surprise": True}, "$.surprise"),
    ],
)
def test_a_document_the_checker_refuses_stores_nothing(
    admin_client: Client, data: DashboardData, change: dict[str, object], path: str
) -> None:
    document = {**data.active_version.document, **change}
    response = admin_client.post(_edit_url(data.active_version), {"document": json.dumps(document), "activate": "on"})

    assert response.status_code == 200
    assert path in response.content.decode()
    assert PolicyVersion.objects.filter(service=data.service).count() == 2


def test_non_members_get_the_raw_editor_only(data: DashboardData) -> None:
    outsider = get_user_model().objects.create_superuser(username="root", password="x")
    client = Client()
    client.force_login(outsider)
    html = client.get(_edit_url(data.active_version)).content.decode()
    assert 'id="lipservice-root"' not in html
    assert 'id="policy-document-form"' in html
