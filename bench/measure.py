"""Run one command as this process's only child; print its wall time and peak memory as JSON.

``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is the largest resident set among the children a
process has waited for, so the measurement needs a parent with no other children: this one.
Usage: ``python bench/measure.py CMD [ARGS...]``."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main() -> None:
    cmd = sys.argv[1:]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({
        "returncode": proc.returncode,
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "max_rss_mb": round(usage.ru_maxrss / 1024, 1),  # ru_maxrss is in KiB on Linux
        "stdout_tail": proc.stdout.strip().splitlines()[-8:],
        "stderr_tail": proc.stderr.strip().splitlines()[-8:],
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
