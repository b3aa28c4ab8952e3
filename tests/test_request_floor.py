"""The fixed cost of a request (issue 10 §4): the session and the user loaded by statements built
once per process (xinlian/web/middleware.py), with every check Django's get_user makes; the
inbox badge's count; the streaming .xlsx writer the exports use (xinlian/lib/xlsx.py)."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import zipfile
from unittest import mock

import openpyxl
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user
from django.contrib.sessions.backends.base import UpdateError
from django.db import IntegrityError, connection, transaction
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.base import NetworkTestCase
from tests.screening_base import answers_for
from tests.test_screening_api import ScreeningApiTestCase, url
from xinlian.access.twofactor import STATE_COLUMN, STATE_NONE
from xinlian.care.models import Tier, TimelineEntry
from xinlian.lib import hotsql, xlsx
from xinlian.lib.spreadsheet import write_xlsx
from xinlian.notify.models import Channel, Delivery
from xinlian.notify.views import inbox_badge
from xinlian.screening import actions as screening_actions
from xinlian.screening import api as screening_api
from xinlian.screening.models import (
    NATIONAL_HOTLINE,
    Assignment,
    AssignmentStatus,
    Campaign,
    CampaignInstrument,
    CentreSettings,
    Response,
    Result,
    SubmitAction,
    own_answers_rows,
)
from xinlian.web import middleware
from xinlian.web.middleware import (
    HEALTHY_SECONDS,
    RecentConnectionMiddleware,
    load_user,
)
from xinlian.web.models import Session
from xinlian.web.sessions import SessionStore

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


class RequestUserTests(NetworkTestCase):
    def badge(self, **extra):  # noqa: ANN003, ANN201
        return self.client.get(reverse("inbox-badge"), **extra)

    def test_a_logged_in_request_costs_one_query(self) -> None:
        # A password login (ModelBackend), and the test client's own login.
        for backend in (MODEL_BACKEND, None):
            with self.subTest(backend=backend):
                self.client.force_login(self.counsellor_a, backend=backend)
                with self.assertNumQueries(1):  # the session with its user and the unread count
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
        key = self.client.session.session_key
        stale = timezone.now() + dt.timedelta(minutes=1)  # renewed long ago: this page view renews it
        Session.objects.filter(session_key=key).update(expire_date=stale)
        self.assertEqual(self.client.get(reverse("inbox")).status_code, 200)
        row = Session.objects.get(session_key=key)
        self.assertGreater(row.expire_date, stale + dt.timedelta(minutes=5))
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
        self.assertEqual(self.badge(HTTP_HX_REQUEST="true").wsgi_request.user_columns, {"unread": 3, STATE_COLUMN: STATE_NONE})
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


class SessionWithUserTests(NetworkTestCase):
    """The session row records whom the session is logged in as (xinlian.web.sessions), and the
    session comes with that user in one statement; the row's user is used only when the
    session's signed data names the same user, and every check of Django's get_user applies."""

    def badge(self):  # noqa: ANN201
        return self.client.get(reverse("inbox-badge"), HTTP_HX_REQUEST="true")

    def login(self) -> str:  # noqa: D102 — the persona helper of NetworkTestCase is not used here
        self.client.force_login(self.counsellor_a, backend=MODEL_BACKEND)
        return self.client.session.session_key

    def row_user(self, key: str):  # noqa: ANN201
        return Session.objects.filter(session_key=key).values_list("user_id", flat=True).first()

    def test_every_request_costs_one_query(self) -> None:
        Delivery.objects.create(recipient=self.counsellor_a, channel=Channel.INBOX, message="Test message")
        key = self.login()
        self.assertEqual(self.row_user(key), self.counsellor_a.pk)  # recorded at login
        for _ in range(2):  # the first request after the login, and any other
            with self.assertNumQueries(1):  # the session, the user and the unread count at once
                response = self.badge()
        self.assertEqual(response.wsgi_request.user, self.counsellor_a)
        self.assertEqual(response.wsgi_request.user_columns, {"unread": 1, STATE_COLUMN: STATE_NONE})
        self.assertIn(">1<", response.content.decode())
        with CaptureQueriesContext(connection) as page:  # a page: the same one statement first
            self.assertEqual(self.client.get(reverse("inbox")).status_code, 200)
        self.assertIn('LEFT JOIN "network_user" t', page.captured_queries[0]["sql"])
        self.assertFalse([q for q in page.captured_queries[1:] if "web_session" in q["sql"]
                          and not q["sql"].startswith("UPDATE")])

    def test_the_row_follows_the_login_through_the_pages(self) -> None:
        password = "a-good-pass-2026-xl"
        for person in (self.counsellor_a, self.outsider_b):
            person.set_password(password)
            person.save()
        self.client.get(reverse("login"))  # an anonymous session may exist before the login
        self.client.post(reverse("login"), {"username": self.counsellor_a.username, "password": password})
        key = self.client.session.session_key
        self.assertEqual(self.row_user(key), self.counsellor_a.pk)
        self.assertEqual(self.badge().wsgi_request.user, self.counsellor_a)
        # Logged out, and another person logs in on the same phone: a new key with their id.
        self.client.post(reverse("logout"))
        self.assertFalse(Session.objects.filter(session_key=key).exists())
        self.assertFalse(Session.objects.filter(user_id=self.counsellor_a.pk).exists())
        self.client.post(reverse("login"), {"username": self.outsider_b.username, "password": password})
        other = self.client.session.session_key
        self.assertNotEqual(other, key)
        self.assertEqual(self.row_user(other), self.outsider_b.pk)
        self.assertEqual(self.badge().wsgi_request.user, self.outsider_b)

    def test_a_session_without_a_user_records_none(self) -> None:
        store = SessionStore()
        store["anything"] = "kept before a login"
        store.save()
        self.assertTrue(Session.objects.filter(session_key=store.session_key, user=None).exists())
        store[SESSION_KEY] = "not a number"  # unreadable: nobody, as for Django's get_user
        store.save()
        self.assertIsNone(self.row_user(store.session_key))

    def test_a_row_that_disagrees_with_the_signed_data_is_never_used(self) -> None:
        key = self.login()
        for recorded in (self.outsider_b.pk, 999_999, None):  # another person, nobody, unknown
            with self.subTest(recorded=recorded):
                Session.objects.filter(session_key=key).update(user_id=recorded)
                with self.assertNumQueries(2):  # the row's user is not the session's: loaded by id
                    response = self.badge()
                self.assertEqual(response.wsgi_request.user, self.counsellor_a)
        # A session's data naming someone the row does not: only the data counts.
        session = self.client.session
        session[SESSION_KEY] = str(self.outsider_b.pk)
        session.save()
        self.assertEqual(self.row_user(key), self.outsider_b.pk)  # every save records the data's user

    def test_the_worker_deletes_expired_sessions_once_an_hour(self) -> None:
        from xinlian.notify.jobs import JOBS
        from xinlian.web import sessions

        job = dict(JOBS)["expired-sessions"]  # what the worker's pass runs (run_all)
        live = self.login()
        gone = SessionStore()
        gone["x"] = 1
        gone.save()
        Session.objects.filter(session_key=gone.session_key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
        self.addCleanup(setattr, sessions, "_last_clear", sessions._last_clear)
        sessions._last_clear = -float("inf")
        self.assertEqual(job(), 1)
        self.assertEqual(list(Session.objects.values_list("session_key", flat=True)), [live])
        Session.objects.filter(session_key=live).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
        self.assertEqual(job(), 0)  # not again within the hour
        self.assertTrue(Session.objects.exists())
        self.assertEqual(sessions.clear_expired_sessions(force=True), 1)
        self.assertFalse(Session.objects.exists())

    def test_deleting_a_user_deletes_their_sessions(self) -> None:
        key = self.login()
        self.counsellor_a.delete()
        self.assertFalse(Session.objects.filter(session_key=key).exists())

    def test_the_checks_still_apply_on_the_one_statement_path(self) -> None:
        key = self.login()
        self.badge()
        self.counsellor_a.set_password("another-pass-2026")  # the session hash no longer matches
        self.counsellor_a.save()
        response = self.client.get(reverse("inbox"))
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("login"), response["Location"])
        self.assertFalse(Session.objects.filter(session_key=key).exists())  # flushed
        key = self.login()
        self.badge()
        self.counsellor_a.is_active = False
        self.counsellor_a.save()
        self.assertEqual(self.badge().status_code, 286)  # inactive: signed out, polling stops

    def test_an_expired_or_deleted_session_is_anonymous(self) -> None:
        key = self.login()
        self.badge()
        Session.objects.filter(session_key=key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
        with self.assertNumQueries(1):
            response = self.badge()
        self.assertEqual(response.status_code, 286)
        self.assertFalse(response.wsgi_request.user.is_authenticated)
        key = self.login()
        self.badge()
        Session.objects.filter(session_key=key).delete()  # a logout elsewhere
        self.assertEqual(self.client.get(reverse("inbox")).status_code, 302)

    def test_the_session_still_renews_when_loaded_with_its_user(self) -> None:
        key = self.login()
        stale = timezone.now() + dt.timedelta(minutes=1)  # renewed long ago: the next page view renews it
        Session.objects.filter(session_key=key).update(expire_date=stale)
        with CaptureQueriesContext(connection) as page:  # the session with its user; the renewal
            self.assertEqual(self.client.get(reverse("inbox")).status_code, 200)
        sessions = [q["sql"] for q in page.captured_queries if "web_session" in q["sql"]]
        self.assertEqual(len(sessions), 2, sessions)
        self.assertIn('LEFT JOIN "network_user" t', sessions[0])
        self.assertTrue(sessions[1].startswith('UPDATE "web_session"'))
        self.assertEqual(self.row_user(key), self.counsellor_a.pk)  # the renewal keeps the user
        self.assertGreater(Session.objects.get(session_key=key).expire_date, stale + dt.timedelta(minutes=5))
        # A poll is no activity: it does not renew.
        Session.objects.filter(session_key=key).update(expire_date=stale)
        self.badge()
        self.assertEqual(Session.objects.get(session_key=key).expire_date, stale)

    def test_a_user_asked_for_before_the_view_still_comes_with_its_columns(self) -> None:
        # As when a middleware before the URL's resolution asks who the user is (two-step).
        Delivery.objects.create(recipient=self.counsellor_a, channel=Channel.INBOX, message="Test message")
        key = self.login()
        middleware._COLUMNS_OF_PATH.clear()
        for _ in range(2):  # resolved once, then remembered for the path
            request = RequestFactory().get(reverse("inbox-badge"))
            request.session = SessionStore(key)
            with self.assertNumQueries(1):
                self.assertEqual(load_user(request), self.counsellor_a)
            self.assertEqual(request.user_columns, {"unread": 1, STATE_COLUMN: STATE_NONE})
        self.assertEqual(len(middleware._COLUMNS_OF_PATH), 1)
        request = RequestFactory().get("/no/such/page/")
        request.session = SessionStore(key)
        self.assertEqual(load_user(request), self.counsellor_a)
        self.assertEqual(request.user_columns, {STATE_COLUMN: STATE_NONE})  # every request's, none of a view

    def test_paths_that_differ_in_their_numbers_resolve_once(self) -> None:
        key = self.login()
        middleware._COLUMNS_OF_PATH.clear()
        with mock.patch.object(middleware, "resolve", wraps=middleware.resolve) as resolving:
            for pk in (1, 2, 345):  # each submit has its own path
                request = RequestFactory().post(reverse("screening:submit", args=[pk]))
                request.session = SessionStore(key)
                self.assertEqual(load_user(request), self.counsellor_a)
                self.assertIn(screening_actions.SUBMITS_LAST_HOUR, request.user_columns)
        self.assertEqual(resolving.call_count, 1)
        self.assertEqual(len(middleware._COLUMNS_OF_PATH), 1)

    def test_the_badge_fragment_speaks_the_request_language_without_context_processors(self) -> None:
        for _ in range(2):
            Delivery.objects.create(recipient=self.counsellor_a, channel=Channel.INBOX, message="Test message")
        self.login()
        english = self.client.get(reverse("inbox-badge"), HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(english["Content-Type"], "text/html; charset=utf-8")
        self.assertIn("2 unread messages", english.content.decode())
        chinese = self.client.get(reverse("inbox-badge"), HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="zh-CN")
        self.assertIn(">2<", chinese.content.decode())
        self.assertNotIn("unread messages", chinese.content.decode())


class SessionsMovedAtUpgradeTests(NetworkTestCase):
    """The migration that made the session table moves the sessions of Django's own table, with
    the user each is logged in as: nobody is logged out by the upgrade."""

    def test_unexpired_sessions_move_with_their_user(self) -> None:
        import importlib
        from types import SimpleNamespace

        from django.apps import apps
        from django.contrib.sessions.backends.db import SessionStore as DjangoStore
        from django.contrib.sessions.models import Session as DjangoSession

        migration = importlib.import_module("xinlian.web.migrations.0001_session")
        later = timezone.now() + dt.timedelta(minutes=20)
        logged_in, anonymous, expired = DjangoStore(), DjangoStore(), DjangoStore()
        for store, data in ((logged_in, {SESSION_KEY: str(self.counsellor_a.pk), BACKEND_SESSION_KEY: MODEL_BACKEND,
                                         HASH_SESSION_KEY: self.counsellor_a.get_session_auth_hash()}),
                            (anonymous, {"x": 1}), (expired, {SESSION_KEY: str(self.outsider_b.pk)})):
            store.update(data)
            store.save()
        DjangoSession.objects.filter(session_key=expired.session_key).update(expire_date=timezone.now())
        DjangoSession.objects.update(expire_date=later)
        DjangoSession.objects.filter(session_key=expired.session_key).update(
            expire_date=timezone.now() - dt.timedelta(seconds=1))
        DjangoSession.objects.create(session_key="tampered0123456789", session_data="not signed", expire_date=later)
        migration.copy_django_sessions(apps, SimpleNamespace(connection=connection))
        moved = dict(Session.objects.values_list("session_key", "user_id"))
        self.assertEqual(moved, {logged_in.session_key: self.counsellor_a.pk, anonymous.session_key: None,
                                 "tampered0123456789": None})
        self.assertFalse(DjangoSession.objects.exists())
        # The moved session still logs its person in, in one statement.
        self.client.cookies["sessionid"] = logged_in.session_key
        with self.assertNumQueries(1):
            response = self.client.get(reverse("inbox-badge"), HTTP_HX_REQUEST="true")
        self.assertEqual(response.wsgi_request.user, self.counsellor_a)


def _columns_but_answers(request) -> dict:  # noqa: ANN001
    return {k: v for k, v in request.user_columns.items() if k != screening_actions.OWN_ANSWERS}


class SubmitCountWithUserTests(ScreeningApiTestCase):
    """The submit's rate limit counts the person's submissions of the last hour, and the saved
    answers of the assignment in the path are read, in the statement that loads the session and
    the user (``screening.actions.with_submit_columns``); the limit still refuses."""

    def test_the_count_comes_with_the_user_and_the_submit_is_constant(self) -> None:
        self.consent_and_answer("student_a1_user", self.a1, 0)
        # The session with the user, the count and the saved answers; the claim in its
        # transaction, the results — besides the refills of the per-process caches (campaign,
        # rule sets, centre settings), which a busy process does not pay.
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.post(reverse("screening:submit", args=[self.a1.pk]), {"key": "floor-k"})
        self.assertEqual(response.status_code, 303)
        cached = ("screening_campaign\".\"id\"", "screening_ruleset", "screening_centresettings")
        sql = [q["sql"] for q in ctx.captured_queries if not any(c in q["sql"] for c in cached)]
        # PostgreSQL: then the claim and the results in one statement, no transaction
        # (OneStatementSubmitTests); elsewhere the claim's transaction (2 savepoints).
        self.assertEqual(len(sql), 2 if connection.vendor == "postgresql" else 5, sql)
        self.assertIn("FROM screening_assignment a WHERE a.user_id = t.id", sql[0])
        self.assertIn('LEFT JOIN "network_user" t', sql[0])
        self.assertIn("LEFT JOIN screening_response r", sql[0])
        self.assertFalse([q for q in sql[1:] if "screening_response" in q and q.startswith("SELECT")])  # no read of its own
        self.assertFalse([q for q in sql if 'COUNT(*) AS "__count"' in q])  # no count of its own
        self.assertEqual(_columns_but_answers(response.wsgi_request),
                         {screening_actions.SUBMITS_LAST_HOUR: 0, STATE_COLUMN: STATE_NONE})
        rows = own_answers_rows(response.wsgi_request.user_columns[screening_actions.OWN_ANSWERS], self.a1.pk)
        self.assertEqual([row[:2] for row in rows], [[self.a1.campaign_id, self.a1.student_id]])
        self.a1.refresh_from_db()
        self.assertEqual(self.a1.status, AssignmentStatus.SUBMITTED)

    @override_settings(SCREENING_SUBMIT_RATE_PER_HOUR=1)
    def test_the_limit_still_refuses_with_the_count_loaded_with_the_user(self) -> None:
        other = SubmitRateFixture.submitted_elsewhere(self)
        self.consent_and_answer("student_a1_user", self.a1, 0)
        response = self.client.post(reverse("screening:submit", args=[self.a1.pk]), {"key": "page-k"})
        self.assertEqual(response.status_code, 409)
        self.assertEqual(_columns_but_answers(response.wsgi_request),
                         {screening_actions.SUBMITS_LAST_HOUR: 1, STATE_COLUMN: STATE_NONE})
        self.assertContains(response, "过去一小时内你已提交 1 份问卷", status_code=409)
        self.a1.refresh_from_db()
        self.assertNotEqual(self.a1.status, AssignmentStatus.SUBMITTED)
        # An hour later the same count lets it through.
        Assignment.objects.filter(pk=other.pk).update(submitted_at=timezone.now() - dt.timedelta(minutes=61))
        response = self.client.post(reverse("screening:submit", args=[self.a1.pk]), {"key": "page-k2"})
        self.assertEqual(response.status_code, 303)
        self.assertEqual(_columns_but_answers(response.wsgi_request),
                         {screening_actions.SUBMITS_LAST_HOUR: 0, STATE_COLUMN: STATE_NONE})

    def test_answers_loaded_with_the_user_are_only_the_persons_own(self) -> None:
        self.consent_and_answer("student_a1_user", self.a1, 0)
        other = Assignment.objects.exclude(user=self.a1.user).filter(student__isnull=False).first()
        # Someone else's assignment in the path: nothing loaded, and the long way says "not found".
        response = self.client.post(reverse("screening:submit", args=[other.pk]), {"key": "k-other"})
        self.assertEqual(response.status_code, 404)
        loaded = response.wsgi_request.user_columns[screening_actions.OWN_ANSWERS]
        self.assertEqual(own_answers_rows(loaded, other.pk), [])
        packed = json.loads(loaded) if isinstance(loaded, str) else loaded
        self.assertEqual({row[0] for row in packed}, {self.a1.pk})  # the person's own open ones only
        other.refresh_from_db()
        self.assertNotEqual(other.status, AssignmentStatus.SUBMITTED)
        # The API's submit (same session) loads them too, and submits with them.
        response = self.post(reverse("screening-api:submit", args=[self.a1.pk]), {"key": "k-api"})
        self.assertIn(response.status_code, (200, 201), response.content)
        self.assertEqual(len(own_answers_rows(response.wsgi_request.user_columns[screening_actions.OWN_ANSWERS],
                                              self.a1.pk)), 1)
        self.a1.refresh_from_db()
        self.assertEqual((self.a1.status, self.a1.submit_key), (AssignmentStatus.SUBMITTED, "k-api"))

    def test_with_two_open_assignments_each_submit_scores_its_own(self) -> None:
        # The answers of every open assignment come with the user (the path is not resolved
        # yet when the user loads); each submit scores the one in its path.
        now = timezone.now()
        spring = Campaign.objects.create(
            school=self.school, name="2027春季心理普查", opens_at=now - dt.timedelta(days=1),
            closes_at=now + dt.timedelta(days=13), purpose="再次普查", created_by=self.director)
        CampaignInstrument.objects.create(campaign=spring, instrument=self.ci.instrument, order=0)
        spring.launch(self.director)
        second = Assignment.objects.get(campaign=spring, user=self.a1.user)
        self.consent_and_answer("student_a1_user", self.a1, 0)
        self.login("student_a1_user")
        self.assertEqual(self.post(url("consent", second.pk), {"agree": True, "version": 1}).status_code, 200)
        ci2 = CampaignInstrument.objects.get(campaign=spring)
        answers = answers_for(ci2.instrument, 2)
        body = {"answers": [{"ci": ci2.pk, "item": k, "value": v, "seconds": 3.0} for k, v in answers.items()]}
        self.assertEqual(self.post(url("save-answer", second.pk), body).status_code, 200)
        response = self.client.post(reverse("screening:submit", args=[second.pk]), {"key": "spring-k"})
        self.assertEqual(response.status_code, 303)
        loaded = response.wsgi_request.user_columns[screening_actions.OWN_ANSWERS]
        packed = json.loads(loaded) if isinstance(loaded, str) else loaded
        self.assertEqual({row[0] for row in packed}, {self.a1.pk, second.pk})
        self.assertEqual(Result.objects.get(assignment=second).bands, {"total": "moderately_severe"})
        self.a1.refresh_from_db()
        self.assertEqual((self.a1.status, self.a1.results.count()), (AssignmentStatus.IN_PROGRESS, 0))
        response = self.client.post(reverse("screening:submit", args=[self.a1.pk]), {"key": "autumn-k"})
        self.assertEqual(response.status_code, 303)
        self.assertEqual(Result.objects.get(assignment=self.a1).bands, {"total": "minimal"})

    def test_a_count_loaded_for_someone_else_is_not_used(self) -> None:
        request = RequestFactory().get("/")
        request.user_columns = {"n": 5}
        request.user_columns_of = self.student_a1.user.pk
        self.assertEqual(hotsql.loaded_column(request, "n", self.student_a1.user), 5)
        self.assertIsNone(hotsql.loaded_column(request, "n", self.counsellor_a))  # e.g. an API token's user
        self.assertIsNone(hotsql.loaded_column(request, "m", self.student_a1.user))
        del request.user_columns
        self.assertIsNone(hotsql.loaded_column(request, "n", self.student_a1.user))


def _statements(ctx: CaptureQueriesContext) -> list[str]:
    """The statements of a request without the savepoints of the test's transaction."""
    return [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]


