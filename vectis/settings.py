"""Vectis settings: the one settings module.

Every value comes from the environment through the small strict helpers
below. A value that does not parse is a start-up error naming the variable,
never a silent fallback (a typo in DEBUG must not mean "False").
"""

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from celery.schedules import crontab
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name, default=""):
    return os.environ.get(name, default)


def env_bool(name, default):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use true or false")


def env_int(name, default, minimum=None):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}")
    return value


def env_list(name, default=()):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_from_url(name, url):
    """Turn DATABASE_URL into a DATABASES entry (SQLite or PostgreSQL only)."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # sqlite:///relative/file or sqlite:////absolute/file, as in SQLAlchemy.
        path = unquote(url.split("sqlite:///", 1)[1]) if url.startswith("sqlite:///") else ""
        if not path:
            raise ImproperlyConfigured(f"{name}={url!r} names no SQLite file")
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path}
    if parsed.scheme in ("postgres", "postgresql"):
        db_name = unquote(parsed.path.lstrip("/"))
        if not db_name:
            raise ImproperlyConfigured(f"{name}={url!r} names no database")
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": db_name,
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "OPTIONS": options,
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    raise ImproperlyConfigured(
        f"{name} must start with postgres:// or sqlite:///, got scheme {parsed.scheme!r}"
    )


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

_time_zone = env_str("TIME_ZONE", "UTC")
try:
    ZoneInfo(_time_zone)
except (ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TIME_ZONE={_time_zone!r} is not a known time zone") from None
TIME_ZONE = _time_zone  # default display zone; each user may pick their own
USE_TZ = True
USE_I18N = False
LANGUAGE_CODE = "en-us"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "csp",
    "vectis",
    "accounts",
    "audit",
    "customers",
    "integrations",
    "security",
    "compliance",
]
if DEBUG:
    # The demo (`./dev run`: run_demo, m365_simulator) is development-only;
    # neither demo/ nor graphsim/ is in the production image.
    INSTALLED_APPS.append("demo")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.access.UserTimeZoneMiddleware",
]

ROOT_URLCONF = "vectis.urls"
WSGI_APPLICATION = "vectis.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "customers:list"
LOGOUT_REDIRECT_URL = "login"

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
                "vectis.context.navigation",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------
VAR_DIR = BASE_DIR / "var"
_database_url = env_str("DATABASE_URL")
if _database_url:
    DATABASES = {"default": database_from_url("DATABASE_URL", _database_url)}
else:
    VAR_DIR.mkdir(exist_ok=True)
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "vectis.sqlite3"}
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker and cache ----------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured(f"REDIS_URL must start with redis:// or rediss://, got {REDIS_URL!r}")
if not REDIS_URL and not DEBUG:
    # Without a broker, tasks would run inside web requests and the sign-in
    # counters would live in each web process: the embedded mode is for DEBUG only.
    raise ImproperlyConfigured("REDIS_URL must be set when DEBUG is off (the Celery broker and shared cache)")

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
# Without a broker the tasks run in the calling process, so a fresh machine
# works with nothing else installed.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# No result backend: task return values are never stored anywhere, so a
# task can never leak data through its result.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = "UTC"
# A broker restart (Redis keeps nothing on disk) must not stop a sync that is
# running: it finishes and writes its result; only its acknowledgement is lost,
# and its message with it. (Celery 6 would cancel it, losing the run's work.)
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# beat writes its schedule file after every task it sends, so a beat killed and
# restarted does not send the same due task again (docs/operations.md).
CELERY_BEAT_SYNC_EVERY = 1

VECTIS_MAIL_SYNC_MINUTES = env_int("VECTIS_MAIL_SYNC_MINUTES", 10, minimum=1)
# A claim (a mailbox's sync, the posture collection: integrations.setup.claims) not
# refreshed for this long belongs to a worker that died, and another run may
# take the work over. Keep it well above the
# longest single Graph request with its retries (a few minutes); tests that
# kill workers set it to seconds.
VECTIS_SYNC_CLAIM_STALE_SECONDS = env_int("VECTIS_SYNC_CLAIM_STALE_SECONDS", 15 * 60, minimum=2)
VECTIS_RETENTION_DAYS = env_int("VECTIS_RETENTION_DAYS", 30, minimum=1)
VECTIS_POSTURE_SYNC_HOUR = env_int("VECTIS_POSTURE_SYNC_HOUR", 2, minimum=0)
# /security flags a customer whose privileged MFA % is below this.
VECTIS_PRIVILEGED_MFA_THRESHOLD = env_int("VECTIS_PRIVILEGED_MFA_THRESHOLD", 100, minimum=0)

CELERY_BEAT_SCHEDULE = {
    "mail-sync": {
        "task": "integrations.tasks.sync_all_mailboxes",
        "schedule": VECTIS_MAIL_SYNC_MINUTES * 60,
    },
    "retention-purge": {
        "task": "integrations.tasks.purge_old_communications",
        "schedule": crontab(hour=3, minute=15),
    },
    "posture-sync": {
        "task": "integrations.tasks.sync_posture",
        "schedule": crontab(hour=VECTIS_POSTURE_SYNC_HOUR, minute=0),
    },
    # A posture run whose worker died is taken over within the stale time plus this.
    "resume-orphaned-work": {
        "task": "integrations.tasks.resume_orphaned_work",
        "schedule": max(30, VECTIS_SYNC_CLAIM_STALE_SECONDS / 3),
    },
}

# --- Microsoft 365 ---------------------------------------------------------
VECTIS_ENCRYPTION_KEYS = env_list("VECTIS_ENCRYPTION_KEYS")
if not VECTIS_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "VECTIS_ENCRYPTION_KEYS must hold at least one Fernet key when DEBUG is off"
        )
    # Dev-only key so the demo works out of the box; never used in production.
    VECTIS_ENCRYPTION_KEYS = ["ZGV2LW9ubHkta2V5LWRvLW5vdC11c2UtaW4tcHJvZCE="]


def fernet_keys_check(name, keys):
    """Every key must be a Fernet key; the message names the variable and the position, never the key."""
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"{name}: key {position} of {len(keys)} is not a Fernet key "
                "(32 url-safe base64-encoded bytes, as Fernet.generate_key() prints)"
            ) from None


fernet_keys_check("VECTIS_ENCRYPTION_KEYS", VECTIS_ENCRYPTION_KEYS)
VECTIS_GRAPH_BASE_URL = env_str("VECTIS_GRAPH_BASE_URL", "https://graph.microsoft.com/v1.0").rstrip("/")
VECTIS_LOGIN_BASE_URL = env_str("VECTIS_LOGIN_BASE_URL", "https://login.microsoftonline.com").rstrip("/")
# A CA bundle for a self-signed Graph stand-in (the simulator); empty means
# the normal trust store.
VECTIS_GRAPH_CA_BUNDLE = env_str("VECTIS_GRAPH_CA_BUNDLE")
if VECTIS_GRAPH_CA_BUNDLE and not Path(VECTIS_GRAPH_CA_BUNDLE).is_file():
    raise ImproperlyConfigured(f"VECTIS_GRAPH_CA_BUNDLE={VECTIS_GRAPH_CA_BUNDLE!r} is not a file")
VECTIS_SECRET_EXPIRY_WARNING_DAYS = 14

# --- Compliance evidence packs ---------------------------------------------
# The share (whole percent) of in-scope accounts that must have MFA registered
# for an MFA control row to be "met", one setting per framework. The value is
# written into every pack, so a pack always states the rule that judged it.
VECTIS_MET_THRESHOLD_CMMC = env_int("VECTIS_MET_THRESHOLD_CMMC", 100, minimum=1)
VECTIS_MET_THRESHOLD_HIPAA = env_int("VECTIS_MET_THRESHOLD_HIPAA", 100, minimum=1)
VECTIS_MET_THRESHOLD_SOC2 = env_int("VECTIS_MET_THRESHOLD_SOC2", 100, minimum=1)
for _name, _value in (("VECTIS_MET_THRESHOLD_CMMC", VECTIS_MET_THRESHOLD_CMMC),
                      ("VECTIS_MET_THRESHOLD_HIPAA", VECTIS_MET_THRESHOLD_HIPAA),
                      ("VECTIS_MET_THRESHOLD_SOC2", VECTIS_MET_THRESHOLD_SOC2)):
    if _value > 100:
        raise ImproperlyConfigured(f"{_name}={_value!r} must be at most 100")

# --- Static files ----------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security --------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=300)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if env_bool("VECTIS_BEHIND_TLS_PROXY", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# No inline script anywhere; remote images only appear inside message bodies
# once a user asks to load them (the sanitiser strips them otherwise).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "https:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

_log_levels = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").strip().upper()
if LOG_LEVEL not in _log_levels:
    raise ImproperlyConfigured(f"LOG_LEVEL={os.environ['LOG_LEVEL']!r} is not a log level: use one of {', '.join(_log_levels)}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # urllib3 at DEBUG prints request lines, which may carry mailbox UPNs;
    # django.template at DEBUG prints whole template contexts on a failed
    # variable lookup, and the body view's context holds a message body.
    "loggers": {"urllib3": {"level": "WARNING"}, "msal": {"level": "WARNING"}, "django.template": {"level": "INFO"}},
}

VECTIS_VERSION = "0.1.0"
