"""The home page is the work (issue 10 section 2): what each person owes now, most urgent first,
deadlines counting down on the server; alerts with their 签收 button, interviews, register
follow-ups, cases, units behind in an open screening; a peer reporter's big report button; the
inbox showing each alert message's level, category (only where the policy allows) and status;
a query count that does not grow with the school."""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from xinlian.access.models import AuditEvent
from xinlian.care.demo import seed_demo_concern, seed_demo_rota
from xinlian.care.models import (
    Alert,
    AlertStatus,
    Case,
    Category,
    Concern,
    RiskEntry,
    Urgency,
)
from xinlian.care.work import countdown, sees_report, span
from xinlian.network.demo import seed_demo
from xinlian.network.models import Unit, UnitKind, User
from xinlian.notify.models import Channel, Delivery
from xinlian.screening.models import Interview
from xinlian.web.models import Session

from .base import make_student
from .screening_base import ScreeningTestCase

SEEN = "MKR-T3-seen-home-work"  # what was reported: never on the home page or in the inbox


def work_list(body: str) -> str:
    start = body.index('id="home-work"')
    return body[start:body.index("</section>", start)]


def items(body: str) -> list[str]:
    """The work items in page order, each as its HTML."""
    chunks = work_list(body).split('<li class="card xl-card xl-work')[1:]
    return ['<li class="card xl-card xl-work' + c for c in chunks]


class HomeWorkTestCase(ScreeningTestCase):
    def report(self, student, category: str = Category.SELF_HARM, urgency: str = Urgency.SOON) -> Alert:
        concern, _ = Concern.submit(key=None, reporter=self.liaison_a1, student=student,
                                    category=category, urgency=urgency, seen=SEEN)
        return concern.alerts.get()

    def home(self, persona: str, lang: str = "zh-hans") -> str:
        self.login(persona)
        self.client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
        response = self.client.get(reverse("home"))
        self.assertEqual(response.status_code, 200)
        return response.content.decode()


