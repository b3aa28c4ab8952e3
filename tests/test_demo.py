"""The demo university, the duty catalogue and the special groups."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import SimpleTestCase, TestCase
from django.urls import reverse

from xinlian.network import catalogue
from xinlian.network.demo import DEMO_USERNAMES, build_plan, seed_demo
from xinlian.network.models import (
    PHONE_RE,
    Duty,
    Guardian,
    Post,
    Role,
    SpecialGroup,
    Student,
    Unit,
    UnitKind,
    User,
)

YEAR = 2025  # fixed academic year: the test must not depend on today's date


def plan_digest(students: int, seed: int) -> str:
    plan = build_plan(students, seed, year=YEAR)
    text = "|".join(f"{s.number}:{s.name}:{s.class_code}:{s.dorm_code}" for s in plan.students)
    return hashlib.sha256(text.encode()).hexdigest()


def db_digest() -> str:
    rows = Student.objects.order_by("user__username").values_list(
        "user__username", "user__full_name", "klass__code", "dorm__code")
    text = "|".join(f"{n}:{name}:{k}:{d or ''}" for n, name, k, d in rows)
    return hashlib.sha256(text.encode()).hexdigest()


class SpecialGroupMigrationTests(TestCase):
    def test_migration_created_the_six_groups(self):
        groups = dict(SpecialGroup.objects.values_list("code", "name"))
        self.assertEqual(groups["left_behind"], "留守儿童")
        self.assertEqual(groups["orphan"], "孤儿")
        self.assertEqual(set(groups) >= {c for c, _, _ in catalogue.SPECIAL_GROUPS}, True)
        self.assertEqual(SpecialGroup.objects.get(code="migrant").name_en, "Migrant child")

    def test_ensure_special_groups_does_not_duplicate(self):
        before = SpecialGroup.objects.count()
        catalogue.ensure_special_groups()
        self.assertEqual(SpecialGroup.objects.count(), before)


class DutyCatalogueTests(TestCase):
    def test_catalogue_covers_every_role_in_both_languages(self):
        cat = catalogue.load_catalogue()
        self.assertEqual(set(cat), set(Role.values))
        for role, specs in cat.items():
            self.assertGreaterEqual(len(specs), 3, role)
            for spec in specs:
                self.assertTrue(spec.title and spec.title_en, role)
                self.assertRegex(spec.title, r"[\u4e00-\u9fff]")
                self.assertNotRegex(spec.title_en, r"[\u4e00-\u9fff]")

    def test_seed_duties_is_idempotent_and_keeps_edits(self):
        school = Unit.add_top(kind=UnitKind.SCHOOL, code="S1", name="一中")
        created = catalogue.seed_duties(school)
        self.assertEqual(created, sum(len(s) for s in catalogue.load_catalogue().values()))
        self.assertEqual(set(Duty.objects.filter(school=school).values_list("role", flat=True)),
                         set(Role.values))
        duty = Duty.objects.filter(school=school, role=Role.COMMITTEE_MEMBER).first()
        duty.title = "每两周报告一次"
        duty.save()
        Duty.objects.filter(school=school, role=Role.LEADER).delete()
        # Only the role left without duties is filled again; the edited one is untouched.
        self.assertEqual(catalogue.seed_duties(school), len(catalogue.load_catalogue()[Role.LEADER]))
        self.assertEqual(catalogue.seed_duties(school), 0)
        duty.refresh_from_db()
        self.assertEqual(duty.title, "每两周报告一次")

    def test_seed_duties_refuses_a_non_school(self):
        bureau = Unit.add_top(kind=UnitKind.BUREAU, code="B1", name="教育局")
        with self.assertRaises(ValueError):
            catalogue.seed_duties(bureau)


class PlanTests(TestCase):
    def test_same_seed_same_people_other_seed_other_people(self):
        self.assertEqual(plan_digest(200, 7), plan_digest(200, 7))
        self.assertNotEqual(plan_digest(200, 7), plan_digest(200, 8))

    def test_seeding_is_deterministic_in_the_database(self):
        digests = []
        for _ in range(2):
            with transaction.atomic():
                seed_demo(200, 11, year=YEAR)
                digests.append(db_digest())
                transaction.set_rollback(True)
        self.assertEqual(digests[0], digests[1])
        self.assertEqual(Student.objects.count(), 0)

    def test_large_plan_has_ten_colleges_and_realistic_rates(self):
        plan = build_plan(20000, 3, year=YEAR)
        colleges = [u for u in plan.units if u.kind == UnitKind.COLLEGE]
        self.assertEqual(len(colleges), 10)
        cs = sum(1 for s in plan.students if s.class_code.startswith("CS-"))
        self.assertEqual(cs, 2000)  # a tenth of the students, as the page benchmark expects
        groups = Counter(g for s in plan.students for g in s.groups)
        self.assertTrue(0.06 < groups["left_behind"] / 20000 < 0.10, groups)
        self.assertTrue(0.13 < groups["financial_hardship"] / 20000 < 0.17, groups)
        self.assertTrue(0.003 < groups["disability"] / 20000 < 0.02, groups)


class SeededDemoTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.result = seed_demo(400, 5, year=YEAR)

    def test_tree_is_valid_treebeard(self):
        self.assertEqual(Unit.objects.find_problems(), ([], [], [], [], []))
        bureau = Unit.objects.get(kind=UnitKind.BUREAU)
        school = Unit.objects.get(kind=UnitKind.SCHOOL)
        self.assertEqual(bureau.name, "示范区教育局")
        self.assertEqual(Unit.objects.get_parent(school), bureau)
        # treebeard's own API agrees with the paths we computed
        college = Unit.objects.filter(kind=UnitKind.COLLEGE).first()
        self.assertEqual(Unit.objects.get_children_count(college), college.numchild)
        new = college.add_unit(kind=UnitKind.CLASS, code="NEW-1", name="新班")
        self.assertEqual(Unit.objects.get_parent(new), college)
        self.assertEqual(Unit.objects.find_problems(), ([], [], [], [], []))

    def test_classes_hold_30_to_45_students(self):
        sizes = Counter(Student.objects.values_list("klass__code", flat=True))
        self.assertEqual(sum(sizes.values()), 400)
        self.assertEqual(len(sizes), Unit.objects.filter(kind=UnitKind.CLASS).count())
        for code, size in sizes.items():
            self.assertTrue(30 <= size <= 45, (code, size))

    def test_every_class_has_head_teacher_and_committee_member_of_its_own(self):
        classes = Unit.objects.filter(kind=UnitKind.CLASS)
        heads = set(Post.objects.filter(role=Role.HEAD_TEACHER).values_list("unit_id", flat=True))
        committee = dict(Post.objects.filter(role=Role.COMMITTEE_MEMBER).values_list("unit_id", "person_id"))
        for klass in classes:
            self.assertIn(klass.pk, heads, klass.code)
            student = Student.objects.get(user_id=committee[klass.pk])
            self.assertEqual(student.klass_id, klass.pk)

    def test_each_dorm_is_one_class_one_gender_and_its_liaison_lives_there(self):
        liaisons = dict(Post.objects.filter(role=Role.DORM_LIAISON).values_list("unit_id", "person_id"))
        dorms: dict[int, set] = defaultdict(set)
        for dorm_id, klass_id, gender, dorm_path, klass_path in Student.objects.values_list(
                "dorm_id", "klass_id", "gender", "dorm__path", "klass__path"):
            self.assertIsNotNone(dorm_id)
            self.assertTrue(dorm_path.startswith(klass_path))
            dorms[dorm_id].add((klass_id, gender))
        self.assertEqual(set(dorms), set(Unit.objects.filter(kind=UnitKind.DORMITORY).values_list("pk", flat=True)))
        for dorm_id, kinds in dorms.items():
            self.assertEqual(len(kinds), 1, dorm_id)
            self.assertEqual(Student.objects.get(user_id=liaisons[dorm_id]).dorm_id, dorm_id)
        self.assertLessEqual(max(Counter(Student.objects.values_list("dorm_id", flat=True)).values()), 6)

    def test_every_post_is_valid_and_every_role_filled(self):
        self.assertEqual(set(Post.objects.values_list("role", flat=True)), set(Role.values))
        for post in Post.objects.select_related("unit"):
            post.full_clean()

    def test_people_are_plausible(self):
        for s in Student.objects.select_related("user"):
            self.assertRegex(s.user.full_name, r"^[\u4e00-\u9fff]{2,4}$")
            age = YEAR - s.birth_date.year
            self.assertTrue(s.enrolment_year - s.birth_date.year in range(17, 22), s)
            self.assertTrue(17 <= age <= 24)
        per_student = Counter(Guardian.objects.values_list("student_id", flat=True))
        self.assertEqual(len(per_student), 400)
        self.assertTrue(set(per_student.values()) <= {1, 2})
        primaries = Counter(Guardian.objects.filter(is_primary=True).values_list("student_id", flat=True))
        self.assertEqual(set(primaries.values()), {1})
        self.assertEqual(len(primaries), 400)
        for g in Guardian.objects.all()[:50]:
            self.assertRegex(g.phone, PHONE_RE)
        enrolled = Student.objects.filter(status="enrolled").count()
        self.assertGreater(enrolled, 360)

    def test_demo_accounts_form_one_chain(self):
        def post_of(username: str) -> Post:
            return Post.objects.select_related("unit").get(person__username=username)

        klass = post_of("headteacher").unit
        self.assertEqual(Student.objects.get(user__username="committee").klass, klass)
        self.assertEqual(post_of("committee").unit, klass)
        dorm = post_of("liaison").unit
        self.assertEqual(Unit.objects.get_parent(dorm), klass)
        student = Student.objects.get(user__username="student")
        self.assertEqual((student.klass, student.dorm), (klass, dorm))
        self.assertEqual(post_of("fudaoyuan").unit, Unit.objects.get_parent(klass))

    def test_demo_accounts_log_in_with_the_demo_password(self):
        users = User.objects.filter(username__in=DEMO_USERNAMES)
        self.assertEqual(set(users.values_list("username", flat=True)), set(DEMO_USERNAMES))
        for user in users:
            self.assertTrue(user.check_password(settings.DEMO_PASSWORD), user.username)
        self.assertTrue(User.objects.get(username="admin").is_superuser)
        any_student = Student.objects.exclude(user__username__in=DEMO_USERNAMES).first().user
        self.assertTrue(any_student.check_password(settings.DEMO_PASSWORD))
        response = self.client.post(reverse("login"), {"username": "fudaoyuan",
                                                       "password": settings.DEMO_PASSWORD})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(int(self.client.session["_auth_user_id"]), User.objects.get(username="fudaoyuan").pk)

    def test_json_accounts_parse(self):
        out = io.StringIO()
        call_command("seed_demo", accounts_only=True, json=True, stdout=out)
        accounts = json.loads(out.getvalue())
        by_name = {a["username"]: a for a in accounts}
        self.assertEqual(set(by_name), set(DEMO_USERNAMES))
        self.assertEqual(by_name["fudaoyuan"]["role"], Role.FUDAOYUAN)
        self.assertEqual(by_name["student"]["role"], "student")
        self.assertEqual(by_name["bureau"]["unit"], "示范区教育局")
        self.assertTrue(all(a["password"] == settings.DEMO_PASSWORD for a in accounts))

    def test_accounts_table_and_refusal_to_seed_twice(self):
        out = io.StringIO()
        call_command("seed_demo", accounts_only=True, stdout=out)
        self.assertIn("headteacher", out.getvalue())
        self.assertIn(settings.DEMO_PASSWORD, out.getvalue())
        with self.assertRaises(CommandError):
            call_command("seed_demo", students=10, stdout=io.StringIO())
        self.assertEqual(Student.objects.count(), 400)

    def test_duties_and_groups_seeded(self):
        school = Unit.objects.get(kind=UnitKind.SCHOOL)
        self.assertEqual(set(Duty.objects.filter(school=school).values_list("role", flat=True)), set(Role.values))
        self.assertFalse(Duty.objects.filter(school=school, title_en="").exists())
        self.assertEqual(catalogue.seed_duties(school), 0)
        self.assertTrue(Student.objects.filter(special_groups__code="financial_hardship").exists())

    def test_result_counts_match(self):
        self.assertEqual(self.result.students, 400)
        self.assertEqual(self.result.units, Unit.objects.count())
        self.assertEqual(self.result.posts, Post.objects.count())
        self.assertEqual(self.result.guardians, Guardian.objects.count())
        self.assertGreater(self.result.duties, 0)
        self.assertEqual(Post.objects.filter(starts_on__gt=dt.date(YEAR, 9, 1)).count(), 0)


class DemoSignalTests(SimpleTestCase):
    """`kill -TERM` of `xinlian demo` (what a service manager or a script sends) stops the server
    and the worker it started, with everything they started in turn; so does Ctrl-C."""

    def start_demo(self) -> tuple[subprocess.Popen, int, Path]:
        data = Path(tempfile.mkdtemp(prefix="xinlian-demo-test-"))
        self.addCleanup(shutil.rmtree, data, True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        # The demo's own embedded SQLite in a temporary folder: never the test database.
        env = {k: v for k, v in os.environ.items() if not k.startswith("XINLIAN_")}
        env["XINLIAN_DATA_DIR"] = str(data)
        log = (data / "demo.log").open("w")
        self.addCleanup(log.close)
        demo = subprocess.Popen([sys.executable, "-m", "xinlian.cli", "demo", "--students", "20",
                                 "--port", str(port)], cwd=PROJECT_DIR, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        # Whatever the test's outcome, leave nothing running (the whole session, by its id).
        self.addCleanup(_kill_session, demo)
        deadline = time.monotonic() + 180
        while True:
            self.assertIsNone(demo.poll(), (data / "demo.log").read_text())
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            self.assertLess(time.monotonic(), deadline, (data / "demo.log").read_text())
            time.sleep(0.5)
        return demo, port, data

    def assert_stops_on(self, sig: int) -> None:
        demo, port, data = self.start_demo()
        running = _session(demo.pid)
        # the demo, the worker, granian and its worker process at least
        self.assertGreaterEqual(len(running), 4, running)
        os.kill(demo.pid, sig)
        # Within a few seconds, under the demo's 10 s grace: they left on SIGTERM, not SIGKILL.
        deadline = time.monotonic() + 8
        while _session(demo.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        log = (data / "demo.log").read_text()
        self.assertEqual(_session(demo.pid), set(), log)
        self.assertEqual(demo.wait(timeout=1), 0, log)  # a zombie by now: it has exited
        with self.assertRaises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2)
        # The demo said which processes it started, and those were the ones that ran.
        match = re.search(r"server pid (\d+), worker pid (\d+)", log)
        self.assertIsNotNone(match, log)
        self.assertLessEqual({int(match[1]), int(match[2])}, running)

    def test_a_server_that_cannot_start_stops_the_worker_too(self):
        data = Path(tempfile.mkdtemp(prefix="xinlian-demo-test-"))
        self.addCleanup(shutil.rmtree, data, True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("XINLIAN_")}
        env["XINLIAN_DATA_DIR"] = str(data)
        with socket.socket() as taken:  # the port is someone else's
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            demo = subprocess.Popen(
                [sys.executable, "-m", "xinlian.cli", "demo", "--students", "20",
                 "--port", str(taken.getsockname()[1])], cwd=PROJECT_DIR, env=env,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
            self.addCleanup(_kill_session, demo)
            out, _err = demo.communicate(timeout=180)
        self.assertEqual(demo.returncode, 1, out)
        self.assertIn("demo: the server stopped", out)
        self.assertEqual(_session(demo.pid), set(), out)

    def test_sigterm_stops_server_and_worker(self):
        self.assert_stops_on(signal.SIGTERM)

    def test_sigint_stops_server_and_worker(self):
        self.assert_stops_on(signal.SIGINT)


PROJECT_DIR = Path(__file__).resolve().parent.parent


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, session id) of a process from /proc, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name may hold spaces and parentheses
    return fields[0], int(fields[3])


def _session(sid: int) -> set[int]:
    """Every running process of the session the demo leads: its children, and theirs, even
    once they are orphaned (a zombie waiting to be reaped has stopped)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))):
            if stat[1] == sid and stat[0] != "Z":
                pids.add(int(entry.name))
    return pids


