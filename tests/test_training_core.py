"""Training (issue 12, section 3): the verbs and their rules, bad input with nothing written,
"trained" derived in the database and flipping when attendance is recorded, the
not-yet-trained list, hours per person and unit per term with a constant query count, access
(another college's 辅导员 sees nothing), the home page's work items, the pages and the API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from xinlian.access.models import AuditEvent
from xinlian.lib.actions import Conflict, Invalid, NotAllowed, NotFound
from xinlian.network.models import Post, Role, Unit, UnitKind, User
from xinlian.notify.models import Delivery
from xinlian.training import actions, work
from xinlian.training.models import (
    Attendance,
    AttendanceStatus,
    Audience,
    Requirement,
    TrainingSession,
)

from .base import NetworkTestCase, make_staff, make_student


class TrainingTestCase(NetworkTestCase):
    """The personas, a 心理委员 of class A2 and one of class B1; the school requires
    pre-service training of its 心理委员 from 2024-01-01."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        peer = make_student("S0101", "钱多多", cls.class_a2)
        Post.objects.create(person=peer.user, unit=cls.class_a2, role=Role.COMMITTEE_MEMBER, starts_on=dt.date(2024, 9, 1))
        cls.committee_a2 = peer.user
        peer_b = make_student("S0102", "孔小北", cls.class_b1)
        Post.objects.create(person=peer_b.user, unit=cls.class_b1, role=Role.COMMITTEE_MEMBER, starts_on=dt.date(2024, 9, 1))
        cls.committee_b1 = peer_b.user
        cls.requirement = Requirement.objects.create(school=cls.school, role=Role.COMMITTEE_MEMBER,
                                                     valid_from=dt.date(2024, 1, 1))

    def request(self, name: str | User) -> Any:
        user = self.persona(name) if isinstance(name, str) else User.objects.get(pk=name.pk)
        request = RequestFactory().post("/")
        request.user = user
        return request

    def plan(self, who: str = "counsellor_a", *, days: float = 3, **kw: Any) -> TrainingSession:
        data = {"title": "心理委员岗前培训", "audience": Audience.COMMITTEE, "is_pre_service": True,
                "starts_at": timezone.now() + dt.timedelta(days=days), "hours": "2", "place": "A101", **kw}
        return actions.create_session(self.request(who), actions.SessionInput(**data))

    def held(self, session: TrainingSession, days_ago: float = 1) -> TrainingSession:
        """The session moved into the past (it was planned ahead, and has now taken place)."""
        session.starts_at = timezone.now() - dt.timedelta(days=days_ago)
        session.save(update_fields=["starts_at"])
        return session

    def untrained_ids(self, who: str = "director") -> set[int]:
        return {p.person_id for p in actions.untrained(self.request(who)).posts}


class CreateSessionTests(TrainingTestCase):
    def test_the_fudaoyuan_plans_for_their_college_and_the_centre_for_the_school(self):
        session = self.plan()
        self.assertEqual((session.organiser, session.hours, session.is_pre_service), (self.college_a, Decimal("2.0"), True))
        self.assertEqual(self.plan("director").organiser, self.school)
        self.assertTrue(AuditEvent.objects.filter(action="training.session.create", actor=self.counsellor_a).exists())

    def test_peers_and_head_teachers_organise_nothing(self):
        for who in ("committee_a1", "head_teacher_a1", "student_a1_user", "bureau_viewer"):
            with self.subTest(who), self.assertRaises(NotAllowed):
                self.plan(who)

    def test_bad_input_is_refused_by_field_and_nothing_is_written(self):
        cases = {
            "title": {"title": "  "},
            "audience": {"audience": "aliens"},
            "starts_at": {"days": -1},
            "organiser": {"organiser": None},
            "is_pre_service": {"audience": Audience.PARENTS, "is_pre_service": True},
        }
        for field, kw in cases.items():
            if field == "organiser":
                kw = {"organiser": self.college_b.pk}
            with self.subTest(field), self.assertRaises(Invalid) as caught:
                self.plan(**kw)
            self.assertIn(field, caught.exception.errors)
        for hours, message in (("-1", "小时数不能为负数。"), ("0", "小时数在 0.5 到 12 之间。"),
                               ("99", "小时数在 0.5 到 12 之间。"), ("1.25", "小时数以半小时计。"),
                               ("abc", "请以数字填写小时数，例如 2 或 1.5。"), ("NaN", "请以数字填写小时数，例如 2 或 1.5。")):
            with self.subTest(hours), self.assertRaises(Invalid) as caught:
                self.plan(hours=hours)
            self.assertEqual([str(m) for m in caught.exception.errors["hours"]], [message])
        with override("en"):
            with self.assertRaises(Invalid) as caught:
                self.plan(hours="-3")
            self.assertEqual(str(caught.exception.errors["hours"][0]), "Hours cannot be negative.")
        self.assertEqual(TrainingSession.objects.count(), 0)


