"""The back office (Django admin) behind the access policy."""

from __future__ import annotations

from django.contrib.messages import ERROR, get_messages
from django.urls import reverse

from xinlian.access.models import AuditEvent
from xinlian.network.models import Guardian, Post, Role, Unit, UnitKind, User
from xinlian.notify.models import Delivery

from .base import PASSWORD, NetworkTestCase, make_student

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


class AdminEntryTests(NetworkTestCase):
    def test_director_opens_admin_without_is_staff(self):
        self.assertFalse(self.director.is_staff)
        self.login("director")
        self.assertEqual(self.client.get(reverse("admin:index")).status_code, 200)
        response = self.client.get(reverse("admin:network_student_changelist"))
        self.assertEqual(response.status_code, 200)
        for name in ("张小明", "陈静", "S0005"):
            self.assertContains(response, name)

    def test_head_teacher_is_sent_to_admin_login(self):
        self.login("head_teacher_a1")
        for url in (reverse("admin:index"), reverse("admin:network_student_changelist")):
            response = self.client.get(url)
            self.assertEqual(response.status_code, 302)
            self.assertTrue(response["Location"].startswith(reverse("admin:login")))

    def test_is_staff_is_not_enough(self):
        User.objects.filter(pk=self.head_teacher_a1.pk).update(is_staff=True)
        self.login("head_teacher_a1")
        self.assertEqual(self.client.get(reverse("admin:index")).status_code, 302)
        self.client.logout()
        response = self.client.post(reverse("admin:login"), {"username": "T1002", "password": PASSWORD})
        self.assertEqual(response.status_code, 200)  # the form again, with an error
        self.assertFalse(response.wsgi_request.user.is_authenticated)

    def test_director_logs_in_through_admin_form(self):
        response = self.client.post(reverse("admin:login"), {"username": "T1004", "password": PASSWORD,
                                                             "next": reverse("admin:index")})
        self.assertRedirects(response, reverse("admin:index"), fetch_redirect_response=False)
        # The admin's form is a way in like any other: the director's second step comes next.
        self.assertTrue(self.client.get(reverse("admin:index"))["Location"].startswith(reverse("two-step-enrol")))

    def test_inactive_director_is_refused(self):
        User.objects.filter(pk=self.director.pk).update(is_active=False)
        self.client.force_login(User.objects.get(pk=self.director.pk))
        self.assertEqual(self.client.get(reverse("admin:index")).status_code, 302)

    def test_superuser_enters(self):
        root = User.objects.create_superuser(username="root", password=PASSWORD, full_name="管理员")
        self.client.force_login(root)
        self.assertEqual(self.client.get(reverse("admin:index")).status_code, 200)

    def test_anonymous_goes_to_admin_login(self):
        response = self.client.get(reverse("admin:index"))
        self.assertEqual(response.status_code, 302)
        self.assertTrue(response["Location"].startswith(reverse("admin:login")))


class AdminChangelistTests(NetworkTestCase):
    def test_every_changelist_opens_for_director(self):
        self.login("director")
        for name in ("network_unit", "network_user", "network_student", "network_staff", "network_post",
                     "network_duty", "network_specialgroup", "access_auditevent", "notify_delivery"):
            with self.subTest(name=name):
                self.assertEqual(self.client.get(reverse(f"admin:{name}_changelist")).status_code, 200)
                self.assertEqual(self.client.get(reverse(f"admin:{name}_changelist"), {"q": "a"}).status_code,
                                 200)

    def test_unit_tree_starts_at_managed_top(self):
        self.login("director")
        response = self.client.get(reverse("admin:network_unit_changelist"))
        self.assertContains(response, "示范大学")
        self.assertNotContains(response, "示范区教育局")

    def test_another_school_is_out_of_scope(self):
        other = Unit.add_top(kind=UnitKind.SCHOOL, code="SCH2", name="另一所学校")
        klass = other.add_unit(kind=UnitKind.COLLEGE, code="X", name="X学院").add_unit(
            kind=UnitKind.CLASS, code="X-1", name="X1班")
        stranger = make_student("S9001", "外校生", klass)
        self.login("director")
        self.assertNotContains(self.client.get(reverse("admin:network_student_changelist")), "外校生")
        self.assertNotContains(self.client.get(reverse("admin:network_user_changelist")), "S9001")
        response = self.client.get(reverse("admin:network_student_change", args=[stranger.pk]))
        self.assertEqual(response.status_code, 302)  # the admin's “does not exist” redirect
        self.assertEqual(self.client.get(reverse("admin:network_unit_change", args=[klass.pk])).status_code, 302)

    def test_superusers_are_not_administered_by_director(self):
        root = User.objects.create_superuser(username="root", password=PASSWORD, full_name="管理员")
        self.login("director")
        self.assertNotContains(self.client.get(reverse("admin:network_user_changelist")), "管理员")
        self.assertEqual(self.client.get(reverse("admin:network_user_change", args=[root.pk])).status_code, 302)

    def test_director_cannot_grant_superuser(self):
        self.login("director")
        response = self.client.get(reverse("admin:network_user_change", args=[self.head_teacher_a1.pk]))
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, 'name="is_superuser"')
        self.assertNotContains(response, 'name="user_permissions"')


