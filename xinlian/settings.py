"""The one settings module. Everything a deployment changes comes from ``XINLIAN_*``
environment variables; the defaults make a local demo just work, and production
(``XINLIAN_ENV=production``) refuses to start while any dev default is still in place."""

from __future__ import annotations

import os
from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(f"XINLIAN_{name}", default)


def env_bool(name: str, default: bool) -> bool:
    raw = env(name, "")
    return default if raw == "" else raw.lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


ENVIRONMENTS = ("development", "production")
# Empty counts as unset, as for every XINLIAN_* variable; anything else must be spelt exactly:
# a typo such as "prod" would otherwise run production on DEBUG and the dev keys.
ENVIRONMENT = env("ENV") or "development"
if ENVIRONMENT not in ENVIRONMENTS:
    raise ImproperlyConfigured(
        f"XINLIAN_ENV={ENVIRONMENT!r} is not an environment Xinlian knows: "
        f"use one of {', '.join(ENVIRONMENTS)} (default development)."
    )
PRODUCTION = ENVIRONMENT == "production"

DEV_SECRET_KEY = "dev-only-xinlian-secret-key-never-use-in-production-0123456789abcdef"
# 32 zero bytes in base64 under key id "dev": fine for a demo, refused in production.
DEV_FIELD_KEYS = "dev:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

SECRET_KEY = env("SECRET_KEY", DEV_SECRET_KEY)
DEBUG = env_bool("DEBUG", not PRODUCTION)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# "kid:base64key,kid2:base64key2" — the first key encrypts, every key decrypts (rotation).
FIELD_ENCRYPTION_KEYS = env("FIELD_KEYS", DEV_FIELD_KEYS)

DATA_DIR = Path(env("DATA_DIR", str(PROJECT_DIR / "var"))).resolve()

if PRODUCTION:
    problems = []
    if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50:
        problems.append("XINLIAN_SECRET_KEY is the dev default or shorter than 50 characters")
    if DEBUG:
        problems.append("XINLIAN_DEBUG is on")
    if FIELD_ENCRYPTION_KEYS == DEV_FIELD_KEYS or "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" in FIELD_ENCRYPTION_KEYS:
        problems.append("XINLIAN_FIELD_KEYS is the dev default")
    if not env("ALLOWED_HOSTS"):
        problems.append("XINLIAN_ALLOWED_HOSTS is not set")
    if problems:
        raise ImproperlyConfigured(
            "Refusing to start in production with dev defaults: " + "; ".join(problems)
        )

INSTALLED_APPS = [
    # django.contrib.admin on a policy-guarded site (access/admin_site.py): is_staff alone is not enough.
    "xinlian.access.admin_site.BackOfficeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    # API tokens: hashed, expiring, revocable (xinlian/access/tokens.py); replaces DRF's authtoken.
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "treebeard",
    "axes",
    # Two-step verification (xinlian/access/twofactor.py): TOTP apps and recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # Campus single sign-on (CAS): its table of service tickets by session, for single logout.
    "django_cas_ng",
    "xinlian.network",
    "xinlian.access",
    "xinlian.notify",
    "xinlian.care",
    "xinlian.screening",
    "xinlian.duties",
    "xinlian.counseling",
    "xinlian.activities",
    "xinlian.training",
    "xinlian.planning",
    "xinlian.web",
]

