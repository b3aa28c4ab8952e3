"""linkage — speed and safety of the linkage (issue 3): alert latency, escalation lateness, and
a kill -9 crash test of the outbox, each with real ``xinlian worker`` processes.

A small school (one college, 10 classes of 10 students, a 辅导员, head teachers, a college lead,
the centre director) is seeded into a fresh database, and every class gets a WeCom group robot
whose webhook address is a local HTTP receiver running in this process: it answers like WeCom
(``{"errcode": 0}``) and notes the arrival time and the ``X-Xinlian-Delivery`` key of each
message. Workers are separate processes started exactly as an operator would
(``python -m xinlian.cli worker``), against the same database.

* ``latency``: 1,000 concerns filed through ``Concern.submit`` (the model verb the web form and
  the API call; in process, so no HTTP time is counted) at a steady pace, each "urgent now" so a
  red alert goes to the class robot; latency = robot message arrival − the moment before
  ``submit`` was called. One worker. Target: p99 under 2 s.
* ``escalation``: 1,000 red alerts whose acknowledgement deadlines fall in the same minute
  (spread evenly over it; ``--spread 0`` puts them all on one instant); two workers. Lateness =
  when the escalation was written (its notifications' creation time) − the deadline; also
  reported up to the robot message's arrival. Every alert must escalate exactly once. Target:
  worst lateness under 5 s.
* ``crash``: 1,000 robot deliveries, two workers, one of them killed with SIGKILL every
  0.2–0.6 s (and restarted) while deliveries remain — at least 20 kills. The receiver answers
  after 30 ms so that most kills land mid-send. Lost = deliveries never received (target 0);
  repeats = receptions of a key already received (target: no more than the kills).

Run as a child by bench/run.py: ``python bench/linkage.py latency|escalation|crash [...]``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from common import PYTHON, ROOT, database_info, django_setup

TARGET_P99_SECONDS = 2.0
TARGET_LATENESS_SECONDS = 5.0
MIN_KILLS = 20
WORKER_INTERVAL = 0.2  # the worker's default idle sleep (xinlian/notify/management/commands/worker.py)
ALERT_LINK = re.compile(r"/care/alerts/(\d+)/")


# --- the robot receiver -------------------------------------------------------------------------


class Receiver:
    """A WeCom-like robot endpoint: notes (key, arrival time, text) of every complete message."""

    def __init__(self, delay: float = 0.0) -> None:
        self.arrivals: list[tuple[str, float, str]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 — http.server's naming
                now = time.time()
                try:
                    raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    text = json.loads(raw)["text"]["content"]
                except (ValueError, KeyError, OSError):  # a sender killed mid-request
                    return
                with receiver.lock:
                    receiver.arrivals.append((self.headers.get("X-Xinlian-Delivery", ""), now, text))
                if delay:
                    time.sleep(delay)
                body = b'{"errcode":0,"errmsg":"ok"}'
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the sender died while we answered
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/cgi-bin/webhook/send?key=bench"

    def snapshot(self) -> list[tuple[str, float, str]]:
        with self.lock:
            return list(self.arrivals)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- workers ------------------------------------------------------------------------------------


class Workers:
    """``xinlian worker`` processes, each in a numbered slot that can be killed and restarted."""

    every: list[Workers] = []  # stopped by main() whatever happens: no orphan workers

    def __init__(self, count: int, interval: float) -> None:
        Workers.every.append(self)
        self.interval = interval
        self.log_dir = Path(os.environ["XINLIAN_DATA_DIR"])
        self.started = [0] * count  # starts per slot; each start prints one "worker: " line
        self.procs: list[subprocess.Popen] = [self._start(i) for i in range(count)]

    def _start(self, slot: int) -> subprocess.Popen:
        self.started[slot] += 1
        with open(self.log(slot), "a") as log:
            return subprocess.Popen([PYTHON, "-m", "xinlian.cli", "worker", "--interval", str(self.interval)],
                                    cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    def log(self, slot: int) -> Path:
        return self.log_dir / f"worker{slot}.log"

    def ready(self, slot: int) -> bool:
        """Django is up and the loop has started in the slot's current process."""
        return self.log(slot).read_text().count("worker: ") >= self.started[slot]

    def wait_ready(self, timeout: float = 60) -> None:
        def all_ready() -> bool:
            self.assert_alive()
            return all(self.ready(i) for i in range(len(self.procs)))

        if not wait_until(all_ready, timeout):
            raise RuntimeError("workers did not start: " + " | ".join(self.tail(i) for i in range(len(self.procs))))

    def assert_alive(self) -> None:
        """A worker that exits on its own (a crash at start-up, say) must stop the run, loudly."""
        for slot, proc in enumerate(self.procs):
            if proc.poll() is not None:
                raise RuntimeError(f"worker {slot} exited with {proc.returncode}: {self.tail(slot)}")

    def kill_and_restart(self, slot: int) -> None:
        proc = self.procs[slot]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.procs[slot] = self._start(slot)

    def tail(self, slot: int) -> str:
        return " / ".join(self.log(slot).read_text().strip().splitlines()[-5:])

    def stop(self) -> list[int]:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = []
        for proc in self.procs:
            try:
                codes.append(proc.wait(timeout=30))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(proc.wait())
        return codes

    def errors(self) -> list[str]:
        """Lines of failed passes the workers logged (each pass is retried; none are expected)."""
        found: list[str] = []
        for slot in range(len(self.procs)):
            found += [line for line in self.log(slot).read_text().splitlines()
                      if "Error" in line or "failed" in line][:5]
        return found


