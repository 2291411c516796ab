"""Median time to grade lab 05's reference solution: build (from cache) plus every check.

    .venv/bin/python bench/check_speed.py [--runs 5] [--lab labs/05-dockerfile]

Starts its own sandbox and brings it down afterwards; the first (uncached) grading
is reported separately and not counted in the median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import grader
from dockyard import Sandbox, SandboxConfig

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--lab", default=str(ROOT / "labs" / "05-dockerfile"))
    args = ap.parse_args()
    lab = grader.load(args.lab)
    solution = Path(args.lab) / "solution"
    box = Sandbox(SandboxConfig.from_env(name=f"bcheck{os.getpid() % 1000}"))
    try:
        box.up(progress=print)
        t0 = time.monotonic()
        first = grader.grade(lab, sandbox=box, submission=solution)
        print(f"first grading (cold build cache): {time.monotonic() - t0:.2f} s, score {first.score:g}/{first.total:g}")
        times, slowest = [], {}
        for i in range(args.runs):
            t0 = time.monotonic()
            report = grader.grade(lab, sandbox=box, submission=solution)
            times.append(time.monotonic() - t0)
            for r in report.results:
                slowest[r.id] = slowest.get(r.id, 0) + r.duration / args.runs
            print(f"run {i + 1}: {times[-1]:.2f} s, score {report.score:g}/{report.total:g}")
        top = sorted(slowest.items(), key=lambda kv: -kv[1])[:4]
        print("slowest checks (mean): " + ", ".join(f"{k} {v:.2f} s" for k, v in top))
        print(f"median of {args.runs}: {statistics.median(times):.2f} s to grade the reference solution "
              f"(build from cache + {len(report.results)} checks; target < 3 s)")
    finally:
        box.down(purge=True)


if __name__ == "__main__":
    main()
