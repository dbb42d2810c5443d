"""Settings, all read from the environment.

Two modes (PORTAL_ENV): ``development`` (the default: SQLite + a filesystem Celery broker, no server
needed) and ``production`` (refuses to start without a secret key, allowed hosts and a real database,
and turns on every transport-security setting so ``check --deploy --fail-level WARNING`` is clean).
"""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("PORTAL_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
PORTAL_ENV = env.str("PORTAL_ENV", default="development")
if PORTAL_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("PORTAL_ENV must be 'development' or 'production'.")
PRODUCTION = PORTAL_ENV == "production"

if PRODUCTION:
    # No defaults for anything secret or site-specific: fail fast instead of running insecurely.
    for required in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CACHE_URL"):
        if not env.str(required, default=""):
            raise ImproperlyConfigured(f"{required} must be set when PORTAL_ENV=production.")
    SECRET_KEY = env.str("SECRET_KEY")
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured("SECRET_KEY is too short or too simple for production.")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="development-only-key-" + "x" * 40)
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

# Generic error pages everywhere, development included; details go to the log.
DEBUG = env.bool("DEBUG", default=False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when PORTAL_ENV=production.")

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "portal.views.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # Trigram search indexes (inventory migration 0008) on PostgreSQL; inert on SQLite.
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_results",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "csp",
    "portal",
    "inventory",
    "testing",
    "incidents",
]

