"""Duties become work (issue 12, section 5): each duty of the catalogue names what fulfils it,
"my duties" and the home page list the items due under it, a new school gets the catalogue
seeded, and the bureau has its duties too."""

from __future__ import annotations

import datetime as dt
import importlib
import io
import json
import re
from pathlib import Path
from unittest import mock

from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory, TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from xinlian.care.work import Work, WorkItem
from xinlian.duties import actions, cycles
from xinlian.duties.models import Report
from xinlian.network import catalogue
from xinlian.network.models import Duty, DutyWork, Post, Role, Unit, UnitKind, User
from xinlian.web import views

from .base import PASSWORD, NetworkTestCase, make_staff

MIGRATION = importlib.import_module("xinlian.network.migrations.0006_duty_fulfilled_by")
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def section(html: str, pk: int, prefix: str = "mp") -> str:
    """The card of one post on my-posts (``mp``) or home (``post``)."""
    start = html.index(f'aria-labelledby="{prefix}-{pk}"')
    end = html.find("</section>", start)
    return html[start:end]


def duty_item(card: str, title: str) -> str:
    """The <li> of the duty titled ``title`` in a card, with whatever is listed under it."""
    start = card.index(title)
    start = card.rfind("<li", 0, start)
    depth = 0
    for m in re.finditer(r"<li\b|</li>", card[start:]):
        depth += 1 if m.group() != "</li>" else -1
        if depth == 0:
            return card[start:start + m.end()]
    return card[start:]


class CatalogueTests(TestCase):
    def setUp(self) -> None:
        catalogue.load_catalogue.cache_clear()

    def tearDown(self) -> None:
        catalogue.load_catalogue.cache_clear()

    def test_every_link_is_a_known_kind_and_every_kind_fulfils_some_duty(self):
        cat = catalogue.load_catalogue()
        used = {spec.fulfilled_by for specs in cat.values() for spec in specs}
        self.assertLessEqual(used, set(DutyWork.values))
        self.assertEqual(used - {""}, set(DutyWork.values) - {""})  # no kind without a duty

    def test_the_duties_the_issue_names_are_linked(self):
        links = {(s.role, s.title): s.fulfilled_by for specs in catalogue.load_catalogue().values() for s in specs}
        expected = {
            (Role.COMMITTEE_MEMBER, "每周报告本班同学的心理状况"): "report",
            (Role.DORM_LIAISON, "每周报告本宿舍同学的情况"): "report",
            (Role.FUDAOYUAN, "汇总心理委员和宿舍联络员的报告"): "report_review",
            (Role.FUDAOYUAN, "定期向心理辅导中心汇报学生心理状况"): "report",
            (Role.HEAD_TEACHER, "组织心理主题班会和班级活动，营造良好班风"): "activity",
            (Role.COLLEGE_LEAD, "落实本院系5·25心理健康月任务"): "campaign_task",
            (Role.COUNSELLOR, "讲授心理健康教育课程"): "course",
            (Role.COUNSELLOR, "开展个体咨询、团体辅导和家庭咨询"): "counseling",
            (Role.COMMITTEE_MEMBER, "参加心理委员培训"): "training",
            (Role.LEADER, "审批心理健康工作规划和重要方案"): "plan_approval",
            (Role.CENTRE_DIRECTOR, "组织实施学校心理健康工作计划"): "plan_task",
            (Role.LEADERSHIP_MEMBER, "参加领导小组会议，研究部署心理健康工作"): "action_item",
            (Role.COMMITTEE_MEMBER, "对同学倾诉的内容保密"): "",  # a standing duty stays text
        }
        for key, kind in expected.items():
            self.assertEqual(links[key], kind, key)

    def test_the_bureau_has_real_duties_in_both_languages(self):
        specs = catalogue.load_catalogue()[Role.BUREAU_VIEWER]
        titles = " ".join(s.title for s in specs)
        for word in ("督导检查", "统计汇总", "年度评估", "培训"):
            self.assertIn(word, titles)
        self.assertGreaterEqual(len(specs), 5)
        self.assertTrue(all(s.title_en and not re.search(r"[\u4e00-\u9fff]", s.title_en) for s in specs))

    def test_an_unknown_kind_is_refused(self):
        raw = json.loads(catalogue.CATALOGUE_FILE.read_text(encoding="utf-8"))
        raw["roles"]["leader"][0]["fulfilled_by"] = "homework"
        bad = Path(self.id().replace(".", "_") + ".json")
        tmp = Path("/tmp") / bad
        tmp.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
        try:
            with mock.patch.object(catalogue, "CATALOGUE_FILE", tmp), \
                    self.assertRaisesRegex(ValueError, "unknown fulfilled_by 'homework' for leader"):
                catalogue.load_catalogue()
        finally:
            tmp.unlink()

    def test_the_migrations_frozen_links_match_the_catalogue(self):
        links = {(s.role, s.title): s.fulfilled_by for specs in catalogue.load_catalogue().values() for s in specs}
        for role, title, kind in MIGRATION.LINKS:
            self.assertEqual(links.get((role, title)), kind, (role, title))