class InviteTests(TrainingTestCase):
    def test_invite_the_committee_members_of_my_college_once(self):
        session = self.plan()
        n = actions.invite(self.request("counsellor_a"), session.pk, role=Role.COMMITTEE_MEMBER)
        self.assertEqual(n, 2)
        self.assertEqual(set(session.attendances.values_list("person_id", flat=True)),
                         {self.committee_a1.pk, self.committee_a2.pk})
        self.assertEqual(Delivery.objects.filter(recipient=self.committee_a1).count(), 1)
        # Again: nobody twice.
        self.assertEqual(actions.invite(self.request("counsellor_a"), session.pk, role=Role.COMMITTEE_MEMBER), 0)
        self.assertEqual(session.attendances.count(), 2)

    def test_only_those_not_yet_trained(self):
        old = self.held(self.plan())
        Attendance.objects.create(session=old, person=self.committee_a1, status=AttendanceStatus.ATTENDED, hours=2)
        session = self.plan()
        n = actions.invite(self.request("counsellor_a"), session.pk, role=Role.COMMITTEE_MEMBER, only_untrained=True)
        self.assertEqual(n, 1)
        self.assertEqual(list(session.attendances.values_list("person_id", flat=True)), [self.committee_a2.pk])

    def test_a_unit_of_one_class(self):
        session = self.plan()
        actions.invite(self.request("counsellor_a"), session.pk, role=Role.COMMITTEE_MEMBER, unit_id=self.class_a2.pk)
        self.assertEqual(list(session.attendances.values_list("person_id", flat=True)), [self.committee_a2.pk])

    def test_bad_invitations(self):
        session = self.plan()
        with self.assertRaises(Invalid) as caught:
            actions.invite(self.request("counsellor_a"), session.pk, role=Role.COMMITTEE_MEMBER, unit_id=self.class_b1.pk)
        self.assertIn("unit", caught.exception.errors)
        with self.assertRaises(Invalid):
            actions.invite(self.request("counsellor_a"), session.pk, role=Role.LEADER)
        with self.assertRaises(NotFound):  # another college's 辅导员: no such session
            actions.invite(self.request("outsider_b"), session.pk, role=Role.COMMITTEE_MEMBER)
        self.held(session)
        with self.assertRaises(Conflict) as caught:
            actions.invite(self.request("counsellor_a"), session.pk, role=Role.COMMITTEE_MEMBER)
        self.assertEqual(caught.exception.text, "该培训已开始：邀请只对即将举行的培训。")
        self.assertEqual(session.attendances.count(), 0)


