"""Django settings for Gongzhi; every deployment knob comes from a GONGZHI_* environment variable."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

from gongzhi.core.secrets import load_local_secrets

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("GONGZHI_VAR_DIR", BASE_DIR / "var"))

PRODUCTION = os.environ.get("GONGZHI_ENV", "development") == "production"
if not PRODUCTION:
    # Development and tests get generated keys kept in var/; production must set them.
    load_local_secrets(VAR_DIR)

SECRET_KEY = os.environ["GONGZHI_SECRET_KEY"]
DEBUG = os.environ.get("GONGZHI_DEBUG", "0" if PRODUCTION else "1") == "1"
ALLOWED_HOSTS = os.environ.get("GONGZHI_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

# Personal data: Fernet keys (first encrypts, all decrypt, so keys can rotate) and the lookup-hash key.
GONGZHI_DATA_KEYS = os.environ["GONGZHI_DATA_KEYS"].split(",")
GONGZHI_HASH_KEY = os.environ["GONGZHI_HASH_KEY"]

INSTALLED_APPS = [
    # Gongzhi's apps come first so their translations win over Django's for shared words ("Add", "Save").
    "gongzhi.core",
    "gongzhi.places",
    "gongzhi.accounts",
    "gongzhi.registry",
    "gongzhi.appeals",
    "gongzhi.deliberation",
    "gongzhi.points",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rules.apps.AutodiscoverRulesConfig",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "ninja",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "gongzhi.core.middleware.SessionLifetimeMiddleware",
    "gongzhi.core.ratelimit.RateLimitMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "gongzhi.accounts.middleware.OtpRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "gongzhi.core.audit.AuditMiddleware",
]

ROOT_URLCONF = "gongzhi.urls"
WSGI_APPLICATION = "gongzhi.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "gongzhi.core.context.ui",
            ],
        },
    },
]

# Database: the embedded SQLite file by default, PostgreSQL in production via DATABASE_URL.
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'gongzhi.sqlite3'}"),
        conn_max_age=int(os.environ.get("GONGZHI_DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL + synchronous=FULL: a committed write survives power loss; IMMEDIATE: writers queue for
        # the lock at BEGIN instead of failing with "database is locked" on upgrade.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "rules.permissions.ObjectPermissionBackend",
    "gongzhi.accounts.backends.PhoneOrUsernameBackend",
]
# Passwords (等保 8.1.4.1): length, at least three of four character classes, none of the last N reused,
# and a reminder after login once the password is older than the given age (0 turns the reminder off).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": int(os.environ.get("GONGZHI_PASSWORD_MIN_LENGTH", "8"))}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "gongzhi.accounts.passwords.CharacterClassesValidator",
     "OPTIONS": {"min_classes": int(os.environ.get("GONGZHI_PASSWORD_MIN_CLASSES", "3"))}},
    {"NAME": "gongzhi.accounts.passwords.PasswordHistoryValidator",
     "OPTIONS": {"history": int(os.environ.get("GONGZHI_PASSWORD_HISTORY", "5"))}},
]
GONGZHI_PASSWORD_MAX_AGE_DAYS = int(os.environ.get("GONGZHI_PASSWORD_MAX_AGE_DAYS", "90"))

# Second factor (django-otp TOTP) for staff above grid worker and admin-site users; see accounts/otp.py.
OTP_TOTP_ISSUER = "共治 Gongzhi"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Behind a reverse proxy: how many proxies in front of Gongzhi append to X-Forwarded-For. 0 (the default) ignores
# that header, which a client could forge; 1 for one nginx. Used for lockout and rate limits (core.ratelimit.client_ip).
GONGZHI_TRUSTED_PROXY_COUNT = int(os.environ.get("GONGZHI_TRUSTED_PROXY_COUNT", "0"))

# Lockout (django-axes): 5 failures per account+address lock it for 30 minutes (by account and address, so an
# attacker elsewhere cannot lock a worker out; guessing from many addresses is slowed by the rate limits below).
AXES_FAILURE_LIMIT = int(os.environ.get("GONGZHI_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("GONGZHI_LOGIN_COOLOFF_MINUTES", "30")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "accounts/locked.html"
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "gongzhi.core.ratelimit.client_ip"

# Rate limits per client address: (methods, path regex, requests, seconds). Over the limit → 429.
GONGZHI_RATE_LIMITS = [
    ("POST", r"^/accounts/(login|otp|password)/$", 20, 60),
    ("POST", r"^/admin/login/$", 20, 60),
    ("POST", r"^/api/auth/(token|password)$", 20, 60),
    ("POST", r"^/appeals/new/$", 10, 600),
    ("POST", r"^/api/appeals/?$", 10, 600),
    ("POST", r"^/open311/v2/requests\.(json|xml)$", 10, 600),
]

# Sessions: idle timeout (refreshed on each request) plus an absolute lifetime.
SESSION_COOKIE_AGE = int(os.environ.get("GONGZHI_SESSION_IDLE_SECONDS", str(30 * 60)))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
GONGZHI_SESSION_ABSOLUTE_SECONDS = int(os.environ.get("GONGZHI_SESSION_ABSOLUTE_SECONDS", str(12 * 3600)))
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads it for the X-CSRFToken header

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
# Without collectstatic (development, tests) whitenoise serves straight from the finders.
WHITENOISE_USE_FINDERS = not PRODUCTION
STATICFILES_DIRS = [
    # Front-end libraries come from npm at set-up time (package.json), never from the repo.
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
    ("vendor/leaflet", BASE_DIR / "node_modules" / "leaflet" / "dist"),
    ("vendor/echarts", BASE_DIR / "node_modules" / "echarts" / "dist"),
]
MEDIA_ROOT = Path(os.environ.get("GONGZHI_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
GONGZHI_IMPORT_MAX_BYTES = 20 * 1024 * 1024

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}

# Content-Security-Policy (django-csp): scripts and styles only from our own static files, no inline code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # data: for the TOTP QR code; a deployment's map tile server, if any, is added by GONGZHI_CSP_IMG_SRC.
        "img-src": ["'self'", "data:", *filter(None, os.environ.get("GONGZHI_CSP_IMG_SRC", "").split(","))],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SAMESITE = "Lax"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("GONGZHI_LOG_LEVEL", "WARNING")},
}

NINJA_PAGINATION_PER_PAGE = 50
NINJA_PAGINATION_CLASS = "gongzhi.core.pagination.BoundedPagination"  # limit and offset bounded

# Open311 GeoReport v2: the jurisdiction_id clients may send (empty: the host name the site is reached on).
GONGZHI_OPEN311_JURISDICTION = os.environ.get("GONGZHI_OPEN311_JURISDICTION", "")

# A household counts as "not visited" after this many days (敲门行动 round).
GONGZHI_VISIT_ROUND_DAYS = int(os.environ.get("GONGZHI_VISIT_ROUND_DAYS", "90"))
# A resolved appeal nobody rates within this many days is closed as unrated by the worker.
GONGZHI_APPEAL_RATING_DAYS = int(os.environ.get("GONGZHI_APPEAL_RATING_DAYS", "7"))

if PRODUCTION:
    SECURE_SSL_REDIRECT = os.environ.get("GONGZHI_SSL_REDIRECT", "1") == "1"
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Only behind a TLS proxy that sets (and overwrites) X-Forwarded-Proto; otherwise a client could claim https.
    if GONGZHI_TRUSTED_PROXY_COUNT:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

# Audit trail (core.audit): the key of its keyed-hash chain, and how long entries stay in the table before
# `gongzhi audit archive` moves them into var/audit/ (security logs must be kept at least six months).
GONGZHI_AUDIT_KEY = os.environ["GONGZHI_AUDIT_KEY"]
GONGZHI_AUDIT_RETENTION_DAYS = int(os.environ.get("GONGZHI_AUDIT_RETENTION_DAYS", "190"))
# Personal information: how long after a person moved away or died the record may be anonymised, and the
# contact named in the privacy notice.
GONGZHI_PERSON_RETENTION_DAYS = int(os.environ.get("GONGZHI_PERSON_RETENTION_DAYS", str(3 * 365)))
GONGZHI_PRIVACY_CONTACT = os.environ.get("GONGZHI_PRIVACY_CONTACT", "")
