"""The caseload views of issue 11: a counsellor's caseload, the centre director's overview, the
week calendar, and their API — who reads them (counselling staff of the school only; a
counsellor's own; the director all), what they count, that they never carry a note or an
intake, one audit row per view, and a query count that does not grow with the sessions."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from xinlian.access.models import AuditEvent
from xinlian.counseling import caseload
from xinlian.counseling.models import (
    Attendance,
    Booking,
    CounselingGroup,
    Episode,
    EpisodeStatus,
    GroupAttendance,
    GroupMember,
    Session,
    SessionKind,
    Slot,
    WaitlistEntry,
    WaitStatus,
)
from xinlian.network.models import Role

from .base import make_staff, make_student
from .test_counseling_base import CounselingTestCase, local_day, slot_in

NOTE = "MKR-T5-note-caseload"
INTAKE_TEXT = "MKR-T5-intake-caseload"
PAGES = ("counseling:caseload", "counseling:overview", "counseling:week")
APIS = ("counseling-api:caseload", "counseling-api:overview")


def episode(client, counsellor, school, student=None, **kw) -> Episode:
    return Episode.objects.create(client=client, counsellor=counsellor, school=school, student=student, **kw)


def session(ep: Episode, at: dt.datetime, attendance: str = Attendance.ATTENDED, minutes: int = 50,
            risk: str = "", **kw) -> Session:
    return Session.objects.create(school=ep.school, counsellor=ep.counsellor, episode=ep, starts_at=at,
                                  minutes=minutes, attendance=attendance, risk=risk, presenting=NOTE, notes=NOTE,
                                  plan=NOTE, **kw)


def book(slot: Slot, client, student=None, risk_now: bool = False) -> Booking:
    return Booking.objects.create(slot=slot, client=client, student=student, starts_at=slot.starts_at,
                                  topic=INTAKE_TEXT, risk_now=risk_now)


def ago(**kw) -> dt.datetime:
    return timezone.now() - dt.timedelta(**kw)


def ahead(**kw) -> dt.datetime:
    return timezone.now() + dt.timedelta(**kw)


class CaseloadTestCase(CounselingTestCase):
    """psy (沈咨询) has three clients: 张小明 (S0001: a past session and a future booking),
    李华 (S0002: a past session, a no-show, nothing next) and the teacher 林老师 (T1023: a session
    next week). psy2 has 赵磊 (S0004) with a red-risk session. 陈静 (S0005) waits for psy; 王芳
    (S0003) waits for anyone; 刘洋 waits for psy2. S0003 booked psy2 with "yes" to the risk
    question."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.leader = make_staff("T1011", "何校长", Role.LEADER, cls.school)
        s1, s2 = cls.student_a1, cls.roommate_a1
        cls.ep1 = episode(s1.user, cls.psy, cls.school, s1)
        cls.ep2 = episode(s2.user, cls.psy, cls.school, s2)
        cls.ep_t = episode(cls.teacher_a, cls.psy, cls.school)
        cls.ep4 = episode(cls.student_a2.user, cls.psy2, cls.school, cls.student_a2)
        # A closed episode is no client any more.
        episode(cls.classmate_a1.user, cls.psy, cls.school, cls.classmate_a1, status=EpisodeStatus.CLOSED)
        cls.s1_past = session(cls.ep1, ago(days=1), minutes=50)
        session(cls.ep2, ago(days=3), minutes=60)
        session(cls.ep2, ago(days=2), attendance=Attendance.NO_SHOW)
        session(cls.ep2, ago(days=1, hours=2), attendance=Attendance.CANCELLED)
        cls.t_next = session(cls.ep_t, ahead(days=6), attendance=Attendance.PLANNED)
        cls.red = session(cls.ep4, ago(hours=5), risk="red", minutes=45)
        cls.s1_booking = book(cls.slots[0], s1.user, s1)
        cls.risky = book(slot_in(cls.psy2, cls.school, 30), cls.classmate_a1.user, cls.classmate_a1, risk_now=True)
        WaitlistEntry.objects.create(client=cls.student_b1.user, school=cls.school, counsellor=cls.psy,
                                     day_from=local_day(3), day_to=local_day(9))
        WaitlistEntry.objects.create(client=cls.classmate_a1.user, school=cls.school,
                                     day_from=local_day(3), day_to=local_day(9))
        WaitlistEntry.objects.create(client=cls.committee_a1, school=cls.school, counsellor=cls.psy2,
                                     day_from=local_day(3), day_to=local_day(9))
        WaitlistEntry.objects.create(client=cls.liaison_a1, school=cls.school, counsellor=cls.psy,
                                     day_from=local_day(3), day_to=local_day(9), status=WaitStatus.WITHDRAWN)

    def body(self, response) -> str:
        return response.content.decode()