class SeedingTests(TestCase):
    def test_seeded_rows_carry_the_links(self):
        school = Unit.add_top(kind=UnitKind.SCHOOL, code="S1", name="一中")
        catalogue.seed_duties(school)
        row = Duty.objects.get(school=school, role=Role.COMMITTEE_MEMBER, title="每周报告本班同学的心理状况")
        self.assertEqual(row.fulfilled_by, DutyWork.REPORT)
        self.assertEqual(Duty.objects.filter(school=school).exclude(fulfilled_by="").count(),
                         sum(1 for specs in catalogue.load_catalogue().values() for s in specs if s.fulfilled_by))

    def test_the_data_migration_links_existing_rows_by_their_seeded_title(self):
        school = Unit.add_top(kind=UnitKind.SCHOOL, code="S1", name="一中")
        catalogue.seed_duties(school)
        Duty.objects.filter(school=school).update(fulfilled_by="")  # as the rows were before the field
        Duty.objects.filter(school=school, role=Role.DORM_LIAISON, title="每周报告本宿舍同学的情况") \
            .update(title="每两周报告一次宿舍情况")  # edited by the school
        MIGRATION.link_duties(apps, None)
        self.assertEqual(Duty.objects.get(school=school, title="每周报告本班同学的心理状况").fulfilled_by, "report")
        self.assertEqual(Duty.objects.get(school=school, title="讲授心理健康教育课程").fulfilled_by, "course")
        self.assertEqual(Duty.objects.get(school=school, title="每两周报告一次宿舍情况").fulfilled_by, "")
        # A link the school set itself is kept.
        Duty.objects.filter(school=school, title="每两周报告一次宿舍情况").update(fulfilled_by="report")
        Duty.objects.filter(school=school, title="讲授心理健康教育课程").update(fulfilled_by="activity")
        MIGRATION.link_duties(apps, None)
        self.assertEqual(Duty.objects.get(school=school, title="讲授心理健康教育课程").fulfilled_by, "activity")


class NewSchoolTests(NetworkTestCase):
    def test_a_school_added_in_admin_gets_its_catalogue_once(self):
        root = User.objects.create_superuser(username="root", password=PASSWORD, full_name="管理员")
        self.client.force_login(root)
        response = self.client.post(reverse("admin:network_unit_add"), {
            "kind": UnitKind.SCHOOL, "code": "SCH2", "name": "第二中学", "name_en": "No. 2 School",
            "treebeard_position": "first-child", "treebeard_ref_node": self.bureau.pk})
        self.assertEqual(response.status_code, 302, getattr(response, "context_data", {}).get("errors"))
        school = Unit.objects.get(code="SCH2")
        expected = sum(len(s) for s in catalogue.load_catalogue().values())
        self.assertEqual(Duty.objects.filter(school=school).count(), expected)
        self.assertTrue(Duty.objects.filter(school=school, fulfilled_by="report").exists())
        # Saving the school again (a rename) seeds nothing twice; a class added seeds nothing.
        url = reverse("admin:network_unit_change", args=[school.pk])
        form = self.client.get(url).context["adminform"].form
        payload = {k: ("" if v is None else getattr(v, "pk", v)) for k, v in form.initial.items() if k in form.fields}
        payload.update({"name": "第二中学（新）", "kind": UnitKind.SCHOOL, "code": "SCH2"})
        self.assertEqual(self.client.post(url, payload).status_code, 302)
        self.assertEqual(Duty.objects.filter(school=school).count(), expected)
        before = Duty.objects.count()
        self.client.post(reverse("admin:network_unit_add"), {
            "kind": UnitKind.COLLEGE, "code": "SCH2-C", "name": "初一年级", "name_en": "",
            "treebeard_position": "first-child", "treebeard_ref_node": school.pk})
        self.assertTrue(Unit.objects.filter(code="SCH2-C").exists())
        self.assertEqual(Duty.objects.count(), before)

    def test_the_seed_duties_command_fills_schools_without_rows_and_is_idempotent(self):
        other = self.bureau.add_unit(kind=UnitKind.SCHOOL, code="SCH3", name="第三中学")
        out = io.StringIO()
        call_command("seed_duties", school="SCH3", stdout=out)
        self.assertIn("SCH3", out.getvalue())
        self.assertFalse(Duty.objects.filter(school=self.school).exists())  # only the one named
        call_command("seed_duties", stdout=io.StringIO())
        count = Duty.objects.count()
        self.assertEqual(count, 2 * sum(len(s) for s in catalogue.load_catalogue().values()))
        out = io.StringIO()
        call_command("seed_duties", stdout=out)
        self.assertEqual(Duty.objects.count(), count)
        self.assertIn("0 duties created", out.getvalue())
        self.assertTrue(Duty.objects.filter(school=other).exists())


