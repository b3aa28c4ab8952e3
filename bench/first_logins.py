"""first_logins — a freshman morning: 3,000 first logins with slip codes within 5 minutes, over HTTP.

The issue's figure (issue 13, "Figures"): a school without single sign-on hands out printed
slips; in the first morning 3,000 freshmen open /login/first/, type their number and the
one-time code, choose a password and land on the home page. The cost is the one Argon2 hash per
student (the new password), beside the pages' own work.

What runs (``python bench/first_logins.py flow``, a child of bench/run.py on a fresh database):

* a demo university with enough students for ``--students`` freshmen (the newest cohort), and
  their slips issued class by class through the verb ``network.identity.issue_slips`` as the
  centre director (the codes it returns are what the slips print);
* the app under gunicorn with production settings (as bench/screening.py serves it), on a free
  port; ``XINLIAN_LOGIN_TRUSTED_NETWORKS=127.0.0.1/32`` because every simulated phone comes from
  127.0.0.1 (a school's NAT looks the same: the per-address rule is for one address guessing
  across accounts, and this run makes no failed attempt at all);
* each student arrives at a time drawn beforehand (uniform over ``--window`` seconds, jittered),
  and a pool of client threads runs the real flow on its own connection with its own cookies:
  ``GET /login/first/`` (the CSRF cookie and the form's token), ``POST`` number + code (302 to
  the password step), ``GET /login/first/password/``, ``POST`` the new password twice (302 to
  home), ``GET /`` (200), with a few seconds of typing between the steps.

Figures: completed, errors, the rate reached (students per second, first arrival → last
completion), median / p99 of the whole flow (the sum of its five requests' latencies: what the
student waits for) and of the password POST, CPU of the server, the database and the rest of
the machine, and the load average (the machine is shared: ``os.getloadavg`` before, during and
after). Checked afterwards in the database: each completed student's code used once, a password
set, ``last_login`` stamped, one ``identity.first_login`` audit row each.

``python bench/first_logins.py argon2-grid`` times Argon2id alone for a grid of costs (wall and
CPU per hash, median of 7) — the measurement behind the ``XINLIAN_ARGON2_*`` defaults."""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from common import BENCH_DIR, database_info, django_setup
from linkage import percentile
from screening import CpuMeter, Server, free_port, migrate, ms_summary, production_env

TARGET_RATE = 10.0  # students per second: 3,000 in 5 minutes
TOKEN_RE = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
GRID = [(2, 102400, 8), (1, 16384, 1), (2, 16384, 1), (3, 16384, 1), (2, 19456, 1), (3, 12288, 1),
        (1, 47104, 1), (2, 32768, 1), (1, 65536, 1), (2, 65536, 1), (3, 65536, 1), (1, 102400, 1),
        (2, 102400, 1), (1, 16384, 2), (2, 19456, 2), (1, 47104, 2), (2, 65536, 2), (2, 102400, 2),
        (3, 65536, 4)]
RECOMMENDED = {
    "owasp_password_storage_cheat_sheet": "Argon2id, one of: m=47104 (46 MiB) t=1 p=1; m=19456 (19 MiB) t=2 p=1; "
                                          "m=12288 t=3 p=1; m=9216 t=4 p=1; m=7168 t=5 p=1",
    "rfc_9106_first": "t=1, p=4, m=2 GiB",
    "rfc_9106_second": "t=3, p=4, m=64 MiB (when much less memory is available)",
    "django_5_2_default": "t=2, m=100 MiB, p=8",
}


# --- Argon2 alone -------------------------------------------------------------------------------


def argon2_grid(runs: int) -> dict:
    from argon2.low_level import Type, hash_secret

    salt = os.urandom(16)

    def one(t: int, m: int, p: int) -> tuple[float, float]:
        w0, c0 = time.perf_counter(), time.process_time()
        hash_secret(b"correct horse battery staple", salt, time_cost=t, memory_cost=m, parallelism=p,
                    hash_len=32, type=Type.ID)
        return time.perf_counter() - w0, time.process_time() - c0

    rows = []
    load0 = os.getloadavg()
    for t, m, p in GRID:
        one(t, m, p)
        samples = [one(t, m, p) for _ in range(runs)]
        wall = statistics.median(s[0] for s in samples)
        cpu = statistics.median(s[1] for s in samples)
        rows.append({"time_cost": t, "memory_kib": m, "memory_mib": round(m / 1024, 1), "parallelism": p,
                     "wall_ms": round(wall * 1000, 1), "cpu_ms": round(cpu * 1000, 1),
                     # CPU alone bounds the rate: hashes per second that would fill both cores.
                     "hashes_per_s_on_2_cores": round(2 / cpu, 1) if cpu else None,
                     "cores_at_10_per_s": round(cpu * 10, 2)})
        print(f"argon2: t={t} m={m // 1024} MiB p={p}: wall {rows[-1]['wall_ms']} ms, cpu {rows[-1]['cpu_ms']} ms",
              file=sys.stderr, flush=True)
    return {"runs_per_row": runs, "rows": rows, "recommended": RECOMMENDED,
            "loadavg_before": [round(x, 2) for x in load0],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()}


