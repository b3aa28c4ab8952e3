"""Two people, one slot (issue 11): students in threads book the last free slot at the same
moment; exactly one gets it and every other gets the clear message, held by the database's
constraint (not by the check in Python, which all of them pass before any has written).

A TransactionTestCase: each thread has its own connection and sees only committed rows. On
PostgreSQL the threads use the test database. On SQLite the test database lives in this
process's memory; it is copied to a file for the race (SQLite's backup API) — the threads then
serialise on the file's lock with a busy timeout, as the server's processes do in production —
and the in-memory database is put back afterwards."""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.db import connection
from django.test import RequestFactory, TransactionTestCase

from xinlian.counseling import actions
from xinlian.counseling.models import Booking, BookingStatus, Slot
from xinlian.lib.actions import ActionError
from xinlian.network.models import User

from .base import NetworkTestCase, make_student
from .test_counseling_base import INTAKE, add_time, setup_counseling

STUDENTS = 8


@contextlib.contextmanager
def threads_share_the_database() -> Iterator[None]:
    if connection.vendor != "sqlite":
        yield
        return
    connection.ensure_connection()
    memory = connection.connection  # kept open: an in-memory database lives while it has a connection
    settings = connection.settings_dict
    name = settings["NAME"]
    with tempfile.TemporaryDirectory(prefix="xinlian-race-") as tmp:
        path = str(Path(tmp) / "race.sqlite3")
        target = sqlite3.connect(path)
        memory.backup(target)
        target.close()
        settings["NAME"] = path
        connection.connection = None  # this thread reconnects too, to the file
        try:
            yield
        finally:
            connection.close()
            settings["NAME"] = name
            connection.connection = memory


class LastSlotRaceTests(TransactionTestCase):
    def setUp(self) -> None:
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        setup_counseling(type(self))
        self.slot = add_time(self.psy, self.school, 2, start="09:00", end="10:00")[0]  # the only one
        self.students = [make_student(f"S8{i:03d}", f"学生{i}", self.class_a1).user for i in range(STUDENTS)]

    def race(self, calls: list[tuple[User, dict[str, Any]]]) -> list[Any]:
        barrier = threading.Barrier(len(calls))
        outcomes: list[Any] = [None] * len(calls)

        def run(i: int, user: User, kwargs: dict[str, Any]) -> None:
            request = RequestFactory().post("/counseling/book/")
            request.user = User.objects.get(pk=user.pk)
            try:
                barrier.wait(timeout=30)
                outcomes[i] = actions.book(request, intake=INTAKE, **kwargs).booking
            except ActionError as exc:
                outcomes[i] = exc
            except Exception as exc:  # noqa: BLE001 — anything else is a failure the test reports
                outcomes[i] = ("error", repr(exc))
            finally:
                connection.close()

        with threads_share_the_database():
            threads = [threading.Thread(target=run, args=(i, u, kw)) for i, (u, kw) in enumerate(calls)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            rows = list(Booking.objects.filter(status=BookingStatus.ACTIVE).values_list("slot_id", "client_id"))
        self.rows = rows
        return outcomes

    def test_exactly_one_student_gets_the_last_slot(self):
        outcomes = self.race([(u, {"slot": self.slot.pk}) for u in self.students])
        errors = [o for o in outcomes if isinstance(o, tuple)]
        self.assertEqual(errors, [])
        won = [o for o in outcomes if isinstance(o, Booking)]
        refused = [o for o in outcomes if isinstance(o, ActionError)]
        self.assertEqual(len(won), 1)
        self.assertEqual(len(refused), STUDENTS - 1)
        self.assertTrue(all(o.status == 409 for o in refused), [o.status for o in refused])
        for o in refused:
            self.assertIn(str(o.text), {
                "这个时间刚刚被别人预约了。 现在没有其他空闲时间，你可以加入候补名单。",
                "Someone else has just booked this time. No other time is free now: you can join the waiting list."})
        self.assertEqual(self.rows, [(self.slot.pk, won[0].client_id)])

    def test_one_student_two_tabs_two_counsellors_at_the_same_time(self):
        other = add_time(self.psy2, self.school, 2, start="09:00", end="10:00")[0]
        student = self.students[0]
        outcomes = self.race([(student, {"slot": self.slot.pk}), (student, {"slot": other.pk})])
        self.assertEqual(len([o for o in outcomes if isinstance(o, Booking)]), 1, outcomes)
        self.assertEqual([o.status for o in outcomes if isinstance(o, ActionError)], [409])
        self.assertEqual(len(self.rows), 1)
        self.assertEqual(Slot.objects.count(), 2)
