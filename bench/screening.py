"""screening — the screening benchmarks (issue 4): submit throughput over HTTP, a freshman week
of 10,000 students through the real pages, and ``xinlian rescore`` of 100,000 SCL-90 results.

Every HTTP measurement runs against a real server started exactly as in production
(``XINLIAN_ENV=production``: DEBUG off, a real secret key and field key, the TLS proxy's
``X-Forwarded-Proto: https`` header, CSRF with its Origin check, sessions in the database, the
full middleware stack) in its own process, next to a load generator in another process. The
seeds are written with the ORM in bulk (a campaign launched with ``Campaign.launch``, answers
stored through the encrypted ``Response`` field); logins are Django sessions made directly
(what ``login()`` stores: user id, ``ModelBackend``, the session auth hash), so that the
measured requests are the screening requests and not Argon2 password checks.

* ``submit``: students whose PHQ-9 answers are all saved (10 % with item 9 ≥ 1 → red alert and
  urgent interview inside the submit; 20 % screen-positive → interview), 32 concurrent
  clients, each walking through its own students: ``POST /screening/a/<pk>/submit/`` (form
  ``key=<uuid4>``, expect 303). Beside it, in the same run on the same server, the lightest
  page that needs a login (``GET /inbox/badge/``). Targets: p99 < 150 ms, submit/trivial
  requests per second ≥ 0.5. Afterwards every submitted assignment must have exactly one
  result per instrument and one alert per critical submit.
* ``freshman``: a freshman cohort answering UPI + SCL-90 screen by screen, with think time, over
  a compressed window, a ``xinlian worker`` sending the outbox meanwhile (e-mail to a local
  SMTP sink, group robots to a local receiver). Zero errors, nothing lost or doubled, every
  alert's deliveries sent.
* ``rescore-prepare`` / ``rescore-verify``: 100,000 submitted SCL-90 responses and results for
  one campaign, and a rule set that changes a setting; bench/run.py times the CLI in between.

Two cores carry the server, PostgreSQL and the load generator at once, so the generator must be
cheap: wrk (C, Debian's package) with a Lua script that gives every request its own student's
cookies spent 0.02–0.07 cores at 700 requests/s, where the Python generator (threads and
http.client, kept as the fallback when wrk is not installed) spent 0.19 cores — a tenth of the
machine taken from the server. The server runs 3 sync gunicorn workers: measured against 2–4
gthread workers × 2–8 threads, no configuration served either page faster, and the CPU each
request costs was the same in all of them. Every phase also records where the CPU went (server,
database, generator, everything else): other people's processes share this machine, and
``cpu_ms_per_request`` (server + database CPU per answered request) does not depend on them.

Run as a child by bench/run.py: ``python bench/screening.py submit|freshman|rescore-prepare|
rescore-verify|load ...``."""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import http.client
import json
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import socketserver
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from common import PYTHON, ROOT, database_info, django_setup
from linkage import Receiver, Workers, percentile, wait_until

GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
TARGET_P99_MS = 150.0
TARGET_RATIO = 0.5
TARGET_RESCORE_SECONDS = 10.0
TRIVIAL_PATH = "/inbox/badge/"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
CSRF_CHARS = string.ascii_letters + string.digits
PURPOSE = "了解同学们的心理健康状况，以便及时提供帮助。结果仅心理中心和你的辅导员可见。"
TICK = os.sysconf("SC_CLK_TCK")


# --- production settings for the child and its server -------------------------------------------


def production_env(extra_hosts: str = "") -> dict[str, str]:
    """What settings.py demands before it starts with XINLIAN_ENV=production."""
    return {
        "XINLIAN_ENV": "production",
        "XINLIAN_DEBUG": "false",
        "XINLIAN_SECRET_KEY": secrets.token_urlsafe(48),
        "XINLIAN_FIELD_KEYS": "bench:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "XINLIAN_ALLOWED_HOSTS": "127.0.0.1,localhost" + (f",{extra_hosts}" if extra_hosts else ""),
        "XINLIAN_LOG_LEVEL": "WARNING",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- CPU accounting (the machine has two cores, shared by server, database and client) ----------


def proc_ticks(pid: int) -> int:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15 of stat)


def children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                raw = (entry / "stat").read_text()
                if int(raw[raw.rindex(")") + 2:].split()[1]) == pid:
                    out.append(int(entry.name))
    return out


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    total = sum(parts[:8])
    return total - idle, total


def db_backend_pids() -> list[int]:
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()")
        return [r[0] for r in cur.fetchall()]


def settle(count, quiet: float = 1.0, timeout: float = 60) -> None:  # noqa: ANN001 — a callable
    """Return once ``count()`` has not changed for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    last = count()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = count()
        if now == last:
            return
        last = now


def wait_for_quiet(max_wait: float, threshold: float = 0.3) -> dict:
    """Wait (up to ``max_wait`` s) until the rest of the machine uses under ``threshold`` of a
    core over a second: other people's test runs share these two cores."""
    t0 = time.monotonic()
    while True:
        b0, _ = machine_ticks()
        time.sleep(1.0)
        b1, _ = machine_ticks()
        busy = (b1 - b0) / TICK
        waited = time.monotonic() - t0
        if busy < threshold or waited >= max_wait:
            return {"waited_s": round(waited, 1), "busy_cores_before": round(busy, 2)}
        time.sleep(2.0)


class CpuMeter:
    """CPU seconds spent by the server, the database backends, the load generator (a waited
    child of this process) and everything else on the machine, over one phase."""

    def __init__(self, server_pid: int, *, worker_pids: list[int] | None = None,
                 in_process_generator: bool = False) -> None:
        self.server_pid = server_pid
        self.worker_pids = worker_pids or []
        self.in_process = in_process_generator

    def _self(self) -> float:
        u = resource.getrusage(resource.RUSAGE_SELF)
        return u.ru_utime + u.ru_stime

    def _server(self) -> dict[int, int]:
        pids = [self.server_pid, *children_of(self.server_pid)]
        return {p: proc_ticks(p) for p in pids}

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.server0 = self._server()
        self.db0 = {p: proc_ticks(p) for p in db_backend_pids()}
        self.db_seen: dict[int, int] = {}
        self.machine0 = machine_ticks()
        self.workers0 = {p: proc_ticks(p) for p in self.worker_pids}
        self.self0 = self._self()
        u = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.children0 = u.ru_utime + u.ru_stime

    def sample(self) -> None:
        """Note the database backends' CPU now: a backend that ends before ``stop`` (persistent
        connections are recycled after CONN_MAX_AGE) keeps what it had used."""
        for p in db_backend_pids():
            self.db_seen[p] = max(self.db_seen.get(p, 0), proc_ticks(p))

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self.t0
        server1 = self._server()
        db1 = dict(self.db_seen)
        db1.update({p: proc_ticks(p) for p in db_backend_pids()})
        busy1, total1 = machine_ticks()
        u = resource.getrusage(resource.RUSAGE_CHILDREN)
        gen = u.ru_utime + u.ru_stime - self.children0
        if self.in_process:  # the simulated browsers are threads of this process
            gen += self._self() - self.self0
        workers = sum(proc_ticks(p) - t for p, t in self.workers0.items()) / TICK
        server = sum(t - self.server0.get(p, 0) for p, t in server1.items()) / TICK
        db = sum(t - self.db0.get(p, 0) for p, t in db1.items()) / TICK
        busy = (busy1 - self.machine0[0]) / TICK
        cores = os.cpu_count() or 1
        # Cores in use on average over the phase (2.0 = both cores busy all the time).
        return {
            "wall_s": round(wall, 2),
            "server_cores": round(server / wall, 2),
            "database_cores": round(db / wall, 2),
            "generator_cores": round(gen / wall, 2),
            **({"worker_cores": round(workers / wall, 2)} if self.worker_pids else {}),
            "machine_busy_cores": round(busy / wall, 2),
            # Everything else: other people's processes on this shared machine, the database's
            # own background processes, the kernel.
            "other_cores": round(max(0.0, busy - server - db - gen - workers) / wall, 2),
            "machine_cores": cores,
        }


# --- latency summaries --------------------------------------------------------------------------


def ms_summary(latencies: list[float]) -> dict:
    if not latencies:
        return {"n": 0}
    return {"n": len(latencies),
            "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p90_ms": round(percentile(latencies, 90) * 1000, 1),
            "p99_ms": round(percentile(latencies, 99) * 1000, 1),
            "max_ms": round(max(latencies) * 1000, 1),
            "mean_ms": round(statistics.fmean(latencies) * 1000, 1)}


