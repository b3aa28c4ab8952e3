"""school_size — the staff pages and exports at a realistic size, against a small school.

A demo university of 50,000 students is seeded (``seed_demo``), then with the ORM in bulk, as
submit and the worker leave them:

* the freshman screening (UPI + SCL-90, the newest cohort): 11,900 submitted, of which 360
  answer UPI item 25 "yes" (critical: a red alert and an urgent interview each) and about
  1,840 more screen positive (an interview each) — 2,200 interviews. Responses and results are
  written in bulk (encrypted, scored by the engine's batch scorer exactly as submit scores);
  the alerts and interviews are then made by the worker's own job (``act_on_submissions``:
  routing, deliveries, chronology lines), so they are what a real week leaves;
* a school-wide PHQ-9 campaign with 30,000 submitted results (all below the cut-offs, so they
  add no alert or interview): the size the issue names for the .xlsx export.

Then, in process (Django's test Client: middleware, session, templates; server time), as the
centre director and as the counsellor with the most interviews: the two campaign exports, the
interview lists, the campaign report, the director's alert list and /api/v1/screening/results/.
Each page: median server time and its SQL query count. The same on a small school (2,000
students, the same shares): the query counts must not grow with the school.

Run as a child by bench/run.py: ``python bench/school_size.py --students N``."""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid

from common import BENCH_DIR, database_info, django_setup
from screening import make_campaign, migrate, phq9_answers, scl90_answers, seed_network, upi_answers

TARGET_PAGE_MS = 150.0
TARGET_EXPORT_S = 10.0
# The shares of the school: 11,900 freshman screenings, 360 red alerts, 2,200
# interviews among 50,000 students; a 30,000-student campaign for the export.
SHARES = {"freshman_submitted": 11_900 / 50_000, "critical": 360 / 50_000, "interviews": 2_200 / 50_000,
          "school_campaign": 30_000 / 50_000}


def _bulk_submit(campaign, chosen: list[tuple[int, int]], answers: dict[str, list[dict[int, int]]],
                 action_for: list[int | None]) -> dict:
    """Mark ``chosen`` (assignment pk, student pk) submitted with ``answers`` per instrument
    code; responses and results in bulk, scored by the batch scorer; ``action_due`` as submit
    sets it (the worker acts on it afterwards)."""
    from django.db import transaction
    from django.utils import timezone

    from xinlian.screening.models import Assignment, AssignmentStatus, Response, Result

    now = timezone.now()
    cis = list(campaign.campaign_instruments.select_related("instrument").order_by("order"))
    rng = random.Random(7)
    with transaction.atomic():
        by_action: dict[int | None, list[int]] = {}
        for (pk, _student), action in zip(chosen, action_for, strict=True):
            by_action.setdefault(action, []).append(pk)
        for action, pks in by_action.items():
            for i in range(0, len(pks), 5000):
                Assignment.objects.filter(pk__in=pks[i:i + 5000]).update(
                    consent_agreed=True, consent_version=campaign.consent_version, consent_at=now,
                    started_at=now, status=AssignmentStatus.SUBMITTED, submitted_at=now,
                    submit_key=uuid.uuid4().hex, action_due=action)
        for ci in cis:
            inst = ci.instrument
            spec = inst.spec
            rows = answers[inst.code]
            batch = spec.score_matrix(spec.matrix(rows), spec.effective_settings())
            responses = Response.objects.bulk_create(
                [Response(assignment_id=pk, campaign_instrument=ci, data=json.dumps(
                    {"answers": {str(k): v for k, v in a.items()},
                     "seconds": {str(k): round(rng.uniform(2.0, 9.0), 2) for k in a}}, separators=(",", ":")))
                 for (pk, _s), a in zip(chosen, rows, strict=True)], batch_size=2000)
            results = []
            for r, ((pk, student), resp) in enumerate(zip(chosen, responses, strict=True)):
                row = batch.row(r)
                results.append(Result(
                    response_id=resp.pk, assignment_id=pk, campaign=campaign, instrument=inst,
                    student_id=student, instrument_version=row["instrument_version"],
                    rule_version=row["rule_version"], classification=row["classification"],
                    positive=row["positive"], critical=bool(row["critical"]), bands=row["bands"],
                    flags=row["flags"], data=json.dumps(row, ensure_ascii=False), scored_at=now))
            Result.objects.bulk_create(results, batch_size=2000)
    return {"submitted": len(chosen)}


