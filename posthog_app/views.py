"""Public endpoints of the PostHog app: the OAuth client metadata document and the manifest."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from posthog_app.manifest import METADATA_MAX_AGE, manifest, oauth_client_metadata


def _base_url(request: HttpRequest) -> str:
    # Behind a proxy the request may not know the public origin; the setting, when present, wins.
    return getattr(settings, "LIPSERVICE_PUBLIC_URL", "") or request.build_absolute_uri("/")


@require_GET
def oauth_client(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(oauth_client_metadata(base_url=_base_url(request)))
    response["Cache-Control"] = f"public, max-age={METADATA_MAX_AGE}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def app_manifest(request: HttpRequest) -> JsonResponse:
    return JsonResponse(manifest())
