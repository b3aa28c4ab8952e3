"""floor — what every request pays before it does any work: Xinlian beside a bare Django app.

Two servers run side by side, started the same way (gunicorn, the same number of sync workers,
the same database, persistent connections): Xinlian with production settings (as
bench/screening.py serves it: DEBUG off, the TLS proxy's header, CSRF, sessions in the
database, the full middleware stack) and bench/bare/ (no middleware, one view answering a
constant, and the thinnest Django questionnaire submit: a Form validates nine PHQ-9 answers,
the view scores them and inserts one row through the ORM). wrk (16 keep-alive connections)
loads one server at a time, alternating within one run, so that the other people's load on
this shared 2-core machine falls on both alike:

* (a) ``GET /`` of the bare app against Xinlian's lightest logged-in page ``GET /inbox/badge/``
  (every connection its own student's session);
* (b) ``POST /submit/`` of the bare app against Xinlian's ``POST /screening/a/<pk>/submit/``
  (PHQ-9, answers saved beforehand, as in bench/screening.py's ``submit``), twice: ``submit``
  is a request whose session's renewal is due (every session was last renewed two minutes
  before the servers start: ``age_sessions``; on PostgreSQL the statement that loads the
  session renews it too, on SQLite one statement more) and whose two-step check is due too,
  ``submit_warm`` a submit as a student sends it, after opening the questionnaire and saving
  answers within the minute: its session was renewed and checked by those requests
  (``stamp_sessions``, just before the phase, outside the measured CPU).

Figures: req/s, p50/p99, server + database CPU per request, and the ratios Xinlian / bare
(by req/s, and by CPU per request, which other load on the machine does not move). Targets:
badge ≥ 0.25× the bare view, submit ≥ 0.5× the bare submit, p99 < 100 ms. Afterwards the
logged-in request is profiled in process (Django's test client, cProfile, process CPU time):
where a ``GET /inbox/badge/`` spends its time, and its SQL.

On a shared machine other load moves req/s and even CPU per request between runs; the
before/after of one change is best measured in instructions, which it does not move: one process
per code tree through Django's WSGI handler on the same seeded database, under
``valgrind --tool=callgrind``, counters zeroed after warm-up and dumped after N requests
(``callgrind_control -z``/``-d``; results in bench/results/floor.json,
``x8_instructions_before_after``).

Run as a child by bench/run.py: ``python bench/floor.py --students N ...``."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from common import BENCH_DIR, PYTHON, ROOT, database_info, django_setup
from linkage import wait_until
from screening import (
    CSRF_CHARS,
    GUNICORN,
    TRIVIAL_PATH,
    CpuMeter,
    Server,
    free_port,
    migrate,
    phq9_answers,
    production_env,
    run_python_load,
    run_wrk,
    seed_submit,
    wait_for_quiet,
)

TARGETS = {"badge_over_bare_view": 0.25, "submit_over_bare_submit": 0.5, "p99_ms": 100.0}


class BareServer:
    """bench/bare/ under the same gunicorn command as Xinlian's Server."""

    def __init__(self, port: int, workers: int, threads: int, log: Path) -> None:
        self.port = port
        self.log = log
        cmd = [GUNICORN, "bare.wsgi:application", "--pythonpath", str(BENCH_DIR), "-b", f"127.0.0.1:{port}",
               "--workers", str(workers), "--backlog", "2048", "--keep-alive", "30",
               "--graceful-timeout", "5", "--timeout", "120"]
        if threads > 0:
            cmd += ["--worker-class", "gthread", "--threads", str(threads)]
        self.cmd = cmd
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="bare.settings")
        with open(log, "ab") as fh:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        def up() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bare server exited with {self.proc.returncode}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/")
                ok = conn.getresponse().status == 200
                conn.close()
                return ok
            except OSError:
                return False

        if not wait_until(up, timeout, step=0.2):
            raise RuntimeError("the bare server did not answer /")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