def seed_school(students: int) -> dict:
    """The network, the freshman screening and the school-wide campaign; alerts and interviews
    by the worker's job. Returns what was made and how long it took."""
    from django.db.models import Max

    from xinlian.care.models import Alert
    from xinlian.network.models import Student
    from xinlian.screening.models import Interview, SubmitAction, act_on_submissions

    t0 = time.perf_counter()
    out = seed_network(students)
    rng = random.Random(20261207)
    want_submitted = round(students * SHARES["freshman_submitted"])
    want_critical = max(1, round(students * SHARES["critical"]))
    want_flagged = max(want_critical, round(students * SHARES["interviews"]))

    # --- the freshman screening: UPI + SCL-90 --------------------------------------------------
    cohort = Student.objects.aggregate(y=Max("enrolment_year"))["y"]
    fresh = make_campaign(["UPI", "SCL90"], cohort=cohort, name=f"{cohort}级新生心理普查")
    pool = list(fresh.assignments.order_by("pk").values_list("pk", "student_id"))
    rng.shuffle(pool)
    chosen = pool[:want_submitted]
    from xinlian.screening.models import Instrument

    upi_spec, scl_spec = Instrument.latest("UPI").spec, Instrument.latest("SCL90").spec
    # Candidates scored first, then picked so that the shares are the issue's: critical ones,
    # positives (an interview each), and negatives.
    def scored(n: int, critical: bool) -> list[tuple[dict, dict, bool]]:
        upi = [upi_answers(rng, critical) for _ in range(n)]
        scl = [scl90_answers(rng) for _ in range(n)]
        pu = upi_spec.score_matrix(upi_spec.matrix(upi), upi_spec.effective_settings()).positive
        ps = scl_spec.score_matrix(scl_spec.matrix(scl), scl_spec.effective_settings()).positive
        return [(u, s, bool(a or b)) for u, s, a, b in zip(upi, scl, pu, ps, strict=True)]

    crit = scored(want_critical, True)
    cand = scored(len(chosen) * 2, False)
    pos = [c for c in cand if c[2]]
    neg = [c for c in cand if not c[2]]
    need_pos = want_flagged - want_critical
    if len(pos) < need_pos or len(neg) < len(chosen) - want_flagged:
        raise RuntimeError(f"not enough candidates: {len(pos)} positive, {len(neg)} negative")
    picked = crit + pos[:need_pos] + neg[:len(chosen) - want_flagged]
    actions = ([int(SubmitAction.URGENT)] * len(crit) + [int(SubmitAction.INTERVIEW)] * need_pos
               + [int(SubmitAction.RECORD)] * (len(chosen) - want_flagged))
    t_fresh = time.perf_counter()
    _bulk_submit(fresh, chosen, {"UPI": [p[0] for p in picked], "SCL90": [p[1] for p in picked]}, actions)
    bulk_seconds = time.perf_counter() - t_fresh
    t_worker = time.perf_counter()
    while act_on_submissions(batch=500):
        pass
    worker_seconds = time.perf_counter() - t_worker

    # --- a school-wide PHQ-9 campaign, 30,000 submitted (below every cut-off) -------------------
    school = make_campaign(["PHQ9"], name="2026秋季全校心理健康测评")
    pool = list(school.assignments.order_by("pk").values_list("pk", "student_id"))
    rng.shuffle(pool)
    chosen_school = pool[:round(students * SHARES["school_campaign"])]
    t_school = time.perf_counter()
    _bulk_submit(school, chosen_school, {"PHQ9": [phq9_answers(rng, "negative") for _ in chosen_school]},
                 [None] * len(chosen_school))
    out.update({
        "freshman_campaign": fresh.pk, "freshman_cohort": cohort, "freshman_invited": fresh.assignments.count(),
        "freshman_submitted": len(chosen), "school_campaign": school.pk,
        "school_invited": school.assignments.count(), "school_submitted": len(chosen_school),
        "red_alerts": Alert.objects.count(), "interviews": Interview.objects.count(),
        "bulk_seconds": round(bulk_seconds + time.perf_counter() - t_school, 1),
        "worker_seconds": round(worker_seconds, 1),
        "seed_seconds_total": round(time.perf_counter() - t0, 1),
    })
    return out