def _kill_session(demo: subprocess.Popen) -> None:
    for pid in _session(demo.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        demo.wait(timeout=5)


class DemoRotaTests(TestCase):
    """`xinlian demo` shows a working rota: two weeks of nights at the school and every college,
    nobody twice on one night, every person fit for their rung; seeding twice adds nothing."""

    @classmethod
    def setUpTestData(cls):
        seed_demo(400, 5, year=YEAR)

    def test_two_weeks_of_nights_without_gaps(self):
        from xinlian.care import rota
        from xinlian.care.demo import DEMO_NIGHTS, seed_demo_rota
        from xinlian.care.models import DutyLine, DutyRole, DutyShift
        from xinlian.network.models import Unit, UnitKind

        today = dt.date(2026, 12, 7)
        written = seed_demo_rota(today)
        school = Unit.objects.get(kind=UnitKind.SCHOOL)
        colleges = list(Unit.objects.filter(kind=UnitKind.COLLEGE))
        self.assertGreater(len(colleges), 1)
        self.assertEqual(DutyShift.objects.count(), written)
        self.assertEqual(rota.gaps([school, *colleges], today, DEMO_NIGHTS), [])
        for shift in DutyShift.objects.select_related("person", "unit"):
            self.assertTrue(rota.may_stand_on(shift.person, shift.unit, shift.role), shift)
        roles = set(DutyShift.objects.filter(unit=school).values_list("role", flat=True))
        self.assertEqual(roles, {DutyRole.FIRST_LINE, DutyRole.CENTRE, DutyRole.LEADER})
        self.assertTrue(DutyLine.objects.get(school=school).night_phone)
        self.assertEqual(seed_demo_rota(today), 0)