def bare_migrate() -> None:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="bare.settings",
               PYTHONPATH=os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")])))
    subprocess.run([PYTHON, "-m", "django", "migrate", "--run-syncdb", "-v", "0"], cwd=ROOT, env=env,
                   check=True)


def summary(runs: list[dict], ok: str) -> dict:
    rps = statistics.median(r["rps"] for r in runs)
    cpu_ms = statistics.median((r["cpu"]["server_cores"] + r["cpu"]["database_cores"]) * r["cpu"]["wall_s"]
                               / max(1, r["requests"]) * 1000 for r in runs)
    errors = sum(sum(n for s, n in r["statuses"].items() if s != ok) for r in runs)
    errors += sum(sum((r.get("socket_errors") or {}).values()) for r in runs)
    return {"rps": round(rps, 1),
            "p50_ms": round(statistics.median(r["latency"]["p50_ms"] for r in runs), 1),
            "p99_ms": round(statistics.median(r["latency"]["p99_ms"] for r in runs), 1),
            "max_ms": max(r["latency"]["max_ms"] for r in runs),
            "cpu_ms_per_request": round(cpu_ms, 2),
            "requests": sum(r["requests"] for r in runs), "errors": errors,
            "exhausted": sum(r["exhausted"] for r in runs),
            "rounds": [{"rps": r["rps"], "p50_ms": r["latency"]["p50_ms"], "p99_ms": r["latency"]["p99_ms"],
                        "cpu": r["cpu"]} for r in runs]}


def ratio(ours: dict, bare: dict) -> dict:
    return {"by_rps": round(ours["rps"] / bare["rps"], 3) if bare["rps"] else 0.0,
            "by_cpu": round(bare["cpu_ms_per_request"] / ours["cpu_ms_per_request"], 3)
            if ours["cpu_ms_per_request"] else 0.0}


