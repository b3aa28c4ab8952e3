"""The REST API at /api/v1/: scope, tiers, filters, methods, query counts, tokens, schema."""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import SimpleNamespace

from axes.models import AccessAttempt
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from knox.models import AuthToken

from xinlian.access.drf import HasCap
from xinlian.access.models import AuditEvent
from xinlian.access.policy import Cap
from xinlian.network.models import Guardian, SpecialGroup, Unit, UnitKind

from .base import PASSWORD, NetworkTestCase, make_staff, make_student


def numbers(response) -> set[str]:
    return {row["number"] for row in response.json()["results"]}


class UnitApiTests(NetworkTestCase):
    def codes(self, persona: str) -> set[str]:
        self.login(persona)
        response = self.client.get(reverse("api:unit-list"))
        self.assertEqual(response.status_code, 200)
        return {row["code"] for row in response.json()["results"]}

    def test_units_follow_roster_or_stats_scope(self):
        self.assertEqual(self.codes("counsellor_a"), {"CA", "CA-1", "CA-2", "CA-1-101"})
        self.assertEqual(self.codes("head_teacher_a1"), {"CA-1", "CA-1-101"})
        self.assertEqual(self.codes("liaison_a1"), {"CA-1-101"})
        self.assertEqual(self.codes("student_a1_user"), set())
        # Statistics scope shows the tree without giving names of students.
        self.assertEqual(self.codes("bureau_viewer"),
                         {"BUR", "SCH", "CA", "CB", "CA-1", "CA-2", "CB-1", "CA-1-101"})

    def test_unit_fields_parent_and_depth(self):
        self.login("bureau_viewer")
        rows = {r["code"]: r for r in self.client.get(reverse("api:unit-list")).json()["results"]}
        self.assertIsNone(rows["BUR"]["parent"])
        self.assertEqual(rows["CA-1"]["parent"], self.college_a.pk)
        self.assertEqual(rows["CA-1-101"]["parent"], self.class_a1.pk)
        self.assertEqual(rows["CA-1-101"]["depth"], 5)
        self.assertEqual(rows["CA"]["name_en"], "College A")
        self.assertEqual(rows["CA"]["kind"], UnitKind.COLLEGE)
        self.assertEqual(set(rows["CA"]), {"id", "code", "name", "name_en", "kind", "parent", "depth"})

    def test_out_of_scope_unit_is_404(self):
        self.login("counsellor_a")
        self.assertEqual(self.client.get(reverse("api:unit-detail", args=[self.college_b.pk])).status_code, 404)
        self.assertEqual(self.client.get(reverse("api:unit-detail", args=[self.class_a1.pk])).status_code, 200)

    def test_unit_list_queries_constant(self):
        self.login("bureau_viewer")
        url = reverse("api:unit-list")
        with CaptureQueriesContext(connection) as before:
            self.client.get(url)
        for i in range(10):
            self.class_a2.add_unit(kind=UnitKind.DORMITORY, code=f"CA-2-{i}", name=f"楼{i}")
        with CaptureQueriesContext(connection) as after:
            response = self.client.get(url)
        self.assertEqual(response.json()["count"], 18)
        self.assertEqual(len(before), len(after))


