"""API authentication: `Authorization: Bearer lsk_…` resolves a team; staff sessions resolve theirs."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from lipservice.models import ApiKey, Team
from lipservice.selectors import ApiKeyLookupRefused, api_key_find_active, team_for_user, user_is_team_admin
from lipservice.services import api_key_touch


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not raw.strip() or " " in raw.strip():
            raise exceptions.AuthenticationFailed("Malformed Authorization header; expected 'Bearer <api key>'.")
        from lipservice.throttling import KeyLookupThrottle

        lookups = KeyLookupThrottle()
        ident = f"ip:{lookups.get_ident(request)}"
        try:
            key = api_key_find_active(raw=raw.strip(), may_query=lambda: lookups.allow(ident))
        except ApiKeyLookupRefused:
            raise exceptions.Throttled(wait=lookups.wait()) from None
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        api_key_touch(key=key)
        return ApiKeyUser(key), key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class ApiKeyUser:
    """The request.user of a key-authenticated request: no Django user, only a team."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, key: ApiKey) -> None:
        self.api_key = key
        self.team = key.team
        self.pk = None
        self.username = f"api-key:{key.prefix}"

    def __str__(self) -> str:
        return self.username


def request_team(request: Request) -> Team | None:
    """The team a request acts for: the API key's team, or the logged-in user's team."""
    if isinstance(request.auth, ApiKey):
        return request.auth.team
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return team_for_user(user=user)
    return None


class HasTeam(permissions.BasePermission):
    message = "Authentication with an API key (Authorization: Bearer <key>) is required."

    def has_permission(self, request: Request, view: Any) -> bool:
        team = request_team(request)
        if team is None:
            return False
        request.team = team  # type: ignore[attr-defined]
        return True


def request_is_sdk_call(request: Request, view: Any) -> bool:
    """Whether this request is one an app instance makes (a policy read, a stats post): those share the fleet budget."""
    return request.method in getattr(view, "sdk_methods", ())


class ScopedAccess(permissions.BasePermission):
    """What a credential may do: an `sdk` key only what a view lists in `sdk_methods`; a `management` key the rest of
    its team's API; a person reads as a member and writes as a team admin (`member_methods` lists the non-safe
    methods that only read, such as validating or simulating a draft)."""

    message = "This credential may not do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        method = request.method or ""
        auth = request.auth
        if isinstance(auth, ApiKey):
            if auth.scope == ApiKey.Scope.MANAGEMENT or method == "OPTIONS" or request_is_sdk_call(request, view):
                return True
            self.message = (
                "This API key has the sdk scope: it may read its team's policies and post stats only. "
                "Use a management key or a team admin's session."
            )
            return False
        if method in permissions.SAFE_METHODS or method in getattr(view, "member_methods", ()):
            return True
        user = request.user
        if getattr(user, "is_superuser", False):
            return True
        team = request_team(request)
        self.message = "This change needs a team admin."
        return team is not None and user_is_team_admin(user=user, team=team)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "lipservice.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "lsk_…", "description": "A team API key."}
