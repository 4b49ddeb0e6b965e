"""The admin scoped to the signed-in user's teams: members see their teams' rows, team admins write them.

Superusers see and change everything. For everyone else every changelist, change page, foreign-key choice and
inline is filtered by team, a row of another team answers 404, the team a row belongs to is read-only once it
exists, and models that belong to no team (Django groups, the beat schedule) are left to superusers.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from lipservice.models import Team, TeamMembership

_TEAM_PATHS: dict[type[models.Model], str | None] = {Team: "pk"}


def team_path(model: type[models.Model]) -> str | None:
    """The lookup from a model to its team (`team`, `service__team`, `channel__team`, `pk` for Team); None when
    the model belongs to no team. Only required foreign keys count: a row with no team would be nobody's."""
    if model in _TEAM_PATHS:
        return _TEAM_PATHS[model]
    found: str | None = None
    for field in model._meta.get_fields():
        related = field.related_model
        required = (field.many_to_one or field.one_to_one) and field.concrete and not getattr(field, "null", True)
        if required and isinstance(related, type) and related is not model:
            parent = team_path(related)
            if parent is not None:
                found = field.name if parent == "pk" else f"{field.name}__{parent}"
                break
    _TEAM_PATHS[model] = found
    return found


def team_id_of(obj: models.Model) -> int | None:
    path = team_path(type(obj))
    if path is None:
        return None
    if path == "pk":
        return int(obj.pk)
    *hops, last = path.split("__")
    current: Any = obj
    for hop in hops:
        current = getattr(current, hop)
    value = getattr(current, f"{last}_id")
    return int(value) if value is not None else None


def user_team_ids(request: HttpRequest, *, admin_only: bool = False) -> frozenset[int]:
    """Teams of the request's user (or those it is an admin of), read once per request."""
    attribute = "_lipservice_admin_team_ids" if admin_only else "_lipservice_team_ids"
    found: frozenset[int] | None = getattr(request, attribute, None)
    if found is None:
        rows = TeamMembership.objects.filter(user_id=int(request.user.pk or 0))
        if admin_only:
            rows = rows.filter(role=TeamMembership.Role.ADMIN)
        found = frozenset(rows.values_list("team_id", flat=True))
        setattr(request, attribute, found)
    return found


def visible_users(request: HttpRequest) -> QuerySet[Any]:
    """Users a non-superuser may see: itself and the members of its teams."""
    users = get_user_model()._default_manager.all()
    if request.user.is_superuser:
        return users
    return users.filter(
        models.Q(pk=request.user.pk) | models.Q(teammembership__team_id__in=user_team_ids(request))
    ).distinct()


def scoped_choices(model: type[models.Model], request: HttpRequest) -> QuerySet[Any] | None:
    """What a non-superuser may pick for a foreign key to `model`: rows of the teams it administers."""
    if request.user.is_superuser:
        return None
    if model is get_user_model():
        return visible_users(request)
    path = team_path(model)
    if path is None:
        return None
    return model._default_manager.filter(**{f"{path}__in": user_team_ids(request, admin_only=True)})


def may_write(request: HttpRequest, obj: models.Model | None) -> bool:
    if obj is None or request.user.is_superuser:
        return True
    return team_id_of(obj) in user_team_ids(request, admin_only=True)


class TeamScopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A ModelAdmin whose rows are filtered by the user's teams; writing needs the team's admin role."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        path = team_path(self.model)
        if path is None:
            return queryset.none()
        return queryset.filter(**{f"{path}__in": user_team_ids(request)})

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))
        if request.user.is_superuser:
            return filters
        # A related filter lists every row of the related model (every team's name); offer only those in view.
        return [
            (entry, admin.RelatedOnlyFieldListFilter)
            if isinstance(entry, str) and get_fields_from_path(self.model, entry)[-1].is_relation
            else entry
            for entry in filters
        ]

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        # The stock admin redirects to the index for a missing row; another team's row simply does not exist here.
        found = super().get_object(request, object_id, from_field)
        if found is None:
            raise Http404(f"No {self.opts.verbose_name} with this id.")
        return found

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        owner = (team_path(self.model) or "pk").split("__")[0]
        if obj is not None and owner != "pk" and owner not in fields:
            fields.append(owner)
        return fields

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        allowed: bool = super().has_add_permission(request, *args)
        return allowed and (request.user.is_superuser or bool(user_team_ids(request, admin_only=True)))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(super().has_change_permission(request, obj)) and may_write(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(super().has_delete_permission(request, obj)) and may_write(request, obj)

    def writable(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """The rows of `queryset` this user may change: for admin actions."""
        if request.user.is_superuser:
            return queryset
        path = team_path(self.model) or "pk"
        return queryset.filter(**{f"{path}__in": user_team_ids(request, admin_only=True)})

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        choices = scoped_choices(db_field.related_model, request)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        choices = scoped_choices(db_field.related_model, request)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class TeamScopedInline(admin.TabularInline):  # type: ignore[type-arg]
    """An inline under a team-scoped parent: editable only by the admins of the parent's team."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(super().has_add_permission(request, obj)) and may_write(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(super().has_change_permission(request, obj)) and may_write(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(super().has_delete_permission(request, obj)) and may_write(request, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        choices = scoped_choices(db_field.related_model, request)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class SuperuserOnlyAdmin:
    """Mixed into admins of models that belong to no team: global settings are the operator's."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)