MIDDLEWARE = [
    "portal.middleware.RequestIdMiddleware",
    "portal.middleware.ApiOverHttpsOnlyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a login unless its view says @login_not_required (DRF views answer 401 themselves).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "portal.middleware.SessionTimeoutMiddleware",
    "portal.middleware.SecondFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After the user is known (the 413 page is the normal layout with its navigation, under the CSP),
    # before anything reads the body: CSRF checks and views run in process_view, after every __call__.
    "portal.middleware.RequestSizeLimitMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
# Django's form renderer with <select> written in Python, not two template includes per option.
FORM_RENDERER = "portal.form_renderer.PortalFormRenderer"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "portal.context_processors.portal",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    if PRODUCTION:
        raise ImproperlyConfigured("SQLite is for development only; set DATABASE_URL to PostgreSQL.")
    # IMMEDIATE transactions take the write lock up front, so concurrent writers queue instead of
    # failing with "database is locked" half-way through (the audit chain relies on this).
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file (not :memory:) so threads in tests share it; per process so parallel runs don't collide.
    _db["TEST"] = {"NAME": str(VAR_DIR / f"test-portal-{os.getpid()}.sqlite3")}
else:
    _db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    _db["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Throttle and lockout counters live here, so every process must share it: otherwise each limit is
# multiplied by the number of workers. Development shares a folder under var/; production needs Redis
# (or another shared cache) and refuses a per-process one.
CACHES = {"default": env.cache_url("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}
_PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)
if PRODUCTION and CACHES["default"]["BACKEND"] in _PER_PROCESS_CACHES:
    raise ImproperlyConfigured(
        "CACHE_URL must name a cache all processes share (e.g. redis://…) when PORTAL_ENV=production."
    )

# --- Authentication -------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Lock an account after repeated failures, and separately an address (one attacker, many accounts).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# Locked per (account, address) and per address; never per account alone, which would let a stranger
# lock anyone out (the CISO included). Per account, attempts are slowed down (portal/login_guard.py).
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
LOGIN_ACCOUNT_DELAY_SECONDS = env.int("LOGIN_ACCOUNT_DELAY_SECONDS", default=15)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_IPWARE_PROXY_COUNT = env.int("PROXY_COUNT", default=0)
# Addresses of the reverse proxies in front of the portal (CIDRs): only headers they set are trusted
# (X-Request-ID is kept as the upstream id; the portal's own id is what the audit trail records).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
TRUSTED_PROXY_NETWORKS = [ipaddress.ip_network(cidr.strip(), strict=False) for cidr in TRUSTED_PROXIES]
AXES_VERBOSE = False

# Sessions are read from the shared cache (Redis in production) and written through to the database:
# no session query on a page view. Logout and key rotation delete both copies.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_AGE = env.int("SESSION_ABSOLUTE_SECONDS", default=12 * 3600)  # absolute timeout
SESSION_IDLE_SECONDS = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="API Security Portal")

# --- Transport security ---------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# /api/ over plain HTTP is refused with a 403 naming HTTPS (never redirected: that would replay a token).
API_REQUIRE_HTTPS = env.bool("API_REQUIRE_HTTPS", default=PRODUCTION)
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Gateways and CI clients call /api/ over their own TLS termination; never bounce them.
    SECURE_REDIRECT_EXEMPT = [r"^api/", r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env.bool("BEHIND_TLS_PROXY", default=True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Internationalisation -------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing

# --- REST API -------------------------------------------------------------------------------------
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Deny by default: a view that names no capability is refused (portal.permissions).
    "DEFAULT_PERMISSION_CLASSES": [
        "portal.authentication.IsAuthenticated",  # DRF's, but throttles anonymous callers first
        "portal.permissions.HasCapability",
    ],
    "DEFAULT_PAGINATION_CLASS": "portal.pagination.CappedPageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["portal.parsers.BoundedJSONParser"],
    "DEFAULT_THROTTLE_CLASSES": [
        # DRF's rates and keys, counted with one atomic increment per request (portal.ratelimit).
        "portal.ratelimit.AnonRateThrottle",
        "portal.ratelimit.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="30/min"),
        "user": env.str("THROTTLE_USER", default="600/min"),
        "expensive": env.str("THROTTLE_EXPENSIVE", default="20/min"),
    },
    "EXCEPTION_HANDLER": "portal.api_errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "portal.api_schema.PortalAutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
API_MAX_PAGE_SIZE = 200

SPECTACULAR_SETTINGS = {
    "TITLE": "API Security Portal",
    "DESCRIPTION": "The company's API inventory, and the portal around it: you, the org chart and roles, API "
    "tokens, the audit trail. Testing and incident response are planned.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["portal.authentication.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Two models have a "kind": name their enums apart instead of a generated hash.
    "ENUM_NAME_OVERRIDES": {
        "ComponentKindEnum": "inventory.models.Component.Kind",
        "WindowKindEnum": "inventory.models.AvailabilityWindow.Kind",
        "ApiStatusEnum": "inventory.models.ApiStatus",
        "IdentityKindEnum": "testing.models.IdentityKind",
        "RunStatusEnum": "testing.models.RunStatus",
        "FindingStatusEnum": "testing.models.FindingStatus",
    },
    # Operations are grouped by the app serving them (portal.api_schema), not by the URL's "v1".
    # An app with REST views adds its group here.
    "TAGS": [
        {"name": "inventory", "description": "The API inventory: records, specs, packages, consumers."},
        {"name": "portal", "description": "You, the org chart and its roles, API tokens, the audit trail."},
        {
            "name": "testing",
            "description": "Test plans and their identities, running them now, runs with their results, "
            "functional cases, findings and their triage.",
        },
    ],
}

# --- Audit trail ----------------------------------------------------------------------------------
# The audit chain is keyed with an HMAC whose key never enters the database: someone who can write
# the table cannot forge a row or re-hash the chain. Production requires it (AUDIT_HMAC_KEY, or a
# file named by AUDIT_HMAC_KEY_FILE); development makes one under var/ on first use.
AUDIT_HMAC_KEY = env.str("AUDIT_HMAC_KEY", default="")
if not AUDIT_HMAC_KEY and env.str("AUDIT_HMAC_KEY_FILE", default=""):
    AUDIT_HMAC_KEY = Path(env.str("AUDIT_HMAC_KEY_FILE")).read_text().strip()
if not AUDIT_HMAC_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "AUDIT_HMAC_KEY (or AUDIT_HMAC_KEY_FILE) must be set when PORTAL_ENV=production."
        )
    _dev_key = VAR_DIR / "audit-hmac.key"
    if not _dev_key.exists():
        import secrets as _secrets

        _dev_key.touch(mode=0o600)
        _dev_key.write_text(_secrets.token_hex(32))
    AUDIT_HMAC_KEY = _dev_key.read_text().strip()
if PRODUCTION and (len(AUDIT_HMAC_KEY) < 32 or len(set(AUDIT_HMAC_KEY)) < 8):
    raise ImproperlyConfigured("AUDIT_HMAC_KEY is too short or too simple (32 characters or more).")
# The id of the last event written before the chain was keyed (0 for an installation that started
# keyed): later unkeyed events are refused as forgeries even if every row was rewritten. Unset, only
# an unkeyed event after a keyed one is refused. `verify_audit_chain` prints the value to set.
AUDIT_LEGACY_UNTIL = env.int("AUDIT_LEGACY_UNTIL", default=None)
# Where beat writes the chain head every day (JSON lines), to check later with
# `verify_audit_chain --anchor FILE`; and/or a syslog address ("/dev/log", "host:514").
AUDIT_ANCHOR_FILE = env.str("AUDIT_ANCHOR_FILE", default=str(VAR_DIR / "audit-anchors.jsonl"))
AUDIT_ANCHOR_SYSLOG = env.str("AUDIT_ANCHOR_SYSLOG", default="")

# --- API tokens -----------------------------------------------------------------------------------
API_TOKEN_DEFAULT_DAYS = env.int("API_TOKEN_DEFAULT_DAYS", default=90)
API_TOKEN_MAX_DAYS = env.int("API_TOKEN_MAX_DAYS", default=365)

# The scanner's SSRF allowlist (testing.engines.safe_http): loopback and private targets are scanned
# only inside these networks (comma-separated CIDRs). Link-local and cloud metadata addresses stay
# refused whatever it says. Development allows loopback so the demo works; production allows no
# private network until the deployment names the ones its internal APIs live in.
try:
    SCANNER_ALLOWED_NETWORKS = [
        str(ipaddress.ip_network(cidr.strip(), strict=False))
        for cidr in env.list(
            "SCANNER_ALLOWED_NETWORKS", default=[] if PRODUCTION else ["127.0.0.0/8", "::1/128"]
        )
        if cidr.strip()
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"SCANNER_ALLOWED_NETWORKS must be comma-separated CIDRs: {exc}") from exc

# The deliberately flawed demo API that ``make run`` serves on loopback next to the portal, so the
# demo data has something real to test (never in production).
DEMO_TARGET_PORT = env.int("DEMO_TARGET_PORT", default=8765)

# --- Celery ---------------------------------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_HARD_TIME_LIMIT", default=360)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Exchange bindings; kombu's default is "control" relative to the working directory, so a
        # worker and a web process started from different folders would not route to each other.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    # The filesystem transport has no broadcast exchange for remote control.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
else:
    # A task not acknowledged within this window is redelivered: keep it well past the hard limit.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * CELERY_TASK_TIME_LIMIT + 60}

# --- Email ----------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url(
    "EMAIL_URL", default="consolemail://" if not PRODUCTION else "smtp://localhost:25"
)
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="api-security-portal@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# A mail server that accepts the connection and then stalls must not hold a worker until its hard limit.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
# Where people reach the portal, for links in notifications (e.g. https://api-security.example.com).
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="")

# --- Logging --------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "portal.request_context.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "axes": {"level": "WARNING"},
    },
}

