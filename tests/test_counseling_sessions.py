"""Counselling sessions (issue 11, second slice): opening a session from a booking, a walk-in or
a family session; one-tap attendance; the record (tier 5, encrypted) and the risk it sets on the
register through care; "risk to life" raising the red alert; groups and their capacity; who
reads the record (the session's counsellor, the director, the named supervisor — each read
audited); the day view and the session form; refusals, with nothing half-written."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from xinlian.access.models import AuditEvent
from xinlian.care.models import Alert, Concern, RiskEntry
from xinlian.counseling.actions_sessions import URGENT_SESSION
from xinlian.counseling.models import (
    Booking,
    CounselingGroup,
    Episode,
    EpisodeStatus,
    GroupAttendance,
    GroupMember,
    Session,
)
from xinlian.network.models import Role, UnitKind
from xinlian.notify.models import Delivery

from .base import make_staff, make_student
from .test_counseling_base import CounselingTestCase, slot_in

NOTES = "MKR-T5-notes-test"


class SessionsBase(CounselingTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.booking = Booking.objects.create(slot=cls.slots[0], client=cls.student_a1.user, student=cls.student_a1,
                                             starts_at=cls.slots[0].starts_at, topic="x")
        cls.supervisor = make_staff("T1030", "冯督导")  # no post: a supervisor is named on the episode
        # Another school, and a student of it: outside the counsellors' reach.
        cls.school2 = cls.bureau.add_unit(kind=UnitKind.SCHOOL, code="SCH2", name="第二大学", name_en="Second U")
        college2 = cls.school2.add_unit(kind=UnitKind.COLLEGE, code="C2", name="学院", name_en="C2")
        class2 = college2.add_unit(kind=UnitKind.CLASS, code="C2-1", name="1班", name_en="C2-1")
        cls.far_student = make_student("S0900", "远方", class2)

    def as_user(self, user):
        self.client.force_login(user)
        return self.client

    def opened(self, booking=None, by=None) -> Session:
        self.as_user(by or self.psy)
        r = self.client.post(reverse("counseling-api:sessions"), {"booking": str((booking or self.booking).pk)},
                             content_type="application/json")
        self.assertEqual(r.status_code, 201, r.content)
        return Session.objects.get(pk=r.json()["id"])

    def record(self, session: Session, by=None, **data):
        self.as_user(by or self.psy)
        body = {"presenting": "睡眠差", "assessment": "焦虑", "intervention": "放松训练", "plan": "两周后再谈",
                "notes": NOTES, "risk": "none", **data}
        return self.client.post(reverse("counseling-api:session-record", args=[session.pk]), body,
                                content_type="application/json")


class OpeningTests(SessionsBase):
    def test_a_booking_opens_one_session_in_the_open_episode(self):
        s = self.opened()
        self.assertEqual((s.kind, s.counsellor_id, s.booking_id, s.starts_at), ("individual", self.psy.pk,
                                                                               self.booking.pk, self.slots[0].starts_at))
        episode = s.episode
        self.assertEqual((episode.client_id, episode.counsellor_id, episode.status, episode.source),
                         (self.student_a1.user_id, self.psy.pk, "open", "booking"))
        self.assertEqual(self.opened().pk, s.pk)  # one session per booking
        second = Booking.objects.create(slot=self.slots[1], client=self.student_a1.user, student=self.student_a1,
                                        starts_at=self.slots[1].starts_at, topic="y")
        self.assertEqual(self.opened(second).episode_id, episode.pk)  # the same open episode
        self.assertEqual(Episode.objects.count(), 1)
        self.assertEqual(AuditEvent.objects.filter(action="counseling.session.open").count(), 2)

    def test_a_closed_episode_is_not_reused(self):
        s = self.opened()
        Episode.objects.filter(pk=s.episode_id).update(status=EpisodeStatus.CLOSED, closed_at=timezone.now())
        second = Booking.objects.create(slot=self.slots[1], client=self.student_a1.user, student=self.student_a1,
                                        starts_at=self.slots[1].starts_at, topic="y")
        self.assertNotEqual(self.opened(second).episode_id, s.episode_id)

    def test_only_the_bookings_counsellor_or_the_director_opens_it(self):
        self.as_user(self.psy2)
        r = self.client.post(reverse("counseling-api:sessions"), {"booking": str(self.booking.pk)},
                             content_type="application/json")
        self.assertEqual(r.status_code, 403)
        self.assertIn("只有", r.json()["detail"])
        for persona in (self.counsellor_a, self.head_teacher_a1, self.student_a1.user):
            self.as_user(persona)
            r = self.client.post(reverse("counseling-api:sessions"), {"booking": str(self.booking.pk)},
                                 content_type="application/json")
            self.assertEqual(r.status_code, 404, persona)
        self.assertEqual(self.opened(by=self.director).counsellor_id, self.psy.pk)
        self.assertEqual(Session.objects.count(), 1)

    def test_a_walk_in_and_a_family_session(self):
        self.as_user(self.psy)
        r = self.client.post(reverse("counseling-api:sessions"), {"client": "S0004"}, content_type="application/json")
        self.assertEqual(r.status_code, 201, r.content)
        s = Session.objects.get(pk=r.json()["id"])
        self.assertEqual((s.episode.source, s.episode.student_id, s.booking_id), ("walk_in", self.student_a2.pk, None))
        r = self.client.post(reverse("counseling-api:sessions"), {"client": "S0004", "kind": "family",
                                                                  "starts_at": "2026-09-01T14:00"},
                             content_type="application/json")
        self.assertEqual(r.status_code, 201)
        fam = Session.objects.get(pk=r.json()["id"])
        self.assertEqual((fam.kind, fam.episode_id), ("family", s.episode_id))
        # A member of staff is a client too.
        r = self.client.post(reverse("counseling-api:sessions"), {"client": "T1023"}, content_type="application/json")
        self.assertEqual(r.status_code, 201)

    def test_a_client_outside_the_centre_is_not_found_in_both_languages(self):
        self.as_user(self.psy)
        for lang, text in (("zh-hans", "没有"), ("en", "No client of your centre has this number.")):
            r = self.client.post(reverse("counseling-api:sessions"), {"client": "S0900"},
                                 content_type="application/json", headers={"accept-language": lang})
            self.assertEqual(r.status_code, 404)
            self.assertIn(text, r.json()["detail"])
        page = self.client.post(reverse("counseling:session-new"), {"client": "S0900", "kind": "individual",
                                                                     "minutes": "50", "mode": "online"})
        self.assertEqual(page.status_code, 404)
        self.assertContains(page, "walk-in-form", status_code=404)
        self.assertEqual(Session.objects.count(), 0)
        self.assertEqual(Episode.objects.count(), 0)
        self.assertTrue(AuditEvent.objects.filter(action="counseling.session.open", result="denied").exists())

    def test_bad_walk_in_input_writes_nothing(self):
        self.as_user(self.psy)
        r = self.client.post(reverse("counseling-api:sessions"), {"client": "S0004", "kind": "dance", "minutes": "5",
                                                                  "starts_at": "soon"}, content_type="application/json")
        self.assertEqual(r.status_code, 400)
        self.assertEqual(set(r.json()) - {"detail"}, {"kind", "minutes", "starts_at"})
        self.assertEqual((Session.objects.count(), Episode.objects.count()), (0, 0))

    def test_a_submission_key_replays(self):
        self.as_user(self.psy)
        body = {"client": "S0004", "key": "6f1c1a4e-1111-4b5b-9c1d-2f4a5b6c7d8e"}
        a = self.client.post(reverse("counseling-api:sessions"), body, content_type="application/json").json()
        b = self.client.post(reverse("counseling-api:sessions"), body, content_type="application/json").json()
        self.assertEqual(a["id"], b["id"])
        self.assertEqual(Session.objects.count(), 1)


class AttendanceAndRecordTests(SessionsBase):
    def test_one_tap_attendance_and_its_refusals(self):
        s = self.opened()
        self.as_user(self.psy)
        url = reverse("counseling-api:session-attendance", args=[s.pk])
        self.assertEqual(self.client.post(url, {"attendance": "attended"}, content_type="application/json")
                         .json()["attendance"], "attended")
        self.assertEqual(self.client.post(url, {"attendance": "maybe"}, content_type="application/json").status_code,
                         400)
        self.as_user(self.psy2)
        r = self.client.post(url, {"attendance": "no_show"}, content_type="application/json")
        self.assertEqual(r.status_code, 403)
        self.as_user(self.counsellor_a)
        self.assertEqual(self.client.post(url, {"attendance": "no_show"}, content_type="application/json").status_code,
                         404)
        s.refresh_from_db()
        self.assertEqual(s.attendance, "attended")

    def test_the_record_is_encrypted_and_written_once(self):
        s = self.opened()
        r = self.record(s)
        self.assertEqual(r.status_code, 200, r.content)
        s.refresh_from_db()
        self.assertEqual((s.notes, s.plan, s.risk, s.recorded_by_id), (NOTES, "两周后再谈", "none", self.psy.pk))
        with connection.cursor() as cursor:
            cursor.execute("SELECT notes, presenting FROM counseling_session WHERE id = %s", [s.pk])
            raw = cursor.fetchone()
        self.assertNotIn(NOTES, raw[0])
        self.assertNotIn("睡眠差", raw[1])
        self.assertTrue(AuditEvent.objects.filter(action="counseling.session.record", object_id=str(s.pk)).exists())

    def test_someone_elses_session_is_refused_and_nothing_changes(self):
        s = self.opened()
        self.record(s)
        r = self.record(s, by=self.psy2, notes="overwritten")
        self.assertEqual(r.status_code, 403)
        self.assertIn("Only the session's counsellor", self.client.post(
            reverse("counseling-api:session-record", args=[s.pk]), {"risk": "none"}, content_type="application/json",
            headers={"accept-language": "en"}).json()["detail"])
        s.refresh_from_db()
        self.assertEqual(s.notes, NOTES)
        self.assertEqual(self.record(s, by=self.counsellor_a).status_code, 404)
        self.assertEqual(self.record(s, by=self.director, notes="主任补记").status_code, 200)

    def test_a_closed_episode_takes_nothing_more(self):
        s = self.opened()
        Episode.objects.filter(pk=s.episode_id).update(status=EpisodeStatus.CLOSED)
        r = self.record(s)
        self.assertEqual(r.status_code, 409)
        self.assertEqual(self.client.post(reverse("counseling-api:session-attendance", args=[s.pk]),
                                          {"attendance": "attended"}, content_type="application/json").status_code, 409)
        s.refresh_from_db()
        self.assertEqual((s.notes, s.attendance), ("", "planned"))

    def test_a_risk_level_sets_the_register_through_care(self):
        s = self.opened()
        r = self.record(s, risk="orange")
        self.assertEqual(r.json()["register_level"], "orange")
        entry = RiskEntry.current_for(self.student_a1)
        self.assertEqual(entry.level, "orange")
        self.assertNotIn(NOTES, entry.reason)
        risk_set = AuditEvent.objects.get(action="risk.set")
        self.assertEqual((risk_set.actor_id, risk_set.detail), (self.psy.pk, "level=orange"))
        self.assertEqual(Alert.objects.count(), 0)
        # Saving the record again at the same level does not set it again.
        self.record(s, risk="orange", notes="更多")
        self.assertEqual(AuditEvent.objects.filter(action="risk.set").count(), 1)

    def test_a_session_never_lowers_the_register(self):
        s = self.opened()
        self.assertEqual(self.record(s, risk="red").json()["register_level"], "red")
        # Edited down to yellow: the register keeps red (a session only raises it).
        lowered = self.record(s, risk="yellow")
        self.assertEqual(lowered.status_code, 200)
        self.assertIsNone(lowered.json()["register_level"])
        self.assertEqual(RiskEntry.current_for(self.student_a1).level, "red")
        self.assertEqual(AuditEvent.objects.filter(action="risk.set").count(), 1)

    def test_risk_to_life_needs_a_confirmation_then_alerts_the_duty_counsellor_once(self):
        s = self.opened()
        r = self.record(s, risk="life")
        self.assertEqual(r.status_code, 400)
        self.assertIn("risk_confirmed", r.json())
        s.refresh_from_db()
        self.assertEqual((s.notes, s.risk), ("", ""))
        self.assertIsNone(RiskEntry.current_for(self.student_a1))
        r = self.record(s, risk="life", risk_confirmed=True)
        self.assertEqual(r.status_code, 200, r.content)
        self.assertTrue(r.json()["alerted"])
        self.assertEqual(RiskEntry.current_for(self.student_a1).level, "red")
        concern = Concern.objects.get()
        self.assertEqual((concern.student_id, concern.reporter_id, concern.urgency), (self.student_a1.pk, self.psy.pk,
                                                                                      "now"))
        self.assertNotIn(NOTES, concern.seen)
        self.assertEqual(Alert.objects.filter(student=self.student_a1).count(), 1)
        # Nobody is on care's duty rota in the fixtures: the director is the duty counsellor.
        told = Delivery.objects.filter(recipient=self.director, channel="inbox", message=URGENT_SESSION)
        self.assertEqual(told.count(), 1)
        self.assertNotIn(NOTES, str(told.get().params))
        self.record(s, risk="life", risk_confirmed=True, notes="again")
        self.assertEqual(Concern.objects.count(), 1)

    def test_a_family_session_records_who_came(self):
        self.as_user(self.psy)
        s = Session.objects.get(pk=self.client.post(reverse("counseling-api:sessions"),
                                                    {"client": "S0004", "kind": "family"},
                                                    content_type="application/json").json()["id"])
        self.assertEqual(self.record(s, family_present="母亲、父亲").status_code, 200)
        s.refresh_from_db()
        self.assertEqual(s.family_present, "母亲、父亲")
        other = self.opened()
        self.assertEqual(self.record(other, family_present="母亲").status_code, 400)


class ReadingTests(SessionsBase):
    def test_only_the_counsellor_the_director_and_the_supervisor_read_the_record(self):
        s = self.opened()
        self.record(s)
        readers = {"psy": self.psy, "director": self.director}
        for name, user in readers.items():
            self.as_user(user)
            body = self.client.get(reverse("counseling-api:session", args=[s.pk])).json()
            self.assertEqual(body["record"]["notes"], NOTES, name)
            self.assertContains(self.client.get(reverse("counseling:session", args=[s.pk])), NOTES)
        self.as_user(self.supervisor)
        self.assertEqual(self.client.get(reverse("counseling-api:session", args=[s.pk])).status_code, 404)
        Episode.objects.filter(pk=s.episode_id).update(supervisor=self.supervisor)
        body = self.client.get(reverse("counseling-api:session", args=[s.pk])).json()
        self.assertEqual((body["record"]["notes"], body["may_write"]), (NOTES, False))
        page = self.client.get(reverse("counseling:session", args=[s.pk]))
        self.assertContains(page, NOTES)
        self.assertNotContains(page, "record-form")
        self.assertEqual(self.record(s, by=self.supervisor).status_code, 403)
        # Another counsellor of the centre knows the session exists, never its record.
        self.as_user(self.psy2)
        body = self.client.get(reverse("counseling-api:session", args=[s.pk])).json()
        self.assertEqual((body["record"], body["risk"]), (None, None))
        self.assertNotContains(self.client.get(reverse("counseling:session", args=[s.pk])), NOTES)
        reads = AuditEvent.objects.filter(action="counseling.session.record.read", object_id=str(s.pk))
        self.assertEqual(sorted(set(reads.values_list("actor_id", flat=True))),
                         sorted([self.psy.pk, self.director.pk, self.supervisor.pk]))
        self.assertEqual(reads.count(), 6)  # one per read

    def test_lists_show_who_and_when_never_the_record(self):
        s = self.opened()
        self.record(s)
        for user in (self.director, self.psy, self.psy2):
            self.as_user(user)
            rows = self.client.get(reverse("counseling-api:sessions")).json()
            self.assertEqual([r["id"] for r in rows], [s.pk])
            self.assertNotIn(NOTES, str(rows))
            self.assertNotContains(self.client.get(reverse("counseling:sessions")), NOTES)
            self.assertNotContains(self.client.get(reverse("counseling:day") + f"?date={s.starts_at.date()}"), NOTES)
        self.assertFalse(AuditEvent.objects.filter(action="counseling.session.record.read").exists())
        for user in (self.counsellor_a, self.head_teacher_a1, self.student_a1.user, self.committee_a1):
            self.as_user(user)
            self.assertEqual(self.client.get(reverse("counseling-api:sessions")).status_code, 404)
            self.assertEqual(self.client.get(reverse("counseling:day")).status_code, 404)
            self.assertEqual(self.client.get(reverse("counseling:session", args=[s.pk])).status_code, 404)


class GroupTests(SessionsBase):
    def group(self, capacity=2) -> CounselingGroup:
        self.as_user(self.psy)
        r = self.client.post(reverse("counseling-api:groups"), {"name": "考试焦虑小组", "capacity": capacity},
                             content_type="application/json")
        self.assertEqual(r.status_code, 201, r.content)
        return CounselingGroup.objects.get(pk=r.json()["id"])

    def add(self, g, number):
        return self.client.post(reverse("counseling-api:group-members", args=[g.pk]), {"client": number},
                                content_type="application/json")

    def test_capacity_is_held_with_a_clear_message(self):
        g = self.group(2)
        self.assertEqual(self.add(g, "S0001").status_code, 201)
        self.assertEqual(self.add(g, "S0001").status_code, 409)  # already a member
        self.assertEqual(self.add(g, "S0004").status_code, 201)
        r = self.client.post(reverse("counseling-api:group-members", args=[g.pk]), {"client": "S0003"},
                             content_type="application/json", headers={"accept-language": "en"})
        self.assertEqual(r.status_code, 409)
        self.assertIn("The group is full (2 places)", r.json()["detail"])
        r = self.add(g, "S0003")
        self.assertIn("已满", r.json()["detail"])
        self.assertEqual(GroupMember.objects.filter(group=g, left_at__isnull=True).count(), 2)
        page = self.client.post(reverse("counseling:group-members", args=[g.pk]), {"client": "S0003"})
        self.assertContains(page, "已满", status_code=409)
        member = GroupMember.objects.get(group=g, client=self.student_a1.user)
        self.client.post(reverse("counseling-api:group-member-remove", args=[g.pk, member.pk]))
        self.assertEqual(self.add(g, "S0003").status_code, 201)
        self.assertEqual(self.add(g, "S0900").status_code, 404)  # not a client of the centre

    def test_the_group_row_is_locked_before_counting(self):
        """The guard is in the database: SELECT … FOR UPDATE on the group's row (PostgreSQL);
        SQLite, which has no row locks, lets one writer at a time."""
        g = self.group(3)
        with CaptureQueriesContext(connection) as queries:
            self.add(g, "S0001")
        sql = [q["sql"] for q in queries.captured_queries if "counseling_counselinggroup" in q["sql"]]
        if connection.features.has_select_for_update:
            self.assertTrue(any("FOR UPDATE" in q for q in sql), sql)
        else:
            self.assertTrue(sql)

    def test_a_meeting_has_a_row_per_member_and_attendance_per_member(self):
        g = self.group(5)
        self.add(g, "S0001")
        self.add(g, "S0004")
        r = self.client.post(reverse("counseling-api:group-meetings", args=[g.pk]),
                             {"starts_at": "2026-12-20T15:00", "minutes": 90, "mode": "online"},
                             content_type="application/json")
        self.assertEqual(r.status_code, 201, r.content)
        meeting = Session.objects.get(pk=r.json()["id"])
        self.assertEqual((meeting.kind, meeting.group_id, meeting.episode_id), ("group", g.pk, None))
        rows = GroupAttendance.objects.filter(session=meeting)
        self.assertEqual(rows.count(), 2)
        member = rows.first().member
        url = reverse("counseling-api:session-attendance", args=[meeting.pk])
        self.assertEqual(self.client.post(url, {"attendance": "attended"}, content_type="application/json").status_code,
                         400)  # which member?
        self.client.post(url, {"attendance": "attended", "member": member.pk}, content_type="application/json")
        self.assertEqual(GroupAttendance.objects.get(session=meeting, member=member).attendance, "attended")
        self.assertEqual(self.record(meeting, risk="red").status_code, 400)  # a group's risk is a member's own
        detail = self.client.get(reverse("counseling-api:group", args=[g.pk])).json()
        self.assertEqual(detail["attendance"][str(meeting.pk)][str(member.pk)], "attended")
        page = self.client.get(reverse("counseling:group", args=[g.pk]))
        self.assertContains(page, 'id="grid"')
        self.assertContains(page, "张小明")
        self.as_user(self.psy2)
        self.assertEqual(self.add(g, "S0003").status_code, 403)
        self.as_user(self.counsellor_a)
        self.assertEqual(self.client.get(reverse("counseling-api:group", args=[g.pk])).status_code, 404)
        self.assertEqual(self.client.get(reverse("counseling:groups")).status_code, 404)

    def test_bad_group_input(self):
        self.as_user(self.psy)
        r = self.client.post(reverse("counseling-api:groups"), {"name": "", "capacity": 100},
                             content_type="application/json")
        self.assertEqual(r.status_code, 400)
        self.assertEqual(set(r.json()) - {"detail"}, {"name", "capacity"})
        page = self.client.post(reverse("counseling:groups"), {"name": "x", "capacity": "1"})
        self.assertContains(page, "2", status_code=400)
        self.assertEqual(CounselingGroup.objects.count(), 0)


class DayViewTests(SessionsBase):
    def test_the_day_in_time_order_with_one_tap_attendance(self):
        later = Booking.objects.create(slot=self.slots[2], client=self.student_a2.user, student=self.student_a2,
                                       starts_at=self.slots[2].starts_at, topic="z")
        day = self.slots[0].local_start.date().isoformat()
        self.as_user(self.psy)
        page = self.client.get(reverse("counseling:day") + f"?date={day}")
        body = page.content.decode()
        self.assertLess(body.index(f'data-booking="{self.booking.pk}"'), body.index(f'data-booking="{later.pk}"'))
        # Without JavaScript: a form post, back to the day.
        r = self.client.post(reverse("counseling:day-booking-attendance", args=[self.booking.pk]),
                             {"attendance": "attended", "back": "day"})
        self.assertRedirects(r, reverse("counseling:day") + f"?date={day}", fetch_redirect_response=False)
        s = Session.objects.get(booking=self.booking)
        self.assertEqual(s.attendance, "attended")
        # With htmx: the line comes back.
        r = self.client.post(reverse("counseling:day-booking-attendance", args=[later.pk]),
                             {"attendance": "no_show", "back": "day"}, headers={"HX-Request": "true"})
        self.assertContains(r, 'data-session=')
        self.assertContains(r, 'aria-pressed="true"')
        r = self.client.post(reverse("counseling:session-attendance", args=[s.pk]), {"attendance": "cancelled",
                                                                                     "back": "day"},
                             headers={"HX-Request": "true"})
        self.assertContains(r, f'data-session="{s.pk}"')
        s.refresh_from_db()
        self.assertEqual(s.attendance, "cancelled")
        page = self.client.get(reverse("counseling:day") + f"?date={day}")
        self.assertContains(page, reverse("counseling:session", args=[s.pk]))
        self.assertEqual(self.client.get(reverse("counseling:day") + "?date=soon").status_code, 400)

    def test_the_session_form_saves_and_asks_to_confirm_a_risk_to_life(self):
        s = self.opened()
        url = reverse("counseling:session", args=[s.pk])
        data = {"presenting": "p", "assessment": "a", "intervention": "i", "plan": "pl", "notes": NOTES, "risk": "life"}
        r = self.client.post(url, data, headers={"accept-language": "en"})
        self.assertContains(r, "Confirm the risk to life", status_code=400)
        self.assertContains(r, NOTES, status_code=400)  # what was typed is kept
        s.refresh_from_db()
        self.assertEqual(s.notes, "")
        r = self.client.post(url, {**data, "risk": "yellow"})
        self.assertRedirects(r, url, fetch_redirect_response=False)
        s.refresh_from_db()
        self.assertEqual((s.notes, s.risk), (NOTES, "yellow"))
        self.assertEqual(RiskEntry.current_for(self.student_a1).level, "yellow")

    def test_a_walk_in_from_the_page(self):
        self.as_user(self.psy)
        self.assertContains(self.client.get(reverse("counseling:session-new")), "walk-in-form")
        start = (timezone.localtime(timezone.now()) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
        r = self.client.post(reverse("counseling:session-new"), {"client": "S0004", "kind": "individual",
                                                                 "starts_at": start, "minutes": "50", "mode": "room",
                                                                 "room": str(self.room.pk)})
        s = Session.objects.get()
        self.assertRedirects(r, reverse("counseling:session", args=[s.pk]), fetch_redirect_response=False)
        self.assertEqual(s.room_id, self.room.pk)

    def test_a_soon_slot_is_on_todays_list(self):
        soon = slot_in(self.psy, self.school, 0.5)
        Booking.objects.create(slot=soon, client=self.student_a2.user, starts_at=soon.starts_at, topic="q")
        self.as_user(self.psy)
        self.assertContains(self.client.get(reverse("counseling:day") + f"?date={soon.local_start.date()}"), "赵磊")


class RoleTests(SessionsBase):
    def test_a_director_of_another_school_does_not_reach_it(self):
        other = make_staff("T1040", "外校主任", Role.CENTRE_DIRECTOR, self.school2)
        s = self.opened()
        self.as_user(other)
        self.assertEqual(self.client.get(reverse("counseling-api:session", args=[s.pk])).status_code, 404)
        self.assertEqual(self.client.get(reverse("counseling-api:sessions")).json(), [])


class DayViewQueryTests(SessionsBase):
    def count(self, day: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            self.assertEqual(self.client.get(reverse("counseling:day") + f"?date={day}").status_code, 200)
        return len(queries.captured_queries)

    def test_the_day_view_reads_a_fixed_number_of_queries(self):
        self.as_user(self.psy)
        day = self.slots[0].local_start.date().isoformat()
        self.opened()
        few = self.count(day)
        for i, number in enumerate(("S0002", "S0003", "S0004")):
            self.client.post(reverse("counseling-api:sessions"),
                             {"client": number, "starts_at": f"{day}T{14 + i}:00", "kind": "family" if i else ""},
                             content_type="application/json")
        self.as_user(self.psy)
        g = CounselingGroup.objects.create(school=self.school, counsellor=self.psy, name="g", capacity=5)
        member = GroupMember.objects.create(group=g, client=self.student_a2.user, student=self.student_a2)
        meeting = Session.objects.create(school=self.school, counsellor=self.psy, kind="group", group=g,
                                         starts_at=self.slots[2].starts_at)
        GroupAttendance.objects.create(session=meeting, member=member)
        self.assertEqual(Session.objects.count(), 5)
        self.assertEqual(self.count(day), few)
