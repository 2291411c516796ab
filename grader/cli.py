"""The ``dockyard`` command: the sandbox's commands (:mod:`dockyard.cli`) and, on top of them, the grader's
(lab, check, checks, progress) and the course's (course, grade, hub, k8s).

The sandbox package knows nothing of grading; this module assembles the two."""

from __future__ import annotations

import sys

import click

from dockyard import sandbox as sb
from dockyard.cli import echo_progress, main, sandbox_options
from dockyard.cliutil import friendly_errors
from dockyard.errors import NotRunning

from .course.cli import course, grade
from .hub.cli import hub
from .k8s.cli import k8s

@main.command()
@sandbox_options
@click.option("--port", type=int, default=8888, show_default=True)
@click.option("--no-browser", is_flag=True, help="Print the URL instead of opening a browser.")
@friendly_errors
def lab(name, backend, port, no_browser):
    """Bring the sandbox up and open the lessons in JupyterLab (127.0.0.1 only).

    Run as root, JupyterLab runs unprivileged (the sudo caller's account, else a uid of its own) on
    your own copy of the lessons in <home>/work/<name>/, and your checks are graded by this process.

    \b
    Example:
      dockyard lab --port 8890 --no-browser
    """
    from dockyard.lab import workspace_dirs

    from .learner import launch

    box = sb.get(name, backend)
    if box.backend == "private":
        box = sb.get(name, backend, workspace=workspace_dirs(box))
    box.up(progress=echo_progress) if box.backend == "private" else box.up()
    sys.exit(launch(box, port=port, open_browser=not no_browser))


@main.command()
@sandbox_options
@click.argument("lab")
@click.option("--submission", "-s", default=".", show_default=True,
              help="Folder with your files (Dockerfile labs); the sandbox's state is checked too.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--validate", is_flag=True, help="Only check that the lab's lab.yaml is valid.")
@click.option("--lesson", is_flag=True,
              help="LAB names a lesson's self-checks (notebooks/checks/), where a graded lab has the same name.")
@friendly_errors
def check(name, backend, lab, submission, as_json, validate, lesson):
    """Grade your work in the sandbox now and print what passed, with hints.

    \b
    Example:
      dockyard check 05-dockerfile --submission labs/05-dockerfile/solution
      dockyard check 01-namespaces --lesson        # lesson 01's "Try it" exercises
    """
    import grader
    from grader import service

    if service.available() and not validate:  # in the learner's JupyterLab: no spec here
        report = service.request(lab, submission=submission, prefer="lesson" if lesson else "lab")
        click.echo(report.to_json(reveal_hidden=False) if as_json else report.table(reveal_hidden=False))
        sys.exit(0 if report.passed else 1)
    path = grader.find_lab(lab, prefer="lesson" if lesson else "lab")
    spec = grader.load(path)
    if validate:
        click.echo(f"{path}: valid ({sum(len(t.checks) for t in spec.tasks)} checks in {len(spec.tasks)} tasks, "
                   f"{spec.total:g} points)")
        return
    box = sb.get(name, backend)
    if not box.running():
        raise NotRunning(box.name)
    report = grader.grade_and_record(spec, sandbox=box, submission=submission,
                                     progress=None if as_json else lambda r: click.echo(f"  {r.mark} {r.title}", err=True))
    click.echo(report.to_json(reveal_hidden=False) if as_json else report.table(reveal_hidden=False))
    sys.exit(0 if report.passed else 1)


@main.command(name="checks")
@click.argument("family", required=False)
@friendly_errors
def checks_cmd(family):
    """List the checks a lab.yaml can use, with their parameters.

    \b
    Example:
      dockyard checks container
    """
    from grader.checks import base

    for name, ct in sorted(base.load_all().items()):
        if family and not name.startswith(family):
            continue
        params = ", ".join(f"{k}" + ("" if p.required else f"={p.default!r}") for k, p in ct.params.items())
        click.echo(f"{name}({params})\n    {ct.title}")


@main.command(name="progress")
@sandbox_options
@friendly_errors
def progress_cmd(name, backend):
    """Show your best result in every lab you have checked.

    \b
    Example:
      dockyard progress
    """
    from grader import progress

    click.echo(progress.table(progress.load(progress.progress_file(sb.get(name, backend)))))


main.add_command(course)
main.add_command(grade)
main.add_command(hub)
main.add_command(k8s)

__all__ = ["main"]

if __name__ == "__main__":  # pragma: no cover
    main()
