"""The audit trail: complete rows only, append-only, and written by the API's sensitive reads."""

from __future__ import annotations

from django.urls import reverse

from xinlian.access.models import AuditEvent, AuditResult, IncompleteAuditRow

from .base import NetworkTestCase


class RecordTests(NetworkTestCase):
    def complete(self, **overrides):
        kw = {"actor": self.director, "action": "student.view", "obj": self.student_a1,
              "result": AuditResult.ALLOWED}
        kw.update(overrides)
        return AuditEvent.objects.record(**kw)

    def test_complete_row_is_written(self):
        row = self.complete(ip="10.0.0.8", detail="risk")
        self.assertEqual((row.object_type, row.object_id, row.ip), ("network.student", str(self.student_a1.pk),
                                                                    "10.0.0.8"))

    def test_incomplete_rows_are_refused(self):
        cases = {
            "actor": {"actor": None},
            "action": {"action": ""},
            "object": {"obj": None},
            "result": {"result": ""},
        }
        for missing, overrides in cases.items():
            with self.subTest(missing=missing), self.assertRaises(IncompleteAuditRow):
                self.complete(**overrides)
        self.assertFalse(AuditEvent.objects.exists())

    def test_object_by_type_and_id_is_enough(self):
        row = self.complete(obj=None, object_type="network.student", object_id="42")
        self.assertEqual(row.object_id, "42")
        with self.assertRaises(IncompleteAuditRow):
            self.complete(obj=None, object_type="network.student", object_id="")


class AppendOnlyTests(NetworkTestCase):
    def setUp(self) -> None:
        self.row = AuditEvent.objects.record(actor=self.director, action="student.view",
                                             obj=self.student_a1, result=AuditResult.ALLOWED)

    def test_instance_save_after_create_raises(self):
        self.row.detail = "rewritten"
        with self.assertRaises(PermissionError):
            self.row.save()

    def test_queryset_update_raises(self):
        with self.assertRaises(PermissionError):
            AuditEvent.objects.filter(pk=self.row.pk).update(detail="rewritten")
        with self.assertRaises(PermissionError):
            AuditEvent.objects.update(result=AuditResult.DENIED)

    def test_queryset_delete_raises(self):
        with self.assertRaises(PermissionError):
            AuditEvent.objects.all().delete()

    def test_instance_delete_raises(self):
        with self.assertRaises(PermissionError):
            self.row.delete()

    def test_row_is_unchanged(self):
        for attempt in (lambda: self.row.delete(), lambda: AuditEvent.objects.all().delete()):
            with self.assertRaises(PermissionError):
                attempt()
        fresh = AuditEvent.objects.get(pk=self.row.pk)
        self.assertEqual((fresh.action, fresh.detail), ("student.view", ""))


class ApiAuditTests(NetworkTestCase):
    def read(self, persona: str, student, ip: str = "10.20.30.40"):
        self.login(persona)
        return self.client.get(reverse("api:student-detail", args=[student.pk]), REMOTE_ADDR=ip)

    def test_tier_two_read_writes_one_row_with_ip(self):
        response = self.read("head_teacher_a1", self.student_a1)
        self.assertEqual(response.status_code, 200)
        rows = list(AuditEvent.objects.all())
        self.assertEqual(len(rows), 1)
        row = rows[0]
        self.assertEqual(row.actor_id, self.head_teacher_a1.pk)
        self.assertEqual((row.action, row.result), ("student.view", AuditResult.ALLOWED))
        self.assertEqual((row.object_type, row.object_id), ("network.student", str(self.student_a1.pk)))
        self.assertEqual(row.ip, "10.20.30.40")
        self.assertIn("risk", row.detail)

    def test_browsable_api_read_writes_one_row_too(self):
        self.login("head_teacher_a1")
        response = self.client.get(reverse("api:student-detail", args=[self.student_a1.pk]),
                                   HTTP_ACCEPT="text/html")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(AuditEvent.objects.count(), 1)

    def test_tier_one_read_writes_nothing(self):
        self.assertEqual(self.read("committee_a1", self.student_a1).status_code, 200)
        self.assertEqual(self.read("student_a1_user", self.student_a1).status_code, 200)
        self.assertFalse(AuditEvent.objects.exists())

    def test_list_writes_nothing(self):
        self.login("director")
        self.client.get(reverse("api:student-list"))
        self.assertFalse(AuditEvent.objects.exists())

    def test_denied_read_writes_denied_row(self):
        response = self.read("outsider_b", self.student_a1, ip="10.9.9.9")
        self.assertEqual(response.status_code, 404)
        row = AuditEvent.objects.get()
        self.assertEqual(row.actor_id, self.outsider_b.pk)
        self.assertEqual(row.result, AuditResult.DENIED)
        self.assertEqual((row.object_type, row.object_id), ("network.student", str(self.student_a1.pk)))
        self.assertEqual(row.ip, "10.9.9.9")

    def test_case_tier_read_is_recorded_as_case(self):
        self.read("director", self.student_a1)
        self.assertIn("case", AuditEvent.objects.get().detail)