def floor_benchmark(args: argparse.Namespace) -> dict:
    os.environ.update(production_env("testserver"))
    django_setup()
    migrate()
    bare_migrate()
    rng = random.Random(20261207)
    seed = seed_submit(args.students, ["PHQ9"], rng)
    kinds, users, sessions = seed["kinds"], seed["users"], seed["sessions"]
    # Every session last renewed two minutes ago, so that a submit's renewal is due: set once,
    # before the servers start (a bulk update just before a phase left the table to be vacuumed
    # during it). The sessions then end 28 minutes from now, after any run of this benchmark.
    age_sessions(list(sessions.values()))
    pool = list(kinds)
    rng.shuffle(pool)
    profile_pks = [pool.pop() for _ in range(min(args.profile, len(pool) // 4))]
    cyclic = list(pool)
    clients = args.connections
    csrf = ["".join(rng.choice(CSRF_CHARS) for _ in range(32)) for _ in range(clients)]

    def badge_row(c: int, pk: int) -> list[str]:
        return ["GET", TRIVIAL_PATH, f"sessionid={sessions[users[pk]]}; csrftoken={csrf[c]}", csrf[c], ""]

    def submit_row(c: int, pk: int) -> list[str]:
        return ["POST", f"/screening/a/{pk}/submit/", f"sessionid={sessions[users[pk]]}; csrftoken={csrf[c]}",
                csrf[c], f"key={uuid.uuid4()}"]

    def bare_view_row(c: int, pk: int) -> list[str]:
        return ["GET", "/", "", "", ""]

    def bare_submit_row(c: int, pk: int) -> list[str]:
        kind = kinds[pk]
        answers = phq9_answers(rng, kind)
        body = "&".join(f"q{i}={answers[i]}" for i in range(1, 10))
        return ["POST", "/submit/", "", "", body]

    tmp = Path(tempfile.mkdtemp(prefix="xinlian-floor-"))
    generator = args.generator
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "python"
    ours = Server(free_port(), args.workers, args.threads, tmp / "xinlian.log")
    bare = BareServer(free_port(), args.workers, args.threads, tmp / "bare.log")
    result: dict = {
        "database": database_info(), "students_seeded": seed["students_seeded"],
        "assignments": seed["assignments"], "generator": generator, "connections": clients,
        "server": {"workers": args.workers, "threads": args.threads, "xinlian": " ".join(ours.cmd[1:]),
                   "bare": " ".join(bare.cmd[1:])},
        "pages": {"bare_view": "GET / of bench/bare (no middleware, a constant)",
                  "badge": f"GET {TRIVIAL_PATH} of Xinlian, logged in (production settings)",
                  "bare_submit": "POST /submit/ of bench/bare: Form of 9 answers, score, one ORM insert",
                  "submit": "POST /screening/a/<pk>/submit/ of Xinlian (PHQ-9, answers saved, worker off)"},
    }
    try:
        ours.wait_ready()
        bare.wait_ready()
        phases: dict[str, list[dict]] = {}
        order = (("bare_view", bare, bare_view_row, True, "200"), ("badge", ours, badge_row, True, "200"),
                 ("bare_submit", bare, bare_submit_row, True, "303"), ("submit", ours, submit_row, False, "303"),
                 ("submit_warm", ours, submit_row, False, "303"))
        last_rps = 200.0
        for rnd in range(args.rounds):
            for name, server, make, cycle, _ok in order:
                quiet = wait_for_quiet(args.quiet_wait)
                meter = CpuMeter(server.proc.pid)
                for part, seconds in (("warmup", args.warmup), ("measured", args.duration)):
                    # The read-only and the bare phases cycle over every student; only Xinlian's
                    # submit spends assignments (a fast run used to empty the pool for the others).
                    source = pool if not cycle else cyclic
                    plans = [[make(c, pk) for pk in source[c::clients]] for c in range(clients)]
                    if cycle:
                        plans = [plan[:200] for plan in plans]
                    if name == "submit_warm":  # the sessions this part can reach, as a student's are
                        reach = int(last_rps * seconds * 2 / clients) + 20
                        stamp_sessions([sessions[users[pk]] for c in range(clients) for pk in source[c::clients][:reach]])
                    meter.start()
                    if generator == "wrk":
                        # One wrk thread; connection c takes line c, c + clients, ... of one list.
                        flat = [row for group in zip(*plans, strict=False) for row in group]
                        phase = run_wrk(server.port, [flat], seconds, tmp, f"{name}{rnd}{part}", cycle=cycle,
                                        wrk_threads=1, connections=clients)
                        used = phase["used_per_list"][0]
                        consumed = {row[1] for row in flat[:used]}
                    else:
                        phase = run_python_load(server.port, plans, seconds, tmp, f"{name}{rnd}{part}",
                                                cycle=cycle)
                        consumed = {row[1] for plan, u in zip(plans, phase["used_per_list"], strict=True)
                                    for row in plan[:u]}
                    phase["cpu"] = meter.stop()
                    if name == "submit":
                        last_rps = max(last_rps, phase["rps"])
                    if not cycle:  # submitted assignments are spent
                        pool = [pk for pk in pool if f"/screening/a/{pk}/submit/" not in consumed]
                    print(f"floor: {name} round {rnd} {part}: {phase['rps']} req/s, p50 "
                          f"{phase['latency'].get('p50_ms')} ms, p99 {phase['latency'].get('p99_ms')} ms, "
                          f"statuses {phase['statuses']}, cpu {phase['cpu']}", file=sys.stderr, flush=True)
                    if part == "measured":
                        phase["quiet_wait"] = quiet
                        phases.setdefault(name, []).append(phase)
        figures = {name: summary(phases[name], ok) for name, _s, _m, _c, ok in order}
        result["figures"] = figures
        result["ratios"] = {"badge_over_bare_view": ratio(figures["badge"], figures["bare_view"]),
                            "submit_over_bare_submit": ratio(figures["submit"], figures["bare_submit"]),
                            "submit_warm_over_bare_submit": ratio(figures["submit_warm"], figures["bare_submit"])}
        result["targets"] = TARGETS
        result["errors"] = sum(f["errors"] for f in figures.values())
        result["within_targets"] = {
            "badge_over_bare_view": result["ratios"]["badge_over_bare_view"]["by_rps"]
            >= TARGETS["badge_over_bare_view"],
            "submit_over_bare_submit": result["ratios"]["submit_over_bare_submit"]["by_rps"]
            >= TARGETS["submit_over_bare_submit"],
            "submit_warm_over_bare_submit": result["ratios"]["submit_warm_over_bare_submit"]["by_rps"]
            >= TARGETS["submit_over_bare_submit"],
            "p99_ms": figures["badge"]["p99_ms"] < TARGETS["p99_ms"] and figures["submit"]["p99_ms"] < TARGETS["p99_ms"],
        }
        result["ok"] = (result["errors"] == 0 and figures["submit"]["exhausted"] == 0
                        and figures["submit_warm"]["exhausted"] == 0)
    finally:
        ours.stop()
        bare.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if profile_pks:
        half = len(profile_pks) // 2
        result["in_process"] = in_process_cpu(profile_pks[:half], users, sessions, rng, kinds)
        result["profile"] = profile_badge(profile_pks[half:], users, sessions, args.profile_runs)
    return result


def stamp_sessions(keys: list[str]) -> None:
    """Leave each session as a student's requests of the last minute leave it (the questionnaire
    page, the answers saved): the two-step check's time in its data (as
    xinlian.access.twofactor writes it) and its row's expiry renewed now (a full idle timeout
    ahead, as xinlian.web.middleware renews it)."""
    from xinlian.access.twofactor import CHECKED_KEY
    from xinlian.web.sessions import SessionStore

    now = int(time.time())
    for key in keys:
        store = SessionStore(key)
        store[CHECKED_KEY] = now
        store.save()  # Django's save: the data, and the expiry a full idle timeout from now


def age_sessions(keys: list[str], seconds: int = 120) -> None:
    """Make each session's renewal due: its row last renewed ``seconds`` ago (the idle timeout
    then ends that much sooner than a full one from now); on PostgreSQL the table is vacuumed
    after, as it would be in a steady state."""
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from xinlian.web.models import Session

    expiry = timezone.now() + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE - seconds)
    for start in range(0, len(keys), 500):
        Session.objects.filter(session_key__in=keys[start:start + 500]).update(expire_date=expiry)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM (ANALYZE) {Session._meta.db_table}")


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def in_process_cpu(pks: list[int], users: dict[int, int], sessions: dict[int, str], rng: random.Random,
                   kinds: dict[int, str]) -> dict:
    """Process CPU per request, each app in its own process through Django's test client (the
    whole middleware stack; SQLite's work is in process, PostgreSQL's is not, for both apps
    alike). Other load on the machine barely moves CPU time, where it moves req/s a lot: on a
    shared 2-core machine this is the steadier ratio."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    csrf = "".join(rng.choice(CSRF_CHARS) for _ in range(32))
    extra = {"HTTP_X_CSRFTOKEN": csrf, "HTTP_ORIGIN": "https://testserver", "HTTP_X_FORWARDED_PROTO": "https",
             "HTTP_ACCEPT_LANGUAGE": "zh-CN"}

    def as_student(pk: int) -> Client:
        client.cookies["sessionid"] = sessions[users[pk]]
        client.cookies["csrftoken"] = csrf
        return client

    badge, submit = [], []
    for pk in pks[:5]:
        as_student(pk).get(TRIVIAL_PATH, secure=True, **extra)
    for _ in range(3):
        for pk in pks:
            c0 = time.process_time()
            status = as_student(pk).get(TRIVIAL_PATH, secure=True, **extra).status_code
            badge.append(time.process_time() - c0)
            if status != 200:
                return {"error": f"in-process {TRIVIAL_PATH} answered {status}"}
    warm: list[float] = []
    half = len(pks) // 2
    age_sessions([sessions[users[pk]] for pk in pks[:half]])
    stamp_sessions([sessions[users[pk]] for pk in pks[half:]])
    for pk in pks:
        c0 = time.process_time()
        status = as_student(pk).post(f"/screening/a/{pk}/submit/", {"key": str(uuid.uuid4())}, secure=True,
                                     **extra).status_code
        (warm if pk in pks[half:] else submit).append(time.process_time() - c0)
        if status != 303:
            return {"error": f"in-process submit answered {status}"}
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="bare.settings",
               PYTHONPATH=os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([PYTHON, str(Path(__file__).resolve()), "bare-cpu", "--runs", str(len(badge))],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    bare = json.loads(proc.stdout.strip().splitlines()[-1])
    out = {"badge_cpu_ms": _median_ms(badge), "submit_cpu_ms": _median_ms(submit),
           "submit_warm_cpu_ms": _median_ms(warm),
           "bare_view_cpu_ms": bare["view_cpu_ms"], "bare_submit_cpu_ms": bare["submit_cpu_ms"],
           "requests": {"badge": len(badge), "submit": len(submit), "submit_warm": len(warm),
                        "bare_view": bare["runs"],
                        "bare_submit": bare["runs"]}}
    out["badge_over_bare_view"] = round(out["bare_view_cpu_ms"] / out["badge_cpu_ms"], 3)
    out["submit_over_bare_submit"] = round(out["bare_submit_cpu_ms"] / out["submit_cpu_ms"], 3)
    out["submit_warm_over_bare_submit"] = round(out["bare_submit_cpu_ms"] / out["submit_warm_cpu_ms"], 3)
    return out


def bare_cpu(runs: int) -> dict:
    """``floor.py bare-cpu``: the bare app's two requests in process (DJANGO_SETTINGS_MODULE=bare.settings)."""
    import django

    django.setup()
    from django.test import Client

    client = Client()
    rng = random.Random(1)
    view, submit = [], []
    for _ in range(20):
        client.get("/")
    for _ in range(runs):
        c0 = time.process_time()
        status = client.get("/").status_code
        view.append(time.process_time() - c0)
        assert status == 200, status
    for n in range(runs):
        answers = phq9_answers(rng, ("negative", "positive", "critical")[n % 3])
        c0 = time.process_time()
        status = client.post("/submit/", {f"q{i}": answers[i] for i in range(1, 10)}).status_code
        submit.append(time.process_time() - c0)
        assert status == 303, status
    return {"runs": runs, "view_cpu_ms": _median_ms(view), "submit_cpu_ms": _median_ms(submit)}


def profile_badge(pks: list[int], users: dict[int, int], sessions: dict[int, str], runs: int) -> dict:
    """The logged-in request in process (Django's test client, whole middleware stack, production
    settings): process CPU per request, its SQL, and where cProfile sees the time go."""
    import cProfile
    import io
    import pstats

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    csrf = "".join(random.choice(CSRF_CHARS) for _ in range(32))
    extra = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_ACCEPT_LANGUAGE": "zh-CN"}

    def badge(pk: int) -> int:
        client.cookies["sessionid"] = sessions[users[pk]]
        client.cookies["csrftoken"] = csrf
        return client.get(TRIVIAL_PATH, secure=True, **extra).status_code

    for pk in pks[:5]:
        if badge(pk) != 200:
            return {"error": f"in-process {TRIVIAL_PATH} did not answer 200"}
    with CaptureQueriesContext(connection) as ctx:
        badge(pks[0])
    sql = [q["sql"][:200] for q in ctx.captured_queries]
    cpu = []
    for n in range(runs):
        c0 = time.process_time()
        badge(pks[n % len(pks)])
        cpu.append(time.process_time() - c0)
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for n in range(runs):
        badge(pks[n % len(pks)])
    profiler.disable()
    buf = io.StringIO()
    pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(45)
    cumulative = buf.getvalue().splitlines()
    buf = io.StringIO()
    pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(25)
    return {"runs": runs, "timer": "process CPU time",
            "badge_cpu_ms_median": round(statistics.median(cpu) * 1000, 3),
            "badge_cpu_ms_mean": round(statistics.fmean(cpu) * 1000, 3),
            "queries": len(sql), "sql": sql,
            "cprofile_cumulative": cumulative[:75], "cprofile_tottime": buf.getvalue().splitlines()[:45]}


def run_benchmark(vendor: str, args: argparse.Namespace) -> dict:
    """For bench/run.py: one child on a fresh database (its own defaults, the server size of
    run.py's --server-workers/--server-threads and its --generator)."""
    from common import fresh_database, run_child

    print(f"floor: bare Django app and Xinlian side by side on {vendor}, wrk 16 connections…", flush=True)
    with fresh_database(vendor) as env:
        return run_child([str(BENCH_DIR / "floor.py"), "--students", str(args.floor_students),
                          "--workers", str(args.server_workers),
                          "--threads", str(args.server_threads), "--generator", args.generator,
                          "--rounds", str(args.floor_rounds), "--duration", str(args.floor_duration)], env,
                         timeout=3600)


def print_summary(payload: dict) -> None:
    if "figures" not in payload:
        print(f"no figures: {payload.get('error', payload)}")
        return
    f, r, t = payload["figures"], payload["ratios"], payload["targets"]
    print(f"{'':<12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>11} {'errors':>7}")
    for name in ("bare_view", "badge", "bare_submit", "submit", "submit_warm"):
        x = f[name]
        print(f"{name:<12} {x['rps']:>8} {x['p50_ms']:>8} {x['p99_ms']:>8} {x['cpu_ms_per_request']:>11} "
              f"{x['errors']:>7}")
    a, b = r["badge_over_bare_view"], r["submit_over_bare_submit"]
    print(f"badge / bare view: {a['by_rps']} by req/s, {a['by_cpu']} by CPU (target >= {t['badge_over_bare_view']})")
    print(f"submit / bare submit: {b['by_rps']} by req/s, {b['by_cpu']} by CPU "
          f"(target >= {t['submit_over_bare_submit']})")
    w = r.get("submit_warm_over_bare_submit")
    if w:
        print(f"submit_warm / bare submit: {w['by_rps']} by req/s, {w['by_cpu']} by CPU "
              f"(target >= {t['submit_over_bare_submit']})")
    print(f"within targets: {payload['within_targets']}")
    cpu = payload.get("in_process") or {}
    if "badge_cpu_ms" in cpu:
        print(f"in process, CPU per request: bare view {cpu['bare_view_cpu_ms']} ms, badge {cpu['badge_cpu_ms']} ms "
              f"(ratio {cpu['badge_over_bare_view']}); bare submit {cpu['bare_submit_cpu_ms']} ms, submit "
              f"{cpu['submit_cpu_ms']} ms (ratio {cpu['submit_over_bare_submit']}), after the questionnaire "
              f"{cpu.get('submit_warm_cpu_ms')} ms (ratio {cpu.get('submit_warm_over_bare_submit')})")
    prof = payload.get("profile") or {}
    if "badge_cpu_ms_median" in prof:
        print(f"in process: badge {prof['badge_cpu_ms_median']} ms CPU, {prof['queries']} queries")


def badge_before_after(rounds: int, per_round: int) -> dict:
    """``floor.py badge-ab``: ``GET /inbox/badge/`` through Django's WSGI handler in one process
    (the request signals run, so CONN_HEALTH_CHECKS acts as under gunicorn), alternating in
    rounds between *before* (the unread count in a statement of its own; the health check's
    SELECT 1 on every request) and *after* (the count loaded with the user,
    ``hotsql.user_columns``; no health check for a connection that answered within
    HEALTHY_SECONDS). Process CPU per request, plus the PostgreSQL backend's."""
    import io

    os.environ.update(production_env("testserver"))
    django_setup()
    migrate()
    from django.core.wsgi import get_wsgi_application
    from django.db import connection
    from django.test import Client
    from django.urls import resolve

    import xinlian.web.middleware as middleware
    from xinlian.network.models import User
    from xinlian.notify.models import Channel, Delivery

    app = get_wsgi_application()
    user = User.objects.create(username=f"floor-ab-{uuid.uuid4().hex[:8]}", kind="student", full_name="A B")
    for _ in range(3):
        Delivery.objects.create(recipient=user, channel=Channel.INBOX, message="floor")
    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    view = resolve(TRIVIAL_PATH).func
    columns = view.user_columns
    healthy = middleware.HEALTHY_SECONDS
    status: list[str] = []

    def start_response(s: str, headers: list, exc_info: object = None) -> None:
        status.append(s)

    def request() -> None:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": TRIVIAL_PATH, "QUERY_STRING": "",
                   "SERVER_NAME": "testserver", "SERVER_PORT": "443", "HTTP_HOST": "testserver",
                   "HTTP_COOKIE": cookie, "HTTP_X_FORWARDED_PROTO": "https", "HTTP_HX_REQUEST": "true",
                   "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
                   "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1"}
        response = app(environ, start_response)
        b"".join(response)
        response.close()
        if not status.pop().startswith("200"):
            raise RuntimeError("the badge did not answer 200")

    def backend_ticks() -> int:
        if connection.vendor != "postgresql":
            return 0
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def mode(name: str) -> None:
        if name == "before":
            middleware.HEALTHY_SECONDS = 0.0
            view.__dict__.pop("user_columns", None)
        else:
            middleware.HEALTHY_SECONDS = healthy
            view.user_columns = columns

    hz = os.sysconf("SC_CLK_TCK")
    samples: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
    for name in samples:
        mode(name)
        for _ in range(100):
            request()
    for _ in range(rounds):
        for name, got in samples.items():
            mode(name)
            t0, c0 = backend_ticks(), time.process_time()
            for _ in range(per_round):
                request()
            c1, t1 = time.process_time(), backend_ticks()
            got.append(((c1 - c0) * 1000 / per_round, (t1 - t0) / hz * 1000 / per_round))
    mode("after")
    out: dict = {"database": database_info(), "rounds": rounds, "requests_per_round": per_round}
    for name, got in samples.items():
        out[name] = {"app_cpu_ms": round(statistics.median(a for a, _b in got), 3),
                     "database_cpu_ms": round(statistics.median(b for _a, b in got), 3),
                     "cpu_ms": round(statistics.median(a + b for a, b in got), 3)}
    out["after_over_before"] = round(out["after"]["cpu_ms"] / out["before"]["cpu_ms"], 3)
    return out


def main() -> None:
    if sys.argv[1:2] == ["badge-ab"]:
        p = argparse.ArgumentParser()
        p.add_argument("what")
        p.add_argument("--rounds", type=int, default=6)
        p.add_argument("--requests", type=int, default=500)
        a = p.parse_args()
        print(json.dumps(badge_before_after(a.rounds, a.requests)))
        return
    if sys.argv[1:2] == ["bare-cpu"]:
        p = argparse.ArgumentParser()
        p.add_argument("what")
        p.add_argument("--runs", type=int, default=500)
        print(json.dumps(bare_cpu(p.parse_args().runs)))
        return
    parser = argparse.ArgumentParser()
    # Enough assignments for two submit phases × two rounds × 12 s at up to ~1,000 req/s each.
    parser.add_argument("--students", type=int, default=48000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--quiet-wait", type=float, default=20.0)
    parser.add_argument("--profile", type=int, default=400, help="students kept for the in-process profile")
    parser.add_argument("--profile-runs", type=int, default=300)
    args = parser.parse_args()
    print(json.dumps(floor_benchmark(args), ensure_ascii=False, default=str))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
