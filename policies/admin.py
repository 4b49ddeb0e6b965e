"""Admin list views for policy versions and the audit trail, and the policy editor (a client of the services)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from lipservice_sdk.policy import PolicyFormatError

from lipservice.admin_scope import TeamScopedAdmin
from lipservice.selectors import team_for_user
from policies.engine.checker import PolicyInvariantError
from policies.models import AuditEntry, PolicyVersion, Webhook, WebhookDelivery
from policies.services import policy_create


class _IndentedJSONField(forms.JSONField):
    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


class PolicyDocumentForm(forms.Form):
    document = _IndentedJSONField(widget=forms.Textarea(attrs={"rows": 28, "cols": 110, "class": "vLargeTextField"}))
    activate = forms.BooleanField(required=False, initial=True, help_text="Unchecked stores a proposal for review.")


@admin.register(PolicyVersion)
class PolicyVersionAdmin(TeamScopedAdmin):
    list_display = [
        "service",
        "number",
        "status",
        "generated_by",
        "created_by",
        "created_at",
        "published_at",
        "edit_link",
    ]
    list_filter = ["status", "service__team", "service"]
    readonly_fields = [*(f.name for f in PolicyVersion._meta.fields), "edit_link"]

    @admin.display(description="Editor")
    def edit_link(self, obj: PolicyVersion) -> str:
        url = reverse("admin:policies_policyversion_edit_document", args=[obj.pk])
        return format_html('<a href="{}">Edit as a new version</a>', url)

    def get_urls(self) -> list[URLPattern]:
        edit = path(
            "<int:pk>/edit-document/",
            self.admin_site.admin_view(self.edit_document_view),
            name="policies_policyversion_edit_document",
        )
        return [edit, *super().get_urls()]

    def edit_document_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Edits a version's document; saving creates a new version through policy_create (checker, audit, cache)."""
        version = get_object_or_404(self.get_queryset(request).select_related("service__team"), pk=pk)
        may_change = self.has_change_permission(request, version)
        if not may_change and not self.has_view_permission(request, version):
            raise PermissionDenied
        if request.method == "POST" and not may_change:
            raise PermissionDenied
        form = PolicyDocumentForm(request.POST or None, initial={"document": version.document, "activate": True})
        issues: list[dict[str, str]] = []
        if request.method == "POST" and form.is_valid():
            try:
                created = policy_create(
                    service=version.service,
                    document=form.cleaned_data["document"],
                    actor=f"user:{request.user.get_username()}",
                    activate=form.cleaned_data["activate"],
                )
            except (PolicyInvariantError, PolicyFormatError) as exc:
                issues = [issue.as_dict() for issue in exc.issues]
            else:
                messages.success(request, f"Saved {version.service} v{created.number} ({created.status}).")
                return HttpResponseRedirect(reverse("admin:policies_policyversion_change", args=[created.pk]))
        same_team = team_for_user(user=request.user) == version.service.team
        context = {
            **self.admin_site.each_context(request),
            "title": f"Edit policy {version.service} v{version.number}",
            "opts": self.model._meta,
            "original": version,
            "form": form,
            "issues": issues,
            "editor": {"page": "editor", "service": version.service.name, "version": version.number}
            if same_team
            else None,
            "actor": request.user.get_username(),
            "may_change": may_change,
            "bundle_built": bool(finders.find("dashboard/main.js")),
        }
        return TemplateResponse(request, "admin/policies/policyversion/edit_document.html", context)


@admin.register(AuditEntry)
class AuditEntryAdmin(TeamScopedAdmin):
    list_display = ["created_at", "team", "service", "action", "actor"]
    list_filter = ["action", "team"]
    search_fields = ["actor", "action"]
    readonly_fields = [f.name for f in AuditEntry._meta.fields]


@admin.register(Webhook)
class WebhookAdmin(TeamScopedAdmin):
    list_display = ["name", "team", "url", "active", "events", "created_at"]
    list_filter = ["team", "active"]
    search_fields = ["name", "url"]

    def save_model(self, request: HttpRequest, obj: Webhook, form: Any, change: bool) -> None:
        if not change:
            secret = "whsec_" + secrets.token_urlsafe(24)
            obj.secret = secret
            messages.warning(request, f"Signing secret (shown once, copy it now): {secret}")
        super().save_model(request, obj, form, change)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TeamScopedAdmin):
    list_display = ["created_at", "webhook", "event", "status", "attempts", "response_status", "delivered_at"]
    list_filter = ["status", "event", "webhook__team"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
