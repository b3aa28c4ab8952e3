"""Shared helpers for the benchmarks: fresh databases, child processes, machine facts, results.

Each measurement runs in a child process with its own ``XINLIAN_DATA_DIR`` (SQLite) or its
own freshly created PostgreSQL database, so that seeds of different sizes never share state
and the parent process stays small (its children's peak memory is what we report)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
PYTHON = sys.executable


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def machine_info() -> dict[str, object]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    import sqlite3

    import django

    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gb": mem_gb,
        "python": platform.python_version(),
        "django": django.get_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


@contextlib.contextmanager
def fresh_database(vendor: str) -> Iterator[dict[str, str]]:
    """Environment variables for a child process that sees an empty database of ``vendor``.

    SQLite: a temporary XINLIAN_DATA_DIR. PostgreSQL: a new database on the server named by
    XINLIAN_DATABASE_URL (its user must be allowed to create databases), dropped afterwards."""
    data_dir = tempfile.mkdtemp(prefix="xinlian-bench-")
    os.makedirs(os.path.join(data_dir, "static"))  # whitenoise warns about a missing STATIC_ROOT
    # DEBUG off as in production (no query log kept, no debug templates); quiet INFO logs.
    env = dict(os.environ, XINLIAN_DATA_DIR=data_dir, XINLIAN_DEBUG="false",
               XINLIAN_LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="xinlian.settings")
    created = None
    try:
        if vendor == "postgresql":
            base = os.environ["XINLIAN_DATABASE_URL"]
            name = f"xinlian_bench_{secrets.token_hex(4)}"
            _pg_admin(base, f'CREATE DATABASE "{name}"')
            created = name
            parts = urlsplit(base)
            env["XINLIAN_DATABASE_URL"] = urlunsplit(parts._replace(path="/" + name))
        else:
            env.pop("XINLIAN_DATABASE_URL", None)
        yield env
    finally:
        if created:
            _pg_admin(os.environ["XINLIAN_DATABASE_URL"], f'DROP DATABASE IF EXISTS "{created}"')
        shutil.rmtree(data_dir, ignore_errors=True)


def _pg_admin(url: str, sql: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)


def run_child(args: list[str], env: dict[str, str], *, timeout: float = 1800) -> dict:
    """Run ``python args...`` whose last stdout line is JSON; stream its stderr to ours."""
    proc = subprocess.run([PYTHON, *args], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                          text=True, timeout=timeout, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(args)} failed with exit code {proc.returncode}")
    return json.loads(lines[-1])


def django_setup() -> None:
    """For child processes: set up Django from the environment the parent prepared."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xinlian.settings")
    import django

    django.setup()


def database_info() -> dict[str, object]:
    from django.db import connection

    info: dict[str, object] = {"vendor": connection.vendor}
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        v = connection.pg_version
        info["server_version"] = f"{v // 10000}.{v % 10000}"
    elif connection.vendor == "sqlite":
        import sqlite3

        info["server_version"] = sqlite3.sqlite_version
    return info


def write_result(name: str, vendor: str, payload: dict) -> Path:
    """Store ``payload`` under ``vendor`` in ``results/<name>.json`` (other vendors kept)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    data: dict = {"benchmark": name, "results": {}}
    if path.exists():
        with contextlib.suppress(ValueError):
            data = json.loads(path.read_text(encoding="utf-8"))
            data.setdefault("results", {})
    data["benchmark"] = name
    data["results"][vendor] = payload
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
