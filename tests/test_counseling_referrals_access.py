"""Who sees what of referrals, return to school, closing and satisfaction (issue 11), and staff as
clients: a teacher's counselling is never seen by the people above their post.

The markers come from tests/sweep_counseling.py (``_setup_referrals``): the referral reason, the
letter and the diagnosis note, the return assessment, two closing summaries (S0001's and the
staff client 林老师's, T1023) and three satisfaction comments. Every URL of the project (the
sweep's table with its arguments) is opened as each persona outside counselling — the 辅导员, the
班主任, the 心理委员, the college lead (the teacher's manager), the school's leader, deputy leader
and a leadership-group member (who hold people's posts) — and no answer may carry a marker. The
director is shown each of them (the positive control); the satisfaction comments only on the
director's aggregated page."""

from __future__ import annotations

from django.urls import reverse

from xinlian.counseling.models import Booking, Episode, Feedback
from xinlian.network.models import Role

from .base import NetworkTestCase, make_staff
from .test_counseling_base import add_time
from .test_sweep import EXPECT, KWARGS, setup_extra, swept_names

MARKERS = ("MKR-T5-referral-S0001", "MKR-T5-letter-S0001", "MKR-T5-diagnosis-S0001", "MKR-T5-return-S0001",
           "MKR-T5-closing-S0001", "MKR-T5-closing-T1023", "MKR-T5-letter-T1023",
           "MKR-T5-feedback-1", "MKR-T5-feedback-2", "MKR-T5-feedback-3")
TEACHER = ("MKR-T5-closing-T1023", "MKR-T5-letter-T1023")
ABOVE_AND_AROUND = ("counsellor_a", "head_teacher_a1", "committee_a1", "college_lead_a", "liaison_a1",
                    "outsider_b", "leader", "z3_deputy_leader", "z3_leadership_member", "bureau_viewer")


class ReferralMarkerSweepTests(NetworkTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        setup_extra(cls)  # every sweep module's fixtures, ours among them
        if not hasattr(cls, "leader"):
            cls.leader = make_staff("T1011", "何校长", Role.LEADER, cls.school)
        cls.z3_deputy_leader = make_staff("T9931", "副校长", Role.DEPUTY_LEADER, cls.school)
        cls.z3_leadership_member = make_staff("T9932", "人事处长", Role.LEADERSHIP_MEMBER, cls.school)

    def body(self, response) -> str:
        content = b"".join(response.streaming_content) if response.streaming else response.content
        return content.decode("utf-8", errors="replace")

    def walk(self, persona: str) -> dict[str, str]:
        self.client.force_login(self.persona(persona))
        bodies = {}
        for name in swept_names():
            if name not in EXPECT:
                continue
            kwargs = KWARGS[name](self) if name in KWARGS else {}
            bodies[name] = self.body(self.client.get(reverse(name, kwargs=kwargs)))
        return bodies

    def test_no_one_outside_counselling_sees_any_marker_anywhere(self):
        leaks = []
        for persona in ABOVE_AND_AROUND:
            for name, body in self.walk(persona).items():
                leaks += [f"{persona} on {name}: {m}" for m in MARKERS if m in body]
                if persona in ("college_lead_a", "leader", "z3_deputy_leader", "z3_leadership_member"):
                    leaks += [f"{persona} on {name}: the teacher's name" for _ in [1] if "林老师" in body
                              and name.startswith("counseling")]
        self.assertEqual(leaks, [])

    def test_the_director_is_shown_each_marker(self):
        bodies = self.walk("director")
        bodies["teacher-episode"] = self.body(self.client.get(
            reverse("counseling:episode-close", args=[self.cs_teacher_episode.pk])))
        out = self.cs_teacher_episode.referrals_out.get()
        bodies["teacher-letter"] = self.body(self.client.get(reverse("counseling:referral-letter", args=[out.pk])))
        bodies["closed"] = self.body(self.client.get(reverse("counseling:episode-close", args=[self.cs_closed.pk])))
        shown = {m for m in MARKERS if any(m in b for b in bodies.values())}
        self.assertEqual(shown, set(MARKERS))
        where = {m for m in MARKERS if m.startswith("MKR-T5-feedback") and m in bodies["counseling:feedback-summary"]}
        self.assertEqual(len(where), 3)
        self.assertEqual([n for n, b in bodies.items() if "MKR-T5-feedback" in b],
                         ["counseling-api:feedback-summary", "counseling:feedback-summary"])

    def test_the_counsellor_never_sees_the_comments_and_another_counsellor_no_tier_five(self):
        self.client.force_login(self.psy2)  # the comments are about psy2's work
        for name in ("counseling:feedback-summary", "counseling-api:feedback-summary"):
            self.assertEqual(self.client.get(reverse(name)).status_code, 404)
        page = self.body(self.client.get(reverse("counseling:episode-close", args=[self.cs_episode.pk])))
        self.assertNotIn("MKR-T5-letter-S0001", page)
        self.assertEqual(self.client.get(reverse("counseling:referral-out", args=[self.cs_out.pk])).status_code, 404)
        self.assertFalse(hasattr(Feedback, "client") or hasattr(Feedback, "episode"))


class StaffClientTests(NetworkTestCase):
    """A teacher books, is counselled, referred out and closed; their managers see nothing."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        from .test_counseling_base import setup_counseling

        setup_counseling(cls)
        cls.leader = make_staff("T1011", "何校长", Role.LEADER, cls.school)

    def test_the_teacher_books_has_an_episode_and_their_appointments_work(self):
        slot = add_time(self.psy, self.school, 2, start="14:00", end="15:00", room=self.room)[0]
        self.client.force_login(self.teacher_a)
        done = self.client.post(reverse("counseling:book"), {"slot": slot.pk, "topic": "工作压力", "previous": "none",
                                                            "risk_now": "no"})
        self.assertEqual(done.status_code, 302)
        booking = Booking.objects.get(client=self.teacher_a)
        mine = self.client.get(reverse("counseling:appointments"))
        self.assertContains(mine, f'data-booking="{booking.pk}"')
        episode = Episode.objects.create(school=self.school, client=self.teacher_a, counsellor=self.psy)
        self.client.force_login(self.psy)
        self.client.post(reverse("counseling:episode-close", args=[episode.pk]),
                         {"summary": "MKR-teacher-summary", "send_feedback": "on"})
        episode.refresh_from_db()
        self.assertEqual(episode.status, "closed")
        for persona in ("college_lead_a", "leader"):
            self.client.force_login(self.persona(persona))
            for url in (reverse("counseling:episode-close", args=[episode.pk]),
                        reverse("counseling:booking", args=[booking.pk]),
                        reverse("counseling:referrals"), reverse("counseling-api:referrals"),
                        reverse("counseling:caseload"), reverse("counseling:staff")):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 404, (persona, url))
            home = self.client.get(reverse("home"))
            self.assertNotContains(home, "MKR-teacher-summary")
            self.assertNotContains(home, "工作压力")
