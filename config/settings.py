"""Beacon's settings, read from the environment (see README "Configuration")."""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config import services
from config.env import env_bool, env_choice, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("BEACON_DEBUG", False)
SECURE_SSL = env_bool("BEACON_HTTPS", False)
SECRET_KEY = env_str("BEACON_SECRET_KEY")
if SECRET_KEY is None:
    if SECURE_SSL:
        raise ImproperlyConfigured(
            "BEACON_SECRET_KEY must be set when BEACON_HTTPS is on (a real deployment)."
        )
    # Local runs and tests only: a stable key so sessions survive restarts of `make run`.
    SECRET_KEY = "beacon-insecure-development-key-change-me-in-production-0123456789"

ALLOWED_HOSTS = env_list("BEACON_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("BEACON_CSRF_TRUSTED_ORIGINS")
PUBLIC_URL = env_str("BEACON_PUBLIC_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "projects",
    "analytics",
    "alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",  # outside WhiteNoise: static files get it too
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
            ],
        },
    },
]

# --- Storage ------------------------------------------------------------------------------------

# auto: TimescaleDB when the server offers the extension, plain PostgreSQL otherwise (decided once,
# at migrate time, and recorded in the database). timescaledb / postgres force one backend.
STORAGE_BACKEND = env_choice("BEACON_STORAGE_BACKEND", "auto", ["auto", "timescaledb", "postgres"])

_database = dj_database_url.parse(
    services.database_url(), conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
)
if not _database.get("ENGINE", "").startswith("django.db.backends.postgresql"):
    raise ImproperlyConfigured(
        "DATABASE_URL must be a postgresql:// URL: Beacon runs on PostgreSQL or TimescaleDB."
    )
# django-timescaledb's engine runs CREATE EXTENSION timescaledb at migrate, which fails on a server
# without the extension: use it only when TimescaleDB is forced. In auto mode the event store's
# migration creates the extension itself when the server has it.
_database["ENGINE"] = (
    "timescale.db.backends.postgresql"
    if STORAGE_BACKEND == "timescaledb"
    else "django.db.backends.postgresql"
)
_database["CONN_HEALTH_CHECKS"] = True
_database["OPTIONS"] = {
    # Server-side prepared statements collide across connections behind poolers (and on the
    # PGlite test server); planning a bulk insert is cheap next to executing it.
    "prepare_threshold": None,
    "connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT", 5, minimum=1),
}
_database["TEST"] = {"NAME": env_str("DATABASE_TEST_NAME")}
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Days of raw events kept when a project does not say otherwise.
RETENTION_DEFAULT_DAYS = env_int("BEACON_RETENTION_DEFAULT_DAYS", 400, minimum=1, maximum=3650)
# How long message ids are remembered for exactly-once writes (retries older than this are new events).
DEDUP_WINDOW_DAYS = env_int("BEACON_DEDUP_WINDOW_DAYS", 7, minimum=1)
# Chunks (TimescaleDB) older than this are compressed.
COMPRESS_AFTER_DAYS = env_int("BEACON_COMPRESS_AFTER_DAYS", 7, minimum=1)
# How the store writes a batch: COPY (fastest), or a multi-row INSERT from arrays for servers that
# cannot take COPY FROM STDIN (the PGlite TimescaleDB used in tests).
BULK_WRITE_METHOD = env_choice("BEACON_BULK_WRITE_METHOD", "copy", ["copy", "insert"])
# Plain PostgreSQL: daily partitions created this many days ahead.
PARTITIONS_AHEAD_DAYS = env_int("BEACON_PARTITIONS_AHEAD_DAYS", 7, minimum=1, maximum=60)

# --- Redis and Celery ---------------------------------------------------------------------------

REDIS_URL = services.redis_url()
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TIMEZONE = "UTC"
# One queue name for everything Beacon sends; tests run their own workers on a queue of their own.
CELERY_TASK_DEFAULT_QUEUE = env_str("BEACON_CELERY_QUEUE", "celery")
CELERY_BEAT_SCHEDULE_FILENAME = str(services.local_dir() / "celerybeat-schedule")

