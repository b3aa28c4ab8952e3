"""Settings of the throw-away CAS server the CAS tests log in through (django-cas-server, its
own small Django project: own users, own SQLite file in a temporary folder, never Xinlian's
settings or database). Started by ``tests.cas_server.CasServer``; see serve.py."""

import os

SECRET_KEY = "cas-server-for-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "cas_server",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.cas_server.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.template.context_processors.i18n",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["CAS_SERVER_DB"]}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
# Test accounts: a fast hasher.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LANGUAGE_CODE = "zh-hans"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
SESSION_COOKIE_NAME = "cas_sessionid"  # the browser also holds Xinlian's "sessionid" on 127.0.0.1
CSRF_COOKIE_NAME = "cas_csrftoken"

# django-cas-server: the accounts of its own Django users; no call out to the internet.
CAS_AUTH_CLASS = "cas_server.auth.DjangoAuthUser"
CAS_NEW_VERSION_HTML_WARNING = False
CAS_NEW_VERSION_EMAIL_WARNING = False
CAS_SHOW_POWERED = False
CAS_COMPONENT_URLS = {
    "bootstrap3_css": "data:text/css,", "bootstrap3_js": "data:text/javascript,",
    "html5shiv": "data:text/javascript,", "respond": "data:text/javascript,",
    "bootstrap4_css": "data:text/css,", "bootstrap4_js": "data:text/javascript,",
    "jquery": "data:text/javascript,",
}
CAS_SLO_TIMEOUT = 5
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"console": {"class": "logging.StreamHandler"}},
           "root": {"handlers": ["console"], "level": "WARNING"}}
