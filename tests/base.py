"""The named personas every test speaks of, in one small network:

    BUR (bureau) ► SCH (school) ► CA (college A) ► CA-1 (class A1) ► CA-1-101 (dorm)
                                               └► CA-2 (class A2)
                                └► CB (college B) ► CB-1 (class B1)
"""

from __future__ import annotations

import datetime as dt

from django.test import TestCase

from xinlian.network.models import Post, Role, Staff, Student, Unit, UnitKind, User

PASSWORD = "persona-pass-2026"


def make_staff(number: str, name: str, role: str | None = None, unit: Unit | None = None) -> User:
    user = User.objects.create_user(username=number, password=PASSWORD, full_name=name, kind="staff")
    Staff.objects.create(user=user, title="")
    if role:
        Post.objects.create(person=user, unit=unit, role=role, starts_on=dt.date(2020, 9, 1))
    return user


def make_student(number: str, name: str, klass: Unit, dorm: Unit | None = None) -> Student:
    user = User.objects.create_user(username=number, password=PASSWORD, full_name=name, kind="student")
    return Student.objects.create(user=user, gender="F", birth_date=dt.date(2005, 5, 5),
                                  klass=klass, dorm=dorm, enrolment_year=2023)


class NetworkTestCase(TestCase):
    """Personas: counsellor_a (辅导员 of college A), head_teacher_a1, committee_a1 (心理委员 of A1),
    liaison_a1 (dorm liaison of CA-1-101), student_a1, outsider_b (辅导员 of college B),
    director (centre director), bureau_viewer."""

    @classmethod
    def setUpTestData(cls) -> None:
        cls.bureau = Unit.add_top(kind=UnitKind.BUREAU, code="BUR", name="示范区教育局", name_en="Demo Bureau")
        cls.school = cls.bureau.add_unit(kind=UnitKind.SCHOOL, code="SCH", name="示范大学", name_en="Demo University")
        cls.college_a = cls.school.add_unit(kind=UnitKind.COLLEGE, code="CA", name="计算机学院", name_en="College A")
        cls.college_b = cls.school.add_unit(kind=UnitKind.COLLEGE, code="CB", name="外国语学院", name_en="College B")
        cls.class_a1 = cls.college_a.add_unit(kind=UnitKind.CLASS, code="CA-1", name="2023级1班", name_en="Class A1")
        cls.class_a2 = cls.college_a.add_unit(kind=UnitKind.CLASS, code="CA-2", name="2023级2班", name_en="Class A2")
        cls.class_b1 = cls.college_b.add_unit(kind=UnitKind.CLASS, code="CB-1", name="2023级1班", name_en="Class B1")
        cls.dorm_a1 = cls.class_a1.add_unit(kind=UnitKind.DORMITORY, code="CA-1-101", name="1号楼101", name_en="Dorm 101")

        cls.student_a1 = make_student("S0001", "张小明", cls.class_a1, cls.dorm_a1)
        cls.roommate_a1 = make_student("S0002", "李华", cls.class_a1, cls.dorm_a1)
        cls.classmate_a1 = make_student("S0003", "王芳", cls.class_a1)
        cls.student_a2 = make_student("S0004", "赵磊", cls.class_a2)
        cls.student_b1 = make_student("S0005", "陈静", cls.class_b1)
        committee = make_student("S0006", "刘洋", cls.class_a1)
        liaison = make_student("S0007", "孙悦", cls.class_a1, cls.dorm_a1)
        Post.objects.create(person=committee.user, unit=cls.class_a1, role=Role.COMMITTEE_MEMBER,
                            starts_on=dt.date(2024, 9, 1))
        Post.objects.create(person=liaison.user, unit=cls.dorm_a1, role=Role.DORM_LIAISON,
                            starts_on=dt.date(2024, 9, 1))

        cls.committee_a1 = committee.user
        cls.liaison_a1 = liaison.user
        cls.counsellor_a = make_staff("T1001", "周辅导", Role.FUDAOYUAN, cls.college_a)
        cls.head_teacher_a1 = make_staff("T1002", "吴老师", Role.HEAD_TEACHER, cls.class_a1)
        cls.outsider_b = make_staff("T1003", "郑辅导", Role.FUDAOYUAN, cls.college_b)
        cls.director = make_staff("T1004", "钱主任", Role.CENTRE_DIRECTOR, cls.school)
        cls.bureau_viewer = make_staff("T1005", "冯科长", Role.BUREAU_VIEWER, cls.bureau)

    PERSONAS = ("counsellor_a", "head_teacher_a1", "committee_a1", "liaison_a1", "student_a1_user",
                "outsider_b", "director", "bureau_viewer")

    @property
    def student_a1_user(self) -> User:
        return self.student_a1.user

    def persona(self, name: str) -> User:
        user = getattr(self, name)
        # A fresh instance each time: the policy caches posts on the user object.
        return User.objects.get(pk=user.pk)

    def login(self, name: str) -> User:
        user = self.persona(name)
        # The session saved now expires a full idle timeout from now: the next minute's requests
        # do not renew it (xinlian.web.middleware.IdleSessionMiddleware).
        self.client.force_login(user)
        return user