# --- the school ---------------------------------------------------------------------------------


def seed(receiver_url: str, classes: int = 10, per_class: int = 10) -> dict:
    from django.db import transaction

    from xinlian.network.models import Post, Role, Staff, Student, Unit, UnitKind, User
    from xinlian.notify.models import Robot

    since = dt.date(2024, 9, 1)
    with transaction.atomic():
        bureau = Unit.add_top(kind=UnitKind.BUREAU, code="BUR", name="示范区教育局", name_en="Bureau")
        school = bureau.add_unit(kind=UnitKind.SCHOOL, code="SCH", name="示范大学", name_en="University")
        college = school.add_unit(kind=UnitKind.COLLEGE, code="CS", name="计算机学院", name_en="Computing")

        def staff(number: str, name: str, role: str, unit: Unit) -> User:
            user = User(username=number, full_name=name, kind="staff")
            user.set_unusable_password()  # no Argon2 cost in a benchmark seed
            user.save()
            Staff.objects.create(user=user)
            Post.objects.create(person=user, unit=unit, role=role, starts_on=since)
            return user

        staff("T0001", "钱主任", Role.CENTRE_DIRECTOR, school)
        staff("T0002", "林院长", Role.COLLEGE_LEAD, college)
        staff("T0003", "周辅导", Role.FUDAOYUAN, college)
        students, teachers = [], []
        for c in range(classes):
            klass = college.add_unit(kind=UnitKind.CLASS, code=f"CS-{c + 1}", name=f"2023级{c + 1}班",
                                     name_en=f"Class {c + 1}")
            teachers.append(staff(f"T1{c:03d}", f"班主任{c + 1}", Role.HEAD_TEACHER, klass))
            Robot.objects.create(unit=klass, name=f"2023级{c + 1}班心理群", kind="wecom", url=receiver_url)
            for s in range(per_class):
                user = User(username=f"S{c:02d}{s:03d}", full_name=f"学生{c}-{s}", kind="student")
                user.set_unusable_password()
                user.save()
                students.append(Student.objects.create(user=user, gender="F", klass=klass,
                                                       enrolment_year=2023))
    return {"students": students, "teachers": teachers}


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def seconds_summary(samples: list[float]) -> dict:
    if not samples:
        return {"n": 0}
    return {"n": len(samples), "median_ms": round(statistics.median(samples) * 1000, 1),
            "p90_ms": round(percentile(samples, 90) * 1000, 1),
            "p99_ms": round(percentile(samples, 99) * 1000, 1),
            "max_ms": round(max(samples) * 1000, 1),
            "mean_ms": round(statistics.fmean(samples) * 1000, 1)}


