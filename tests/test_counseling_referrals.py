"""Referral in and out, leave and return to school, closing an episode and the client's anonymous
satisfaction answer (issue 11; xinlian/counseling/actions_referrals.py and its pages and API)."""

from __future__ import annotations

import datetime as dt
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from xinlian.access.models import AuditEvent
from xinlian.care.models import Alert, AlertSource, Case, Level, RiskEntry, RiskLevel
from xinlian.counseling.access import in_counselling
from xinlian.counseling.models import (
    Episode,
    EpisodeSource,
    Feedback,
    FeedbackInvite,
    Hospital,
    LeaveOfAbsence,
    ReferralIn,
    ReferralOut,
    ReturnAssessment,
)
from xinlian.network.models import Unit
from xinlian.notify.models import Delivery

from .screening_base import ScreeningTestCase
from .test_care_pages import with_safety_plan
from .test_counseling_base import CounselingTestCase


class ReferralTestCase(CounselingTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.hospital = Hospital.objects.create(school=cls.school, name="市精神卫生中心", department="心理门诊",
                                               phone="020-12345678")

    def refer(self, persona_or_user, **data):
        user = self.persona(persona_or_user) if isinstance(persona_or_user, str) else persona_or_user
        self.client.force_login(user)
        return self.client.post(reverse("counseling-api:referrals"), data, content_type="application/json")

    def episode(self, client=None, counsellor=None, **kw) -> Episode:
        client = client or self.student_a1.user
        student = kw.pop("student", self.student_a1 if client == self.student_a1.user else None)
        return Episode.objects.create(school=self.school, client=client, student=student,
                                      counsellor=counsellor or self.psy, **kw)


class ReferInTests(ReferralTestCase):
    def test_the_fudaoyuan_refers_from_an_alert_they_hold_and_the_queue_is_told(self):
        alert = Alert.raise_for(self.student_a1, Level.YELLOW, AlertSource.COUNSELLOR)
        self.client.force_login(self.persona("counsellor_a"))
        page = self.client.get(reverse("alert-detail", args=[alert.pk]))
        self.assertContains(page, 'id="refer-to-counselling"')
        done = self.client.post(reverse("counseling:referral-new"), {"alert": alert.pk, "reason": "MKR-reason-1",
                                                                     "to_counsellor": "queue"})
        self.assertRedirects(done, reverse("alert-detail", args=[alert.pk]), fetch_redirect_response=False)
        referral = ReferralIn.objects.get()
        self.assertEqual((referral.source, referral.alert_id, referral.student_id, referral.status),
                         ("alert", alert.pk, self.student_a1.pk, "new"))
        self.assertEqual(referral.reason, "MKR-reason-1")
        with connection.cursor() as cur:
            cur.execute("SELECT reason FROM counseling_referralin")
            self.assertNotIn("MKR-reason-1", cur.fetchone()[0])
        told = Delivery.objects.filter(message__contains="referral is waiting", channel="inbox")
        self.assertEqual({d.recipient_id for d in told}, {self.psy.pk, self.psy2.pk, self.director.pk})
        self.assertFalse(any("MKR" in (d.message + str(d.params) + d.link) for d in Delivery.objects.all()))
        self.assertTrue(AuditEvent.objects.filter(action="counseling.referral.new").exists())
        # The queue is counselling staff's: not the referrer's.
        self.assertEqual(self.client.get(reverse("counseling:referrals")).status_code, 404)

    def test_refer_from_an_alert_one_cannot_see_is_404_and_nothing_is_written(self):
        alert = Alert.raise_for(self.student_a1, Level.YELLOW, AlertSource.COUNSELLOR)
        self.assertEqual(self.refer("outsider_b", alert=alert.pk, reason="x").status_code, 404)
        self.assertFalse(ReferralIn.objects.exists())

    def test_from_a_case_its_team(self):
        case = Case.open_for(self.student_a1, by=self.director)
        self.client.force_login(self.director)
        self.assertContains(self.client.get(reverse("case-detail", args=[case.pk])), 'id="refer-to-counselling"')
        done = self.refer("director", case=case.pk, reason="从个案转介", to_counsellor=self.psy.pk)
        self.assertEqual(done.status_code, 201, done.content)
        referral = ReferralIn.objects.get()
        self.assertEqual((referral.source, referral.case_id, referral.to_counsellor_id), ("case", case.pk, self.psy.pk))

    def test_by_hand_counselling_staff_only(self):
        self.client.force_login(self.psy)
        page = self.client.post(reverse("counseling:referral-new"), {"number": self.student_a1.number,
                                                                     "reason": "手工转介"})
        self.assertRedirects(page, reverse("counseling:referrals"), fetch_redirect_response=False)
        self.assertEqual(ReferralIn.objects.get().source, "hand")
        for persona in ("counsellor_a", "head_teacher_a1", "college_lead_a"):
            self.client.force_login(self.persona(persona))
            self.assertEqual(self.client.get(reverse("counseling:referral-new")).status_code, 404)
            self.assertEqual(self.refer(persona, student=self.student_a2.pk, reason="x").status_code, 404)
        self.assertEqual(ReferralIn.objects.count(), 1)

    def test_bad_input_is_refused_in_both_languages_and_nothing_is_written(self):
        self.client.force_login(self.psy)
        zh = self.client.post(reverse("counseling:referral-new"), {"number": self.student_a1.number, "reason": ""})
        self.assertContains(zh, "请说明转介的原因", status_code=400)
        en = self.client.post(reverse("counseling:referral-new"), {"number": self.student_a1.number, "reason": ""},
                              HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(en, "Say why you refer the student to counselling.", status_code=400)
        unknown = self.client.post(reverse("counseling:referral-new"), {"number": "NOPE", "reason": "x"},
                                   HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(unknown, "No student of your school has this number.", status_code=400)
        bad_to = self.refer(self.psy, student=self.student_a1.pk, reason="x", to_counsellor=self.teacher_a.pk)
        self.assertEqual(bad_to.status_code, 400)
        self.assertIn("to_counsellor", bad_to.json())
        self.assertFalse(ReferralIn.objects.exists())

    def test_a_second_waiting_referral_is_a_conflict(self):
        self.assertEqual(self.refer(self.psy, student=self.student_a1.pk, reason="one").status_code, 201)
        again = self.refer(self.psy2, student=self.student_a1.pk, reason="two")
        self.assertEqual(again.status_code, 409)
        self.assertEqual(ReferralIn.objects.count(), 1)


class AcceptDeclineTests(ReferralTestCase):
    def new(self, **kw) -> ReferralIn:
        return ReferralIn.objects.create(school=self.school, client=self.student_a1.user, student=self.student_a1,
                                         reason="r", referred_by=self.psy, **kw)

    def test_accept_opens_an_episode_from_the_referral_once(self):
        referral = self.new()
        self.client.force_login(self.psy2)
        queue = self.client.get(reverse("counseling:referrals"))
        self.assertContains(queue, f'data-referral="{referral.pk}"')
        page = self.client.post(reverse("counseling:referral-accept", args=[referral.pk]))
        episode = Episode.objects.get()
        self.assertRedirects(page, reverse("counseling:episode-close", args=[episode.pk]), fetch_redirect_response=False)
        self.assertEqual((episode.counsellor_id, episode.source, episode.client_id),
                         (self.psy2.pk, EpisodeSource.REFERRAL, self.student_a1.user_id))
        referral.refresh_from_db()
        self.assertEqual((referral.status, referral.episode_id), ("accepted", episode.pk))
        again = self.client.post(reverse("counseling-api:referral-accept", args=[referral.pk]))
        self.assertEqual(again.status_code, 409)
        self.assertEqual(Episode.objects.count(), 1)

    def test_accept_joins_the_open_episode_of_that_counsellor(self):
        open_one = self.episode(counsellor=self.psy)
        referral = self.new(to_counsellor=self.psy)
        self.client.force_login(self.psy)
        self.assertEqual(self.client.post(reverse("counseling-api:referral-accept", args=[referral.pk])).status_code, 200)
        referral.refresh_from_db()
        self.assertEqual(referral.episode_id, open_one.pk)
        self.assertEqual(Episode.objects.count(), 1)

    def test_a_referral_to_one_counsellor_is_theirs_or_the_directors(self):
        referral = self.new(to_counsellor=self.psy)
        self.client.force_login(self.psy2)
        self.assertEqual(self.client.post(reverse("counseling-api:referral-accept", args=[referral.pk])).status_code, 403)
        self.client.force_login(self.director)
        done = self.client.post(reverse("counseling-api:referral-accept", args=[referral.pk]),
                                {"counsellor": self.psy2.pk}, content_type="application/json")
        self.assertEqual(done.status_code, 200)
        self.assertEqual(Episode.objects.get().counsellor_id, self.psy2.pk)

    def test_outside_counselling_the_referral_is_missing(self):
        referral = self.new()
        for persona in ("counsellor_a", "head_teacher_a1", "college_lead_a", "student_a1_user"):
            self.client.force_login(self.persona(persona))
            self.assertEqual(self.client.post(reverse("counseling-api:referral-accept", args=[referral.pk])).status_code,
                             404)
        self.assertFalse(Episode.objects.exists())

    def test_decline_needs_a_reason(self):
        referral = self.new()
        self.client.force_login(self.psy)
        bad = self.client.post(reverse("counseling-api:referral-decline", args=[referral.pk]), {"reason": ""},
                               content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(bad.status_code, 400)
        self.assertEqual(bad.json()["reason"], ["Say why the referral is declined."])
        ok = self.client.post(reverse("counseling:referral-decline", args=[referral.pk]), {"reason": "不在服务范围"})
        self.assertEqual(ok.status_code, 302)
        referral.refresh_from_db()
        self.assertEqual((referral.status, referral.decline_reason), ("declined", "不在服务范围"))
        self.assertFalse(Episode.objects.exists())


class HospitalTests(ReferralTestCase):
    def test_the_director_edits_the_directory_counsellors_read_it(self):
        self.client.force_login(self.director)
        page = self.client.post(reverse("counseling:hospitals"), {"name": "第二人民医院", "department": "精神科",
                                                                  "phone": "020-1", "is_active": "on"})
        self.assertEqual(page.status_code, 302)
        added = Hospital.objects.get(name="第二人民医院")
        dup = self.client.post(reverse("counseling-api:hospitals"), {"name": "第二人民医院", "department": "精神科"},
                               content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(dup.status_code, 400)
        off = self.client.post(reverse("counseling-api:hospital", args=[added.pk]),
                               {"name": "第二人民医院", "department": "精神科", "is_active": False},
                               content_type="application/json")
        self.assertEqual(off.json()["is_active"], False)
        self.client.force_login(self.psy)
        self.assertContains(self.client.get(reverse("counseling:hospitals")), "第二人民医院")
        refused = self.client.post(reverse("counseling-api:hospitals"), {"name": "X"}, content_type="application/json")
        self.assertEqual(refused.status_code, 403)
        self.client.force_login(self.persona("counsellor_a"))
        self.assertEqual(self.client.get(reverse("counseling:hospitals")).status_code, 404)
        empty = self.client.post(reverse("counseling:hospitals"), {"name": ""})
        self.assertEqual(empty.status_code, 404)
        self.assertEqual(Hospital.objects.count(), 2)


class ReferOutTests(ReferralTestCase):
    def test_refer_out_print_the_letter_record_the_outcome(self):
        episode = self.episode()
        self.client.force_login(self.psy)
        page = self.client.post(reverse("counseling:referral-out-new", args=[episode.pk]),
                                {"hospital": self.hospital.pk, "letter": "MKR-letter 请接诊", "sent_on": ""})
        out = ReferralOut.objects.get()
        self.assertRedirects(page, reverse("counseling:referral-out", args=[out.pk]), fetch_redirect_response=False)
        letter = self.client.get(reverse("counseling:referral-letter", args=[out.pk]))
        self.assertContains(letter, "MKR-letter 请接诊")
        self.assertContains(letter, "市精神卫生中心")
        self.client.post(reverse("counseling:referral-out", args=[out.pk]),
                         {"outcome": "seen", "diagnosis_note": "MKR-diagnosis", "sent_on": "2026-11-02"})
        out.refresh_from_db()
        self.assertEqual((out.outcome, out.diagnosis_note, out.sent_on), ("seen", "MKR-diagnosis", dt.date(2026, 11, 2)))
        self.assertTrue(AuditEvent.objects.filter(action="counseling.referral_out.letter").exists())

    def test_tier_five_the_other_counsellor_neither_writes_nor_reads(self):
        episode = self.episode()
        out = ReferralOut.objects.create(school=self.school, episode=episode, client=episode.client,
                                         hospital=self.hospital, letter="MKR-L", diagnosis_note="MKR-D",
                                         created_by=self.psy)
        self.client.force_login(self.psy2)
        self.assertEqual(self.client.post(reverse("counseling-api:referral-out-new", args=[episode.pk]),
                                          {"hospital": self.hospital.pk, "letter": "x"},
                                          content_type="application/json").status_code, 403)
        for name in ("counseling:referral-out", "counseling:referral-letter", "counseling-api:referral-out"):
            self.assertEqual(self.client.get(reverse(name, args=[out.pk])).status_code, 404, name)
        self.assertNotContains(self.client.get(reverse("counseling:episode-close", args=[episode.pk])), "MKR-")
        Episode.objects.filter(pk=episode.pk).update(supervisor=self.psy2)
        self.assertContains(self.client.get(reverse("counseling:referral-out", args=[out.pk])), "MKR-D")
        self.client.force_login(self.director)
        self.assertEqual(self.client.get(reverse("counseling-api:referral-out", args=[out.pk])).json()["diagnosis_note"],
                         "MKR-D")
        self.assertEqual(AuditEvent.objects.filter(action="counseling.referral_out.read", result="denied").count(), 2)

    def test_bad_input_nothing_written(self):
        episode = self.episode()
        other_school = Hospital.objects.create(school=Unit.objects.exclude(pk=self.school.pk).filter(
            kind="school").first() or self.school, name="别处医院")
        self.client.force_login(self.psy)
        for data in ({"hospital": "", "letter": "x"}, {"hospital": self.hospital.pk, "letter": ""},
                     {"hospital": self.hospital.pk, "letter": "x", "sent_on": "昨天"}):
            bad = self.client.post(reverse("counseling:referral-out-new", args=[episode.pk]), data,
                                   HTTP_ACCEPT_LANGUAGE="en")
            self.assertEqual(bad.status_code, 400, data)
        if other_school.school_id != self.school.pk:
            bad = self.client.post(reverse("counseling-api:referral-out-new", args=[episode.pk]),
                                   {"hospital": other_school.pk, "letter": "x"}, content_type="application/json")
            self.assertEqual(bad.status_code, 400)
        self.assertFalse(ReferralOut.objects.exists())


class CloseAndReturnTests(ReferralTestCase):
    def test_close_is_refused_after_a_leave_until_the_return_assessment(self):
        episode = self.episode()
        Episode.objects.filter(pk=episode.pk).update(opened_at=timezone.now() - dt.timedelta(days=120))
        today = timezone.localdate()
        self.client.force_login(self.psy)
        self.client.post(reverse("counseling:return", args=[self.student_a1.pk]),
                         {"what": "leave", "left_on": (today - dt.timedelta(days=60)).isoformat(), "episode": episode.pk})
        leave = LeaveOfAbsence.objects.get()
        self.client.post(reverse("counseling:return", args=[self.student_a1.pk]),
                         {"what": "leave", "leave": leave.pk, "returned_on": (today - dt.timedelta(days=3)).isoformat()})
        leave.refresh_from_db()
        self.assertEqual(leave.returned_on, today - dt.timedelta(days=3))
        zh = self.client.post(reverse("counseling:episode-close", args=[episode.pk]), {"summary": "MKR-summary"})
        self.assertContains(zh, "复学评估", status_code=409)
        en = self.client.post(reverse("counseling-api:episode-close", args=[episode.pk]), {"summary": "MKR-summary"},
                              content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(en.status_code, 409)
        self.assertIn("return-to-school assessment", en.json()["detail"])
        episode.refresh_from_db()
        self.assertEqual((episode.status, episode.closing_summary), ("open", ""))
        bad = self.client.post(reverse("counseling:return", args=[self.student_a1.pk]),
                               {"what": "assessment", "text": "", "recommendation": "maybe"}, HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(bad, "Choose a recommendation.", status_code=400)
        self.client.post(reverse("counseling:return", args=[self.student_a1.pk]),
                         {"what": "assessment", "text": "MKR-return 可以复学", "recommendation": "support",
                          "episode": episode.pk})
        self.assertEqual(ReturnAssessment.objects.get().episode_id, episode.pk)
        done = self.client.post(reverse("counseling:episode-close", args=[episode.pk]), {"summary": "MKR-summary"})
        self.assertEqual(done.status_code, 302)
        episode.refresh_from_db()
        self.assertEqual((episode.status, episode.closing_summary, episode.closed_by_id),
                         ("closed", "MKR-summary", self.psy.pk))

    def test_a_student_still_on_leave_or_never_away_closes(self):
        episode = self.episode()
        self.client.force_login(self.psy)
        empty = self.client.post(reverse("counseling-api:episode-close", args=[episode.pk]), {"summary": " "},
                                 content_type="application/json")
        self.assertEqual(empty.status_code, 400)
        done = self.client.post(reverse("counseling-api:episode-close", args=[episode.pk]), {"summary": "好转"},
                                content_type="application/json")
        self.assertEqual(done.status_code, 200)
        self.assertEqual(done.json()["status"], "closed")
        again = self.client.post(reverse("counseling-api:episode-close", args=[episode.pk]), {"summary": "x"},
                                 content_type="application/json")
        self.assertEqual(again.status_code, 409)

    def test_closing_summary_is_tier_five(self):
        episode = self.episode(status="closed", closed_at=timezone.now(), closing_summary="MKR-closing")
        self.client.force_login(self.psy)
        self.assertContains(self.client.get(reverse("counseling:episode-close", args=[episode.pk])), "MKR-closing")
        self.client.force_login(self.psy2)
        page = self.client.get(reverse("counseling:episode-close", args=[episode.pk]))
        self.assertEqual(page.status_code, 200)
        self.assertNotContains(page, "MKR-closing")
        self.assertEqual(self.client.post(reverse("counseling-api:episode-close", args=[episode.pk]),
                                          {"summary": "x"}, content_type="application/json").status_code, 403)
        self.client.force_login(self.director)
        self.assertContains(self.client.get(reverse("counseling:episode-close", args=[episode.pk])), "MKR-closing")
        self.assertEqual(AuditEvent.objects.filter(action="counseling.episode.summary.read").count(), 2)
        for persona in ("counsellor_a", "head_teacher_a1", "student_a1_user"):
            self.client.force_login(self.persona(persona))
            self.assertEqual(self.client.get(reverse("counseling:episode-close", args=[episode.pk])).status_code, 404)


class WaitingReferralsOnHomeTests(ReferralTestCase):
    def test_the_counsellor_sees_how_many_wait_and_nobody_else_does(self):
        ReferralIn.objects.create(school=self.school, client=self.student_a1.user, student=self.student_a1,
                                  reason="MKR-reason", referred_by=self.director)
        self.client.force_login(self.psy)
        home = self.client.get(reverse("home"))
        self.assertContains(home, "1 个转介待处理")
        self.assertContains(home, reverse("counseling:referrals"))
        self.assertNotContains(home, "MKR-reason")
        self.client.force_login(self.persona("counsellor_a"))  # the 辅导员
        self.assertNotContains(self.client.get(reverse("home")), "转介待处理")


class CaseClosureAfterLeaveTests(ReferralTestCase):
    """A crisis case does not close while its student came back from a leave of absence without a
    return-to-school assessment (care asks through RETURN_CHECKS; counselling knows)."""

    def test_case_closure_waits_for_the_return_assessment(self):
        case = Case.open_for(self.student_a1, by=self.director)
        Case.objects.filter(pk=case.pk).update(opened_at=timezone.now() - dt.timedelta(days=120))
        with_safety_plan(case, self.director)
        today = timezone.localdate()
        LeaveOfAbsence.objects.create(school=self.school, student=self.student_a1, recorded_by=self.psy,
                                      left_on=today - dt.timedelta(days=60),
                                      returned_on=today - dt.timedelta(days=2))
        self.client.force_login(self.director)
        closure = reverse("care-api:case-request-closure", args=[case.pk])
        refused = self.client.post(closure, {"summary": "稳定"}, content_type="application/json",
                                   HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(refused.status_code, 409)
        self.assertIn("came back from a leave of absence", refused.json()["detail"])
        zh = self.client.post(closure, {"summary": "稳定"}, content_type="application/json",
                              HTTP_ACCEPT_LANGUAGE="zh-hans")
        self.assertIn("复学评估", zh.json()["detail"])
        case.refresh_from_db()
        self.assertEqual(case.status, "open")
        page = self.client.get(case.get_absolute_url())
        self.assertContains(page, "复学评估")
        # An assessment from before the leave began does not count; one since then does.
        ReturnAssessment.objects.create(school=self.school, student=self.student_a1, case=case,
                                        assessed_on=today - dt.timedelta(days=90), assessed_by=self.psy,
                                        text="MKR-old", recommendation="return")
        self.assertEqual(self.client.post(closure, {"summary": "稳定"}, content_type="application/json").status_code,
                         409)
        ReturnAssessment.objects.create(school=self.school, student=self.student_a1, case=case,
                                        assessed_on=today, assessed_by=self.psy, text="MKR-new",
                                        recommendation="support")
        done = self.client.post(closure, {"summary": "稳定"}, content_type="application/json")
        self.assertEqual(done.status_code, 200)
        self.assertEqual(done.json()["status"], "review")

    def test_a_leave_before_the_case_or_still_on_leave_asks_nothing(self):
        today = timezone.localdate()
        case = Case.open_for(self.student_a1, by=self.director)
        LeaveOfAbsence.objects.create(school=self.school, student=self.student_a1, recorded_by=self.psy,
                                      left_on=today - dt.timedelta(days=400),
                                      returned_on=today - dt.timedelta(days=300))
        LeaveOfAbsence.objects.create(school=self.school, student=self.student_a1, recorded_by=self.psy,
                                      left_on=today - dt.timedelta(days=1))
        self.assertNotIn("return_after_leave", case.closure_missing())


class FeedbackTests(ReferralTestCase):
    def close_with_link(self, client=None) -> tuple[Episode, str]:
        episode = self.episode(client=client)
        self.client.force_login(self.psy)
        self.client.post(reverse("counseling:episode-close", args=[episode.pk]),
                         {"summary": "好转", "send_feedback": "on"})
        delivery = Delivery.objects.get(recipient=episode.client, channel="inbox", message__contains="anonymously")
        token = re.search(r"/feedback/([^/]+)/", delivery.link).group(1)
        return episode, token

    def test_the_client_answers_once_anonymously(self):
        episode, token = self.close_with_link()
        self.assertEqual(FeedbackInvite.objects.get().episode_id, episode.pk)
        self.assertNotEqual(FeedbackInvite.objects.get().token_hash, token)
        self.client.force_login(self.student_a1.user)
        page = self.client.get(reverse("counseling:feedback", args=[token]))
        self.assertContains(page, 'id="feedback-form"')
        bad = self.client.post(reverse("counseling:feedback", args=[token]), {"score": "9"}, HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(bad, "Choose from 1 (not at all) to 5 (very much).", status_code=400)
        self.assertFalse(Feedback.objects.exists())
        done = self.client.post(reverse("counseling:feedback", args=[token]), {"score": "5", "comment": "MKR-comment"})
        self.assertContains(done, 'id="feedback-done"')
        answer = Feedback.objects.get()
        self.assertEqual((answer.counsellor_id, answer.score, answer.comment), (self.psy.pk, 5, "MKR-comment"))
        self.assertEqual({f.name for f in Feedback._meta.get_fields()},
                         {"id", "school", "counsellor", "score", "comment", "month"})
        self.assertTrue(FeedbackInvite.objects.get().used)
        again = self.client.post(reverse("counseling-api:feedback"), {"token": token, "score": 1},
                                 content_type="application/json")
        self.assertEqual(again.status_code, 409)
        self.assertEqual(Feedback.objects.count(), 1)
        self.client.force_login(self.student_a2.user)
        self.assertEqual(self.client.get(reverse("counseling:feedback", args=[token])).status_code, 404)

    def test_the_link_is_sent_once_and_only_for_a_closed_episode(self):
        episode = self.episode()
        self.client.force_login(self.psy)
        self.assertEqual(self.client.post(reverse("counseling:feedback-link", args=[episode.pk])).status_code, 302)
        self.assertFalse(FeedbackInvite.objects.exists())
        Episode.objects.filter(pk=episode.pk).update(status="closed", closed_at=timezone.now())
        self.client.post(reverse("counseling:feedback-link", args=[episode.pk]))
        self.client.post(reverse("counseling:feedback-link", args=[episode.pk]))
        self.assertEqual(FeedbackInvite.objects.count(), 1)
        self.assertEqual(Delivery.objects.filter(recipient=self.student_a1.user, channel="inbox").count(), 1)

    def test_the_director_sees_counts_then_averages_from_three_the_counsellor_nothing(self):
        for n, score in enumerate((5, 4)):
            Feedback.objects.create(school=self.school, counsellor=self.psy, score=score, comment=f"MKR-c{n}",
                                    month=timezone.localdate().replace(day=1))
        self.client.force_login(self.director)
        lines = self.client.get(reverse("counseling-api:feedback-summary")).json()
        self.assertEqual((lines[0]["count"], lines[0]["average"], lines[0]["comments"]), (2, None, []))
        self.assertNotContains(self.client.get(reverse("counseling:feedback-summary")), "MKR-c")
        Feedback.objects.create(school=self.school, counsellor=self.psy, score=3, comment="MKR-c2",
                                month=timezone.localdate().replace(day=1))
        lines = self.client.get(reverse("counseling-api:feedback-summary")).json()
        self.assertEqual((lines[0]["count"], lines[0]["average"]), (3, 4.0))
        self.assertEqual(sorted(lines[0]["comments"]), ["MKR-c0", "MKR-c1", "MKR-c2"])
        self.client.force_login(self.psy)
        self.assertEqual(self.client.get(reverse("counseling:feedback-summary")).status_code, 404)
        self.assertEqual(self.client.get(reverse("counseling-api:feedback-summary")).status_code, 404)


class InCounsellingTests(ReferralTestCase):
    def test_one_query_open_episode_or_coming_booking(self):
        self.episode()
        with CaptureQueriesContext(connection) as q:
            found = in_counselling([self.student_a1.pk, self.student_a2.pk])
        self.assertEqual(len(q), 1)
        self.assertEqual(found, {self.student_a1.pk})
        self.assertEqual(in_counselling([]), set())

    def test_the_fudaoyuan_sees_in_counselling_only_on_the_register(self):
        self.episode()
        self.episode(client=self.student_a2.user, student=self.student_a2)
        RiskEntry.set_level(self.student_a1, RiskLevel.YELLOW, by=self.director, reason="r")
        self.client.force_login(self.persona("counsellor_a"))
        register = self.client.get(reverse("register"), HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(register, "in counselling", count=1)
        zh = self.client.get(reverse("register"))
        self.assertContains(zh, "咨询中", count=1)
        # S0002 is in counselling but on no register and in no case: nothing anywhere.
        for url in (reverse("student-detail", args=[self.student_a2.pk]),
                    reverse("student-detail", args=[self.student_a1.pk])):
            page = self.client.get(url, HTTP_ACCEPT_LANGUAGE="en")
            self.assertNotContains(page, "in counselling")
            self.assertNotContains(page, "counseling/episodes")

    def test_the_case_page_shows_in_counselling(self):
        case = Case.open_for(self.student_a1, by=self.director)
        self.client.force_login(self.director)
        self.assertNotContains(self.client.get(reverse("case-detail", args=[case.pk]), HTTP_ACCEPT_LANGUAGE="en"),
                               "in counselling")
        self.episode()
        self.assertContains(self.client.get(reverse("case-detail", args=[case.pk]), HTTP_ACCEPT_LANGUAGE="en"),
                            "in counselling", count=1)


class ParityTests(ReferralTestCase):
    """The page and the API call the same verb: the same outcome, the same refusals."""

    def test_accept_page_and_api(self):
        a = ReferralIn.objects.create(school=self.school, client=self.student_a1.user, student=self.student_a1,
                                      reason="r", referred_by=self.psy)
        b = ReferralIn.objects.create(school=self.school, client=self.student_a2.user, student=self.student_a2,
                                      reason="r", referred_by=self.psy)
        self.client.force_login(self.psy)
        self.client.post(reverse("counseling:referral-accept", args=[a.pk]))
        self.client.post(reverse("counseling-api:referral-accept", args=[b.pk]))
        a.refresh_from_db()
        b.refresh_from_db()
        shape = [(r.status, r.decided_by_id, r.episode.source, r.episode.counsellor_id) for r in (a, b)]
        self.assertEqual(shape[0], shape[1])
        self.assertEqual(AuditEvent.objects.filter(action="counseling.referral.accept").count(), 2)
        page_again = self.client.post(reverse("counseling:referral-accept", args=[a.pk]), follow=True)
        self.assertContains(page_again, "已经处理")
        self.assertEqual(self.client.post(reverse("counseling-api:referral-accept", args=[b.pk])).status_code, 409)

    def test_close_page_and_api(self):
        one = self.episode()
        two = self.episode(client=self.student_a2.user, student=self.student_a2)
        self.client.force_login(self.psy)
        self.client.post(reverse("counseling:episode-close", args=[one.pk]), {"summary": "s"})
        self.client.post(reverse("counseling-api:episode-close", args=[two.pk]), {"summary": "s"},
                         content_type="application/json")
        one.refresh_from_db()
        two.refresh_from_db()
        self.assertEqual((one.status, one.closed_by_id, one.closing_summary),
                         (two.status, two.closed_by_id, two.closing_summary))
        self.assertEqual(AuditEvent.objects.filter(action="counseling.episode.close").count(), 2)
        self.assertEqual(self.client.post(reverse("counseling:episode-close", args=[one.pk]),
                                          {"summary": "s"}).status_code, 409)


class FromAnInterviewTests(ScreeningTestCase):
    """Referral from a screening interview: its counsellor (or counselling staff of the school)."""

    def test_the_interviewer_refers_others_cannot(self):
        from xinlian.screening.models import Interview

        interview = Interview.open_for(self.assignment_a1, urgent=False)
        Interview.objects.filter(pk=interview.pk).update(assigned_to=self.psych_teacher)
        self.client.force_login(self.persona("counsellor_a"))
        refused = self.client.post(reverse("counseling-api:referrals"), {"interview": interview.pk, "reason": "x"},
                                   content_type="application/json")
        self.assertEqual(refused.status_code, 404)
        self.client.force_login(self.psych_teacher)
        done = self.client.post(reverse("counseling:referral-new"), {"interview": interview.pk, "reason": "复核后转介"})
        self.assertEqual(done.status_code, 302)
        referral = ReferralIn.objects.get()
        self.assertEqual((referral.source, referral.interview_id, referral.student_id),
                         ("interview", interview.pk, self.student_a1.pk))
