import datetime as dt

from xinlian.access.policy import Cap, visible_students
from xinlian.network.models import Post

from .base import NetworkTestCase


class VisibleStudentsTests(NetworkTestCase):
    def numbers(self, persona: str, cap: Cap = Cap.ROSTER) -> set[str]:
        return set(visible_students(self.persona(persona), cap).values_list("user__username", flat=True))

    def test_counsellor_sees_college_a_only(self):
        self.assertEqual(self.numbers("counsellor_a"),
                         {"S0001", "S0002", "S0003", "S0004", "S0006", "S0007"})

    def test_head_teacher_sees_class_a1(self):
        self.assertEqual(self.numbers("head_teacher_a1"), {"S0001", "S0002", "S0003", "S0006", "S0007"})

    def test_dorm_liaison_sees_roommates_only(self):
        self.assertEqual(self.numbers("liaison_a1"), {"S0001", "S0002", "S0007"})

    def test_peer_reporters_never_see_results(self):
        for persona in ("committee_a1", "liaison_a1"):
            for cap in (Cap.RISK, Cap.SCORES, Cap.CASE, Cap.NOTES):
                self.assertEqual(self.numbers(persona, cap), set(), (persona, cap))

    def test_student_sees_only_self(self):
        self.assertEqual(self.numbers("student_a1_user"), {"S0001"})
        self.assertEqual(self.numbers("student_a1_user", Cap.RISK), set())

    def test_bureau_viewer_sees_no_names(self):
        self.assertEqual(self.numbers("bureau_viewer"), set())

    def test_director_sees_everyone(self):
        self.assertEqual(len(self.numbers("director", Cap.NOTES)), 7)

    def test_ended_post_grants_nothing(self):
        Post.objects.filter(person=self.head_teacher_a1).update(ends_on=dt.date(2021, 1, 1))
        self.assertEqual(self.numbers("head_teacher_a1"), set())

    def test_future_post_grants_nothing_yet(self):
        Post.objects.filter(person=self.head_teacher_a1).update(starts_on=dt.date(2999, 1, 1))
        self.assertEqual(self.numbers("head_teacher_a1"), set())

    def test_moved_student_access_follows(self):
        s = self.student_a1
        s.klass, s.dorm = self.class_b1, None
        s.save()
        self.assertNotIn("S0001", self.numbers("head_teacher_a1"))
        self.assertIn("S0001", self.numbers("outsider_b"))