# --- seeding ------------------------------------------------------------------------------------


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def seed_network(students: int) -> dict:
    from django.db.models import Value
    from django.db.models.functions import Concat

    from xinlian.network.demo import seed_demo
    from xinlian.network.models import User

    seeded = seed_demo(students)
    # Staff with an e-mail address get every alert and interview notice by e-mail too: the
    # outbox then holds e-mail rows for the worker, as at a school that configured SMTP.
    User.objects.filter(kind="staff").update(email=Concat("username", Value("@staff.xinlian.test")))
    return {"students_seeded": students, "units": seeded.units, "seed_seconds": round(seeded.seconds, 1)}


def make_campaign(codes: list[str], *, cohort: int | None = None, name: str = "2026秋季心理普查"):
    from django.utils import timezone

    from xinlian.network.models import Unit, User
    from xinlian.screening.models import Campaign, CampaignInstrument, Instrument

    Instrument.sync_builtin()
    now = timezone.now()
    school = Unit.objects.get(code="XLU")
    director = User.objects.get(username="director")
    campaign = Campaign.objects.create(
        school=school, name=name, opens_at=now - dt.timedelta(days=1),
        closes_at=now + dt.timedelta(days=13), purpose=PURPOSE, created_by=director, cohort=cohort)
    for n, code in enumerate(codes):
        inst = Instrument.latest(code)
        if inst is None:
            raise RuntimeError(f"instrument {code} is not shipped (xinlian/screening/instruments/)")
        CampaignInstrument.objects.create(campaign=campaign, instrument=inst, order=n)
    campaign.launch(director)
    return campaign


def phq9_answers(rng: random.Random, kind: str) -> dict[int, int]:
    """critical: item 9 ≥ 1; positive: item 9 = 0 and total ≥ 10; negative: total < 10."""
    while True:
        if kind == "negative":
            a = {i: rng.choices((0, 1, 2), weights=(6, 3, 1))[0] for i in range(1, 9)}
        else:
            a = {i: rng.choices((0, 1, 2, 3), weights=(2, 3, 3, 2))[0] for i in range(1, 9)}
        a[9] = rng.choices((1, 2, 3), weights=(6, 3, 1))[0] if kind == "critical" else 0
        a[10] = rng.choice((0, 1, 2))
        total = sum(a[i] for i in range(1, 10))
        if kind == "critical" or (kind == "positive") == (total >= 10):
            return a


def upi_answers(rng: random.Random, critical: bool) -> dict[int, int]:
    a = {i: 1 if rng.random() < 0.08 else 0 for i in range(1, 65)}
    a[25] = 1 if critical else 0
    return a


def scl90_answers(rng: random.Random) -> dict[int, int]:
    # Most students well, a few distressed: about 14 % screen positive with the file's defaults
    # (10–20 % is the usual share among Chinese freshmen).
    base = rng.choices((0, 1, 2), weights=(88, 10, 2))[0]
    return {i: min(5, rng.choices((1, 2, 3, 4, 5), weights=(85, 11, 3, 0.7, 0.3))[0] + base)
            for i in range(1, 91)}


def answers_for(code: str, rng: random.Random, kind: str) -> dict[int, int]:
    if code == "PHQ9":
        return phq9_answers(rng, kind)
    if code == "UPI":
        return upi_answers(rng, kind == "critical")
    if code == "SCL90":
        return scl90_answers(rng)
    if code == "GAD7":
        return {i: rng.choices((0, 1, 2, 3), weights=(5, 3, 1, 1))[0] for i in range(1, 9)}
    raise ValueError(code)


def visible(spec, answers: dict[int, int]) -> dict[int, int]:  # noqa: ANN001 — a Definition
    shown = set(spec.visible_items(answers))
    return {k: v for k, v in answers.items() if k in shown and k in spec.column}


def make_sessions(user_ids: list[int]) -> dict[int, str]:
    """One logged-in session per user, as ``login()`` leaves it (ModelBackend: django-axes'
    backend only guards the login form and never authenticates anyone), expiring three hours
    from now so that long runs keep it: its idle timeout's renewal is not due during the run, as
    for a student whose questionnaire requests renewed it within the minute
    (bench/floor.py's ``age_sessions`` makes it due)."""
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from xinlian.network.models import User
    from xinlian.web.models import Session
    from xinlian.web.sessions import SessionStore

    store = SessionStore()
    expire = timezone.now() + dt.timedelta(hours=3)
    keys: dict[int, str] = {}
    rows = []
    hashes = {}
    for user in User.objects.filter(pk__in=user_ids).only("pk", "password"):
        # Users seeded by the demo share one password hash string, so mostly one HMAC here.
        h = hashes.get(user.password) or hashes.setdefault(user.password, user.get_session_auth_hash())
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = {"_auth_user_id": str(user.pk), "_auth_user_backend": MODEL_BACKEND, "_auth_user_hash": h}
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire, user_id=user.pk))
        keys[user.pk] = key
    Session.objects.bulk_create(rows, batch_size=2000)
    return keys


# --- the HTTP server under test -----------------------------------------------------------------


class Server:
    """gunicorn (gthread workers) on loopback, started as a deployment would."""

    def __init__(self, port: int, workers: int, threads: int, log: Path) -> None:
        self.port = port
        self.log = log
        cmd = [GUNICORN, "xinlian.wsgi:application", "-b", f"127.0.0.1:{port}",
               "--workers", str(workers), "--backlog", "2048", "--keep-alive", "30",
               "--graceful-timeout", "5", "--timeout", "120"]
        if threads > 0:
            cmd += ["--worker-class", "gthread", "--threads", str(threads)]
        self.cmd = cmd
        with open(log, "ab") as fh:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        def up() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/login/", headers={"X-Forwarded-Proto": "https"})
                ok = conn.getresponse().status == 200
                conn.close()
                return ok
            except OSError:
                return False

        if not wait_until(up, timeout, step=0.2):
            raise RuntimeError(f"server did not answer /login/: {self.tail()}")

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return " / ".join(self.log.read_text(errors="replace").strip().splitlines()[-6:])
        return ""

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


class Browser:
    """One client's view of the site: a keep-alive connection, a session and a CSRF cookie."""

    def __init__(self, port: int, session_key: str, csrf: str | None = None) -> None:
        self.port = port
        self.csrf = csrf or "".join(secrets.choice(CSRF_CHARS) for _ in range(32))
        self.cookie = f"sessionid={session_key}; csrftoken={self.csrf}"
        self.conn: http.client.HTTPConnection | None = None
        self.reconnects = 0

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        h = {"Host": f"127.0.0.1:{self.port}", "Cookie": self.cookie,
             "X-Forwarded-Proto": "https", "Accept-Language": "zh-CN,zh;q=0.9",
             "User-Agent": "xinlian-bench"}
        h.update(extra or {})
        return h

    def post_headers(self, content_type: str) -> dict[str, str]:
        return self.headers({"X-CSRFToken": self.csrf, "Origin": f"https://127.0.0.1:{self.port}",
                             "Content-Type": content_type})

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=headers or self.headers())
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed an idle keep-alive connection: a browser reconnects and
                # resends. Every write here is idempotent (submit keys, answer values).
                self.close()
                if attempt:
                    raise
                self.reconnects += 1
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# --- load generators ----------------------------------------------------------------------------
#
# A plan is one list of requests per client: [method, path, cookie, csrf, body]. The Python
# generator runs one thread per client on a keep-alive connection; wrk (C, from Debian) runs the
# same requests from a Lua script. Both stop at the deadline; a client that reaches the end of
# its list either starts again (``cycle``, for the read-only page) or is counted as exhausted.


