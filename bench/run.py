"""Xinlian benchmarks: ``.venv/bin/python bench/run.py [NAME ...] [--db sqlite|postgres]``.

Benchmarks:
  network_pages  server time and query count of the college page and the network tree
                 (100,000 vs 2,000 students: the query counts must be equal)
  roster_import  ``xinlian import-roster`` of a 50,000-student .xlsx: wall time and peak RSS
  alert_latency  concern submitted → group-robot message received, one worker: median and p99
  escalation_lateness  1,000 deadlines in one minute, two workers: each escalates once, how late
  worker_crash   kill -9 a worker 20+ times during 1,000 robot deliveries: lost and repeated
  screening_submit  PHQ-9 submits over HTTP (gunicorn, production settings), 32 clients: req/s,
                 p50/p99, and the ratio to a trivial logged-in page on the same server
  freshman_week  10,000 freshmen answer UPI + SCL-90 screen by screen through the real pages, a
                 worker sending the outbox: zero errors, nothing lost or doubled, alerts delivered
  rescore        ``xinlian rescore`` (dry run, then --apply) of 100,000 SCL-90 results under a
                 changed rule set: wall time and peak RSS
  floor          Xinlian beside a bare Django app (bench/bare/), same gunicorn, same run: req/s and
                 p50/p99 of /inbox/badge/ vs a bare view and of a submit vs a bare ORM submit; ratios
  school_size    a school of 50,000 students (11,900 screenings, 360 red alerts, 2,200 interviews):
                 server time and queries of the export, lists and reports, against a small school
  personal_latency  red concern at night → WeCom application message and SMS at the local
                 receivers, one worker: median and p99 of each
  personal_burst 1,000 red alerts at once, receivers limited to 20/s, kill -9 a worker 20+ times:
                 lost, repeated, the most requests the receivers saw in a second, total time
  first_logins   3,000 freshmen log in with their slip codes over HTTP within 5 minutes (gunicorn):
                 completed, errors, rate, p50/p99 of the flow and of the password POST, CPU; and
                 Argon2id alone for a grid of costs (the XINLIAN_ARGON2_* defaults)
  slips_college  first-login slips for a 5,000-student college, printable page and .xlsx over
                 HTTP, as its 辅导员: median of 3 runs each
  slot_release   500 students over HTTP book 40 counselling slots released at one instant (gunicorn):
                 bookings (exactly 40), errors, double bookings, p50/p99 of the booking request
  peer_reports   Monday rush: 5,000 peer reporters POST their weekly report over HTTP (gunicorn, a
                 worker running; window compressed to 300 s), 1 in 20 flagging a student: errors,
                 p99, urgent flag → alert; completeness table of a 50,000-student school: queries, ms
  counseling_load  a counsellor's day view, caseload, week and the director's overview with 5,000
                 sessions on record (and 500): query count (equal), median and p99 server time

Figures are printed and saved to bench/results/<name>.json, one entry per database vendor,
with the machine, the date and the medians. ``--db postgres`` uses XINLIAN_DATABASE_URL (its
user must be allowed to create databases); without it, a private throw-away cluster is
started by scripts/with-postgres.sh."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402 — the path above makes bench/ importable when run as a script
    BENCH_DIR,
    PYTHON,
    ROOT,
    fresh_database,
    machine_info,
    now_iso,
    run_child,
    write_result,
)

BENCHMARKS = ("network_pages", "roster_import", "alert_latency", "escalation_lateness", "worker_crash",
              "screening_submit", "freshman_week", "rescore", "floor", "school_size",
              "personal_latency", "personal_burst", "first_logins", "slips_college", "slot_release",
              "peer_reports", "counseling_load")


def bench_network_pages(vendor: str, args: argparse.Namespace) -> dict:
    from network_pages import summarise

    by_size = {}
    for students in (args.students, args.small):
        print(f"network_pages: seeding {students:,} students on {vendor} and timing pages…", flush=True)
        with fresh_database(vendor) as env:
            by_size[students] = run_child(
                [str(BENCH_DIR / "network_pages.py"), "--students", str(students),
                 "--runs", str(args.runs), "--warmup", str(args.warmup)], env)
    big, small = by_size[args.students], by_size[args.small]
    return {"big": big, "small": small, "comparison": summarise(big, small)}


def bench_roster_import(vendor: str, args: argparse.Namespace) -> dict:
    from roster_import import TARGET_MB, TARGET_SECONDS

    with fresh_database(vendor) as env, tempfile.TemporaryDirectory(prefix="xinlian-roster-") as tmp:
        xlsx = Path(tmp) / "roster.xlsx"
        print(f"roster_import: skeleton and a {args.roster_students:,}-student roster on {vendor}…", flush=True)
        prepared = run_child([str(BENCH_DIR / "roster_import.py"), "prepare",
                              "--students", str(args.roster_students), "--out", str(xlsx)], env)
        print("roster_import: running `xinlian import-roster`…", flush=True)
        run = run_child([str(BENCH_DIR / "measure.py"), PYTHON, "-m", "xinlian.cli",
                         "import-roster", str(xlsx)], env, timeout=3600)
        after = run_child([str(BENCH_DIR / "roster_import.py"), "verify"], env)
    ok = run["returncode"] == 0 and after["students"] == prepared["rows"]["students"]
    return {
        "prepared": prepared, "import": run, "after_import": after, "imported_all": ok,
        "targets": {"seconds": TARGET_SECONDS, "max_rss_mb": TARGET_MB},
        "within_targets": ok and run["wall_seconds"] < TARGET_SECONDS and run["max_rss_mb"] < TARGET_MB,
    }


def bench_alert_latency(vendor: str, args: argparse.Namespace) -> dict:
    print(f"alert_latency: {args.concerns:,} concerns at {args.concern_rate:g}/s on {vendor}, one worker…", flush=True)
    with fresh_database(vendor) as env:
        return run_child([str(BENCH_DIR / "linkage.py"), "latency", "--concerns", str(args.concerns),
                          "--rate", str(args.concern_rate)], env, timeout=1800)


def bench_escalation_lateness(vendor: str, args: argparse.Namespace) -> dict:
    print(f"escalation_lateness: {args.alerts:,} deadlines in one minute on {vendor}, two workers…", flush=True)
    with fresh_database(vendor) as env:
        result = run_child([str(BENCH_DIR / "linkage.py"), "escalation", "--alerts", str(args.alerts)],
                           env, timeout=1800)
    # A harsher case beside the required one: every deadline on the same instant.
    print(f"escalation_lateness: the same {args.alerts:,} deadlines all on one instant…", flush=True)
    with fresh_database(vendor) as env:
        result["all_at_once"] = run_child([str(BENCH_DIR / "linkage.py"), "escalation", "--alerts",
                                           str(args.alerts), "--spread", "0"], env, timeout=1800)
    return result


def bench_worker_crash(vendor: str, args: argparse.Namespace) -> dict:
    print(f"worker_crash: {args.deliveries:,} robot deliveries, two workers, kill -9 on {vendor}…", flush=True)
    with fresh_database(vendor) as env:
        return run_child([str(BENCH_DIR / "linkage.py"), "crash", "--deliveries", str(args.deliveries)],
                         env, timeout=3600)


def bench_screening_submit(vendor: str, args: argparse.Namespace) -> dict:
    """Two runs, each on a fresh database: the requests alone (the worker starts after the load:
    the issue's figure, what the server does per submit) and the whole deployment (a worker
    raising the alerts and sending every delivery on the same cores through the load). The
    second is stored beside the first as ``<vendor>_with_worker``."""
    modes = ["after", "during"] if args.submit_worker == "both" else [args.submit_worker]
    payload: dict = {}
    for mode in modes:
        print(f"screening_submit: {args.submit_students:,} PHQ-9 students, {args.submit_clients} clients, "
              f"{args.submit_duration:g} s per phase on {vendor}, worker {mode} the load…", flush=True)
        with fresh_database(vendor) as env:
            run = run_child([str(BENCH_DIR / "screening.py"), "submit",
                             "--students", str(args.submit_students), "--clients", str(args.submit_clients),
                             "--duration", str(args.submit_duration), "--warmup", str(args.submit_warmup),
                             "--rounds", str(args.submit_rounds), "--workers", str(args.server_workers),
                             "--threads", str(args.server_threads), "--generator", args.generator,
                             "--profile", str(args.submit_profile if mode == modes[0] else 0),
                             "--worker", mode], env, timeout=3600) | {"settings_worker": mode}
        if mode == "during" and len(modes) > 1:
            write_result("screening_submit", f"{vendor}_with_worker",
                         {"date": now_iso(), "vendor": vendor, "settings": vars(args), **run})
            print_summary("screening_submit", f"{vendor}, with the worker", run)
        else:
            payload = run
    return payload


def bench_freshman_week(vendor: str, args: argparse.Namespace) -> dict:
    # Each student costs the server about a quarter of a CPU-second (22 requests: 16 answer
    # screens, the questionnaire page, consent, submit...), so two cores take about 7 students
    # a second: 10,000 need a 25-minute window, more than the other benchmarks' quarter hour.
    students = args.freshmen or (10_000 if vendor == "postgresql" else 2_000)
    window = args.freshman_window or round(students * 0.15)
    print(f"freshman_week: {students:,} freshmen (UPI + SCL-90) over {window:g} s on {vendor}, "
          "one worker…", flush=True)
    with fresh_database(vendor) as env:
        return run_child([str(BENCH_DIR / "screening.py"), "freshman", "--students", str(students),
                          "--seed-students", str(max(4_000, round(students * 4.2))),
                          "--window", str(window), "--workers", str(args.server_workers),
                          "--threads", str(args.server_threads)], env, timeout=3 * 3600)


def bench_rescore(vendor: str, args: argparse.Namespace) -> dict:
    from screening import RESCORE_RULES, TARGET_RESCORE_SECONDS

    script = str(BENCH_DIR / "screening.py")
    with fresh_database(vendor) as env:
        print(f"rescore: {args.rescore_responses:,} submitted SCL-90 responses on {vendor}…", flush=True)
        prepared = run_child([script, "rescore-prepare", "--responses", str(args.rescore_responses)], env,
                             timeout=3600)
        campaign = str(prepared["campaign"])
        cli = [str(BENCH_DIR / "measure.py"), PYTHON, "-m", "xinlian.cli", "rescore", "--campaign", campaign]
        print("rescore: `xinlian rescore` (dry run)…", flush=True)
        dry = run_child(cli, env, timeout=3600)
        after_dry = run_child([script, "rescore-verify", "--campaign", campaign], env)
        print("rescore: `xinlian rescore --apply`…", flush=True)
        applied = run_child([*cli, "--apply"], env, timeout=3600)
        after = run_child([script, "rescore-verify", "--campaign", campaign], env)
    n, expected = prepared["responses"], prepared["expected"]
    checks = {
        "dry_run_changed_nothing": after_dry["by_rule_version"] == {prepared["old_rule_version"]: n},
        "all_rewritten_with_new_rules": after["by_rule_version"] == {RESCORE_RULES["version"]: n},
        "positives_as_expected": after["positive"] == expected["positive_after"],
    }
    ok = dry["returncode"] == 0 and applied["returncode"] == 0 and all(checks.values())
    return {
        "prepared": prepared, "dry_run": dry, "apply": applied, "after_dry_run": after_dry,
        "after_apply": after, "checks": checks, "ok": ok,
        "target_seconds": TARGET_RESCORE_SECONDS,
        "within_target": ok and dry["wall_seconds"] < TARGET_RESCORE_SECONDS
        and applied["wall_seconds"] < TARGET_RESCORE_SECONDS,
    }


def bench_floor(vendor: str, args: argparse.Namespace) -> dict:
    from floor import run_benchmark

    return run_benchmark(vendor, args)


def bench_school_size(vendor: str, args: argparse.Namespace) -> dict:
    from school_size import run_benchmark

    return run_benchmark(vendor, args)


def bench_first_logins(vendor: str, args: argparse.Namespace) -> dict:
    from first_logins import run_benchmark

    return run_benchmark(vendor, args)


def bench_slot_release(vendor: str, args: argparse.Namespace) -> dict:
    from slot_release import run_benchmark

    return run_benchmark(vendor, args)


def bench_slips_college(vendor: str, args: argparse.Namespace) -> dict:
    from slips_college import run_benchmark

    return run_benchmark(vendor, args)


def bench_peer_reports(vendor: str, args: argparse.Namespace) -> dict:
    from peer_reports import run_benchmark

    return run_benchmark(vendor, args)


def bench_counseling_load(vendor: str, args: argparse.Namespace) -> dict:
    from counseling_load import run_benchmark

    return run_benchmark(vendor, args)


def bench_personal(name: str):  # noqa: ANN201
    def run(vendor: str, args: argparse.Namespace) -> dict:
        from personal import run_benchmark

        return run_benchmark(name, vendor)

    return run


def _ms(summary: dict) -> str:
    if not summary.get("n"):
        return "no samples"
    return (f"median {summary['median_ms']} ms, p90 {summary['p90_ms']} ms, "
            f"p99 {summary['p99_ms']} ms, max {summary['max_ms']} ms (n={summary['n']})")


def _p50(summary: dict) -> str:
    if not summary.get("n"):
        return "no samples"
    return f"p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms, max {summary['max_ms']} ms (n={summary['n']})"


def print_summary(name: str, vendor: str, payload: dict) -> None:
    print(f"\n== {name} ({vendor}) ==")
    if name == "network_pages":
        big, small, comp = payload["big"], payload["small"], payload["comparison"]
        print(f"seed: {big['students']:,} students in {big['seed_seconds']} s; "
              f"{small['students']:,} in {small['seed_seconds']} s")
        if "skipped" in comp:
            print(f"SKIPPED page timings: {comp['skipped']}")
            return
        print(f"college {big['college_students']:,} students (small seed: {small['college_students']:,})")
        print(f"{'user':<10} {'page':<20} {'median ms':>10} {'queries':>8} {'small':>6}")
        for row in comp["rows"]:
            flag = "" if row["equal"] else "  <- grows with data"
            print(f"{row['user']:<10} {row['page']:<20} {row['median_ms_big']:>10} "
                  f"{row['queries_big']:>8} {row['queries_small']!s:>6}{flag}")
        print("query counts constant: " + ("yes" if comp["query_counts_constant"] else "NO"))
    elif name == "roster_import":
        run, prep = payload["import"], payload["prepared"]
        rows = prep["rows"]
        print(f"roster: {rows['students']:,} students, {rows['guardians']:,} guardians, "
              f"{rows['staff']:,} staff, {rows['posts']:,} posts ({prep['xlsx_mb']} MB xlsx)")
        print(f"import: {run['wall_seconds']} s wall, {run['max_rss_mb']} MB peak RSS, "
              f"exit code {run['returncode']}")
        if run["returncode"] != 0:
            print("  " + "\n  ".join(run["stderr_tail"] or run["stdout_tail"]))
        t = payload["targets"]
        print(f"targets < {t['seconds']} s and < {t['max_rss_mb']} MB: "
              + ("met" if payload["within_targets"] else "NOT met"))
    elif name == "alert_latency":
        print(f"{payload['concerns']:,} concerns at {payload['rate_per_second']}/s, worker idle sleep "
              f"{payload['worker_interval_s']} s; arrived {payload['arrived']:,}, lost {payload['lost']}")
        print(f"latency: {_ms(payload['latency'])}")
        print(f"submit itself: {_ms(payload['submit'])}")
        print(f"target p99 < {payload['target_p99_ms']:g} ms: " + ("met" if payload["within_target"] else "NOT met"))
    elif name == "escalation_lateness":
        print(f"{payload['alerts']:,} alerts, deadlines over {payload['deadlines_spread_s']:g} s, "
              f"{payload['workers']} workers: escalated once {payload['escalated_exactly_once']:,}, "
              f"more than once {payload['escalated_more_than_once']}, never {payload['never_escalated']}")
        print(f"lateness (escalation written): {_ms(payload['lateness_escalated'])}")
        print(f"lateness (robot message received): {_ms(payload['lateness_robot_notified'])}")
        print(f"target worst < {payload['target_worst_lateness_ms']:g} ms, each once: "
              + ("met" if payload["within_target"] else "NOT met"))
        burst = payload.get("all_at_once")
        if burst:
            print(f"all {burst['alerts']:,} deadlines on one instant: escalated once "
                  f"{burst['escalated_exactly_once']:,}, more than once {burst['escalated_more_than_once']}; "
                  f"lateness {_ms(burst['lateness_escalated'])}")
    elif name == "worker_crash":
        print(f"{payload['deliveries']:,} deliveries, {payload['workers']} workers, {payload['kills']} kills "
              f"(kill -9) in {payload['kill_phase_seconds']} s; all sent after {payload['seconds_until_all_sent']} s")
        print(f"lost {payload['lost']}, repeats {payload['repeats']} ({payload['keys_repeated']} keys), "
              f"statuses {payload['statuses']}")
        print("targets lost 0, repeats <= kills, kills >= 20: " + ("met" if payload["within_target"] else "NOT met"))
    elif name == "screening_submit":
        if "skipped" in payload:
            print(f"SKIPPED: {payload['skipped']}")
            return
        for kind in ("trivial", "submit"):
            f = payload[kind]
            print(f"{kind:<8} {f['rps']:>7} req/s  p50 {f['p50_ms']} ms  p90 {f['p90_ms']} ms  "
                  f"p99 {f['p99_ms']} ms  max {f['max_ms']} ms  ({f['requests']:,} requests, "
                  f"{f['errors']} errors)")
        print(f"ratio submit/trivial {payload['ratio']}; server {payload['server']['workers']} workers x "
              f"{payload['server']['threads']} threads; generator {payload['generator']}")
        cpu = payload["phases"]["submit"][-1]["cpu"]
        print(f"CPU during submit (cores): server {cpu['server_cores']}, database {cpu['database_cores']}, "
              f"worker {cpu.get('worker_cores', '(not running)')}, generator {cpu['generator_cores']}, "
              f"other {cpu['other_cores']}")
        d = payload["drain"]
        print(f"worker ({payload['settings_worker']} the load): drained {d['seconds_after_load']} s after the load; "
              f"submit → red alert {_p50(d['submit_to_red_alert_ms'])}; submit → interview "
              f"{_p50(d['submit_to_interview_ms'])}")
        v = payload["verify"]
        print(f"verified: {v['submitted']:,} submitted, {v['results']:,} results, "
              f"{v['submitted_without_exactly_one_result_each']} without exactly one result, "
              f"alerts {v['alerts']} = critical {v['critical_submitted']}, interviews {v['interviews']}: "
              + ("ok" if v["ok"] else "NOT ok"))
        t = payload["targets"]
        print(f"targets p99 < {t['p99_ms']:g} ms and ratio >= {t['ratio']}: "
              + ("met" if payload["within_target"] else "NOT met"))
    elif name == "freshman_week":
        h, v, plan = payload["http"], payload["verify"], payload["plan"]
        print(f"{plan['students']:,} students x {plan['screens_per_student']} screens over "
              f"{plan['window_s']:g} s: {h['requests']:,} requests in {h['duration_s']} s "
              f"({h['rps']} req/s), up to {h['max_concurrent_students']} students at once")
        for kind, f in h["by_kind"].items():
            print(f"  {kind:<16} n={f['n']:<7} p50 {f['p50_ms']} ms  p90 {f['p90_ms']} ms  "
                  f"p99 {f['p99_ms']} ms  max {f['max_ms']} ms  {f['statuses']}")
        print(f"unexpected answers {h['unexpected']}; not submitted {v['not_submitted']}, submitted twice "
              f"{v['submitted_more_than_once']}, responses not as sent {v['responses_not_as_sent']}, "
              f"duplicate results {v['duplicate_results']}")
        print(f"alerts {v['alerts']} for {v['critical_students']} critical students; alert deliveries "
              f"{dict(v['alert_deliveries'])}, not sent {v['alert_deliveries_not_sent']}; outbox drained "
              f"{payload['drain_seconds_after_window']} s after the window")
        lag = payload.get("action_lag")
        if lag:
            print(f"worker: submit → red alert {_p50(lag['submit_to_red_alert_ms'])}; submit → interview "
                  f"{_p50(lag['submit_to_interview_ms'])}")
        print("zero errors, nothing lost or doubled, every alert delivered: "
              + ("yes" if payload["ok"] else "NO"))
    elif name == "rescore":
        prep = payload["prepared"]
        print(f"{prep['responses']:,} SCL-90 results; rule set {prep['rule_set']['overrides']}; expected "
              f"{prep['expected']['no_longer_positive']:,} no longer positive")
        for label in ("dry_run", "apply"):
            run = payload[label]
            print(f"{label:<8} {run['wall_seconds']} s wall, {run['max_rss_mb']} MB peak RSS, exit code "
                  f"{run['returncode']}")
            if run["returncode"] != 0:
                print("  " + "\n  ".join(run["stderr_tail"] or run["stdout_tail"]))
        print(f"checks {payload['checks']}")
        print(f"target < {payload['target_seconds']:g} s: " + ("met" if payload["within_target"] else "NOT met"))
    elif name in ("floor", "school_size", "first_logins", "slips_college", "slot_release", "peer_reports",
                  "counseling_load"):
        __import__(name).print_summary(payload)
    elif name in ("personal_latency", "personal_burst"):
        __import__("personal").print_summary(name, payload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--students", type=int, default=100_000, help="big seed for network_pages")
    parser.add_argument("--small", type=int, default=2_000, help="small seed for network_pages")
    parser.add_argument("--roster-students", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page (median)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--concerns", type=int, default=1_000, help="alert_latency: concerns filed")
    parser.add_argument("--concern-rate", type=float, default=20.0, help="alert_latency: concerns per second")
    parser.add_argument("--alerts", type=int, default=1_000, help="escalation_lateness: alerts due")
    parser.add_argument("--deliveries", type=int, default=1_000, help="worker_crash: robot deliveries")
    parser.add_argument("--submit-students", type=int, default=24_000,
                        help="screening_submit: students with every PHQ-9 answer saved")
    parser.add_argument("--submit-clients", type=int, default=32, help="screening_submit: concurrent clients")
    parser.add_argument("--submit-duration", type=float, default=20.0,
                        help="screening_submit: measured seconds per phase")
    parser.add_argument("--submit-warmup", type=float, default=3.0)
    parser.add_argument("--submit-rounds", type=int, default=2,
                        help="screening_submit: trivial+submit rounds (medians reported)")
    parser.add_argument("--submit-profile", type=int, default=400,
                        help="screening_submit: submits profiled in process afterwards (0: none)")
    parser.add_argument("--submit-worker", choices=("both", "after", "during"), default="both",
                        help="screening_submit: start the worker after the load (the requests alone), run it "
                             "through the load (the whole deployment), or both runs (default)")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto",
                        help="screening_submit load generator (auto: wrk if installed)")
    parser.add_argument("--server-workers", type=int, default=3, help="gunicorn workers (screening)")
    parser.add_argument("--floor-students", type=int, default=48_000,
                        help="floor: students seeded; each submit phase spends the assignments it submits")
    parser.add_argument("--floor-rounds", type=int, default=2,
                        help="floor: rounds of the five phases, alternating (more rounds average out the "
                             "bursts of other load on a shared machine; mind the assignments they spend)")
    parser.add_argument("--floor-duration", type=float, default=10.0, help="floor: seconds measured per phase")
    parser.add_argument("--server-threads", type=int, default=0,
                        help="gunicorn gthread threads per worker (0: sync workers, the measured best)")
    parser.add_argument("--freshmen", type=int, default=None,
                        help="freshman_week: students (default 10,000 on PostgreSQL; 2,000 on SQLite, "
                             "a cheap second opinion)")
    parser.add_argument("--freshman-window", type=float, default=None,
                        help="freshman_week: seconds over which they arrive (default: 0.15 s per "
                             "student, about 80 %% of what two quiet cores take)")
    parser.add_argument("--rescore-responses", type=int, default=100_000)
    parser.add_argument("--first-logins", type=int, default=3_000, help="first_logins: freshmen")
    parser.add_argument("--first-logins-window", type=float, default=300.0,
                        help="first_logins: seconds over which they arrive")
    parser.add_argument("--slot-students", type=int, default=500, help="slot_release: students")
    parser.add_argument("--slot-count", type=int, default=40, help="slot_release: slots released at once")
    parser.add_argument("--slot-windows", type=lambda v: [float(x) for x in v.split(",")], default=[0.0, 10.0],
                        help="slot_release: seconds over which the students react (0: all at once), comma-separated")
    parser.add_argument("--peer-reporters", type=int, default=5_000, help="peer_reports: reporters")
    parser.add_argument("--peer-window", type=float, default=300.0,
                        help="peer_reports: seconds over which they submit (the issue's 600 s, compressed)")
    parser.add_argument("--peer-students", type=int, default=50_000, help="peer_reports: students seeded")
    parser.add_argument("--caseload-sessions", type=int, default=5_000, help="counseling_load: sessions on record")
    parser.add_argument("--caseload-small", type=int, default=500,
                        help="counseling_load: the small seed (query counts must be equal)")
    parser.add_argument("--caseload-runs", type=int, default=100, help="counseling_load: timed requests per page")
    args = parser.parse_args()
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; choose from {', '.join(BENCHMARKS)}")

    if args.db == "postgres" and not os.environ.get("XINLIAN_DATABASE_URL"):
        script = ROOT / "scripts" / "with-postgres.sh"
        print("XINLIAN_DATABASE_URL is not set: starting a private PostgreSQL with", script.name, flush=True)
        os.execv(str(script), [str(script), PYTHON, *sys.argv])

    vendor = "postgresql" if args.db == "postgres" else "sqlite"
    machine = machine_info()
    for name in args.names or BENCHMARKS:
        runner = {"network_pages": bench_network_pages, "roster_import": bench_roster_import,
                  "alert_latency": bench_alert_latency, "escalation_lateness": bench_escalation_lateness,
                  "worker_crash": bench_worker_crash, "screening_submit": bench_screening_submit,
                  "freshman_week": bench_freshman_week, "rescore": bench_rescore,
                  "floor": bench_floor, "school_size": bench_school_size,
                  "personal_latency": bench_personal(name), "personal_burst": bench_personal(name),
                  "first_logins": bench_first_logins, "slips_college": bench_slips_college,
                  "slot_release": bench_slot_release, "peer_reports": bench_peer_reports,
                  "counseling_load": bench_counseling_load}[name]
        try:
            payload = runner(vendor, args)
        except Exception as exc:  # one failing benchmark must not hide the others' figures
            print(f"{name}: FAILED: {exc}", flush=True)
            payload = {"error": str(exc)}
            write_result(name, vendor, {"date": now_iso(), "machine": machine, "vendor": vendor, **payload})
            continue
        write_result(name, vendor, {"date": now_iso(), "machine": machine, "vendor": vendor,
                                    "settings": vars(args), **payload})
        print_summary(name, vendor, payload)
    print(f"\nresults: {BENCH_DIR / 'results'}")


if __name__ == "__main__":
    main()