# --- Inventory ------------------------------------------------------------------------------------
# An API whose owners have not re-confirmed its record for this many days is flagged as stale.
INVENTORY_STALE_DAYS = env.int("INVENTORY_STALE_DAYS", default=180)

# --- Uploads --------------------------------------------------------------------------------------
PORTAL_UPLOAD_MAX_BYTES = env.int("PORTAL_UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = PORTAL_UPLOAD_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# The largest request body accepted at all (an upload plus its form fields); refused before reading.
PORTAL_REQUEST_MAX_BYTES = PORTAL_UPLOAD_MAX_BYTES + 1024 * 1024
# Logs read from disk by `manage.py discover_from_logs` are streamed, so they may be far larger.
PORTAL_DISCOVERY_LOG_MAX_BYTES = env.int("PORTAL_DISCOVERY_LOG_MAX_BYTES", default=50 * 1024**3)

# --- Testing: identities at rest, the scanner's client (runs helper) --------------------------------
# The scanner's identities (tokens, passwords) are encrypted with MultiFernet: TESTING_IDENTITY_KEYS
# holds comma-separated Fernet keys, newest first (encrypts; the others still decrypt until
# `manage.py rotate_identity_keys` has re-encrypted every identity with the newest). Or a file named
# by TESTING_IDENTITY_KEYS_FILE, one key a line. Production requires them; development derives one key
# from SECRET_KEY ("development identity key"), which is why changing SECRET_KEY there loses identities.
TESTING_IDENTITY_KEYS = env.list("TESTING_IDENTITY_KEYS", default=[])
if not TESTING_IDENTITY_KEYS and env.str("TESTING_IDENTITY_KEYS_FILE", default=""):
    TESTING_IDENTITY_KEYS = Path(env.str("TESTING_IDENTITY_KEYS_FILE")).read_text().split()
TESTING_IDENTITY_KEYS = [key.strip() for key in TESTING_IDENTITY_KEYS if key.strip()]
if not TESTING_IDENTITY_KEYS:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "TESTING_IDENTITY_KEYS (or TESTING_IDENTITY_KEYS_FILE) must be set when PORTAL_ENV=production."
        )
    import base64 as _base64
    import hashlib as _hashlib

    TESTING_IDENTITY_KEYS = [
        _base64.urlsafe_b64encode(
            _hashlib.sha256(b"development identity key:" + SECRET_KEY.encode()).digest()
        ).decode()
    ]
try:
    from cryptography.fernet import Fernet as _Fernet

    for _key in TESTING_IDENTITY_KEYS:
        _Fernet(_key)
except (ValueError, TypeError):
    # Never echo the key itself.
    raise ImproperlyConfigured(
        "TESTING_IDENTITY_KEYS must be Fernet keys (32 url-safe base64-encoded bytes each, comma-separated)."
    ) from None

# Every outbound request of a check: its timeouts (seconds, per socket operation; the whole exchange
# gets three times that) and requests per second to one host:port (0: no limit).
SCANNER_TIMEOUT_SECONDS = env.float("SCANNER_TIMEOUT_SECONDS", default=10.0)
SCANNER_PER_HOST_RATE = env.float("SCANNER_PER_HOST_RATE", default=10.0)
if SCANNER_TIMEOUT_SECONDS <= 0 or SCANNER_PER_HOST_RATE < 0:
    raise ImproperlyConfigured("SCANNER_TIMEOUT_SECONDS must be positive and SCANNER_PER_HOST_RATE >= 0.")
# --- end of testing settings -------------------------------------------------------------------------