class TermTests(CaseloadTestCase):
    def test_the_term_is_the_half_year(self):
        self.assertEqual(caseload.term_of(dt.date(2026, 12, 7)), caseload.Term(dt.date(2026, 9, 1), dt.date(2027, 2, 28)))
        self.assertEqual(caseload.term_of(dt.date(2028, 2, 29)), caseload.Term(dt.date(2027, 9, 1), dt.date(2028, 2, 29)))
        self.assertEqual(caseload.term_of(dt.date(2027, 3, 1)), caseload.Term(dt.date(2027, 3, 1), dt.date(2027, 8, 31)))
        self.assertEqual(caseload.term_of(dt.date(2027, 8, 31)).first, dt.date(2027, 3, 1))
        self.assertEqual(caseload.term_of(dt.date(2027, 9, 1)).first, dt.date(2027, 9, 1))


class CaseloadPageTests(CaseloadTestCase):
    def test_a_counsellor_sees_their_clients_with_last_and_next(self):
        self.login("psy")
        response = self.client.get(reverse("counseling:caseload"))
        self.assertEqual(response.status_code, 200)
        c = response.context["c"]
        by_name = {x.name: x for x in c.clients}
        self.assertEqual(set(by_name), {"张小明", "李华", "林老师"})  # not the closed one, not psy2's
        self.assertEqual(by_name["张小明"].last_session, self.s1_past.starts_at)
        self.assertEqual(by_name["张小明"].next_at, self.s1_booking.starts_at)
        self.assertEqual(by_name["张小明"].next_booking_id, self.s1_booking.pk)
        self.assertEqual(by_name["林老师"].next_at, self.t_next.starts_at)
        self.assertIsNone(by_name["李华"].next_at)
        # The last session is the last one the client came to (not the no-show, not the cancelled).
        self.assertEqual(by_name["李华"].last_session.date(), ago(days=3).date())
        self.assertEqual(by_name["李华"].sessions_this_term, 2)  # attended and no-show; not the cancelled
        self.assertEqual([x.name for x in c.without_next], ["李华"])
        self.assertEqual(c.sessions_this_term, 4)  # 1 + 2 + the planned one (not the cancelled)
        self.assertEqual(c.minutes_this_term, 110)  # the two attended
        body = self.body(response)
        self.assertIn('data-count="without-next">1<', body)
        self.assertIn(reverse("counseling:booking", args=[self.s1_booking.pk]), body)

    def test_the_waiting_list_is_for_them_or_any_counsellor(self):
        self.login("psy")
        c = self.client.get(reverse("counseling:caseload")).context["c"]
        self.assertEqual(sorted((w.name, w.any_counsellor) for w in c.waiting), [("王芳", True), ("陈静", False)])

    def test_no_note_and_no_intake_on_any_view(self):
        for persona in ("psy", "director"):
            self.login(persona)
            for name in PAGES + APIS:
                if persona == "psy" and name.endswith("overview"):
                    continue
                body = self.body(self.client.get(reverse(name)))
                self.assertNotIn(NOTE, body, name)
                self.assertNotIn(INTAKE_TEXT, body, name)

    def test_the_director_picks_a_counsellor_and_sees_names_and_counts(self):
        self.login("director")
        response = self.client.get(reverse("counseling:caseload"), {"counsellor": self.psy.pk})
        self.assertEqual(response.status_code, 200)
        body = self.body(response)
        self.assertIn("张小明", body)
        self.assertIn('id="pick-counsellor"', body)
        self.assertEqual(response.context["c"].counsellor.pk, self.psy.pk)

    def test_a_counsellor_cannot_read_a_colleagues_caseload(self):
        self.login("psy")
        before = AuditEvent.objects.filter(action="counseling.caseload.read", result="denied").count()
        for raw in (self.psy2.pk, self.director.pk, "x", 10**30):
            response = self.client.get(reverse("counseling:caseload"), {"counsellor": raw})
            self.assertEqual(response.status_code, 404)
        self.assertEqual(AuditEvent.objects.filter(action="counseling.caseload.read", result="denied").count(),
                         before + 4)

    def test_one_audit_row_per_page_view(self):
        self.login("psy")
        for name, action in (("counseling:caseload", "counseling.caseload.read"),
                             ("counseling:week", "counseling.week.read")):
            before = AuditEvent.objects.filter(action=action).count()
            self.client.get(reverse(name))
            self.assertEqual(AuditEvent.objects.filter(action=action).count(), before + 1)
        self.login("director")
        before = AuditEvent.objects.filter(action="counseling.overview.read").count()
        self.client.get(reverse("counseling:overview"))
        self.assertEqual(AuditEvent.objects.filter(action="counseling.overview.read").count(), before + 1)