class AttendanceTests(TrainingTestCase):
    def setUp(self) -> None:
        self.session = self.plan()
        actions.invite(self.request("counsellor_a"), self.session.pk, role=Role.COMMITTEE_MEMBER)

    def record(self, who: str = "counsellor_a", person: Any = None, status: str = "attended", **kw: Any):
        person = self.committee_a1.pk if person is None else person
        return actions.record_attendance(self.request(who), self.session.pk, person=person, status=status, **kw)

    def test_not_before_the_session_starts(self):
        with self.assertRaises(Conflict):
            self.record()

    def test_trained_flips_when_attendance_is_recorded(self):
        self.held(self.session)
        self.assertIn(self.committee_a1.pk, self.untrained_ids())
        row, changed = self.record()
        self.assertTrue(changed)
        self.assertEqual((row.status, row.hours), ("attended", Decimal("2.0")))
        self.assertNotIn(self.committee_a1.pk, self.untrained_ids())
        self.assertIn(self.committee_a2.pk, self.untrained_ids())
        # One tap again changes nothing and writes no second audit row.
        _row, changed = self.record()
        self.assertFalse(changed)
        self.assertEqual(AuditEvent.objects.filter(action="training.attendance.record", result="allowed").count(), 1)
        # Absent after all: not trained, no hours.
        row, _changed = self.record(status="absent")
        self.assertEqual((row.status, row.hours), ("absent", Decimal("0")))
        self.assertIn(self.committee_a1.pk, self.untrained_ids())

    def test_fewer_hours_credited_but_not_more_nor_negative(self):
        self.held(self.session)
        row, _ = self.record(hours="1.5")
        self.assertEqual(row.hours, Decimal("1.5"))
        for hours in ("-1", "3", "24"):
            with self.subTest(hours), self.assertRaises(Invalid):
                self.record(hours=hours)
        self.assertEqual(Attendance.objects.get(pk=row.pk).hours, Decimal("1.5"))

    def test_a_person_not_invited_or_outside_scope(self):
        self.held(self.session)
        for person in (self.committee_b1.pk, self.head_teacher_a1.pk, "x", 10**17):
            with self.subTest(person), self.assertRaises(Invalid) as caught:
                self.record(person=person)
            self.assertEqual([str(m) for m in caught.exception.errors["person"]], ["此人未受邀参加该培训。"])
        with self.assertRaises(Invalid):
            self.record(status="maybe")

    def test_who_records(self):
        self.held(self.session)
        with self.assertRaises(NotFound):
            self.record("outsider_b")
        with self.assertRaises(NotFound):
            self.record("head_teacher_a1")
        with self.assertRaises(NotAllowed):  # invited: sees the session, records nothing
            self.record("committee_a1")
        self.record("director")  # the centre oversees the college's sessions
        self.assertEqual(Attendance.objects.get(session=self.session, person=self.committee_a1).recorded_by,
                         self.director)

    def test_parents_headcount(self):
        lecture = self.plan("director", audience=Audience.PARENTS, is_pre_service=False)
        with self.assertRaises(Conflict):
            actions.record_parents(self.request("director"), lecture.pk, 40)
        self.held(lecture)
        for bad in ("-1", "many", "100000"):
            with self.subTest(bad), self.assertRaises(Invalid):
                actions.record_parents(self.request("director"), lecture.pk, bad)
        self.assertEqual(actions.record_parents(self.request("director"), lecture.pk, "40").parents_count, 40)
        with self.assertRaises(Conflict):  # not a parents' lecture
            actions.record_parents(self.request("counsellor_a"), self.held(self.session).pk, 4)