LUA = r"""
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local prefix, host = args[1], args[2]
  cycle = args[3] == "cycle"
  reqs = {}
  local f = assert(io.open(prefix .. "-" .. id .. ".tsv", "r"))
  for line in f:lines() do
    local method, path, cookie, csrf, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local h = {["Host"] = host, ["Cookie"] = cookie, ["X-Forwarded-Proto"] = "https",
               ["Accept-Language"] = "zh-CN,zh;q=0.9", ["User-Agent"] = "xinlian-bench-wrk"}
    if method == "POST" then
      h["X-CSRFToken"] = csrf
      h["Origin"] = "https://" .. host
      h["Content-Type"] = "application/x-www-form-urlencoded"
    end
    if body == "" then body = nil end
    reqs[#reqs + 1] = wrk.format(method, path, h, body)
  end
  f:close()
  idx = 0
  used = 0
  exhausted = 0
  statuses = {}
end

function request()
  idx = idx + 1
  if idx > #reqs then
    if cycle then idx = 1 else exhausted = exhausted + 1; idx = #reqs end
  end
  used = used + 1
  return reqs[idx]
end

function response(status, headers, body)
  local k = tostring(status)
  statuses[k] = (statuses[k] or 0) + 1
end

local function enc(v)
  if type(v) == "table" then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = string.format("%q:%s", tostring(k), enc(x)) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return tostring(v)
end

function done(summary, latency, requests)
  local per = {}
  for i, t in ipairs(threads) do
    per[i] = {used = t:get("used"), exhausted = t:get("exhausted"), statuses = t:get("statuses")}
  end
  local out = {
    duration_us = summary.duration, requests = summary.requests, bytes = summary.bytes,
    errors = summary.errors,
    latency_us = {p50 = latency:percentile(50), p90 = latency:percentile(90),
                  p99 = latency:percentile(99), p999 = latency:percentile(99.9),
                  max = latency.max, mean = latency.mean, min = latency.min},
    threads = per,
  }
  io.write("WRKJSON " .. enc(out) .. "\n")
end
"""


def run_wrk(port: int, plans: list[list[list[str]]], duration: float, tmp: Path, tag: str, *,
            cycle: bool, wrk_threads: int, connections: int) -> dict:
    """One request list per wrk thread; ``connections`` keep-alive connections share them."""
    script = tmp / "plan.lua"
    script.write_text(LUA)
    for t, plan in enumerate(plans):
        (tmp / f"{tag}-{t}.tsv").write_text("\n".join("\t".join(row) for row in plan) + "\n")
    cmd = ["wrk", "-t", str(wrk_threads), "-c", str(connections), "-d", f"{duration:g}s",
           "--timeout", "30s", "-s", str(script), f"http://127.0.0.1:{port}", "--",
           str(tmp / tag), f"127.0.0.1:{port}", "cycle" if cycle else "once"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=duration + 120)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    raw = json.loads(line[len("WRKJSON "):])
    # Lua tables come out as objects: {"1": {...}, "2": {...}} for the per-thread list.
    raw["threads"] = [raw["threads"][k] for k in sorted(raw["threads"], key=int)]
    statuses: Counter = Counter()
    for t in raw["threads"]:
        statuses.update({k: int(v) for k, v in (t.get("statuses") or {}).items()})
    seconds = raw["duration_us"] / 1e6
    lat = raw["latency_us"]
    return {
        "generator": "wrk", "connections": connections, "wrk_threads": wrk_threads,
        "duration_s": round(seconds, 2), "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds, 1),
        "latency": {"n": raw["requests"], "p50_ms": round(lat["p50"] / 1000, 1),
                    "p90_ms": round(lat["p90"] / 1000, 1), "p99_ms": round(lat["p99"] / 1000, 1),
                    "p99.9_ms": round(lat["p999"] / 1000, 1), "max_ms": round(lat["max"] / 1000, 1),
                    "mean_ms": round(lat["mean"] / 1000, 1)},
        "statuses": dict(statuses), "socket_errors": {k: int(v) for k, v in raw["errors"].items()},
        # Requests handed to wrk's connections, answered or still in flight at the deadline.
        "used_per_list": [int(t["used"]) for t in raw["threads"]],
        "exhausted": sum(int(t["exhausted"]) for t in raw["threads"]),
    }


def run_python_load(port: int, plans: list[list[list[str]]], duration: float, tmp: Path, tag: str, *,
                    cycle: bool) -> dict:
    """The Python generator in a process of its own (its CPU is measured as this child's)."""
    plan_file = tmp / f"{tag}.json"
    out_file = tmp / f"{tag}-out.json"
    plan_file.write_text(json.dumps({"port": port, "duration": duration, "cycle": cycle,
                                     "clients": plans}))
    proc = subprocess.run([PYTHON, str(Path(__file__).resolve()), "load", str(plan_file), str(out_file)],
                          cwd=ROOT, capture_output=True, text=True, check=False, timeout=duration + 300)
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed: {proc.stderr.strip()[-800:]}")
    raw = json.loads(out_file.read_text())
    records = raw["records"]
    statuses = Counter(str(st) for _, _, st in records)
    return {
        "generator": "python threads + http.client", "connections": len(plans),
        "duration_s": round(raw["wall_s"], 2), "requests": len(records),
        "rps": round(len(records) / raw["wall_s"], 1),
        "latency": ms_summary([lat for _, lat, _ in records]), "statuses": dict(statuses),
        "socket_errors": raw["errors"], "used_per_list": raw["used"], "exhausted": raw["exhausted"],
        "generator_cpu_s": raw["cpu_s"],
    }


def load_main(plan_file: str, out_file: str) -> None:
    """``screening.py load PLAN OUT``: one thread per client, keep-alive, until the deadline."""
    plan = json.loads(Path(plan_file).read_text())
    port, cycle, duration = plan["port"], plan["cycle"], plan["duration"]
    records: list[list[list[float]]] = [[] for _ in plan["clients"]]
    used = [0] * len(plan["clients"])
    errors: list[str] = []
    exhausted = [0]
    barrier = threading.Barrier(len(plan["clients"]) + 1)
    start = [0.0]

    def client(n: int, reqs: list[list[str]]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        out = records[n]
        barrier.wait()
        i = 0
        while True:
            if i >= len(reqs):
                if not cycle:
                    exhausted[0] += 1
                    return
                i = 0
            method, path, cookie, csrf, body = reqs[i]
            h = {"Host": f"127.0.0.1:{port}", "Cookie": cookie, "X-Forwarded-Proto": "https",
                 "Accept-Language": "zh-CN,zh;q=0.9", "User-Agent": "xinlian-bench-py"}
            if method == "POST":
                h.update({"X-CSRFToken": csrf, "Origin": f"https://127.0.0.1:{port}",
                          "Content-Type": "application/x-www-form-urlencoded"})
            t0 = time.perf_counter()
            if t0 - start[0] >= duration:
                return
            i += 1
            used[n] += 1
            try:
                conn.request(method, path, body=body.encode() if body else None, headers=h)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException) as exc:
                errors.append(type(exc).__name__)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status = 0
            t1 = time.perf_counter()
            if t1 - start[0] <= duration:  # as wrk: a request still open at the deadline is not counted
                out.append([t0 - start[0], t1 - t0, status])

    threads = [threading.Thread(target=client, args=(n, reqs), daemon=True)
               for n, reqs in enumerate(plan["clients"])]
    for t in threads:
        t.start()
    start[0] = time.perf_counter()
    barrier.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start[0]
    u = resource.getrusage(resource.RUSAGE_SELF)
    Path(out_file).write_text(json.dumps({
        "records": [r for rs in records for r in rs], "errors": dict(Counter(errors)),
        "used": used, "exhausted": exhausted[0], "wall_s": min(wall, duration),
        "cpu_s": round(u.ru_utime + u.ru_stime, 2)}))


# --- 1. submit throughput -----------------------------------------------------------------------


def seed_submit(students: int, codes: list[str], rng: random.Random) -> dict:
    """A launched campaign whose every assignment is consented with all answers saved."""
    from django.db import transaction
    from django.utils import timezone

    from xinlian.screening.models import Assignment, AssignmentStatus, Response

    out = seed_network(students)
    t0 = time.perf_counter()
    campaign = make_campaign(codes)
    cis = list(campaign.campaign_instruments.select_related("instrument"))
    now = timezone.now()
    with transaction.atomic():
        campaign.assignments.update(consent_agreed=True, consent_version=campaign.consent_version,
                                    consent_at=now, status=AssignmentStatus.IN_PROGRESS,
                                    started_at=now)
        kinds: dict[int, str] = {}
        rows = []
        for a in campaign.assignments.order_by("pk").only("pk"):
            roll = rng.random()
            kind = "critical" if roll < 0.10 else "positive" if roll < 0.30 else "negative"
            kinds[a.pk] = kind
            for ci in cis:
                spec = ci.instrument.spec
                answers = visible(spec, answers_for(ci.instrument.code, rng, kind))
                seconds = {str(k): round(rng.uniform(2.0, 9.0), 2) for k in answers}
                rows.append(Response(assignment_id=a.pk, campaign_instrument=ci, data=json.dumps(
                    {"answers": {str(k): v for k, v in answers.items()}, "seconds": seconds},
                    separators=(",", ":"))))
        Response.objects.bulk_create(rows, batch_size=2000)
    users = dict(Assignment.objects.filter(campaign=campaign).values_list("pk", "user_id"))
    sessions = make_sessions(list(users.values()))
    out.update({"campaign": campaign.pk, "assignments": len(users), "kinds": kinds,
                "users": users, "sessions": sessions, "responses": len(rows),
                "instruments": codes, "campaign_seed_seconds": round(time.perf_counter() - t0, 1)})
    return out