def prepare() -> None:
    django_setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def wait_until(condition, timeout: float, step: float = 0.05) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


# --- alert latency ------------------------------------------------------------------------------


def latency(args: argparse.Namespace) -> dict:
    prepare()
    from xinlian.care.models import Alert, Category, Concern

    receiver = Receiver()
    school = seed(receiver.url)
    students, teachers = school["students"], school["teachers"]
    categories = [c for c in Category.values if c != Category.OTHER]
    workers = Workers(1, args.interval)
    workers.wait_ready()

    def file(i: int) -> int:
        student = students[i % len(students)]
        concern, _ = Concern.submit(key=uuid.uuid4(), reporter=teachers[i % len(teachers)],
                                    student=student, category=categories[i % len(categories)],
                                    urgency="now", seen="（基准测试）最近情绪低落，晚上不睡觉。")
        return concern.pk

    for i in range(args.warmup):  # first connection, imports and template caches in the worker
        file(i)
    wait_until(lambda: len(receiver.snapshot()) >= args.warmup, 60)
    warm = len(receiver.snapshot())

    started: dict[int, float] = {}  # concern pk -> time just before submit
    submit_seconds: list[float] = []
    gap = 1.0 / args.rate
    t_start = time.monotonic()
    for i in range(args.concerns):
        t0 = time.time()
        pk = file(i)
        submit_seconds.append(time.time() - t0)
        started[pk] = t0
        pause = t_start + (i + 1) * gap - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    complete = wait_until(lambda: workers.assert_alive() or len(receiver.snapshot()) - warm >= args.concerns,
                          120)
    time.sleep(0.5)
    codes = workers.stop()
    receiver.close()

    alert_of = dict(Alert.objects.filter(concern_id__in=started).values_list("pk", "concern_id"))
    latencies, seen_keys, repeats = [], set(), 0
    for key, at, text in receiver.snapshot()[warm:]:
        if key in seen_keys:
            repeats += 1
            continue
        seen_keys.add(key)
        match = ALERT_LINK.search(text)
        concern = alert_of.get(int(match.group(1))) if match else None
        if concern in started:
            latencies.append(at - started[concern])
    summary = seconds_summary(latencies)
    return {
        "database": database_info(), "concerns": args.concerns, "rate_per_second": args.rate,
        "worker_interval_s": args.interval, "workers": 1, "warmup": args.warmup,
        "submitted_via": "Concern.submit (in process)",
        "arrived": len(latencies), "lost": args.concerns - len(latencies), "repeats": repeats,
        "all_arrived": complete, "latency": summary,
        "submit": seconds_summary(submit_seconds),
        "target_p99_ms": TARGET_P99_SECONDS * 1000,
        "within_target": bool(latencies) and len(latencies) == args.concerns
        and summary["p99_ms"] < TARGET_P99_SECONDS * 1000,
        "worker_exit_codes": codes, "worker_errors": workers.errors(),
    }


# --- escalation lateness ------------------------------------------------------------------------