CACHES = {
    "default": {
        "BACKEND": "config.cache.BeaconRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "beacon",
    }
}

# --- Auth, sessions, security -------------------------------------------------------------------

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",  # verifies (and upgrades) older hashes
]
AUTHENTICATION_BACKENDS = ["projects.auth.EmailOrUsernameBackend"]
# Failed logins per account and per IP address before a lock-out of LOGIN_LOCKOUT_SECONDS.
LOGIN_MAX_FAILURES = env_int("BEACON_LOGIN_MAX_FAILURES", 5, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("BEACON_LOGIN_LOCKOUT_SECONDS", 900, minimum=1)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_SECURE = SECURE_SSL
CSRF_COOKIE_SECURE = SECURE_SSL
SECURE_HSTS_SECONDS = 31536000 if SECURE_SSL else 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE_SSL else None
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
X_FRAME_OPTIONS = "DENY"

# --- Email (invitations, password reset) ---------------------------------------------------------

DEFAULT_FROM_EMAIL = env_str("BEACON_FROM_EMAIL", "Beacon <beacon@localhost>")
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1, maximum=65535)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    # No SMTP server configured: mails are printed on the web process's console.
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# --- I18n, static -------------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# After `collectstatic` (make run does it): hashed, compressed copies that WhiteNoise serves from
# gunicorn with far-future caching. Before it (a fresh checkout, runserver): plain names.
_COLLECTED = (STATIC_ROOT / "staticfiles.json").exists()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if _COLLECTED
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not _COLLECTED

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Beacon ingestion API",
    "DESCRIPTION": (
        "Send events to Beacon. Authenticate with a project key as `X-API-Key`, `Authorization: Bearer`, "
        "or `?apiKey=` (for sendBeacon). Bodies may be gzip-compressed (`Content-Encoding: gzip`). "
        "Segment/RudderStack (`/v1/batch`) and PostHog (`/batch/`) SDKs are accepted as they are; "
        "see the README."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PREPROCESSING_HOOKS": ["analytics.ingest.openapi.only_documented_endpoints"],
}

# --- Ingestion ------------------------------------------------------------------------------------

# Redis streams the web process appends accepted events to and the ingest writers read.
INGEST_STREAM_PREFIX = env_str("BEACON_INGEST_STREAM_PREFIX", "beacon:ingest")
INGEST_STREAM_SHARDS = env_int("BEACON_INGEST_STREAM_SHARDS", 4, minimum=1, maximum=256)
# Stream entries (requests) waiting to be written before ingestion answers 503 + Retry-After.
INGEST_MAX_BACKLOG = env_int("BEACON_INGEST_MAX_BACKLOG", 200_000, minimum=1)
# Events per second per API key before 429 + Retry-After (0: no limit).
INGEST_RATE_LIMIT_PER_KEY = env_int("BEACON_INGEST_RATE_LIMIT_PER_KEY", 20_000, minimum=0)
# Stream entries one writer reads and commits at once.
INGEST_WRITER_BATCH = env_int("BEACON_INGEST_WRITER_BATCH", 200, minimum=1, maximum=10_000)
# Entries a writer read but did not acknowledge for this long are taken over by another writer.
INGEST_CLAIM_IDLE_SECONDS = env_int("BEACON_INGEST_CLAIM_IDLE_SECONDS", 30, minimum=1)