MIDDLEWARE = [
    # CONN_HEALTH_CHECKS' "SELECT 1" only for a connection idle more than a second.
    "xinlian.web.middleware.RecentConnectionMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Django's SessionMiddleware, renewing an active session once a minute, not on every request.
    "xinlian.web.middleware.IdleSessionMiddleware",
    # Django's LocaleMiddleware, without looking for a language in paths that never carry one.
    "xinlian.web.middleware.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's AuthenticationMiddleware, loading the user with a statement built once per process.
    "xinlian.web.middleware.UserMiddleware",
    # The second step for whoever must give it (or turned it on), after any way in.
    "xinlian.web.twofactor_middleware.SecondStepMiddleware",
    # Django's MessageMiddleware, making its storage only for a request that uses messages.
    "xinlian.web.middleware.LazyMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks, so that it sees the authenticated user.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "xinlian.urls"
WSGI_APPLICATION = "xinlian.wsgi.application"
AUTH_USER_MODEL = "network.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# Persistent connections: a new PostgreSQL connection per request costs about 7x throughput here.
CONN_MAX_AGE = int(env("CONN_MAX_AGE", "600"))
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{DATA_DIR / 'xinlian.sqlite3'}"),
        conn_max_age=CONN_MAX_AGE,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded database lives under the data folder: make it on first use (a fresh clone).
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL + a busy timeout let the server and the worker share the embedded database.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters bound by the server, and each statement prepared on its connection after
    # XINLIAN_PG_PREPARE_THRESHOLD uses (Django turns psycopg's preparing off unless told): the
    # database stops parsing and planning the same few statements thousands of times: the inbox
    # badge's database CPU fell from 0.50-0.56 to 0.17-0.19 ms a request (bench/results/floor.json,
    # "postgresql_check_folded_before_prepare" against "postgresql"). "off" for a
    # connection pooler in transaction mode that cannot keep prepared statements (PgBouncer
    # before 1.21, or without max_prepared_statements).
    prepare = env("PG_PREPARE_THRESHOLD", "5").strip().lower()
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=None if prepare in ("off", "none", "") else int(prepare))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    # Django's Argon2id with the costs below (xinlian/access/hashers.py); hashes made with
    # other costs are re-made with these at the person's next login.
    "xinlian.access.hashers.Argon2Hasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# OWASP's Argon2id configuration m=46 MiB, t=1, p=1: ~50 ms of CPU per hash here, so 3,000
# first logins in 5 minutes take a quarter of two cores (docs/configuration.md, "Argon2").
ARGON2_TIME_COST = int(env("ARGON2_TIME_COST", "1"))
ARGON2_MEMORY_KIB = int(env("ARGON2_MEMORY_KIB", "47104"))
ARGON2_PARALLELISM = int(env("ARGON2_PARALLELISM", "1"))
if not (ARGON2_TIME_COST >= 1 and 1 <= ARGON2_PARALLELISM <= 64 and ARGON2_MEMORY_KIB >= 8 * ARGON2_PARALLELISM):
    raise ImproperlyConfigured(
        "XINLIAN_ARGON2_TIME_COST must be at least 1, XINLIAN_ARGON2_PARALLELISM from 1 to 64, and "
        "XINLIAN_ARGON2_MEMORY_KIB at least 8 × the parallelism (Argon2's own limits)."
    )
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # The school directory's password (XINLIAN_LDAP_*; off when the URL is empty). After the
    # local password: back-office and demo accounts never wait on the directory (ldapauth.py).
    "xinlian.network.ldapauth.LDAPBackend",
    # One-time codes from first-login slips and teachers' resets (after axes: failures count).
    "xinlian.network.slipcodes.FirstLoginCodeBackend",
    # A campus CAS ticket, validated with the CAS server and mapped by network/sso.py (never creates).
    "xinlian.network.cas.CASBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Two-step verification (xinlian/access/twofactor.py): required for those who read tier 4–5
