"""The demo school's counselling service, so that a new user of ``xinlian demo`` sees it at
work: two rooms, each counsellor's weekly times (and the director's), the slots of the booking
window, and a week of bookings — the demo student ("student") among the clients, with an
appointment in the coming days. Deterministic; does nothing where a rota exists.

The intake texts are made up and plain (no one says yes to the risk question here: the demo's
red alert is care's, ``care.demo.seed_demo_concern``)."""

from __future__ import annotations

import datetime as dt
from itertools import cycle

from django.db import transaction
from django.utils import timezone

from xinlian.network.models import Role, Student, Unit, UnitKind, User

from . import rules
from .models import Booking, Mode, Previous, Room, Slot, WeeklyAvailability

DEMO_DAYS = 7
TOPICS = (
    "最近总是睡不好，白天没精神。",
    "和室友相处有些矛盾，不知道怎么开口。",
    "考试临近，压力很大，静不下心来。",
    "对专业没有兴趣，不知道以后该怎么办。",
    "家里最近发生了一些事，心里很乱。",
    "总觉得自己不如别人，想聊聊。",
)
# (weekday, start, end, mode) blocks, dealt to the counsellors in turn.
BLOCKS = ((0, "09:00", "12:00"), (1, "14:00", "17:00"), (2, "09:00", "12:00"), (3, "14:00", "17:00"),
          (4, "09:00", "12:00"), (2, "14:00", "17:00"), (0, "14:00", "17:00"), (3, "09:00", "12:00"))


def seed_demo_counseling(today: dt.date | None = None) -> int:
    """Rooms, weekly times and a week of bookings at each school with counsellors; returns the
    number of bookings written."""
    made = 0
    for school in Unit.objects.filter(kind=UnitKind.SCHOOL).order_by("path"):
        if WeeklyAvailability.objects.filter(school=school).exists():
            continue
        counsellors = rules.counsellors_of(school)
        if not counsellors:
            continue
        with transaction.atomic():
            made += _seed_school(school, counsellors, today)
    return made


def _seed_school(school: Unit, counsellors: list[User], today: dt.date | None) -> int:
    rooms = [Room.objects.get_or_create(school=school, name=name, defaults={"place": place})[0]
             for name, place in (("咨询室一", "大学生活动中心 3 楼 301"), ("咨询室二", "大学生活动中心 3 楼 302"))]
    today = today or rules.local_day(timezone.now())
    blocks = cycle(BLOCKS)
    room_of = cycle(rooms)
    for person in counsellors:
        for _ in range(2):
            weekday, start, end = next(blocks)
            online = person == counsellors[-1] and weekday == 4
            WeeklyAvailability.objects.create(
                counsellor=person, school=school, weekday=weekday, start_time=dt.time.fromisoformat(start),
                end_time=dt.time.fromisoformat(end), slot_minutes=50, mode=Mode.ONLINE if online else Mode.ROOM,
                room=None if online else next(room_of), valid_from=today, created_by=person)
    win = rules.window(school.pk)
    for person in counsellors:
        rules.materialise(person.pk, school.pk, win.first, win.last)
    WeeklyAvailability.objects.filter(school=school).update(generated_until=win.last)
    made = _seed_bookings(school, today)
    made += _seed_sessions(school, counsellors, rooms, today)
    _seed_referrals(school, counsellors)
    return made


def _seed_bookings(school: Unit, today: dt.date) -> int:
    """About half the slots of the coming week booked by students of the school, one each."""
    until = rules.at_local(today + dt.timedelta(days=DEMO_DAYS), dt.time.min)
    slots = list(Slot.objects.filter(school=school, cancelled=False, starts_at__gt=timezone.now(),
                                     starts_at__lt=until).order_by("starts_at", "counsellor_id"))
    if not slots:
        return 0
    taken = slots[::2]
    demo = Student.objects.filter(user__username="student").select_related("user").first()
    others = (Student.objects.filter(klass__path__startswith=school.path).exclude(user__username="student")
              .select_related("user").order_by("user__username")[:len(taken)])
    clients = ([demo] if demo is not None and demo.klass.path.startswith(school.path) else []) + list(others)
    topics = cycle(TOPICS)
    previous = cycle((Previous.NONE, Previous.NONE, Previous.HERE, Previous.ELSEWHERE))
    rows = [Booking(slot=slot, client=student.user, student=student, starts_at=slot.starts_at,
                    topic=next(topics), previous=next(previous))
            for slot, student in zip(taken, clients, strict=False)]
    Booking.objects.bulk_create(rows)
    # A staff client too: the first teacher of the school without a counselling post.
    teacher = (User.objects.filter(kind="staff", is_active=True, posts__unit__path__startswith=school.path)
               .exclude(posts__role__in=(Role.COUNSELLOR, Role.CENTRE_DIRECTOR)).order_by("username").first())
    free = slots[1::2]
    if teacher is not None and free:
        Booking.objects.create(slot=free[-1], client=teacher, starts_at=free[-1].starts_at,
                               topic="工作压力大，想找人聊聊。", previous=Previous.NONE)
        return len(rows) + 1
    return len(rows)


