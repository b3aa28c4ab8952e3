"""peer_reports — the Monday-morning rush of weekly peer reports, and the completeness table.

The issue's figures (issue 12, "Figures"):

* 5,000 peer reporters (心理委员 and 宿舍联络员) submit their weekly report over HTTP within
  10 minutes, one in twenty flagging a classmate (a fifth of those urgently): 0 errors, p99 of
  the submit under 200 ms on PostgreSQL, every urgent flag an alert within 2 s. The schedule may
  be compressed (``--window``, default 300 s: twice the issue's rate); the figure says so.
* The completeness table of a 50,000-student school, whole school and one college: the same
  query count for both, under 200 ms.

What runs (``python bench/peer_reports.py``, a child of bench/run.py on a fresh database):

* the demo university with ``--students`` students (its classes' 心理委员 and dormitories'
  联络员 are the reporters), the school's default cycles and the week now due;
* a logged-in session for each reporter written beforehand (5,000 password hashes would measure
  Argon2, not the report), and a CSRF token of their own;
* the app under gunicorn with production settings, on a free port, and one ``xinlian worker``
  running through the rush (as deployed); each reporter arrives at a time drawn beforehand
  (uniform over the window, jittered) and POSTs the report form as the phone does: "本周无异常"
  (``zero=1``), or one student with what was seen, a category and how urgent; 302 expected;
* afterwards, in the database: one report per reporter, the flags, one concern and one alert per
  urgent flag, and how long after its request started each urgent flag's alert existed;
* then the completeness table as the centre director (the verb and its template, in process):
  query count and median of 10 runs for the whole school and for one college."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from common import BENCH_DIR, database_info, django_setup
from linkage import Workers, percentile
from screening import CpuMeter, Server, free_port, migrate, ms_summary, production_env

TARGET_P99_MS = 200.0
TARGET_ALERT_S = 2.0
TARGET_TABLE_MS = 200.0
ISSUE_WINDOW_S = 600.0


class Reporter:
    __slots__ = ("number", "post", "period", "session", "csrf", "flag", "urgent", "arrival", "started")

    def __init__(self, number: str, post: int, period: int, session: str, csrf: str) -> None:
        self.number, self.post, self.period, self.session, self.csrf = number, post, period, session, csrf
        self.flag: int | None = None
        self.urgent = False
        self.arrival = 0.0
        self.started = 0.0


def seed(args: argparse.Namespace, rng: random.Random) -> tuple[list[Reporter], dict]:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils.module_loading import import_string

    from xinlian.duties import cycles
    from xinlian.network.demo import seed_demo
    from xinlian.network.models import Post, Role, Student, Unit, UnitKind

    t0 = time.perf_counter()
    seeded = seed_demo(args.students)
    seed_s = time.perf_counter() - t0
    school = Unit.objects.filter(kind=UnitKind.SCHOOL).order_by("path").first()
    by_role = {c.role: c for c in cycles.ensure_default_cycles(school)}
    periods = {role: cycles.open_periods([c])[c.pk][0] for role, c in by_role.items()}
    posts = list(Post.objects.active().filter(role__in=(Role.COMMITTEE_MEMBER, Role.DORM_LIAISON))
                 .select_related("person", "unit").order_by("pk"))
    rng.shuffle(posts)
    posts = posts[:args.reporters]
    if len(posts) < args.reporters:
        raise RuntimeError(f"only {len(posts)} peer reporters; seed more than {args.students} students")
    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    backend = "django.contrib.auth.backends.ModelBackend"
    people = []
    t0 = time.perf_counter()
    for post in posts:
        session = store()
        session[SESSION_KEY] = str(post.person_id)
        session[BACKEND_SESSION_KEY] = backend
        session[HASH_SESSION_KEY] = post.person.get_session_auth_hash()
        session.create()
        people.append(Reporter(post.person.username, post.pk, periods[post.role].pk, session.session_key,
                               secrets.token_hex(16)))
    session_s = time.perf_counter() - t0
    # One in twenty flags a classmate (roommate for a liaison); a fifth of those urgently.
    flaggers = people[::20]
    field = {Role.COMMITTEE_MEMBER: "klass_id", Role.DORM_LIAISON: "dorm_id"}
    post_of = {p.pk: p for p in posts}
    for n, reporter in enumerate(flaggers):
        post = post_of[reporter.post]
        student = (Student.objects.filter(**{field[post.role]: post.unit_id}).exclude(user_id=post.person_id)
                   .order_by("pk").first())
        reporter.flag = student.pk if student else None
        reporter.urgent = n % 5 == 0
    return people, {"students_seeded": args.students, "units": seeded.units, "seed_seconds": round(seed_s, 1),
                    "reporters": len(people), "sessions_seconds": round(session_s, 1),
                    "flagging": sum(1 for p in people if p.flag), "urgent": sum(1 for p in people if p.flag and p.urgent),
                    "periods": {r: str(p) for r, p in periods.items()},
                    "session_cookie": settings.SESSION_COOKIE_NAME, "csrf_cookie": settings.CSRF_COOKIE_NAME}


class Run:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.start = 0.0
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()
        self.failed: list[str] = []
        self.lateness: list[float] = []


def submit(rep: Reporter, port: int, run: Run, cookies: tuple[str, str]) -> None:
    session_cookie, csrf_cookie = cookies
    form = {"csrfmiddlewaretoken": rep.csrf}
    if rep.flag:
        form.update({"flag-0-student": str(rep.flag), "flag-0-seen": "这周几次看到他一个人哭，说不想待在学校",
                     "flag-0-category": "emotional", "flag-0-urgency": "now" if rep.urgent else "soon"})
    else:
        form["zero"] = "1"
    path = f"/duties/report/{rep.post}/{rep.period}/"
    headers = {"Host": f"127.0.0.1:{port}", "X-Forwarded-Proto": "https", "Accept-Language": "zh-CN,zh;q=0.9",
               "Cookie": f"{session_cookie}={rep.session}; {csrf_cookie}={rep.csrf}",
               "Content-Type": "application/x-www-form-urlencoded", "Origin": f"https://127.0.0.1:{port}",
               "Referer": f"https://127.0.0.1:{port}{path}", "User-Agent": "xinlian-bench-phone"}
    rep.started = time.time()
    t0 = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("POST", path, body=urlencode(form).encode(), headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        status, location = resp.status, resp.getheader("Location", "")
        conn.close()
    except (OSError, http.client.HTTPException) as exc:
        status, location, data = 0, "", str(exc).encode()
    seconds = time.perf_counter() - t0
    ok = status == 302 and urlsplit(location).path == "/duties/"
    with run.lock:
        run.latencies.append(seconds)
        run.statuses[str(status)] += 1
        if not ok and len(run.failed) < 20:
            run.failed.append(f"{rep.number} {status} {location} {data[:200]!r}")


def verify(people: list[Reporter]) -> dict:
    from xinlian.care.models import Alert, Concern
    from xinlian.duties.models import Flag, Report

    reports = Report.objects.filter(status="submitted").count()
    zero = Report.objects.filter(is_zero=True).count()
    flags = Flag.objects.count()
    urgent = [p for p in people if p.flag and p.urgent]
    lags = []
    concern_of = {(c.reporter.username, c.student_id): c for c in Concern.objects.select_related("reporter")}
    alerts = {a.concern_id: a for a in Alert.objects.filter(concern__isnull=False)}
    missing_alerts = 0
    for rep in urgent:
        concern = concern_of.get((rep.number, rep.flag))
        alert = alerts.get(concern.pk) if concern else None
        if alert is None:
            missing_alerts += 1
            continue
        lags.append(max(0.0, alert.created_at.timestamp() - rep.started))
    return {"reports": reports, "zero_reports": zero, "flags": flags, "concerns": len(concern_of),
            "urgent_flags": len(urgent), "urgent_without_alert": missing_alerts,
            "request_start_to_alert": ms_summary(lags),
            "ok": reports == len(people) and flags == sum(1 for p in people if p.flag) and missing_alerts == 0}


def table_figures(runs: int) -> dict:
    from django.db import connection, reset_queries
    from django.template.loader import render_to_string
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from xinlian.duties import actions
    from xinlian.network.models import Student, Unit, UnitKind, User

    director = User.objects.get(username="director")
    college = (Unit.objects.filter(kind=UnitKind.COLLEGE).order_by("path").first())
    out = {"school_students": Student.objects.count(), "college": college.code,
           "college_students": Student.objects.in_units([college]).count()}
    school = Unit.objects.filter(kind=UnitKind.SCHOOL).order_by("path").first()
    for label, unit in (("school", school.pk), ("college", college.pk)):
        def once(unit: int | None = unit) -> tuple[float, int]:
            request = RequestFactory().get("/duties/completeness/")
            request.user = User.objects.get(pk=director.pk)
            reset_queries()
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                table = actions.completeness(request, unit_id=unit)
                html = render_to_string("duties/completeness.html", {"t": table, "opens": True, "weekdays": [],
                                                                      "cadences": [], "sets_cycle": False},
                                        request=request)
                seconds = time.perf_counter() - t0
            assert table.total.expected > 0 and "completeness" in html
            return seconds, len(ctx)
        once()
        samples = [once() for _ in range(runs)]
        table = actions.completeness(_req(director), unit_id=unit)
        out[label] = {"queries": samples[0][1], "median_ms": round(statistics.median(s[0] for s in samples) * 1000, 1),
                      "max_ms": round(max(s[0] for s in samples) * 1000, 1), "rows": len(table.rows),
                      "expected": table.total.expected, "on_time": table.total.on_time, "zero": table.total.zero,
                      "missing": table.total.missing}
    out["constant_queries"] = out["school"]["queries"] == out["college"]["queries"]
    out["ok"] = out["constant_queries"] and max(out["school"]["median_ms"], out["college"]["median_ms"]) < TARGET_TABLE_MS
    return out


def _req(user):  # noqa: ANN001, ANN202
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = user
    return request


def benchmark(args: argparse.Namespace) -> dict:
    os.environ.update(production_env())
    django_setup()
    migrate()
    rng = random.Random(20261207)
    people, seeded = seed(args, rng)
    for n, rep in enumerate(people):
        rep.arrival = args.window * (n + rng.random()) / len(people)
    rng.shuffle(people)
    people.sort(key=lambda r: r.arrival)
    tmp = Path(tempfile.mkdtemp(prefix="xinlian-peer-reports-"))
    server = Server(free_port(), args.workers, args.threads, tmp / "server.log")
    os.environ.setdefault("XINLIAN_DATA_DIR", str(tmp))
    workers = Workers(1, 0.2)
    result: dict = {"database": database_info(), **seeded,
                    "plan": {"window_s": args.window, "issue_window_s": ISSUE_WINDOW_S,
                             "compression": round(ISSUE_WINDOW_S / args.window, 2), "clients": args.clients,
                             "arrivals": "uniform over the window, jittered"},
                    "server": {"cmd": " ".join(server.cmd[1:]), "workers": args.workers, "threads": args.threads},
                    "loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    try:
        server.wait_ready()
        workers.wait_ready()
        run = Run()
        queue = iter(people)
        qlock = threading.Lock()
        cookies = (seeded["session_cookie"], seeded["csrf_cookie"])

        def client() -> None:
            while True:
                with qlock:
                    rep = next(queue, None)
                if rep is None:
                    return
                delay = run.start + rep.arrival - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                with run.lock:
                    run.lateness.append(max(0.0, -delay))
                submit(rep, server.port, run, cookies)

        meter = CpuMeter(server.proc.pid, in_process_generator=True)
        run.start = time.perf_counter()
        meter.start()
        threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - run.start
        result["cpu"] = meter.stop()
        workers.assert_alive()
        result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        errors = sum(n for s, n in run.statuses.items() if s != "302")
        result["http"] = {"submitted": len(run.latencies), "errors": errors, "statuses": dict(run.statuses),
                          "wall_s": round(wall, 1), "rate_per_s": round(len(run.latencies) / wall, 1),
                          "submit": ms_summary(run.latencies),
                          "client_lateness_p99_ms": round(percentile(run.lateness, 99) * 1000, 1),
                          "failed_samples": run.failed}
        result["verify"] = verify(people)
        result["worker_errors"] = workers.errors()
        result["table"] = table_figures(args.table_runs)
        alert = result["verify"]["request_start_to_alert"]
        result["targets"] = {"p99_ms": TARGET_P99_MS, "alert_s": TARGET_ALERT_S, "table_ms": TARGET_TABLE_MS}
        result["rush_ok"] = (errors == 0 and result["verify"]["ok"]
                             and result["http"]["submit"].get("p99_ms", 1e9) < TARGET_P99_MS
                             and alert.get("max_ms", 0) < TARGET_ALERT_S * 1000)
        result["ok"] = result["rush_ok"] and result["table"]["ok"]
        result["server_log_tail"] = server.tail()
    finally:
        workers.stop()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def run_benchmark(vendor: str, args: argparse.Namespace) -> dict:
    from common import fresh_database, run_child

    print(f"peer_reports: {args.peer_reporters:,} reporters over {args.peer_window:g} s on {vendor}…", flush=True)
    with fresh_database(vendor) as env:
        return run_child([str(BENCH_DIR / "peer_reports.py"), "--reporters", str(args.peer_reporters),
                          "--window", str(args.peer_window), "--students", str(args.peer_students)],
                         env, timeout=3600)


def print_summary(payload: dict) -> None:
    if "http" not in payload:
        print(f"no figures: {payload.get('error', payload)}")
        return
    h, v, t = payload["http"], payload["verify"], payload["table"]
    plan = payload["plan"]
    print(f"{h['submitted']:,} reports over {plan['window_s']:g} s ({plan['compression']}× the issue's rate), "
          f"{h['errors']} errors; submit p50 {h['submit'].get('p50_ms')} ms, p99 {h['submit'].get('p99_ms')} ms")
    print(f"{v['flags']} flags, {v['urgent_flags']} urgent → alerts: request start → alert "
          f"p99 {v['request_start_to_alert'].get('p99_ms')} ms, max {v['request_start_to_alert'].get('max_ms')} ms")
    for label in ("school", "college"):
        print(f"completeness, {label}: {t[label]['queries']} queries, median {t[label]['median_ms']} ms "
              f"({t[label]['rows']} rows, {t[label]['expected']:,} expected)")
    print("targets met: " + ("yes" if payload["ok"] else "NO"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--reporters", type=int, default=5_000)
    parser.add_argument("--window", type=float, default=300.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--table-runs", type=int, default=10)
    args = parser.parse_args()
    try:
        print(json.dumps(benchmark(args), ensure_ascii=False, default=str))
    finally:
        for group in Workers.every:
            group.stop()


if __name__ == "__main__":
    sys.exit(main())