# (centre director, psychology teachers, crisis case teams, superusers) unless turned off here;
# anyone may turn it on for themselves. The issuer is the name the authenticator app shows.
TWO_FACTOR_REQUIRED = env_bool("2FA_REQUIRED", True)
OTP_TOTP_ISSUER = env("2FA_ISSUER", "心联 Xinlian")
# How many days a first-login slip's code (or a teacher's reset code) stays valid.
FIRST_LOGIN_DAYS = int(env("FIRST_LOGIN_DAYS", "14"))
# LDAP bind (xinlian/network/ldapauth.py): empty URL = off. Either bind as the person by a DN
# template ("uid={number},ou=people,dc=school,dc=edu"), or search SEARCH_BASE with SEARCH_FILTER
# (as BIND_DN, or anonymously) and bind as the one entry found. The id attribute's value is the
# student or staff number (the username).
LDAP_URL = env("LDAP_URL", "")
LDAP_USER_DN_TEMPLATE = env("LDAP_USER_DN_TEMPLATE", "")
LDAP_SEARCH_BASE = env("LDAP_SEARCH_BASE", "")
LDAP_SEARCH_FILTER = env("LDAP_SEARCH_FILTER", "(uid={number})")
LDAP_BIND_DN = env("LDAP_BIND_DN", "")
LDAP_BIND_PASSWORD = env("LDAP_BIND_PASSWORD", "")
LDAP_ID_ATTRIBUTE = env("LDAP_ID_ATTRIBUTE", "uid")
LDAP_START_TLS = env_bool("LDAP_START_TLS", False)
LDAP_CA_FILE = env("LDAP_CA_FILE", "")
LDAP_TIMEOUT = max(1, int(env("LDAP_TIMEOUT", "5")))  # seconds, whole (connect, and each answer)
if LDAP_URL:
    if not LDAP_URL.lower().startswith(("ldap://", "ldaps://")):
        raise ImproperlyConfigured(f"XINLIAN_LDAP_URL={LDAP_URL!r} must start with ldap:// or ldaps://")
    if bool(LDAP_USER_DN_TEMPLATE) == bool(LDAP_SEARCH_BASE):
        raise ImproperlyConfigured("With XINLIAN_LDAP_URL set, give exactly one of "
                                   "XINLIAN_LDAP_USER_DN_TEMPLATE or XINLIAN_LDAP_SEARCH_BASE")
    if "{number}" not in (LDAP_USER_DN_TEMPLATE or LDAP_SEARCH_FILTER):
        raise ImproperlyConfigured("XINLIAN_LDAP_USER_DN_TEMPLATE or XINLIAN_LDAP_SEARCH_FILTER "
                                   "must contain {number}")
    if PRODUCTION and LDAP_URL.lower().startswith("ldap://") and not LDAP_START_TLS:
        raise ImproperlyConfigured("Refusing to send passwords to the directory in clear: in "
                                   "production use ldaps:// or XINLIAN_LDAP_START_TLS=1")

# Campus single sign-on, CAS 2.0/3.0 (统一身份认证; django-cas-ng, xinlian/network/cas.py,
# xinlian/web/views_cas.py). An empty server URL switches CAS off. The CAS user (or the attribute
# named here) is the student or staff number; nobody is ever created from a login.
CAS_SERVER_URL = env("CAS_SERVER_URL").strip()
if CAS_SERVER_URL and not CAS_SERVER_URL.endswith("/"):
    CAS_SERVER_URL += "/"  # the client joins "login", "serviceValidate" onto it
CAS_VERSION = env("CAS_VERSION", "3")
if CAS_VERSION not in ("2", "3"):
    raise ImproperlyConfigured(f"XINLIAN_CAS_VERSION={CAS_VERSION!r}: use 2 or 3 (default 3).")
CAS_NUMBER_ATTRIBUTE = env("CAS_NUMBER_ATTRIBUTE").strip()  # empty: the CAS user itself
CAS_BUTTON_LABEL = env("CAS_BUTTON_LABEL").strip()  # empty: "校园统一身份认证登录" / its English
CAS_TIMEOUT = float(env("CAS_TIMEOUT", "5"))  # seconds to wait for the CAS server's answer
# django-cas-ng's own defaults that would break the rules: it creates users unless told not to.
CAS_CREATE_USER = False
CAS_CHECK_NEXT = True
CAS_IGNORE_REFERER = True
CAS_REDIRECT_URL = "/"  # home, as after a password login (the library also uses it unresolved)
CAS_LOGIN_MSG = None
CAS_LOGGED_MSG = None

