"""gunicorn: preloading is safe; LipService re-creates its threads, locks and HTTP sessions in each worker."""

from __future__ import annotations

wsgi_app = "mysite.wsgi:application"
preload_app = True
workers = 4
graceful_timeout = 10  # leaves time for the SDK's exit flush (3 s by default)