def submit_benchmark(args: argparse.Namespace) -> dict:
    port = free_port()
    # The worker sends what the submits cause (inbox, e-mail, robots) to local sinks.
    smtp = SmtpSink()
    receiver = Receiver()
    os.environ.update(production_env("testserver"))
    os.environ.update({"XINLIAN_EMAIL_HOST": "127.0.0.1", "XINLIAN_EMAIL_PORT": str(smtp.port),
                       "XINLIAN_SITE_URL": "https://xinlian.school.test"})
    django_setup()
    migrate()
    rng = random.Random(20260901)
    seed = seed_submit(args.students, args.instruments.split(","), rng)
    from xinlian.network.models import Unit, UnitKind
    from xinlian.notify.models import Robot

    for college in Unit.objects.filter(kind=UnitKind.COLLEGE):
        Robot.objects.create(unit=college, name=f"{college.name}心理工作群", kind="wecom", url=receiver.url)
    kinds, users, sessions = seed["kinds"], seed["users"], seed["sessions"]
    assignments = list(kinds)
    rng.shuffle(assignments)
    clients = args.clients
    csrf = ["".join(rng.choice(CSRF_CHARS) for _ in range(32)) for _ in range(clients)]
    probe = assignments.pop()  # one submit checked by hand before the load

    def submit_row(c: int, pk: int) -> list[str]:
        return ["POST", f"/screening/a/{pk}/submit/", f"sessionid={sessions[users[pk]]}; csrftoken={csrf[c]}",
                csrf[c], f"key={uuid.uuid4()}"]

    def trivial_row(c: int, pk: int) -> list[str]:
        return ["GET", TRIVIAL_PATH, f"sessionid={sessions[users[pk]]}; csrftoken={csrf[c]}", csrf[c], ""]

    tmp = Path(tempfile.mkdtemp(prefix="xinlian-submit-"))
    generator = args.generator
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "python"
    server = Server(port, args.workers, args.threads, tmp / "server.log")
    workers = None
    result: dict = {"database": database_info(), **{k: v for k, v in seed.items()
                                                    if k not in ("kinds", "users", "sessions")},
                    "kinds": dict(Counter(kinds.values())), "clients": clients,
                    "server": {"cmd": " ".join(server.cmd[1:]), "workers": args.workers,
                               "threads": args.threads},
                    "worker": {"during": "one `xinlian worker` ran through every phase, on the same "
                               "two cores: it raised the alerts, opened the interviews and sent "
                               "every delivery (inbox, e-mail to a local SMTP sink, WeCom robots to "
                               "a local receiver); its CPU is counted with the server's",
                               "after": "the worker started only after the load (the figures "
                               "measure the requests alone); it then drained the backlog"}[args.worker],
                    "generator": generator, "trivial_page": f"GET {TRIVIAL_PATH} (the navbar's unread "
                    "count: session, user, one count query; it does not re-save the session)"}
    try:
        server.wait_ready()
        # --- the session and CSRF set-up, checked by hand -----------------------------------
        b = Browser(port, sessions[users[probe]], csrf[0])
        status, headers, _ = b.request("GET", "/screening/", headers=b.headers())
        result["check_login"] = {"GET /screening/": status, "location": headers.get("location", "")}
        status_b, _, _ = b.request("GET", TRIVIAL_PATH, headers=b.headers())
        result["check_login"][f"GET {TRIVIAL_PATH}"] = status_b
        if status_b != 200:
            raise RuntimeError(f"a seeded session is not logged in: {TRIVIAL_PATH} answered {status_b}")
        key = str(uuid.uuid4())
        status, headers, _ = b.request("POST", f"/screening/a/{probe}/submit/", body=f"key={key}".encode(),
                                       headers=b.post_headers("application/x-www-form-urlencoded"))
        replay, _, _ = b.request("POST", f"/screening/a/{probe}/submit/", body=f"key={key}".encode(),
                                 headers=b.post_headers("application/x-www-form-urlencoded"))
        b.close()
        result["check_submit"] = {"status": status, "location": headers.get("location", ""),
                                  "replay_status": replay}
        if status != 303:
            result["skipped"] = (f"POST /screening/a/<pk>/submit/ answered {status}, not 303: the submit "
                                 "view is not there yet (xinlian/screening/views_student.py)")
            return result
        if args.worker == "during":
            workers = Workers(1, 0.2)
            workers.wait_ready()
        meter = CpuMeter(server.proc.pid, worker_pids=[p.pid for p in workers.procs] if workers else None)
        pool = assignments  # not submitted yet; every phase takes from the front
        phases: dict[str, list[dict]] = {}
        for name, make, cycle in (("trivial", trivial_row, True), ("submit", submit_row, False)):
            for rnd in range(args.rounds):
                quiet = wait_for_quiet(args.quiet_wait)
                for part, seconds in (("warmup", args.warmup), ("measured", args.duration)):
                    if generator == "wrk":
                        chunks = [pool[t::args.wrk_threads] for t in range(args.wrk_threads)]
                        # wrk's connections share their thread's list; the c-th line's cookie
                        # and CSRF token are those of "client" c, as for the Python generator.
                        plans = [[make(i % clients, pk) for i, pk in enumerate(chunk)] for chunk in chunks]
                        if cycle:
                            plans = [plan[:2000] for plan in plans]
                        meter.start()
                        phase = run_wrk(port, plans, seconds, tmp, f"{name}{rnd}{part}", cycle=cycle,
                                        wrk_threads=args.wrk_threads, connections=clients)
                        phase["cpu"] = meter.stop()
                        if not cycle:
                            pool = [pk for chunk, used in zip(chunks, phase["used_per_list"], strict=True)
                                    for pk in chunk[used:]]
                    else:
                        chunks = [pool[c::clients] for c in range(clients)]
                        plans = [[make(c, pk) for pk in chunk] for c, chunk in enumerate(chunks)]
                        if cycle:
                            plans = [plan[:200] for plan in plans]
                        meter.start()
                        phase = run_python_load(port, plans, seconds, tmp, f"{name}{rnd}{part}", cycle=cycle)
                        phase["cpu"] = meter.stop()
                        if not cycle:
                            pool = [pk for chunk, used in zip(chunks, phase["used_per_list"], strict=True)
                                    for pk in chunk[used:]]
                    print(f"screening_submit: {name} {part}: {phase['rps']} req/s, "
                          f"p50 {phase['latency'].get('p50_ms')} ms, p99 {phase['latency'].get('p99_ms')} ms, "
                          f"statuses {phase['statuses']}, exhausted {phase['exhausted']}, cpu {phase['cpu']}",
                          file=sys.stderr, flush=True)
                    if part == "measured":
                        phase["quiet_wait"] = quiet
                        phases.setdefault(name, []).append(phase)
        result["phases"] = phases
        result.update(summarise_submit(phases))
        # Requests still in flight when the generator stopped finish on the server: wait until
        # nothing changes before counting, or the counts would race them.
        from xinlian.screening.models import Result

        load_end = time.perf_counter()
        settle(Result.objects.count)
        if workers is None:
            workers = Workers(1, 0.2)
            workers.wait_ready()
        result["drain"] = drain_worker(workers, load_end)
        result["verify"] = verify_submit(seed["campaign"], kinds)
        result["verify"]["sinks"] = {"email_messages": sum(smtp.keys.values()), "robot_messages": len(receiver.arrivals)}
        result["worker_exit_codes"] = workers.stop()
        workers = None
        result["ok"] = (result["verify"]["ok"] and result["errors"] == 0
                        and result["submit"]["exhausted"] == 0)
        result["within_target"] = bool(result["ok"] and result["submit"]["p99_ms"] < TARGET_P99_MS
                                       and result["ratio"] >= TARGET_RATIO)
        result["targets"] = {"p99_ms": TARGET_P99_MS, "ratio": TARGET_RATIO}
        result["server_log_tail"] = server.tail()
        if args.profile:
            result["profile"] = profile_submit(pool[:args.profile], users, sessions, kinds)
    finally:
        if workers is not None:
            workers.stop()
        server.stop()
        smtp.close()
        receiver.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def action_lags() -> dict:
    """How soon after each submit its red alert and its interview existed (made by the worker)."""
    from django.db.models import F

    from xinlian.care.models import Alert, AlertSource
    from xinlian.screening.models import Assignment, Interview

    submitted = dict(Assignment.objects.filter(submitted_at__isnull=False).values_list("student_id", "submitted_at"))
    alert_lag = [(created - submitted[student]).total_seconds() for student, created in
                 Alert.objects.filter(source=AlertSource.SCREENING).values_list("student_id", "created_at")
                 if student in submitted]
    interview_lag = [d.total_seconds() for d in Interview.objects.annotate(
        lag=F("created_at") - F("assignment__submitted_at")).values_list("lag", flat=True)]
    return {"submit_to_red_alert_ms": ms_summary(alert_lag), "submit_to_interview_ms": ms_summary(interview_lag)}


