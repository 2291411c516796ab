"""How long a class takes to grade: `dockyard grade --jobs 2` against the same hand-ins one at a time.

For each lab, N hand-ins are generated (the reference solution, the alternatives and the broken
variants in turn, as `dockyard course sample` does) and graded twice, from the same released
course: ``grade_class(jobs=2)`` and ``grade_class(jobs=1)``, each a fresh sealed sandbox per hand-in.
(Plain serial ``nbgrader autograde`` was the peer until Dockyard refused it: it ran the hand-ins' code
unsealed, as the teacher.)

Prints both times, their ratio, per-hand-in medians and whether every score agrees.
Run as root on a machine that can run the sandbox:

    .venv/bin/python bench/grade_class.py --n 20 --labs 05-dockerfile
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dockyard import template  # noqa: E402
from grader.course import gradebook, labnb  # noqa: E402
from grader.course.grading import Limits, grade_class  # noqa: E402
from grader.catalog import graded_labs  # noqa: E402
from grader.course.layout import Course, lab_dir  # noqa: E402
from grader.course.release import release  # noqa: E402


def serial(course: Course, lab: str) -> tuple[float, list[float]]:
    """The peer: the same hand-ins one after another (``dockyard grade --jobs 1``). Plain ``nbgrader autograde``
    is no peer any more: Dockyard refuses it (it would run each hand-in's code unsealed, as the teacher)."""
    t0 = time.monotonic()
    outcomes = grade_class(course, lab, jobs=1, limits=Limits())
    return time.monotonic() - t0, [o.seconds for o in outcomes]


def bench_lab(lab: str, n: int, jobs: int) -> bool:
    d = lab_dir(lab)
    tmp = Path(tempfile.mkdtemp(prefix="bench-grade-"))
    try:
        ours = Course.at(tmp / "ours")
        release(ours, [d.name], progress=lambda _m: None)
        made = labnb.sample_class(d, ours.release(d.name), ours.submitted(d.name), n)
        # the image template is built once per machine and image set: not part of a grading run's time
        template.ensure(progress=lambda _m: None, images=template.images_in(d))
        theirs = Course.at(tmp / "serial")
        shutil.copytree(ours.root, theirs.root)
        students = sorted(made)

        t0 = time.monotonic()
        outcomes = grade_class(ours, d.name, jobs=jobs, limits=Limits())
        t_ours = time.monotonic() - t0
        t_serial, per_serial = serial(theirs, d.name)

        a = {s: v["score"] for s, v in gradebook.scores(ours.db, d.name).items()}
        b = {s: v["score"] for s, v in gradebook.scores(theirs.db, d.name).items()}
        differ = {s: (a.get(s), b.get(s), made[s]) for s in students if a.get(s) != b.get(s)}
        problems = [o for o in outcomes if o.status != "ok"]
        print(f"{d.name}: {n} hand-ins ({len(set(made.values()))} kinds)")
        print(f"  dockyard grade --jobs {jobs}: {t_ours:7.1f} s   "
              f"(per hand-in in its slot: median {statistics.median(o.seconds for o in outcomes):.1f} s; "
              f"autograde {statistics.median(o.timings.get('autograde', 0) for o in outcomes):.1f} s, "
              f"sandbox up {statistics.median(o.timings.get('up', 0) for o in outcomes):.2f} s)")
        print(f"  dockyard grade --jobs 1: {t_serial:7.1f} s   (per hand-in: median {statistics.median(per_serial):.1f} s)")
        print(f"  ratio: {t_serial / t_ours:.2f}x faster than one at a time")
        print(f"  scores agree: {'yes' if not differ else 'NO'} ({n - len(differ)}/{n})"
              + "".join(f"\n    {s} ({k}): dockyard {x} vs serial {y}" for s, (x, y, k) in differ.items()))
        if problems:
            print("  hand-ins with a status other than ok: "
                  + ", ".join(f"{o.student} {o.status}: {o.message}" for o in problems))
        return not differ and not problems
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20, help="hand-ins per lab (default 20)")
    ap.add_argument("--labs", default="05-dockerfile", help="comma-separated lab names, or 'all'")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    labs = [p.name for p in graded_labs()] if args.labs == "all" else args.labs.split(",")
    os.environ.setdefault("DOCKYARD_LABS", str(REPO / "labs"))
    print(f"machine: {os.cpu_count()} CPUs")
    ok = all([bench_lab(lab, args.n, args.jobs) for lab in labs])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