def escalation(args: argparse.Namespace) -> dict:
    prepare()
    from django.db import transaction
    from django.utils import timezone

    from xinlian.care.models import Alert, AlertSource, TimelineEntry
    from xinlian.notify import services
    from xinlian.notify.models import Channel, Delivery, DeliveryStatus

    receiver = Receiver()
    students = seed(receiver.url)["students"]
    long_ago = timezone.now() - dt.timedelta(days=1)
    with transaction.atomic():
        alerts = [Alert.raise_for(students[i % len(students)], "red", AlertSource.COUNSELLOR, now=long_ago)
                  for i in range(args.alerts)]
        # The "raised" messages went out long ago: this run measures the escalations only.
        Delivery.objects.filter(channel=Channel.WEBHOOK).update(status=DeliveryStatus.SENT)
        window = timezone.now() + dt.timedelta(seconds=args.lead)
        due: dict[int, dt.datetime] = {}
        for i, alert in enumerate(alerts):
            alert.due_at = window + dt.timedelta(seconds=args.spread * i / args.alerts)
            due[alert.pk] = alert.due_at
        Alert.objects.bulk_update(alerts, ["due_at"], batch_size=500)
    workers = Workers(args.workers, args.interval)
    workers.wait_ready()
    last_due = max(due.values())
    all_escalated = wait_until(lambda: workers.assert_alive() or not Alert.objects.filter(escalations=0).exists(),
                               (last_due - timezone.now()).total_seconds() + 120, step=0.25)
    wait_until(lambda: not Delivery.objects.filter(status=DeliveryStatus.PENDING).exists(), 60, step=0.25)
    time.sleep(2)  # more passes: a double escalation would show now
    codes = workers.stop()
    receiver.close()

    counts = Counter(Alert.objects.values_list("escalations", flat=True))
    chronology = Counter(TimelineEntry.objects.filter(kind="alert.escalate").values_list("link", flat=True))
    by_url = {Alert(pk=pk).get_absolute_url(): pk for pk in due}
    written: dict[int, dt.datetime] = {}
    escalated_keys: dict[str, int] = {}
    for key, link, created in (Delivery.objects.filter(message=services.ESCALATED)
                               .values_list("key", "link", "created_at")):
        pk = by_url[link]
        written[pk] = min(created, written.get(pk, created))
        escalated_keys[str(key)] = pk
    lateness = [(written[pk] - due[pk]).total_seconds() for pk in written]
    notified: dict[int, float] = {}
    received = Counter()
    for key, at, _text in receiver.snapshot():
        pk = escalated_keys.get(key)
        if pk is None:
            continue
        received[key] += 1
        late = at - due[pk].timestamp()
        notified[pk] = min(late, notified.get(pk, late))
    escalated_once = counts.get(1, 0)
    worst = max(lateness) if lateness else None
    return {
        "database": database_info(), "alerts": args.alerts, "workers": args.workers,
        "worker_interval_s": args.interval, "deadlines_spread_s": args.spread,
        "all_escalated": all_escalated,
        "escalated_exactly_once": escalated_once,
        "escalated_more_than_once": sum(n for e, n in counts.items() if e > 1),
        "never_escalated": counts.get(0, 0),
        "chronology_lines": sum(chronology.values()),
        "chronology_alerts_with_more_than_one": sum(1 for n in chronology.values() if n > 1),
        "robot_messages_received": sum(received.values()),
        "robot_messages_repeated": sum(n - 1 for n in received.values() if n > 1),
        "lateness_escalated": seconds_summary(lateness),
        "lateness_robot_notified": seconds_summary(list(notified.values())),
        "target_worst_lateness_ms": TARGET_LATENESS_SECONDS * 1000,
        "within_target": escalated_once == args.alerts and worst is not None
        and worst < TARGET_LATENESS_SECONDS,
        "worker_exit_codes": codes, "worker_errors": workers.errors(),
    }


# --- crash test ---------------------------------------------------------------------------------


