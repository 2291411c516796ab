"""What every lesson's self-check test needs: run docker as the learner would, grade one task, assert on results."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import nbformat

import grader

NOTEBOOKS = Path(__file__).resolve().parents[3] / "notebooks"


def docker(box, cmd: str, ok: bool = True, timeout: float = 120) -> str:
    """Run a shell command against the sandbox, as the learner's sh("...") would; fail loudly unless ok=False."""
    res = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, **box.env()})
    if ok:
        assert res.returncode == 0, f"`{cmd}` failed ({res.returncode}): {res.stdout}{res.stderr}"
    return res.stdout + (res.stderr if not ok else "")


def without(sandbox, tracked, containers=()):
    """The shared sandbox with none of these exercise containers; they are removed after the test too."""
    tracked["containers"].extend(containers)
    if containers:
        docker(sandbox, "docker rm -f " + " ".join(containers) + " 2>/dev/null; true")
    return sandbox


def grade(box, lab: str, task: str | None = None) -> dict:
    """The results of one task (all tasks when None), by check id."""
    report = grader.grade(grader.find_lab(lab), sandbox=box, only_tasks=[task] if task else None)
    assert report.results, f"task {task} has no checks"
    assert task is None or all(r.task == task for r in report.results)
    return {r.id: r for r in report.results}


def graded_after(box, lab: str, task: str, *commands: str, run=docker) -> dict:
    """Type ``commands`` as the learner would (``run(box, command)``, which fails loudly), then grade ``task``:
    its results by check id."""
    for command in commands:
        run(box, command)
    return grade(box, lab, task)


def assert_all_pass(results: dict, after: tuple[str, ...] = ()):
    __tracebackhide__ = True
    failed = [f"{r.id}: {r.message} (hint: {r.hint})" for r in results.values() if not r.passed]
    assert not failed, "".join(f"after `{c}`\n" for c in after) + "\n".join(failed)


def assert_solution_passes(box, lab: str, task: str, *commands: str, run=docker) -> dict:
    """``commands`` solve ``task``: every one of its checks passes (else the message names the commands and each
    check that failed, with its message and hint); returns the results by check id."""
    __tracebackhide__ = True
    results = graded_after(box, lab, task, *commands, run=run)
    assert_all_pass(results, after=commands)
    return results


def assert_nothing_done_fails_every_check(box, lab: str, reason: str, *in_message: str, hint: str | None = None):
    """With none of the lesson's Try its done, the lab scores 0 and each check fails for ``reason``, its message
    holding ``in_message`` and its hint ``hint``."""
    __tracebackhide__ = True
    report = grader.grade(grader.find_lab(lab), sandbox=box)
    passed = [r.id for r in report.results if r.passed]
    assert report.score == 0, f"{lab} scored {report.score} with nothing done, expected 0 (passed: {passed})"
    for r in report.results:
        assert_fails(r, reason, *in_message, hint=hint)


def assert_fails(result, reason: str, *in_message: str, hint: str | None = None):
    __tracebackhide__ = True
    assert not result.passed, f"{result.id} passed, expected it to fail with {reason}: {result.message}"
    assert result.status == "failed", f"{result.id} could not run: {result.message}"
    assert result.reason == reason, f"{result.id}: reason {result.reason!r}, expected {reason!r}: {result.message}"
    for text in in_message:
        assert text in result.message, f"{result.id}: {text!r} not in message {result.message!r}"
    if hint:
        assert result.hint and hint in result.hint, f"{result.id}: {hint!r} not in hint {result.hint!r}"


def notebook_check_tasks(lab: str) -> list[str]:
    """The task ids the lesson's own check cells ask for, in order."""
    nb = nbformat.read(NOTEBOOKS / f"{lab}.ipynb", as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return re.findall(rf'grader\.check\("{re.escape(lab)}", task="([^"]+)"', code)


def spec_task_ids(lab: str) -> list[str]:
    return [t.id for t in grader.load(grader.find_lab(lab)).tasks]