# Lock out by user *and* IP after repeated failures, then let them try again after a cool-off.
AXES_FAILURE_LIMIT = int(env("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(env("LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# One address guessing across many accounts (xinlian/access/throttle.py): after
# LOGIN_IP_SLOW_AFTER failures within the window it waits LOGIN_IP_SLOW_SECONDS after each
# failure; after LOGIN_IP_FAILURE_LIMIT it is blocked. Counted in axes' AccessFailureLog.
AXES_HANDLER = "xinlian.access.throttle.AddressThrottleHandler"
AXES_LOCKOUT_CALLABLE = "xinlian.access.throttle.lockout_response"
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# The address axes counts by: REMOTE_ADDR, an IPv6 address grouped by its /64 (access/throttle.py).
AXES_CLIENT_IP_CALLABLE = "xinlian.access.throttle.client_address"
LOGIN_IP_FAILURE_LIMIT = int(env("LOGIN_IP_FAILURE_LIMIT", "20"))
LOGIN_IP_SLOW_AFTER = int(env("LOGIN_IP_SLOW_AFTER", "10"))
LOGIN_IP_SLOW_SECONDS = int(env("LOGIN_IP_SLOW_SECONDS", "30"))
LOGIN_IP_WINDOW = timedelta(minutes=int(env("LOGIN_IP_WINDOW_MINUTES", "60")))
# The school's own NAT addresses (CIDR, comma-separated): exempt from the address rule only.
# A typo refuses to start (ValueError naming it) rather than leave the campus unprotected.
LOGIN_TRUSTED_NETWORKS = [str(ip_network(n, strict=False)) for n in env_list("LOGIN_TRUSTED_NETWORKS", "")]
# Per-user limits enforced in the verbs (xinlian/access/ratelimit.py), counted in the database.
# An urgent ("now") concern has its own, higher limit: a reporter on a bad night gets through.
CONCERN_RATE_PER_HOUR = int(env("CONCERN_RATE_PER_HOUR", "10"))
CONCERN_URGENT_RATE_PER_HOUR = int(env("CONCERN_URGENT_RATE_PER_HOUR", "30"))
# Counselling bookings one client may make in an hour (cancelled ones count: no book-cancel loop).
COUNSELING_BOOKING_RATE_PER_HOUR = int(env("COUNSELING_BOOKING_RATE_PER_HOUR", "10"))
SCREENING_SUBMIT_RATE_PER_HOUR = int(env("SCREENING_SUBMIT_RATE_PER_HOUR", "20"))

# OpenID Connect single sign-on (mozilla-django-oidc; xinlian/network/oidc.py,
# xinlian/web/views_oidc.py). Off while the issuer or the client id is empty. The endpoints
# come from the issuer's discovery document; one set here replaces the document's. The claim
# named by OIDC_CLAIM is the student or staff number; nobody is ever created from a login.
OIDC_ISSUER = env("OIDC_ISSUER").strip().rstrip("/")
OIDC_OP_AUTHORIZATION_ENDPOINT = env("OIDC_AUTHORIZATION_ENDPOINT").strip()
OIDC_OP_TOKEN_ENDPOINT = env("OIDC_TOKEN_ENDPOINT").strip()
OIDC_OP_USER_ENDPOINT = env("OIDC_USERINFO_ENDPOINT").strip()
OIDC_OP_JWKS_ENDPOINT = env("OIDC_JWKS_ENDPOINT").strip()
# Where logging out of Xinlian also ends the provider's session (RP-initiated logout); empty:
# the discovery document's end_session_endpoint; "off": Xinlian's own session only.
OIDC_OP_LOGOUT_ENDPOINT = env("OIDC_LOGOUT_ENDPOINT").strip()
OIDC_RP_CLIENT_ID = env("OIDC_CLIENT_ID").strip()
OIDC_RP_CLIENT_SECRET = env("OIDC_CLIENT_SECRET")
OIDC_RP_SCOPES = env("OIDC_SCOPES", "openid profile").strip()
OIDC_NUMBER_CLAIM = env("OIDC_CLAIM", "preferred_username").strip()
OIDC_BUTTON_LABEL = env("OIDC_BUTTON_LABEL").strip()  # empty: "使用学校账号登录" / its English
OIDC_TIMEOUT = float(env("OIDC_TIMEOUT", "5"))  # seconds to wait for each answer of the provider
# How the client secret goes to the token endpoint: in the body (client_secret_post), or HTTP Basic.
OIDC_TOKEN_USE_BASIC_AUTH = env_bool("OIDC_TOKEN_BASIC_AUTH", False)
# A PEM file of the CA that signed the provider's certificate (a campus CA); empty: the usual public CAs.
OIDC_VERIFY_SSL = env("OIDC_CA_FILE").strip() or True
if OIDC_VERIFY_SSL is not True and not Path(OIDC_VERIFY_SSL).is_file():
    raise ImproperlyConfigured(f"XINLIAN_OIDC_CA_FILE={OIDC_VERIFY_SSL!r} is not a file")
if OIDC_ISSUER and not OIDC_ISSUER.lower().startswith(("https://", "http://")):
    raise ImproperlyConfigured(f"XINLIAN_OIDC_ISSUER={OIDC_ISSUER!r} must be an http(s) URL")
if PRODUCTION and OIDC_ISSUER.lower().startswith("http://"):
    raise ImproperlyConfigured("Refusing OpenID Connect over plain HTTP in production: "
                               "XINLIAN_OIDC_ISSUER must be an https:// URL")
if OIDC_ISSUER and "openid" not in OIDC_RP_SCOPES.split():
    raise ImproperlyConfigured("XINLIAN_OIDC_SCOPES must include openid")
# mozilla-django-oidc's own settings, fixed: state, nonce and PKCE (S256) on every login.
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_USE_NONCE = True
OIDC_USE_PKCE = True
OIDC_CREATE_USER = False
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc-callback"

# API tokens (django-rest-knox): stored as SHA-512 digests, shown once, expiring after
# API_TOKEN_HOURS; all of a user's tokens are revoked on password change and web logout.
API_TOKEN_HOURS = int(env("API_TOKEN_HOURS", "720"))
API_TOKENS_PER_USER = int(env("API_TOKENS_PER_USER", "10"))
# knox's own token model (the default), named for access.TokenUse's migration (a swappable model).
KNOX_TOKEN_MODEL = "knox.AuthToken"
REST_KNOX = {"TOKEN_TTL": timedelta(hours=API_TOKEN_HOURS), "AUTO_REFRESH": False}

# Idle timeout: the session expires after this many seconds without a request. An active
# session's expiry is pushed back at most every SESSION_RENEW_SECONDS (xinlian/web/middleware.py;
# one UPDATE of the expiry alone), so it may end up to that much earlier than the full age.
SESSION_COOKIE_AGE = int(env("SESSION_IDLE_SECONDS", str(30 * 60)))
# Django's database sessions in a table that also records whom each session is logged in as, so
# that a request loads its session and its user in one statement (xinlian/web/sessions.py).
SESSION_ENGINE = "xinlian.web.sessions"
SESSION_RENEW_SECONDS = min(60, SESSION_COOKIE_AGE // 10)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the finders when collectstatic has not run (demo, tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# A roster upload may be large (50,000 rows is a few MB); anything over this is refused.
ROSTER_MAX_UPLOAD_BYTES = int(env("ROSTER_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Activity photos: the largest accepted (MB), and where they are kept (never under static:
# served only by activities.views.photo, which checks access).
ACTIVITY_PHOTO_MAX_MB = float(env("ACTIVITY_PHOTO_MAX_MB", "5"))
PRIVATE_MEDIA_ROOT = Path(env("PRIVATE_MEDIA_ROOT", str(DATA_DIR / "private"))).resolve()
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("EMAIL_FROM", "xinlian@localhost")
# The address people reach Xinlian at: links in e-mails and robot messages start with it.
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000")
# Seconds the worker waits on a group robot (or the SMTP server) before counting an attempt failed.
WEBHOOK_TIMEOUT = float(env("WEBHOOK_TIMEOUT", "5"))
# Alerts to one person's phone (xinlian/notify/personal.py, sms.py). Unset: the channel is off.
WECOM_API_URL = env("WECOM_API_URL", "https://qyapi.weixin.qq.com")
WECOM_CORP_ID = env("WECOM_CORP_ID")
WECOM_CORP_SECRET = env("WECOM_CORP_SECRET")
WECOM_AGENT_ID = env("WECOM_AGENT_ID")
# 企业微信 login (xinlian/network/wecom_login.py, web/views_wecom.py): on with XINLIAN_WECOM_LOGIN=1
# and the application above (corp id, secret, agent id). The two addresses WeCom's browser is sent
# to: the in-app authorization (inside the WeCom app) and the QR web login (any other browser).
WECOM_LOGIN = env_bool("WECOM_LOGIN", False)
WECOM_OAUTH_URL = env("WECOM_OAUTH_URL", "https://open.weixin.qq.com/connect/oauth2/authorize")
WECOM_SSO_URL = env("WECOM_SSO_URL", "https://login.work.weixin.qq.com/wwlogin/sso/login")
DINGTALK_API_URL = env("DINGTALK_API_URL", "https://oapi.dingtalk.com")
DINGTALK_APP_KEY = env("DINGTALK_APP_KEY")
DINGTALK_APP_SECRET = env("DINGTALK_APP_SECRET")
DINGTALK_AGENT_ID = env("DINGTALK_AGENT_ID")
# 钉钉 login (xinlian/network/dingtalk_login.py, web/views_dingtalk.py): on with
# XINLIAN_DINGTALK_LOGIN=1 and the application above (AppKey, AppSecret). Its authorization page
# and the API of its user tokens (api.dingtalk.com, apart from DINGTALK_API_URL's oapi).
DINGTALK_LOGIN = env_bool("DINGTALK_LOGIN", False)
DINGTALK_OAUTH_URL = env("DINGTALK_OAUTH_URL", "https://login.dingtalk.com/oauth2/auth")
DINGTALK_LOGIN_API_URL = env("DINGTALK_LOGIN_API_URL", "https://api.dingtalk.com")
SMS_BACKEND = env("SMS_BACKEND")  # "aliyun", "tencent" or empty (no SMS)
SMS_API_URL = env("SMS_API_URL")  # empty: the backend's public endpoint
SMS_ACCESS_KEY_ID = env("SMS_ACCESS_KEY_ID")
SMS_ACCESS_KEY_SECRET = env("SMS_ACCESS_KEY_SECRET")
SMS_SIGN_NAME = env("SMS_SIGN_NAME")
SMS_TEMPLATE_ID = env("SMS_TEMPLATE_ID")
SMS_SDK_APP_ID = env("SMS_SDK_APP_ID")  # Tencent Cloud only
SMS_REGION = env("SMS_REGION")
# A failing push hands over to SMS after this many failed attempts (an unknown user id at once).
PUSH_FALLBACK_AFTER_ATTEMPTS = int(env("PUSH_FALLBACK_AFTER_ATTEMPTS", "2"))
# Messages per second each worker sends per personal channel (the providers' usual limit is 20).
PERSONAL_RATE_PER_SECOND = int(env("PERSONAL_RATE_PER_SECOND", "20"))
# How long a one-tap acknowledgement link in a personal message stays valid.
ONETAP_MAX_AGE_MINUTES = int(env("ONETAP_MAX_AGE_MINUTES", "30"))
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # knox's, noting each token's last use at most once a minute (xinlian/access/tokens.py).
        "xinlian.access.tokens.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # A verb's NotFound / NotAllowed / Conflict / Invalid become 404 / 403 / 409 / 400.
    "EXCEPTION_HANDLER": "xinlian.access.adapters.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Xinlian API",
    "DESCRIPTION": "心联 — mental-health work network API. Every list is scoped by the access policy.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Many models have a field called "status": each choice set gets its own name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "AlertStatusEnum": "xinlian.care.models.AlertStatus",
        "CaseStatusEnum": "xinlian.care.models.CaseStatus",
        "BookingStatusEnum": "xinlian.counseling.models.BookingStatus",
        "WaitStatusEnum": "xinlian.counseling.models.WaitStatus",
        "ReportStatusEnum": "xinlian.duties.models.ReportStatus",
        "StudentStatusEnum": "xinlian.network.models.StudentStatus",
        "DeliveryStatusEnum": "xinlian.notify.models.DeliveryStatus",
        "CampaignStatusEnum": "xinlian.screening.models.CampaignStatus",
        "AssignmentStatusEnum": "xinlian.screening.models.AssignmentStatus",
        "InterviewStatusEnum": "xinlian.screening.models.InterviewStatus",
        "WorkPlanStatusEnum": "xinlian.planning.models.PlanStatus",
        "WorkPlanKindEnum": "xinlian.planning.models.PlanKind",
        "PlanTaskStatusEnum": "xinlian.planning.models.TaskStatus",
        "AttendanceStatusEnum": "xinlian.training.models.AttendanceStatus",
        "TrainingAudienceEnum": "xinlian.training.models.Audience",
    },
}

# Logging never includes request bodies or query strings with data; see access.audit for reads.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(env("HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

# Demo password shared by the seeded accounts (printed by `xinlian seed-demo`).
DEMO_PASSWORD = env("DEMO_PASSWORD", "xinlian-demo-2026")