class ReadOnlyAdminTests(NetworkTestCase):
    def setUp(self) -> None:
        self.row = AuditEvent.objects.record(actor=self.director, action="student.view",
                                             obj=self.student_a1)
        self.delivery = Delivery.objects.create(channel="inbox", recipient=self.director, message="x")

    def test_audit_trail_cannot_be_added_changed_or_deleted(self):
        for user in ("director", None):
            if user:
                self.login(user)
            else:
                self.client.force_login(User.objects.create_superuser(
                    username="root", password=PASSWORD, full_name="管理员"))
            self.assertEqual(self.client.get(reverse("admin:access_auditevent_add")).status_code, 403)
            self.assertEqual(self.client.post(reverse("admin:access_auditevent_delete", args=[self.row.pk]),
                                              {"post": "yes"}).status_code, 403)
            response = self.client.post(reverse("admin:access_auditevent_change", args=[self.row.pk]),
                                        {"action": "rewritten"})
            self.assertEqual(response.status_code, 403)
            self.assertEqual(AuditEvent.objects.get(pk=self.row.pk).action, "student.view")
            # Viewing is allowed.
            self.assertEqual(self.client.get(reverse("admin:access_auditevent_change",
                                                     args=[self.row.pk])).status_code, 200)

    def test_outbox_is_read_only(self):
        self.login("director")
        self.assertEqual(self.client.get(reverse("admin:notify_delivery_add")).status_code, 403)
        self.assertEqual(self.client.post(reverse("admin:notify_delivery_delete", args=[self.delivery.pk]),
                                          {"post": "yes"}).status_code, 403)
        self.assertEqual(self.client.get(reverse("admin:notify_delivery_change",
                                                 args=[self.delivery.pk])).status_code, 200)
        self.assertTrue(Delivery.objects.filter(pk=self.delivery.pk).exists())


class UnitAdminTests(NetworkTestCase):
    def error_messages(self, response) -> list[str]:
        return [m.message for m in get_messages(response.wsgi_request) if m.level == ERROR]

    def test_deleting_unit_with_students_shows_refusal(self):
        self.login("director")
        url = reverse("admin:network_unit_delete", args=[self.college_a.pk])
        response = self.client.post(url, {"post": "yes"}, **EN)
        self.assertRedirects(response, reverse("admin:network_unit_change", args=[self.college_a.pk]),
                             fetch_redirect_response=False)
        errors = self.error_messages(response)
        self.assertEqual(len(errors), 1)
        self.assertIn("计算机学院", errors[0])
        self.assertIn("6", errors[0])  # the students in the subtree
        self.assertTrue(Unit.objects.filter(pk=self.college_a.pk).exists())
        self.assertEqual(Unit.objects.get(pk=self.class_a1.pk).class_students.count(), 5)

    def test_deleting_unit_with_posts_shows_refusal(self):
        empty = self.college_a.add_unit(kind=UnitKind.CLASS, code="CA-9", name="空班")
        Post.objects.create(person=self.head_teacher_a1, unit=empty, role=Role.HEAD_TEACHER)
        self.login("director")
        response = self.client.post(reverse("admin:network_unit_delete", args=[empty.pk]), {"post": "yes"})
        self.assertTrue(Unit.objects.filter(pk=empty.pk).exists())
        self.assertIn(response.status_code, (200, 302))

    def test_deleting_empty_unit_works(self):
        empty = self.college_a.add_unit(kind=UnitKind.CLASS, code="CA-9", name="空班")
        self.login("director")
        response = self.client.post(reverse("admin:network_unit_delete", args=[empty.pk]), {"post": "yes"})
        self.assertEqual(response.status_code, 302)
        self.assertFalse(Unit.objects.filter(pk=empty.pk).exists())

    def test_bulk_delete_is_not_offered(self):
        self.login("director")
        response = self.client.get(reverse("admin:network_unit_changelist"))
        self.assertNotContains(response, 'value="delete_selected"')

    def add(self, **data):
        self.login("director")
        payload = {"kind": UnitKind.CLASS, "code": "NEW", "name": "新班", "name_en": "",
                   "treebeard_position": "first-child", "treebeard_ref_node": self.college_a.pk}
        payload.update(data)
        return self.client.post(reverse("admin:network_unit_add"), payload)

    def test_add_class_under_college(self):
        response = self.add()
        self.assertEqual(response.status_code, 302, getattr(response, "context_data", {}).get("errors"))
        new = Unit.objects.get(code="NEW")
        self.assertEqual(Unit.objects.get_parent(new).pk, self.college_a.pk)

    def test_add_refuses_wrong_kind(self):
        response = self.add(treebeard_ref_node=self.school.pk)  # a class directly under the school
        self.assertEqual(response.status_code, 200)
        self.assertFalse(Unit.objects.filter(code="NEW").exists())

    def test_add_refuses_root_and_outside_scope(self):
        self.assertEqual(self.add(kind=UnitKind.SCHOOL, treebeard_ref_node="").status_code, 200)
        # A sibling of the school would sit under the bureau, outside the director's subtree.
        self.assertEqual(self.add(kind=UnitKind.SCHOOL, treebeard_ref_node=self.school.pk,
                                  treebeard_position="right").status_code, 200)
        self.assertFalse(Unit.objects.filter(code="NEW").exists())

    def test_rename_top_of_scope(self):
        self.login("director")
        url = reverse("admin:network_unit_change", args=[self.school.pk])
        form = self.client.get(url).context["adminform"].form
        payload = {k: ("" if v is None else getattr(v, "pk", v)) for k, v in form.initial.items()
                   if k in form.fields}
        payload.update({"name": "示范大学（新）", "kind": UnitKind.SCHOOL, "code": "SCH"})
        response = self.client.post(url, payload)
        self.assertEqual(response.status_code, 302, getattr(response, "context_data", {}).get("errors"))
        self.assertEqual(Unit.objects.get(pk=self.school.pk).name, "示范大学（新）")
        self.assertEqual(Unit.objects.get_parent(Unit.objects.get(pk=self.school.pk)).pk, self.bureau.pk)