def drain_worker(workers: Workers, load_end: float) -> dict:
    """Wait until the worker has acted on every submission and sent every delivery; how long
    that took after ``load_end`` (a ``time.perf_counter()``), and how soon after each submit its
    alert and interview existed."""
    from xinlian.notify.models import Delivery, DeliveryStatus
    from xinlian.screening.models import Assignment

    def drained() -> bool:
        workers.assert_alive()
        return not (Assignment.objects.filter(action_due__isnull=False).exists()
                    or Delivery.objects.filter(status=DeliveryStatus.PENDING).exists())

    ok = wait_until(drained, timeout=900, step=0.2)
    return {"drained": ok, "seconds_after_load": round(time.perf_counter() - load_end, 1), **action_lags()}


def summarise_submit(phases: dict[str, list[dict]]) -> dict:
    def best(name: str, ok: str) -> dict:
        runs = phases[name]
        rps = statistics.median(r["rps"] for r in runs)
        p50 = statistics.median(r["latency"]["p50_ms"] for r in runs)
        p99 = statistics.median(r["latency"]["p99_ms"] for r in runs)
        errors = sum(sum(n for s, n in r["statuses"].items() if s != ok) for r in runs)
        errors += sum(sum((r["socket_errors"] or {}).values()) if isinstance(r["socket_errors"], dict)
                      else 0 for r in runs)
        cpu_ms = statistics.median((r["cpu"]["server_cores"] + r["cpu"]["database_cores"]) * r["cpu"]["wall_s"]
                                   / max(1, r["requests"]) * 1000 for r in runs)
        return {"rps": round(rps, 1), "p50_ms": round(p50, 1),
                # Server + database CPU per answered request: what the two cores can do at most
                # is 2000 / cpu_ms per second, whatever else the machine was doing meanwhile.
                "cpu_ms_per_request": round(cpu_ms, 2),
                "p90_ms": round(statistics.median(r["latency"]["p90_ms"] for r in runs), 1),
                "p99_ms": round(p99, 1), "max_ms": max(r["latency"]["max_ms"] for r in runs),
                "requests": sum(r["requests"] for r in runs), "errors": errors,
                # A client that ran out of students re-sent its last submit (a cheap replay):
                # such a phase measured less than it claims, so it does not count.
                "exhausted": sum(r["exhausted"] for r in runs)}

    trivial, submit = best("trivial", "200"), best("submit", "303")
    return {"trivial": trivial, "submit": submit,
            "ratio": round(submit["rps"] / trivial["rps"], 3) if trivial["rps"] else 0.0,
            "ratio_by_cpu": round(trivial["cpu_ms_per_request"] / submit["cpu_ms_per_request"], 3)
            if submit["cpu_ms_per_request"] else 0.0,
            "errors": trivial["errors"] + submit["errors"]}


def verify_submit(campaign_pk: int, kinds: dict[int, str]) -> dict:
    from django.db.models import Count

    from xinlian.care.models import Alert, AlertSource
    from xinlian.notify.models import Delivery
    from xinlian.screening.models import Assignment, AssignmentStatus, Interview, Result

    submitted = set(Assignment.objects.filter(campaign_id=campaign_pk, status=AssignmentStatus.SUBMITTED)
                    .values_list("pk", flat=True))
    n_instruments = Assignment.objects.get(pk=next(iter(kinds))).campaign.campaign_instruments.count()
    per = Counter(dict(Result.objects.filter(campaign_id=campaign_pk).values_list("assignment")
                       .annotate(n=Count("pk")).values_list("assignment", "n")))
    wrong = [pk for pk in submitted if per.get(pk, 0) != n_instruments]
    unsubmitted_with_results = [pk for pk in per if pk not in submitted]
    critical = {pk for pk in submitted if kinds[pk] == "critical"}
    flagged = {pk for pk in submitted if kinds[pk] in ("critical", "positive")}
    alerts = Alert.objects.filter(source=AlertSource.SCREENING).count()
    alert_students = Alert.objects.filter(source=AlertSource.SCREENING).values("student").distinct().count()
    interviews = Interview.objects.filter(campaign_id=campaign_pk).count()
    deliveries = Counter(Delivery.objects.values_list("channel", "status"))
    out = {
        "submitted": len(submitted), "results": sum(per.values()),
        "submitted_without_exactly_one_result_each": len(wrong),
        "results_of_unsubmitted": len(unsubmitted_with_results),
        "critical_submitted": len(critical), "alerts": alerts, "alert_students": alert_students,
        "positive_or_critical_submitted": len(flagged), "interviews": interviews,
        "deliveries": {f"{c}/{s}": n for (c, s), n in sorted(deliveries.items())},
    }
    out["ok"] = (not wrong and not unsubmitted_with_results and alerts == len(critical)
                 and alert_students == len(critical) and interviews == len(flagged))
    return out


def profile_submit(pks: list[int], users: dict[int, int], sessions: dict[int, str],
                   kinds: dict[int, str]) -> dict:
    """Where a submit spends its time: the same request in process (Django's test client, full
    middleware, CSRF enforced) under cProfile, and its SQL queries."""
    import cProfile
    import io
    import pstats

    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    if not pks:
        return {"skipped": "no unsubmitted assignment left"}
    csrf = "".join(secrets.choice(CSRF_CHARS) for _ in range(32))
    extra = {"HTTP_X_CSRFTOKEN": csrf, "HTTP_ORIGIN": "https://testserver", "HTTP_X_FORWARDED_PROTO": "https",
             "HTTP_ACCEPT_LANGUAGE": "zh-CN"}

    # One client (one handler: the middleware is loaded once, as in a server process), whose
    # cookies change to the next student's before each request.
    client = Client(enforce_csrf_checks=True)

    def client_for(pk: int) -> Client:
        client.cookies["sessionid"] = sessions[users[pk]]
        client.cookies["csrftoken"] = csrf
        return client

    def submit(pk: int) -> int:
        return client_for(pk).post(f"/screening/a/{pk}/submit/", {"key": str(uuid.uuid4())}, secure=True,
                                   **extra).status_code

    def trivial(pk: int) -> int:
        return client_for(pk).get(TRIVIAL_PATH, secure=True, **extra).status_code

    warm, pks = pks[:5], pks[5:]
    verb_pks, pks = pks[-80:], pks[:-80]
    for pk in warm:
        submit(pk)
        trivial(pk)
    queries: dict[str, list[tuple[int, float]]] = {}
    examples: dict[str, list[str]] = {}
    for pk in pks[:30]:
        with CaptureQueriesContext(connection) as ctx:
            submit(pk)
        queries.setdefault(kinds[pk], []).append(
            (len(ctx.captured_queries), sum(float(q["time"]) for q in ctx.captured_queries)))
        examples.setdefault(kinds[pk], [q["sql"][:200] for q in ctx.captured_queries])
    with CaptureQueriesContext(connection) as ctx:
        trivial(pks[0])
    trivial_sql = [q["sql"][:160] for q in ctx.captured_queries]
    rest = pks[20:]
    # CPU time of this process, not wall time: other people's processes share the machine.
    trivial_cpu = []
    for pk in rest[:100]:
        c0 = time.process_time()
        trivial(pk)
        trivial_cpu.append(time.process_time() - c0)
    wall, cpu, cpu_profiled = [], [], []
    profiler = cProfile.Profile(time.process_time)
    half = len(rest) // 2
    for n, pk in enumerate(rest):
        t0, c0 = time.perf_counter(), time.process_time()
        if n >= half:  # the first half without the profiler's own overhead
            profiler.enable()
        status = submit(pk)
        profiler.disable()
        if n < half:
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        else:
            cpu_profiled.append(time.process_time() - c0)
        if status != 303:
            return {"error": f"in-process submit answered {status}"}
    # The model verb alone (no HTTP, no middleware, no view), by kind of answer set.
    from xinlian.screening.models import Assignment

    verb: dict[str, list[float]] = {}
    for pk in verb_pks:
        c0 = time.process_time()
        Assignment.objects.get(pk=pk).submit(uuid.uuid4().hex)
        verb.setdefault(kinds[pk], []).append(time.process_time() - c0)
    reset_queries()
    buf = io.StringIO()
    pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(60)
    cumulative = buf.getvalue()
    buf = io.StringIO()
    pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(30)
    return {
        "submits_timed": half, "submits_profiled": len(rest) - half,
        "timer": "process CPU time (time.process_time)",
        "submit_wall_ms": ms_summary(wall), "submit_cpu_ms": ms_summary(cpu),
        "submit_cpu_ms_under_cprofile": ms_summary(cpu_profiled),
        "trivial_cpu_ms": ms_summary(trivial_cpu),
        "model_submit_cpu_ms": {kind: ms_summary(v) for kind, v in verb.items()},
        "queries_per_submit": {kind: {"n": len(q), "median": statistics.median(n for n, _ in q),
                                      "sql_ms_median": round(statistics.median(t for _, t in q) * 1000, 1)}
                               for kind, q in queries.items()},
        "submit_sql": examples,
        "queries_trivial_page": len(trivial_sql), "trivial_page_sql": trivial_sql,
        "cprofile_cumulative": cumulative.splitlines()[:90],
        "cprofile_tottime": buf.getvalue().splitlines()[:55],
    }


