"""slips_college — first-login slips for a whole 5,000-student college, over HTTP. Target < 10 s.

A demo university of 35,715 students puts exactly 5,000 in 经济管理学院 (its weight is 1.4 of
10). One of the college's 辅导员 (a post at the college: the whole college is theirs) asks for
the college's slips at ``POST /units/<pk>/first-login-slips/``, as the printable page and as
the .xlsx, three times each (each request makes 5,000 new codes, replacing the unused ones,
through the verb ``network.identity.issue_slips``, with one audit row). The app runs under
gunicorn with production settings (bench/screening.py's ``Server``), one request at a time.

Figures per format: wall time of each request (median of the runs), the server's and the
database's CPU, the response size, and the slips counted in the answer (``<section
class="xl-slip"`` on the page; the sheet's rows, read back with openpyxl); the load average
(the machine is shared). Run as a child by bench/run.py: ``python bench/slips_college.py``."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import BENCH_DIR, database_info, django_setup
from screening import Browser, CpuMeter, Server, free_port, make_sessions, migrate, production_env

TARGET_SECONDS = 10.0
COLLEGE_CODE = "EM"
SEED_STUDENTS = 35_715  # × 1.4 / 10 = 5,000 in EM


def count_slips(fmt: str, body: bytes) -> int:
    if fmt == "html":
        return body.count(b'<section class="xl-slip"')
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    return sum(1 for _ in sheet.iter_rows(min_row=2, values_only=True))


def slips_benchmark(args: argparse.Namespace) -> dict:
    os.environ.update(production_env())
    django_setup()
    migrate()
    from xinlian.network.demo import seed_demo
    from xinlian.network.models import FirstLoginCode, Post, Role, Student, Unit, UnitKind

    t0 = time.perf_counter()
    seed_demo(args.seed_students)
    seed_s = time.perf_counter() - t0
    college = Unit.objects.get(kind=UnitKind.COLLEGE, code=args.college)
    students = Student.objects.in_units([college]).count()
    post = Post.objects.active().filter(unit=college, role=Role.FUDAOYUAN).select_related("person").first()
    if post is None:
        raise RuntimeError(f"no 辅导员 at {college.code}")
    teacher = post.person
    session = make_sessions([teacher.pk])[teacher.pk]
    tmp = Path(tempfile.mkdtemp(prefix="xinlian-slips-"))
    server = Server(free_port(), args.workers, 0, tmp / "server.log")
    path = f"/units/{college.pk}/first-login-slips/"
    result: dict = {"database": database_info(), "students_seeded": args.seed_students,
                    "seed_seconds": round(seed_s, 1), "college": college.code, "college_students": students,
                    "as": f"辅导员 (post at the college), user {teacher.username}", "path": path,
                    "server": {"cmd": " ".join(server.cmd[1:])}, "target_seconds": TARGET_SECONDS,
                    "loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    try:
        server.wait_ready()
        browser = Browser(server.port, session)
        status, _h, _b = browser.request("GET", path)  # the options page: warms the worker up
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        figures: dict[str, dict] = {}
        for fmt in ("html", "xlsx"):
            runs = []
            for n in range(args.runs):
                meter = CpuMeter(server.proc.pid)
                meter.start()
                w0 = time.perf_counter()
                status, headers, body = browser.request(
                    "POST", path, f"days=14&format={fmt}".encode(),
                    browser.post_headers("application/x-www-form-urlencoded"))
                wall = time.perf_counter() - w0
                cpu = meter.stop()
                if status != 200:
                    raise RuntimeError(f"POST {path} ({fmt}) answered {status}: {body[:200]!r}")
                slips = count_slips(fmt, body)
                unused = FirstLoginCode.objects.filter(user__student__in=Student.objects.in_units([college]),
                                                       used_at__isnull=True).count()
                runs.append({"wall_s": round(wall, 2),
                             "server_cpu_s": round(cpu["server_cores"] * cpu["wall_s"], 2),
                             "database_cpu_s": round(cpu["database_cores"] * cpu["wall_s"], 2),
                             "other_cores": cpu["other_cores"], "bytes": len(body), "slips": slips,
                             "unused_codes_after": unused, "content_type": headers.get("content-type", ""),
                             "loadavg_1min": round(os.getloadavg()[0], 2)})
                print(f"slips_college: {fmt} run {n + 1}: {wall:.2f} s, {slips:,} slips, {len(body):,} bytes",
                      file=sys.stderr, flush=True)
            figures[fmt] = {"median_s": round(statistics.median(r["wall_s"] for r in runs), 2),
                            "median_server_cpu_s": round(statistics.median(r["server_cpu_s"] for r in runs), 2),
                            "runs": runs}
        browser.close()
        result["figures"] = figures
        result["all_slips"] = all(r["slips"] == students and r["unused_codes_after"] == students
                                  for f in figures.values() for r in f["runs"])
        result["within_target"] = result["all_slips"] and all(f["median_s"] < TARGET_SECONDS
                                                              for f in figures.values())
        result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def run_benchmark(vendor: str, args: argparse.Namespace) -> dict:
    from common import fresh_database, run_child

    print(f"slips_college: a {SEED_STUDENTS:,}-student university, slips for its 5,000-student college on "
          f"{vendor}…", flush=True)
    with fresh_database(vendor) as env:
        return run_child([str(BENCH_DIR / "slips_college.py")], env, timeout=3600)


def print_summary(payload: dict) -> None:
    if "figures" not in payload:
        print(f"no figures: {payload.get('error', payload)}")
        return
    print(f"{payload['college_students']:,} students in {payload['college']}, as {payload['as']}")
    for fmt, f in payload["figures"].items():
        runs = ", ".join(f"{r['wall_s']} s" for r in f["runs"])
        print(f"  {fmt:<5} median {f['median_s']} s (runs {runs}), server CPU {f['median_server_cpu_s']} s, "
              f"{f['runs'][0]['bytes']:,} bytes, {f['runs'][0]['slips']:,} slips")
    print(f"load average {payload['loadavg_before']} → {payload.get('loadavg_after')}; target < "
          f"{payload['target_seconds']:g} s: " + ("met" if payload["within_target"] else "NOT met"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed-students", type=int, default=SEED_STUDENTS)
    parser.add_argument("--college", default=COLLEGE_CODE)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(slips_benchmark(args), ensure_ascii=False, default=str))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