class ApiSubmitFloorTests(ScreeningApiTestCase):
    """The API's submit (issue 10 §4, session 18): the rate limit's count loaded with the user,
    as for the page; the centre's help from the per-process settings; the body built without
    building the serializer's fields, the same body as ScreeningSubmittedSerializer's."""

    def submit(self, key: str, **extra):
        return self.post(reverse("screening-api:submit", args=[self.a1.pk]), {"key": key}, **extra)

    def test_the_count_comes_with_the_user_and_the_help_from_the_process(self) -> None:
        CentreSettings.objects.create(school=self.school, help_phone="010-62751234", help_hours="8:00–17:00")
        self.consent_and_answer("student_a1_user", self.a1, 0)
        self.submit("warm-the-caches")  # a1 submitted: its replay below fills nothing new
        Assignment.objects.filter(pk=self.a1.pk).update(status=AssignmentStatus.IN_PROGRESS, submitted_at=None,
                                                        submit_key="", action_due=None)
        Result.objects.filter(assignment=self.a1).delete()
        with CaptureQueriesContext(connection) as ctx:
            response = self.submit("api-floor-k")
        self.assertEqual(response.status_code, 200, response.content)
        sql = _statements(ctx)
        # The session with the user, the count and the saved answers; the claim; the results
        # (on PostgreSQL the claim with the results, one statement).
        self.assertEqual(len(sql), 2 if connection.vendor == "postgresql" else 3, sql)
        self.assertIn("FROM screening_assignment a WHERE a.user_id = t.id", sql[0])
        self.assertIn("LEFT JOIN screening_response r", sql[0])
        self.assertFalse([q for q in sql if 'COUNT(*) AS "__count"' in q])  # no count of its own
        self.assertFalse([q for q in sql if "screening_centresettings" in q or '"network_unit"' in q])
        self.assertEqual(_columns_but_answers(response.wsgi_request),
                         {screening_actions.SUBMITS_LAST_HOUR: 0, STATE_COLUMN: STATE_NONE})
        body = response.json()
        self.assertEqual((body["submitted"], body["replay"]), (True, False))
        self.assertEqual((body["help"]["phone"], body["help"]["hours"]), ("010-62751234", "8:00–17:00"))
        self.a1.refresh_from_db()
        self.assertEqual(self.a1.status, AssignmentStatus.SUBMITTED)

    def test_the_body_is_the_serializers_and_changed_help_shows_at_once(self) -> None:
        self.consent_and_answer("student_a1_user", self.a1, 0)
        first = self.submit("api-body-k")
        self.assertEqual(first.status_code, 200)
        outcome = screening_actions.SubmitOutcome(Assignment.objects.select_related("campaign").get(pk=self.a1.pk),
                                                  replay=True)
        expected = screening_api.ScreeningSubmittedSerializer({
            "submitted": True, "replay": True, "help": screening_api._help(outcome.assignment)}).data
        replay = self.submit("api-body-k2")
        self.assertEqual(replay.json(), expected)
        self.assertEqual(replay.json()["help"]["hotline"], NATIONAL_HOTLINE)
        # Settings saved by the centre show on the next submit of this process at once.
        CentreSettings.objects.update_or_create(school=self.school, defaults={"help_place": "学生活动中心 201"})
        self.assertEqual(self.submit("api-body-k3").json()["help"]["place"], "学生活动中心 201")

    @override_settings(SCREENING_SUBMIT_RATE_PER_HOUR=1)
    def test_the_limit_still_refuses_on_the_api_with_the_count_loaded_with_the_user(self) -> None:
        other = SubmitRateFixture.submitted_elsewhere(self)
        self.consent_and_answer("student_a1_user", self.a1, 0)
        response = self.submit("api-limited")
        self.assertEqual(response.status_code, 429)
        self.assertEqual(_columns_but_answers(response.wsgi_request),
                         {screening_actions.SUBMITS_LAST_HOUR: 1, STATE_COLUMN: STATE_NONE})
        self.a1.refresh_from_db()
        self.assertNotEqual(self.a1.status, AssignmentStatus.SUBMITTED)
        Assignment.objects.filter(pk=other.pk).update(submitted_at=timezone.now() - dt.timedelta(minutes=61))
        self.assertEqual(self.submit("api-later").status_code, 200)