def crash(args: argparse.Namespace) -> dict:
    prepare()
    from django.utils import timezone

    from xinlian.notify import services
    from xinlian.notify.models import Channel, Delivery, DeliveryStatus, Robot
    from xinlian.notify.sending import LEASE_MARGIN, webhook_timeout

    receiver = Receiver(delay=args.receiver_delay)
    seed(receiver.url, classes=1, per_class=1)
    robot = Robot.objects.get()
    start_at = timezone.now() + dt.timedelta(days=1)  # held back until the workers are up
    Delivery.objects.bulk_create(
        [Delivery(channel=Channel.WEBHOOK, robot=robot, message=services.RAISED, link=f"/care/alerts/{i}/",
                  params={"level_label": "red", "place": "计算机学院 2023级1班"}, next_attempt_at=start_at)
         for i in range(1, args.deliveries + 1)], batch_size=500)
    keys = {str(k) for k in Delivery.objects.values_list("key", flat=True)}
    workers = Workers(args.workers, args.interval)
    workers.wait_ready()
    go = timezone.now()
    Delivery.objects.update(next_attempt_at=go)
    t0 = time.monotonic()

    def untouched() -> int:
        """Deliveries no worker has claimed yet (a SQLite claim moves next_attempt_at past go;
        a PostgreSQL row lock dies with its worker, so its row stays untouched and is resent)."""
        return Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=go).count()

    # Kill while there is sending left to interrupt; then let the survivors finish.
    rng = random.Random(20260601)
    kills = 0
    while True:
        time.sleep(rng.uniform(0.2, 0.6))
        if untouched() == 0:
            break
        workers.assert_alive()
        running = [i for i in range(len(workers.procs)) if workers.ready(i)]
        if running:  # a worker still starting up holds nothing: killing it would prove nothing
            workers.kill_and_restart(rng.choice(running))
            kills += 1
    kill_seconds = time.monotonic() - t0
    # On SQLite a row claimed by a killed worker waits for its lease to run out.
    lease = webhook_timeout() * 2 + LEASE_MARGIN.total_seconds()
    complete = wait_until(lambda: workers.assert_alive() or
                          not Delivery.objects.filter(status=DeliveryStatus.PENDING).exists() and keys <= {k for k, _, _ in receiver.snapshot()}, lease + 120, step=0.25)
    done_seconds = time.monotonic() - t0
    time.sleep(1)
    codes = workers.stop()
    receiver.close()

    got = Counter(k for k, _, _ in receiver.snapshot() if k in keys)
    statuses = Counter(Delivery.objects.values_list("status", flat=True))
    lost = len(keys - set(got))
    repeats = sum(n - 1 for n in got.values())
    return {
        "database": database_info(), "deliveries": args.deliveries, "workers": args.workers,
        "worker_interval_s": args.interval, "receiver_delay_ms": args.receiver_delay * 1000,
        "kills": kills,
        "kill_phase_seconds": round(kill_seconds, 1), "seconds_until_all_sent": round(done_seconds, 1),
        "all_received": complete, "lease_seconds_sqlite": lease,
        "received_unique": len(got), "lost": lost, "repeats": repeats,
        "keys_repeated": sum(1 for n in got.values() if n > 1),
        "statuses": dict(statuses),
        "targets": {"lost": 0, "repeats_at_most": "kills", "min_kills": MIN_KILLS},
        "within_target": lost == 0 and repeats <= kills and kills >= MIN_KILLS,
        "worker_exit_codes": codes,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("latency")
    p.add_argument("--concerns", type=int, default=1000)
    p.add_argument("--rate", type=float, default=20.0, help="concerns filed per second")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--interval", type=float, default=WORKER_INTERVAL)
    p = sub.add_parser("escalation")
    p.add_argument("--alerts", type=int, default=1000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--spread", type=float, default=60.0, help="seconds the deadlines spread over")
    p.add_argument("--lead", type=float, default=10.0, help="seconds from setup to the first deadline")
    p.add_argument("--interval", type=float, default=WORKER_INTERVAL)
    p = sub.add_parser("crash")
    p.add_argument("--deliveries", type=int, default=1000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--receiver-delay", type=float, default=0.03)
    p.add_argument("--interval", type=float, default=WORKER_INTERVAL)
    args = parser.parse_args()
    try:
        result = {"latency": latency, "escalation": escalation, "crash": crash}[args.what](args)
    finally:
        for workers in Workers.every:
            workers.stop()
    print(json.dumps(result, ensure_ascii=False, default=str))


if __name__ == "__main__":
    sys.exit(main())
