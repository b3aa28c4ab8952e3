"""Several real `xinlian worker` processes on one database: no double escalation, no double
message.

The workers are other processes, so the rows they work on must be committed: this is a
TransactionTestCase. On PostgreSQL they connect to the test database itself. On SQLite the test
database lives in this process's memory, so it is copied to a file for them (SQLite's backup
API) and copied back once they have stopped; there the workers serialise on the database lock,
which is how SQLite runs them in production too."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from django.db import connection
from django.test import TransactionTestCase
from django.utils import timezone

from xinlian.care.models import Alert, AlertSource, TimelineEntry
from xinlian.network.models import Post, Role, Unit, UnitKind
from xinlian.notify.models import Channel, Delivery, DeliveryStatus, Robot

from .base import make_staff, make_student
from .robot_receiver import Receiver

WORKERS = 3
ALERTS = 30
EXTRA_DELIVERIES = 60
SETTLE_SECONDS = 120  # a liveness bound for the whole run, not a speed requirement
MSG = "A %(level_label)s alert for a student in %(place)s needs your acknowledgement."


class SharedDatabase:
    """The test database, reachable by worker processes; ``count(sql)`` reads it as they see it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.sqlite_file = workdir / "xinlian.sqlite3" if connection.vendor == "sqlite" else None

    def worker_env(self) -> dict[str, str]:
        env = dict(os.environ, XINLIAN_DATA_DIR=str(self.workdir), XINLIAN_LOG_LEVEL="WARNING",
                   DJANGO_SETTINGS_MODULE="xinlian.settings")
        if self.sqlite_file is not None:
            env.pop("XINLIAN_DATABASE_URL", None)
        else:
            s = connection.settings_dict
            auth = quote(s["USER"] or "") + (f":{quote(s['PASSWORD'])}" if s["PASSWORD"] else "")
            env["XINLIAN_DATABASE_URL"] = (f"postgres://{auth}@{s['HOST'] or 'localhost'}:"
                                           f"{s['PORT'] or 5432}/{s['NAME']}")
        return env

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        if self.sqlite_file is None:
            yield
            return
        connection.ensure_connection()
        with contextlib.closing(sqlite3.connect(self.sqlite_file)) as file_db:
            connection.connection.backup(file_db)
        try:
            yield
        finally:
            with contextlib.closing(sqlite3.connect(self.sqlite_file)) as file_db:
                file_db.backup(connection.connection)

    def count(self, sql: str) -> int:
        if self.sqlite_file is None:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchone()[0]
        with contextlib.closing(sqlite3.connect(self.sqlite_file, timeout=20)) as file_db:
            return file_db.execute(sql).fetchone()[0]


class WorkerConcurrencyTests(TransactionTestCase):
    def setUp(self) -> None:
        bureau = Unit.add_top(kind=UnitKind.BUREAU, code="BUR", name="示范区教育局", name_en="Bureau")
        school = bureau.add_unit(kind=UnitKind.SCHOOL, code="SCH", name="示范大学", name_en="University")
        college = school.add_unit(kind=UnitKind.COLLEGE, code="CA", name="计算机学院", name_en="College A")
        self.klass = college.add_unit(kind=UnitKind.CLASS, code="CA-1", name="2023级1班", name_en="Class A1")
        self.students = [make_student(f"S{i:04d}", f"学生{i}", self.klass) for i in range(10)]
        make_staff("T1001", "周辅导", Role.FUDAOYUAN, college)
        make_staff("T1002", "吴老师", Role.HEAD_TEACHER, self.klass)
        make_staff("T1003", "林院长", Role.COLLEGE_LEAD, college)
        make_staff("T1004", "钱主任", Role.CENTRE_DIRECTOR, school)
        self.assertEqual(Post.objects.count(), 4)
        self.receiver = Receiver(delay=0.005)
        self.receiver.__enter__()
        self.addCleanup(self.receiver.__exit__)
        tmp = tempfile.TemporaryDirectory(prefix="xinlian-workers-")
        self.addCleanup(tmp.cleanup)
        self.db = SharedDatabase(Path(tmp.name))

    def start_workers(self) -> list[subprocess.Popen]:
        procs = []
        for i in range(WORKERS):
            log = open(self.db.workdir / f"worker{i}.log", "w")  # noqa: SIM115 — closed in stop_workers
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "xinlian.cli", "worker", "--interval", "0.05"],
                env=self.db.worker_env(), stdout=log, stderr=subprocess.STDOUT))
            log.close()
        return procs

    def stop_workers(self, procs: list[subprocess.Popen]) -> list[str]:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return [(self.db.workdir / f"worker{i}.log").read_text() for i in range(len(procs))]

    def test_no_double_escalation_and_no_double_message(self):
        robot = Robot.objects.create(unit=self.klass, name="班级群", kind="wecom",
                                     url=self.receiver.url("ok", "wecom"))
        past = timezone.now() - dt.timedelta(days=2)  # raised long ago: their deadlines are due
        alerts = [Alert.raise_for(self.students[i % len(self.students)], "orange",
                                  AlertSource.COUNSELLOR, now=past) for i in range(ALERTS)]
        for _ in range(EXTRA_DELIVERIES):
            Delivery.objects.create(channel=Channel.WEBHOOK, robot=robot, message=MSG,
                                    params={"level_label": "yellow", "place": "计算机学院 2023级1班"},
                                    link="/care/alerts/1/")
        # Everything falls due together a moment from now, when every worker is polling.
        go = timezone.now() + dt.timedelta(seconds=3)
        Alert.objects.update(due_at=go)
        Delivery.objects.filter(status=DeliveryStatus.PENDING).update(next_attempt_at=go)

        with self.db.shared():
            procs = self.start_workers()
            try:
                deadline = time.monotonic() + SETTLE_SECONDS
                while time.monotonic() < deadline:
                    time.sleep(0.25)
                    if (self.db.count("SELECT COUNT(*) FROM care_alert WHERE escalations = 0") == 0
                            and self.db.count("SELECT COUNT(*) FROM notify_delivery "
                                              "WHERE status = 'pending'") == 0):
                        break
                time.sleep(0.5)  # a few more passes: a late double would show now
            finally:
                logs = self.stop_workers(procs)
        for proc, log in zip(procs, logs, strict=True):
            self.assertEqual(proc.returncode, 0, log)
            self.assertNotIn("Traceback", log)

        # Each alert escalated exactly once, with one chronology line.
        self.assertEqual(sorted(Alert.objects.values_list("escalations", flat=True)), [1] * ALERTS)
        steps = Counter(TimelineEntry.objects.filter(kind="alert.escalate").values_list("link", flat=True))
        self.assertEqual(steps, Counter({a.get_absolute_url(): 1 for a in alerts}))
        # Each webhook delivery (raised, escalated, and the extra ones) received exactly once.
        webhooks = Delivery.objects.filter(channel=Channel.WEBHOOK)
        self.assertEqual(webhooks.count(), ALERTS * 2 + EXTRA_DELIVERIES)
        self.assertEqual(set(webhooks.values_list("status", "attempts")), {(DeliveryStatus.SENT, 1)})
        received = Counter(self.receiver.keys())
        self.assertEqual(received, Counter({str(k): 1 for k in webhooks.values_list("key", flat=True)}))
