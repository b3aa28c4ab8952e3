"""The record of a counselling session is tier 5 (issue 11): its summary fields, its notes and
who of the family came are read only by the session's counsellor, the centre director and the
episode's named supervisor — each read audited.

The markers (tests/sweep_counseling.py writes them): S0001's family session with 韩咨询 (psy2)
carries ``MKR-T5-session.<field>-S0001`` in every field of its record; its episode names
冯督导 (T1031) as supervisor. Every URL of the project (the sweep's table, with its arguments)
is opened as the 辅导员, the 班主任, another counsellor of the centre (沈咨询, psy: neither the
director nor the supervisor), the client themself and a peer (the 心理委员 and a roommate):
no answer may carry a marker. The counsellor, the director and the supervisor are shown them
(the positive control)."""

from __future__ import annotations

from django.urls import reverse

from xinlian.access.models import AuditEvent

from .base import NetworkTestCase
from .test_sweep import EXPECT, KWARGS, setup_extra, swept_names

SESSION_FIELDS = ("presenting", "assessment", "intervention", "plan", "notes", "family_present")
MARKERS = tuple(f"MKR-T5-session.{name}-S0001" for name in SESSION_FIELDS)
NEVER = ("counsellor_a", "head_teacher_a1", "psy", "student_a1_user", "committee_a1", "roommate")


class SessionRecordSweepTests(NetworkTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        from xinlian.network.models import Role

        from .base import make_staff

        setup_extra(cls)  # every sweep module's fixtures, ours among them
        if not hasattr(cls, "leader"):
            cls.leader = make_staff("T1011", "何校长", Role.LEADER, cls.school)
        cls.roommate = cls.roommate_a1.user

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

    def test_no_one_else_sees_the_record_on_any_page_or_api(self):
        leaks = []
        for persona in NEVER:
            for name, body in self.walk(persona).items():
                leaks += [f"{persona} on {name}: {m}" for m in MARKERS if m in body]
        self.assertEqual(leaks, [])

    def test_another_counsellor_knows_the_session_exists_but_not_its_record(self):
        self.client.force_login(self.persona("psy"))
        api = self.client.get(reverse("counseling-api:session", args=[self.cs_session.pk]))
        self.assertEqual(api.status_code, 200)
        self.assertIsNone(api.json()["record"])
        self.assertFalse(AuditEvent.objects.filter(action="counseling.session.record.read").exists())

    def test_the_counsellor_the_director_and_the_supervisor_read_it_each_read_audited(self):
        for persona in ("psy2", "director", "cs_supervisor"):
            self.client.force_login(self.persona(persona))
            page = self.body(self.client.get(reverse("counseling:session", args=[self.cs_session.pk])))
            api = self.body(self.client.get(reverse("counseling-api:session", args=[self.cs_session.pk])))
            for marker in MARKERS:
                self.assertIn(marker, page, persona)
                self.assertIn(marker, api, persona)
        reads = AuditEvent.objects.filter(action="counseling.session.record.read", object_id=str(self.cs_session.pk))
        self.assertEqual(reads.count(), 6)
        self.assertEqual(set(reads.values_list("actor_id", flat=True)),
                         {self.psy2.pk, self.director.pk, self.cs_supervisor.pk})

    def test_the_supervisor_reaches_only_the_sessions_they_supervise(self):
        self.client.force_login(self.persona("cs_supervisor"))
        self.assertEqual(self.client.get(reverse("counseling:day")).status_code, 404)
        self.assertEqual(self.client.get(reverse("counseling:group", args=[self.cs_group.pk])).status_code, 404)
        rows = self.client.get(reverse("counseling-api:sessions")).json()
        self.assertEqual([r["id"] for r in rows], [self.cs_session.pk])

    def test_the_directors_load_views_show_the_session_never_its_record(self):
        self.client.force_login(self.persona("director"))
        load = ("counseling:sessions", "counseling:day", "counseling:staff", "counseling:overview",
                "counseling:caseload", "counseling:week", "counseling-api:sessions", "counseling-api:overview",
                "counseling-api:caseload")
        shown = []
        for name in load:
            if name not in EXPECT:
                continue  # a page of another slice not (yet) there
            body = self.body(self.client.get(reverse(name)))
            shown += [f"{name}: {m}" for m in MARKERS if m in body]
        self.assertEqual(shown, [])
        rows = self.client.get(reverse("counseling-api:sessions")).json()
        mine = next(r for r in rows if r["id"] == self.cs_session.pk)
        self.assertEqual((mine["attendance"], mine["recorded"]), ("attended", True))