class AlertsOnTheHomePageTests(HomeWorkTestCase):
    def test_the_red_alert_is_on_top_with_its_acknowledge_button(self):
        orange = self.report(self.student_a2, Category.ACADEMIC, Urgency.SOON)
        red = self.report(self.roommate_a1)
        self.assertEqual((orange.level, red.level), ("orange", "red"))
        listed = items(self.home("counsellor_a"))
        self.assertIn("xl-work-urgent", listed[0])
        self.assertIn("李华", listed[0])
        self.assertIn(f'action="{reverse("alert-acknowledge", args=[red.pk])}"', listed[0])
        self.assertIn(">签收</button>", listed[0])
        self.assertIn("赵磊", listed[1])  # the orange one next, not big
        self.assertNotIn("xl-work-urgent", listed[1])
        self.assertIn(f'action="{reverse("alert-acknowledge", args=[orange.pk])}"', listed[1])
        # The button acknowledges; the alert leaves the home page.
        response = self.client.post(reverse("alert-acknowledge", args=[red.pk]))
        self.assertRedirects(response, red.get_absolute_url(), fetch_redirect_response=False)
        red.refresh_from_db()
        self.assertEqual((red.status, red.acknowledged_by), (AlertStatus.ACKNOWLEDGED, self.counsellor_a))
        self.assertNotIn("李华", work_list(self.home("counsellor_a")))

    def test_each_routed_person_sees_it_and_nobody_else(self):
        alert = self.report(self.roommate_a1)
        for persona in ("counsellor_a", "head_teacher_a1", "director"):
            self.assertIn("李华", work_list(self.home(persona)), persona)
        for persona in ("outsider_b", "bureau_viewer"):
            body = self.home(persona)
            self.assertNotIn("李华", body, persona)
            self.assertNotIn(reverse("alert-acknowledge", args=[alert.pk]), body, persona)
        for persona in ("committee_a1", "liaison_a1", "student_a1_user"):
            self.assertNotIn("李华", self.home(persona), persona)

    def test_what_it_is_about_is_shown_as_the_policy_allows_never_the_text(self):
        alert = self.report(self.roommate_a1)
        category = "Self-harm or suicide talk"  # Category.SELF_HARM in English
        for persona in ("counsellor_a", "head_teacher_a1", "director"):
            body = self.home(persona, "en")
            allowed = sees_report(self.persona(persona), alert)
            self.assertEqual(category in work_list(body), allowed, persona)
            self.assertNotIn(SEEN, body, persona)
        # The 班主任 it is routed to is asked to act: the policy lets them know what it is about.
        self.assertTrue(sees_report(self.persona("head_teacher_a1"), alert))

    def test_deadlines_count_down_on_the_server_in_both_languages(self):
        soon = self.report(self.roommate_a1)
        late = self.report(self.student_a2, Category.ACADEMIC, Urgency.SOON)
        now = timezone.now()
        Alert.objects.filter(pk=soon.pk).update(due_at=now + dt.timedelta(minutes=25, seconds=40))
        Alert.objects.filter(pk=late.pk).update(due_at=now - dt.timedelta(hours=2, minutes=5))
        listed = items(self.home("counsellor_a"))
        self.assertIn("还剩 25 分钟", listed[0])
        self.assertIn("已逾期 2 小时", listed[1])
        self.assertIn("xl-overdue", listed[1])
        listed = items(self.home("counsellor_a", "en"))
        self.assertIn("25 min left", listed[0])
        self.assertIn("Overdue by 2 h", listed[1])

    def test_many_alerts_the_first_five_and_a_link_to_the_rest(self):
        for _ in range(7):
            Alert.raise_for(self.student_a2, "yellow", "import")
        body = self.home("counsellor_a", "en")
        self.assertEqual(sum('data-kind="alert"' in i for i in items(body)), 5)
        self.assertIn("2 more alerts wait for you", body)
        self.assertIn(f'href="{reverse("alert-inbox")}"', work_list(body))

    def test_the_read_is_audited_without_names(self):
        self.report(self.roommate_a1)
        before = AuditEvent.objects.filter(action="home.work").count()
        self.home("head_teacher_a1")
        row = AuditEvent.objects.filter(action="home.work").latest("pk")
        self.assertEqual(AuditEvent.objects.filter(action="home.work").count(), before + 1)
        self.assertEqual(row.actor, self.head_teacher_a1)
        self.assertIn("alerts=1", row.detail)
        self.assertNotIn("李华", row.detail)
        # Nothing of tier 2 on the page: no row.
        self.home("outsider_b")
        self.assertFalse(AuditEvent.objects.filter(action="home.work", actor=self.outsider_b).exists())

    def test_the_minutes_refresh_of_the_same_items_is_one_read_a_new_item_is_another(self):
        self.report(self.roommate_a1)
        self.login("head_teacher_a1")
        rows = AuditEvent.objects.filter(action="home.work", actor=self.head_teacher_a1)
        for _ in range(3):  # an open tab polling: the same list each time
            self.assertEqual(self.client.get(reverse("home") + "?part=work", HTTP_HX_REQUEST="true").status_code, 200)
        self.assertEqual(rows.count(), 1)
        self.report(self.student_a1)  # something new is shown: a new read
        self.client.get(reverse("home") + "?part=work", HTTP_HX_REQUEST="true")
        self.assertEqual(rows.count(), 2)
        self.assertIn("alerts=2", rows.latest("pk").detail)


