"""Each duty-rota action through both front-ends (modelled on tests/test_parity_care.py): the
page (a form POST, a GET with ``?start=``, a file upload) and the API (JSON, multipart), from
the same starting state, must end the same way — the same outcome class (success / 400 / 403 /
404 / 409), the same stored rows and the same audit rows.

Every scenario runs twice inside one test, each run in a savepoint that is rolled back, so both
front-ends start from exactly the same state. Ids of rows created during a run are "new"."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.urls import reverse
from openpyxl import Workbook

from xinlian.access.models import AuditEvent
from xinlian.care import actions
from xinlian.care.models import DutyLine, DutyRole, DutyShift

from .test_rota import RotaTestCase, day, iso

Req = tuple[str, str, Any]  # method, url, data (a dict, or a callable giving a fresh dict)


def college_a(t: Any) -> int:
    return t.college_a.pk


def nothing(t: Any) -> None:
    return None


def with_shift(t: Any) -> None:
    t.shift = t.put_on(t.college_a, t.duty_fdy, DutyRole.FIRST_LINE, date=day(2))


def with_b_shift(t: Any) -> None:
    t.shift = t.put_on(t.college_b, t.outsider_b, DutyRole.FIRST_LINE, date=day(2))


def shift_data(t: Any, **kw: Any) -> dict[str, Any]:
    """The form's fields; a callable value is read from the test (an id known once it runs)."""
    return {"date": iso(2), "kind": "night", "role": "first_line", "person": str(t.duty_fdy.pk),
            "phone": "13900000009", **{k: v(t) if callable(v) else v for k, v in kw.items()}}


def xlsx(rows: list[list[Any]]) -> Callable[[], io.BytesIO]:
    def make() -> io.BytesIO:
        wb = Workbook()
        ws = wb.active
        ws.append(actions.ROTA_HEADER)
        for r in rows:
            ws.append(r)
        out = io.BytesIO()
        wb.save(out)
        out.seek(0)
        out.name = "值班表.xlsx"
        return out
    return make


@dataclass
class Scenario:
    name: str
    persona: str
    expect: str                               # "ok", "400", "403", "404" or "409"
    page: Callable[[Any], Req]
    api: Callable[[Any], Req]
    setup: Callable[[Any], None] = nothing


def add(name: str, persona: str, expect: str, unit: Callable[[Any], int] = college_a,
        setup: Callable[[Any], None] = nothing, **kw: Any) -> Scenario:
    return Scenario(name, persona, expect,
                    page=lambda t: ("post", reverse("rota-add", args=[unit(t)]), shift_data(t, **kw)),
                    api=lambda t: ("post_json", reverse("care-api:rota-shifts", args=[unit(t)]),
                                   shift_data(t, **kw)),
                    setup=setup)


def remove(name: str, persona: str, expect: str, setup: Callable[[Any], None] = with_shift,
           unit: Callable[[Any], int] = college_a) -> Scenario:
    return Scenario(name, persona, expect,
                    page=lambda t: ("post", reverse("rota-remove", args=[unit(t), t.shift.pk]), {}),
                    api=lambda t: ("delete", reverse("care-api:rota-shift", args=[unit(t), t.shift.pk]), {}),
                    setup=setup)


def line(name: str, persona: str, expect: str, unit: Callable[[Any], int] = lambda t: t.school.pk,
         **kw: Any) -> Scenario:
    data = {"night_phone": "0571-88886666", "centre_phone": "0571-88881234", **kw}
    return Scenario(name, persona, expect,
                    page=lambda t: ("post", reverse("rota-line", args=[unit(t)]), data),
                    api=lambda t: ("put_json", reverse("care-api:rota-line", args=[unit(t)]), data))


def upload(name: str, persona: str, expect: str, rows: list[list[Any]] | None,
           unit: Callable[[Any], int] = college_a) -> Scenario:
    def files() -> dict[str, Any]:
        return {"file": xlsx(rows)()} if rows is not None else {}
    return Scenario(name, persona, expect,
                    page=lambda t: ("post", reverse("rota-import", args=[unit(t)]), files),
                    api=lambda t: ("post", reverse("care-api:rota-import", args=[unit(t)]), files))


def listing(name: str, persona: str, expect: str, start: str, unit: Callable[[Any], int] = college_a,
            setup: Callable[[Any], None] = with_shift) -> Scenario:
    return Scenario(name, persona, expect,
                    page=lambda t: ("get", reverse("rota-unit", args=[unit(t)]) + f"?start={start}", {}),
                    api=lambda t: ("get", reverse("care-api:rota-shifts", args=[unit(t)]) + f"?start={start}", {}),
                    setup=setup)


GOOD_ROWS = [["CA", iso(2), "night", "first_line", "T3001", "13900000009"],
             ["CA", iso(3), "夜班", "一线值班", "T1001", ""]]

