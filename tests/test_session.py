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


class RenewalWithLoadTests(NetworkTestCase):
    """The questionnaire's views (``hotsql.renews_session``) have the renewal made by the
    statement that loads the session and its user, on PostgreSQL; elsewhere, and for every other
    view, by a statement of its own after the view."""

    def setUp(self):
        self.login("student_a1_user")
        self.key = self.client.session.session_key
        # A page of the questionnaire (of no assignment: 404, still the student's activity).
        self.url = reverse("screening:take", args=[999999])

    def age(self, seconds_ago: int) -> dt.datetime:
        expiry = timezone.now() + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE - seconds_ago)
        Session.objects.filter(session_key=self.key).update(expire_date=expiry)
        return expiry

    def request(self) -> list[str]:
        with CaptureQueriesContext(connection) as ctx:
            self.assertEqual(self.client.get(self.url).status_code, 404)
        return [q["sql"] for q in ctx.captured_queries]

    def test_a_due_renewal_comes_with_the_load(self):
        self.age(settings.SESSION_RENEW_SECONDS + 1)
        data = Session.objects.get(session_key=self.key).session_data
        t0 = timezone.now()
        sql = self.request()
        expiry = Session.objects.get(session_key=self.key).expire_date
        self.assertGreaterEqual(expiry, t0 + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE - 1))
        self.assertEqual(Session.objects.get(session_key=self.key).session_data, data)
        own = [s for s in sql if s.startswith('UPDATE "web_session"')]
        if connection.vendor == "postgresql":
            self.assertEqual(own, [])  # no statement of its own
            self.assertTrue(sql[0].startswith("WITH _renewed AS (UPDATE"), sql[0][:80])
        else:  # SQLite has no data-modifying WITH: the renewal after the view, as for any page
            self.assertEqual(len(own), 1, own)
            self.assertNotIn("session_data", own[0])
        # Within the minute, nothing moves and nothing more is written.
        sql = self.request()
        self.assertEqual(Session.objects.get(session_key=self.key).expire_date, expiry)
        self.assertFalse([s for s in sql if s.startswith('UPDATE "web_session"')])

    def test_a_renewal_not_due_leaves_the_row_alone(self):
        before = self.age(10)
        sql = self.request()
        self.assertEqual(Session.objects.get(session_key=self.key).expire_date, before)
        self.assertFalse([s for s in sql if s.startswith('UPDATE "web_session"')])

    def test_an_expired_session_is_not_brought_back(self):
        Session.objects.filter(session_key=self.key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
        response = self.client.get(self.url)
        self.assertEqual(response.status_code, 302)  # to the login page
        self.assertLess(Session.objects.get(session_key=self.key).expire_date, timezone.now())

    def test_the_badge_poll_still_renews_nothing(self):
        # Not marked: the inbox badge, polled in the background, is never the user's activity.
        before = self.age(settings.SESSION_RENEW_SECONDS + 1)
        with CaptureQueriesContext(connection) as ctx:
            self.assertEqual(self.client.get(reverse("inbox-badge")).status_code, 200)
        self.assertFalse([q for q in ctx.captured_queries if "web_session" in q["sql"] and "UPDATE" in q["sql"]])
        self.assertEqual(Session.objects.get(session_key=self.key).expire_date, before)

    def test_only_the_questionnaire_is_marked(self):
        from django.urls import resolve

        marked = {name for name in ("take", "answer", "submit", "thanks", "consent", "mine")
                  if getattr(resolve(reverse(f"screening:{name}", args=[] if name == "mine" else [1])).func,
                             "renews_session", False)}
        self.assertEqual(marked, {"take", "answer", "submit"})