class RequirementTests(TrainingTestCase):
    def attend(self, **kw: Any) -> TrainingSession:
        fields = {"organiser": self.school, "title": "t", "audience": Audience.COMMITTEE, "is_pre_service": True,
                  "starts_at": timezone.now() - dt.timedelta(days=2), "hours": 2, "created_by": self.director, **kw}
        session = TrainingSession.objects.create(**fields)
        Attendance.objects.create(session=session, person=self.committee_a1, status=AttendanceStatus.ATTENDED, hours=2)
        return session

    def test_only_a_pre_service_session_for_the_role_held_from_the_valid_day_counts(self):
        self.attend(is_pre_service=False)
        self.attend(audience=Audience.DORM_LIAISON)
        self.attend(starts_at=timezone.make_aware(dt.datetime(2023, 12, 30, 9)))
        self.assertIn(self.committee_a1.pk, self.untrained_ids())
        self.attend(organiser=self.college_a)  # a college's session counts at its school
        self.assertNotIn(self.committee_a1.pk, self.untrained_ids())

    def test_a_session_at_another_school_does_not_count(self):
        other = self.bureau.add_unit(kind=UnitKind.SCHOOL, code="SCH2", name="第二中学")
        self.attend(organiser=Unit.objects.get(pk=other.pk))
        self.assertIn(self.committee_a1.pk, self.untrained_ids())

    def test_a_new_valid_day_asks_for_fresh_training(self):
        self.attend()
        self.assertNotIn(self.committee_a1.pk, self.untrained_ids())
        actions.set_requirement(self.request("director"), role=Role.COMMITTEE_MEMBER,
                                valid_from=timezone.localdate().isoformat(), active=True)
        self.assertIn(self.committee_a1.pk, self.untrained_ids())

    def test_set_requirement_rules(self):
        req = actions.set_requirement(self.request("director"), role=Role.DORM_LIAISON, valid_from="2025-09-01")
        self.assertEqual((req.school, req.valid_from), (self.school, dt.date(2025, 9, 1)))
        self.assertIn(self.liaison_a1.pk, self.untrained_ids())
        with self.assertRaises(NotAllowed):
            actions.set_requirement(self.request("counsellor_a"), role=Role.DORM_LIAISON, valid_from="2025-09-01")
        with self.assertRaises(Invalid) as caught:
            actions.set_requirement(self.request("director"), role=Role.LEADER, valid_from="2025-13-01")
        self.assertEqual(set(caught.exception.errors), {"role", "valid_from"})
        actions.set_requirement(self.request("director"), role=Role.DORM_LIAISON, valid_from="2025-09-01", active=False)
        self.assertNotIn(self.liaison_a1.pk, self.untrained_ids())


class UntrainedAndAccessTests(TrainingTestCase):
    def test_each_sees_their_own_units(self):
        self.assertEqual(self.untrained_ids("counsellor_a"), {self.committee_a1.pk, self.committee_a2.pk})
        self.assertEqual(self.untrained_ids("outsider_b"), {self.committee_b1.pk})
        self.assertEqual(self.untrained_ids("director"),
                         {self.committee_a1.pk, self.committee_a2.pk, self.committee_b1.pk})
        for who in ("head_teacher_a1", "committee_a1", "bureau_viewer"):
            with self.subTest(who), self.assertRaises(NotAllowed):
                actions.untrained(self.request(who))
        with self.assertRaises(NotFound):
            actions.untrained(self.request("counsellor_a"), unit_id=self.college_b.pk)

    def test_another_colleges_fudaoyuan_sees_nothing_of_college_a(self):
        session = self.plan()
        actions.invite(self.request("counsellor_a"), session.pk, role=Role.COMMITTEE_MEMBER)
        self.client.force_login(self.outsider_b)
        self.assertEqual(self.client.get(reverse("training:session", args=[session.pk])).status_code, 404)
        self.assertEqual(self.client.get(reverse("training-api:session-detail", args=[session.pk])).status_code, 404)
        self.assertEqual(self.client.get(reverse("training-api:session-list")).json(), [])
        body = self.client.get(reverse("training:untrained")).content.decode()
        self.assertNotIn(self.committee_a1.full_name, body)
        self.assertIn(self.committee_b1.full_name, body)
        self.assertEqual(self.client.get(reverse("training:hours"), {"unit": self.college_a.pk}).status_code, 404)
        self.assertTrue(AuditEvent.objects.filter(actor=self.outsider_b, result="denied",
                                                  action="training.session.view").exists())

    def test_untrained_constant_queries_at_two_sizes(self):
        def grow(n: int) -> None:
            for i in range(n):
                college = Unit.objects.get(pk=self.college_a.pk)
                klass = college.add_unit(kind=UnitKind.CLASS, code=f"G{n}-{i}", name=f"班{n}-{i}")
                s = make_student(f"G{n}-{i}", f"学生{n}-{i}", klass)
                Post.objects.create(person=s.user, unit=klass, role=Role.COMMITTEE_MEMBER, starts_on=dt.date(2024, 9, 1))

        def count() -> int:
            self.login("counsellor_a")
            self.client.get(reverse("training:untrained"))  # warm the per-process caches
            with CaptureQueriesContext(connection) as ctx:
                self.assertEqual(self.client.get(reverse("training:untrained")).status_code, 200)
            return len(ctx.captured_queries)

        grow(2)
        small = count()
        grow(12)
        self.assertEqual(count(), small)


