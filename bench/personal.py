"""personal — alerts that reach one person's phone (issue 14): WeCom application messages and
SMS, sent by real ``xinlian worker`` processes to local platform receivers.

A small school (one college, two classes of 10 students, a 班主任 per class, a 辅导员, a college
lead and the centre director, each with a WeCom user id and a mobile number) is seeded into a
fresh database. The receivers are the test suite's stand-ins (tests/personal_receivers.py),
running in this process: a WeCom server (token endpoint and application messages, its
errcodes) and an SMS provider (Alibaba Cloud by default, or Tencent Cloud: each checks its
request signature). Xinlian is pointed at them through its ``XINLIAN_WECOM_*`` / ``XINLIAN_SMS_*``
settings; ``PERSONAL_RATE_PER_SECOND`` stays at its default, 20.

* ``latency``: red concerns reported at a simulated night (the centre's office hours end at
  00:01, as tests/test_urgent_numbers.make_night() sets them) through ``Concern.submit`` at a
  steady pace; one worker. Latency = arrival of the WeCom application-message request (and of
  the SMS request) at the receiver − the moment before ``submit``. Every personal message of
  every alert counts (a red alert reaches the first staffed rung and the centre at once, each
  by WeCom and by SMS). Target: p99 under 2 s for each channel.
* ``burst``: 1,000 red alerts raised at once (held until the workers are up, then released
  together), the receivers limited to 20 messages per second in any one-second window
  (above it they answer the platform's rate-limit error: WeCom 45009, Aliyun
  isv.BUSINESS_LIMIT_CONTROL, Tencent LimitExceeded.*), three workers, one of them killed with
  SIGKILL every 1–3 s (and restarted) while messages remain — at least 20 kills. Here only the
  centre director has a WeCom id and a mobile, so each alert makes one WeCom message and one
  SMS (1,000 of each; the other people are listed as unreachable, nothing is sent to them). Reported:
  lost (a delivery never accepted by its receiver), repeats (a delivery accepted twice), the
  most requests the receiver saw in any one-second window and in any calendar second, the
  rate-limit answers it gave, and the total time.

Run as a child by bench/run.py: ``python bench/personal.py latency|burst [...]``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
import uuid
from collections import Counter

from common import ROOT, database_info
from linkage import Workers, prepare, seconds_summary, wait_until

sys.path.insert(0, str(ROOT))

from tests.personal_receivers import (  # noqa: E402 — ROOT on the path first
    AliyunSmsServer,
    TencentSmsServer,
    WeComServer,
    settings_for,
)

TARGET_P99_SECONDS = 2.0
LIMIT = 20  # the receivers' messages per second, and Xinlian's PERSONAL_RATE_PER_SECOND
MIN_KILLS = 20
WORKER_INTERVAL = 0.2


class Counting:
    """A receiver that also counts the rate-limit answers it gives."""

    refused_too_fast = 0

    def too_fast(self) -> bool:
        refused = super().too_fast()  # type: ignore[misc]
        self.refused_too_fast += refused
        return refused


class WeCom(Counting, WeComServer):
    pass


class Aliyun(Counting, AliyunSmsServer):
    pass


class Tencent(Counting, TencentSmsServer):
    pass


def start_receivers(backend: str, users: tuple[str, ...]) -> tuple[WeComServer, AliyunSmsServer]:
    """Start the receivers and point Xinlian (this process and the workers) at them."""
    wecom = WeCom(users=users).__enter__()
    sms = (Tencent() if backend == "tencent" else Aliyun()).__enter__()
    for name, value in settings_for(wecom=wecom, sms=sms, backend=backend).items():
        os.environ[f"XINLIAN_{name}"] = str(value)
    os.environ["XINLIAN_PERSONAL_RATE_PER_SECOND"] = str(LIMIT)
    return wecom, sms


STAFF = (("T0001", "钱主任", "centre_director", "school"), ("T0002", "林院长", "college_lead", "college"),
         ("T0003", "周辅导", "fudaoyuan", "college"))


def seed(classes: int = 2, per_class: int = 10, reachable: str = "all") -> list:
    """The school; ``reachable``: "all" staff have a WeCom id and a mobile, or only the
    "director" (then each red alert makes one WeCom message and one SMS, and the others are
    listed as unreachable)."""
    from django.db import transaction

    from xinlian.network.models import Post, Role, Staff, Student, Unit, UnitKind, User
    from xinlian.notify.models import OfficeHours

    since = dt.date(2024, 9, 1)
    with transaction.atomic():
        bureau = Unit.add_top(kind=UnitKind.BUREAU, code="BUR", name="示范区教育局", name_en="Bureau")
        school = bureau.add_unit(kind=UnitKind.SCHOOL, code="SCH", name="示范大学", name_en="University")
        college = school.add_unit(kind=UnitKind.COLLEGE, code="CS", name="计算机学院", name_en="Computing")
        units = {"school": school, "college": college}
        number = iter(range(1, 1000))

        def staff(username: str, name: str, role: str, unit: Unit) -> User:
            user = User(username=username, full_name=name, kind="staff")
            if reachable == "all" or role == Role.CENTRE_DIRECTOR:
                user.wecom_userid, user.phone = f"u{username}", f"138{next(number):08d}"
            user.set_unusable_password()
            user.save()
            Staff.objects.create(user=user)
            Post.objects.create(person=user, unit=unit, role=role, starts_on=since)
            return user

        for username, name, role, unit in STAFF:
            staff(username, name, getattr(Role, role.upper()), units[unit])
        students = []
        for c in range(classes):
            klass = college.add_unit(kind=UnitKind.CLASS, code=f"CS-{c + 1}", name=f"2023级{c + 1}班",
                                     name_en=f"Class {c + 1}")
            staff(f"T1{c:03d}", f"班主任{c + 1}", Role.HEAD_TEACHER, klass)
            for s in range(per_class):
                user = User(username=f"S{c:02d}{s:03d}", full_name=f"学生{c}-{s}", kind="student")
                user.set_unusable_password()
                user.save()
                students.append(Student.objects.create(user=user, gender="F", klass=klass,
                                                       enrolment_year=2023))
        # A simulated night: office hours that ended a minute after midnight (make_night()).
        OfficeHours.objects.all().delete()
        from xinlian.notify.hours import is_out_of_hours, local

        if local().time() >= dt.time(0, 1):
            OfficeHours.objects.create(start=dt.time(0, 0), end=dt.time(0, 1), weekdays="1,2,3,4,5,6,7")
        else:
            OfficeHours.objects.create(start=dt.time(0, 2), end=dt.time(0, 3), weekdays="1,2,3,4,5,6,7")
        assert is_out_of_hours()
    return students


def staff_userids() -> tuple[str, ...]:
    return tuple(f"u{u}" for u, *_ in STAFF) + tuple(f"uT1{c:03d}" for c in range(10))


def message_hits(server, path: str | None) -> list:  # noqa: ANN001
    with server.lock:
        return [h for h in server.hits if path is None or h.path == path]


def rate_seen(times: list[float]) -> dict:
    """The most requests in any one-second window (wherever it starts), and in any calendar
    second counted from the first request."""
    ordered = sorted(times)
    best, first = 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= 1.0:
            first += 1
        best = max(best, last - first + 1)
    per_second = Counter(int(t - ordered[0]) for t in ordered) if ordered else Counter()
    return {"max_in_any_1s_window": best, "max_in_a_calendar_second": max(per_second.values(), default=0),
            "requests": len(ordered),
            "mean_per_second": round(len(ordered) / max(ordered[-1] - ordered[0], 1e-9), 2)
            if len(ordered) > 1 else None}


def accepted_keys(wecom, sms, backend: str) -> tuple[list[str], list[str]]:  # noqa: ANN001
    """Accepted messages by delivery: WeCom by the (per-delivery) one-tap link, SMS by its key."""
    with wecom.lock:
        pushes = [h.body["textcard"]["url"] for h in wecom.messages]
    with sms.lock:
        if backend == "tencent":
            texts = [h.body["SessionContext"] for h in sms.messages]
        else:
            texts = [h.query["OutId"] for h in sms.messages]
    return pushes, texts


def delivery_keys() -> tuple[dict[str, int], dict[str, int]]:
    """WeCom deliveries by absolute link and SMS deliveries by key, each → alert id."""
    from xinlian.notify.models import Channel, Delivery
    from xinlian.notify.sending import absolute

    pushes = {absolute(link): alert for link, alert in
              Delivery.objects.filter(channel=Channel.WECOM_APP).values_list("link", "alert_id")}
    texts = {str(key): alert for key, alert in
             Delivery.objects.filter(channel=Channel.SMS).values_list("key", "alert_id")}
    return pushes, texts


# --- latency ------------------------------------------------------------------------------------


def latency(args: argparse.Namespace) -> dict:
    wecom, sms = start_receivers(args.sms_backend, staff_userids())
    prepare()
    from xinlian.care.models import Alert, Concern

    students = seed()
    from xinlian.network.models import User

    reporter = User.objects.get(username="T1000")
    workers = Workers(1, args.interval)
    workers.wait_ready()

    def file(i: int) -> int:
        concern, _ = Concern.submit(key=uuid.uuid4(), reporter=reporter, student=students[i % len(students)],
                                    category="self_harm", urgency="now",
                                    seen="（基准测试）夜里在宿舍说不想活了。")
        return concern.pk

    for i in range(args.warmup):
        file(i)
    wait_until(lambda: len(wecom.messages) >= args.warmup and len(sms.messages) >= args.warmup, 60)
    time.sleep(1)
    warm_push, warm_sms = len(wecom.messages), len(sms.messages)

    started: dict[int, float] = {}  # concern pk -> monotonic time just before submit
    gap = 1.0 / args.rate
    t_start = time.monotonic()
    for i in range(args.alerts):
        t0 = time.monotonic()
        started[file(i)] = t0
        pause = t_start + (i + 1) * gap - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    from xinlian.notify.models import Channel, Delivery, DeliveryStatus

    alert_of = dict(Alert.objects.filter(concern_id__in=started).values_list("pk", "concern_id"))

    def expected() -> tuple[int, int]:
        qs = Delivery.objects.filter(alert_id__in=alert_of)
        return (qs.filter(channel=Channel.WECOM_APP).count(), qs.filter(channel=Channel.SMS).count())

    want_push, want_sms = expected()
    complete = wait_until(lambda: workers.assert_alive() or (
        len(wecom.messages) - warm_push >= want_push and len(sms.messages) - warm_sms >= want_sms), 120)
    time.sleep(0.5)
    codes = workers.stop()
    wecom.__exit__()
    sms.__exit__()

    push_alert, sms_alert = delivery_keys()
    out: dict = {}
    for label, server, key_of, alert_by_key in (
            ("wecom", wecom, lambda h: h.body["textcard"]["url"], push_alert),
            ("sms", sms, (lambda h: h.body["SessionContext"]) if args.sms_backend == "tencent"
             else (lambda h: h.query["OutId"]), sms_alert)):
        samples, seen = [], set()
        with server.lock:
            accepted = list(server.messages)
        for hit in accepted:
            key = key_of(hit)
            alert = alert_by_key.get(key)
            concern = alert_of.get(alert)
            if concern in started and key not in seen:
                seen.add(key)
                samples.append(hit.at - started[concern])
        summary = seconds_summary(samples)
        out[label] = {"messages": len(samples), "latency": summary,
                      "within_target": bool(samples) and summary["p99_ms"] < TARGET_P99_SECONDS * 1000,
                      "refused_too_fast": server.refused_too_fast}
    not_sent = Delivery.objects.filter(alert_id__in=alert_of, channel__in=(Channel.WECOM_APP, Channel.SMS)) \
        .exclude(status=DeliveryStatus.SENT).count()
    return {
        "database": database_info(), "alerts": args.alerts, "rate_per_second": args.rate,
        "workers": 1, "worker_interval_s": args.interval, "sms_backend": args.sms_backend,
        "night": True, "expected_messages": {"wecom": want_push, "sms": want_sms},
        "all_arrived": complete, "not_sent": not_sent, **out,
        "wecom_token_requests": wecom.token_requests,
        "target_p99_ms": TARGET_P99_SECONDS * 1000,
        "within_target": complete and not_sent == 0 and out["wecom"]["within_target"]
        and out["sms"]["within_target"],
        "worker_exit_codes": codes, "worker_errors": workers.errors(),
    }


# --- burst under kill -9 ------------------------------------------------------------------------


def burst(args: argparse.Namespace) -> dict:
    wecom, sms = start_receivers(args.sms_backend, staff_userids())
    wecom.per_second = sms.per_second = LIMIT
    prepare()
    from django.db import transaction
    from django.utils import timezone

    from xinlian.care.models import Alert, AlertSource
    from xinlian.notify.models import Channel, Delivery, DeliveryStatus
    from xinlian.notify.sending import LEASE_MARGIN, webhook_timeout

    students = seed(reachable="director")
    held = timezone.now() + dt.timedelta(days=1)
    t_raise = time.monotonic()
    with transaction.atomic():
        for i in range(args.alerts):
            Alert.raise_for(students[i % len(students)], "red", AlertSource.COUNSELLOR)
        Delivery.objects.filter(status=DeliveryStatus.PENDING).update(next_attempt_at=held)
    raise_seconds = time.monotonic() - t_raise
    personal = (Channel.WECOM_APP, Channel.SMS)
    workers = Workers(args.workers, args.interval)
    workers.wait_ready()
    go = timezone.now()
    Delivery.objects.filter(status=DeliveryStatus.PENDING).update(next_attempt_at=go)
    t0 = time.monotonic()

    def pending() -> bool:
        return Delivery.objects.filter(status=DeliveryStatus.PENDING, channel__in=personal).exists()

    rng = random.Random(20261207)
    kills = 0
    give_up = t0 + args.max_seconds  # a bound, so that a stuck run ends and says so
    while pending() and time.monotonic() < give_up:
        time.sleep(rng.uniform(args.kill_min, args.kill_max))
        workers.assert_alive()
        running = [i for i in range(len(workers.procs)) if workers.ready(i)]
        if running and pending():
            workers.kill_and_restart(rng.choice(running))
            kills += 1
    lease = webhook_timeout() * 2 + LEASE_MARGIN.total_seconds()
    complete = wait_until(lambda: workers.assert_alive() or not pending(),
                          max(give_up - time.monotonic(), 0) + lease + 60, step=0.25)
    total_seconds = time.monotonic() - t0
    time.sleep(1)
    codes = workers.stop()
    wecom.__exit__()
    sms.__exit__()

    push_alert, sms_alert = delivery_keys()
    pushes, texts = accepted_keys(wecom, sms, args.sms_backend)
    got_push, got_sms = Counter(pushes), Counter(texts)
    lost_push = len(set(push_alert) - set(got_push))
    lost_sms = len(set(sms_alert) - set(got_sms))
    repeats = sum(n - 1 for n in got_push.values() if n > 1) + sum(n - 1 for n in got_sms.values() if n > 1)
    seen = {"wecom": rate_seen([h.at for h in message_hits(wecom, "/cgi-bin/message/send")]),
            "sms": rate_seen([h.at for h in message_hits(sms, None)])}
    for label, server in (("wecom", wecom), ("sms", sms)):
        seen[label]["rate_limit_answers"] = server.refused_too_fast
    statuses = Counter(Delivery.objects.filter(channel__in=personal).values_list("channel", "status"))
    max_seen = max(s["max_in_any_1s_window"] for s in seen.values())
    return {
        "database": database_info(), "alerts": args.alerts, "workers": args.workers,
        "worker_interval_s": args.interval, "sms_backend": args.sms_backend,
        "receiver_limit_per_second": LIMIT, "personal_rate_per_second": LIMIT,
        "raise_seconds": round(raise_seconds, 1),
        "deliveries": {"wecom": len(push_alert), "sms": len(sms_alert)},
        "kills": kills, "all_sent": complete, "total_seconds": round(total_seconds, 1),
        "lost": lost_push + lost_sms, "lost_by_channel": {"wecom": lost_push, "sms": lost_sms},
        "repeats": repeats, "receiver_saw": seen, "max_per_second_seen": max_seen,
        "wecom_token_requests": wecom.token_requests,
        "statuses": {f"{c}/{s}": n for (c, s), n in statuses.items()},
        "lease_seconds_sqlite": lease,
        "targets": {"lost": 0, "repeats_at_most": "kills", "min_kills": MIN_KILLS, "max_per_second": LIMIT},
        "within_target": complete and lost_push + lost_sms == 0 and repeats <= kills and kills >= MIN_KILLS
        and max_seen <= LIMIT,
        "worker_exit_codes": codes, "worker_errors": workers.errors(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("latency")
    p.add_argument("--alerts", type=int, default=200)
    p.add_argument("--rate", type=float, default=2.0, help="red concerns reported per second")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--interval", type=float, default=WORKER_INTERVAL)
    p.add_argument("--sms-backend", choices=("aliyun", "tencent"), default="aliyun")
    p = sub.add_parser("burst")
    p.add_argument("--alerts", type=int, default=1000)
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--kill-min", type=float, default=1.0, help="seconds between kills, at least")
    p.add_argument("--kill-max", type=float, default=3.0, help="seconds between kills, at most")
    p.add_argument("--max-seconds", type=float, default=900.0, help="stop killing after this long")
    p.add_argument("--interval", type=float, default=WORKER_INTERVAL)
    p.add_argument("--sms-backend", choices=("aliyun", "tencent"), default="aliyun")
    args = parser.parse_args()
    os.environ["XINLIAN_WEBHOOK_TIMEOUT"] = "3"
    try:
        result = {"latency": latency, "burst": burst}[args.what](args)
    finally:
        for workers in Workers.every:
            workers.stop()
    print(json.dumps(result, ensure_ascii=False, default=str))


if __name__ == "__main__":
    sys.exit(main())


# --- for bench/run.py (the parent) --------------------------------------------------------------


def run_benchmark(name: str, vendor: str) -> dict:
    """Run ``personal_latency`` or ``personal_burst`` in a child on a fresh database."""
    from common import BENCH_DIR, fresh_database, run_child

    what = {"personal_latency": "latency", "personal_burst": "burst"}[name]
    print(f"{name}: {'200 red concerns at night, one worker' if what == 'latency' else '1,000 red alerts at once, three workers, kill -9'} on {vendor}…", flush=True)
    with fresh_database(vendor) as env:
        return run_child([str(BENCH_DIR / "personal.py"), what], env, timeout=3600)


def print_summary(name: str, payload: dict) -> None:
    def ms(s: dict) -> str:
        return (f"median {s['median_ms']} ms, p99 {s['p99_ms']} ms, max {s['max_ms']} ms (n={s['n']})"
                if s.get("n") else "no samples")

    if name == "personal_latency":
        print(f"{payload['alerts']} red concerns at night, {payload['rate_per_second']}/s, one worker; "
              f"not sent {payload['not_sent']}")
        print(f"→ WeCom message: {ms(payload['wecom']['latency'])}")
        print(f"→ SMS ({payload['sms_backend']}): {ms(payload['sms']['latency'])}")
        print(f"target p99 < {payload['target_p99_ms']:g} ms each: " + ("met" if payload["within_target"] else "NOT met"))
        return
    seen = payload["receiver_saw"]
    print(f"{payload['alerts']:,} red alerts at once → {payload['deliveries']['wecom']:,} WeCom + "
          f"{payload['deliveries']['sms']:,} SMS, {payload['workers']} workers, {payload['kills']} kills (kill -9); "
          f"all sent in {payload['total_seconds']} s")
    print(f"lost {payload['lost']}, repeats {payload['repeats']}; receivers limited to "
          f"{payload['receiver_limit_per_second']}/s saw at most: WeCom {seen['wecom']['max_in_any_1s_window']}, "
          f"SMS {seen['sms']['max_in_any_1s_window']} in any second; rate-limit answers "
          f"{seen['wecom']['rate_limit_answers'] + seen['sms']['rate_limit_answers']}")
    print("targets lost 0, repeats <= kills, kills >= 20, <= 20/s: " + ("met" if payload["within_target"] else "NOT met"))
