"""First-login slips and the responsible teacher's password reset (issue 13): who may issue
codes, what is stored, the two-step first login, and that a code never leaks."""

from __future__ import annotations

import datetime as dt
import io
import logging
import threading
import time

from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.db import OperationalError, connection, transaction
from django.test import RequestFactory, TestCase, TransactionTestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from xinlian.access.models import AuditEvent, AuditResult
from xinlian.lib.actions import Conflict, Invalid, NotAllowed, NotFound
from xinlian.network import identity, slipcodes
from xinlian.network.models import FirstLoginCode, User

from .base import PASSWORD, NetworkTestCase

NEW_PASSWORD = "choose-a-long-one-2026"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BAD_CODE_ZH = "学号/工号与登录码不符"
BAD_CODE_EN = "This number and code do not match"


class Capture(logging.Handler):
    """Every log record of the project and of Django, at every level, as text."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + repr(record.__dict__))

    def __enter__(self) -> Capture:
        self.root = logging.getLogger()
        self.old_level = self.root.level
        self.root.setLevel(logging.DEBUG)
        self.root.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.root.removeHandler(self)
        self.root.setLevel(self.old_level)


class SlipTestCase(NetworkTestCase):
    def request_as(self, name: str):
        request = RequestFactory().post("/")
        request.user = self.persona(name)
        request.session = {}
        return request

    def never_logged_in(self, *users: User) -> None:
        """Only ``users`` have never logged in (the personas are made without a last login)."""
        User.objects.update(last_login=timezone.now())
        User.objects.filter(pk__in=[u.pk for u in users]).update(last_login=None)

    def fresh_code(self, user: User, by: str = "head_teacher_a1") -> str:
        batch = identity.reset_password(self.request_as(by), user.pk)
        return batch.slips[0].code


class CodeTests(TestCase):
    def test_codes_are_random_unambiguous_and_stored_as_a_keyed_hash(self) -> None:
        codes = {slipcodes.new_code() for _ in range(200)}
        self.assertEqual(len(codes), 200)
        for code in codes:
            self.assertEqual(len(code), 10)
            self.assertFalse(set(code) & set("0O1lI"), code)
        digest = slipcodes.code_hash(7, "ABCDEFGHJK")
        self.assertNotIn("ABCDEFGHJK", digest)
        self.assertEqual(len(digest), 64)
        self.assertNotEqual(digest, slipcodes.code_hash(8, "ABCDEFGHJK"))  # bound to its person
        with override_settings(SECRET_KEY="another-secret-key-" * 4):
            self.assertNotEqual(digest, slipcodes.code_hash(7, "ABCDEFGHJK"))  # keyed

    def test_typing_is_forgiving(self) -> None:
        self.assertEqual(slipcodes.normalise(" abcde-fghjk "), "ABCDEFGHJK")
        self.assertEqual(slipcodes.display("ABCDEFGHJK"), "ABCDE-FGHJK")


class IssueSlipsTests(SlipTestCase):
    def test_head_teacher_prints_the_class_for_those_who_never_logged_in(self) -> None:
        students_a1 = [self.student_a1, self.roommate_a1, self.classmate_a1]
        self.never_logged_in(*(s.user for s in students_a1))
        User.objects.filter(username__in=["S0006", "S0007"]).update(last_login=timezone.now())
        batch = identity.issue_slips(self.request_as("head_teacher_a1"), self.class_a1.pk)
        self.assertEqual([s.number for s in batch.slips], ["S0001", "S0002", "S0003"])
        self.assertEqual(batch.days, 14)
        self.assertEqual(FirstLoginCode.objects.count(), 3)
        for slip in batch.slips:
            self.assertRegex(slip.code, r"^[A-Z2-9]{5}-[A-Z2-9]{5}$")
            self.assertEqual(slip.klass, "计算机学院 2023级1班")
            stored = FirstLoginCode.objects.get(user_id=slip.user_id)
            self.assertEqual(stored.code_hash, slipcodes.code_hash(slip.user_id, slip.code.replace("-", "")))
            self.assertNotIn(slip.code.replace("-", ""), stored.code_hash)
            self.assertAlmostEqual(stored.expires_at, timezone.now() + dt.timedelta(days=14),
                                   delta=dt.timedelta(minutes=1))
        row = AuditEvent.objects.get(action="identity.slips")
        self.assertEqual((row.object_id, row.result), (str(self.class_a1.pk), AuditResult.ALLOWED))
        self.assertEqual(row.detail, "count=3;days=14;everyone=0;staff=0")
        # "everyone" resets those who have logged in too.
        everyone = identity.issue_slips(self.request_as("head_teacher_a1"), self.class_a1.pk, 3, everyone=True)
        self.assertEqual(len(everyone.slips), 5)

    @override_settings(FIRST_LOGIN_DAYS=30)
    def test_validity_comes_from_the_setting(self) -> None:
        self.never_logged_in(self.student_a2.user)
        batch = identity.issue_slips(self.request_as("counsellor_a"), self.class_a2.pk)
        self.assertEqual(batch.days, 30)

    def test_the_fudaoyuan_prints_their_college_and_the_centre_any_unit_with_staff(self) -> None:
        User.objects.update(last_login=None)
        college = identity.issue_slips(self.request_as("counsellor_a"), self.college_a.pk)
        self.assertEqual(len(college.slips), 6)  # the 6 students of classes A1 and A2
        school = identity.issue_slips(self.request_as("director"), self.school.pk, staff=True)
        numbers = {s.number for s in school.slips}
        self.assertTrue({"S0005", "T1001", "T1002", "T1003"} <= numbers)
        self.assertNotIn("T1004", numbers)  # never one's own code

    def test_who_may_not(self) -> None:
        User.objects.update(last_login=None)
        cases = [("head_teacher_a1", self.class_a2, NotFound),     # another class
                 ("outsider_b", self.class_a1, NotFound),          # another college
                 ("committee_a1", self.class_a1, NotAllowed),      # sees the class, not theirs
                 ("student_a1_user", self.class_a1, NotFound),
                 ("bureau_viewer", self.class_a1, NotFound)]
        for persona, unit, outcome in cases:
            with self.subTest(persona), self.assertRaises(outcome):
                identity.issue_slips(self.request_as(persona), unit.pk)
        with self.assertRaises(NotAllowed):  # staff slips are the centre's
            identity.issue_slips(self.request_as("counsellor_a"), self.college_a.pk, staff=True)
        self.assertFalse(FirstLoginCode.objects.exists())
        self.assertEqual(AuditEvent.objects.filter(action="identity.slips", result=AuditResult.DENIED).count(), 6)

    def test_bad_days_are_refused_and_nothing_is_written(self) -> None:
        User.objects.update(last_login=None)
        for days in (0, 91, "x", -3):
            with self.subTest(days), self.assertRaises(Invalid) as refused:
                identity.issue_slips(self.request_as("head_teacher_a1"), self.class_a1.pk, days)
            self.assertIn("days", refused.exception.errors)
        self.assertFalse(FirstLoginCode.objects.exists())
        self.assertFalse(AuditEvent.objects.filter(action="identity.slips").exists())

    def test_a_new_code_replaces_the_unused_ones(self) -> None:
        first = self.fresh_code(self.student_a1.user)
        second = self.fresh_code(self.student_a1.user)
        self.assertEqual(FirstLoginCode.objects.filter(user=self.student_a1.user).count(), 1)
        self.assertIsNone(slipcodes.find("S0001", first))
        self.assertIsNotNone(slipcodes.find("S0001", second))


class ResetTests(SlipTestCase):
    def test_the_responsible_teachers_reset_a_student(self) -> None:
        for persona in ("head_teacher_a1", "counsellor_a", "director"):
            with self.subTest(persona):
                batch = identity.reset_password(self.request_as(persona), self.student_a1.user_id)
                self.assertEqual(batch.slips[0].number, "S0001")
                row = AuditEvent.objects.filter(action="identity.reset").first()
                self.assertEqual((row.actor_id, row.object_id), (self.persona(persona).pk, str(self.student_a1.user_id)))

    def test_who_may_not_reset(self) -> None:
        cases = [("student_a1_user", self.student_a1.user_id, NotAllowed),  # never self-service
                 ("committee_a1", self.student_a1.user_id, NotAllowed),
                 ("liaison_a1", self.student_a1.user_id, NotAllowed),
                 ("outsider_b", self.student_a1.user_id, NotFound),
                 ("head_teacher_a1", self.student_a2.user_id, NotFound),
                 ("head_teacher_a1", self.counsellor_a.pk, NotFound),    # staff: the centre's
                 ("counsellor_a", self.head_teacher_a1.pk, NotFound),
                 ("director", self.director.pk, NotAllowed)]             # one's own
        for persona, user_id, outcome in cases:
            with self.subTest(persona), self.assertRaises(outcome):
                identity.reset_password(self.request_as(persona), user_id)
        self.assertFalse(FirstLoginCode.objects.exists())

    def test_the_centre_resets_staff_and_a_disabled_account_is_a_conflict(self) -> None:
        batch = identity.reset_password(self.request_as("director"), self.head_teacher_a1.pk)
        self.assertEqual(batch.slips[0].number, "T1002")
        User.objects.filter(pk=self.student_a2.user_id).update(is_active=False)
        with self.assertRaises(Conflict):
            identity.reset_password(self.request_as("director"), self.student_a2.user_id)


class FirstLoginTests(SlipTestCase):
    def step1(self, number: str, code: str, client=None):
        return (client or self.client).post(reverse("first-login"), {"username": number, "code": code})

    def step2(self, password: str = NEW_PASSWORD, client=None):
        return (client or self.client).post(reverse("first-login-password"),
                                            {"new_password1": password, "new_password2": password})

    def test_a_student_gets_in_with_a_code_and_chooses_a_password(self) -> None:
        self.never_logged_in(self.student_a1.user)
        with Capture() as logs:
            code = identity.issue_slips(self.request_as("head_teacher_a1"), self.class_a1.pk).slips[0].code
            page = self.client.get(reverse("login"))
            self.assertContains(page, reverse("first-login"))
            response = self.step1("S0001", code.lower())
            self.assertRedirects(response, reverse("first-login-password"), fetch_redirect_response=False)
            self.assertNotIn(SESSION_KEY, self.client.session)  # not logged in before the password
            form = self.client.get(reverse("first-login-password"))
            self.assertContains(form, "S0001")
            self.assertEqual(form["Cache-Control"].count("no-store") + form["Cache-Control"].count("no-cache"), 2)
            weak = self.step2("12345678")
            self.assertEqual(weak.status_code, 200)
            self.assertIsNone(FirstLoginCode.objects.get().used_at)  # a refused password keeps the code
            done = self.step2()
            self.assertRedirects(done, reverse("home"), fetch_redirect_response=False)
        user = User.objects.get(username="S0001")
        self.assertTrue(user.check_password(NEW_PASSWORD))
        self.assertEqual(int(self.client.session[SESSION_KEY]), user.pk)
        self.assertIsNotNone(FirstLoginCode.objects.get().used_at)
        self.assertTrue(AuditEvent.objects.filter(action="identity.first_login", actor=user).exists())
        plain = code.replace("-", "")
        for text in [*logs.lines, *(f"{r.action} {r.object_id} {r.detail}" for r in AuditEvent.objects.all()),
                     done["Location"], response["Location"]]:
            self.assertNotIn(plain, text.upper().replace("-", ""))
        # Used: a second time it is refused like any wrong code.
        self.client.logout()
        again = self.step1("S0001", code)
        self.assertContains(again, BAD_CODE_ZH)

    def test_wrong_expired_used_and_unknown_look_the_same(self) -> None:
        code = self.fresh_code(self.student_a1.user)
        expired = self.fresh_code(self.roommate_a1.user)
        FirstLoginCode.objects.filter(user=self.roommate_a1.user).update(expires_at=timezone.now())
        used = self.fresh_code(self.classmate_a1.user)
        FirstLoginCode.objects.filter(user=self.classmate_a1.user).update(used_at=timezone.now())
        bodies = []
        for number, typed in (("S0001", "ABCDE-FGHJK"), ("S0002", expired), ("S0003", used),
                              ("S9999", code), ("S0001", "x" * 500)):
            response = self.step1(number, typed)
            self.assertEqual(response.status_code, 200)
            body = response.content.decode()
            self.assertIn(BAD_CODE_ZH, body)
            bodies.append(body.split('role="alert">')[1].split("</div>")[0])
            self.assertNotIn(typed, body)  # what was typed is not shown back
        self.assertEqual(len(set(bodies)), 1, "each refusal must read the same")
        self.assertNotIn(SESSION_KEY, self.client.session)
        with self.settings(LANGUAGE_CODE="en"):
            self.client.cookies.load({"django_language": "en"})
            self.assertContains(self.step1("S0001", "WRONG-CODE2"), BAD_CODE_EN)

    def test_wrong_codes_are_counted_by_axes_and_lock_the_number(self) -> None:
        code = self.fresh_code(self.student_a1.user)
        for attempt in range(1, 6):
            self.step1("S0001", "ABCDE-FGHJK")
            self.assertEqual(AccessAttempt.objects.get(username="S0001").failures_since_start, attempt)
        locked = self.step1("S0001", code)  # even the right code: the number is locked out
        self.assertNotEqual(locked.status_code, 302)
        self.assertNotIn("xinlian_first_login", self.client.session)

    def test_two_tabs_exactly_one_sets_the_password(self) -> None:
        code = self.fresh_code(self.student_a1.user)
        other = self.client_class()
        self.assertEqual(self.step1("S0001", code).status_code, 302)
        self.assertEqual(self.step1("S0001", code, client=other).status_code, 302)
        first = self.step2(NEW_PASSWORD)
        second = self.step2("another-long-password-9", client=other)
        self.assertEqual(first.status_code, 302)
        self.assertContains(second, BAD_CODE_ZH)
        self.assertNotIn(SESSION_KEY, other.session)
        self.assertTrue(User.objects.get(username="S0001").check_password(NEW_PASSWORD))

    def test_a_user_with_a_password_can_use_a_fresh_code(self) -> None:
        self.assertTrue(self.student_a1.user.has_usable_password())
        code = self.fresh_code(self.student_a1.user)
        self.step1("S0001", code)
        self.assertEqual(self.step2().status_code, 302)
        user = User.objects.get(username="S0001")
        self.assertTrue(user.check_password(NEW_PASSWORD))
        self.assertFalse(user.check_password(PASSWORD))

    def test_step_two_needs_step_one(self) -> None:
        self.assertRedirects(self.client.get(reverse("first-login-password")), reverse("first-login"))
        self.assertRedirects(self.step2(), reverse("first-login"))


class ConcurrentConsumeTests(TransactionTestCase):
    """Two submits at once (a double click, two tabs): threads with their own connections race
    for one code; the conditional UPDATE lets exactly one through."""

    def test_consume_is_once_under_a_race(self) -> None:
        user = User.objects.create_user(username="S9001", password=None, full_name="并发")
        [issued] = slipcodes.issue([user], days=1, issued_by=None)
        row = slipcodes.find("S9001", issued.code)
        barrier = threading.Barrier(4)
        results: list[bool] = []

        def tab() -> None:
            try:
                barrier.wait()
                for _attempt in range(200):
                    try:
                        with transaction.atomic():
                            won = slipcodes.consume(row.pk, user.pk)
                        # Counted once committed: a commit refused as "locked" is retried whole.
                        results.append(won)
                        return
                    except OperationalError:
                        # SQLite's in-memory test database (shared cache) refuses a second
                        # writer at once instead of waiting like the file database's busy
                        # timeout: wait and retry, as the server would.
                        time.sleep(0.01)
            finally:
                connection.close()

        threads = [threading.Thread(target=tab) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(results), [False, False, False, True])
        self.assertIsNotNone(FirstLoginCode.objects.get().used_at)


class PagesAndApiTests(SlipTestCase):
    def test_the_unit_page_offers_slips_to_those_allowed(self) -> None:
        url = reverse("unit-detail", args=[self.class_a1.pk])
        slips = reverse("unit-first-login-slips", args=[self.class_a1.pk])
        for persona, shown in (("head_teacher_a1", True), ("counsellor_a", True), ("director", True),
                               ("committee_a1", False)):
            with self.subTest(persona):
                self.login(persona)
                body = self.client.get(url).content.decode()
                self.assertEqual(slips in body, shown)

    def test_the_options_page_refuses_as_the_verb_does_with_its_audit_row(self) -> None:
        url = reverse("unit-first-login-slips", args=[self.class_a1.pk])
        denied = AuditEvent.objects.filter(action="identity.slips", result=AuditResult.DENIED)
        self.login("committee_a1")  # sees the class roster, may not print its slips
        self.assertEqual(self.client.get(url).status_code, 403)
        self.assertEqual(denied.count(), 1)
        self.login("outsider_b")  # another college: not found, audited the same way
        self.assertEqual(self.client.get(url).status_code, 404)
        self.assertEqual(denied.count(), 2)

    def test_the_student_page_offers_the_reset_to_the_responsible_teacher(self) -> None:
        url = reverse("student-detail", args=[self.student_a1.pk])
        reset = reverse("student-reset-password", args=[self.student_a1.pk])
        for persona, shown in (("head_teacher_a1", True), ("counsellor_a", True), ("committee_a1", False),
                               ("student_a1_user", False)):
            with self.subTest(persona):
                self.login(persona)
                self.assertEqual(reset in self.client.get(url).content.decode(), shown)

    def test_printable_page_and_spreadsheet(self) -> None:
        self.never_logged_in(self.student_a1.user, self.roommate_a1.user)
        self.login("head_teacher_a1")
        url = reverse("unit-first-login-slips", args=[self.class_a1.pk])
        self.assertNotContains(self.client.get(url), "xl-slip-code")  # a GET issues nothing
        self.assertFalse(FirstLoginCode.objects.exists())
        page = self.client.post(url, {"days": "7", "format": "html"})
        self.assertEqual(page.status_code, 200)
        self.assertIn("no-store", page["Cache-Control"])
        body = page.content.decode()
        self.assertEqual(body.count('class="xl-slip-code'), 2)
        self.assertIn("@media print", body)
        self.assertIn("One-time code", body)
        self.assertIn("一次性登录码", body)
        self.assertIn("http://testserver" + reverse("first-login"), body)
        sheet = self.client.post(url, {"days": "7", "format": "xlsx"})
        self.assertEqual(sheet["Content-Type"], XLSX)
        self.assertIn("no-store", sheet["Cache-Control"])
        rows = list(load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True))
        self.assertEqual(len(rows), 3)
        self.assertEqual(rows[1][1], "S0001")
        code = rows[1][3]
        self.assertIsNotNone(slipcodes.find("S0001", code))  # the spreadsheet's codes are the current ones
        self.assertEqual(rows[1][5], "http://testserver" + reverse("first-login"))
        bad = self.client.post(url, {"days": "400", "format": "html"})
        self.assertEqual(bad.status_code, 200)
        self.assertContains(bad, "90")
        self.assertEqual(FirstLoginCode.objects.count(), 2)

    def test_reset_page(self) -> None:
        self.login("head_teacher_a1")
        url = reverse("student-reset-password", args=[self.student_a1.pk])
        self.assertContains(self.client.get(url), "S0001")
        response = self.client.post(url, {"format": "html"})
        self.assertIn("no-store", response["Cache-Control"])
        self.assertEqual(response.content.decode().count('class="xl-slip-code'), 1)
        self.login("committee_a1")
        self.assertEqual(self.client.post(url).status_code, 403)

    def test_page_and_api_do_the_same(self) -> None:
        """Parity: the reset through the page and through the API: the same code row, audit row."""
        outcomes = []
        for front in ("page", "api"):
            FirstLoginCode.objects.all().delete()
            self.login("head_teacher_a1")
            if front == "page":
                response = self.client.post(reverse("student-reset-password", args=[self.student_a1.pk]))
                code = response.content.decode().split('class="xl-slip-code xl-num">')[1].split("<")[0]
            else:
                response = self.client.post(reverse("api:user-reset", args=[self.student_a1.user_id]))
                self.assertIn("no-store", response["Cache-Control"])
                code = response.json()["slips"][0]["code"]
            self.assertEqual(response.status_code, 200)
            row = FirstLoginCode.objects.get()
            audit = AuditEvent.objects.filter(action="identity.reset").first()
            self.assertIsNotNone(slipcodes.find("S0001", code))
            outcomes.append((row.user_id, row.issued_by_id, audit.object_id, audit.detail, audit.result))
        self.assertEqual(outcomes[0], outcomes[1])
        self.login("committee_a1")
        self.assertEqual(self.client.post(reverse("api:user-reset", args=[self.student_a1.user_id])).status_code, 403)
        self.login("outsider_b")
        self.assertEqual(self.client.post(reverse("api:user-reset", args=[self.student_a1.user_id])).status_code, 404)

    def test_api_slips_json_and_xlsx(self) -> None:
        self.never_logged_in(self.student_a1.user)
        self.login("head_teacher_a1")
        url = reverse("api:unit-first-login-slips", args=[self.class_a1.pk])
        data = self.client.post(url, {"days": 5}, content_type="application/json").json()
        self.assertEqual((data["count"], data["days"]), (1, 5))
        self.assertEqual(data["slips"][0]["number"], "S0001")
        sheet = self.client.post(url, {}, content_type="application/json", HTTP_ACCEPT=XLSX)
        self.assertEqual((sheet.status_code, sheet["Content-Type"]), (200, XLSX))
        rows = list(load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True))
        self.assertEqual(rows[1][1], "S0001")
        bad = self.client.post(url, {"days": 0}, content_type="application/json", HTTP_ACCEPT=XLSX)
        self.assertEqual(bad.status_code, 400)
        self.assertIn("days", bad.json())
        self.login("committee_a1")
        self.assertEqual(self.client.post(url, {}, content_type="application/json").status_code, 403)


class CollegeSizeTests(NetworkTestCase):
    """A 5,000-student college's slips come out whole, page and spreadsheet. How long it takes
    is measured by the ``slips_college`` benchmark (make bench), not here."""

    def test_five_thousand_slips(self) -> None:
        from xinlian.network.models import Student

        users = User.objects.bulk_create([User(username=f"F{i:05d}", full_name=f"新生{i}", kind="student",
                                               password="!") for i in range(5000)])
        Student.objects.bulk_create([Student(user=u, gender="M", klass=self.class_a2, enrolment_year=2026)
                                     for u in users])
        self.login("director")
        url = reverse("unit-first-login-slips", args=[self.college_a.pk])
        page = self.client.post(url, {"days": "14", "format": "html"})
        sheet = self.client.post(url, {"days": "14", "format": "xlsx"})
        self.assertEqual(page.content.decode().count('class="xl-slip-code'), 5006)
        self.assertEqual(len(list(load_workbook(io.BytesIO(sheet.content)).active.iter_rows())), 5007)
        self.assertEqual(FirstLoginCode.objects.filter(used_at__isnull=True).count(), 5006)

