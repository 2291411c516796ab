"""How long a class takes to grade: `dockyard grade --jobs 2` against serial `nbgrader autograde`.

For each lab, N hand-ins are generated (the reference solution, the alternatives and the broken
variants in turn, as `dockyard course sample` does) and graded twice, from the same released
course:

- dockyard: ``grade_class(jobs=2)``: a fresh sandbox per hand-in, warm nbgrader workers;
- serial:   ``nbgrader autograde <lab> --student S`` for one student after another, all against one
            shared sandbox that is reset between hand-ins (without the reset, one student's leftover
            containers and registry tags would pass another's checks; ``--no-reset`` shows that).

Prints both times, their ratio, per-hand-in medians and whether every score agrees.
Run as root on a machine that can run the sandbox:

    .venv/bin/python bench/grade_class.py --n 20 --labs 05-dockerfile
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dockyard import template  # noqa: E402
from dockyard.sandbox import Sandbox  # noqa: E402
from grader.course import gradebook, labnb  # noqa: E402
from grader.course.grading import Limits, grade_class  # noqa: E402
from grader.catalog import graded_labs  # noqa: E402
from grader.course.layout import Course, lab_dir  # noqa: E402
from grader.course.release import release, tool_env  # noqa: E402


def serial(course: Course, lab: str, students: list[str], reset: bool) -> tuple[float, list[float]]:
    sb = Sandbox(name="benchser", workspace=(str(course.root / "autograded"),))  # where nbgrader runs the notebooks
    per = []
    try:
        sb.up(progress=lambda _m: None)
        env = tool_env({**os.environ, **sb.env(), "DOCKYARD_LABS": str(REPO / "labs")})
        t0 = time.monotonic()
        for s in students:
            t = time.monotonic()
            res = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", lab, "--student", s, "--force"],
                                 cwd=course.root, env=env, capture_output=True, text=True, timeout=1800)
            if res.returncode:
                print(f"  serial: nbgrader autograde failed for {s}: {res.stderr.strip().splitlines()[-1:]}")
            if reset:
                sb.reset()
            per.append(time.monotonic() - t)
        return time.monotonic() - t0, per
    finally:
        sb.down(purge=True)


def bench_lab(lab: str, n: int, jobs: int, reset: bool) -> bool:
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
        t_serial, per_serial = serial(theirs, d.name, students, reset)

        a = {s: v["score"] for s, v in gradebook.scores(ours.db, d.name).items()}
        b = {s: v["score"] for s, v in gradebook.scores(theirs.db, d.name).items()}
        differ = {s: (a.get(s), b.get(s), made[s]) for s in students if a.get(s) != b.get(s)}
        problems = [o for o in outcomes if o.status != "ok"]
        print(f"{d.name}: {n} hand-ins ({len(set(made.values()))} kinds)")
        print(f"  dockyard grade --jobs {jobs}: {t_ours:7.1f} s   "
              f"(per hand-in in its slot: median {statistics.median(o.seconds for o in outcomes):.1f} s; "
              f"autograde {statistics.median(o.timings.get('autograde', 0) for o in outcomes):.1f} s, "
              f"sandbox up {statistics.median(o.timings.get('up', 0) for o in outcomes):.2f} s)")
        print(f"  serial nbgrader autograde: {t_serial:7.1f} s   (per hand-in: median {statistics.median(per_serial):.1f} s"
              f"{', reset between hand-ins' if reset else ', NO reset between hand-ins'})")
        print(f"  ratio: {t_serial / t_ours:.2f}x faster")
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
    ap.add_argument("--no-reset", action="store_true", help="serial baseline without a reset between hand-ins")
    args = ap.parse_args()
    labs = [p.name for p in graded_labs()] if args.labs == "all" else args.labs.split(",")
    os.environ.setdefault("DOCKYARD_LABS", str(REPO / "labs"))
    print(f"machine: {os.cpu_count()} CPUs")
    ok = all([bench_lab(lab, args.n, args.jobs, not args.no_reset) for lab in labs])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