class OtherWorkTests(HomeWorkTestCase):
    def test_register_follow_ups_due_or_overdue(self):
        RiskEntry.set_level(self.classmate_a1, "orange", by=self.director)
        RiskEntry.set_level(self.student_a1, "yellow", by=self.director)  # due in 30 days: not yet
        RiskEntry.objects.current().filter(student=self.classmate_a1).update(
            follow_up_due_at=timezone.now() - dt.timedelta(hours=3, minutes=10))
        for persona in ("counsellor_a", "head_teacher_a1", "director"):
            listed = [i for i in items(self.home(persona)) if 'data-kind="follow_up"' in i]
            self.assertEqual(len(listed), 1, persona)
            self.assertIn("王芳", listed[0])
            self.assertIn("已逾期 3 小时", listed[0])
            self.assertIn(reverse("student-detail", args=[self.classmate_a1.pk]), listed[0])
        # Due within a day counts too; not yet due beyond that does not.
        RiskEntry.objects.current().filter(student=self.classmate_a1).update(
            follow_up_due_at=timezone.now() + dt.timedelta(hours=5, minutes=30))
        listed = [i for i in items(self.home("head_teacher_a1")) if 'data-kind="follow_up"' in i]
        self.assertEqual(len(listed), 1)
        self.assertIn("还剩 5 小时", listed[0])
        # College B's 辅导员 does not watch college A's students; a peer reporter never.
        for persona in ("outsider_b", "committee_a1"):
            self.assertNotIn("王芳", work_list(self.home(persona)) if "home-work" in self.home(persona) else "",
                             persona)

    def test_cases_they_are_on(self):
        case = Case.open_for(self.student_a2, by=self.director, lead=self.psych_teacher)
        case.members.add(self.counsellor_a)
        for persona, role in (("psych_teacher", "你是该个案的负责人"), ("counsellor_a", "你在个案小组中")):
            listed = [i for i in items(self.home(persona)) if 'data-kind="case"' in i]
            self.assertEqual(len(listed), 1, persona)
            self.assertIn(case.get_absolute_url(), listed[0])
            self.assertIn(role, listed[0])
        self.assertNotIn('data-kind="case"', self.home("head_teacher_a1"))

    def test_interviews_due_for_the_counsellor_they_are_assigned_to(self):
        self.take(self.assignment_a1, 0, {9: 2})  # a critical item: urgent interview
        interview = self.assignment_a1.interview
        self.assertEqual(interview.assigned_to, self.psych_teacher)
        listed = [i for i in items(self.home("psych_teacher")) if 'data-kind="interview"' in i]
        self.assertEqual(len(listed), 1)
        self.assertIn(interview.get_absolute_url(), listed[0])
        self.assertIn("张小明", listed[0])
        self.assertIn("还剩", listed[0])
        self.assertNotIn('data-kind="interview"', self.home("head_teacher_a1"))

    def test_units_behind_in_an_open_screening(self):
        self.take(self.assignment_a1, 0)
        body = self.home("counsellor_a", "en")
        listed = [i for i in items(body) if 'data-kind="screening"' in i]
        self.assertEqual(len(listed), 1)
        self.assertIn(self.campaign.name, listed[0])
        self.assertIn("Class A2: 0% completed, 1 not finished", listed[0])  # the furthest behind first
        self.assertLess(listed[0].index("Class A2"), listed[0].index("Class A1"))
        self.assertIn(reverse("screening:campaign-unit", args=[self.campaign.pk, self.class_a2.pk]), listed[0])
        self.assertIn("left", listed[0])  # counts down to the campaign's close
        director = [i for i in items(self.home("director", "en")) if 'data-kind="screening"' in i]
        self.assertIn("College B", director[0])
        # A 班主任 follows one class: the campaign's page, not the home page.
        self.assertNotIn('data-kind="screening"', self.home("head_teacher_a1"))

    def test_most_urgent_first_across_kinds(self):
        RiskEntry.set_level(self.student_a2, "orange", by=self.director)
        RiskEntry.objects.current().filter(student=self.student_a2).update(
            follow_up_due_at=timezone.now() - dt.timedelta(days=2))
        Case.open_for(self.student_b1, by=self.director, lead=self.counsellor_a)
        yellow = Alert.raise_for(self.classmate_a1, "yellow", "import")
        red = self.report(self.roommate_a1)
        kinds = [re.search(r'data-kind="(\w+)"', i).group(1) for i in items(self.home("counsellor_a"))]
        # red alert, then by deadline: the overdue follow-up, the yellow alert (72 h), the
        # campaign (13 days), then the standing case.
        self.assertEqual(kinds, ["alert", "follow_up", "alert", "screening", "case"])
        self.assertTrue(red.level == "red" and yellow.level == "yellow")

    def test_peer_reporters_have_a_big_report_button_on_top(self):
        for persona in ("committee_a1", "liaison_a1"):
            body = self.home(persona)
            self.assertIn(f'id="home-report" href="{reverse("concern-new")}"', body)
            self.assertLess(body.index('id="home-report"'), body.index("xl-card"))
            self.assertIn(">上报情况</a>", body)
        for persona in ("head_teacher_a1", "student_a1_user", "director"):
            self.assertNotIn('id="home-report"', self.home(persona), persona)

    def test_the_duties_text_stays_lower_down(self):
        self.report(self.roommate_a1)
        body = self.home("counsellor_a")
        self.assertLess(body.index('id="home-work"'), body.index('id="post-'))