# --- one simulated phone ------------------------------------------------------------------------


class Phone:
    """A browser's view of the site: one connection, a cookie jar, https behind the proxy."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn: http.client.HTTPConnection | None = None
        self.reconnects = 0

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str, bytes]:
        headers = {"Host": f"127.0.0.1:{self.port}", "X-Forwarded-Proto": "https",
                   "Accept-Language": "zh-CN,zh;q=0.9", "User-Agent": "xinlian-bench-phone"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers.update({"Content-Type": "application/x-www-form-urlencoded",
                            "Origin": f"https://127.0.0.1:{self.port}",
                            "Referer": f"https://127.0.0.1:{self.port}{path}"})
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                for value in resp.headers.get_all("Set-Cookie") or []:
                    jar: SimpleCookie = SimpleCookie()
                    jar.load(value)
                    for name, morsel in jar.items():
                        if morsel["max-age"] == "0" or not morsel.value:
                            self.cookies.pop(name, None)
                        else:
                            self.cookies[name] = morsel.value
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                return resp.status, resp.getheader("Location", ""), data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # gunicorn's sync workers close the connection after each response; a browser
                # opens another. Only a request that was never answered is sent again.
                self.close()
                if attempt:
                    raise
                self.reconnects += 1
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Freshman:
    __slots__ = ("number", "code", "password", "arrival")

    def __init__(self, number: str, code: str, password: str, arrival: float) -> None:
        self.number, self.code, self.password, self.arrival = number, code, password, arrival


class Run:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.start = 0.0
        self.records: list[tuple[str, float, float, int, bool]] = []  # kind, start, seconds, status, ok
        self.flows: list[tuple[float, float, float]] = []  # (arrival offset, end offset, sum of latencies)
        self.failed: list[str] = []
        self.lateness: list[float] = []
        self.active = 0
        self.max_active = 0
        self.reconnects = 0


def first_login(st: Freshman, port: int, run: Run, rng: random.Random, think: tuple[float, float]) -> None:
    phone = Phone(port)
    recs: list[tuple[str, float, float, int, bool]] = []
    arrived = time.perf_counter() - run.start

    def do(kind: str, method: str, path: str, expect: int, form: dict[str, str] | None = None,
           goes_to: str = "") -> tuple[int, str, bytes]:
        t0 = time.perf_counter()
        try:
            status, location, data = phone.request(method, path, form)
        except (OSError, http.client.HTTPException) as exc:
            status, location, data = 0, "", str(exc).encode()
            phone.close()
        ok = status == expect and (not goes_to or urlsplit(location).path == goes_to)
        recs.append((kind, t0 - run.start, time.perf_counter() - t0, status, ok))
        if not ok:
            raise FlowError(f"{kind} {method} {path} -> {status} {location}: {data[:160]!r}")
        return status, location, data

    def token(data: bytes) -> str:
        found = TOKEN_RE.search(data)
        if not found:
            raise FlowError("no csrfmiddlewaretoken in the form")
        return found.group(1).decode()

    try:
        _s, _l, page = do("code_form", "GET", "/login/first/", 200)
        time.sleep(rng.uniform(*think))  # reads the slip, types number and code
        do("code_post", "POST", "/login/first/", 302,
           {"csrfmiddlewaretoken": token(page), "username": st.number, "code": st.code},
           goes_to="/login/first/password/")
        _s, _l, page = do("password_form", "GET", "/login/first/password/", 200)
        time.sleep(rng.uniform(*think))  # chooses a password, types it twice
        _s, home, _d = do("password_post", "POST", "/login/first/password/", 302,
                          {"csrfmiddlewaretoken": token(page), "new_password1": st.password,
                           "new_password2": st.password}, goes_to="/")
        do("home", "GET", urlsplit(home).path or "/", 200)
        ended = time.perf_counter() - run.start
        with run.lock:
            run.flows.append((arrived, ended, sum(r[2] for r in recs)))
    except FlowError as exc:
        with run.lock:
            if len(run.failed) < 20:
                run.failed.append(str(exc))
            else:
                run.failed.append("")
    finally:
        phone.close()
        with run.lock:
            run.records.extend(recs)
            run.reconnects += phone.reconnects
            run.active -= 1


class FlowError(Exception):
    pass


# --- seeding ------------------------------------------------------------------------------------


def seed_freshmen(students: int, seed_students: int, rng: random.Random) -> tuple[list[Freshman], dict]:
    from django.test import RequestFactory

    from xinlian.network import identity
    from xinlian.network.demo import academic_year, seed_demo
    from xinlian.network.models import Student, Unit, UnitKind, User

    t0 = time.perf_counter()
    seeded = seed_demo(seed_students)
    seed_s = time.perf_counter() - t0
    year = academic_year()
    director = User.objects.get(username="director")
    classes = list(Unit.objects.filter(kind=UnitKind.CLASS, class_students__enrolment_year=year).distinct()
                   .order_by("path").values_list("pk", flat=True))
    slips = []
    t0 = time.perf_counter()
    for pk in classes:  # as a centre prints them, class by class, through the verb
        request = RequestFactory().post(f"/units/{pk}/first-login-slips/")
        request.user = director
        slips += identity.issue_slips(request, pk).slips
    issue_s = time.perf_counter() - t0
    freshmen_numbers = set(Student.objects.filter(enrolment_year=year).values_list("user__username", flat=True))
    slips = [s for s in slips if s.number in freshmen_numbers]
    if len(slips) < students:
        raise RuntimeError(f"only {len(slips)} freshmen with slips; seed more than {seed_students} students")
    rng.shuffle(slips)
    chosen = slips[:students]
    people = [Freshman(s.number, s.code, f"Xl-{rng.getrandbits(64):016x}-{n}", 0.0) for n, s in enumerate(chosen)]
    return people, {"students_seeded": seed_students, "seed_seconds": round(seed_s, 1), "units": seeded.units,
                    "freshmen": len(freshmen_numbers), "freshman_classes": len(classes),
                    "slips_issued": len(slips), "issue_seconds": round(issue_s, 2)}


def verify(people: list[Freshman], completed: int) -> dict:
    from xinlian.access.models import AuditEvent
    from xinlian.network.models import FirstLoginCode, User

    numbers = [p.number for p in people]
    users = User.objects.filter(username__in=numbers)
    logged_in = users.filter(last_login__isnull=False).count()
    used = FirstLoginCode.objects.filter(user__username__in=numbers, used_at__isnull=False).count()
    audits = AuditEvent.objects.filter(action="identity.first_login").count()
    hashes = Counter(p.split("$", 1)[0] for p in users.values_list("password", flat=True))
    sample = users.filter(last_login__isnull=False).values_list("password", flat=True).first() or ""
    return {"logged_in": logged_in, "codes_used": used, "first_login_audit_rows": audits,
            "password_algorithms": dict(hashes), "argon2_params_of_a_new_hash": sample.split("$")[3] if "$" in sample
            else "", "ok": logged_in == used == audits == completed}


# --- the run ------------------------------------------------------------------------------------


def flow_benchmark(args: argparse.Namespace) -> dict:
    os.environ.update(production_env())
    # Every simulated phone comes from 127.0.0.1: exempt loopback from the per-address rule
    # (a school's NAT is configured the same way). No attempt here fails anyway.
    os.environ["XINLIAN_LOGIN_TRUSTED_NETWORKS"] = "127.0.0.1/32"
    if args.argon2:
        t, m, p = (int(x) for x in args.argon2.split(","))
        os.environ.update({"XINLIAN_ARGON2_TIME_COST": str(t), "XINLIAN_ARGON2_MEMORY_KIB": str(m),
                           "XINLIAN_ARGON2_PARALLELISM": str(p)})
    django_setup()
    migrate()
    from django.conf import settings

    rng = random.Random(20260907)
    people, seeded = seed_freshmen(args.students, args.seed_students or max(4000, round(args.students * 4.3)), rng)
    for n, st in enumerate(people):
        st.arrival = args.window * (n + rng.random()) / len(people)
    people.sort(key=lambda s: s.arrival)
    argon2 = {"time_cost": settings.ARGON2_TIME_COST, "memory_kib": settings.ARGON2_MEMORY_KIB,
              "parallelism": settings.ARGON2_PARALLELISM, "hasher": settings.PASSWORD_HASHERS[0]}
    plan = {"students": len(people), "window_s": args.window, "arrivals": "uniform over the window, jittered",
            "think_s": [args.think_lo, args.think_hi], "client_threads": args.clients,
            "trusted_networks": os.environ["XINLIAN_LOGIN_TRUSTED_NETWORKS"]}
    tmp = Path(tempfile.mkdtemp(prefix="xinlian-first-logins-"))
    server = Server(free_port(), args.workers, args.threads, tmp / "server.log")
    result: dict = {"database": database_info(), **seeded, "plan": plan, "argon2": argon2,
                    "server": {"cmd": " ".join(server.cmd[1:]), "workers": args.workers, "threads": args.threads},
                    "loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    try:
        server.wait_ready()
        run = Run()
        queue = iter(people)
        qlock = threading.Lock()

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
                with run.lock:
                    run.lateness.append(max(0.0, -delay))
                    run.active += 1
                    run.max_active = max(run.max_active, run.active)
                first_login(st, server.port, run, crng, (args.think_lo, args.think_hi))

        meter = CpuMeter(server.proc.pid, in_process_generator=True)
        interval = CpuMeter(server.proc.pid, in_process_generator=True)
        marks: list[dict] = []
        stop = threading.Event()

        def progress() -> None:
            interval.start()
            last = 0.0
            while not stop.wait(30):
                now = time.perf_counter() - run.start
                meter.sample()
                cpu = interval.stop()
                interval.start()
                with run.lock:
                    done = sum(1 for f in run.flows if last <= f[1] < now)
                    lat = [r[2] for r in run.records if r[0] == "password_post" and last <= r[1] < now]
                    total, active = len(run.flows), run.active
                marks.append({"until_s": round(now), "completed": done, "rate_per_s": round(done / (now - last), 2),
                              "password_post_p99_ms": ms_summary(lat).get("p99_ms"),
                              "server_cores": cpu["server_cores"], "database_cores": cpu["database_cores"],
                              "other_cores": cpu["other_cores"], "loadavg_1min": round(os.getloadavg()[0], 2)})
                print(f"first_logins: {now:.0f} s, {total:,} completed, {active} active, "
                      f"{len(run.failed)} failed, load {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
                last = now

        run.start = time.perf_counter()
        meter.start()
        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
        for t in threads:
            t.start()
        threading.Thread(target=progress, daemon=True).start()
        for t in threads:
            t.join()
        end = time.perf_counter() - run.start
        cpu = meter.stop()
        stop.set()
        result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        result["http"] = summarise(run, end, len(people))
        result["timeline"] = marks
        result["cpu"] = cpu
        completed = result["http"]["completed"]
        result["cpu_ms_per_student"] = {
            "server": round(cpu["server_cores"] * cpu["wall_s"] / max(1, completed) * 1000, 1),
            "database": round(cpu["database_cores"] * cpu["wall_s"] / max(1, completed) * 1000, 1)}
        # What two cores would take if the server and the database had them to themselves: the
        # figure other people's load on a shared machine moves least.
        per_student = sum(result["cpu_ms_per_student"].values())
        result["cpu_bound_rate_per_s"] = round(2000 / per_student, 1) if per_student else None
        result["verify"] = verify(people, completed)
        result["server_log_tail"] = server.tail()
        result["target_rate_per_s"] = TARGET_RATE
        result["ok"] = result["http"]["errors"] == 0 and completed == len(people) and result["verify"]["ok"]
        result["within_target"] = result["ok"] and result["http"]["rate_per_s"] >= TARGET_RATE * 0.95
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def summarise(run: Run, end: float, students: int) -> dict:
    by_kind: dict[str, list[float]] = {}
    statuses: dict[str, Counter] = {}
    for kind, _t, seconds, status, _ok in run.records:
        by_kind.setdefault(kind, []).append(seconds)
        statuses.setdefault(kind, Counter())[str(status)] += 1
    completed = len(run.flows)
    first = min((f[0] for f in run.flows), default=0.0)
    last = max((f[1] for f in run.flows), default=0.0)
    # Students per second in the busiest minute of completions: 60-second windows, 10 s apart.
    ends = sorted(f[1] for f in run.flows)
    best, lo = 0, 0
    for hi in range(len(ends)):
        while ends[hi] - ends[lo] > 60:
            lo += 1
        best = max(best, hi - lo + 1)
    flow = [f[2] for f in run.flows]
    wall = [f[1] - f[0] for f in run.flows]
    return {
        "students": students, "completed": completed, "errors": students - completed,
        "first_failures": [f for f in run.failed if f][:20],
        "requests": len(run.records), "duration_s": round(end, 1),
        "rate_per_s": round(completed / (last - first), 2) if last > first else 0.0,
        "busiest_minute_per_s": round(best / 60, 2),
        "max_concurrent_students": run.max_active, "reconnects": run.reconnects,
        "arrival_lateness": ms_summary(run.lateness),
        "flow": {**ms_summary(flow), "what": "sum of the five requests' latencies (typing excluded)"},
        "flow_wall": {**ms_summary(wall), "what": "arrival to home page, typing included"},
        "password_post": ms_summary(by_kind.get("password_post", [])),
        "by_kind": {k: {**ms_summary(v), "statuses": dict(statuses[k])} for k, v in sorted(by_kind.items())},
        "p99_all_requests_ms": round(percentile([r[2] for r in run.records], 99) * 1000, 1) if run.records else None,
    }


def run_benchmark(vendor: str, args: argparse.Namespace) -> dict:
    """For bench/run.py: the Argon2 grid once, then the morning on a fresh database."""
    from common import fresh_database, run_child

    print(f"first_logins: Argon2id alone, {len(GRID)} settings…", flush=True)
    with fresh_database(vendor) as env:
        grid = run_child([str(BENCH_DIR / "first_logins.py"), "argon2-grid"], env, timeout=1800)
    print(f"first_logins: {args.first_logins:,} freshmen over {args.first_logins_window:g} s on {vendor}, "
          f"{args.server_workers} gunicorn workers…", flush=True)
    with fresh_database(vendor) as env:
        morning = run_child([str(BENCH_DIR / "first_logins.py"), "flow", "--students", str(args.first_logins),
                             "--window", str(args.first_logins_window), "--workers", str(args.server_workers),
                             "--threads", str(args.server_threads)], env, timeout=3600)
    return {**morning, "argon2_grid": grid}


def print_summary(payload: dict) -> None:
    if "http" not in payload:
        print(f"no figures: {payload.get('error', payload)}")
        return
    h, a, c = payload["http"], payload["argon2"], payload["cpu"]
    print(f"Argon2id t={a['time_cost']} m={a['memory_kib']} KiB p={a['parallelism']}; "
          f"{h['students']:,} freshmen over {payload['plan']['window_s']:g} s")
    print(f"completed {h['completed']:,}, errors {h['errors']}; rate {h['rate_per_s']}/s "
          f"(busiest minute {h['busiest_minute_per_s']}/s; target {payload['target_rate_per_s']:g}/s)")
    print(f"whole flow p50 {h['flow'].get('p50_ms')} ms, p99 {h['flow'].get('p99_ms')} ms; password POST "
          f"p50 {h['password_post'].get('p50_ms')} ms, p99 {h['password_post'].get('p99_ms')} ms")
    print(f"CPU cores: server {c['server_cores']}, database {c['database_cores']}, clients {c['generator_cores']}, "
          f"other {c['other_cores']}; per student: {payload['cpu_ms_per_student']} ms (two cores to themselves: "
          f"{payload.get('cpu_bound_rate_per_s')}/s); load average "
          f"{payload['loadavg_before']} → {payload['loadavg_after']}")
    print(f"verified: {payload['verify']}")
    grid = payload.get("argon2_grid") or {}
    for row in grid.get("rows", []):
        print(f"  argon2 t={row['time_cost']} m={row['memory_mib']:>5} MiB p={row['parallelism']}: "
              f"wall {row['wall_ms']:>6} ms, cpu {row['cpu_ms']:>6} ms, {row['cores_at_10_per_s']} cores at 10/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("flow", "argon2-grid"))
    parser.add_argument("--students", type=int, default=3000)
    parser.add_argument("--seed-students", type=int, default=0, help="default: 4.3 × --students (four cohorts)")
    parser.add_argument("--window", type=float, default=300.0, help="seconds over which they arrive")
    parser.add_argument("--clients", type=int, default=400, help="client threads (students in flight at most)")
    parser.add_argument("--think-lo", type=float, default=2.0, help="seconds of typing, least")
    parser.add_argument("--think-hi", type=float, default=6.0, help="seconds of typing, most")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--argon2", default="", help="t,m_kib,p instead of the settings' defaults")
    parser.add_argument("--runs", type=int, default=7, help="argon2-grid: hashes per row (median)")
    args = parser.parse_args()
    if args.what == "argon2-grid":
        print(json.dumps(argon2_grid(args.runs)))
        return
    print(json.dumps(flow_benchmark(args), ensure_ascii=False, default=str))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
