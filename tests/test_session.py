"""The idle timeout slides with the user's activity, with at most one session write a minute."""

from __future__ import annotations

import datetime as dt
import time

from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from xinlian.web.middleware import RENEWED_KEY
from xinlian.web.models import Session

from .base import NetworkTestCase


class IdleSessionTests(NetworkTestCase):
    def stamp(self, seconds_ago: int) -> str:
        """Pretend the session was last written ``seconds_ago``, five minutes before it expires."""
        session = self.client.session
        session[RENEWED_KEY] = int(time.time()) - seconds_ago
        session.save()
        Session.objects.filter(session_key=session.session_key).update(
            expire_date=timezone.now() + dt.timedelta(minutes=5))
        return session.session_key

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

    def test_the_login_form_stamps_the_session_it_saves(self):
        self.client.post(reverse("login"), {"username": self.persona("counsellor_a").username,
                                            "password": "x" * 3}, REMOTE_ADDR="10.0.0.9")  # a failure first
        user = self.persona("counsellor_a")
        user.set_password("a-long-enough-pass-2026")
        user.save()
        response = self.client.post(reverse("login"), {"username": user.username,
                                                       "password": "a-long-enough-pass-2026"})
        self.assertEqual(response.status_code, 302)
        stamped = self.client.session.get(RENEWED_KEY)
        self.assertIsNotNone(stamped)
        self.assertLessEqual(abs(int(time.time()) - stamped), 5)
        self.assertEqual(self.session_writes(reverse("inbox")), 0)  # the login just wrote it