class RefreshTests(HomeWorkTestCase):
    def test_the_page_asks_for_a_refresh_every_minute(self):
        body = self.home("counsellor_a")
        self.assertIn(f'hx-get="{reverse("home")}?part=work" hx-trigger="every 60s" hx-swap="outerHTML"', body)

    def test_the_refresh_is_the_list_alone_and_not_activity(self):
        self.report(self.roommate_a1)
        self.login("counsellor_a")
        key = self.client.session.session_key
        stale = timezone.now() + dt.timedelta(minutes=5)
        Session.objects.filter(session_key=key).update(expire_date=stale)
        response = self.client.get(reverse("home") + "?part=work", HTTP_HX_REQUEST="true")
        body = response.content.decode()
        self.assertEqual(response.status_code, 200)
        self.assertTrue(body.lstrip().startswith('<section id="home-work"'))
        self.assertIn("李华", body)
        self.assertNotIn("<html", body)
        self.assertEqual(Session.objects.get(session_key=key).expire_date, stale)
        self.client.get(reverse("home"))  # the page itself is activity
        self.assertGreater(Session.objects.get(session_key=key).expire_date, stale)

    def test_signed_out_the_refresh_stops(self):
        response = self.client.get(reverse("home") + "?part=work", HTTP_HX_REQUEST="true")
        self.assertEqual((response.status_code, response.content), (286, b""))
        response = self.client.get(reverse("home") + "?part=work")
        self.assertEqual(response.status_code, 302)


class CountdownTests(HomeWorkTestCase):
    def test_span_and_countdown(self):
        translation.activate("en")
        self.addCleanup(translation.deactivate)
        now = timezone.now()
        self.assertEqual(span(dt.timedelta(seconds=10)), "1 min")
        self.assertEqual(span(dt.timedelta(minutes=59)), "59 min")
        self.assertEqual(span(dt.timedelta(hours=47, minutes=59)), "47 h")
        self.assertEqual(span(dt.timedelta(days=3, hours=5)), "3 days")
        self.assertEqual(countdown(now + dt.timedelta(minutes=30, seconds=5), now), ("30 min left", False))
        self.assertEqual(countdown(now - dt.timedelta(hours=2), now), ("Overdue by 2 h", True))
        self.assertEqual(countdown(now, now), ("Overdue by 1 min", True))


class InboxTests(HomeWorkTestCase):
    def inbox(self, persona: str, lang: str = "en") -> str:
        self.login(persona)
        self.client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
        return self.client.get(reverse("inbox")).content.decode()

    def test_alert_messages_show_level_category_and_status(self):
        alert = self.report(self.roommate_a1)
        category = "Self-harm or suicide talk"  # Category.SELF_HARM in English
        for persona in ("counsellor_a", "head_teacher_a1", "director"):
            self.assertTrue(Delivery.objects.filter(channel=Channel.INBOX, recipient=self.persona(persona)).exists())
            body = self.inbox(persona)
            self.assertIn("xl-inbox-alert", body, persona)
            self.assertIn("Waiting for acknowledgement", body, persona)
            self.assertEqual(category in body, sees_report(self.persona(persona), alert), persona)
            self.assertNotIn(SEEN, body, persona)
        zh = self.inbox("head_teacher_a1", "zh-hans")
        self.assertIn("一级（红色）", zh)
        self.assertIn("待签收", zh)

    def test_the_category_follows_the_policy_after_the_alert_is_resolved(self):
        alert = self.report(self.roommate_a1)
        alert.acknowledge(self.counsellor_a)
        alert.resolve(self.counsellor_a)
        category = "Self-harm or suicide talk"  # Category.SELF_HARM in English
        for persona in ("counsellor_a", "head_teacher_a1", "director"):
            body = self.inbox(persona)
            self.assertIn("Resolved", body, persona)
            self.assertEqual(category in body, sees_report(self.persona(persona), alert), persona)

    def test_a_message_about_an_alert_out_of_sight_shows_only_its_text(self):
        alert = self.report(self.roommate_a1)
        # A message to college B's 辅导员 about an alert of college A (a stale route, say).
        Delivery.objects.create(channel=Channel.INBOX, recipient=self.outsider_b, message="%(place)s",
                                params={"place": "计算机学院"}, link=alert.get_absolute_url(), status="sent")
        body = self.inbox("outsider_b")
        self.assertIn("计算机学院", body)
        self.assertNotIn("xl-inbox-alert", body)
        self.assertNotIn("Self-harm or suicide talk", body)

    def test_the_categories_shown_are_audited(self):
        self.report(self.roommate_a1)
        self.inbox("head_teacher_a1")
        row = AuditEvent.objects.filter(action="inbox.alerts", actor=self.head_teacher_a1).latest("pk")
        self.assertIn("reports=1", row.detail)


