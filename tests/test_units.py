import datetime as dt

from django.core.exceptions import ValidationError

from xinlian.network.models import Post, Role, Unit, UnitKind

from .base import NetworkTestCase


class UnitTreeTests(NetworkTestCase):
    def test_cycle_refused_and_tree_unchanged(self):
        before = list(Unit.objects.values_list("pk", "path"))
        with self.assertRaises(ValidationError) as ctx:
            self.college_a.move_under(self.class_a1)
        self.assertEqual(ctx.exception.code, "cycle")
        self.assertEqual(list(Unit.objects.values_list("pk", "path")), before)

    def test_wrong_kind_child_refused(self):
        with self.assertRaises(ValidationError):
            self.class_a1.add_unit(kind=UnitKind.COLLEGE, code="X", name="x")
        with self.assertRaises(ValidationError):
            Unit.add_top(kind=UnitKind.CLASS, code="Y", name="y")
        self.assertFalse(Unit.objects.filter(code__in=["X", "Y"]).exists())

    def test_k12_template(self):
        school = Unit.add_top(kind=UnitKind.SCHOOL, code="K12", name="实验中学")
        grade = school.add_unit(kind=UnitKind.GRADE, code="K12-G7", name="七年级")
        klass = grade.add_unit(kind=UnitKind.CLASS, code="K12-G7-1", name="七年级1班")
        self.assertEqual([u.kind for u in klass.ancestors_and_self()], ["school", "grade", "class"])

    def test_delete_unit_with_students_refused_with_reason(self):
        with self.assertRaises(ValidationError) as ctx:
            self.college_a.delete()
        self.assertIn("6", str(ctx.exception))
        self.assertTrue(Unit.objects.filter(pk=self.college_a.pk).exists())

    def test_delete_empty_unit(self):
        empty = self.college_b.add_unit(kind=UnitKind.CLASS, code="CB-9", name="空班")
        empty.delete()
        self.assertFalse(Unit.objects.filter(code="CB-9").exists())

    def test_move_class_moves_access(self):
        self.class_a2.move_under(self.college_b)
        from xinlian.access.policy import visible_students

        outsider = self.persona("outsider_b")
        self.assertIn("S0004", set(visible_students(outsider).values_list("user__username", flat=True)))
        self.assertEqual(Unit.objects.find_problems(), ([], [], [], [], []))

    def test_breadcrumb_has_no_school(self):
        self.assertEqual(self.class_a1.breadcrumb(), "计算机学院 2023级1班")


class PostRulesTests(NetworkTestCase):
    def test_post_at_wrong_kind_refused(self):
        post = Post(person=self.head_teacher_a1, unit=self.college_a, role=Role.HEAD_TEACHER,
                    starts_on=dt.date(2024, 1, 1))
        with self.assertRaises(ValidationError) as ctx:
            post.full_clean()
        self.assertIn("unit", ctx.exception.message_dict)

    def test_committee_member_must_be_student_of_class(self):
        post = Post(person=self.student_b1.user, unit=self.class_a1, role=Role.COMMITTEE_MEMBER,
                    starts_on=dt.date(2024, 1, 1))
        with self.assertRaises(ValidationError) as ctx:
            post.full_clean()
        self.assertIn("person", ctx.exception.message_dict)

    def test_term_end_before_start_refused(self):
        post = Post(person=self.head_teacher_a1, unit=self.class_a2, role=Role.HEAD_TEACHER,
                    starts_on=dt.date(2024, 1, 1), ends_on=dt.date(2023, 1, 1))
        with self.assertRaises(ValidationError):
            post.full_clean()