class HoursTests(TrainingTestCase):
    def setUp(self) -> None:
        now = timezone.now()
        self.term = actions.Term.of(timezone.localdate(now))

        def session(organiser: Unit, hours: float, **kw: Any) -> TrainingSession:
            return TrainingSession.objects.create(organiser=organiser, title="t", audience=Audience.COMMITTEE,
                                                  starts_at=now - dt.timedelta(minutes=5), hours=hours,
                                                  created_by=self.director, **kw)
        one, two = session(self.school, 2), session(self.college_a, 1.5)
        parents = session(self.college_a, 1, parents_count=30)
        parents.audience = Audience.PARENTS
        parents.save()
        for s, person, status, hours in ((one, self.committee_a1, "attended", 2), (two, self.committee_a1, "attended", 1.5),
                                         (one, self.committee_b1, "attended", 2), (two, self.committee_a2, "absent", 0)):
            Attendance.objects.create(session=s, person=person, status=status, hours=hours)
        # Last term's hours are not this term's.
        old = session(self.school, 3)
        old.starts_at = timezone.make_aware(dt.datetime.combine(self.term.previous().starts_on, dt.time(10)))
        old.save()
        Attendance.objects.create(session=old, person=self.committee_a1, status="attended", hours=3)

    def test_per_unit_for_the_centre(self):
        table = actions.hours(self.request("director"))
        rows = {r.label: r for r in table.rows}
        a, b = rows["计算机学院"], rows["外国语学院"]
        self.assertEqual((a.hours, a.sessions, a.trained_people, a.organised, a.parents), (Decimal("3.5"), 2, 1, 2, 30))
        self.assertEqual((b.hours, b.sessions, b.trained_people), (Decimal("2"), 1, 1))
        self.assertEqual(a.people, 5)  # the 辅导员, the head teacher, two 心理委员, the dorm liaison
        self.assertEqual(table.total.hours, Decimal("5.5"))
        self.assertEqual(table.total.organised, 3)  # the school's own session counts at the school row

    def test_per_person_in_a_college_and_another_term(self):
        table = actions.hours(self.request("counsellor_a"))
        self.assertTrue(table.by_person)
        by_name = {r.label: r.hours for r in table.rows}
        self.assertEqual(by_name[self.committee_a1.full_name], Decimal("3.5"))
        self.assertEqual(by_name[self.committee_a2.full_name], Decimal("0"))
        previous = actions.hours(self.request("counsellor_a"), term=self.term.previous().code)
        self.assertEqual({r.label: r.hours for r in previous.rows}[self.committee_a1.full_name], Decimal("3"))
        with self.assertRaises(Invalid):
            actions.hours(self.request("counsellor_a"), term="2026-3")
        with self.assertRaises(NotAllowed):
            actions.hours(self.request("committee_a1"))

    def test_constant_queries_at_two_sizes(self):
        def grow(n: int) -> None:
            for i in range(n):
                for college in (self.college_a, self.college_b):
                    college = Unit.objects.get(pk=college.pk)
                    klass = college.add_unit(kind=UnitKind.CLASS, code=f"H{n}-{i}-{college.pk}", name=f"班{i}")
                    s = make_student(f"H{n}-{i}-{college.pk}", f"学生{i}", klass)
                    Post.objects.create(person=s.user, unit=klass, role=Role.COMMITTEE_MEMBER, starts_on=dt.date(2024, 9, 1))
                    session = TrainingSession.objects.create(organiser=college, title="t", audience=Audience.OTHER,
                                                             starts_at=timezone.now(), hours=1, created_by=self.director)
                    Attendance.objects.create(session=session, person=s.user, status="attended", hours=1)

        def count() -> dict[str, int]:
            out = {}
            for who, unit in (("director", None), ("director", self.college_a.pk), ("counsellor_a", None)):
                self.login(who)
                self.client.get(reverse("training:hours"), {"unit": unit or ""})  # warm the caches
                with CaptureQueriesContext(connection) as ctx:
                    self.assertEqual(self.client.get(reverse("training:hours"), {"unit": unit or ""}).status_code, 200)
                out[f"{who}-{unit}"] = len(ctx.captured_queries)
            return out

        grow(1)
        small = count()
        grow(8)
        self.assertEqual(count(), small)
        self.assertEqual(actions.hours(self.request("director")).total.hours, Decimal("5.5") + 18)


