"""Minimal settings: the database Xinlian's benchmark uses (XINLIAN_DATABASE_URL or a SQLite
file under XINLIAN_DATA_DIR), persistent connections as in Xinlian, DEBUG off."""

import os
from pathlib import Path

import dj_database_url

DEBUG = False
SECRET_KEY = os.environ.get("BARE_SECRET_KEY", "bare-benchmark-app-not-a-secret")
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["bare"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bare.urls"
WSGI_APPLICATION = "bare.wsgi.application"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_data = Path(os.environ.get("XINLIAN_DATA_DIR", "/tmp/xinlian-bare"))
_url = os.environ.get("XINLIAN_DATABASE_URL") or f"sqlite:///{_data / 'bare.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(_url, conn_max_age=600, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # As Xinlian's settings: WAL, a busy timeout, immediate transactions.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
LOGGING_CONFIG = None