TICK = os.sysconf("SC_CLK_TCK")


def backend_ticks() -> int:
    """CPU ticks used so far by this connection's PostgreSQL backend (0 on SQLite: its work is
    this process's)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        raw = open(f"/proc/{pid}/stat").read()  # noqa: PTH123, SIM115 — one read
    except OSError:
        return 0
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def busiest_counsellor():
    from django.db.models import Count

    from xinlian.network.models import User

    return (User.objects.annotate(n=Count("screening_interviews")).filter(n__gt=0)
            .order_by("-n", "pk").first())


def measure(students: int, runs: int, warmup: int, export_runs: int, *, reuse: bool = False,
            only: str = "") -> dict:
    django_setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from xinlian.network.models import User

    migrate()
    from xinlian.screening.models import Campaign

    if reuse and Campaign.objects.count() == 2:  # a database this script seeded before (profiling)
        fresh_c, school_c = Campaign.objects.order_by("pk")
        seeded = {"freshman_campaign": fresh_c.pk, "school_campaign": school_c.pk, "reused": True}
    else:
        seeded = seed_school(students)
    director = User.objects.get(username="director")
    counsellor = busiest_counsellor()
    fresh, school = seeded["freshman_campaign"], seeded["school_campaign"]
    pages = [
        ("director", director, "freshman export (.xlsx)", f"/screening/campaigns/{fresh}/export/", True),
        ("director", director, "school export (.xlsx)", f"/screening/campaigns/{school}/export/", True),
        ("director", director, "interview list", "/screening/interviews/", False),
        ("director", director, "interview list, all", "/screening/interviews/?show=all", False),
        ("counsellor", counsellor, "interview list", "/screening/interviews/", False),
        ("counsellor", counsellor, "interview list, mine", "/screening/interviews/?show=mine", False),
        ("director", director, "campaign report", f"/screening/campaigns/{fresh}/report/", False),
        ("director", director, "alert list", "/care/alerts/", False),
        ("director", director, "API results", "/api/v1/screening/results/", False),
        ("director", director, "API results, campaign", f"/api/v1/screening/results/?campaign={fresh}", False),
    ]
    out: dict = {"students": students, "database": database_info(), "seed": seeded,
                 "counsellor": {"username": counsellor.username if counsellor else None,
                                "interviews": counsellor.screening_interviews.count() if counsellor else 0},
                 "pages": []}
    client = Client()
    for who, user, label, url, export in pages:
        if user is None or (only and only not in f"{who} {label}"):
            continue
        client.force_login(user)
        n_warm, n_runs = (0, export_runs) if export else (warmup, runs)
        for _ in range(n_warm):
            client.get(url, secure=True)
        def fetch(url: str) -> tuple[int, int, float, float]:
            t0, c0 = time.perf_counter(), time.process_time()
            r = client.get(url, secure=True)
            body = b"".join(r.streaming_content) if r.streaming else r.content  # the whole answer
            return r.status_code, len(body), time.perf_counter() - t0, time.process_time() - c0

        with CaptureQueriesContext(connection) as ctx:
            status, size, first, first_cpu = fetch(url)
        queries = len(ctx.captured_queries)
        if status != 200:
            raise RuntimeError(f"{who} GET {url} answered {status}")
        db0 = backend_ticks()
        timed = [fetch(url) for _ in range(n_runs - 1)]
        db_ms = (backend_ticks() - db0) * 1000 / TICK / max(1, n_runs - 1)
        samples = [first] + [t[2] for t in timed]
        cpu = [first_cpu] + [t[3] for t in timed]
        out["pages"].append({"user": who, "page": label, "url": url, "queries": queries,
                             "median_ms": round(statistics.median(samples) * 1000, 1),
                             # CPU of this process (Django, and SQLite's work) and of the
                             # PostgreSQL backend serving it: the request's cost, whatever the
                             # other processes on this shared machine did meanwhile.
                             "cpu_ms": round(statistics.median(cpu) * 1000 + db_ms, 1),
                             "db_backend_cpu_ms": round(db_ms, 1),
                             "min_ms": round(min(samples) * 1000, 1), "runs": len(samples), "bytes": size,
                             "export": export})
        print(f"school_size {students}: {who} {label}: {out['pages'][-1]['median_ms']} ms, {queries} queries",
              file=sys.stderr, flush=True)
    return out


def summarise(big: dict, small: dict) -> dict:
    small_q = {(p["user"], p["page"]): p["queries"] for p in small["pages"]}
    rows = []
    for p in big["pages"]:
        target = TARGET_EXPORT_S * 1000 if p["export"] else TARGET_PAGE_MS
        rows.append({"user": p["user"], "page": p["page"], "median_ms": p["median_ms"], "cpu_ms": p["cpu_ms"],
                     "bytes": p["bytes"],
                     "queries_big": p["queries"], "queries_small": small_q.get((p["user"], p["page"])),
                     "target_ms": target, "within_target": p["median_ms"] < target,
                     "within_target_by_cpu": p["cpu_ms"] < target})
    for r in rows:
        r["queries_constant"] = r["queries_big"] == r["queries_small"]
    return {"rows": rows, "query_counts_constant": all(r["queries_constant"] for r in rows),
            "within_targets": all(r["within_target"] for r in rows),
            "within_targets_by_cpu": all(r["within_target_by_cpu"] for r in rows)}


def run_benchmark(vendor: str, args: argparse.Namespace) -> dict:
    """For bench/run.py: the big school and the small one, each on a fresh database."""
    from common import fresh_database, run_child

    by_size = {}
    for students in (50_000, 2_000):
        print(f"school_size: {students:,} students on {vendor} (seed, worker, then the pages)…", flush=True)
        with fresh_database(vendor) as env:
            by_size[students] = run_child([str(BENCH_DIR / "school_size.py"), "--students", str(students)],
                                          env, timeout=3 * 3600)
    big, small = by_size[50_000], by_size[2_000]
    return {"big": big, "small": small, "comparison": summarise(big, small),
            "targets": {"page_ms": TARGET_PAGE_MS, "export_s": TARGET_EXPORT_S}}


def print_summary(payload: dict) -> None:
    if "comparison" not in payload:
        print(f"no figures: {payload.get('error', payload)}")
        return
    seed = payload["big"]["seed"]
    print(f"{seed['students_seeded']:,} students: freshman screening {seed['freshman_submitted']:,} submitted, "
          f"school campaign {seed['school_submitted']:,} submitted, {seed['red_alerts']} red alerts, "
          f"{seed['interviews']:,} interviews (seeded in {seed['seed_seconds_total']} s)")
    print(f"{'user':<11} {'page':<24} {'median ms':>10} {'CPU ms':>8} {'queries':>8} {'small':>6}  target (wall)")
    for r in payload["comparison"]["rows"]:
        print(f"{r['user']:<11} {r['page']:<24} {r['median_ms']:>10} {r['cpu_ms']:>8} {r['queries_big']:>8} "
              f"{r['queries_small']!s:>6}  < {r['target_ms']:g} ms: {'met' if r['within_target'] else 'NOT met'}"
              + ("" if r["queries_constant"] else "  <- queries grow with the school"))
    c = payload["comparison"]
    print(f"query counts constant: {'yes' if c['query_counts_constant'] else 'NO'}; "
          f"all within targets: {'yes' if c['within_targets'] else 'NO'} (wall), "
          f"{'yes' if c['within_targets_by_cpu'] else 'NO'} (CPU)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--export-runs", type=int, default=2)
    parser.add_argument("--reuse", action="store_true", help="keep the database's seed if there is one")
    parser.add_argument("--only", default="", help="only the pages whose 'user label' contains this")
    args = parser.parse_args()
    print(json.dumps(measure(args.students, args.runs, args.warmup, args.export_runs, reuse=args.reuse,
                             only=args.only), ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
