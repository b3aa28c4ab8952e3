"""Xinlian benchmarks: ``.venv/bin/python bench/run.py [NAME ...] [--db sqlite|postgres]``.

Benchmarks:
  network_pages  server time and query count of the college page and the network tree
                 (100,000 vs 2,000 students: the query counts must be equal)
  roster_import  ``xinlian import-roster`` of a 50,000-student .xlsx: wall time and peak RSS

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

BENCHMARKS = ("network_pages", "roster_import")


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
        runner = {"network_pages": bench_network_pages, "roster_import": bench_roster_import}[name]
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