class StudentApiTests(NetworkTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.left_behind = SpecialGroup.objects.create(code="left-behind", name="留守儿童")
        cls.student_a1.special_groups.add(cls.left_behind)
        Guardian.objects.create(student=cls.student_a1, name="张父", relation="father",
                                phone="13800138000", is_primary=True)

    def detail(self, persona: str, student=None):
        self.login(persona)
        return self.client.get(reverse("api:student-detail", args=[(student or self.student_a1).pk]))

    def test_list_is_visible_students(self):
        self.login("counsellor_a")
        response = self.client.get(reverse("api:student-list"))
        self.assertEqual(numbers(response), {"S0001", "S0002", "S0003", "S0004", "S0006", "S0007"})
        self.login("student_a1_user")
        self.assertEqual(numbers(self.client.get(reverse("api:student-list"))), {"S0001"})
        self.login("bureau_viewer")
        self.assertEqual(numbers(self.client.get(reverse("api:student-list"))), set())

    def test_list_is_tier_one_only(self):
        self.login("director")
        row = self.client.get(reverse("api:student-list")).json()["results"][0]
        self.assertNotIn("special_groups", row)
        self.assertNotIn("guardians", row)
        self.assertNotIn("birth_date", row)
        self.assertEqual(set(row["klass"]), {"id", "code", "name"})

    def test_unit_filter_takes_subtree(self):
        self.login("counsellor_a")
        url = reverse("api:student-list")
        self.assertEqual(numbers(self.client.get(url, {"unit": self.dorm_a1.pk})), {"S0001", "S0002", "S0007"})
        self.assertEqual(numbers(self.client.get(url, {"unit": self.class_a2.pk})), {"S0004"})
        # Another college's unit looks exactly like a unit that does not exist.
        self.assertEqual(numbers(self.client.get(url, {"unit": self.college_b.pk})), set())
        self.assertEqual(numbers(self.client.get(url, {"unit": 999999})), set())
        self.assertEqual(self.client.get(url, {"unit": "x"}).status_code, 400)

    def test_search_by_number_or_name(self):
        self.login("director")
        url = reverse("api:student-list")
        self.assertEqual(numbers(self.client.get(url, {"q": "张小"})), {"S0001"})
        self.assertEqual(numbers(self.client.get(url, {"q": "s0005"})), {"S0005"})
        self.assertEqual(numbers(self.client.get(url, {"q": "S000", "unit": self.class_b1.pk})), {"S0005"})
        self.login("head_teacher_a1")
        self.assertEqual(numbers(self.client.get(url, {"q": "陈静"})), set())

    def test_peer_reporter_gets_tier_one(self):
        response = self.detail("committee_a1")
        self.assertEqual(response.status_code, 200)
        data = response.json()
        self.assertEqual((data["number"], data["name"]), ("S0001", "张小明"))
        self.assertNotIn("special_groups", data)
        self.assertNotIn("guardians", data)

    def test_head_teacher_gets_special_groups_and_the_guardians_to_call_audited(self):
        data = self.detail("head_teacher_a1").json()
        self.assertEqual([g["code"] for g in data["special_groups"]], ["left-behind"])
        self.assertEqual([g["phone"] for g in data["guardians"]], ["13800138000"])
        row = AuditEvent.objects.filter(action="student.view", actor=self.head_teacher_a1).latest("pk")
        self.assertIn("guardians", row.detail)
        self.assertNotIn("13800138000", row.detail)

    def test_a_head_teacher_of_another_class_gets_no_guardians(self):
        response = self.detail("head_teacher_a1", self.student_a2)
        self.assertEqual(response.status_code, 404)
        self.assertNotIn("13800138000", response.content.decode())

    def test_director_gets_guardian_phones(self):
        data = self.detail("director").json()
        self.assertEqual(len(data["guardians"]), 1)
        guardian = data["guardians"][0]
        self.assertEqual((guardian["name"], guardian["relation"], guardian["phone"], guardian["is_primary"]),
                         ("张父", "father", "13800138000", True))
        self.assertTrue(guardian["relation_label"])
        self.assertEqual([g["code"] for g in data["special_groups"]], ["left-behind"])

    def test_student_sees_own_record_tier_one(self):
        data = self.detail("student_a1_user").json()
        self.assertEqual(data["number"], "S0001")
        self.assertNotIn("special_groups", data)
        self.assertEqual(self.detail("student_a1_user", self.roommate_a1).status_code, 404)

    def test_out_of_scope_student_is_404(self):
        self.assertEqual(self.detail("outsider_b").status_code, 404)
        self.assertEqual(self.detail("bureau_viewer").status_code, 404)
        self.assertEqual(self.detail("head_teacher_a1", self.student_b1).status_code, 404)

    def test_student_list_queries_constant(self):
        self.login("director")
        url = reverse("api:student-list")
        with CaptureQueriesContext(connection) as before:
            self.client.get(url)
        dorm = self.class_a2.add_unit(kind=UnitKind.DORMITORY, code="CA-2-201", name="2号楼201")
        for i in range(12):
            make_student(f"S1{i:03d}", f"学生{i}", self.class_a2, dorm if i % 2 else None)
        with CaptureQueriesContext(connection) as after:
            response = self.client.get(url)
        self.assertEqual(response.json()["count"], 19)
        self.assertEqual(len(before), len(after))

    def test_student_detail_queries_do_not_grow_with_guardians(self):
        self.login("director")
        url = reverse("api:student-detail", args=[self.student_a1.pk])
        with CaptureQueriesContext(connection) as before:
            self.client.get(url)
        Guardian.objects.create(student=self.student_a1, name="张母", relation="mother", phone="13900139000")
        self.student_a1.special_groups.add(SpecialGroup.objects.create(code="single", name="单亲家庭"))
        with CaptureQueriesContext(connection) as after:
            self.client.get(url)
        self.assertEqual(len(before), len(after))

    def test_pagination_is_fifty(self):
        for i in range(55):
            make_student(f"S2{i:03d}", f"学生{i}", self.class_a2)
        self.login("director")
        data = self.client.get(reverse("api:student-list")).json()
        self.assertEqual(len(data["results"]), 50)
        self.assertEqual(data["count"], 62)
        self.assertIsNotNone(data["next"])


class StaffPostMeApiTests(NetworkTestCase):
    def test_staff_in_scope(self):
        self.login("committee_a1")
        rows = self.client.get(reverse("api:staff-list")).json()["results"]
        self.assertEqual([r["number"] for r in rows], ["T1002"])
        self.assertEqual(set(rows[0]), {"id", "number", "name", "title", "department"})
        self.login("counsellor_a")
        rows = self.client.get(reverse("api:staff-list")).json()["results"]
        self.assertEqual({r["number"] for r in rows}, {"T1001", "T1002"})

    def test_staff_out_of_scope_404(self):
        self.login("counsellor_a")
        other = self.outsider_b.staff
        self.assertEqual(self.client.get(reverse("api:staff-detail", args=[other.pk])).status_code, 404)

    def test_posts_are_visible_posts(self):
        self.login("head_teacher_a1")
        rows = self.client.get(reverse("api:post-list")).json()["results"]
        self.assertEqual({(r["person"]["number"], r["role"]) for r in rows},
                         {("T1002", "head_teacher"), ("S0006", "committee_member"), ("S0007", "dorm_liaison")})
        self.login("outsider_b")
        rows = self.client.get(reverse("api:post-list")).json()["results"]
        self.assertEqual({r["person"]["number"] for r in rows}, {"T1003"})

    def test_staff_and_post_lists_queries_constant(self):
        self.login("director")
        urls = [reverse("api:staff-list"), reverse("api:post-list")]
        before = []
        for url in urls:
            with CaptureQueriesContext(connection) as ctx:
                self.client.get(url)
            before.append(len(ctx))
        for i in range(8):
            klass = self.college_a.add_unit(kind=UnitKind.CLASS, code=f"CA-X{i}", name=f"新{i}班")
            make_staff(f"T3{i:03d}", f"老师{i}", "head_teacher", klass)
        after = []
        for url in urls:
            with CaptureQueriesContext(connection) as ctx:
                self.assertEqual(self.client.get(url).status_code, 200)
            after.append(len(ctx))
        self.assertEqual(before, after)

    def test_me(self):
        self.login("head_teacher_a1")
        data = self.client.get(reverse("api:me")).json()
        self.assertEqual(data["number"], "T1002")
        self.assertEqual(data["name"], "吴老师")
        # The 班主任 reads guardian contacts too (issue 10: they make the calls).
        self.assertEqual(data["capabilities"], ["export_roster", "guardians", "report", "risk", "roster"])
        self.assertEqual([(p["role"], p["unit"]["code"]) for p in data["posts"]], [("head_teacher", "CA-1")])
        self.assertTrue(data["posts"][0]["role_label"])

    def test_me_without_posts(self):
        self.login("student_a1_user")
        data = self.client.get(reverse("api:me")).json()
        self.assertEqual((data["posts"], data["capabilities"]), ([], []))


class ApiAuthAndMethodTests(NetworkTestCase):
    def test_anonymous_is_refused(self):
        for name in ("api:unit-list", "api:student-list", "api:staff-list", "api:post-list", "api:me"):
            self.assertIn(self.client.get(reverse(name)).status_code, (401, 403), name)

    def test_wrong_methods_are_405(self):
        self.login("director")
        list_url = reverse("api:student-list")
        detail_url = reverse("api:student-detail", args=[self.student_a1.pk])
        self.assertEqual(self.client.post(list_url, {}).status_code, 405)
        self.assertEqual(self.client.put(detail_url, {}).status_code, 405)
        self.assertEqual(self.client.patch(detail_url, {}).status_code, 405)
        self.assertEqual(self.client.delete(detail_url).status_code, 405)
        self.assertEqual(self.client.post(reverse("api:me")).status_code, 405)
        self.assertEqual(self.client.get(reverse("api:auth-token")).status_code, 405)

    def test_token_round_trip(self):
        response = self.client.post(reverse("api:auth-token"),
                                    {"username": "T1002", "password": PASSWORD})
        self.assertEqual(response.status_code, 200)
        key = response.json()["token"]
        self.assertEqual(AuthToken.objects.get(token_key=key[:15]).user, self.head_teacher_a1)
        self.client.logout()
        response = self.client.get(reverse("api:student-list"), HTTP_AUTHORIZATION=f"Token {key}")
        self.assertEqual(numbers(response), {"S0001", "S0002", "S0003", "S0006", "S0007"})
        # The token carries the same scope as the session would.
        response = self.client.get(reverse("api:student-detail", args=[self.student_b1.pk]),
                                   HTTP_AUTHORIZATION=f"Token {key}")
        self.assertEqual(response.status_code, 404)

    def test_failed_token_logins_are_counted_and_lock_out(self):
        url = reverse("api:auth-token")
        for attempt in range(1, 6):
            response = self.client.post(url, {"username": "T1002", "password": "wrong"})
            # The failure that reaches the limit (5) already answers with the lockout.
            self.assertEqual(response.status_code, 400 if attempt < 5 else 403)
            self.assertEqual(AccessAttempt.objects.get(username="T1002").failures_since_start, attempt)
        # Locked out: even the right password is refused, and no token is handed out.
        response = self.client.post(url, {"username": "T1002", "password": PASSWORD})
        self.assertEqual(response.status_code, 403)
        self.assertIn("detail", response.json())
        self.assertFalse(AuthToken.objects.filter(user=self.head_teacher_a1).exists())
        # Another account from the same address is not locked (lockout is by user and IP).
        response = self.client.post(url, {"username": "T1001", "password": PASSWORD})
        self.assertEqual(response.status_code, 200)

    def test_inactive_user_gets_no_token(self):
        self.head_teacher_a1.is_active = False
        self.head_teacher_a1.save()
        response = self.client.post(reverse("api:auth-token"), {"username": "T1002", "password": PASSWORD})
        self.assertEqual(response.status_code, 400)


class SchemaTests(NetworkTestCase):
    def test_schema_generates_without_warnings(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "schema.yml"
            call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
            text = out.read_text()
        for path in ("/api/v1/students/{id}/", "/api/v1/units/", "/api/v1/me/", "/api/v1/auth/token/"):
            self.assertIn(path, text)

    def test_schema_and_docs_need_login(self):
        self.assertIn(self.client.get(reverse("api-schema")).status_code, (401, 403))
        self.login("head_teacher_a1")
        self.assertEqual(self.client.get(reverse("api-schema")).status_code, 200)
        self.assertEqual(self.client.get(reverse("api-docs")).status_code, 200)


class UnitScopeEdgeTests(NetworkTestCase):
    def test_second_school_is_invisible_to_director(self):
        other = Unit.add_top(kind=UnitKind.SCHOOL, code="SCH2", name="另一所学校")
        college = other.add_unit(kind=UnitKind.COLLEGE, code="X", name="X学院")
        klass = college.add_unit(kind=UnitKind.CLASS, code="X-1", name="X1班")
        stranger = make_student("S9001", "外校生", klass)
        make_staff("T9001", "外校老师", "head_teacher", klass)
        self.login("director")
        self.assertNotIn("S9001", numbers(self.client.get(reverse("api:student-list"))))
        self.assertEqual(self.client.get(reverse("api:student-detail", args=[stranger.pk])).status_code, 404)
        self.assertEqual(self.client.get(reverse("api:unit-detail", args=[klass.pk])).status_code, 404)
        staff = {r["number"] for r in self.client.get(reverse("api:staff-list")).json()["results"]}
        self.assertNotIn("T9001", staff)


class HasCapPermissionTests(NetworkTestCase):
    def test_has_cap_checks_the_capability(self):
        permission = HasCap.of(Cap.IMPORT_ROSTER)()
        self.assertTrue(permission.has_permission(SimpleNamespace(user=self.persona("director")), None))
        self.assertFalse(permission.has_permission(SimpleNamespace(user=self.persona("head_teacher_a1")), None))
        export = HasCap.of(Cap.EXPORT_ROSTER)()
        self.assertTrue(export.has_permission(SimpleNamespace(user=self.persona("head_teacher_a1")), None))