SCENARIOS: list[Scenario] = [
    # listing a week
    listing("list_director", "director", "ok", iso(0)),
    listing("list_fudaoyuan", "counsellor_a", "ok", iso(0)),
    listing("list_leader_not_theirs", "leader", "403", iso(0)),
    listing("list_outsider", "outsider_b", "404", iso(0)),
    listing("list_head_teacher", "head_teacher_a1", "404", iso(0)),
    listing("list_bad_date", "counsellor_a", "400", "soon"),
    listing("list_too_far", "counsellor_a", "400", iso(900)),
    # adding a shift
    add("add_fudaoyuan", "counsellor_a", "ok"),
    add("add_director_school_centre", "director", "ok", unit=lambda t: t.school.pk, role="centre",
        person=lambda t: str(t.centre_counsellor.pk)),
    add("add_outsider", "outsider_b", "404"),
    add("add_leader_not_theirs", "leader", "403"),
    add("add_centre_counsellor_not_theirs", "centre_counsellor", "403"),
    add("add_same_person_twice", "counsellor_a", "409", setup=with_shift),
    add("add_bad_date", "counsellor_a", "400", date="2026-13-01"),
    add("add_no_date", "counsellor_a", "400", date=""),
    add("add_person_does_not_fit", "counsellor_a", "400", role="leader"),
    add("add_bad_phone", "counsellor_a", "400", phone="call me"),
    # removing a shift
    remove("remove_fudaoyuan", "counsellor_a", "ok"),
    remove("remove_outsider", "outsider_b", "404"),
    remove("remove_leader_not_theirs", "leader", "403"),
    remove("remove_through_another_college", "director", "404", setup=with_b_shift),
    # the school's numbers
    line("line_director", "director", "ok"),
    line("line_fudaoyuan", "counsellor_a", "404"),
    line("line_centre_counsellor_not_theirs", "centre_counsellor", "403"),
    line("line_bad_phone", "director", "400", night_phone="call me"),
    line("line_college_has_none", "director", "404", unit=college_a),
    # import
    upload("import_fudaoyuan", "counsellor_a", "ok", GOOD_ROWS),
    upload("import_director_for_the_school", "director", "ok", GOOD_ROWS, unit=lambda t: t.school.pk),
    upload("import_outsider", "outsider_b", "404", GOOD_ROWS),
    upload("import_leader_not_theirs", "leader", "403", GOOD_ROWS),
    upload("import_rows_in_error", "counsellor_a", "400",
           [*GOOD_ROWS, ["CB", iso(2), "night", "first_line", "T1003", ""]]),
    upload("import_bad_date", "counsellor_a", "400", [["CA", "soon", "night", "first_line", "T3001", ""]]),
    upload("import_no_file", "counsellor_a", "400", None),
]


class RotaParityCase(RotaTestCase):
    """Runs a scenario through both front-ends and compares how they end."""

    def outcome(self, response: Any) -> str:
        return "ok" if response.status_code < 300 or response.status_code == 302 else str(response.status_code)

    def state(self, before: int, audit_mark: int) -> dict[str, Any]:
        def ref(pk: int) -> Any:
            return "new" if pk > before else pk

        return {
            "shifts": sorted((ref(s.pk), s.unit_id, str(s.date), s.kind, s.role, s.person_id, s.phone,
                              s.created_by_id) for s in DutyShift.objects.all()),
            "lines": sorted((d.school_id, d.night_phone, d.centre_phone) for d in DutyLine.objects.all()),
            "audit": [(e.actor_id, e.action, e.result, e.object_type,
                       ref(int(e.object_id)) if e.object_type == "care.dutyshift" and e.object_id.isdigit()
                       else e.object_id, e.detail)
                      for e in AuditEvent.objects.filter(pk__gt=audit_mark).order_by("pk")],
        }

    def send(self, request: Req) -> Any:
        method, path, data = request
        data = data() if callable(data) else data
        if method == "get":
            return self.client.get(path)
        if method == "post":
            return self.client.post(path, data)  # a form, multipart when it holds a file
        if method == "delete":
            return self.client.delete(path)
        send = self.client.put if method == "put_json" else self.client.post
        return send(path, data, content_type="application/json")

    def run_scenario(self, scenario: Scenario) -> dict[str, Any]:
        scenario.setup(self)
        results: dict[str, Any] = {}
        ends: dict[str, Any] = {}
        for front in ("page", "api"):
            sid = transaction.savepoint()
            before = DutyShift.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            mark = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            self.client.force_login(self.persona(scenario.persona))
            response = self.send((scenario.page if front == "page" else scenario.api)(self))
            results[front] = response
            ends[front] = (self.outcome(response), self.state(before, mark))
            transaction.savepoint_rollback(sid)
        self.assertEqual(ends["page"][0], scenario.expect, f"page: {results['page'].status_code}")
        self.assertEqual(ends["api"][0], scenario.expect,
                         f"api: {results['api'].status_code} {results['api'].content[:300]!r}")
        for key in ends["page"][1]:
            self.assertEqual(ends["page"][1][key], ends["api"][1][key], f"{scenario.name}: {key} differ")
        return {"results": results, "state": ends["api"][1]}


