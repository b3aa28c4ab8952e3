"""Who reads what a peer report says: marker strings in its flags and note, searched for on every
report page and API answer (and the home page and inbox) as each persona. Only the reporter who
wrote it, the 辅导员 of the class's college, the college lead and the centre read them; a 班主任
(of that class or another), another college's 辅导员 and the other peer reporters never do."""

from __future__ import annotations

from django.urls import reverse

from xinlian.duties.models import Report
from xinlian.network.models import Post, Role

from .test_duties_reports import DutiesTestCase

FLAG_A1 = "MKR-DUTY-FLAG-S0001"
NOTE_A1 = "MKR-DUTY-NOTE-CA1"
FLAG_A2 = "MKR-DUTY-FLAG-S0004"
READERS_A1 = {"committee_a1", "counsellor_a", "college_lead_a", "director"}
READERS_A2 = {"committee_a2", "counsellor_a", "college_lead_a", "director"}
PERSONAS = ("committee_a1", "committee_a2", "liaison_a1", "counsellor_a", "college_lead_a", "director",
            "head_teacher_a1", "head_teacher_a2", "outsider_b", "student_a1_user", "bureau_viewer")


class FlagReadersTests(DutiesTestCase):
    def setUp(self) -> None:
        self.report_a1 = self.submit(flags=[self.flag(self.student_a1, seen=FLAG_A1)], note=NOTE_A1)
        self.report_a2 = self.submit("committee_a2", flags=[self.flag(self.student_a2, seen=FLAG_A2)])

    def urls(self, persona: str) -> list[str]:
        urls = [reverse("home"), reverse("duties:home"), reverse("duties:review"), reverse("duties:completeness"),
                reverse("duties-api:report-list"), reverse("duties-api:report-list") + "?to_review=1",
                reverse("duties-api:completeness"), reverse("inbox")]
        for report in (self.report_a1, self.report_a2):
            urls += [reverse("duties:report-detail", args=[report.pk]),
                     reverse("duties-api:report-detail", args=[report.pk]),
                     reverse("duties:report-form", args=[report.post_id, report.period_id])]
        for unit in (self.school, self.college_a, self.class_a1, self.class_a2):
            urls += [f"{reverse('duties:completeness')}?unit={unit.pk}",
                     f"{reverse('duties-api:completeness')}?unit={unit.pk}"]
        return urls

    def seen_by(self, persona: str) -> set[str]:
        self.login(persona)
        found: set[str] = set()
        for url in self.urls(persona):
            body = self.client.get(url).content.decode()
            found |= {m for m in (FLAG_A1, NOTE_A1, FLAG_A2) if m in body}
        return found

    def test_only_the_readers_see_what_a_report_says(self):
        problems = []
        for persona in PERSONAS:
            seen = self.seen_by(persona)
            allowed = ({FLAG_A1, NOTE_A1} if persona in READERS_A1 else set()) | (
                {FLAG_A2} if persona in READERS_A2 else set())
            if seen - allowed:
                problems.append(f"{persona} sees {sorted(seen - allowed)}")
            if allowed - seen:  # the positive control: the markers are rendered for readers
                problems.append(f"{persona} may read {sorted(allowed - seen)} but is shown it nowhere")
        self.assertEqual(problems, [])

    def test_a_reporter_who_left_still_reads_their_own_report_but_files_no_more(self):
        post = Post.objects.get(person=self.committee_a1, role=Role.COMMITTEE_MEMBER)
        post.ends_on = post.starts_on
        post.save()
        self.assertIn(FLAG_A1, self.seen_by("committee_a1"))
        self.login("committee_a1")
        self.assertNotContains(self.client.get(reverse("home")),
                               reverse("duties:report-form", args=[post.pk, self.report_a1.period_id]))

    def test_reading_a_report_with_flags_is_audited_for_its_readers_only(self):
        from xinlian.access.models import AuditEvent

        for persona in ("counsellor_a", "outsider_b", "committee_a1"):
            self.login(persona)
            self.client.get(reverse("duties:report-detail", args=[self.report_a1.pk]))
        rows = AuditEvent.objects.filter(action="duties.report.view", object_id=str(self.report_a1.pk))
        self.assertEqual({(r.actor.username, r.result) for r in rows},
                         {("T1001", "allowed"), ("T1003", "denied")})
        self.assertEqual(Report.objects.count(), 2)