# The live inspector's feed (analytics/verification/live.py): kept only while someone watches.
# Requests (stream entries) an environment's feed holds, at most (approximately).
LIVE_MAX_ENTRIES = env_int("BEACON_LIVE_MAX_ENTRIES", 500, minimum=10)
# Requests copied to the feed per second, at most (beyond: counted, and the inspector says it samples).
LIVE_MAX_ENTRIES_PER_SECOND = env_int("BEACON_LIVE_MAX_ENTRIES_PER_SECOND", 50, minimum=1)
# A request larger than this is shown as "N events, too large to show live".
LIVE_MAX_ENTRY_BYTES = env_int("BEACON_LIVE_MAX_ENTRY_BYTES", 128 * 1024, minimum=1024)
# How long a watcher's last poll keeps the feed on, and how long the feed outlives its last event.
LIVE_WATCH_SECONDS = env_int("BEACON_LIVE_WATCH_SECONDS", 30, minimum=2)
LIVE_TTL_SECONDS = env_int("BEACON_LIVE_TTL_SECONDS", 300, minimum=10)

# The longest a trend, funnel or retention query may run (pages, query API, precomputation).
ANALYSIS_STATEMENT_TIMEOUT_MS = env_int(
    "BEACON_ANALYSIS_STATEMENT_TIMEOUT_MS", 60_000, minimum=1_000, maximum=3_600_000
)
# The SQL console (analytics/queries/console.py): one run of a query, at most this long in all.
CONSOLE_STATEMENT_TIMEOUT_MS = env_int(
    "BEACON_CONSOLE_STATEMENT_TIMEOUT_MS", 10_000, minimum=100, maximum=600_000
)
# Rows one run shows or downloads as CSV, at most; beyond, the result says it was truncated.
CONSOLE_MAX_ROWS = env_int("BEACON_CONSOLE_MAX_ROWS", 10_000, minimum=1, maximum=1_000_000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice("BEACON_LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"]),
    },
}

# The demo shop (analytics/demo_shop.py): its write key, written by `seed_demo`.
DEMO_SHOP_CONFIG = env_str("BEACON_DEMO_SHOP_CONFIG", str(services.local_dir() / "demo-shop.json"))

# Data jobs (analytics/datajobs.py): where exports are written, and how long their files are kept.
EXPORT_DIR = env_str("BEACON_EXPORT_DIR", str(services.local_dir() / "exports"))
EXPORT_EXPIRY_DAYS = env_int("BEACON_EXPORT_EXPIRY_DAYS", 7, minimum=1, maximum=365)

# --- Alerts (alerts/) ------------------------------------------------------------------------------

# Windows end this long before the evaluation minute: events accepted into the stream a moment ago
# may not be written yet, and a half-written minute would look like a drop.
ALERTS_EVALUATION_DELAY_SECONDS = env_int(
    "BEACON_ALERTS_EVALUATION_DELAY_SECONDS", 60, minimum=0, maximum=3600
)
# The longest one rule's queries may run (evaluation and the form's preview).
ALERTS_EVALUATION_TIMEOUT_MS = env_int(
    "BEACON_ALERTS_EVALUATION_TIMEOUT_MS", 30_000, minimum=1_000, maximum=600_000
)
# Channels may post to loopback/private addresses only when this is on (SSRF guard; on for DEBUG).
ALERTS_ALLOW_PRIVATE_URLS = env_bool("BEACON_ALERTS_ALLOW_PRIVATE_URLS", DEBUG)
# Delivery: attempts per channel and alert, the first retry's wait (it doubles), the longest wait,
# and one HTTP request's timeout.
ALERTS_DELIVERY_MAX_ATTEMPTS = env_int("BEACON_ALERTS_DELIVERY_MAX_ATTEMPTS", 5, minimum=1, maximum=20)
ALERTS_RETRY_BASE_SECONDS = env_int("BEACON_ALERTS_RETRY_BASE_SECONDS", 30, minimum=1, maximum=3600)
ALERTS_RETRY_MAX_SECONDS = env_int("BEACON_ALERTS_RETRY_MAX_SECONDS", 900, minimum=1, maximum=86_400)
ALERTS_HTTP_TIMEOUT = env_int("BEACON_ALERTS_HTTP_TIMEOUT", 10, minimum=1, maximum=120)

from config.schedule import BEAT_SCHEDULE  # noqa: E402 - kept beside the Celery settings it belongs to

CELERY_BEAT_SCHEDULE = BEAT_SCHEDULE
