"""``dockyard course ...`` and ``dockyard grade``: a thin layer over :mod:`grader.course`."""

from __future__ import annotations

import functools
import json
import sys

import click

from dockyard.cliutil import friendly_errors

from .layout import Course


def course_option(func):
    @click.option("--course", "course_dir", default=None, envvar="DOCKYARD_COURSE",
                  help="The nbgrader course folder (default: ./course beside the labs, or $DOCKYARD_COURSE).")
    @functools.wraps(func)
    def wrapper(*args, course_dir=None, **kwargs):
        return func(*args, course=Course.at(course_dir), **kwargs)
    return wrapper


@click.group()
def course():
    """Run the labs as an nbgrader course: release, sample hand-ins, reports.

    \b
    Example:
      dockyard course release && dockyard grade 05-dockerfile --jobs 4
    """


@course.command()
@click.argument("labs", nargs=-1)
@course_option
@friendly_errors
def release(labs, course):
    """Generate the student version of every lab (or of LABS) with nbgrader.

    Copies each lab's source notebook and starter files into <course>/source/<lab>
    (never lab.yaml, solution/ or broken/), then runs nbgrader generate_assignment.

    \b
    Example:
      dockyard course release 05-dockerfile --course /srv/dockyard-course
    """
    from .release import release as do_release

    done = do_release(course, list(labs) or None, progress=click.echo)
    click.echo(f"{len(done)} lab(s) released; students get {course.root / 'release'}/<lab>/")


@course.command()
@click.argument("lab")
@click.option("-n", "count", type=int, default=20, show_default=True, help="How many hand-ins to write.")
@course_option
@friendly_errors
def sample(lab, count, course):
    """Write N sample hand-ins of LAB (solution, alternatives, broken variants in turn) to try grading.

    \b
    Example:
      dockyard course sample 05-dockerfile -n 20 && dockyard grade 05-dockerfile
    """
    from . import labnb
    from .layout import lab_dir

    d = lab_dir(lab)
    if not (course.release(d.name) / f"{d.name}.ipynb").exists():
        from .release import release as do_release

        do_release(course, [d.name], progress=click.echo)
    made = labnb.sample_class(d, course.release(d.name), course.submitted(d.name), count)
    for student, variant in made.items():
        click.echo(f"{student}: {variant}")


@course.command()
@click.argument("lab")
@course_option
@friendly_errors
def report(lab, course):
    """Write <course>/reports/LAB.csv (for the LMS) and LAB.html (with a per-task failure chart).

    \b
    Example:
      dockyard course report 05-dockerfile && xdg-open course/reports/05-dockerfile.html
    """
    from . import report as rep

    csv_path, html_path = rep.write(course, lab)
    click.echo(_table(rep.rows(course, lab)))
    click.echo(f"\nwrote {csv_path}\nwrote {html_path}")


@course.command()
@course_option
@click.option("--port", type=int, default=8890, show_default=True, help="Port on 127.0.0.1.")
@click.option("--no-browser", is_flag=True, help="Print the URL instead of opening a browser.")
@friendly_errors
def formgrader(course, port, no_browser):
    """Open the course in JupyterLab with nbgrader's formgrader, for the teacher.

    It lists each lab's hand-ins with their scores, shows every graded notebook for manual
    grading, and releases feedback. Autograding stays `dockyard grade`: formgrader's own
    autograde button would run a student's code unsealed, as you, so it is refused.

    \b
    Example:
      dockyard grade 05-dockerfile && dockyard course formgrader
    """
    from .teacher import launch

    sys.exit(launch(course, port=port, open_browser=not no_browser))


def _table(rows) -> str:
    lines = [f"{'student':24} {'score':>11}  status"]
    for r in rows:
        score = f"{r.score:g}/{r.max_score:g}" if r.score is not None else "—"
        lines.append(f"{r.student:24} {score:>11}  {r.status}" + (f": {r.message}" if r.status != "ok" else ""))
    return "\n".join(lines)


@click.command()
@click.argument("lab")
@course_option
@click.option("--jobs", "-j", type=int, default=2, show_default=True, help="Hand-ins graded at once.")
@click.option("--force", is_flag=True, help="Grade again hand-ins that were already graded and did not change.")
@click.option("--student", "students", multiple=True, help="Only this student (repeatable).")
@click.option("--cell-timeout", type=int, default=120, show_default=True, help="Seconds for one cell.")
@click.option("--notebook-timeout", type=int, default=900, show_default=True, help="Seconds for a whole notebook.")
@click.option("--memory", default="1g", show_default=True, help="Memory cap of one notebook's kernel and children.")
@click.option("--pids", type=int, default=512, show_default=True, help="Process cap of one notebook's kernel.")
@click.option("--disk", default="4g", show_default=True,
              help="Disk cap of each hand-in's sandbox (images, containers, volumes) and, separately, of its "
                   "notebook's folder; 0 for none.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per hand-in.")
@friendly_errors
def grade(lab, course, jobs, force, students, cell_timeout, notebook_timeout, memory, pids, disk, as_json):
    """Autograde every hand-in of LAB, each in its own fresh sandbox, JOBS at a time.

    Hand-ins are read from <course>/submitted/<student>/LAB/. Grades go to the course
    gradebook (formgrader shows them), feedback to <course>/feedback/, a status per
    hand-in to <course>/grading/LAB/. Re-running skips what is already graded.
    On a terminal a bar on stderr shows k/N, elapsed, time left and how many need a look;
    elsewhere each hand-in's line starts with [k/N] and ends with the time left.

    \b
    Example:
      dockyard grade 05-dockerfile --jobs 4 --cell-timeout 60 --disk 8g
    """
    from . import report as rep
    from .grading import Limits, grade_class
    from .layout import lab_dir
    from .meter import ClassMeter

    name = lab_dir(lab).name
    meter = ClassMeter(name, jobs, json_lines=as_json)

    def show(o):
        if as_json:
            meter.landed(o, json.dumps(o.to_json(), default=str))
            return
        score = f"{o.score:g}/{o.max_score:g}" if o.score is not None else "—"
        tag = "skipped (already graded)" if o.skipped else f"{o.seconds:.1f} s"
        color = "green" if o.status == "ok" else "red"
        meter.landed(o, f"{o.student:24} {score:>11}  " + click.style(o.status, fg=color) + f"  {tag}"
                     + (f"\n    {o.message}" if o.status != "ok" else ""))

    try:
        outcomes = grade_class(course, name, jobs=jobs, force=force, students=list(students) or None,
                               limits=Limits(cell_timeout, notebook_timeout, memory, pids,
                                             None if disk.strip() in ("0", "none", "") else disk),
                               progress=show, plan=meter.plan)
    finally:
        meter.close()
    csv_path, html_path = rep.write(course, name)
    bad = [o for o in outcomes if o.status != "ok"]
    if not as_json:
        click.echo(f"\n{len(outcomes)} hand-ins, {len(bad)} need a look. Reports: {csv_path}, {html_path}")
    sys.exit(1 if bad else 0)
