"""Each counselling action through both front-ends (as tests/test_parity_rota.py): the page (a
form POST) and the API (JSON), from the same starting state, must end the same way — the same
outcome class, the same stored rows and the same audit rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.urls import reverse

from xinlian.access.models import AuditEvent
from xinlian.counseling.models import (
    AvailabilityChange,
    Booking,
    Slot,
    WaitlistEntry,
    WeeklyAvailability,
)
from xinlian.notify.models import Holiday

from .test_counseling_base import (
    INTAKE,
    CounselingTestCase,
    add_time,
    local_day,
    past_slot,
    slot_in,
)

Req = tuple[str, str, Any]


@dataclass
class Scenario:
    name: str
    persona: str
    expect: str
    page: Callable[[Any], Req]
    api: Callable[[Any], Req]
    setup: Callable[[Any], None] = lambda t: None


def _slot(t: Any, which: Any) -> str:
    return str(which(t).pk)


def book(name: str, persona: str, expect: str, slot: Callable[[Any], Any] = lambda t: t.slots[0],
         setup: Callable[[Any], None] = lambda t: None, **kw: Any) -> Scenario:
    def data(t: Any) -> dict[str, Any]:
        return {"slot": _slot(t, slot), **INTAKE, **kw}
    return Scenario(name, persona, expect,
                    page=lambda t: ("post", reverse("counseling:book"), data(t)),
                    api=lambda t: ("post_json", reverse("counseling-api:bookings"), data(t)), setup=setup)


def taken(t: Any) -> None:
    Booking.objects.create(slot=t.slots[0], client=t.student_a2.user, starts_at=t.slots[0].starts_at, topic="x")


def mine(t: Any) -> None:
    t.booking = Booking.objects.create(slot=t.slots[0], client=t.student_a1.user, student=t.student_a1,
                                       starts_at=t.slots[0].starts_at, topic="x")


def mine_soon(t: Any) -> None:
    soon = slot_in(t.psy, t.school, 3)
    t.booking = Booking.objects.create(slot=soon, client=t.student_a1.user, starts_at=soon.starts_at, topic="x")


def cancel(name: str, persona: str, expect: str, setup: Callable[[Any], None] = mine, **data: Any) -> Scenario:
    return Scenario(name, persona, expect,
                    page=lambda t: ("post", reverse("counseling:cancel", args=[t.booking.pk]), data),
                    api=lambda t: ("post_json", reverse("counseling-api:booking-cancel", args=[t.booking.pk]), data),
                    setup=setup)


def wait(name: str, persona: str, expect: str, first: int, last: int) -> Scenario:
    def data(t: Any) -> dict[str, Any]:
        return {"day_from": local_day(first).isoformat(), "day_to": local_day(last).isoformat()}
    return Scenario(name, persona, expect,
                    page=lambda t: ("post", reverse("counseling:waitlist"), data(t)),
                    api=lambda t: ("post_json", reverse("counseling-api:waitlist"), data(t)))


def weekly(name: str, persona: str, expect: str, who: Callable[[Any], Any] = lambda t: t.psy, **kw: Any) -> Scenario:
    def data(t: Any) -> dict[str, Any]:
        return {"weekday": "2", "start": "14:00", "end": "16:00", "slot_minutes": "60", "mode": "room",
                "room": str(t.room.pk), **kw}
    return Scenario(name, persona, expect,
                    page=lambda t: ("post", reverse("counseling:rota-weekly", args=[who(t).pk]), data(t)),
                    api=lambda t: ("post_json", reverse("counseling-api:availability-weekly"),
                                   {**data(t), "counsellor": str(who(t).pk)}))


def change(name: str, persona: str, expect: str, **kw: Any) -> Scenario:
    def data(t: Any) -> dict[str, Any]:
        return {"date": local_day(2).isoformat(), "kind": "cancelled", "start": "09:00", "end": "10:00", **kw}
    return Scenario(name, persona, expect,
                    page=lambda t: ("post", reverse("counseling:rota-change", args=[t.psy.pk]), data(t)),
                    api=lambda t: ("post_json", reverse("counseling-api:availability-change"),
                                   {**data(t), "counsellor": str(t.psy.pk)}))


SCENARIOS = [
    book("book", "student_a1_user", "ok"),
    book("book_staff_client", "teacher_a", "ok"),
    book("book_held", "student_a1_user", "409", setup=taken),
    book("book_past", "student_a1_user", "400", slot=lambda t: t.old,
         setup=lambda t: setattr(t, "old", past_slot(t.psy, t.school))),
    book("book_outside_window", "student_a1_user", "400", slot=lambda t: add_time(t.psy2, t.school, 20)[0]),
    book("book_holiday", "student_a1_user", "400",
         setup=lambda t: Holiday.objects.create(date=local_day(2))),
    book("book_twice_at_once", "student_a1_user", "409", slot=lambda t: add_time(t.psy2, t.school, 2)[0],
         setup=mine),
    book("book_no_intake", "student_a1_user", "400", topic="", risk_now=""),
    book("book_missing_slot", "student_a1_user", "404", slot=lambda t: Slot(pk=987654)),
    book("book_bureau_viewer", "bureau_viewer", "403"),
    cancel("cancel", "student_a1_user", "ok"),
    cancel("cancel_after_cutoff", "student_a1_user", "409", setup=mine_soon),
    cancel("cancel_not_theirs", "counsellor_a", "404"),
    cancel("cancel_college_lead", "college_lead_a", "404"),
    cancel("cancel_staff_without_reason", "psy", "400"),
    cancel("cancel_staff_with_reason", "psy", "ok", reason="临时有事"),
    wait("wait", "student_a1_user", "ok", 5, 6),
    wait("wait_while_free", "student_a1_user", "409", 2, 2),
    wait("wait_past", "student_a1_user", "400", -2, 1),
    weekly("weekly", "psy", "ok"),
    weekly("weekly_director_for_another", "director", "ok"),
    weekly("weekly_other_counsellor", "psy2", "403"),
    weekly("weekly_fudaoyuan", "counsellor_a", "404"),
    weekly("weekly_bad", "psy", "400", start="16:00", end="14:00"),
    change("change_not_available", "psy", "ok"),
    change("change_extra", "psy", "ok", kind="extra", mode="online", start="18:00", end="20:00"),
    change("change_bad_kind", "psy", "400", kind="maybe"),
]


class CounselingParityCase(CounselingTestCase):
    def outcome(self, response: Any) -> str:
        return "ok" if response.status_code < 300 or response.status_code == 302 else str(response.status_code)

    def state(self, marks: dict[str, int], audit_mark: int) -> dict[str, Any]:
        def ref(model: str, pk: int) -> Any:
            return "new" if pk > marks[model] else pk

        return {
            "bookings": sorted((ref("b", b.pk), b.slot_id, b.client_id, b.status, b.topic, b.risk_now,
                                b.cancel_reason) for b in Booking.objects.all()),
            "slots": sorted((s.counsellor_id, s.starts_at.isoformat(), s.cancelled) for s in Slot.objects.all()),
            "waits": sorted((w.client_id, str(w.day_from), str(w.day_to), w.status)
                            for w in WaitlistEntry.objects.all()),
            "weekly": sorted((w.counsellor_id, w.weekday, str(w.start_time)) for w in WeeklyAvailability.objects.all()),
            "changes": sorted((c.counsellor_id, str(c.date), c.kind) for c in AvailabilityChange.objects.all()),
            "audit": [(e.actor_id, e.action, e.result, e.object_type, self.ref(e, marks), e.detail)
                      for e in AuditEvent.objects.filter(pk__gt=audit_mark).order_by("pk")],
        }

    @staticmethod
    def ref(event: Any, marks: dict[str, int]) -> Any:
        """A row the run created is "new" (ids are not reused after a rollback on PostgreSQL)."""
        if event.object_type == "counseling.booking" and event.object_id.isdigit():
            return "new" if int(event.object_id) > marks["b"] else event.object_id
        if event.object_type.startswith("counseling."):
            return "row"
        return event.object_id

    def send(self, request: Req) -> Any:
        method, path, data = request
        if method == "post":
            return self.client.post(path, data)
        return self.client.post(path, data, content_type="application/json")

    def run_scenario(self, scenario: Scenario) -> dict[str, Any]:
        scenario.setup(self)
        ends: dict[str, Any] = {}
        results: dict[str, Any] = {}
        for front in ("page", "api"):
            sid = transaction.savepoint()
            marks = {"b": Booking.objects.order_by("-pk").values_list("pk", flat=True).first() or 0}
            mark = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            self.client.force_login(self.persona(scenario.persona))
            request = (scenario.page if front == "page" else scenario.api)(self)
            response = self.send(request)
            results[front] = response
            ends[front] = (self.outcome(response), self.state(marks, mark))
            transaction.savepoint_rollback(sid)
        self.assertEqual(ends["page"][0], scenario.expect, f"page: {results['page'].status_code}")
        self.assertEqual(ends["api"][0], scenario.expect,
                         f"api: {results['api'].status_code} {results['api'].content[:300]!r}")
        for key in ends["page"][1]:
            self.assertEqual(ends["page"][1][key], ends["api"][1][key], f"{scenario.name}: {key} differ")
        return {"results": results, "state": ends["api"][1]}

class CounselingParityTests(CounselingParityCase):
    """One test per action and outcome (generated from SCENARIOS)."""


def _make(scenario: Scenario) -> Callable[[CounselingParityTests], None]:
    def test(self: CounselingParityTests) -> None:
        self.run_scenario(scenario)
    test.__doc__ = f"{scenario.name}: {scenario.expect} through the page and the API alike"
    return test


for _scenario in SCENARIOS:
    setattr(CounselingParityTests, f"test_{_scenario.name}", _make(_scenario))


class CounselingParityDetailTests(CounselingParityCase):
    def test_a_booking_writes_its_row_and_audit_row(self):
        ends = self.run_scenario(book("b", "student_a1_user", "ok"))
        self.assertEqual([b[1:5] for b in ends["state"]["bookings"]],
                         [(self.slots[0].pk, self.student_a1.user_id, "active", INTAKE["topic"])])
        self.assertEqual([a[1:3] for a in ends["state"]["audit"]], [("counseling.book", "allowed")])
        self.assertEqual(ends["results"]["api"].status_code, 201)
        self.assertFalse(ends["results"]["api"].json()["urgent"])

    def test_the_same_message_for_a_held_slot(self):
        ends = self.run_scenario(book("held", "student_a1_user", "409", setup=taken))
        body = ends["results"]["api"].json()
        self.assertIn("这个时间刚刚被别人预约了。", body["detail"])
        self.assertEqual(body["next_slots"], [str(self.slots[1].pk), str(self.slots[2].pk)])
        self.assertContains(ends["results"]["page"], body["detail"], status_code=409)

    def test_the_api_lists_what_the_page_lists(self):
        self.client.force_login(self.student_a1.user)
        api = self.client.get(reverse("counseling-api:slots") + f"?day={local_day(2).isoformat()}").json()
        self.assertEqual([s["id"] for s in api], [s.pk for s in self.slots])
        page = self.client.get(reverse("counseling:slots") + f"?day={local_day(2).isoformat()}")
        for s in self.slots:
            self.assertContains(page, f'data-slot="{s.pk}"')
        self.assertEqual(self.client.get(reverse("counseling-api:slots") + "?day=soon").status_code, 400)
        self.assertEqual(self.client.get(reverse("counseling:slots") + "?day=soon").status_code, 400)
