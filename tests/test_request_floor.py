"""The fixed cost of a request (issue 10 §4): the session and the user loaded by statements built
once per process (xinlian/web/middleware.py), with every check Django's get_user makes; the
inbox badge's count; the streaming .xlsx writer the exports use (xinlian/lib/xlsx.py)."""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile

import openpyxl
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.models import Session
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone

from tests.base import NetworkTestCase
from xinlian.lib import xlsx
from xinlian.lib.spreadsheet import write_xlsx
from xinlian.notify.models import Channel, Delivery
from xinlian.notify.views import inbox_badge
from xinlian.web.middleware import (
    HEALTHY_SECONDS,
    RENEWED_KEY,
    RecentConnectionMiddleware,
    SessionStore,
    load_user,
)

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


class RequestUserTests(NetworkTestCase):
    def badge(self, **extra):  # noqa: ANN003, ANN201
        return self.client.get(reverse("inbox-badge"), **extra)

    def test_a_logged_in_request_costs_two_queries(self) -> None:
        # A password login (ModelBackend), and the test client's own login.
        for backend in (MODEL_BACKEND, None):
            with self.subTest(backend=backend):
                self.client.force_login(self.counsellor_a, backend=backend)
                with self.assertNumQueries(2):  # session, then the user with the unread count
                    response = self.badge()
                self.assertEqual(response.status_code, 200)
                self.assertEqual(response.wsgi_request.user, self.counsellor_a)
                self.client.logout()

    def test_the_same_user_as_django_loads(self) -> None:
        self.counsellor_a.phone = "13800138000"  # encrypted at rest: decrypted on load as by the ORM
        self.counsellor_a.save()
        self.client.force_login(self.counsellor_a, backend=MODEL_BACKEND)
        request = RequestFactory().get("/")
        request.session = SessionStore(self.client.session.session_key)
        ours = load_user(request)
        theirs = get_user(request)
        self.assertEqual(ours.pk, theirs.pk)
        for field in ("username", "full_name", "phone", "is_active", "password", "kind"):
            self.assertEqual(getattr(ours, field), getattr(theirs, field), field)
        self.assertEqual(ours.phone, "13800138000")

    def test_a_changed_password_ends_the_session(self) -> None:
        self.client.force_login(self.counsellor_a, backend=MODEL_BACKEND)
        key = self.client.session.session_key
        self.counsellor_a.set_password("another-pass-2026")
        self.counsellor_a.save()
        response = self.badge()
        self.assertEqual(response.status_code, 302)  # to the login page
        self.assertIn(reverse("login"), response["Location"])
        self.assertFalse(Session.objects.filter(session_key=key).exists())  # flushed

    def test_a_session_without_its_hash_is_anonymous(self) -> None:
        self.client.force_login(self.counsellor_a, backend=MODEL_BACKEND)
        session = self.client.session
        del session[HASH_SESSION_KEY]
        session.save()
        self.assertEqual(self.badge().status_code, 302)

    def test_an_inactive_user_is_anonymous(self) -> None:
        self.client.force_login(self.counsellor_a, backend=MODEL_BACKEND)
        self.counsellor_a.is_active = False
        self.counsellor_a.save()
        self.assertEqual(self.badge().status_code, 302)

    def test_an_unknown_user_or_backend_is_anonymous(self) -> None:
        self.client.force_login(self.counsellor_a, backend=MODEL_BACKEND)
        session = self.client.session
        session[SESSION_KEY] = "999999"
        session.save()
        self.assertEqual(self.badge().status_code, 302)
        self.client.force_login(self.counsellor_a, backend=MODEL_BACKEND)
        session = self.client.session
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.RemoteUserBackend"  # not in settings
        session.save()
        self.assertEqual(self.badge().status_code, 302)

    def test_an_expired_session_is_anonymous(self) -> None:
        self.client.force_login(self.counsellor_a, backend=MODEL_BACKEND)
        key = self.client.session.session_key
        Session.objects.filter(session_key=key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
        self.assertEqual(self.badge().status_code, 302)
        self.assertIsNone(SessionStore(key).get(SESSION_KEY))

    def test_a_rotated_secret_keeps_the_session_and_renews_its_hash(self) -> None:
        with override_settings(SECRET_KEY="the-old-secret-key-of-this-test-0123456789"):
            self.client.force_login(self.counsellor_a, backend=MODEL_BACKEND)
            old_hash = self.client.session[HASH_SESSION_KEY]
        with override_settings(SECRET_KEY="the-new-secret-key-of-this-test-9876543210",
                               SECRET_KEY_FALLBACKS=["the-old-secret-key-of-this-test-0123456789"]):
            response = self.client.get(reverse("inbox"))  # a page that keeps the session (not a poll)
            self.assertEqual(response.status_code, 200)
            self.assertEqual(response.wsgi_request.user, self.counsellor_a)
            new_hash = self.client.session[HASH_SESSION_KEY]
            self.assertNotEqual(new_hash, old_hash)
            self.assertEqual(new_hash, self.counsellor_a.get_session_auth_hash())
        with override_settings(SECRET_KEY="a-third-secret-key-of-this-test-5555555555"):
            self.assertEqual(self.badge().status_code, 302)  # no fallback: logged out

    def test_a_renewal_rewrites_the_row_and_a_deleted_row_interrupts(self) -> None:
        self.client.force_login(self.counsellor_a, backend=MODEL_BACKEND)
        session = self.client.session
        session[RENEWED_KEY] = 0  # renewed long ago: this page view renews it
        session.save()
        key = session.session_key
        stale = timezone.now() + dt.timedelta(minutes=1)
        Session.objects.filter(session_key=key).update(expire_date=stale)
        self.assertEqual(self.client.get(reverse("inbox")).status_code, 200)
        row = Session.objects.get(session_key=key)
        self.assertGreater(row.expire_date, stale + dt.timedelta(minutes=5))
        self.assertGreater(SessionStore(key)[RENEWED_KEY], 0)
        self.assertEqual(SessionStore(key)[SESSION_KEY], str(self.counsellor_a.pk))
        # The row deleted while the request ran (a logout elsewhere): Django's answer, 400.
        store = SessionStore(key)
        self.assertTrue(store[SESSION_KEY])  # loaded before the row goes
        Session.objects.filter(session_key=key).delete()
        store["x"] = 1
        with self.assertRaises(UpdateError):
            store.save()

    def test_the_badge_counts_only_unread_inbox_messages_of_the_user(self) -> None:
        def delivery(user, channel=Channel.INBOX, read=False):  # noqa: ANN001, ANN202
            return Delivery.objects.create(recipient=user, channel=channel, message="Test message",
                                           read_at=timezone.now() if read else None)

        for _ in range(3):
            delivery(self.counsellor_a)
        delivery(self.counsellor_a, read=True)
        delivery(self.counsellor_a, channel=Channel.EMAIL)
        delivery(self.outsider_b)
        self.client.force_login(self.counsellor_a, backend=MODEL_BACKEND)
        body = self.badge(HTTP_HX_REQUEST="true").content.decode()
        self.assertIn(">3<", body)
        self.assertEqual(Delivery.objects.inbox_of(self.counsellor_a).unread().count(), 3)
        # The count came with the user (one statement), and only for a user who passed every check.
        self.assertEqual(self.badge(HTTP_HX_REQUEST="true").wsgi_request.user_columns, {"unread": 3})
        # A user loaded before the view (no columns asked for): the view counts by itself.
        request = RequestFactory().get(reverse("inbox-badge"), HTTP_HX_REQUEST="true")
        request.user = self.counsellor_a
        with self.assertNumQueries(1):
            self.assertIn(">3<", inbox_badge(request).content.decode())
        request.user = self.outsider_b  # one unread message of their own
        self.assertIn(">1<", inbox_badge(request).content.decode())

    def test_no_columns_for_a_user_who_fails_the_checks(self) -> None:
        Delivery.objects.create(recipient=self.counsellor_a, channel=Channel.INBOX, message="Test message")
        self.client.force_login(self.counsellor_a, backend=MODEL_BACKEND)
        self.counsellor_a.is_active = False
        self.counsellor_a.save()
        response = self.badge(HTTP_HX_REQUEST="true")
        self.assertEqual(response.status_code, 286)  # signed out: htmx stops polling
        self.assertFalse(hasattr(response.wsgi_request, "user_columns"))


class HealthCheckTests(NetworkTestCase):
    """CONN_HEALTH_CHECKS' SELECT 1 is skipped only for a connection that answered within the
    last HEALTHY_SECONDS, with no error since."""

    def run_middleware(self) -> None:
        RecentConnectionMiddleware(lambda request: HttpResponse("ok"))(RequestFactory().get("/"))

    def setUp(self) -> None:
        super().setUp()
        self.addCleanup(setattr, connection, "health_check_done", connection.health_check_done)
        self.addCleanup(setattr, connection, "errors_occurred", connection.errors_occurred)
        self.addCleanup(setattr, connection, "health_check_enabled", connection.health_check_enabled)
        connection.health_check_enabled = True
        connection.errors_occurred = False

    def test_a_statement_marks_the_connection_as_answering(self) -> None:
        RecentConnectionMiddleware(lambda request: HttpResponse("ok"))  # watches an open connection
        connection.xinlian_answered_at = 0.0
        User = type(self.counsellor_a)  # noqa: N806
        User.objects.filter(pk=self.counsellor_a.pk).exists()
        self.assertGreater(connection.xinlian_answered_at, 0.0)

    def test_a_recently_answering_connection_is_not_checked_again(self) -> None:
        connection.ensure_connection()
        connection.health_check_done = False
        connection.xinlian_answered_at = time.monotonic()
        self.run_middleware()
        self.assertTrue(connection.health_check_done)

    def test_an_idle_connection_is_still_checked(self) -> None:
        connection.ensure_connection()
        connection.health_check_done = False
        connection.xinlian_answered_at = time.monotonic() - HEALTHY_SECONDS - 0.5
        self.run_middleware()
        self.assertFalse(connection.health_check_done)

    def test_a_connection_with_an_error_is_still_checked(self) -> None:
        connection.ensure_connection()
        connection.health_check_done = False
        connection.errors_occurred = True
        connection.xinlian_answered_at = time.monotonic()
        self.run_middleware()
        self.assertFalse(connection.health_check_done)


class XlsxTests(NetworkTestCase):
    def read(self, data: bytes, read_only: bool = False) -> openpyxl.Workbook:
        return openpyxl.load_workbook(io.BytesIO(data), read_only=read_only)

    def test_values_come_back_as_written(self) -> None:
        when = dt.datetime(2026, 9, 1, 8, 30, 15)
        data = write_xlsx([("结果 & <2026>", ["编号", "姓名", "分数", "阳性", "日期", "时间"],
                            iter([["S0001", "张小明", 17, True, dt.date(2026, 9, 1), when],
                                  ["S0002", "李\x01华", 2.5, False, None, None],
                                  ["S0003", "a\nb \"c\" 'd'", 0, False, None, None]])),
                           ("第二页", ["x"], [])], widths={"第二页": [30]})
        wb = self.read(data)
        self.assertEqual(wb.sheetnames, ["结果 & <2026>", "第二页"])
        rows = list(wb.worksheets[0].iter_rows(values_only=True))
        self.assertEqual(rows[0], ("编号", "姓名", "分数", "阳性", "日期", "时间"))
        self.assertEqual(rows[1][:4], ("S0001", "张小明", 17, True))
        self.assertEqual(rows[1][4].date(), dt.date(2026, 9, 1))
        self.assertEqual(rows[1][5], when)
        self.assertEqual(rows[2][:4], ("S0002", "李华", 2.5, False))  # a control character is dropped
        self.assertEqual(rows[3][1], "a\nb \"c\" 'd'")
        ws = wb.worksheets[0]
        self.assertEqual(ws.freeze_panes, "A2")
        self.assertTrue(ws["A1"].font.b)
        self.assertFalse(ws["A2"].font.b)
        self.assertEqual(wb.worksheets[1].column_dimensions["A"].width, 30)
        self.assertEqual(len(list(self.read(data, read_only=True).worksheets[0].iter_rows())), 4)

    def test_every_cell_is_formula_safe(self) -> None:
        data = write_xlsx([("s", ["=SUM(A1)"], [["=HYPERLINK(\"http://x\")", "+1+cmd|' /C calc'!A0", "@SUM(1)", -2]])])
        rows = list(self.read(data, read_only=True).worksheets[0].iter_rows(values_only=True))
        self.assertEqual(rows[0], ("'=SUM(A1)",))
        self.assertEqual(rows[1], ("'=HYPERLINK(\"http://x\")", "'+1+cmd|' /C calc'!A0", "'@SUM(1)", -2))

    def test_a_workbook_without_sheets_still_opens(self) -> None:
        self.assertEqual(len(self.read(xlsx.write([])).sheetnames), 1)

    def test_aware_datetimes_are_refused(self) -> None:
        with self.assertRaises(TypeError):
            xlsx.write([("s", ["t"], [[timezone.now()]])])

    def test_columns_past_z_and_a_large_sheet(self) -> None:
        self.assertEqual([xlsx.column_letter(n) for n in (1, 26, 27, 52, 703)], ["A", "Z", "AA", "AZ", "AAA"])
        header = [f"c{i}" for i in range(30)]
        data = xlsx.write([("big", header, ([r * 100 + c for c in range(30)] for r in range(3000)))])
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            self.assertIn("xl/worksheets/sheet1.xml", zf.namelist())
        ws = self.read(data, read_only=True).worksheets[0]
        rows = list(ws.iter_rows(values_only=True))
        self.assertEqual(len(rows), 3001)
        self.assertEqual(rows[-1][-1], 2999 * 100 + 29)
        self.assertEqual(rows[0][27], "c27")