class WorkTests(TrainingTestCase):
    def kinds(self, who: str) -> list[tuple[str, str]]:
        return [(i.kind, i.label) for i in work.work_for(self.request(who)).items]

    def test_invited_missing_and_to_record(self):
        self.assertIn(("training", "Pre-service training missing"), [(k, str(label)) for k, label in
                                                                      self._en("committee_a1")])
        session = self.plan()
        actions.invite(self.request("counsellor_a"), session.pk, role=Role.COMMITTEE_MEMBER)
        mine = work.work_for(self.request("committee_a1")).items
        self.assertEqual([i.kind for i in mine], ["training", "training"])
        self.assertEqual(mine[0].url, session.get_absolute_url())
        self.assertNotIn("training_record", [k for k, _l in self.kinds("counsellor_a")])
        self.held(session)
        items = work.work_for(self.request("counsellor_a")).items
        record = [i for i in items if i.kind == "training_record"]
        self.assertEqual(len(record), 1)
        self.assertIn("2", record[0].detail)
        untrained = [i for i in items if i.kind == "training"]
        self.assertEqual(len(untrained), 1)
        self.assertIn("2", untrained[0].title)
        self.assertEqual(self.kinds("outsider_b"), [("training", self.kinds("outsider_b")[0][1])])

    def _en(self, who: str) -> list[tuple[str, str]]:
        with override("en"):
            return self.kinds(who)

    def test_home_page_shows_the_items(self):
        self.client.force_login(self.committee_a1)
        body = self.client.get(reverse("home")).content.decode()
        self.assertIn('data-kind="training"', body)
        self.assertIn(reverse("training:home"), body)


