"""Each care action through both front-ends: the page (a form POST with the form's field names)
and the API (JSON), from the same starting state, must end the same way — the same outcome
class (success / 404 / 403 / 409), the same stored rows and the same audit rows.

Every scenario runs twice inside one test, each run in a savepoint that is rolled back, so both
front-ends start from exactly the same state. Ids of rows created during a run are replaced by
"new" (a rolled-back sequence is not reused on PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.messages import ERROR, get_messages
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from xinlian.access.models import AuditEvent
from xinlian.care.models import (
    Alert,
    AlertNote,
    BreakGlass,
    Case,
    CaseRecord,
    Concern,
    FollowUp,
    RiskEntry,
    TimelineEntry,
)

from .test_care_pages import CarePagesTestCase, put_up_for_closure, with_safety_plan

Req = tuple[str, str, dict[str, Any]]  # method, url, data


def page(name: str, *args: Any, data: dict[str, Any] | None = None, method: str = "post") -> Callable[[Any], Req]:
    return lambda t: (method, reverse(name, args=[a(t) if callable(a) else a for a in args]), data or {})


def api(name: str, *args: Any, data: dict[str, Any] | None = None, method: str = "post") -> Callable[[Any], Req]:
    return lambda t: (method, reverse(f"care-api:{name}", args=[a(t) if callable(a) else a for a in args]),
                      data or {})


def prefixed(prefix: str, data: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}-{k}": v for k, v in data.items()}


def case_id(t: Any) -> int:
    return t.case.pk


def alert_id(t: Any) -> int:
    return t.alert.pk


def a1(t: Any) -> int:
    return t.student_a1.pk


def nothing(t: Any) -> None:
    return None


@dataclass
class Scenario:
    name: str
    persona: str
    expect: str                               # "ok", "404", "403" or "409"
    page: Callable[[Any], Req]
    api: Callable[[Any], Req]
    setup: Callable[[Any], None] = nothing
    check: Callable[[Any, dict[str, Any]], None] | None = field(default=None)


# --- the starting states --------------------------------------------------------------------------


def with_case(t: Any) -> None:
    t.case = Case.open_for(t.student_a1, by=t.director)


def with_case_in_review(t: Any) -> None:
    """Closure asked for by a team member (the 辅导员) after a safety plan: the director reviews."""
    with_case(t)
    put_up_for_closure(t.case, t.counsellor_a)


def with_closed_case(t: Any) -> None:
    with_case_in_review(t)
    t.case.close(t.director, "同意结案")


def with_member(t: Any) -> None:
    with_case(t)
    t.case.members.add(t.head_teacher_a1)


def with_glass(t: Any) -> None:
    with_case(t)
    now = timezone.now()
    BreakGlass.objects.create(case=t.case, user=t.counsellor_a, reason="家长来电称学生失联，需要立即查看",
                              at=now, expires_at=now + BreakGlass.WINDOW)


def with_alert(t: Any) -> None:
    t.alert = t.report(urgency="now").alerts.get()


def with_acknowledged_alert(t: Any) -> None:
    with_alert(t)
    t.alert.acknowledge(t.director, "")


def with_level(t: Any) -> None:
    RiskEntry.set_level(t.student_a1, "red", by=t.director, reason="访谈后评估")


# --- the input, once per front-end ---------------------------------------------------------------

SEEN_AT = (timezone.now() - dt.timedelta(hours=1)).replace(second=0, microsecond=0)
WHEN = (timezone.now() - dt.timedelta(hours=2)).replace(second=0, microsecond=0)
REVIEW_ON = (timezone.localdate() + dt.timedelta(days=14)).isoformat()
KEY = str(uuid.uuid4())

# Each record kind: (the page's form data, the API's JSON) — the same field names.
RECORDS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "assessment": ({"ideation": "yes", "plan": "no", "means": "no", "past_attempts": "yes",
                    "protective": "与母亲关系好", "risk": "high", "notes": "愿意接受帮助"},
                   {"ideation": True, "plan": False, "means": False, "past_attempts": True,
                    "protective": "与母亲关系好", "risk": "high", "notes": "愿意接受帮助"}),
    "safety_plan": ({"warning_signs": "失眠", "coping": "散步、听音乐", "contacts": "辅导员 13900000000",
                     "means_restriction": "收走药物", "notes": ""},
                    {"warning_signs": "失眠", "coping": "散步、听音乐", "contacts": "辅导员 13900000000",
                     "means_restriction": "收走药物"}),
    "referral": ({"where": "市精神卫生中心", "when": "2026-03-01", "outcome": "门诊", "return_assessment": ""},
                 {"where": "市精神卫生中心", "when": "2026-03-01", "outcome": "门诊"}),
    "measure": ({"accompaniment": "on", "other": "调整宿舍", "notes": ""},
                {"accompaniment": True, "other": "调整宿舍"}),
    "follow_up": ({"note": "每日电话"}, {"note": "每日电话"}),
    "note": ({"text": "情况稳定"}, {"text": "情况稳定"}),
}


def guardian_record(who: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    base = {"how": "phone", "said": "告知学生近况，建议来校", "outcome": "同意明天到校"}
    pick = {"who": who} if who else {"who": "other", "who_other": "张母 · 母亲"}
    return ({**pick, "when": timezone.localtime(WHEN).strftime("%Y-%m-%dT%H:%M"), **base},
            {**pick, "when": WHEN.isoformat(), **base})


def record_scenario(kind: str, persona: str, expect: str, setup: Callable[[Any], None] = with_case,
                    data: Callable[[Any], tuple[dict[str, Any], dict[str, Any]]] | None = None,
                    name: str = "", check: Callable[[Any, dict[str, Any]], None] | None = None) -> Scenario:
    def both(t: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return data(t) if data is not None else RECORDS[kind]

    return Scenario(name or f"record_{kind}_{persona}", persona, expect,
                    page=lambda t: ("post", reverse("case-record", args=[t.case.pk, kind]),
                                    prefixed(kind, both(t)[0])),
                    api=lambda t: ("post", reverse("care-api:case-records", args=[t.case.pk]),
                                   {"kind": kind, "data": both(t)[1]}),
                    setup=setup, check=check)


def open_case_conflict(t: Any, results: dict[str, Any]) -> None:
    page_response, api_response = results["page"], results["api"]
    t.assertEqual(page_response["Location"], t.case.get_absolute_url())  # sent to the open case
    t.assertEqual(api_response.json()["case"], t.case.pk)                  # told which case


def case_took_over_the_alert(t: Any, results: dict[str, Any]) -> None:
    """Opening a case resolves its source alert and puts the student at orange at least."""
    t.alert.refresh_from_db()
    t.assertEqual(t.alert.status, "resolved")
    t.assertEqual(RiskEntry.current_for(t.student_a1).level, "orange")


def red_stays_red(t: Any, results: dict[str, Any]) -> None:
    t.assertEqual(RiskEntry.current_for(t.student_a1).level, "red")
    t.assertEqual(RiskEntry.objects.filter(student=t.student_a1).count(), 1)


def sent_back(t: Any, results: dict[str, Any]) -> None:
    t.case.refresh_from_db()
    t.assertEqual(t.case.status, "open")
    record = CaseRecord.objects.get(case=t.case, kind="closure_returned")
    t.assertEqual((record.author_id, record.content["comment"]), (t.director.pk, "先补充返校评估"))


def with_own_closure_request(t: Any) -> None:
    """The director asks for the closure themself: someone else must review it."""
    with_case(t)
    put_up_for_closure(t.case, t.director)


def with_plan(t: Any) -> None:
    with_case(t)
    with_safety_plan(t.case, t.director)


def with_referral_not_back(t: Any) -> None:
    with_plan(t)
    t.case.add_record("referral", author=t.director,
                      data={"where": "市精神卫生中心", "when": "2026-09-01", "outcome": "", "return_assessment": ""})


def guardian_named(t: Any, results: dict[str, Any]) -> None:
    record = CaseRecord.objects.get(kind="guardian")
    t.assertEqual(record.content["who"], "张父 · Father")
    t.assertEqual(record.content["guardian_id"], t.guardian.pk)


SCENARIOS: list[Scenario] = [
    # concerns
    Scenario("report_concern", "liaison_a1", "ok",
             page=lambda t: ("post", reverse("concern-new"), {
                 "key": KEY, "student": t.student_a1.pk, "category": "self_harm", "urgency": "soon",
                 "seen": "说活着没意思", "heard_from": "self",
                 "seen_at": timezone.localtime(SEEN_AT).strftime("%Y-%m-%dT%H:%M")}),
             api=lambda t: ("post", reverse("care-api:concern-list"), {
                 "key": KEY, "student": t.student_a1.pk, "category": "self_harm", "urgency": "soon",
                 "seen": "说活着没意思", "heard_from": "self", "seen_at": SEEN_AT.isoformat()})),
    Scenario("report_concern_out_of_scope", "liaison_a1", "404",
             page=lambda t: ("post", reverse("concern-new"), {
                 "key": KEY, "student": t.student_b1.pk, "category": "other", "urgency": "soon", "seen": "x",
                 "seen_at": timezone.localtime(SEEN_AT).strftime("%Y-%m-%dT%H:%M")}),
             api=lambda t: ("post", reverse("care-api:concern-list"), {
                 "key": KEY, "student": t.student_b1.pk, "category": "other", "urgency": "soon", "seen": "x"})),
    # alerts
    Scenario("list_alerts", "counsellor_a", "ok", setup=with_alert,
             page=page("alert-inbox", method="get"), api=api("alert-list", method="get")),
    Scenario("list_alerts_peer", "committee_a1", "403", setup=with_alert,
             page=page("alert-inbox", method="get"), api=api("alert-list", method="get")),
    Scenario("read_alert", "counsellor_a", "ok", setup=with_alert,
             page=page("alert-detail", alert_id, method="get"), api=api("alert-detail", alert_id, method="get")),
    Scenario("read_alert_outsider", "outsider_b", "404", setup=with_alert,
             page=page("alert-detail", alert_id, method="get"), api=api("alert-detail", alert_id, method="get")),
    Scenario("acknowledge", "counsellor_a", "ok", setup=with_alert,
             page=page("alert-acknowledge", alert_id, data={"ack-note": "我来跟进"}),
             api=api("alert-acknowledge", alert_id, data={"note": "我来跟进"})),
    Scenario("acknowledge_again", "counsellor_a", "409", setup=with_acknowledged_alert,
             page=page("alert-acknowledge", alert_id, data={"ack-note": ""}),
             api=api("alert-acknowledge", alert_id, data={"note": ""})),
    Scenario("acknowledge_outsider", "outsider_b", "404", setup=with_alert,
             page=page("alert-acknowledge", alert_id, data={"ack-note": ""}),
             api=api("alert-acknowledge", alert_id, data={"note": ""})),
    Scenario("triage_monitor", "counsellor_a", "ok", setup=with_acknowledged_alert,
             page=page("alert-triage", alert_id, data={"triage-decision": "monitor", "triage-note": "每周谈话"}),
             api=api("alert-triage", alert_id, data={"decision": "monitor", "note": "每周谈话"})),
    Scenario("triage_case_centre", "director", "ok", setup=with_alert,
             page=page("alert-triage", alert_id, data={"triage-decision": "case", "triage-note": "危机"}),
             api=api("alert-triage", alert_id, data={"decision": "case", "note": "危机"})),
    Scenario("triage_case_takes_over_the_alert", "director", "ok", setup=with_alert,
             check=case_took_over_the_alert,
             page=page("alert-triage", alert_id, data={"triage-decision": "case", "triage-note": ""}),
             api=api("alert-triage", alert_id, data={"decision": "case", "note": ""})),
    # 无需处理 is for those who can judge the alert (the 辅导员, the centre), not the 班主任.
    Scenario("triage_no_action_fudaoyuan", "counsellor_a", "ok", setup=with_alert,
             page=page("alert-triage", alert_id, data={"triage-decision": "no_action", "triage-note": ""}),
             api=api("alert-triage", alert_id, data={"decision": "no_action", "note": ""})),
    Scenario("triage_no_action_head_teacher", "head_teacher_a1", "403", setup=with_alert,
             page=page("alert-triage", alert_id, data={"triage-decision": "no_action", "triage-note": ""}),
             api=api("alert-triage", alert_id, data={"decision": "no_action", "note": ""})),
    Scenario("triage_monitor_head_teacher", "head_teacher_a1", "ok", setup=with_alert,
             page=page("alert-triage", alert_id, data={"triage-decision": "monitor", "triage-note": ""}),
             api=api("alert-triage", alert_id, data={"decision": "monitor", "note": ""})),
    Scenario("triage_case_not_centre", "counsellor_a", "403", setup=with_alert,
             page=page("alert-triage", alert_id, data={"triage-decision": "case", "triage-note": ""}),
             api=api("alert-triage", alert_id, data={"decision": "case", "note": ""})),
    Scenario("resolve", "counsellor_a", "ok", setup=with_acknowledged_alert,
             page=page("alert-resolve", alert_id, data={"resolve-note": "情况稳定"}),
             api=api("alert-resolve", alert_id, data={"note": "情况稳定"})),
    Scenario("resolve_open_alert", "counsellor_a", "409", setup=with_alert,
             page=page("alert-resolve", alert_id, data={"resolve-note": ""}),
             api=api("alert-resolve", alert_id, data={"note": ""})),
    # the register
    Scenario("set_level", "counsellor_a", "ok",
             page=page("register-set", a1, data={"level": "orange", "reason": "访谈后评估", "review_on": REVIEW_ON}),
             api=lambda t: ("post", reverse("care-api:register-list"), {
                 "student": t.student_a1.pk, "level": "orange", "reason": "访谈后评估", "review_on": REVIEW_ON})),
    Scenario("set_level_head_teacher", "head_teacher_a1", "403",
             page=page("register-set", a1, data={"level": "orange", "reason": "x"}),
             api=lambda t: ("post", reverse("care-api:register-list"),
                            {"student": t.student_a1.pk, "level": "orange", "reason": "x"})),
    Scenario("set_level_outsider", "outsider_b", "404",
             page=page("register-set", a1, data={"level": "orange", "reason": "x"}),
             api=lambda t: ("post", reverse("care-api:register-list"),
                            {"student": t.student_a1.pk, "level": "orange", "reason": "x"})),
    Scenario("follow_up", "head_teacher_a1", "ok", setup=with_level,
             page=page("follow-up-new", a1, data={"note": "当面谈话"}),
             api=lambda t: ("post", reverse("care-api:follow-up-list"), {"student": t.student_a1.pk, "note": "当面谈话"})),
    Scenario("follow_up_peer", "committee_a1", "403", setup=with_level,
             page=page("follow-up-new", a1, data={"note": "x"}),
             api=lambda t: ("post", reverse("care-api:follow-up-list"), {"student": t.student_a1.pk, "note": "x"})),
    # cases
    Scenario("case_list", "director", "ok", setup=with_case,
             page=page("case-list", method="get"), api=api("case-list", method="get")),
    Scenario("case_list_peer", "committee_a1", "403", setup=with_case,
             page=page("case-list", method="get"), api=api("case-list", method="get")),
    Scenario("open_case", "psych", "ok",
             page=lambda t: ("post", reverse("case-new"), {"student": t.student_a1.pk}),
             api=lambda t: ("post", reverse("care-api:case-list"), {"student": t.student_a1.pk})),
    Scenario("open_case_from_alert", "director", "ok", setup=with_alert, check=case_took_over_the_alert,
             page=lambda t: ("post", reverse("case-new"), {"student": t.student_a1.pk, "alert": t.alert.pk}),
             api=lambda t: ("post", reverse("care-api:case-list"), {"student": t.student_a1.pk,
                                                                   "alert": t.alert.pk})),
    Scenario("open_case_red_stays_red", "director", "ok", setup=with_level, check=red_stays_red,
             page=lambda t: ("post", reverse("case-new"), {"student": t.student_a1.pk}),
             api=lambda t: ("post", reverse("care-api:case-list"), {"student": t.student_a1.pk})),
    Scenario("open_a_second_case", "director", "409", setup=with_case, check=open_case_conflict,
             page=lambda t: ("post", reverse("case-new"), {"student": t.student_a1.pk}),
             api=lambda t: ("post", reverse("care-api:case-list"), {"student": t.student_a1.pk})),
    Scenario("open_case_head_teacher", "head_teacher_a1", "403",
             page=lambda t: ("post", reverse("case-new"), {"student": t.student_a1.pk}),
             api=lambda t: ("post", reverse("care-api:case-list"), {"student": t.student_a1.pk})),
    Scenario("open_case_outsider", "outsider_b", "404",
             page=lambda t: ("post", reverse("case-new"), {"student": t.student_a1.pk}),
             api=lambda t: ("post", reverse("care-api:case-list"), {"student": t.student_a1.pk})),
    Scenario("read_case", "director", "ok", setup=with_case,
             page=page("case-detail", case_id, method="get"), api=api("case-detail", case_id, method="get")),
    Scenario("read_case_needs_glass", "head_teacher_a1", "403", setup=with_case,
             page=page("case-detail", case_id, method="get"), api=api("case-detail", case_id, method="get")),
    Scenario("read_case_outsider", "outsider_b", "404", setup=with_case,
             page=page("case-detail", case_id, method="get"), api=api("case-detail", case_id, method="get")),
    Scenario("read_case_with_glass", "counsellor_a", "ok", setup=with_glass,
             page=page("case-detail", case_id, method="get"), api=api("case-detail", case_id, method="get")),
    *[record_scenario(kind, "director", "ok") for kind in RECORDS],
    record_scenario("guardian", "director", "ok", name="record_guardian_listed", check=guardian_named,
                    data=lambda t: guardian_record(str(t.guardian.pk))),
    record_scenario("guardian", "director", "ok", name="record_guardian_other",
                    data=lambda t: guardian_record(None)),
    record_scenario("note", "head_teacher_a1", "403", name="record_note_needs_glass"),
    record_scenario("note", "outsider_b", "404", name="record_note_outsider"),
    record_scenario("note", "counsellor_a", "ok", setup=with_glass, name="record_note_with_glass"),
    record_scenario("assessment", "counsellor_a", "403", setup=with_glass, name="record_assessment_with_glass"),
    record_scenario("note", "director", "409", setup=with_closed_case, name="record_note_closed_case"),
    Scenario("set_team", "director", "ok", setup=with_case,
             page=lambda t: ("post", reverse("case-team", args=[t.case.pk]),
                             {"lead": t.psych.pk, "members": [t.head_teacher_a1.pk, t.counsellor_a.pk]}),
             api=lambda t: ("post", reverse("care-api:case-team", args=[t.case.pk]),
                            {"lead": t.psych.pk, "members": [t.head_teacher_a1.pk, t.counsellor_a.pk]})),
    Scenario("set_team_member", "head_teacher_a1", "403", setup=with_member,
             page=lambda t: ("post", reverse("case-team", args=[t.case.pk]), {"lead": t.head_teacher_a1.pk}),
             api=lambda t: ("post", reverse("care-api:case-team", args=[t.case.pk]), {"lead": t.head_teacher_a1.pk})),
    Scenario("set_team_with_glass", "counsellor_a", "403", setup=with_glass,
             page=lambda t: ("post", reverse("case-team", args=[t.case.pk]), {"lead": t.counsellor_a.pk}),
             api=lambda t: ("post", reverse("care-api:case-team", args=[t.case.pk]), {"lead": t.counsellor_a.pk})),
    Scenario("request_closure_without_safety_plan", "director", "409", setup=with_case,
             page=page("case-request-closure", case_id, data={"closure-summary": "情况稳定两周"}),
             api=api("case-request-closure", case_id, data={"summary": "情况稳定两周"})),
    Scenario("request_closure_referred_not_back", "director", "409", setup=with_referral_not_back,
             page=page("case-request-closure", case_id, data={"closure-summary": "情况稳定两周"}),
             api=api("case-request-closure", case_id, data={"summary": "情况稳定两周"})),
    Scenario("close_by_requester", "director", "403", setup=with_own_closure_request,
             page=page("case-close", case_id, data={"review-review": "同意结案"}),
             api=api("case-close", case_id, data={"review": "同意结案"})),
    Scenario("send_back", "director", "ok", setup=with_case_in_review, check=sent_back,
             page=page("case-send-back", case_id, data={"sendback-comment": "先补充返校评估"}),
             api=api("case-send-back", case_id, data={"comment": "先补充返校评估"})),
    Scenario("send_back_by_requester", "director", "403", setup=with_own_closure_request,
             page=page("case-send-back", case_id, data={"sendback-comment": "x"}),
             api=api("case-send-back", case_id, data={"comment": "x"})),
    Scenario("send_back_by_member", "counsellor_a", "403", setup=with_case_in_review,
             page=page("case-send-back", case_id, data={"sendback-comment": "x"}),
             api=api("case-send-back", case_id, data={"comment": "x"})),
    Scenario("send_back_open_case", "director", "409", setup=with_plan,
             page=page("case-send-back", case_id, data={"sendback-comment": "x"}),
             api=api("case-send-back", case_id, data={"comment": "x"})),
    Scenario("request_closure", "director", "ok", setup=with_plan,
             page=page("case-request-closure", case_id, data={"closure-summary": "情况稳定两周"}),
             api=api("case-request-closure", case_id, data={"summary": "情况稳定两周"})),
    Scenario("request_closure_again", "director", "409", setup=with_case_in_review,
             page=page("case-request-closure", case_id, data={"closure-summary": "再次"}),
             api=api("case-request-closure", case_id, data={"summary": "再次"})),
    Scenario("request_closure_with_glass", "counsellor_a", "403", setup=with_glass,
             page=page("case-request-closure", case_id, data={"closure-summary": "x"}),
             api=api("case-request-closure", case_id, data={"summary": "x"})),
    Scenario("close", "director", "ok", setup=with_case_in_review,
             page=page("case-close", case_id, data={"review-review": "同意结案"}),
             api=api("case-close", case_id, data={"review": "同意结案"})),
    Scenario("close_before_request", "director", "409", setup=with_case,
             page=page("case-close", case_id, data={"review-review": "x"}),
             api=api("case-close", case_id, data={"review": "x"})),
    Scenario("close_by_member", "head_teacher_a1", "403",
             setup=lambda t: (with_member(t), put_up_for_closure(t.case, t.counsellor_a)),
             page=page("case-close", case_id, data={"review-review": "x"}),
             api=api("case-close", case_id, data={"review": "x"})),
    Scenario("reopen", "director", "ok", setup=with_closed_case,
             page=page("case-reopen", case_id, data={"reopen-reason": "再次出现风险"}),
             api=api("case-reopen", case_id, data={"reason": "再次出现风险"})),
    Scenario("reopen_open_case", "director", "409", setup=with_case,
             page=page("case-reopen", case_id, data={"reopen-reason": "x"}),
             api=api("case-reopen", case_id, data={"reason": "x"})),
    Scenario("break_glass", "counsellor_a", "ok", setup=with_case,
             page=page("case-break-glass", case_id, data={"reason": "家长来电称学生失联，需要立即查看安全计划"}),
             api=api("case-break-glass", case_id, data={"reason": "家长来电称学生失联，需要立即查看安全计划"})),
    Scenario("break_glass_outsider", "outsider_b", "404", setup=with_case,
             page=page("case-break-glass", case_id, data={"reason": "家长来电称学生失联，需要立即查看安全计划"}),
             api=api("case-break-glass", case_id, data={"reason": "家长来电称学生失联，需要立即查看安全计划"})),
    Scenario("break_glass_on_the_team", "director", "409", setup=with_case,
             page=page("case-break-glass", case_id, data={"reason": "家长来电称学生失联，需要立即查看安全计划"}),
             api=api("case-break-glass", case_id, data={"reason": "家长来电称学生失联，需要立即查看安全计划"})),
    # the chronology: the student's page shows it, the API lists it
    Scenario("read_chronology", "director", "ok", setup=with_case,
             page=lambda t: ("get", reverse("student-detail", args=[t.student_a1.pk]), {}),
             api=lambda t: ("get", reverse("care-api:student-timeline", args=[t.student_a1.pk]), {})),
    Scenario("read_chronology_outsider", "outsider_b", "404", setup=with_case,
             page=lambda t: ("get", reverse("student-detail", args=[t.student_a1.pk]), {}),
             api=lambda t: ("get", reverse("care-api:student-timeline", args=[t.student_a1.pk]), {})),
]

TRACKED = (Concern, Alert, AlertNote, Case, CaseRecord, FollowUp, RiskEntry, BreakGlass, TimelineEntry)


class ParityTests(CarePagesTestCase):
    """One test per action and outcome (generated below from SCENARIOS)."""

    def outcome(self, front: str, response: Any) -> str:
        if front == "api":
            return "ok" if response.status_code < 300 else str(response.status_code)
        if response.status_code in (400, 403, 404, 409):
            return str(response.status_code)
        refused = [m for m in get_messages(response.wsgi_request) if m.level >= ERROR]
        return "409" if refused else "ok"

    def state(self, before: dict[str, int], audit_mark: int) -> dict[str, Any]:
        """The rows the run left: model rows (decrypted content) and its audit rows, with the ids
        of rows created during the run as "new"."""
        def ref(model: type, pk: Any) -> Any:
            if pk is None:
                return None
            return "new" if int(pk) > before[model._meta.label_lower] else int(pk)

        rows: dict[str, Any] = {
            "concerns": sorted((c.student_id, c.reporter_id, c.category, c.urgency, c.seen, c.heard_from,
                                c.seen_at.isoformat()) for c in Concern.objects.all()),
            "alerts": sorted((ref(Alert, a.pk), a.status, a.triage, a.acknowledged_by_id, a.triaged_by_id,
                              a.resolved_by_id, a.level) for a in Alert.objects.all()),
            "alert_notes": sorted((ref(Alert, n.alert_id), n.author_id, n.action, n.text)
                                  for n in AlertNote.objects.all()),
            "cases": sorted((ref(Case, c.pk), c.student_id, c.status, c.lead_id, ref(Alert, c.alert_id),
                             tuple(sorted(c.members.values_list("pk", flat=True))))
                            for c in Case.objects.all()),
            "records": sorted((ref(Case, r.case_id), r.kind, r.author_id, json.dumps(r.content, sort_keys=True,
                                                                                       ensure_ascii=False))
                              for r in CaseRecord.objects.all()),
            "follow_ups": sorted((f.student_id, f.by_id, f.note, ref(Case, f.case_id)) for f in FollowUp.objects.all()),
            "register": sorted((e.student_id, e.level, e.reason, str(e.review_on), e.is_current)
                               for e in RiskEntry.objects.all()),
            "break_glass": sorted((ref(Case, g.case_id), g.user_id, g.reason) for g in BreakGlass.objects.all()),
            "chronology": sorted((e.student_id, e.kind, e.tier, e.text, json.dumps(e.params, sort_keys=True))
                                 for e in TimelineEntry.objects.all()),
        }
        types = {m._meta.label_lower: m for m in TRACKED}
        rows["audit"] = [
            (e.actor_id, e.action, e.result, e.object_type,
             ref(types[e.object_type], e.object_id) if e.object_type in types and e.object_id.isdigit()
             else e.object_id)
            for e in AuditEvent.objects.filter(pk__gt=audit_mark).order_by("pk")]
        return rows

    def send(self, front: str, request: Req) -> Any:
        method, path, data = request
        if method == "get":
            return self.client.get(path)
        if front == "page":
            return self.client.post(path, data)
        return self.client.post(path, data, content_type="application/json")

    def run_scenario(self, scenario: Scenario) -> None:
        scenario.setup(self)
        results: dict[str, Any] = {}
        ends: dict[str, Any] = {}
        for front in ("page", "api"):
            sid = transaction.savepoint()
            before = {m._meta.label_lower: (m.objects.order_by("-pk").values_list("pk", flat=True).first() or 0)
                      for m in TRACKED}
            mark = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            self.client.force_login(self.persona(scenario.persona))
            request = (scenario.page if front == "page" else scenario.api)(self)
            response = self.send(front, request)
            results[front] = response
            ends[front] = (self.outcome(front, response), self.state(before, mark))
            if scenario.check is not None and front == "api":  # both answers known; the API's rows
                scenario.check(self, results)
            transaction.savepoint_rollback(sid)
        self.assertEqual(ends["page"][0], scenario.expect, f"page: {results['page'].status_code}")
        self.assertEqual(ends["api"][0], scenario.expect, f"api: {results['api'].status_code} "
                                                          f"{results['api'].content[:300]!r}")
        page_state, api_state = ends["page"][1], ends["api"][1]
        for key in page_state:
            self.assertEqual(page_state[key], api_state[key], f"{scenario.name}: {key} differ")


def _make(scenario: Scenario) -> Callable[[ParityTests], None]:
    def test(self: ParityTests) -> None:
        self.run_scenario(scenario)
    test.__doc__ = f"{scenario.name}: {scenario.expect} through the page and the API alike"
    return test


for _scenario in SCENARIOS:
    setattr(ParityTests, f"test_{_scenario.name}", _make(_scenario))


class DivergenceTests(CarePagesTestCase):
    """The four divergences of issue 9, each pinned by a test that failed on the old code."""

    def api_post(self, path: str, data: dict[str, Any]) -> Any:
        return self.client.post(path, data, content_type="application/json")

    def test_one_open_case_per_student_in_the_database(self):
        from django.db import IntegrityError

        first = Case.open_for(self.student_a1, by=self.director)
        with self.assertRaises(IntegrityError), transaction.atomic():
            Case.objects.create(student=self.student_a1, lead=self.director, opened_by=self.director)
        # The API used to open a second case (201); now 409 naming the open one.
        self.login("director")
        response = self.api_post(reverse("care-api:case-list"), {"student": self.student_a1.pk})
        self.assertEqual(response.status_code, 409)
        self.assertEqual(response.json()["case"], first.pk)
        # The page sends the user to it with the reason.
        response = self.client.post(reverse("case-new"), {"student": self.student_a1.pk}, follow=True)
        self.assertEqual(response.redirect_chain, [(first.get_absolute_url(), 302)])
        self.assertContains(response, "This student already has an open crisis case.")
        self.assertEqual(Case.objects.filter(student=self.student_a1).count(), 1)
        # Once closed, a new case may open.
        put_up_for_closure(first, self.counsellor_a)
        first.close(self.director, "同意")
        self.assertEqual(self.api_post(reverse("care-api:case-list"), {"student": self.student_a1.pk}).status_code,
                         201)

    def test_records_sent_through_the_api_show_in_full_on_the_case_page(self):
        case = Case.open_for(self.student_a1, by=self.director)
        self.login("director")
        path = reverse("care-api:case-records", args=[case.pk])
        plan = {"warning_signs": "整夜失眠", "coping": "跑步和听音乐", "contacts": "室友李雷 13900000000",
                "means_restriction": "宿舍药物交由辅导员保管"}
        self.assertEqual(self.api_post(path, {"kind": "safety_plan", "data": plan}).status_code, 201)
        told = {"who": str(self.guardian.pk), "when": WHEN.isoformat(), "how": "phone",
                "said": "告知学生近况", "outcome": "同意到校"}
        self.assertEqual(self.api_post(path, {"kind": "guardian", "data": told}).status_code, 201)
        other = {**told, "who": "other", "who_other": "张母 · 母亲"}
        self.assertEqual(self.api_post(path, {"kind": "guardian", "data": other}).status_code, 201)
        # A guardian of another student is not one of this student's.
        self.assertEqual(self.api_post(path, {"kind": "guardian", "data": {**told, "who": "999999"}}).status_code,
                         400)
        page = self.client.get(case.get_absolute_url())
        for shown in ("跑步和听音乐", "室友李雷 13900000000", "宿舍药物交由辅导员保管", "Coping steps",
                      "张父 · Father", "张母 · 母亲", "告知学生近况"):
            self.assertContains(page, shown)
        record = CaseRecord.objects.filter(kind="guardian").first()
        self.assertEqual(record.content["guardian_id"], self.guardian.pk)

    def test_records_the_old_api_stored_still_read_back(self):
        case = Case.open_for(self.student_a1, by=self.director)
        case.add_record("safety_plan", author=self.director,
                        data={"warning_signs": "失眠", "coping_strategies": "散步", "support_contacts": "辅导员",
                              "means_safety": "收走药物"})
        self.login("director")
        page = self.client.get(case.get_absolute_url())
        for shown in ("散步", "辅导员", "收走药物"):
            self.assertContains(page, shown)
        data = self.client.get(reverse("care-api:case-detail", args=[case.pk])).json()["records"][0]["data"]
        self.assertEqual((data["coping"], data["contacts"]), ("散步", "辅导员"))

    def test_the_api_writes_the_audit_rows_the_pages_write(self):
        RiskEntry.set_level(self.student_a1, "red", by=self.director, reason="x")
        case = with_safety_plan(Case.open_for(self.student_a1, by=self.director), self.director)
        case.members.add(self.counsellor_a)
        self.login("counsellor_a")
        self.api_post(reverse("care-api:case-request-closure", args=[case.pk]), {"summary": "稳定"})
        self.login("director")
        self.client.get(reverse("care-api:case-list"))
        self.api_post(reverse("care-api:register-list"),
                      {"student": self.student_a1.pk, "level": "orange", "reason": "好转"})
        self.api_post(reverse("care-api:follow-up-list"), {"student": self.student_a1.pk, "note": "电话"})
        self.api_post(reverse("care-api:case-close", args=[case.pk]), {"review": "同意"})
        self.api_post(reverse("care-api:case-reopen", args=[case.pk]), {"reason": "再次出现风险"})
        self.login("outsider_b")
        self.assertEqual(self.api_post(reverse("care-api:case-break-glass", args=[case.pk]),
                                       {"reason": "想看看这个个案的详细情况和记录"}).status_code, 404)
        rows = set(AuditEvent.objects.values_list("action", "result"))
        for row in (("case.list", "allowed"), ("risk.set", "allowed"), ("followup.record", "allowed"),
                    ("case.request_closure", "allowed"), ("case.close", "allowed"), ("case.reopen", "allowed"),
                    ("case.break_glass", "denied")):
            self.assertIn(row, rows)

    def test_break_glass_reads_and_adds_a_note_nothing_else(self):
        case = Case.open_for(self.student_a1, by=self.director)
        self.login("counsellor_a")
        self.assertEqual(self.api_post(reverse("care-api:case-break-glass", args=[case.pk]),
                                       {"reason": "家长来电称学生失联，需要立即查看安全计划"}).status_code, 201)
        body = self.client.get(reverse("care-api:case-detail", args=[case.pk])).json()
        self.assertEqual((body["can_write"], body["can_add_note"], body["can_edit_team"], body["can_close"]),
                         (False, True, False, False))
        records = reverse("care-api:case-records", args=[case.pk])
        self.assertEqual(self.api_post(records, {"kind": "note", "data": {"text": "已联系家长"}}).status_code, 201)
        self.assertEqual(self.api_post(records, {"kind": "assessment", "data": RECORDS["assessment"][1]}).status_code,
                         403)
        for name, data in (("care-api:case-team", {"lead": self.counsellor_a.pk}),
                           ("care-api:case-request-closure", {"summary": "x"})):
            self.assertEqual(self.api_post(reverse(name, args=[case.pk]), data).status_code, 403, name)
        page = self.client.get(case.get_absolute_url())
        self.assertContains(page, f'action="{reverse("case-record", args=[case.pk, "note"])}"')
        self.assertNotContains(page, f'action="{reverse("case-record", args=[case.pk, "assessment"])}"')
        self.assertNotContains(page, f'action="{reverse("case-request-closure", args=[case.pk])}"')
        self.assertNotContains(page, f'action="{reverse("case-team", args=[case.pk])}"')
        response = self.client.post(reverse("case-record", args=[case.pk, "assessment"]),
                                    prefixed("assessment", RECORDS["assessment"][0]))
        self.assertEqual(response.status_code, 403)
        self.assertEqual(list(CaseRecord.objects.values_list("kind", flat=True)), ["note"])