class MyDutiesTestCase(NetworkTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        catalogue.seed_duties(cls.school)
        cycles.ensure_default_cycles(cls.school)

    def report_url(self, user: User, role: str = Role.COMMITTEE_MEMBER) -> str:
        post = Post.objects.get(person=user, role=role)
        cycle = next(c for c in cycles.ensure_default_cycles(self.school) if c.role == role)
        period = cycles.open_periods([cycle])[cycle.pk][0]
        return reverse("duties:report-form", args=[post.pk, period.pk])


class MyDutiesPageTests(MyDutiesTestCase):
    def test_the_weekly_report_due_shows_under_the_committee_members_report_duty(self):
        self.login("committee_a1")
        post = Post.objects.get(person=self.committee_a1, role=Role.COMMITTEE_MEMBER)
        url = self.report_url(self.committee_a1)
        card = section(self.client.get(reverse("my-posts")).content.decode(), post.pk)
        weekly = duty_item(card, "每周报告本班同学的心理状况")
        self.assertIn(f'href="{url}"', weekly)
        self.assertNotIn("目前没有到期事项", weekly)
        self.assertEqual(card.count(f'href="{url}"'), 1)  # under that duty only
        # A linked duty with nothing due says so; a text duty stays text.
        self.assertIn("目前没有到期事项", duty_item(card, "参加心理委员培训"))
        self.assertNotIn("目前没有到期事项", duty_item(card, "对同学倾诉的内容保密"))

    def file_zero_report(self, name: str = "committee_a1", every_open_period: bool = False) -> None:
        request = RequestFactory().post("/")
        request.user = self.persona(name)
        user = getattr(self, name)
        post = Post.objects.get(person=user, role=Role.COMMITTEE_MEMBER)
        cycle = next(c for c in cycles.ensure_default_cycles(self.school) if c.role == Role.COMMITTEE_MEMBER)
        periods = cycles.open_periods([cycle])[cycle.pk]
        for period in periods if every_open_period else periods[:1]:
            actions.submit_report(request, post_id=post.pk, period_id=period.pk, data=actions.ReportInput(zero=True))

    def test_once_filed_the_duty_has_nothing_due(self):
        url = self.report_url(self.committee_a1)
        self.file_zero_report(every_open_period=True)
        self.assertTrue(Report.objects.exists())
        self.login("committee_a1")
        post = Post.objects.get(person=self.committee_a1, role=Role.COMMITTEE_MEMBER)
        card = section(self.client.get(reverse("my-posts")).content.decode(), post.pk)
        weekly = duty_item(card, "每周报告本班同学的心理状况")
        self.assertNotIn(f'href="{url}"', weekly)
        self.assertIn("目前没有到期事项", weekly)

    def test_each_report_goes_under_the_post_it_is_owed_from(self):
        # The dorm liaison also sits on the class committee of A2: two reports, one per post.
        Post.objects.create(person=self.liaison_a1, unit=self.class_a2, role=Role.COMMITTEE_MEMBER,
                            starts_on=dt.date(2024, 9, 1))
        self.login("liaison_a1")
        html = self.client.get(reverse("my-posts")).content.decode()
        dorm_post = Post.objects.get(person=self.liaison_a1, role=Role.DORM_LIAISON)
        class_post = Post.objects.get(person=self.liaison_a1, role=Role.COMMITTEE_MEMBER)
        dorm_url = self.report_url(self.liaison_a1, Role.DORM_LIAISON)
        class_url = self.report_url(self.liaison_a1, Role.COMMITTEE_MEMBER)
        dorm_card, class_card = section(html, dorm_post.pk), section(html, class_post.pk)
        self.assertIn(f'href="{dorm_url}"', duty_item(dorm_card, "每周报告本宿舍同学的情况"))
        self.assertNotIn(f'href="{class_url}"', dorm_card)
        self.assertIn(f'href="{class_url}"', duty_item(class_card, "每周报告本班同学的心理状况"))
        self.assertNotIn(f'href="{dorm_url}"', class_card)

    def test_an_ended_post_owes_nothing(self):
        post = Post.objects.get(person=self.committee_a1, role=Role.COMMITTEE_MEMBER)
        Post.objects.filter(pk=post.pk).update(ends_on=dt.date(2025, 7, 1))
        self.login("committee_a1")
        card = section(self.client.get(reverse("my-posts")).content.decode(), post.pk)
        self.assertIn("每周报告本班同学的心理状况", card)
        self.assertNotIn("目前没有到期事项", card)
        self.assertNotIn(reverse("duties:home"), card)

    def test_the_fudaoyuan_sees_reports_to_sign_off_under_collecting_the_reports(self):
        post = Post.objects.get(person=self.counsellor_a, role=Role.FUDAOYUAN)
        self.file_zero_report()
        self.login("counsellor_a")
        card = section(self.client.get(reverse("my-posts")).content.decode(), post.pk)
        collect = duty_item(card, "汇总心理委员和宿舍联络员的报告")
        self.assertIn(f'href="{reverse("duties:review")}"', collect)
        self.assertIn("1 份报告待签收", collect)

    def test_english(self):
        self.login("committee_a1")
        response = self.client.get(reverse("my-posts"), **EN)
        post = Post.objects.get(person=self.committee_a1, role=Role.COMMITTEE_MEMBER)
        card = section(response.content.decode(), post.pk)
        weekly = duty_item(card, "Report the class&#x27;s mental-health situation every week")
        self.assertIn(self.report_url(self.committee_a1), weekly)
        self.assertIn("Nothing due now", duty_item(card, "Attend committee-member training"))

    def test_the_home_page_lists_the_items_under_each_posts_duties(self):
        self.login("committee_a1")
        post = Post.objects.get(person=self.committee_a1, role=Role.COMMITTEE_MEMBER)
        html = self.client.get(reverse("home")).content.decode()
        card = section(html, post.pk, prefix="post")
        self.assertIn(f'href="{self.report_url(self.committee_a1)}"', duty_item(card, "每周报告本班同学的心理状况"))
        self.assertIn("目前没有到期事项", duty_item(card, "组织班级心理健康宣传和活动"))


class DutyLinesTests(MyDutiesTestCase):
    """The matching itself, over a work list of the kinds the other apps give (activities,
    training, planning): by kind, and by post when the item names one."""

    def test_items_go_under_duties_of_their_kind(self):
        head = make_staff("T3001", "韩老师", Role.HEAD_TEACHER, self.class_a1)
        Post.objects.create(person=head, unit=self.class_a2, role=Role.HEAD_TEACHER, starts_on=dt.date(2024, 9, 1))
        posts = list(Post.objects.filter(person=head).select_related("unit").order_by("unit__path"))
        duties, _ = views._post_context(posts)
        work = Work(items=[
            WorkItem(kind="activity", title="心理主题班会 A1", url="/activities/1/", post_id=posts[0].pk),
            WorkItem(kind="activity", title="5·25 团体活动", url="/activities/2/"),
            WorkItem(kind="plan_task", title="not a head teacher's", url="/planning/3/"),
        ])
        lines = views._duty_lines(posts, duties, work, {posts[0].pk, posts[1].pk})
        first = {line.duty.title: [i.title for i in line.items] for line in lines[posts[0].pk]}
        second = {line.duty.title: [i.title for i in line.items] for line in lines[posts[1].pk]}
        meeting = "组织心理主题班会和班级活动，营造良好班风"
        self.assertEqual(first[meeting], ["心理主题班会 A1", "5·25 团体活动"])
        self.assertEqual(second[meeting], ["5·25 团体活动"])  # the first item names the other post
        self.assertFalse(any(v for k, v in first.items() if k != meeting))
        # A post not in force owes nothing.
        lines = views._duty_lines(posts, duties, work, {posts[0].pk})
        self.assertFalse(any(line.items or line.tracked for line in lines[posts[1].pk]))


class RealItemsTests(MyDutiesTestCase):
    """Items of the other apps' work lists, as they give them, under the duties they fulfil."""

    def test_a_training_to_attend_shows_under_the_training_duty(self):
        from xinlian.training.models import Attendance, Audience, TrainingSession

        session = TrainingSession.objects.create(
            organiser=self.school, title="心理委员岗前培训（第一期）", audience=Audience.COMMITTEE,
            starts_at=timezone.now() + dt.timedelta(days=3), hours=2, created_by=self.director)
        Attendance.objects.create(session=session, person=self.committee_a1)
        self.login("committee_a1")
        post = Post.objects.get(person=self.committee_a1, role=Role.COMMITTEE_MEMBER)
        card = section(self.client.get(reverse("my-posts")).content.decode(), post.pk)
        self.assertIn("心理委员岗前培训（第一期）", duty_item(card, "参加心理委员培训"))
        self.assertNotIn("心理委员岗前培训（第一期）", duty_item(card, "每周报告本班同学的心理状况"))

    def test_a_meeting_action_item_shows_under_the_meeting_duty(self):
        from xinlian.planning.models import ActionItem, Meeting

        member = make_staff("T3101", "蒋处长", Role.LEADERSHIP_MEMBER, self.school)
        meeting = Meeting.objects.create(school=self.school, held_on=timezone.localdate(), title="领导小组第一次会议",
                                         recorded_by=self.director)
        ActionItem.objects.create(meeting=meeting, text="落实各院系心理委员配备", owner=member,
                                  due_on=timezone.localdate() + dt.timedelta(days=14))
        self.client.force_login(member)
        post = Post.objects.get(person=member)
        card = section(self.client.get(reverse("my-posts")).content.decode(), post.pk)
        self.assertIn("落实各院系心理委员配备", duty_item(card, "参加领导小组会议，研究部署心理健康工作"))
        self.assertIn("目前没有到期事项", duty_item(card, "在本部门落实学校心理健康工作计划"))


class BureauDutiesTests(NetworkTestCase):
    def test_the_bureau_viewer_reads_the_bureaus_duties(self):
        self.login("bureau_viewer")
        response = self.client.get(reverse("my-posts"))
        self.assertEqual(response.status_code, 200)
        post = Post.objects.get(person=self.bureau_viewer)
        card = section(response.content.decode(), post.pk)
        for spec in catalogue.load_catalogue()[Role.BUREAU_VIEWER]:
            self.assertIn(spec.title, card)
        self.assertNotIn("No duties are listed", card)
        self.assertNotIn("尚未列出", card)
        english = section(self.client.get(reverse("my-posts"), **EN).content.decode(), post.pk)
        self.assertIn("Inspect how each school carries out its mental-health work", english)
        home = section(self.client.get(reverse("home")).content.decode(), post.pk, prefix="post")
        self.assertIn("督导检查各校心理健康工作的落实情况", home)


class QueryCountTests(MyDutiesTestCase):
    def queries(self, url: str) -> tuple[int, str]:
        self.login("committee_a1")
        self.client.get(url)  # warm caches (content types, the catalogue file)
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        return len(ctx.captured_queries), response.content.decode()

    def check(self, url: str, times_listed: int) -> None:
        one, _ = self.queries(url)
        # The same person on two more posts, with their reports due too.
        Post.objects.create(person=self.committee_a1, unit=self.class_a2, role=Role.COMMITTEE_MEMBER,
                            starts_on=dt.date(2024, 9, 1))
        Post.objects.create(person=self.committee_a1, unit=self.dorm_a1, role=Role.DORM_LIAISON,
                            starts_on=dt.date(2024, 9, 1))
        three, html = self.queries(url)
        self.assertEqual(three, one)
        due = [d for d in actions.reports_due(self.persona("committee_a1"), timezone.localdate()) if not d.done]
        self.assertEqual(len({d.post.pk for d in due}), 3)
        for d in due:  # each report due is listed under its duty (and on home in the work list too)
            url_of = reverse("duties:report-form", args=[d.post.pk, d.period.pk])
            self.assertEqual(html.count(f'href="{url_of}"'), times_listed, url_of)

    def test_my_posts_runs_a_constant_number_of_queries(self):
        self.check(reverse("my-posts"), 1)

    def test_home_runs_a_constant_number_of_queries(self):
        self.check(reverse("home"), 2)
