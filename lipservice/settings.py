"""LipService settings: one file, every value from the environment, embedded defaults when nothing is set."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from lipservice_sdk.config import DEFAULT_POSTHOG_HOST

from lipservice.env import env_bool, env_choice, env_float, env_int, env_json, env_list, env_rate, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("LIPSERVICE_DATA_DIR", str(BASE_DIR / ".data")))

DEBUG = env_bool("DJANGO_DEBUG", False)
_DEV_SECRET = "lipservice-embedded-development-key-not-for-production"  # noqa: S105
SECRET_KEY = env_str("DJANGO_SECRET_KEY", _DEV_SECRET)
PRODUCTION = env_bool("LIPSERVICE_PRODUCTION", False)
if PRODUCTION and SECRET_KEY == _DEV_SECRET:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when LIPSERVICE_PRODUCTION=1")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
# Team secrets (PostHog keys, ClickHouse passwords) are encrypted with this; defaults to one derived from SECRET_KEY.
# Several keys, comma-separated, newest first: the first encrypts, all decrypt (`manage.py reencrypt_secrets`).
LIPSERVICE_ENCRYPTION_KEY = env_str("LIPSERVICE_ENCRYPTION_KEY", "")
if PRODUCTION and not LIPSERVICE_ENCRYPTION_KEY.strip():
    raise ImproperlyConfigured("LIPSERVICE_ENCRYPTION_KEY must be set when LIPSERVICE_PRODUCTION=1")
# The environment variables an operator may name as a team secret ("env:NAME", set in the admin, never via the API).
LIPSERVICE_SECRET_ENV_NAMES = env_list("LIPSERVICE_SECRET_ENV_NAMES", [])
# With this flag, a test that cannot reach PostgreSQL, Redis or ClickHouse fails instead of skipping.
LIPSERVICE_REQUIRE_SERVICES = env_bool("LIPSERVICE_REQUIRE_SERVICES", False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "lipservice",
    "patterns",
    "policies",
    "insights",
    "posthog_app",
]

MIDDLEWARE = [
    "lipservice.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "lipservice.urls"
WSGI_APPLICATION = "lipservice.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "posthog_app.context.posthog_connection",
            ],
        },
    },
]

DATABASE_URL = env_url(
    "DATABASE_URL", schemes=("postgres", "postgresql", "sqlite"), default=f"sqlite:///{DATA_DIR / 'lipservice.sqlite3'}"
)
if DATABASE_URL.startswith("sqlite"):
    DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("DATABASE_CONNECT_TIMEOUT", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# SDK stats batches may carry up to 20,000 pattern entries; the stats view answers 413 above its own limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = 6_000_000

REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss", "unix"))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "lipservice",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": env_float("REDIS_CONNECT_TIMEOUT", 1.0),
                "SOCKET_TIMEOUT": env_float("REDIS_TIMEOUT", 1.0),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "lipservice"}}

CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", schemes=("redis", "rediss", "amqp", "pyamqp", "memory"))
# Without a broker, tasks run in process so `make run` needs nothing but Python.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# Eager tasks behave as on a worker: a failure is logged and retries run, instead of raising into the caller.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 2.0)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [p for p in (BASE_DIR / "frontend" / "dist",) if p.is_dir()]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "lipservice.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["lipservice.authentication.HasTeam", "lipservice.authentication.ScopedAccess"],
    "DEFAULT_THROTTLE_CLASSES": ["lipservice.throttling.ApiKeyRateThrottle"],
    # Per credential. A fleet shares one key: 10,000 instances polling every 60 s and posting stats every 30 s send
    # 30,000 requests a minute, so the SDK budget leaves twice that; everything else keeps a tighter one.
    "DEFAULT_THROTTLE_RATES": {
        "sdk": env_rate("LIPSERVICE_SDK_RATE", "60000/min"),
        "management": env_rate("LIPSERVICE_API_RATE", "600/min"),
    },
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "lipservice.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "LipService API",
    "DESCRIPTION": "Pattern-aware log sampling for PostHog: patterns, policies, savings.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI is served from our own static files: the docs page must work without a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "AnalysisRunStatusEnum": "patterns.models.AnalysisRun.Status",
        "PolicyVersionStatusEnum": "policies.models.PolicyVersion.Status",
        "WebhookDeliveryStatusEnum": "policies.models.WebhookDelivery.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "lipservice.schema.add_error_responses",
    ],
}

LIPSERVICE_LLM_PROVIDER = env_choice("LIPSERVICE_LLM_PROVIDER", "rules", ("rules", "openai", "anthropic", "ollama"))
LIPSERVICE_LLM_MODEL = env_str("LIPSERVICE_LLM_MODEL", "")
LIPSERVICE_LLM_TIMEOUT = env_float("LIPSERVICE_LLM_TIMEOUT", 30.0)
LIPSERVICE_LLM_MAX_RETRIES = env_int("LIPSERVICE_LLM_MAX_RETRIES", 2, minimum=0)
OPENAI_API_KEY = env_str("OPENAI_API_KEY", "")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL", "")
ANTHROPIC_API_KEY = env_str("ANTHROPIC_API_KEY", "")
ANTHROPIC_BASE_URL = env_str("ANTHROPIC_BASE_URL", "")
OLLAMA_URL = env_str("OLLAMA_URL", "http://127.0.0.1:11434")

# PostHog bills logs per GB ingested; this is only the default for teams that set no price table of their own.
LIPSERVICE_PRICE_PER_GB = env_float("LIPSERVICE_PRICE_PER_GB", 0.50)
# A tiered table {"currency", "tiers": [{"up_to_gb", "price_per_gb"}], ...}; teams may set their own in the API.
LIPSERVICE_PRICE_TABLE = env_json("LIPSERVICE_PRICE_TABLE", None)
LIPSERVICE_PAGERDUTY_EVENTS_URL = env_url(
    "LIPSERVICE_PAGERDUTY_EVENTS_URL", schemes=("https", "http"), default="https://events.pagerduty.com/v2/enqueue"
)
CLICKHOUSE_URL = env_str("CLICKHOUSE_URL", "")
# Destinations a tenant may point at although they are loopback, link-local, private or reserved (host names and
# CIDRs, such as a self-hosted PostHog on the private network); lipservice.outbound refuses them otherwise.
LIPSERVICE_OUTBOUND_ALLOW = env_list("LIPSERVICE_OUTBOUND_ALLOW", [])
# Database lookups of API keys the cache does not know, per client address (guessing costs no query beyond this).
LIPSERVICE_KEY_LOOKUP_RATE = env_rate("LIPSERVICE_KEY_LOOKUP_RATE", "120/min")
# The public origin of this service (https://lipservice.example.com): the PostHog app's OAuth client id.
LIPSERVICE_PUBLIC_URL = env_str("LIPSERVICE_PUBLIC_URL", "")
# Where "Connect with PostHog" finds each region's OAuth server and app hosts, when not PostHog Cloud's own:
# {"us": {"issuer": "https://…", "api_hosts": ["https://…"], "ingest_host": "https://…"}, "eu": {…}, "any": {…}}.
LIPSERVICE_POSTHOG_REGIONS = env_json("LIPSERVICE_POSTHOG_REGIONS", None)
LIPSERVICE_WINDOW_RETENTION_DAYS = env_int("LIPSERVICE_WINDOW_RETENTION_DAYS", 90, minimum=1)
# Pattern examples are stored redacted (emails, tokens, cards, phones, IPs, user ids); off stores none at all.
LIPSERVICE_STORE_EXAMPLES = env_bool("LIPSERVICE_STORE_EXAMPLES", True)
# SDK stats may name patterns the server does not know; past this many new ones per service and hour, the rest
# are counted under one overflow pattern.
LIPSERVICE_STATS_NEW_PATTERNS_PER_HOUR = env_int("LIPSERVICE_STATS_NEW_PATTERNS_PER_HOUR", 20_000, minimum=0)
# Folders a service's file source may read (a tenant must not name /proc/self/environ); the demo logs by default.
LIPSERVICE_FILE_SOURCE_ROOTS = env_list("LIPSERVICE_FILE_SOURCE_ROOTS") or [str(DATA_DIR / "demo")]
# A service's first analysis reads this far back; a run never covers more than the cap (catch-up takes several).
LIPSERVICE_ANALYSIS_LOOKBACK_HOURS = env_int("LIPSERVICE_ANALYSIS_LOOKBACK_HOURS", 168, minimum=1)
LIPSERVICE_ANALYSIS_MAX_HOURS_PER_RUN = env_int("LIPSERVICE_ANALYSIS_MAX_HOURS_PER_RUN", 168, minimum=1)

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LIPSERVICE_LOG_FORMAT = env_choice("LIPSERVICE_LOG_FORMAT", "console", ("console", "json"))
LIPSERVICE_METRICS_TOKEN = env_str("LIPSERVICE_METRICS_TOKEN", "")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "console": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "lipservice.logs.json_formatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LIPSERVICE_LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LIPSERVICE_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
        "lipservice.access": {"level": env_str("LIPSERVICE_ACCESS_LOG_LEVEL", "WARNING")},
    },
}

# The service's own logs through lipservice-sdk, as a customer's would go (lipservice.logs.configure_self_logging):
# off unless a service name is set, and then the policy comes from a LipService (usually this one) with its key.
LIPSERVICE_SELF_SERVICE_NAME = env_str("LIPSERVICE_SELF_SERVICE_NAME", "").strip()
LIPSERVICE_SELF_URL = env_url("LIPSERVICE_SELF_URL", schemes=("http", "https"))
LIPSERVICE_SELF_API_KEY = env_str("LIPSERVICE_SELF_API_KEY", "")
LIPSERVICE_SELF_POSTHOG_TOKEN = env_str("LIPSERVICE_SELF_POSTHOG_TOKEN", "")
LIPSERVICE_SELF_POSTHOG_HOST = env_url(
    "LIPSERVICE_SELF_POSTHOG_HOST", schemes=("http", "https"), default=DEFAULT_POSTHOG_HOST
)
LIPSERVICE_SELF_REFRESH_INTERVAL = env_float("LIPSERVICE_SELF_REFRESH_INTERVAL", 60.0)
LIPSERVICE_SELF_STATS_INTERVAL = env_float("LIPSERVICE_SELF_STATS_INTERVAL", 30.0)
LIPSERVICE_SELF_CACHE_DIR = Path(env_str("LIPSERVICE_SELF_CACHE_DIR", str(DATA_DIR / "sdk-cache")))
if LIPSERVICE_SELF_SERVICE_NAME:
    for _name, _value in (
        ("LIPSERVICE_SELF_URL", LIPSERVICE_SELF_URL),
        ("LIPSERVICE_SELF_API_KEY", LIPSERVICE_SELF_API_KEY),
    ):
        if not _value:
            raise ImproperlyConfigured(f"{_name} must be set when LIPSERVICE_SELF_SERVICE_NAME is")
    for _name, _seconds in (
        ("LIPSERVICE_SELF_REFRESH_INTERVAL", LIPSERVICE_SELF_REFRESH_INTERVAL),
        ("LIPSERVICE_SELF_STATS_INTERVAL", LIPSERVICE_SELF_STATS_INTERVAL),
    ):
        if not _seconds > 0:
            raise ImproperlyConfigured(f"{_name} must be a positive number of seconds, got {_seconds}")
