"""The demo school's work plan and a leadership-group meeting, so that ``xinlian demo`` shows
planning at work: this term's plan, approved by the leader (组长), with tasks owned by the demo
centre director and the demo 辅导员 (one done, one overdue), and last week's meeting with an
action item for the demo 辅导员 that shows on their home page. Deterministic for a given day."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from xinlian.network.models import Post, Role, User

from .models import ActionItem, Meeting, PlanKind, PlanStatus, PlanTask, TaskStatus, WorkPlan

DEMO_GOALS = ("一、完成新生心理普查与回访，建立并动态更新心理危机预警库；\n"
              "二、落实“学校—学院—班级—宿舍”四级网络的周报、月报制度；\n"
              "三、组织 5·25 心理健康教育活动月筹备与心理委员、宿舍联络员培训；\n"
              "四、每月召开一次工作例会，研判重点关注学生情况。")


def term_of(day: dt.date) -> tuple[str, dt.date, dt.date]:
    """The school term that holds ``day``: autumn (Sep–Jan) or spring (Feb–Aug)."""
    if day.month >= 9 or day.month == 1:
        year = day.year if day.month >= 9 else day.year - 1
        return f"{year}–{year + 1} 学年第一学期", dt.date(year, 9, 1), dt.date(year + 1, 1, 31)
    return f"{day.year - 1}–{day.year} 学年第二学期", dt.date(day.year, 2, 1), dt.date(day.year, 8, 31)


def seed_demo_planning(today: dt.date | None = None) -> int:
    """The demo term plan and meeting; returns how many tasks and action items were written
    (0 when the demo people are missing or the school has a plan already)."""
    today = today or timezone.localdate()
    people = {u.username: u for u in User.objects.filter(username__in=("leader", "director", "fudaoyuan", "deputy",
                                                                         "member"))}
    if not {"leader", "director", "fudaoyuan"} <= set(people):
        return 0
    post = Post.objects.active().filter(person=people["director"], role=Role.CENTRE_DIRECTOR).select_related("unit").first()
    if post is None or WorkPlan.objects.filter(school=post.unit).exists():
        return 0
    school, director, fudaoyuan = post.unit, people["director"], people["fudaoyuan"]
    label, starts, ends = term_of(today)
    now = timezone.now()
    plan = WorkPlan.objects.create(
        school=school, kind=PlanKind.TERM, label=label, starts_on=starts, ends_on=ends,
        title="心理健康教育工作计划", goals=DEMO_GOALS, status=PlanStatus.APPROVED, drafted_by=director,
        submitted_at=now - dt.timedelta(days=30), decided_by=people["leader"], decided_at=now - dt.timedelta(days=28))

    def on(days: int) -> dt.date:
        return min(max(today + dt.timedelta(days=days), starts), ends)

    tasks = [
        PlanTask(plan=plan, title="新生心理普查结果回访", owner=director, due_on=on(-20), status=TaskStatus.DONE,
                 done_at=now - dt.timedelta(days=21), done_by=director, note="已完成全部回访"),
        PlanTask(plan=plan, title="心理委员、宿舍联络员岗前培训", owner=director, due_on=on(14)),
        PlanTask(plan=plan, title="学院心理健康月报汇总", owner=fudaoyuan, due_on=on(-2)),
        PlanTask(plan=plan, title="主题班会：认识情绪", owner=fudaoyuan, due_on=on(21)),
    ]
    PlanTask.objects.bulk_create(tasks)
    meeting = Meeting.objects.create(
        school=school, held_on=today - dt.timedelta(days=7), title="心理健康教育工作领导小组例会",
        minutes="听取心理辅导中心本学期工作进展汇报，研判近期重点关注学生情况。",
        decisions="各学院于月底前完成月报汇总；筹备下学期 5·25 活动月。", recorded_by=director)
    meeting.attendees.set([u for name, u in people.items() if name in ("leader", "deputy", "member", "director")]
                          + [fudaoyuan])
    ActionItem.objects.create(meeting=meeting, text="提交本学院心理委员培训名单", owner=fudaoyuan,
                              due_on=today + dt.timedelta(days=10))
    return len(tasks) + 1