class InboxQueryCountTests(HomeWorkTestCase):
    def test_a_full_page_of_alert_messages_costs_the_same_whatever_their_number(self):
        students = [make_student(f"Q{n:03d}", f"学生{n}", self.class_a2) for n in range(30)]

        def one_round() -> int:
            for student in students:
                Alert.raise_for(student, "red", "import")
            self.login("director")
            with CaptureQueriesContext(connection) as ctx:
                body = self.client.get(reverse("inbox")).content.decode()
            self.assertEqual(body.count("xl-inbox-alert"), 30)
            return len(ctx.captured_queries)

        first = one_round()
        one_round()
        self.assertEqual(one_round(), first)  # 90 messages: the page still reads 30


class QueryCountTests(ScreeningTestCase):
    """The home page's queries do not grow with the school: the same count at two sizes."""

    def grow(self, n: int) -> None:
        """``n`` more classes in college A and college B, each with two students, an open alert
        of each level, a watched student whose follow-up is overdue, a case, and — invited to
        the open campaign — an interview for the psychology teacher."""
        director = self.director
        for college in (self.college_a, self.college_b):
            for _ in range(n):
                college = Unit.objects.get(pk=college.pk)
                self.serial += 1
                klass = college.add_unit(kind=UnitKind.CLASS, code=f"G{self.serial}",
                                         name=f"2025级{self.serial}班", name_en=f"Class {self.serial}")
                a = make_student(f"G{self.serial}A", f"学生{self.serial}甲", klass)
                b = make_student(f"G{self.serial}B", f"学生{self.serial}乙", klass)
                for level in ("red", "orange", "yellow"):
                    Alert.raise_for(a, level, "import")
                RiskEntry.set_level(b, "orange", by=director)
                RiskEntry.objects.current().filter(student=b).update(
                    follow_up_due_at=timezone.now() - dt.timedelta(hours=1))
                Case.open_for(a, by=director, lead=self.counsellor_a).members.add(self.psych_teacher)
        self.campaign.launch(director)
        for assignment in self.campaign.assignments.filter(interview__isnull=True, student__isnull=False):
            Interview.open_for(assignment, urgent=False)

    def counts(self) -> dict[str, int]:
        out = {}
        for persona in ("counsellor_a", "director", "psych_teacher", "head_teacher_a1", "committee_a1"):
            self.login(persona)
            self.client.get(reverse("home"))  # warm the per-process caches (settings, levels)
            with CaptureQueriesContext(connection) as ctx:
                response = self.client.get(reverse("home"))
            self.assertEqual(response.status_code, 200)
            out[persona] = len(ctx.captured_queries)
        return out

    def kinds(self, persona: str) -> dict[str, int]:
        self.login(persona)
        found: dict[str, int] = {}
        for item in items(self.client.get(reverse("home")).content.decode()):
            kind = re.search(r'data-kind="(\w+)"', item).group(1)
            found[kind] = found.get(kind, 0) + 1
        return found

    def test_the_same_number_of_queries_at_two_sizes(self):
        self.serial = 0
        self.grow(6)
        # Every kind of work is on the pages measured, each kind at its full length already.
        self.assertEqual(self.kinds("counsellor_a"), {"alert": 5, "follow_up": 5, "case": 5, "screening": 1})
        psych = self.kinds("psych_teacher")
        self.assertEqual((psych["interview"], psych["case"], psych["screening"]), (5, 5, 1))
        small = self.counts()
        self.grow(16)
        self.assertEqual(Alert.objects.count(), 3 * 2 * 22)
        self.assertGreaterEqual(Interview.objects.count(), 2 * 2 * 22)
        self.assertEqual(self.counts(), small)


class DemoTests(TestCase):
    def test_the_demo_leaves_a_red_alert_on_top_of_the_fudaoyuans_home(self):
        seed_demo(200, 11)
        seed_demo_rota()
        concern = seed_demo_concern()
        self.assertIsNotNone(concern)
        self.assertIsNone(seed_demo_concern())  # once
        alert = concern.alerts.get()
        self.assertEqual((alert.level, alert.status), ("red", AlertStatus.OPEN))
        for username in ("fudaoyuan", "headteacher"):
            self.client.force_login(User.objects.get(username=username))
            listed = items(self.client.get(reverse("home")).content.decode())
            self.assertIn("xl-work-urgent", listed[0], username)
            self.assertIn(concern.student.user.full_name, listed[0], username)