# Last week's sessions (made up): (attendance, presenting, assessment, intervention, plan, notes, risk).
SESSIONS = (
    ("attended", "入学后睡眠变差，白天注意力不集中。", "适应期压力，轻度焦虑。", "睡眠卫生教育，放松训练。",
     "一周后复谈，记录睡眠日记。", "来访者主动、配合，愿意尝试练习。", "none"),
    ("attended", "与室友冲突后情绪低落。", "人际困扰，情绪反应在正常范围。", "共情、角色扮演练习沟通。",
     "两周后复谈。", "提到想换宿舍，先尝试沟通。", "none"),
    ("no_show", "", "", "", "", "", ""),
)


def _seed_sessions(school: Unit, counsellors: list[User], rooms: list[Room], today: dt.date) -> int:
    """Last week: a booking per made-up session above (past slots of the first counsellor), each
    with its session — two recorded, one no-show — in an open episode; and a group with four
    members and a meeting next week. Returns the bookings written."""
    from .models import (
        Attendance,
        CounselingGroup,
        Episode,
        EpisodeSource,
        EpisodeStatus,
        GroupAttendance,
        GroupMember,
        Session,
        SessionKind,
    )

    students = list(Student.objects.filter(klass__path__startswith=school.path).exclude(user__username="student")
                    .select_related("user").order_by("user__username")[10:17])
    if len(students) < 7:
        return 0
    counsellor = counsellors[0]
    last_week = today - dt.timedelta(days=7)
    made = 0
    for i, (attendance, presenting, assessment, intervention, plan, notes, risk) in enumerate(SESSIONS):
        student = students[i]
        start = rules.at_local(last_week + dt.timedelta(days=i), dt.time(10))
        slot = Slot.objects.create(counsellor=counsellor, school=school, starts_at=start,
                                   ends_at=start + dt.timedelta(minutes=50), mode=Mode.ROOM, room=rooms[0])
        booking = Booking.objects.create(slot=slot, client=student.user, student=student, starts_at=start,
                                         topic=TOPICS[i], previous=Previous.NONE)
        made += 1
        episode = (Episode.objects.filter(client=student.user, counsellor=counsellor, status=EpisodeStatus.OPEN).first()
                   or Episode.objects.create(school=school, client=student.user, student=student, counsellor=counsellor,
                                             source=EpisodeSource.BOOKING, opened_at=start))
        recorded = attendance == Attendance.ATTENDED
        Session.objects.create(school=school, counsellor=counsellor, episode=episode, booking=booking, starts_at=start,
                               minutes=50, room=rooms[0], mode=Mode.ROOM, attendance=attendance, risk=risk,
                               presenting=presenting, assessment=assessment, intervention=intervention, plan=plan,
                               notes=notes, recorded_at=start + dt.timedelta(hours=1) if recorded else None,
                               recorded_by=counsellor if recorded else None)
    group = CounselingGroup.objects.create(school=school, counsellor=counsellor, name="考试减压团体", capacity=8)
    members = [GroupMember.objects.create(group=group, client=s.user, student=s) for s in students[3:7]]
    meeting = Session.objects.create(school=school, counsellor=counsellor, kind=SessionKind.GROUP, group=group,
                                     starts_at=rules.at_local(today + dt.timedelta(days=7), dt.time(15)), minutes=90,
                                     room=rooms[1], mode=Mode.ROOM)
    GroupAttendance.objects.bulk_create([GroupAttendance(session=meeting, member=m) for m in members])
    return made


HOSPITALS = (("市精神卫生中心", "心理门诊", "解放路 1 号", "020-81891425"),
             ("市第一人民医院", "精神心理科", "人民北路 602 号", "020-81048888"),
             ("省人民医院", "心身医学科", "中山二路 106 号", "020-83827812"))


def _seed_referrals(school: Unit, counsellors: list[User]) -> None:
    """The hospital directory, a referral waiting in the queue and one accepted (an episode
    from a referral, referred out to a hospital). Made-up texts."""
    from .models import Episode, EpisodeSource, Hospital, ReferralIn, ReferralOut, ReferralStatus

    hospitals = [Hospital.objects.get_or_create(school=school, name=n, department=d,
                                                defaults={"address": a, "phone": p})[0]
                 for n, d, a, p in HOSPITALS]
    students = list(Student.objects.filter(klass__path__startswith=school.path).exclude(user__username="student")
                    .select_related("user").order_by("-user__username")[:2])
    if len(students) < 2:
        return
    by = counsellors[0]
    ReferralIn.objects.create(school=school, client=students[0].user, student=students[0], referred_by=by,
                              reason="辅导员反映该生近两周情绪低落、多次缺课，建议心理咨询。")
    counsellor = counsellors[-1]
    episode = Episode.objects.create(school=school, client=students[1].user, student=students[1],
                                     counsellor=counsellor, source=EpisodeSource.REFERRAL)
    ReferralIn.objects.create(school=school, client=students[1].user, student=students[1], referred_by=by,
                              reason="测评复核访谈后转介：睡眠差，焦虑明显。", status=ReferralStatus.ACCEPTED,
                              to_counsellor=counsellor, decided_by=counsellor, decided_at=timezone.now(),
                              episode=episode)
    ReferralOut.objects.create(school=school, episode=episode, client=students[1].user, student=students[1],
                               hospital=hospitals[0], created_by=counsellor,
                               letter="您好：该生近期焦虑、失眠明显，经咨询评估建议专科进一步评估，请予接诊。谢谢！")