class OverviewTests(CaseloadTestCase):
    def test_load_per_counsellor(self):
        # A group of psy2's: one member came, one did not.
        group = CounselingGroup.objects.create(school=self.school, counsellor=self.psy2, name="压力团体")
        m1 = GroupMember.objects.create(group=group, client=self.student_b1.user, student=self.student_b1)
        m2 = GroupMember.objects.create(group=group, client=self.committee_a1)
        meeting = Session.objects.create(school=self.school, counsellor=self.psy2, kind=SessionKind.GROUP,
                                         group=group, starts_at=ago(days=1), minutes=90)
        GroupAttendance.objects.create(session=meeting, member=m1, attendance=Attendance.ATTENDED)
        GroupAttendance.objects.create(session=meeting, member=m2, attendance=Attendance.NO_SHOW)
        self.login("director")
        response = self.client.get(reverse("counseling:overview"))
        self.assertEqual(response.status_code, 200)
        o = response.context["o"]
        loads = {x.counsellor.pk: x for x in o.loads}
        psy, psy2 = loads[self.psy.pk], loads[self.psy2.pk]
        self.assertEqual((psy.clients, psy.sessions, psy.minutes, psy.attended, psy.no_shows), (3, 4, 110, 2, 1))
        self.assertEqual(psy.no_show_rate, round(1 / 3, 3))
        self.assertEqual(psy.upcoming, 1)  # S0001's booking in two days
        self.assertEqual((psy2.clients, psy2.sessions, psy2.minutes, psy2.attended, psy2.no_shows),
                         (1, 2, 135, 2, 1))
        self.assertEqual(psy2.upcoming, 1)
        self.assertIsNone(loads[self.director.pk].no_show_rate)
        self.assertEqual(o.totals.clients, 4)
        self.assertEqual(o.waiting_count, 3)
        self.assertIsNotNone(o.waiting_oldest)
        self.assertEqual(o.no_show_count, 1)
        self.assertEqual([f.client for f in o.no_shows], ["李华"])
        self.assertEqual(o.urgent_booking_count, 1)
        self.assertEqual(o.urgent_bookings[0].url, reverse("counseling:booking", args=[self.risky.pk]))
        self.assertEqual(o.urgent_session_count, 1)
        self.assertEqual(o.urgent_sessions[0].client, "赵磊")
        body = self.body(response)
        self.assertIn('data-count="urgent-bookings">1<', body)
        self.assertIn("33%", body)

    def test_only_the_director(self):
        for persona in ("psy", "psy2"):
            self.login(persona)
            self.assertEqual(self.client.get(reverse("counseling:overview")).status_code, 404)
            self.assertEqual(self.client.get(reverse("counseling-api:overview")).status_code, 404)