class ModelCleanInAdminTests(NetworkTestCase):
    def test_post_admin_runs_model_clean(self):
        self.login("director")
        response = self.client.post(reverse("admin:network_post_add"), {
            "person": self.head_teacher_a1.pk, "unit": self.college_a.pk, "role": Role.HEAD_TEACHER,
            "starts_on": "2025-09-01", "ends_on": "",
        })
        self.assertEqual(response.status_code, 200)
        self.assertIn("unit", response.context["adminform"].form.errors)
        self.assertFalse(Post.objects.filter(unit=self.college_a, role=Role.HEAD_TEACHER).exists())

    def test_post_admin_without_role_is_a_form_error(self):
        self.login("director")
        response = self.client.post(reverse("admin:network_post_add"), {
            "person": self.head_teacher_a1.pk, "unit": self.class_a2.pk, "role": "", "starts_on": "2025-09-01"})
        self.assertEqual(response.status_code, 200)
        self.assertIn("role", response.context["adminform"].form.errors)

    def test_student_admin_runs_model_clean(self):
        self.login("director")
        response = self.client.post(reverse("admin:network_student_change", args=[self.student_a2.pk]), {
            "user": self.student_a2.user_id, "gender": "F", "klass": self.class_a2.pk,
            "dorm": self.dorm_a1.pk,  # a dormitory of another class
            "enrolment_year": 2023, "status": "enrolled",
            "guardians-TOTAL_FORMS": 0, "guardians-INITIAL_FORMS": 0,
        })
        self.assertEqual(response.status_code, 200)
        self.assertIn("dorm", response.context["adminform"].form.errors)

    def test_student_change_view_shows_and_audits_guardians(self):
        Guardian.objects.create(student=self.student_a1, name="张父", relation="father", phone="13800138000")
        self.login("director")
        response = self.client.get(reverse("admin:network_student_change", args=[self.student_a1.pk]))
        self.assertContains(response, "13800138000")
        row = AuditEvent.objects.get()
        self.assertEqual((row.action, row.object_id, row.actor_id),
                         ("student.admin_view", str(self.student_a1.pk), self.director.pk))


class AdminWidgetScopeTests(NetworkTestCase):
    def test_autocomplete_offers_only_managed_units(self):
        other = Unit.add_top(kind=UnitKind.SCHOOL, code="SCH2", name="另一所学校")
        other.add_unit(kind=UnitKind.COLLEGE, code="X", name="X学院").add_unit(
            kind=UnitKind.CLASS, code="X-1", name="X1班")
        self.login("director")
        response = self.client.get(reverse("admin:autocomplete"), {
            "app_label": "network", "model_name": "student", "field_name": "klass", "term": "班"})
        self.assertEqual(response.status_code, 200)
        ids = {int(r["id"]) for r in response.json()["results"]}
        self.assertEqual(ids, {self.class_a1.pk, self.class_a2.pk, self.class_b1.pk})

    def test_tree_children_view(self):
        self.login("director")
        response = self.client.get(reverse("admin:network_unit_changelist") + f"children/{self.school.pk}/")
        self.assertEqual(response.status_code, 200)
        html = response.json()["result_html"]
        self.assertIn("计算机学院", html)
        self.assertIn("外国语学院", html)
