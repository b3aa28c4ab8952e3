"""network_pages — server time and SQL query count of the college page and the network tree.

A 100,000-student demo bureau is seeded into a fresh database; as the centre director and as
the 辅导员 of 计算机学院 (a tenth of the students: 10,000) we GET the college page at its
first, middle and last page of 50 students, the network tree, and the tree branch that lists
the college's classes (``network-children``, fetched when the branch is opened). Django's test
Client runs the whole request (middleware, session, templates) in process, so the time measured
is server time. The same is repeated on a 2,000-student seed: the query counts must be equal —
a page whose query count grows with the data is a bug, whatever its time today.

Run as a child by bench/run.py: ``python bench/network_pages.py --students N``."""

from __future__ import annotations

import argparse
import json
import math
import time

from common import database_info, django_setup, median_ms

URL_NAMES = ("unit-detail", "network-tree", "network-children")
PERSONAS = ("director", "fudaoyuan")
COLLEGE = "CS"


def measure(students: int, runs: int, warmup: int) -> dict:
    django_setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import NoReverseMatch, reverse

    from xinlian.network.demo import seed_demo
    from xinlian.network.models import Student, Unit, User

    call_command("migrate", interactive=False, verbosity=0)
    seeded = seed_demo(students)
    out: dict = {"students": students, "seed_seconds": round(seeded.seconds, 2),
                 "units": seeded.units, "posts": seeded.posts, "database": database_info()}
    try:
        college = Unit.objects.get(code=COLLEGE)
        college_url = reverse("unit-detail", args=[college.pk])
        tree_url = reverse("network-tree")
        children_url = reverse("network-children", args=[college.pk])
    except NoReverseMatch as exc:
        out["skipped"] = f"URL names {URL_NAMES} are not defined yet ({exc})"
        return out
    college_students = Student.objects.in_units([college]).count()
    last = max(1, math.ceil(college_students / 50))
    targets = [
        ("college page 1", f"{college_url}?page=1"),
        ("college middle page", f"{college_url}?page={(last + 1) // 2}"),
        ("college last page", f"{college_url}?page={last}"),
        ("network tree", tree_url),
        ("college children", children_url),
    ]
    out["college_students"] = college_students
    out["pages"] = []
    client = Client()
    for username in PERSONAS:
        client.force_login(User.objects.get(username=username))
        for label, url in targets:
            for _ in range(warmup):
                response = client.get(url)
                if response.status_code != 200:
                    raise RuntimeError(f"{username} GET {url} answered {response.status_code}")
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(url)
            # Read the count now: the next request's request_started signal clears the log.
            queries = len(ctx.captured_queries)
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                client.get(url)
                samples.append(time.perf_counter() - started)
            out["pages"].append({
                "user": username, "page": label, "url": url, "queries": queries,
                "median_ms": median_ms(samples), "min_ms": round(min(samples) * 1000, 2),
                "max_ms": round(max(samples) * 1000, 2), "runs": runs,
                "bytes": len(response.content),
            })
    return out


def summarise(big: dict, small: dict) -> dict:
    """Compare query counts between the big and the small seed, page by page."""
    if "skipped" in big or "skipped" in small:
        return {"skipped": big.get("skipped") or small.get("skipped")}
    small_q = {(p["user"], p["page"]): p["queries"] for p in small["pages"]}
    rows = []
    for p in big["pages"]:
        key = (p["user"], p["page"])
        rows.append({"user": p["user"], "page": p["page"], "queries_big": p["queries"],
                     "queries_small": small_q.get(key), "equal": p["queries"] == small_q.get(key),
                     "median_ms_big": p["median_ms"]})
    return {"query_counts_constant": all(r["equal"] for r in rows), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, required=True)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.students, args.runs, args.warmup), ensure_ascii=False))


if __name__ == "__main__":
    main()
