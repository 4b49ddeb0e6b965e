"""WSGI entry point (gunicorn lipservice.wsgi)."""

from __future__ import annotations

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lipservice.settings")
django_application = get_wsgi_application()

from lipservice.fastpath import PolicyReadFastPath  # noqa: E402 - needs the settings loaded above

# SDK policy polls in the common case are answered in front of Django; everything else goes to Django.
application = PolicyReadFastPath(django_application)

# Everything loaded so far lives as long as the process: keep it out of the collector's full passes, whose pauses
# would otherwise land on whichever requests are in flight (and, under gunicorn's preload, keep pages shared).
gc.freeze()