class ResultsWithMarkTests(ScreeningApiTestCase):
    """A critical or positive submission's ``action_due`` mark goes with its results: on
    PostgreSQL in the INSERT's own statement (a data-modifying WITH), elsewhere just before it;
    all or nothing either way."""

    def test_a_critical_submit_marks_the_assignment_with_its_results(self) -> None:
        self.consent_and_answer("student_a1_user", self.a1, 3)  # item 9 answered: critical
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.post(reverse("screening:submit", args=[self.a1.pk]), {"key": "crit-k"})
        self.assertEqual(response.status_code, 303)
        sql = _statements(ctx)
        # Scored before the claim: the claim itself sets the mark, no write of its own.
        self.assertFalse([q for q in sql if "SET action_due = " in q], sql)
        claims = [q for q in sql if "UPDATE screening_assignment SET status" in q]
        self.assertEqual(len(claims), 1, sql)
        if connection.vendor == "postgresql":
            self.assertIn('INSERT INTO "screening_result"', claims[0])
        self.a1.refresh_from_db()
        self.assertEqual((self.a1.status, self.a1.action_due), (AssignmentStatus.SUBMITTED, SubmitAction.URGENT))
        self.assertEqual(Result.objects.filter(assignment=self.a1, critical=True).count(), 1)

    def test_a_plain_submit_writes_no_mark(self) -> None:
        self.consent_and_answer("student_a1_user", self.a1, 0)
        with CaptureQueriesContext(connection) as ctx:
            self.client.post(reverse("screening:submit", args=[self.a1.pk]), {"key": "plain-k"})
        self.assertFalse([q for q in _statements(ctx) if "WITH _before" in q or "SET action_due = %s" in q])
        self.a1.refresh_from_db()
        self.assertEqual(self.a1.action_due, SubmitAction.RECORD)

    def test_the_insert_and_its_companion_write_are_all_or_nothing(self) -> None:
        student = self.student_a1
        mark = ("UPDATE screening_assignment SET action_due = %s WHERE id = %s", [int(SubmitAction.URGENT), self.a1.pk])
        bad = TimelineEntry(student_id=None, kind="floor", tier=Tier.RISK, text="x")  # NOT NULL: refused
        with self.assertRaises(IntegrityError), transaction.atomic():
            hotsql.insert([bad], along=mark)
        self.a1.refresh_from_db()
        self.assertIsNone(self.a1.action_due)
        good = TimelineEntry(student=student, kind="floor", tier=Tier.RISK, text="x")
        with CaptureQueriesContext(connection) as ctx:
            hotsql.insert([good], along=mark)
        self.assertEqual(len(ctx.captured_queries), 1 if connection.vendor == "postgresql" else 2)
        self.assertIsNotNone(good.pk)
        self.assertTrue(TimelineEntry.objects.filter(pk=good.pk, kind="floor").exists())
        self.a1.refresh_from_db()
        self.assertEqual(self.a1.action_due, SubmitAction.URGENT)


