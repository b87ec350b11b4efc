"""Rightsdesk settings, read from the environment.

Every variable is listed with its default and meaning in README.md ("Settings"). Outside
production, missing keys are generated once under var/keys/ so that every command works on
a clean clone; with RIGHTSDESK_ENV=production they are required.
"""

from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from rightsdesk.envkeys import (
    env_bool,
    env_int,
    env_str,
    key_from_env_or_file,
    new_data_key,
    new_secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("RIGHTSDESK_VAR_DIR", str(BASE_DIR / "var")))
RIGHTSDESK_ENV = env_str("RIGHTSDESK_ENV", "development")
PRODUCTION = RIGHTSDESK_ENV == "production"

SECRET_KEY = key_from_env_or_file(
    name="SECRET_KEY", key_dir=VAR_DIR / "keys", production=PRODUCTION, make=new_secret_key
)
# Wraps the per-talent data keys (AES-GCM); its id is stored beside every wrapped key so
# that keys can rotate.
RIGHTSDESK_DATA_KEY = key_from_env_or_file(
    name="RIGHTSDESK_DATA_KEY", key_dir=VAR_DIR / "keys", production=PRODUCTION, make=new_data_key
)
RIGHTSDESK_DATA_KEY_ID = env_str("RIGHTSDESK_DATA_KEY_ID", "k1")
# Older key-encryption keys, "id:base64,id:base64": they only unwrap, until
# `manage.py rotate_data_keys` has rewrapped every data key under the current one.
RIGHTSDESK_DATA_KEYS_OLD = env_str("RIGHTSDESK_DATA_KEYS_OLD", "")

DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [
    h.strip() for h in env_str("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
]
CSRF_TRUSTED_ORIGINS = [o for o in env_str("CSRF_TRUSTED_ORIGINS", "").split(",") if o]
RIGHTSDESK_BASE_URL = env_str("RIGHTSDESK_BASE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "rightsdesk.core",
    "rightsdesk.accounts",
    "rightsdesk.audit",
    "rightsdesk.talent",
    "rightsdesk.agreements",
    "rightsdesk.licensing",
    "rightsdesk.consent",
    "rightsdesk.renders",
    "rightsdesk.provenance",
    "rightsdesk.ledger",
    "rightsdesk.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "rightsdesk.urls"
WSGI_APPLICATION = "rightsdesk.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]


# A web server and a worker write at once: without these SQLite answers
# "database is locked" (PITFALLS.md). In WAL mode synchronous=NORMAL syncs at checkpoints
# rather than at every commit: the file cannot be corrupted, and only the last commits
# before a power cut can be lost. SQLite is the embedded demo database, not production.
_SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}


def _database() -> dict:
    url = env_str("DATABASE_URL")
    if url:
        # Persistent connections: a 3x throughput factor here (PITFALLS.md).
        db = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
        if db["ENGINE"] == "django.db.backends.postgresql":
            options = db.setdefault("OPTIONS", {})
            options["server_side_binding"] = True
            # Prepared after a statement's second run: planning, not running, is most of a
            # small query's time here (PITFALLS.md). Django turns psycopg's preparing off
            # unless asked (for poolers in transaction mode, which we do not use).
            prepare = env_str("RIGHTSDESK_PG_PREPARE_THRESHOLD", "2").strip().lower()
            options["prepare_threshold"] = (
                None if prepare == "none" else env_int("RIGHTSDESK_PG_PREPARE_THRESHOLD", 2)
            )
        if db["ENGINE"] == "django.db.backends.sqlite3":
            # A sqlite:// URL (the worker a test starts on the test database) needs them too.
            db["OPTIONS"] = {**_SQLITE_OPTIONS, **db.get("OPTIONS", {})}
        return db
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "rightsdesk.sqlite3",
        "OPTIONS": dict(_SQLITE_OPTIONS),
        # Kept open between a worker's tasks as on PostgreSQL (reopening cost ~0.65 ms a task).
        "CONN_MAX_AGE": 60,
        # A file, not memory, so that a worker process started by a test can see it.
        "TEST": {"NAME": str(VAR_DIR / "test.sqlite3")},
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []
MEDIA_ROOT = Path(env_str("RIGHTSDESK_MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("RIGHTSDESK_MAX_UPLOAD_BYTES", 25 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Outside production, e-mail is written to files under var/mail (one per message), so the
# demo's notices can be read there and do not flood its console; production names a real
# backend (SMTP, or a provider's).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Rightsdesk <no-reply@rightsdesk.test>")
# The SMTP backend's server. A notice is e-mailed after its transaction commits, by the
# process that committed it (a web worker, or a GPU worker after a render): without a
# timeout, a mail server that stops answering would hold that process for good.
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
# Notices are e-mailed on a thread of the process that committed them (core.notifications).
RIGHTSDESK_MAIL_IN_BACKGROUND = env_bool("RIGHTSDESK_MAIL_IN_BACKGROUND", True)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured(
        "EMAIL_USE_TLS (STARTTLS) and EMAIL_USE_SSL (implicit TLS) exclude each other"
    )

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rightsdesk.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rightsdesk.api.pagination.DefaultPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "rightsdesk.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Rightsdesk API",
    "DESCRIPTION": "Licensing, rendering and provenance of fashion models' AI digital twins.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models name their state field "status"; name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "AgreementStatusEnum": "rightsdesk.agreements.models.Agreement.Status",
        "AgreementVersionStatusEnum": "rightsdesk.agreements.models.AgreementVersion.Status",
        "LicenceStatusEnum": "rightsdesk.licensing.models.Licence.Status",
    },
}

# The render task's time limits, in seconds. The soft limit raises inside the task (the
# render fails and gives its drafts back); the hard limit kills the pool process.
RIGHTSDESK_RENDER_SOFT_LIMIT_S = env_int("RIGHTSDESK_RENDER_SOFT_LIMIT_S", 600)
RIGHTSDESK_RENDER_HARD_LIMIT_S = env_int("RIGHTSDESK_RENDER_HARD_LIMIT_S", 660)
if not 0 < RIGHTSDESK_RENDER_SOFT_LIMIT_S < RIGHTSDESK_RENDER_HARD_LIMIT_S:
    raise ImproperlyConfigured("RIGHTSDESK_RENDER_SOFT_LIMIT_S must be below the hard limit")

# Celery. The embedded default is kombu's filesystem transport under var/broker with a
# 10 ms polling interval (at the default 1 s each task waits up to a second: DESIGN.md).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
RIGHTSDESK_BROKER_DIR = Path(env_str("RIGHTSDESK_BROKER_DIR", str(VAR_DIR / "broker")))
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's file transport with atomic writes (rightsdesk/filebroker.py).
    CELERY_BROKER_TRANSPORT = "rightsdesk.filebroker:Transport"
    for _sub in ("in", "processed"):
        (RIGHTSDESK_BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(RIGHTSDESK_BROKER_DIR / "in"),
        "data_folder_out": str(RIGHTSDESK_BROKER_DIR / "in"),
        "processed_folder": str(RIGHTSDESK_BROKER_DIR / "processed"),
        # Exchange tables (queue bindings, remote control): relative to the working
        # directory unless set, so two workers started from different places would not
        # see each other's queues.
        "control_folder": str(RIGHTSDESK_BROKER_DIR / "control"),
        "store_processed": False,
        # How long an idle worker waits before looking for new messages again: a task
        # waits half of it on average (bench/render_overhead.py); a poll lists one folder.
        "polling_interval": env_int("RIGHTSDESK_BROKER_POLL_MS", 10) / 1000,
    }
else:
    # One visibility timeout per connection: long training jobs have their own queue. It
    # must exceed the render task's hard limit, or Redis would hand a render that is still
    # running to a second worker; it is raised to the hard limit plus 5 s if set lower.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": max(
            env_int("CELERY_VISIBILITY", 3600), RIGHTSDESK_RENDER_HARD_LIMIT_S + 5
        )
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Celery's Django fix-up closes every database connection around each task unless this is
# set; renders.tasks closes only broken or CONN_MAX_AGE-old ones, as Django does around a
# request. Reopening cost a render task ~6 ms on SQLite (the connection, then every
# statement prepared anew) and, on PostgreSQL, every prepared statement.
CELERY_DB_REUSE_MAX = 1000
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A gpu pool process loads the pipeline in worker_process_init before it reports up; at
# Celery's default of 4 s a busy machine kills it mid-load, again and again (measured
# here: load average 5, ForkPoolWorker restarts every 4 s, nothing ever rendered).
CELERY_WORKER_PROC_ALIVE_TIMEOUT = env_int("CELERY_WORKER_PROC_ALIVE_TIMEOUT", 120)
CELERY_TASK_DEFAULT_QUEUE = "default"
# Also for messages sent by name (app.send_task), which ignore the task's own options.
CELERY_TASK_ROUTES = {
    "rightsdesk.renders.tasks.render_request_task": {"queue": "gpu"},
    "rightsdesk.talent.tasks.train_likeness_task": {"queue": "training"},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {
    # Daily: expire agreements past their end, remind their parties 30, 7 and 1 days ahead.
    "expire-agreements": {
        "task": "rightsdesk.agreements.tasks.agreements_expire_task",
        "schedule": crontab(hour=2, minute=0),
    },
    # Daily: expire lapsed licence offers and ended licences; remind 30, 7 and 1 days ahead.
    "expire-licences": {
        "task": "rightsdesk.licensing.tasks.licences_expire_task",
        "schedule": crontab(hour=2, minute=10),
    },
    # Trainings nothing touched for the hard limit plus a day lost their task: failed.
    "fail-lost-trainings": {
        "task": "rightsdesk.talent.tasks.trainings_fail_lost_task",
        "schedule": 600.0,
    },
    "sweep-stale-renders": {
        "task": "rightsdesk.renders.tasks.sweep_stale_renders_task",
        "schedule": 60.0,
    },
    # Contractual withdrawals take effect after their notice period: end the licences.
    "apply-due-withdrawals": {
        "task": "rightsdesk.consent.tasks.withdrawals_apply_due_task",
        "schedule": 60.0,
    },
    # Selected images whose approval window passed in silence count as approved; drafts
    # past their deadline expire and release their reserved fees.
    "deem-approved-and-expire-drafts": {
        "task": "rightsdesk.renders.tasks.assets_deem_and_expire_task",
        "schedule": 60.0,
    },
    # Reservations past their deadline are voided as of it (the ledger also does so
    # whenever the same budget reserves again).
    "expire-ledger-reservations": {
        "task": "rightsdesk.ledger.tasks.ledger_expire_reservations_task",
        "schedule": 60.0,
    },
    # Notices whose e-mail failed (or never left a process killed with it queued) are
    # e-mailed again while fresh, up to core.notifications.MAX_EMAIL_ATTEMPTS times.
    "email-unsent-notices": {
        "task": "rightsdesk.core.tasks.notifications_email_unsent_task",
        "schedule": 15 * 60.0,
    },
    # Monthly periods close once their month is over (UTC); statements are then fixed.
    "close-ledger-periods": {
        "task": "rightsdesk.ledger.tasks.ledger_close_periods_task",
        "schedule": crontab(hour=3, minute=0),
    },
}

# Business limits.
# New York Fashion Workers Act caps agency commission at 20% (2,000 basis points).
RIGHTSDESK_MAX_COMMISSION_BPS = env_int("RIGHTSDESK_MAX_COMMISSION_BPS", 2000)
RIGHTSDESK_ALLOW_MINORS = env_bool("RIGHTSDESK_ALLOW_MINORS", False)
# An agreement's maximum licence term: 10 years at most, and 1 year for a minor (whose
# agreement also ends by the day they come of age).
RIGHTSDESK_MAX_LICENCE_TERM_DAYS = env_int("RIGHTSDESK_MAX_LICENCE_TERM_DAYS", 3650)
RIGHTSDESK_MINOR_MAX_LICENCE_TERM_DAYS = env_int("RIGHTSDESK_MINOR_MAX_LICENCE_TERM_DAYS", 365)
RIGHTSDESK_PLATFORM_FEE_BPS = env_int("RIGHTSDESK_PLATFORM_FEE_BPS", 0)
RIGHTSDESK_BASE_MODEL = env_str("RIGHTSDESK_BASE_MODEL", "")
RIGHTSDESK_MODEL_CACHE = Path(env_str("RIGHTSDESK_MODEL_CACHE", str(VAR_DIR / "models")))
RIGHTSDESK_TSA_URL = env_str("RIGHTSDESK_TSA_URL", "")
# Provenance. The production signer: PEM files of the certificate chain (leaf first) and
# its ES256 key; outside production a development CA is made once in var/keys/c2pa/ when
# they are unset. Extra roots to trust when verifying: a PEM bundle file.
RIGHTSDESK_C2PA_CERT_CHAIN = env_str("RIGHTSDESK_C2PA_CERT_CHAIN", "")
RIGHTSDESK_C2PA_PRIVATE_KEY = env_str("RIGHTSDESK_C2PA_PRIVATE_KEY", "")
RIGHTSDESK_C2PA_TRUST_ANCHORS = env_str("RIGHTSDESK_C2PA_TRUST_ANCHORS", "")
# Verification uploads (page, API, command): bytes, then pixels from the header before any
# decoding; per-client rate of the page and the API (DRF rate syntax).
RIGHTSDESK_VERIFY_MAX_BYTES = env_int("RIGHTSDESK_VERIFY_MAX_BYTES", 25 * 1024 * 1024)
RIGHTSDESK_VERIFY_MAX_PIXELS = env_int("RIGHTSDESK_VERIFY_MAX_PIXELS", 50_000_000)
RIGHTSDESK_VERIFY_RATE = env_str("RIGHTSDESK_VERIFY_RATE", "30/minute")
RIGHTSDESK_REPORT_EMAIL = env_str("RIGHTSDESK_REPORT_EMAIL", "report@rightsdesk.test")
# Capture uploads: each image at most this many bytes and pixels. The pixel limit is
# checked from the header before decoding (Pillow itself only refuses above twice its own).
RIGHTSDESK_MAX_CAPTURE_BYTES = env_int("RIGHTSDESK_MAX_CAPTURE_BYTES", 25 * 1024 * 1024)
RIGHTSDESK_MAX_CAPTURE_PIXELS = env_int("RIGHTSDESK_MAX_CAPTURE_PIXELS", 64_000_000)
# A render with no heartbeat for this long is requeued by the sweeper (its worker died),
# at most RIGHTSDESK_RENDER_MAX_REQUEUES times, then failed.
RIGHTSDESK_RENDER_STALE_SECONDS = env_int("RIGHTSDESK_RENDER_STALE_SECONDS", 300)
RIGHTSDESK_RENDER_MAX_REQUEUES = env_int("RIGHTSDESK_RENDER_MAX_REQUEUES", 2)
# A request left queued this long has its task sent again by the sweeper (the broker
# refused the send, or the web process died between its commit and its send).
RIGHTSDESK_RENDER_RESEND_QUEUED_SECONDS = env_int("RIGHTSDESK_RENDER_RESEND_QUEUED_SECONDS", 1800)
# How long an approved request's drafts hold their usage-fee reservations: a draft not
# released by then expires and its reservation is voided.
RIGHTSDESK_DRAFT_LIFETIME_DAYS = env_int("RIGHTSDESK_DRAFT_LIFETIME_DAYS", 30)
# Days an agency (or the platform) has to pass a talent's net earnings on to the talent.
RIGHTSDESK_REMITTANCE_DUE_DAYS = env_int("RIGHTSDESK_REMITTANCE_DUE_DAYS", 45)
# Likeness training (the training queue). Its worker needs a CELERY_VISIBILITY above the
# hard limit, or Redis would hand a job still training to a second worker. A LoRA step at
# 128 px takes ~90 ms on a CPU with the tiny pipeline (PITFALLS.md).
RIGHTSDESK_TRAINING_SOFT_LIMIT_S = env_int("RIGHTSDESK_TRAINING_SOFT_LIMIT_S", 3300)
RIGHTSDESK_TRAINING_HARD_LIMIT_S = env_int("RIGHTSDESK_TRAINING_HARD_LIMIT_S", 3400)
RIGHTSDESK_TRAINING_STEPS = env_int("RIGHTSDESK_TRAINING_STEPS", 200)
RIGHTSDESK_LIKENESS_SAMPLE_SIDE = env_int("RIGHTSDESK_LIKENESS_SAMPLE_SIDE", 128)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