class RotaParityTests(RotaParityCase):
    """One test per action and outcome (generated below from SCENARIOS)."""


def _make(scenario: Scenario) -> Callable[[RotaParityTests], None]:
    def test(self: RotaParityTests) -> None:
        self.run_scenario(scenario)
    test.__doc__ = f"{scenario.name}: {scenario.expect} through the page and the API alike"
    return test


for _scenario in SCENARIOS:
    setattr(RotaParityTests, f"test_{_scenario.name}", _make(_scenario))


class RotaParityDetailTests(RotaParityCase):
    """What the shared outcome classes do not show: the rows written, the same message."""

    def test_a_success_writes_the_row_and_its_audit_row(self):
        ends = self.run_scenario(add("add", "counsellor_a", "ok"))
        self.assertEqual([s[1:6] for s in ends["state"]["shifts"]],
                         [(self.college_a.pk, iso(2), "night", "first_line", self.duty_fdy.pk)])
        self.assertEqual([a[1:3] for a in ends["state"]["audit"]], [("rota.add", "allowed")])
        body = ends["results"]["api"].json()
        self.assertEqual((body["person"]["number"], body["unit"]["code"], body["phone"]),
                         ("T3001", "CA", "13900000009"))

    def test_refusals_leave_a_denied_audit_row(self):
        for scenario in (add("a", "outsider_b", "404"), add("b", "leader", "403")):
            ends = self.run_scenario(scenario)
            self.assertEqual([a[1:3] for a in ends["state"]["audit"]], [("rota.edit", "denied")])

    def test_the_same_message_for_a_bad_date(self):
        ends = self.run_scenario(add("bad", "counsellor_a", "400", date="2026-13-01"))
        message = "请按 YYYY-MM-DD 填写日期。"  # Chinese first
        self.assertEqual(ends["results"]["api"].json()["date"], [message])
        self.assertContains(ends["results"]["page"], message, status_code=400)

    def test_the_api_lists_the_week_of_the_page(self):
        with_shift(self)
        self.put_on(self.college_a, self.duty_fdy, DutyRole.FIRST_LINE, date=day(9))  # the week after
        self.client.force_login(self.persona("counsellor_a"))
        body = self.client.get(reverse("care-api:rota-shifts", args=[self.college_a.pk])).json()
        self.assertEqual((body["start"], body["end"]), (iso(0), iso(6)))
        self.assertEqual([(s["date"], s["person"]["number"], s["role"]) for s in body["shifts"]],
                         [(iso(2), "T3001", "first_line")])
        ranged = self.client.get(reverse("care-api:rota-shifts", args=[self.college_a.pk]),
                                 {"start": iso(0), "end": iso(13)}).json()
        self.assertEqual([s["date"] for s in ranged["shifts"]], [iso(2), iso(9)])
        too_long = self.client.get(reverse("care-api:rota-shifts", args=[self.college_a.pk]),
                                   {"start": iso(0), "end": iso(90)})
        self.assertEqual(too_long.status_code, 400)
        self.assertIn("end", too_long.json())
        units = self.client.get(reverse("care-api:rota-list")).json()
        self.assertEqual([u["code"] for u in units], ["CA"])

    def test_import_errors_by_row_through_the_api(self):
        ends = self.run_scenario(upload("bad", "counsellor_a", "400",
                                        [*GOOD_ROWS, ["CB", iso(2), "night", "first_line", "T1003", ""]]))
        body = ends["results"]["api"].json()
        self.assertEqual([(e["row"], e["column"]) for e in body["errors"]], [(4, actions.ROTA_HEADER[0])])
        self.assertEqual(ends["state"]["shifts"], [])

    def test_an_oversized_file_is_refused_by_the_verb(self):
        big = io.BytesIO(b"\0" * (actions.ROTA_MAX_BYTES + 1))
        big.name = "big.xlsx"
        self.client.force_login(self.persona("counsellor_a"))
        response = self.client.post(reverse("care-api:rota-import", args=[self.college_a.pk]), {"file": big},
                                    HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(response.status_code, 400)
        self.assertIn("too large", response.json()["errors"][0]["message"])

    def test_the_schema_shows_the_rota_endpoints(self):
        self.client.force_login(self.persona("director"))
        schema = self.client.get(reverse("api-schema")).content.decode()
        for path in ("/api/v1/care/rota/", "/api/v1/care/rota/{id}/shifts/",
                     "/api/v1/care/rota/{id}/shifts/{shift}/", "/api/v1/care/rota/{id}/line/",
                     "/api/v1/care/rota/{id}/import/"):
            self.assertIn(f"{path}:", schema)