class PageTests(TrainingTestCase):
    def test_plan_invite_and_record_through_the_pages(self):
        self.client.force_login(self.counsellor_a)
        day = timezone.localdate() + dt.timedelta(days=2)
        response = self.client.post(reverse("training:session-new"), {
            "title": "岗前培训", "audience": "committee", "is_pre_service": "1", "organiser": self.college_a.pk,
            "date": day.isoformat(), "time": "14:00", "hours": "2", "place": "A101"})
        session = TrainingSession.objects.get()
        self.assertRedirects(response, session.get_absolute_url())
        response = self.client.post(reverse("training:session-invite", args=[session.pk]),
                                    {"role": "committee_member", "unit": self.college_a.pk, "only_untrained": "1"})
        self.assertEqual(session.attendances.count(), 2)
        self.held(session)
        url = reverse("training:attendance", args=[session.pk])
        response = self.client.post(url, {"person": self.committee_a1.pk, "status": "attended"})
        self.assertRedirects(response, f"{session.get_absolute_url()}#p{self.committee_a1.pk}")
        body = self.client.get(session.get_absolute_url()).content.decode()
        self.assertIn('data-status="attended"', body)
        response = self.client.post(url, {"person": self.committee_b1.pk, "status": "attended"})
        self.assertContains(response, "此人未受邀参加该培训。", status_code=400)
        with override("en"):
            response = self.client.post(url, {"person": self.committee_a2.pk, "status": "attended", "hours": "-2"},
                                        HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(Attendance.objects.get(person=self.committee_a2).status, "invited")

    def test_bad_form_keeps_what_was_typed(self):
        self.client.force_login(self.counsellor_a)
        response = self.client.post(reverse("training:session-new"), {
            "title": "我的培训", "audience": "committee", "date": "2020-01-01", "time": "09:00", "hours": "-1"})
        self.assertContains(response, "小时数不能为负数。", status_code=400)
        self.assertContains(response, "培训需提前安排", status_code=400)
        self.assertContains(response, 'value="我的培训"', status_code=400)
        self.assertEqual(TrainingSession.objects.count(), 0)

    def test_network_unit_page_badge(self):
        self.client.force_login(self.counsellor_a)
        body = self.client.get(reverse("unit-detail", args=[self.class_a1.pk])).content.decode()
        self.assertIn('data-trained="0"', body)
        self.client.force_login(self.head_teacher_a1)
        body = self.client.get(reverse("unit-detail", args=[self.class_a1.pk])).content.decode()
        self.assertNotIn("data-trained", body)

    def test_my_trainings_and_the_menu(self):
        session = self.held(self.plan())
        Attendance.objects.create(session=session, person=self.committee_a1, status="attended", hours=2)
        self.client.force_login(self.committee_a1)
        body = self.client.get(reverse("training:home")).content.decode()
        self.assertIn(session.title, body)
        self.assertIn('class="xl-menu-link active" aria-current="page" href="/training/"', body)


class ApiTests(TrainingTestCase):
    def test_plan_invite_record_and_read(self):
        self.client.force_login(self.counsellor_a)
        response = self.client.post(reverse("training-api:session-list"), {
            "title": "岗前培训", "audience": "committee", "is_pre_service": True,
            "starts_at": (timezone.now() + dt.timedelta(days=1)).isoformat(), "hours": "2"},
            content_type="application/json")
        self.assertEqual(response.status_code, 201, response.content)
        pk = response.json()["id"]
        response = self.client.post(reverse("training-api:session-invite", args=[pk]), {"role": "committee_member"},
                                    content_type="application/json")
        self.assertEqual(response.json(), {"invited": 2})
        self.held(TrainingSession.objects.get(pk=pk))
        response = self.client.post(reverse("training-api:attendance", args=[pk]),
                                    {"person": self.committee_a1.pk, "status": "attended"}, content_type="application/json")
        self.assertEqual((response.json()["status"], response.json()["changed"]), ("attended", True))
        untrained = self.client.get(reverse("training-api:untrained")).json()
        self.assertEqual(untrained["count"], 1)
        hours = self.client.get(reverse("training-api:hours")).json()
        self.assertEqual({r["person"]: r["hours"] for r in hours["rows"]}[self.committee_a1.pk], "2.0")
        detail = self.client.get(reverse("training-api:session-detail", args=[pk])).json()
        self.assertEqual(len(detail["attendance"]), 2)
        response = self.client.post(reverse("training-api:session-list"), {"title": "", "audience": "x", "hours": -1},
                                    content_type="application/json")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(set(response.json()) - {"detail"}, {"title", "audience", "starts_at", "hours"})

    def test_the_schema_lists_training(self):
        self.client.force_login(self.director)
        schema = self.client.get("/api/schema/").content.decode()
        for path in ("/api/v1/training/sessions/", "/api/v1/training/sessions/{id}/attendance/",
                     "/api/v1/training/untrained/", "/api/v1/training/hours/"):
            self.assertIn(path, schema)


class DemoTests(TrainingTestCase):
    def test_demo_seeds_trained_upcoming_parents_and_untrained(self):
        from xinlian.training.demo import seed_demo_training

        make_staff("fudaoyuan", "演示辅导员", Role.FUDAOYUAN, self.college_a)
        Requirement.objects.all().delete()
        self.assertEqual(seed_demo_training(), 3)
        self.assertEqual(seed_demo_training(), 0)  # once
        self.assertEqual(set(TrainingSession.objects.values_list("audience", flat=True)),
                         {"committee", "dorm_liaison", "parents"})
        ids = self.untrained_ids()
        self.assertNotIn(self.committee_a1.pk, ids)  # the first 心理委员 of the college attended
        self.assertIn(self.committee_b1.pk, ids)
        self.assertTrue(Attendance.objects.filter(person=self.liaison_a1, status="invited").exists())
