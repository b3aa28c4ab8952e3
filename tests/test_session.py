"""The idle timeout slides with the user's activity, with at most one session write a minute."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from xinlian.web.middleware import IdleSessionMiddleware
from xinlian.web.models import Session
from xinlian.web.sessions import SessionStore

from .base import NetworkTestCase


class IdleSessionTests(NetworkTestCase):
    def stamp(self, seconds_ago: int) -> str:
        """Pretend the session was last renewed ``seconds_ago``: its row expires a full idle
        timeout after that."""
        key = self.client.session.session_key
        Session.objects.filter(session_key=key).update(
            expire_date=timezone.now() + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE - seconds_ago))
        return key

    def expiry(self, key: str) -> dt.datetime:
        return Session.objects.get(session_key=key).expire_date

    def session_writes(self, url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            self.assertEqual(self.client.get(url).status_code, 200)
        return sum(q["sql"].startswith('UPDATE "web_session"') for q in ctx.captured_queries)

    def test_a_request_within_the_minute_writes_nothing(self):
        self.login("counsellor_a")
        key = self.stamp(10)
        before = self.expiry(key)
        self.assertEqual(self.session_writes(reverse("inbox")), 0)
        self.assertEqual(self.expiry(key), before)

    def test_a_request_after_the_minute_renews_the_whole_idle_timeout(self):
        self.login("counsellor_a")
        key = self.stamp(settings.SESSION_RENEW_SECONDS + 1)
        t0 = timezone.now()
        self.assertEqual(self.session_writes(reverse("inbox")), 1)
        expiry = self.expiry(key)
        self.assertGreaterEqual(expiry, t0 + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE - 1))
        # ... and the next request within the minute writes nothing again.
        self.assertEqual(self.session_writes(reverse("inbox")), 0)
        self.assertEqual(self.expiry(key), expiry)

    def test_an_idle_session_still_ends(self):
        self.login("counsellor_a")
        key = self.stamp(300)
        Session.objects.filter(session_key=key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
        response = self.client.get(reverse("inbox"))
        self.assertEqual(response.status_code, 302)
        self.assertTrue(response["Location"].startswith(reverse("login")))

    def test_the_login_saves_a_session_not_renewed_within_the_minute(self):
        self.client.post(reverse("login"), {"username": self.persona("counsellor_a").username,
                                            "password": "x" * 3}, REMOTE_ADDR="10.0.0.9")  # a failure first
        user = self.persona("counsellor_a")
        user.set_password("a-long-enough-pass-2026")
        user.save()
        response = self.client.post(reverse("login"), {"username": user.username,
                                                       "password": "a-long-enough-pass-2026"})
        self.assertEqual(response.status_code, 302)
        expiry = self.expiry(self.client.session.session_key)  # a full idle timeout from now
        self.assertLessEqual(abs((expiry - timezone.now()).total_seconds() - settings.SESSION_COOKIE_AGE), 5)
        self.assertEqual(self.session_writes(reverse("inbox")), 0)  # the login just wrote it

    def test_the_renewal_writes_the_expiry_alone(self):
        self.login("counsellor_a")
        key = self.stamp(settings.SESSION_RENEW_SECONDS + 1)
        data = Session.objects.get(session_key=key).session_data
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.get(reverse("inbox"))
        self.assertEqual(response.status_code, 200)
        writes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('UPDATE "web_session"')]
        self.assertEqual(len(writes), 1, writes)
        self.assertIn("SET expire_date", writes[0])
        self.assertNotIn("session_data", writes[0])  # not encoded and signed again
        self.assertEqual(Session.objects.get(session_key=key).session_data, data)
        self.assertNotIn(settings.SESSION_COOKIE_NAME, response.cookies)  # the browser's cookie stays
        self.assertGreater(self.expiry(key), timezone.now() + dt.timedelta(
            seconds=settings.SESSION_COOKIE_AGE - 5))

    def test_a_request_that_changes_the_session_saves_it_whole_once(self):
        self.login("counsellor_a")
        key = self.stamp(settings.SESSION_RENEW_SECONDS + 1)

        def view(request):
            request.session["seen"] = "yes"
            return HttpResponse("ok")

        request = RequestFactory().get("/")
        request.COOKIES[settings.SESSION_COOKIE_NAME] = key
        middleware = IdleSessionMiddleware(view)
        middleware.process_request(request)
        with CaptureQueriesContext(connection) as ctx:
            response = middleware.process_response(request, view(request))
        writes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('UPDATE "web_session"')]
        self.assertEqual(len(writes), 1, writes)
        self.assertIn("session_data", writes[0])
        self.assertEqual(SessionStore(key)["seen"], "yes")
        self.assertGreater(self.expiry(key), timezone.now() + dt.timedelta(
            seconds=settings.SESSION_COOKIE_AGE - 5))
        self.assertIn(settings.SESSION_COOKIE_NAME, response.cookies)

    def test_a_server_error_renews_nothing(self):
        self.login("counsellor_a")
        key = self.stamp(settings.SESSION_RENEW_SECONDS + 1)
        before = self.expiry(key)

        def view(request):
            request.session.get("anything")
            return HttpResponse("broken", status=500)

        request = RequestFactory().get("/")
        request.COOKIES[settings.SESSION_COOKIE_NAME] = key
        middleware = IdleSessionMiddleware(view)
        middleware.process_request(request)
        middleware.process_response(request, view(request))
        self.assertEqual(self.expiry(key), before)

    def test_a_renewal_does_not_bring_back_a_deleted_row(self):
        self.login("counsellor_a")
        key = self.stamp(settings.SESSION_RENEW_SECONDS + 1)
        store = SessionStore(key)
        self.assertTrue(store.get(SESSION_KEY))  # loaded while the row exists
        self.assertTrue(store.renewal_due())
        Session.objects.filter(session_key=key).delete()  # a logout in another tab
        store.renew()
        self.assertFalse(Session.objects.filter(session_key=key).exists())

    def test_on_postgresql_the_renewal_is_made_in_place(self):
        if connection.vendor != "postgresql":
            self.skipTest("PostgreSQL's in-place (HOT) updates")
        with connection.cursor() as cursor:
            cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'web_session'")
            self.assertIn("fillfactor=75", cursor.fetchone()[0])
        self.login("counsellor_a")
        self.stamp(settings.SESSION_RENEW_SECONDS + 1)

        def in_place() -> int:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_stat_get_xact_tuples_hot_updated('web_session'::regclass)")
                return cursor.fetchone()[0]

        before = in_place()
        self.assertEqual(self.session_writes(reverse("inbox")), 1)
        self.assertEqual(in_place(), before + 1)
