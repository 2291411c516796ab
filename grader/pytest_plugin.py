"""pytest plugin: a lab's checks become test items.

    pytest --lab labs/05-dockerfile --submission path/to/student/

Each check is one item (in spec order, sharing one grading context, so a build
happens once). The score is printed at the end; ``--grade-json`` and
``--grade-junit`` write the report (JUnit carries points as properties). The
exit code is pytest's own. Without ``--sandbox`` or DOCKER_HOST, a fresh private
sandbox is started for the session and brought down afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_STATE_KEY = pytest.StashKey[dict]()


def pytest_addoption(parser):
    group = parser.getgroup("dockyard", "Dockyard lab grading")
    group.addoption("--lab", default=None, help="grade this lab (a directory with lab.yaml, or a lab name like 05)")
    group.addoption("--submission", default=None, help="the student's directory (default: the current one)")
    group.addoption("--sandbox", default=None, help="grade in this running Dockyard sandbox instead of a fresh one")
    group.addoption("--grade-json", default=None, help="write the graded report as JSON here")
    group.addoption("--grade-junit", default=None, help="write the graded report as JUnit XML here")
    group.addoption("--no-hidden", action="store_true", help="skip hidden checks (a student's own run)")


def _raw_lab(args: list[str]) -> str | None:
    for i, a in enumerate(args):
        if a == "--lab" and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--lab="):
            return a.split("=", 1)[1]
    return None


def pytest_load_initial_conftests(early_config, parser, args):
    """With --lab, collect that lab's lab.yaml instead of the project's test paths."""
    lab = _raw_lab(args)
    if lab:
        from .spec import find_lab

        path = find_lab(lab, prefer="lab")
        args.append(str(path / "lab.yaml" if path.is_dir() else path))


def pytest_collect_file(file_path: Path, parent):
    if parent.config.getoption("lab") and file_path.name == "lab.yaml":
        return LabFile.from_parent(parent, path=file_path)
    return None


class LabFile(pytest.File):
    def collect(self):
        from .spec import load

        lab = load(self.path)
        hidden = not self.config.getoption("no_hidden")
        self.config.stash.setdefault(_STATE_KEY, {})["lab"] = lab
        for task, spec in lab.checks():
            if spec.hidden and not hidden:
                continue
            yield CheckItem.from_parent(self, name=spec.id, task=task, spec=spec)


class CheckFailed(Exception):
    pass


class CheckItem(pytest.Item):
    def __init__(self, *, task, spec, **kw):
        super().__init__(**kw)
        self.task, self.spec = task, spec
        self.add_marker(pytest.mark.docker)
        self.user_properties.append(("max_points", spec.points))

    def runtest(self):
        result = _session(self.config).check(self.task, self.spec)
        self.user_properties.append(("points", result.points))
        if not result.passed:
            raise CheckFailed(result)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, CheckFailed):
            r = excinfo.value.args[0]
            text = f"{r.title}: {r.message}"
            if r.hint:
                text += f"\nhint: {r.hint}"
            return text
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, self.spec.line, f"{self.task.id}: {self.spec.title}"


def _session(config):
    """The grading session all items share (one context, so a build happens once), made at the first item."""
    state = config.stash.setdefault(_STATE_KEY, {})
    if "session" in state:
        return state["session"]
    from .session import GradingSession

    box, own = _choose_sandbox(config.getoption("sandbox"))
    if own:
        state["own_sandbox"] = box
    submission = Path(config.getoption("submission") or os.getcwd()).resolve()
    state["session"] = GradingSession(state["lab"], client=box.client, sandbox=box, submission=submission)
    return state["session"]


def _choose_sandbox(name: str | None):
    """(sandbox, started here?): --sandbox NAME; else the one DOCKER_HOST / DOCKYARD_SANDBOX point at;
    else a fresh private sandbox for this session."""
    from dockyard import ExistingSandbox, Sandbox, SandboxConfig, get

    if name:
        return get(name), False
    if os.environ.get("DOCKER_HOST"):
        if os.environ.get("DOCKYARD_SANDBOX") and os.environ.get("DOCKYARD_BACKEND") != "existing":
            return get(), False
        return ExistingSandbox(), False
    box = Sandbox(SandboxConfig.from_env(name=f"g{os.getpid() % 100000}"))
    box.up(progress=print)
    return box, True


def pytest_sessionfinish(session, exitstatus):
    state = session.config.stash.get(_STATE_KEY, {})
    grading = state.get("session")
    try:
        if grading is not None:
            grading.close()
    finally:
        if "own_sandbox" in state:
            state["own_sandbox"].down(purge=True)
    if grading is not None:
        report = grading.report()
        state["report"] = report
        if session.config.getoption("grade_json"):
            Path(session.config.getoption("grade_json")).write_text(report.to_json())
        if session.config.getoption("grade_junit"):
            Path(session.config.getoption("grade_junit")).write_text(report.to_junit_xml())


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    report = config.stash.get(_STATE_KEY, {}).get("report")
    if report is None:
        return
    tr = terminalreporter
    tr.section(f"Dockyard · {report.title}")
    for task, (got, total) in report.task_scores().items():
        tr.write_line(f"  {task:20} {got:g}/{total:g}")
    tr.write_line(f"score: {report.score:g}/{report.total:g}", bold=True,
                  green=report.score == report.total, red=report.score < report.total)
