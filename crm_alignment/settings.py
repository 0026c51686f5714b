"""Settings for CRM Strategy Alignment; every value comes from the environment.

See .env.example for the full list.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_currency, env_int, env_list, env_networks, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CRM_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", default=False)

_SECRET_KEY_PLACEHOLDERS = ("replace-with", "replace-me", "change-me", "changeme", "placeholder")
# In development a fixed key is fine; with DEBUG off a missing key must stop the process,
# never fall back to something guessable.
if DEBUG:
    SECRET_KEY = env_str("DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me")
else:
    SECRET_KEY = env_str("DJANGO_SECRET_KEY", required=True)
    if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 random characters.")
    # .env.example ships a long placeholder so `docker compose config` can validate the file;
    # copied unchanged it would be a key anyone can read, so it must not start the app.
    if any(marker in SECRET_KEY.lower() for marker in _SECRET_KEY_PLACEHOLDERS):
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is still a placeholder; set it to a random value, e.g. the output "
            'of: python -c "import secrets; print(secrets.token_urlsafe(64))"'
        )

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"] if DEBUG else []
)
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Set DJANGO_ALLOWED_HOSTS when DJANGO_DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
# The address people reach the site at (scheme, host, port; no path): what makes the links in
# messages sent from outside a request absolute: webhooks, and every mail (a notification's
# subject, the preferences, the one-click unsubscribe, the monthly board pack). Unset with DEBUG
# off, those links are paths only (`manage.py check` warns).
SITE_URL = env_str("SITE_URL", "http://localhost:8000" if DEBUG else "").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "knox",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "auditlog",
    "core",
    "crm_alignment",
    "goals",
    "strategies",
    "projects",
    "alignment",
    "onboarding",
    "webhooks",
    "reports",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Every response Django makes carries the Content-Security-Policy (below); static files
    # served by WhiteNoise above need none.
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.middleware.HostileInputMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every write of the request is recorded with its channel (page, api, admin) and user.
    "core.middleware.AuditChannelMiddleware",
    "core.middleware.DefaultDenyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: turns a lockout detected by the axes backend into our 429 (crm_alignment.accounts).
    "axes.middleware.AxesMiddleware",
]

# The axes backend first: it refuses a locked-out username or address before a password is
# checked, on every path that calls authenticate() (page login, admin login, API token).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "crm_alignment.urls"
WSGI_APPLICATION = "crm_alignment.wsgi.application"
ASGI_APPLICATION = "crm_alignment.asgi.application"

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
                "crm_alignment.context_processors.roles",
                "notifications.context_processors.unread",
            ],
        },
    },
]

# Default: a SQLite file under var/, so a fresh checkout works with nothing installed.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'crm_alignment.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web process and the worker share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
    "DATABASE_PREPARED_STATEMENTS", default=True
):
    # psycopg prepares a statement once a connection has run it twice. Only the statements kept
    # compiled (core.slots.KeptValues) run on cursors that can be prepared; Django's own bind
    # on the client and never are. Off behind a pooler that cannot keep prepared statements.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 2
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "UTC")

# The one currency every amount is in and is shown with (core.money); budgets are not
# converted, so changing it relabels the figures, it does not convert them.
CURRENCY = env_currency("CURRENCY", "EUR")

USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Email: the console backend by default, so password resets are readable in the terminal.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "crm-alignment@localhost")
# Seconds an SMTP connection or command may take before the send fails (and is retried).
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)

# Notifications (the notifications app): a mail that fails is tried again after 1, 2, 4, …
# times the backoff, at most NOTIFICATIONS_MAIL_MAX_ATTEMPTS times in all; pending mails due
# longer ago than the grace period lost their task, and the sweep queues them again.
NOTIFICATIONS_MAIL_MAX_ATTEMPTS = env_int("NOTIFICATIONS_MAIL_MAX_ATTEMPTS", 5)
NOTIFICATIONS_MAIL_BACKOFF_SECONDS = env_int("NOTIFICATIONS_MAIL_BACKOFF_SECONDS", 60)
NOTIFICATIONS_MAIL_BACKOFF_MAX_SECONDS = env_int("NOTIFICATIONS_MAIL_BACKOFF_MAX_SECONDS", 3600)
NOTIFICATIONS_MAIL_SWEEP_GRACE_SECONDS = env_int("NOTIFICATIONS_MAIL_SWEEP_GRACE_SECONDS", 600)
# In-app notifications (and the events and mail records nobody holds) are kept this long.
NOTIFICATIONS_KEEP_DAYS = env_int("NOTIFICATIONS_KEEP_DAYS", 90)

# Security: strict by default once DEBUG is off (check --deploy passes).
# Request bodies (forms, and JSON through core.parsers.JSONParser) above this are refused with 400;
# the largest real request, a project with 200 links and their rationales, is about 120 KB.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DJANGO_MAX_BODY_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
# A file upload (the portfolio workbook, on the views marked core.middleware.accepts_upload) may
# be this large; its bytes are kept in the database until the import job has read them. Django
# spools a file above FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary file while the request is read,
# so a large upload costs disk, not memory. Any other request keeps the limit above.
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 50 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2621440
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
# No SECURE_PROXY_SSL_HEADER: Django would believe X-Forwarded-Proto from any client, since the
# raw header reaches it whoever sent it. request.is_secure() reads wsgi.url_scheme instead, which
# gunicorn sets to https only when a peer in FORWARDED_ALLOW_IPS (the TLS proxy) says so.
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Content-Security-Policy (django-csp): scripts, styles, fonts and requests from this origin
# only; no inline script or style anywhere (handlers live in static/js, styles in the
# stylesheets) and nothing evaluated from strings, so injected markup cannot run or restyle
# the page. `data:` images are the icons inside the Swagger UI's stylesheet.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

API_NUM_PROXIES = env_int("API_NUM_PROXIES", 0)
if API_NUM_PROXIES < 0:
    raise ImproperlyConfigured("API_NUM_PROXIES must be 0 or more (the trusted proxies in front).")

# Lockout (django-axes) on every sign-in path: page login, /admin/login/, POST /api/auth/token/.
# Failures are counted per username and, separately, per client address; either reaching the
# limit locks for the cool-off. A success resets that username's count and is never counted.
# Attempts live in the database (AccessAttempt), not the cache, so sign-in works without Redis.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
LOGIN_COOLOFF_MINUTES = env_int("LOGIN_COOLOFF_MINUTES", 15)
if LOGIN_FAILURE_LIMIT < 1 or LOGIN_COOLOFF_MINUTES < 1:
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT and LOGIN_COOLOFF_MINUTES must be 1 or more.")
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "crm_alignment.accounts.attempted_username"
# The same address the API's throttles use: REMOTE_ADDR, or X-Forwarded-For as far back as
# API_NUM_PROXIES trusts (the client writes the rest of that header).
AXES_CLIENT_IP_CALLABLE = "crm_alignment.accounts.client_address"
AXES_LOCKOUT_CALLABLE = "crm_alignment.accounts.locked_out"
# Successful sign-ins are not logged in a table of their own (it would grow without bound).
AXES_DISABLE_ACCESS_LOG = True
AXES_HTTP_RESPONSE_CODE = 429

# Password-reset requests per client address, as "N/period" (crm_alignment.accounts). There is
# no password to fail, so axes does not see them; the limit fails open when the cache is down.
PASSWORD_RESET_THROTTLE = env_rate("PASSWORD_RESET_THROTTLE", "10/min")

# API tokens (django-rest-knox): stored as a SHA-512 digest, valid for API_TOKEN_TTL days.
API_TOKEN_TTL = env_int("API_TOKEN_TTL", 30)
if API_TOKEN_TTL < 1:
    raise ImproperlyConfigured("API_TOKEN_TTL must be a whole number of days, 1 or more.")
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=API_TOKEN_TTL),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "knox.auth.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Filters and `ordering` come from each resource's FilterSet (core.filters), the same class
    # its list page uses; DRF's own OrderingFilter would read `ordering` a second time.
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "core.api.SearchFilter",
    ],
    # JSON only: every answer, errors included, is JSON whatever the client's Accept header
    # (one that excludes JSON gets a JSON 406), encoded with orjson (core.renderers). The docs
    # UI is /api/docs/.
    "DEFAULT_RENDERER_CLASSES": ["core.renderers.JSONRenderer"],
    # JSON with a depth, size and NUL-character limit (core.parsers.JSONParser); forms as DRF's.
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    # Any DRF throttle keys on the client address: REMOTE_ADDR when 0, else the address this
    # many trusted proxies back in X-Forwarded-For (as crm_alignment.accounts.client_address).
    # Unset (None) DRF would trust the whole header, which the client writes.
    "NUM_PROXIES": API_NUM_PROXIES,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CRM Strategy Alignment API",
    "DESCRIPTION": "Goals, strategies, CRM projects, features and alignment flags.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `status` / `state`; name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "GoalStatusEnum": "goals.models.GoalStatus",
        "StrategyStatusEnum": "strategies.models.StrategyStatus",
        "ProjectStatusEnum": "projects.models.ProjectStatus",
        "FeatureStatusEnum": "projects.models.FeatureStatus",
        "FlagStateEnum": "alignment.models.FlagState",
        "ScanStateEnum": "alignment.models.ScanState",
    },
}

# A cache or broker that hangs must not hold a web worker: every connection attempt and every
# read or write gives up after these many seconds (the callers then fail open or answer 503).
CACHE_CONNECT_TIMEOUT_SECONDS = env_int("CACHE_CONNECT_TIMEOUT_SECONDS", 2)
CACHE_SOCKET_TIMEOUT_SECONDS = env_int("CACHE_SOCKET_TIMEOUT_SECONDS", 2)
CELERY_BROKER_CONNECT_TIMEOUT_SECONDS = env_int("CELERY_BROKER_CONNECT_TIMEOUT_SECONDS", 2)
CELERY_BROKER_SOCKET_TIMEOUT_SECONDS = env_int("CELERY_BROKER_SOCKET_TIMEOUT_SECONDS", 2)

CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env_str("CACHE_URL"),
            # Passed to redis-py's connection pool.
            "OPTIONS": {
                "socket_connect_timeout": CACHE_CONNECT_TIMEOUT_SECONDS,
                "socket_timeout": CACHE_SOCKET_TIMEOUT_SECONDS,
            },
        }
        if env_str("CACHE_URL")
        else {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "crm_alignment_cache",
        }
    )
}

# Celery. Zero-setup default: a file-based broker under var/ that a local worker with an
# embedded beat reads (make run); tests run tasks eagerly unless a real broker is configured.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery-queue"
    for _sub in ("processed", "control"):
        (_queue_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_queue_dir / "processed"),
        # Broadcast (worker control) messages; kombu defaults to ./control otherwise.
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": CELERY_BROKER_CONNECT_TIMEOUT_SECONDS,
        "socket_timeout": CELERY_BROKER_SOCKET_TIMEOUT_SECONDS,
    }
CELERY_BROKER_CONNECTION_TIMEOUT = CELERY_BROKER_CONNECT_TIMEOUT_SECONDS
# Publishing (a scan request, a re-check after an edit) runs in a web request: one quick retry,
# then the caller answers 503 or logs the lost re-check (Celery's default retries three times).
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# One queue name per deployment (and per parallel test worker) sharing a broker.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = TIME_ZONE

# Alignment engine.
ALIGNMENT_SCAN_INTERVAL_SECONDS = env_int("ALIGNMENT_SCAN_INTERVAL_SECONDS", 15 * 60)
# Edits within this window are coalesced into one re-check.
ALIGNMENT_RECHECK_DELAY_SECONDS = env_int("ALIGNMENT_RECHECK_DELAY_SECONDS", 2)
# A scan that runs longer than this (waiting for the lock included) stops, rolls back and is
# recorded as failed. A full scan of 100,000 projects takes about 20 s on PostgreSQL (README).
ALIGNMENT_SCAN_TIME_LIMIT_SECONDS = env_int("ALIGNMENT_SCAN_TIME_LIMIT_SECONDS", 300)
# How long a scan waits for another one to finish before it gives up (and says so).
ALIGNMENT_SCAN_LOCK_WAIT_SECONDS = env_int("ALIGNMENT_SCAN_LOCK_WAIT_SECONDS", 120)
# A worker starts one scan at most this many times (redeliveries after a lost worker and retries
# after a lost database connection together), then records it as failed.
ALIGNMENT_SCAN_MAX_ATTEMPTS = env_int("ALIGNMENT_SCAN_MAX_ATTEMPTS", 5)
# A requested scan no worker has started after this long has lost its queue message (or no
# worker runs): the sweep records it as failed, and a late message is dropped.
ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS = env_int("ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS", 15 * 60)
# How often the sweep looks for scans that can no longer finish.
ALIGNMENT_SCAN_SWEEP_SECONDS = env_int("ALIGNMENT_SCAN_SWEEP_SECONDS", 60)
if not 0 < ALIGNMENT_SCAN_LOCK_WAIT_SECONDS < ALIGNMENT_SCAN_TIME_LIMIT_SECONDS:
    raise ImproperlyConfigured(
        "ALIGNMENT_SCAN_LOCK_WAIT_SECONDS must be more than 0 and less than "
        "ALIGNMENT_SCAN_TIME_LIMIT_SECONDS (the wait counts towards the limit)."
    )
if ALIGNMENT_SCAN_MAX_ATTEMPTS < 1 or ALIGNMENT_SCAN_SWEEP_SECONDS < 1:
    raise ImproperlyConfigured(
        "ALIGNMENT_SCAN_MAX_ATTEMPTS and ALIGNMENT_SCAN_SWEEP_SECONDS must be 1 or more."
    )
# The times below follow from the limit, so that they always agree with each other:
# Celery kills a scan task still running this long after its soft limit (prefork pool); the
# broker hands a message whose worker died to another worker only after every task could have
# ended (so a running scan is never handed out twice); and a scan still `running` after that,
# plus two rounds of the broker's check, lost its worker for good.
_SCAN_GRACE_SECONDS = max(5, ALIGNMENT_SCAN_TIME_LIMIT_SECONDS // 10)
ALIGNMENT_SCAN_HARD_TIME_LIMIT_SECONDS = ALIGNMENT_SCAN_TIME_LIMIT_SECONDS + _SCAN_GRACE_SECONDS
CELERY_BROKER_VISIBILITY_TIMEOUT_SECONDS = (
    ALIGNMENT_SCAN_HARD_TIME_LIMIT_SECONDS + _SCAN_GRACE_SECONDS
)
CELERY_BROKER_RESTORE_INTERVAL_SECONDS = env_int("CELERY_BROKER_RESTORE_INTERVAL_SECONDS", 10)
ALIGNMENT_SCAN_STALE_SECONDS = (
    CELERY_BROKER_VISIBILITY_TIMEOUT_SECONDS
    + 2 * CELERY_BROKER_RESTORE_INTERVAL_SECONDS
    + _SCAN_GRACE_SECONDS
)
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        visibility_timeout=CELERY_BROKER_VISIBILITY_TIMEOUT_SECONDS,
        unacked_restore_interval=CELERY_BROKER_RESTORE_INTERVAL_SECONDS,
        # Look at every interval, not every tenth (kombu's default throttle).
        unacked_restore_throttle=1,
    )
# Outgoing webhooks (webhooks app; README, "Webhooks"). A POST waits this long to connect and
# this long for each read; a delivery is tried this many times in all (5xx, timeouts, connection
# and DNS failures are retried after 2, 4, 8, … seconds, at most WEBHOOK_RETRY_MAX_SECONDS); a
# webhook failing this many times in a row is paused and its owner told.
WEBHOOK_CONNECT_TIMEOUT_SECONDS = env_int("WEBHOOK_CONNECT_TIMEOUT_SECONDS", 5)
WEBHOOK_READ_TIMEOUT_SECONDS = env_int("WEBHOOK_READ_TIMEOUT_SECONDS", 10)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 5)
WEBHOOK_RETRY_MAX_SECONDS = env_int("WEBHOOK_RETRY_MAX_SECONDS", 600)
WEBHOOK_PAUSE_AFTER_FAILURES = env_int("WEBHOOK_PAUSE_AFTER_FAILURES", 10)
# How often beat queues again the deliveries whose queued send was lost (due this long ago).
WEBHOOK_SWEEP_SECONDS = env_int("WEBHOOK_SWEEP_SECONDS", 60)
if (
    min(
        WEBHOOK_CONNECT_TIMEOUT_SECONDS,
        WEBHOOK_READ_TIMEOUT_SECONDS,
        WEBHOOK_MAX_ATTEMPTS,
        WEBHOOK_RETRY_MAX_SECONDS,
        WEBHOOK_PAUSE_AFTER_FAILURES,
        WEBHOOK_SWEEP_SECONDS,
    )
    < 1
):
    raise ImproperlyConfigured("The WEBHOOK_* numbers must be 1 or more.")
# Webhooks may not reach private, loopback, link-local or reserved addresses, except these
# (comma-separated addresses or networks, e.g. "10.1.2.0/24,127.0.0.1"). Empty: none.
WEBHOOK_ALLOWED_PRIVATE_NETWORKS = env_networks("WEBHOOK_ALLOWED_PRIVATE_NETWORKS")

CELERY_BEAT_SCHEDULE = {
    "alignment-full-scan": {
        "task": "alignment.tasks.run_full_scan",
        "schedule": float(ALIGNMENT_SCAN_INTERVAL_SECONDS),
    },
    # The kept row counts of the big tables (core.counts): each table's changes folded into one.
    "core-compact-row-counts": {
        "task": "core.tasks.compact_row_counts",
        "schedule": 600.0,
    },
    "alignment-sweep-stale-scans": {
        "task": "alignment.tasks.sweep_stale_scans",
        "schedule": float(ALIGNMENT_SCAN_SWEEP_SECONDS),
    },
    # Import jobs whose worker or queue message was lost end as failed, with the reason.
    "onboarding-sweep-stale-imports": {
        "task": "onboarding.tasks.sweep_stale_imports",
        "schedule": float(ALIGNMENT_SCAN_SWEEP_SECONDS),
    },
    # Webhook deliveries whose queued send was lost are queued again.
    "webhooks-sweep-deliveries": {
        "task": "webhooks.tasks.sweep_deliveries",
        "schedule": float(WEBHOOK_SWEEP_SECONDS),
    },
    # Board-pack jobs likewise; and the board pack mailed on the 1st of each month to the
    # executives and sponsors who opted in (once per person and month: delivery records).
    "reports-sweep-stale-jobs": {
        "task": "reports.tasks.sweep_stale_report_jobs",
        "schedule": float(ALIGNMENT_SCAN_SWEEP_SECONDS),
    },
    "reports-monthly-board-pack": {
        "task": "reports.tasks.mail_monthly_board_packs",
        "schedule": crontab(minute=0, hour=6, day_of_month=1),
    },
    # Notifications: mails whose task was lost are queued again; the daily reminders (waivers
    # expiring, check-ins due) at 06:00; the weekly digest on Monday at 07:00; in-app
    # notifications older than NOTIFICATIONS_KEEP_DAYS deleted nightly.
    "notifications-sweep-mail": {
        "task": "notifications.tasks.sweep_mail",
        "schedule": 300.0,
    },
    "notifications-daily-reminders": {
        "task": "notifications.tasks.emit_daily_reminders",
        "schedule": crontab(minute="0", hour="6"),
    },
    "notifications-weekly-digest": {
        "task": "notifications.tasks.send_weekly_digests",
        "schedule": crontab(minute="0", hour="7", day_of_week="1"),
    },
    "notifications-purge": {
        "task": "notifications.tasks.purge_old_notifications",
        "schedule": crontab(minute="30", hour="3"),
    },
}

# Board pack (reports): up to this many live projects the PDF is made within the request;
# above, GET /api/reports/board.pdf answers 202 with a job a worker makes it in.
REPORTS_BOARD_PACK_SYNC_MAX_PROJECTS = env_int("REPORTS_BOARD_PACK_SYNC_MAX_PROJECTS", 300)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # WeasyPrint's font subsetting (the board pack) logs every glyph table at INFO.
        "fontTools": {"level": "WARNING"},
    },
}


# Change history (django-auditlog; core.audit adds the channel and the pages of an entry).
# Every save and delete of these models is recorded with {field: [old, new]}; the ones a
# restore brings back keep the row as it was (`serialize_data`).
AUDITLOG_LOGENTRY_MODEL = "crm_alignment.HistoryEntry"
# auditlog's own migrations only create its default entry table, which the entry model above
# replaces: unused, that table would still hold a foreign key to the users (and stop a
# PostgreSQL flush of them). Its app has no other model, so it runs no migrations here.
MIGRATION_MODULES = {"auditlog": None}
AUDITLOG_STORE_JSON_CHANGES = True
AUDITLOG_DISABLE_REMOTE_ADDR = True
# Bookkeeping every service write bumps (and who last changed a status, and when): the history
# entry says who and when already. core.audit leaves the same fields out of the entries it
# writes for bulk writes.
AUDIT_NOT_TRACKED = [
    "version",
    "updated_at",
    "updated_by",
    "created_at",
    "status_changed_at",
    "status_changed_by",
]
AUDITLOG_INCLUDE_TRACKING_MODELS = tuple(
    {"model": label, "serialize_data": True, "exclude_fields": AUDIT_NOT_TRACKED}
    for label in (
        "goals.BusinessGoal",
        "goals.KPI",
        "goals.KPICheckIn",
        "strategies.BusinessStrategy",
        "strategies.CRMStrategy",
        "strategies.CRMStrategyServes",
        "projects.CRMProject",
        "projects.ProjectLink",
        "projects.Feature",
        "projects.FeatureLink",
        "projects.SuccessMetric",
        "projects.RoadmapPhase",
        "projects.ProjectCheckIn",
        "projects.ProjectDecision",
        "projects.Department",
        "reports.BoardPackSubscription",
        "projects.UserGroup",
        "projects.ProjectUserGroup",
        "projects.System",
        "projects.ProjectSystem",
        "projects.MetricReading",
        "notifications.Preference",
    )
)
# A webhook's secret is never written to the history (nor its failure bookkeeping).
AUDITLOG_INCLUDE_TRACKING_MODELS += (
    {
        "model": "webhooks.Webhook",
        "serialize_data": True,
        "exclude_fields": [*AUDIT_NOT_TRACKED, "secret", "consecutive_failures", "paused_at"],
    },
)