class ReadFirstSubmitTests(ScreeningApiTestCase):
    """The submit reads the saved answers and scores them before it claims
    (``Assignment.submit_own``): on PostgreSQL the claim and the results are one statement, no
    transaction; on SQLite a transaction holds the write lock for those two statements only. A
    batch of answers saved after the read makes the claim hold off (``answers_rev``), and the
    long way scores the newer answers."""

    def submit(self, key: str):
        return self.client.post(reverse("screening:submit", args=[self.a1.pk]), {"key": key})

    def test_a_clean_submit_is_a_read_and_one_write(self) -> None:
        self.consent_and_answer("student_a1_user", self.a1, 3)  # critical
        with CaptureQueriesContext(connection) as ctx:
            self.assertEqual(self.submit("one-k").status_code, 303)
        sql = [q["sql"] for q in ctx.captured_queries if "screening_ruleset" not in q["sql"]
               and "screening_centresettings" not in q["sql"] and 'screening_campaign"."id"' not in q["sql"]]
        # The answers read with the session and the user (``with_submit_columns``).
        self.assertIn("a.campaign_id, a.student_id, a.answers_rev", sql[0])
        self.assertIn('FROM "web_session" s', sql[0])
        if connection.vendor == "postgresql":
            self.assertEqual(len(sql), 2, sql)  # the session with the user and the answers; the claim with the results
            self.assertTrue(sql[1].startswith("WITH _claim AS (UPDATE screening_assignment SET status"), sql)
            self.assertFalse([q for q in sql if "SAVEPOINT" in q])  # no transaction of its own
        else:  # the answers read before the transaction; in it only the claim and the insert
            self.assertEqual([q.split(" ")[0] for q in sql[1:]], ["SAVEPOINT", "UPDATE", "INSERT", "RELEASE"])
        self.a1.refresh_from_db()
        self.assertEqual((self.a1.status, self.a1.submit_key, self.a1.action_due),
                         (AssignmentStatus.SUBMITTED, "one-k", SubmitAction.URGENT))
        results = list(Result.objects.filter(assignment=self.a1))
        self.assertEqual([(r.critical, r.student_id) for r in results], [(True, self.student_a1.pk)])
        replay = self.submit("one-k2")  # a second tap: the first outcome, nothing written twice
        self.assertEqual(replay.status_code, 303)
        self.assertEqual(Result.objects.filter(assignment=self.a1).count(), 1)

    def test_without_answers_loaded_it_reads_them_itself(self) -> None:
        # An API call authenticated by a token, say: nothing came with the user.
        self.consent_and_answer("student_a1_user", self.a1, 3)
        with CaptureQueriesContext(connection) as ctx:
            outcome = Assignment.submit_own(self.a1.pk, self.a1.user, "own-k")
        self.assertIsNotNone(outcome)
        self.assertTrue([q for q in ctx.captured_queries
                         if q["sql"].startswith("SELECT a.campaign_id, a.student_id, a.answers_rev")])
        self.assertEqual([r.critical for r in outcome.results], [True])
        self.assertIsNone(Assignment.submit_own(self.a1.pk, self.a1.user, "own-k2"))  # submitted: the long way says so

    def test_answers_saved_after_the_read_are_the_ones_scored(self) -> None:
        self.consent_and_answer("student_a1_user", self.a1, 0)  # negative as read
        response = Response.objects.get(assignment=self.a1)
        scored = Assignment._scored
        calls = []

        def save_then_score(assignment, payloads, now):  # noqa: ANN001, ANN202
            if not calls:  # another tab saves item 9 between the read and the claim
                Assignment.objects.select_related("campaign").get(pk=self.a1.pk).save_answers(
                    [(response.campaign_instrument_id, 9, 3, None)])
            calls.append(sorted(payloads))
            return scored(assignment, payloads, now)

        with mock.patch.object(Assignment, "_scored", save_then_score):
            self.assertEqual(self.submit("late-k").status_code, 303)
        self.a1.refresh_from_db()
        self.assertEqual((self.a1.status, self.a1.action_due), (AssignmentStatus.SUBMITTED, SubmitAction.URGENT))
        self.assertEqual(self.a1.answers_rev, 2)  # two batches counted
        self.assertEqual(list(Result.objects.filter(assignment=self.a1).values_list("critical", flat=True)), [True])
        self.assertEqual(len(calls), 2)  # the read's answers, refused at the claim; then the newer

    def test_a_claim_that_changes_nothing_inserts_nothing(self) -> None:
        claim = "UPDATE screening_assignment SET submit_key = %s WHERE id = %s AND status = %s RETURNING id"
        entry = TimelineEntry(student=self.student_a1, kind="floor", tier=Tier.RISK, text="x")
        if connection.vendor != "postgresql":
            with self.assertRaises(NotImplementedError):
                hotsql.insert_claimed([entry], claim, ["k", self.a1.pk, AssignmentStatus.SUBMITTED.value])
            return
        self.assertFalse(hotsql.insert_claimed([entry], claim, ["k", self.a1.pk, AssignmentStatus.SUBMITTED.value]))
        self.assertIsNone(entry.pk)
        self.assertFalse(TimelineEntry.objects.filter(kind="floor").exists())
        self.a1.refresh_from_db()
        self.assertEqual(self.a1.submit_key, "")
        self.assertTrue(hotsql.insert_claimed([entry], claim, ["k", self.a1.pk, self.a1.status]))
        self.assertEqual(TimelineEntry.objects.get(kind="floor").pk, entry.pk)
        self.a1.refresh_from_db()
        self.assertEqual(self.a1.submit_key, "k")
        bad = TimelineEntry(student_id=None, kind="floor2", tier=Tier.RISK, text="x")  # NOT NULL: refused
        with self.assertRaises(IntegrityError), transaction.atomic():
            hotsql.insert_claimed([bad], claim, ["k2", self.a1.pk, self.a1.status])
        self.a1.refresh_from_db()
        self.assertEqual(self.a1.submit_key, "k")  # the claim went with the failed insert


class SubmitRateFixture:
    @staticmethod
    def submitted_elsewhere(case: ScreeningApiTestCase) -> Assignment:
        from tests.test_throttling import SubmitRateTests

        return SubmitRateTests.submitted_elsewhere(case)  # type: ignore[arg-type]


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