class WeekTests(CaseloadTestCase):
    def test_a_counsellors_week_by_day(self):
        self.login("psy")
        start = local_day(0)
        response = self.client.get(reverse("counseling:week"), {"start": start.isoformat()})
        self.assertEqual(response.status_code, 200)
        w = response.context["w"]
        self.assertEqual(len(w.days), 7)
        self.assertEqual(w.days[0].date, start)
        items = {(i.kind, i.who) for d in w.days for i in d.items}
        self.assertIn(("booking", "张小明"), items)
        self.assertIn(("session", "林老师"), items)
        self.assertIn(("free", ""), items)  # the two other slots of the day after tomorrow
        self.assertNotIn(("session", "赵磊"), items)  # psy2's
        day2 = next(d for d in w.days if d.date == local_day(2))
        self.assertEqual([i.kind for i in day2.items], ["booking", "free", "free"])

    def test_the_director_sees_everyone_or_one(self):
        self.login("director")
        start = local_day(-1)
        w = self.client.get(reverse("counseling:week"), {"start": start.isoformat()}).context["w"]
        self.assertIsNone(w.counsellor)
        whos = {i.who for d in w.days for i in d.items}
        self.assertTrue({"赵磊", "张小明", "王芳"} <= whos, whos)
        # Everyone's week: a counsellor's free times of a day are one line ("2 free times").
        day2 = next(d for d in w.days if d.date == local_day(2))
        free = [i for i in day2.items if i.kind == "free"]
        self.assertEqual([(i.counsellor, i.count) for i in free], [("沈咨询", 2)])
        self.assertIn("2 个空闲时段", self.body(self.client.get(reverse("counseling:week"),
                                                                {"start": start.isoformat()})))
        w = self.client.get(reverse("counseling:week"), {"start": start.isoformat(),
                                                          "counsellor": self.psy2.pk}).context["w"]
        self.assertEqual({i.who for d in w.days for i in d.items if i.who}, {"赵磊", "王芳"})

    def test_a_booking_with_its_session_shows_once(self):
        Session.objects.create(school=self.school, counsellor=self.psy, episode=self.ep1, booking=self.s1_booking,
                               starts_at=self.s1_booking.starts_at, minutes=60)
        self.login("psy")
        w = self.client.get(reverse("counseling:week"), {"start": local_day(0).isoformat()}).context["w"]
        rows = [i.kind for d in w.days for i in d.items if i.who == "张小明"]
        self.assertEqual(rows, ["session"])

    def test_a_bad_start_is_a_clear_message(self):
        self.login("psy")
        response = self.client.get(reverse("counseling:week"), {"start": "2026-13-40"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
        self.assertEqual(response.status_code, 400)
        self.assertIn("YYYY-MM-DD", self.body(response))
        self.assertIn("请按 YYYY-MM-DD 填写一周的第一天", self.body(response))
        response = self.client.get(reverse("counseling:week"), {"start": "soon"}, HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(response.status_code, 400)
        self.assertIn("Give the first day of the week as YYYY-MM-DD", self.body(response))

    def test_a_counsellor_cannot_read_a_colleagues_week(self):
        self.login("psy")
        self.assertEqual(self.client.get(reverse("counseling:week"), {"counsellor": self.psy2.pk}).status_code, 404)
        self.assertEqual(self.client.get(reverse("counseling:week"), {"counsellor": "all"}).status_code, 404)


class WhoSeesTests(CaseloadTestCase):
    def test_nobody_outside_counselling_staff_gets_any_of_it(self):
        for persona in ("counsellor_a", "head_teacher_a1", "committee_a1", "leader", "college_lead_a",
                        "outsider_b", "bureau_viewer", "student_a1_user", "teacher_a"):
            self.login(persona)
            for name in PAGES + APIS:
                response = self.client.get(reverse(name))
                self.assertEqual(response.status_code, 404, f"{persona} on {name}")
                self.assertNotIn("林老师", self.body(response))
                self.assertNotIn("张小明", self.body(response))

    def test_a_staff_client_appears_to_counselling_staff_only(self):
        self.login("psy")
        self.assertIn("林老师", self.body(self.client.get(reverse("counseling:caseload"))))
        self.login("director")
        self.assertIn("林老师", self.body(self.client.get(reverse("counseling:caseload"),
                                                         {"counsellor": self.psy.pk})))
        # Their manager (the college lead of college A) sees nothing of it, anywhere here.
        self.login("college_lead_a")
        for name in PAGES + APIS:
            self.assertEqual(self.client.get(reverse(name), {"counsellor": self.psy.pk}).status_code, 404)

    def test_counselling_staff_of_another_school_see_nothing_here(self):
        other = self.bureau.add_unit(kind="school", code="SCH2", name="另一所大学")
        make_staff("T1099", "异校咨询", Role.COUNSELLOR, other)
        from xinlian.network.models import User

        self.client.force_login(User.objects.get(username="T1099"))
        c = self.client.get(reverse("counseling:caseload")).context["c"]
        self.assertEqual(c.clients, [])
        self.assertEqual(c.waiting, [])
        self.assertEqual(self.client.get(reverse("counseling:caseload"), {"counsellor": self.psy.pk}).status_code, 404)


class ApiTests(CaseloadTestCase):
    def test_caseload_and_overview_as_json(self):
        self.login("psy")
        data = self.client.get(reverse("counseling-api:caseload")).json()
        self.assertEqual(data["counsellor"]["id"], self.psy.pk)
        self.assertEqual(sorted(c["name"] for c in data["clients"]), sorted(["张小明", "李华", "林老师"]))
        self.assertEqual(data["without_next"], [self.ep2.pk])
        self.assertEqual(data["sessions_this_term"], 4)
        self.assertEqual(self.client.get(reverse("counseling-api:caseload"), {"counsellor": self.psy2.pk}).status_code,
                         404)
        self.login("director")
        data = self.client.get(reverse("counseling-api:caseload"), {"counsellor": self.psy2.pk}).json()
        self.assertEqual([c["name"] for c in data["clients"]], ["赵磊"])
        data = self.client.get(reverse("counseling-api:overview")).json()
        loads = {x["counsellor"]["id"]: x for x in data["loads"]}
        self.assertEqual(loads[self.psy.pk]["no_show_rate"], round(1 / 3, 3))
        self.assertEqual(data["urgent_booking_count"], 1)
        self.assertEqual(data["waiting_count"], 3)

    def test_in_the_openapi_schema(self):
        self.login("director")
        schema = self.client.get(reverse("api-schema"), HTTP_ACCEPT="application/json").content.decode()
        self.assertIn("/api/v1/counseling/caseload/", schema)
        self.assertIn("/api/v1/counseling/overview/", schema)
        self.assertIn("counseling_overview", schema)


class QueryCountTests(CounselingTestCase):
    """The pages cost the same number of queries with few sessions on record or many."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.n = 0

    def grow(self, clients: int, sessions_each: int) -> None:
        now = timezone.now()
        for i in range(clients):
            self.n += 1
            student = make_student(f"Q{self.n:04d}", f"学生{self.n}", self.class_a2)
            counsellor = (self.psy, self.psy2)[i % 2]
            ep = episode(student.user, counsellor, self.school, student)
            Session.objects.bulk_create([
                Session(school=self.school, counsellor=counsellor, episode=ep, minutes=50,
                        starts_at=now + dt.timedelta(days=j - sessions_each + 2, hours=i % 5),
                        attendance=(Attendance.ATTENDED, Attendance.NO_SHOW, Attendance.PLANNED)[j % 3],
                        risk="red" if j == 0 else "") for j in range(sessions_each)])
            slot = slot_in(counsellor, self.school, 24 + self.n)
            Booking.objects.create(slot=slot, client=student.user, student=student, starts_at=slot.starts_at,
                                   topic="t", risk_now=i % 3 == 0)
            WaitlistEntry.objects.create(client=make_student(f"W{self.n:04d}", "候补", self.class_b1).user,
                                         school=self.school, counsellor=counsellor if i % 2 else None,
                                         day_from=local_day(1), day_to=local_day(5))

    def queries(self, persona: str, url: str, params: dict | None = None) -> int:
        self.login(persona)
        self.client.get(url, params or {})  # warm: the session's first save, caches
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.get(url, params or {})
        self.assertEqual(response.status_code, 200)
        return len(ctx.captured_queries)

    def test_the_query_count_does_not_grow_with_the_sessions(self):
        cases = [("psy", reverse("counseling:caseload"), None),
                 ("director", reverse("counseling:caseload"), {"counsellor": self.psy2.pk}),
                 ("director", reverse("counseling:overview"), None),
                 ("psy", reverse("counseling:week"), None),
                 ("director", reverse("counseling:week"), None),
                 ("psy", reverse("counseling-api:caseload"), None),
                 ("director", reverse("counseling-api:overview"), None)]
        self.grow(3, 4)
        small = [self.queries(*case) for case in cases]
        self.grow(30, 12)
        for case, expected in zip(cases, small, strict=True):
            self.login(case[0])
            self.client.get(case[1], case[2] or {})
            with self.assertNumQueries(expected):
                self.assertEqual(self.client.get(case[1], case[2] or {}).status_code, 200)
        self.assertEqual(Session.objects.count(), 3 * 4 + 30 * 12)