# --- 2. freshman week ---------------------------------------------------------------------------


class SmtpSink:
    """A local SMTP server that accepts every message and notes its X-Xinlian-Delivery key."""

    def __init__(self) -> None:
        self.keys: Counter = Counter()
        self.lock = threading.Lock()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 sink.xinlian.test ESMTP\r\n")
                data: list[bytes] | None = None
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    if data is not None:
                        if line.rstrip(b"\r\n") == b".":
                            sink.note(b"".join(data))
                            data = None
                            self.wfile.write(b"250 2.0.0 queued\r\n")
                        else:
                            data.append(line)
                        continue
                    verb = line[:4].upper()
                    if verb == b"EHLO":
                        self.wfile.write(b"250-sink.xinlian.test\r\n250 8BITMIME\r\n")
                    elif verb == b"DATA":
                        data = []
                        self.wfile.write(b"354 end with <CRLF>.<CRLF>\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:  # HELO, MAIL, RCPT, RSET, NOOP
                        self.wfile.write(b"250 ok\r\n")

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def note(self, message: bytes) -> None:
        import re

        found = re.search(rb"^X-Xinlian-Delivery:\s*(\S+)", message, re.MULTILINE | re.IGNORECASE)
        with self.lock:
            self.keys[found.group(1).decode() if found else ""] += 1

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Student:
    """What one simulated student will do, decided before the run."""

    __slots__ = ("pk", "session", "csrf", "answers", "critical", "replay", "resend", "arrival")

    def __init__(self, pk: int, session: str, csrf: str, answers: dict[int, dict[int, int]],
                 critical: bool, replay: bool, resend: int | None, arrival: float) -> None:
        self.pk, self.session, self.csrf, self.answers = pk, session, csrf, answers
        self.critical, self.replay, self.resend, self.arrival = critical, replay, resend, arrival


class Run:
    """Every request of the simulated week: (kind, start offset, seconds, status, as expected)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, float, float, int, bool]] = []
        self.lock = threading.Lock()
        self.start = 0.0
        self.active = 0
        self.max_active = 0
        self.lateness: list[float] = []
        self.failures: list[str] = []
        self.reconnects = 0
        self.done = 0

    def enter(self, lateness: float) -> None:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.lateness.append(lateness)

    def leave(self, records: list, reconnects: int) -> None:
        with self.lock:
            self.active -= 1
            self.records.extend(records)
            self.reconnects += reconnects
            self.done += 1


def think(rng: random.Random, lo: float, hi: float) -> None:
    time.sleep(rng.uniform(lo, hi))


def simulate(st: Student, port: int, screens: list[tuple[int, list[int]]], version: int,
             run: Run, rng: random.Random, think_lo: float, think_hi: float) -> None:
    """One student in a phone browser: open the screening, agree, answer screen by screen,
    submit; the browser follows each 303 as a browser would."""
    b = Browser(port, st.session, st.csrf)
    recs: list[tuple[str, float, float, int, bool]] = []
    base = f"/screening/a/{st.pk}/"

    def do(kind: str, method: str, path: str, expect: int, body: bytes | None = None,
           content_type: str = "") -> tuple[int, dict[str, str], bytes]:
        headers = b.post_headers(content_type) if method == "POST" else b.headers()
        t0 = time.perf_counter()
        try:
            status, h, data = b.request(method, path, body=body, headers=headers)
        except (OSError, http.client.HTTPException) as exc:
            status, h, data = 0, {}, str(exc).encode()
            b.close()
        recs.append((kind, t0 - run.start, time.perf_counter() - t0, status, status == expect))
        if status != expect and len(run.failures) < 20:
            run.failures.append(f"{kind} {path} -> {status}: {data[:200]!r}")
        return status, h, data

    form = "application/x-www-form-urlencoded"
    try:
        do("list", "GET", "/screening/", 200)
        do("take", "GET", base, 200)  # the consent text
        think(rng, think_lo, think_hi * 2)
        status, h, _ = do("consent", "POST", base + "consent/", 303,
                          f"agree=1&version={version}".encode(), form)
        if status == 303:
            do("take", "GET", h.get("location", base), 200)  # the questionnaire
        for n, (ci, items) in enumerate(screens):
            think(rng, think_lo, think_hi)
            body = json.dumps({"answers": [
                {"ci": ci, "item": item, "value": st.answers[ci][item], "seconds": round(rng.uniform(2, 9), 1)}
                for item in items]}).encode()
            do("answer", "POST", base + "answer/", 200, body, "application/json")
            if st.resend == n:  # the phone lost the answer's reply and sends the screen again
                do("answer_resent", "POST", base + "answer/", 200, body, "application/json")
        think(rng, think_lo, think_hi)
        key = f"key={uuid.uuid4()}".encode()
        status, h, _ = do("submit", "POST", base + "submit/", 303, key, form)
        if st.replay:  # a double tap, or a retry after a lost reply: the same key again
            status, h, _ = do("submit_replayed", "POST", base + "submit/", 303, key, form)
        if status == 303:
            do("thanks", "GET", h.get("location", base + "thanks/"), 200)
    finally:
        b.close()
        run.leave(recs, b.reconnects)


def freshman_benchmark(args: argparse.Namespace) -> dict:
    smtp = SmtpSink()
    receiver = Receiver()
    port = free_port()
    os.environ.update(production_env())
    os.environ.update({"XINLIAN_EMAIL_HOST": "127.0.0.1", "XINLIAN_EMAIL_PORT": str(smtp.port),
                       "XINLIAN_SITE_URL": "https://xinlian.school.test"})
    django_setup()
    migrate()
    from xinlian.network.demo import academic_year
    from xinlian.network.models import Unit, UnitKind
    from xinlian.notify.models import Robot

    rng = random.Random(20260902)
    seeded = seed_network(args.seed_students)
    for college in Unit.objects.filter(kind=UnitKind.COLLEGE):
        Robot.objects.create(unit=college, name=f"{college.name}心理工作群", kind="wecom", url=receiver.url)
    codes = args.instruments.split(",")
    campaign = make_campaign(codes, cohort=academic_year(), name="2026级新生心理普查")
    cis = list(campaign.campaign_instruments.select_related("instrument"))
    invited = list(campaign.assignments.values_list("pk", "user_id"))
    rng.shuffle(invited)
    chosen = invited[:args.students]
    sessions = make_sessions([u for _, u in chosen])
    # Screens as the questionnaire shows them: items_per_page items of one instrument at a time.
    screens: list[tuple[int, list[int]]] = []
    specs = {}
    for ci in cis:
        spec = ci.instrument.spec
        specs[ci.pk] = spec
        numbers = spec.item_numbers
        screens += [(ci.pk, numbers[i:i + spec.items_per_page])
                    for i in range(0, len(numbers), spec.items_per_page)]
    students: list[Student] = []
    for n, (pk, user) in enumerate(chosen):
        critical = rng.random() < args.critical_share
        answers = {ci.pk: answers_for(ci.instrument.code, rng, "critical" if critical else "negative")
                   for ci in cis}
        resend = rng.randrange(len(screens)) if rng.random() < 0.02 else None
        arrival = args.window * (n + rng.random()) / len(chosen)
        students.append(Student(pk, sessions[user], "".join(rng.choice(CSRF_CHARS) for _ in range(32)),
                                answers, critical, rng.random() < 0.02, resend, arrival))
    students.sort(key=lambda s: s.arrival)
    plan = {"students": len(students), "invited": len(invited), "instruments": codes,
            "screens_per_student": len(screens), "critical_students": sum(s.critical for s in students),
            "replaying_students": sum(s.replay for s in students),
            "resending_students": sum(s.resend is not None for s in students),
            "window_s": args.window, "think_s": [args.think_lo, args.think_hi],
            "client_threads": args.client_threads}

    tmp = Path(tempfile.mkdtemp(prefix="xinlian-freshman-"))
    server = Server(port, args.workers, args.threads, tmp / "server.log")
    workers = None
    result: dict = {"database": database_info(), **seeded, "campaign": campaign.pk, "plan": plan,
                    "server": {"cmd": " ".join(server.cmd[1:])}}
    try:
        server.wait_ready()
        workers = Workers(1, 0.2)
        workers.wait_ready()
        run = Run()
        queue = iter(students)
        qlock = threading.Lock()
        version = campaign.consent_version

        def client(seed: int) -> None:
            crng = random.Random(seed)
            while True:
                with qlock:
                    st = next(queue, None)
                if st is None:
                    return
                delay = run.start + st.arrival - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                run.enter(max(0.0, -delay))
                simulate(st, port, screens, version, run, crng, args.think_lo, args.think_hi)

        meter = CpuMeter(server.proc.pid, worker_pids=[p.pid for p in workers.procs],
                         in_process_generator=True)
        progress_stop = threading.Event()

        marks: list[tuple[float, dict[str, float]]] = []
        interval = CpuMeter(server.proc.pid, worker_pids=[p.pid for p in workers.procs],
                            in_process_generator=True)

        def progress() -> None:
            interval.start()
            while not progress_stop.wait(30):
                meter.sample()
                marks.append((time.perf_counter() - run.start, interval.stop()))
                interval.start()
                print(f"freshman_week: {time.perf_counter() - run.start:.0f} s, {run.done:,} done, "
                      f"{run.active} active, {len(run.records):,} requests, "
                      f"{sum(1 for r in run.records if not r[4])} unexpected", file=sys.stderr, flush=True)

        run.start = time.perf_counter()
        meter.start()
        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.client_threads)]
        for t in threads:
            t.start()
        threading.Thread(target=progress, daemon=True).start()
        for t in threads:
            t.join()
        window_end = time.perf_counter()
        cpu = meter.stop()
        progress_stop.set()
        # Let the worker act on every submission and drain the outbox; then check everything.
        drain = drain_worker(workers, window_end)
        drained, drain_s = drain.pop("drained"), drain.pop("seconds_after_load")
        result["action_lag"] = drain
        time.sleep(1)
        result["worker_exit_codes"] = workers.stop()
        result["worker_errors"] = workers.errors()
        workers = None
        result["http"] = summarise_run(run, window_end)
        result["timeline"] = timeline(run, marks)
        result["cpu"] = cpu
        result["outbox_drained"] = drained
        result["drain_seconds_after_window"] = round(drain_s, 1)
        result["verify"] = verify_freshman(campaign.pk, students, specs, smtp, receiver)
        result["server_log_tail"] = server.tail()
        result["ok"] = (result["http"]["unexpected"] == 0 and drained and result["verify"]["ok"])
    finally:
        if workers is not None:
            workers.stop()
        server.stop()
        smtp.close()
        receiver.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def timeline(run: Run, marks: list[tuple[float, dict[str, float]]]) -> list[dict]:
    """Per 30-second interval: requests, latency, and where the CPU went (a slow minute is
    either ours or somebody else's)."""
    out, lo = [], 0.0
    for hi, cpu in marks:
        lat = [r[2] for r in run.records if lo <= r[1] < hi]
        out.append({"until_s": round(hi), "requests": len(lat), "rps": round(len(lat) / (hi - lo), 1),
                    "p50_ms": ms_summary(lat).get("p50_ms"), "p99_ms": ms_summary(lat).get("p99_ms"),
                    "server_cores": cpu["server_cores"], "database_cores": cpu["database_cores"],
                    "other_cores": cpu["other_cores"]})
        lo = hi
    return out


def summarise_run(run: Run, window_end: float) -> dict:
    by_kind: dict[str, list[float]] = {}
    statuses: dict[str, Counter] = {}
    for kind, _start, seconds, status, _ok in run.records:
        by_kind.setdefault(kind, []).append(seconds)
        statuses.setdefault(kind, Counter())[str(status)] += 1
    duration = window_end - run.start
    everything = [r[2] for r in run.records]
    return {
        "duration_s": round(duration, 1), "students_done": run.done,
        "requests": len(run.records), "rps": round(len(run.records) / duration, 1),
        "unexpected": sum(1 for r in run.records if not r[4]),
        "first_failures": run.failures, "reconnects": run.reconnects,
        "max_concurrent_students": run.max_active,
        "arrival_lateness": ms_summary(run.lateness),
        "latency_all": ms_summary(everything),
        "by_kind": {k: {**ms_summary(v), "statuses": dict(statuses[k])} for k, v in sorted(by_kind.items())},
    }


def verify_freshman(campaign_pk: int, students: list[Student], specs: dict, smtp: SmtpSink,
                    receiver: Receiver) -> dict:
    from django.db.models import Q

    from xinlian.care.models import Alert, AlertSource, TimelineEntry
    from xinlian.notify.models import Channel, Delivery, DeliveryStatus
    from xinlian.screening.models import Assignment, AssignmentStatus, Interview, Response, Result

    pks = [s.pk for s in students]
    by_pk = {s.pk: s for s in students}
    rows = dict(Assignment.objects.filter(pk__in=pks).values_list("pk", "status"))
    not_submitted = sum(1 for pk in pks if rows.get(pk) != AssignmentStatus.SUBMITTED)
    student_of = dict(Assignment.objects.filter(pk__in=pks).values_list("pk", "student_id"))
    results = Counter(Result.objects.filter(assignment_id__in=pks)
                      .values_list("assignment_id", "instrument_id"))
    n_instruments = len(specs)
    results_per_assignment = Counter(a for a, _ in results)
    wrong_results = sum(1 for pk in pks if results_per_assignment.get(pk, 0) != n_instruments)
    duplicate_results = sum(1 for n in results.values() if n > 1)
    submits = Counter(TimelineEntry.objects.filter(kind="screening.submit",
                                                   student_id__in=student_of.values())
                      .values_list("student_id", flat=True))
    submitted_twice = sum(1 for n in submits.values() if n > 1)
    # Every answer kept exactly as sent (decrypted), every shown item answered.
    lost, incomplete, checked = 0, 0, 0
    for resp in Response.objects.filter(assignment_id__in=pks).iterator(chunk_size=2000):
        sent = by_pk[resp.assignment_id].answers[resp.campaign_instrument_id]
        kept = resp.answers
        checked += 1
        if kept != sent:
            lost += 1
        if specs[resp.campaign_instrument_id].check_answers(kept):
            incomplete += 1
    missing_responses = len(pks) * n_instruments - checked
    critical_students = {student_of[s.pk] for s in students if s.critical}
    alerts = list(Alert.objects.filter(source=AlertSource.SCREENING).values_list("pk", "student_id"))
    alert_students = Counter(st for _, st in alerts)
    links = {f"/care/alerts/{pk}/" for pk, _ in alerts}
    deliveries = list(Delivery.objects.values_list("key", "channel", "status", "link"))
    statuses = Counter(f"{c}/{s}" for _, c, s, _ in deliveries)
    alert_deliveries = [(str(k), c, s) for k, c, s, link in deliveries if link in links]
    alerts_without_delivery = len(links - {link for _, _, _, link in deliveries})
    not_sent = sum(1 for _, _, s in alert_deliveries if s != DeliveryStatus.SENT)
    email_keys = {str(k) for k, c, _, _ in deliveries if c == Channel.EMAIL}
    webhook_keys = {str(k) for k, c, _, _ in deliveries if c == Channel.WEBHOOK}
    robot_got = Counter(k for k, _, _ in receiver.snapshot())
    flagged = (Result.objects.filter(assignment_id__in=pks).filter(Q(positive=True) | Q(critical=True))
               .values("assignment_id").distinct().count())
    interviews = Interview.objects.filter(campaign_id=campaign_pk).count()
    out = {
        "assignments": len(pks), "not_submitted": not_submitted,
        "submitted_more_than_once": submitted_twice,
        "assignments_without_one_result_per_instrument": wrong_results,
        "duplicate_results": duplicate_results,
        "responses_checked": checked, "responses_missing": missing_responses,
        "responses_not_as_sent": lost, "responses_incomplete": incomplete,
        "critical_students": len(critical_students), "alerts": len(alerts),
        "alerts_for_non_critical_students": sum(1 for st in alert_students if st not in critical_students),
        "students_with_more_than_one_alert": sum(1 for n in alert_students.values() if n > 1),
        "critical_students_without_alert": len(critical_students - set(alert_students)),
        "alert_deliveries": Counter(f"{c}/{s}" for _, c, s in alert_deliveries),
        "alerts_without_delivery": alerts_without_delivery, "alert_deliveries_not_sent": not_sent,
        "deliveries": dict(statuses),
        "emails_received_unique": len(email_keys & set(smtp.keys)),
        "emails_expected": len(email_keys),
        "emails_repeated": sum(n - 1 for k, n in smtp.keys.items() if n > 1),
        "robot_messages_received_unique": len(webhook_keys & set(robot_got)),
        "robot_messages_expected": len(webhook_keys),
        "robot_messages_repeated": sum(n - 1 for n in robot_got.values() if n > 1),
        "positive_or_critical_assignments": flagged, "interviews": interviews,
    }
    out["ok"] = (not_submitted == 0 and submitted_twice == 0 and wrong_results == 0
                 and duplicate_results == 0 and missing_responses == 0 and lost == 0 and incomplete == 0
                 and len(alerts) == len(critical_students) and out["critical_students_without_alert"] == 0
                 and out["students_with_more_than_one_alert"] == 0 and alerts_without_delivery == 0
                 and not_sent == 0 and statuses.get("email/pending", 0) == 0
                 and statuses.get("webhook/pending", 0) == 0
                 and not any(k.endswith("/failed") for k in statuses)
                 and out["emails_received_unique"] == len(email_keys)
                 and out["robot_messages_received_unique"] == len(webhook_keys)
                 and interviews == flagged)
    return out




# --- 3. rescore ---------------------------------------------------------------------------------

RESCORE_RULES = {"version": "bench-factor-gt", "overrides": {"factor_op": "gt"},
                 "note": "Sources disagree on '>= 2' and '> 2' for a factor score (instruments.md)."}


def rescore_prepare(args: argparse.Namespace) -> dict:
    """100,000 submitted SCL-90 responses and their results, as submit stores them (encrypted
    payloads, the file's default rules), in one campaign; then a rule set that changes a setting."""
    django_setup()
    migrate()
    from django.db import transaction
    from django.utils import timezone

    from xinlian.screening.models import AssignmentStatus, Response, Result, RuleSet

    rng = random.Random(20260903)
    t0 = time.perf_counter()
    # 3 % of the demo's students are on leave or suspended, and so not invited.
    seeded = seed_network(int(args.responses / 0.965) + 50)
    campaign = make_campaign(["SCL90"], name="2026春季 SCL-90 普查")
    ci = campaign.campaign_instruments.select_related("instrument").get()
    inst, spec = ci.instrument, ci.instrument.spec
    chosen = list(campaign.assignments.order_by("pk").values_list("pk", "student_id")[:args.responses])
    if len(chosen) < args.responses:
        raise RuntimeError(f"only {len(chosen)} students invited, {args.responses} wanted")
    now = timezone.now()
    answers = [scl90_answers(rng) for _ in chosen]
    settings_old = spec.effective_settings()
    settings_new = spec.effective_settings(RESCORE_RULES["overrides"])
    old = spec.score_matrix(spec.matrix(answers), settings_old)
    new = spec.score_matrix(spec.matrix(answers), settings_new)
    t_seed = time.perf_counter()
    with transaction.atomic():
        pks = [pk for pk, _ in chosen]
        for i in range(0, len(pks), 5000):
            campaign.assignments.filter(pk__in=pks[i:i + 5000]).update(
                consent_agreed=True, consent_version=campaign.consent_version, consent_at=now,
                started_at=now, status=AssignmentStatus.SUBMITTED, submitted_at=now,
                submit_key=uuid.uuid4().hex)
        responses = []
        for (pk, _student), a in zip(chosen, answers, strict=True):
            seconds = {str(k): round(rng.uniform(2.0, 9.0), 2) for k in a}
            responses.append(Response(assignment_id=pk, campaign_instrument=ci, data=json.dumps(
                {"answers": {str(k): v for k, v in a.items()}, "seconds": seconds}, separators=(",", ":"))))
        responses = Response.objects.bulk_create(responses, batch_size=2000)
        results = []
        for r, ((pk, student), resp) in enumerate(zip(chosen, responses, strict=True)):
            row = old.row(r)  # exactly what Assignment.submit stores
            results.append(Result(
                response_id=resp.pk, assignment_id=pk, campaign=campaign, instrument=inst,
                student_id=student, instrument_version=row["instrument_version"],
                rule_version=row["rule_version"], classification=row["classification"],
                positive=row["positive"], critical=bool(row["critical"]), bands=row["bands"],
                flags=row["flags"], data=json.dumps(row, ensure_ascii=False), scored_at=now))
        Result.objects.bulk_create(results, batch_size=2000)
    RuleSet.objects.create(instrument_code="SCL90", version=RESCORE_RULES["version"],
                           overrides=RESCORE_RULES["overrides"], note=RESCORE_RULES["note"], active=True)
    old_pos, new_pos = old.positive, new.positive
    return {
        "database": database_info(), **seeded, "campaign": campaign.pk, "responses": len(chosen),
        "rule_set": RESCORE_RULES, "old_rule_version": spec.rules_version,
        "expected": {"positive_before": int(old_pos.sum()), "positive_after": int(new_pos.sum()),
                     "no_longer_positive": int((old_pos & ~new_pos).sum()),
                     "newly_positive": int((new_pos & ~old_pos).sum()),
                     "classification_changes": int((old.klass != new.klass).sum())},
        "seed_seconds_total": round(time.perf_counter() - t0, 1),
        "write_seconds": round(time.perf_counter() - t_seed, 1),
    }


def rescore_verify(args: argparse.Namespace) -> dict:
    django_setup()
    from django.db.models import Count

    from xinlian.screening.models import Interview, Result

    qs = Result.objects.filter(campaign_id=args.campaign)
    return {
        "results": qs.count(),
        "by_rule_version": dict(qs.values_list("rule_version").annotate(n=Count("pk"))),
        "positive": qs.filter(positive=True).count(),
        "interviews": Interview.objects.filter(campaign_id=args.campaign).count(),
    }




def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("submit")
    p.add_argument("--students", type=int, default=8000)
    p.add_argument("--instruments", default="PHQ9")
    p.add_argument("--clients", type=int, default=32)
    # Chosen by measurement on the 2-core machine (see the report of this benchmark):
    # 3 sync workers served both pages at least as fast as 2-4 gthread workers x 2-8 threads.
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="gthread threads per worker (0: sync workers)")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    p.add_argument("--wrk-threads", type=int, default=1)
    p.add_argument("--profile", type=int, default=0, help="submits to profile in process afterwards")
    p.add_argument("--worker", choices=("during", "after"), default="during",
                   help="run `xinlian worker` through the load (the deployment) or only after it")
    p.add_argument("--quiet-wait", type=float, default=60.0,
                   help="seconds to wait, before each phase, for other load on the machine to stop")
    p = sub.add_parser("freshman")
    p.add_argument("--students", type=int, default=10_000, help="freshmen who take the screening")
    p.add_argument("--seed-students", type=int, default=42_000,
                   help="students of the whole university (a quarter are freshmen)")
    p.add_argument("--instruments", default="UPI,SCL90")
    p.add_argument("--window", type=float, default=600.0, help="seconds over which the students arrive")
    p.add_argument("--think-lo", type=float, default=0.2)
    p.add_argument("--think-hi", type=float, default=1.0)
    p.add_argument("--critical-share", type=float, default=0.01)
    p.add_argument("--client-threads", type=int, default=400, help="most students in progress at once")
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--threads", type=int, default=0)
    p = sub.add_parser("rescore-prepare")
    p.add_argument("--responses", type=int, default=100_000)
    p = sub.add_parser("rescore-verify")
    p.add_argument("--campaign", type=int, required=True)
    p = sub.add_parser("load")
    p.add_argument("plan")
    p.add_argument("out")
    args = parser.parse_args()
    if args.what == "load":
        load_main(args.plan, args.out)
        return
    result = {"submit": submit_benchmark, "freshman": freshman_benchmark,
              "rescore-prepare": rescore_prepare, "rescore-verify": rescore_verify}[args.what](args)
    print(json.dumps(result, ensure_ascii=False, default=str))


if __name__ == "__main__":
    sys.exit(main())
