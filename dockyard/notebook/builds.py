"""``docker build`` with a progress bar, read from BuildKit's own output.

BuildKit (``DOCKER_BUILDKIT=1``, the lessons' builder) prints, with ``--progress=plain`` or whenever its
output is not a terminal, one block per build step (a *vertex*)::

    #5 [base 2/6] WORKDIR /srv          a step: stage "base", instruction 2 of its 6
    #5 0.309 output of the step...      what it printed, with seconds since it started
    #5 DONE 0.2s                        finished (or: CACHED, ERROR: ..., CANCELED)
    #11 writing image sha256:6d85... done

:class:`BuildLog` folds those lines into steps; :func:`build` runs a ``docker build`` command line as
``sh()`` would, feeds each line to a :class:`BuildLog` as it comes, and shows the steps done on a bar.
The legacy builder's ``Step N/M : ...`` and ``Using cache`` lines are folded too, so a log from an old
Docker reads the same.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field

from . import CommandFailed, Table, sandbox

VERTEX = re.compile(r"^#(\d+) \[(?:(?P<stage>[^\]]*?) )?(?P<k>\d+)/(?P<n>\d+)\] (?P<instruction>.*)$")
STATUS = re.compile(r"^#(\d+) (?:(?P<done>DONE) (?P<seconds>[\d.]+)s|(?P<cached>CACHED)|ERROR:? (?P<error>.*)"
                    r"|(?P<canceled>CANCELED))\s*$")
IMAGE = re.compile(r"writing image (sha256:[0-9a-f]{64})")
INTERNAL = re.compile(r"^#(\d+) \[internal\] (.*)$")
CONTEXT = re.compile(r"^#(\d+) transferring context: ([\d.]+[kMG]?B)")
LEGACY_CONTEXT = re.compile(r"^Sending build context to Docker daemon\s+(\S+)")
LEGACY_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
LEGACY_IMAGE = re.compile(r"^Successfully built ([0-9a-f]{12,64})$")
OUTPUT = re.compile(r"^#(\d+) [\d.]+ (.*)$")  # what a step printed, after the seconds since it started
_NOT_MINE = object()  # a BuildLog line reader's answer for a line of another kind


@dataclass
class Step:
    """One instruction of the Dockerfile as the build ran it."""

    stage: str
    k: int
    n: int
    instruction: str
    state: str = "running"  # running, done, cached, error, canceled
    seconds: float | None = None
    output: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "cached")

    def __str__(self) -> str:
        where = f"{self.stage} {self.k}/{self.n}" if self.stage else f"{self.k}/{self.n}"
        how = "CACHED" if self.state == "cached" else (
            f"{self.seconds:.1f} s" if self.seconds is not None else self.state)
        return f"[{where}] {self.instruction}  ({how})"


class BuildLog:
    """A build's output, line by line, folded into its steps (BuildKit's or the legacy builder's)."""

    def __init__(self):
        self.steps: dict[str, Step] = {}  # by vertex number ("#5" → "5"); legacy steps by "legacy-N"
        self.lines: list[str] = []
        self.image_id: str | None = None
        self.error: str | None = None
        self.context_sent: str | None = None  # what the client sent of the build context (BuildKit: only what is used)
        self._internal: dict[str, str] = {}
        self._legacy: Step | None = None

    def feed(self, line: str) -> Step | None:
        """Take one line of output; the step it finished, if it finished one."""
        line = line.rstrip("\n")
        self.lines.append(line)
        for read in (self._vertex_line, self._internal_line, self._context_line, self._status_line,
                     self._image_line, self._output_line):
            finished = read(line)
            if finished is not _NOT_MINE:
                return finished
        return self._legacy_line(line)

    # Each _*_line reader takes a line it recognizes (and returns the step it finished, or None), or returns
    # _NOT_MINE for the next reader. The order matters: "#11 0.2 writing image sha256:..." is the image, not
    # output, and a legacy line is whatever no BuildKit reader took.
    def _vertex_line(self, line: str) -> Step | None | object:
        m = VERTEX.match(line)
        if not m:
            return _NOT_MINE
        if m[1] not in self.steps:
            self.steps[m[1]] = Step(m["stage"] or "", int(m["k"]), int(m["n"]), m["instruction"])
        return None

    def _internal_line(self, line: str) -> Step | None | object:
        m = INTERNAL.match(line)
        if not m:
            return _NOT_MINE
        self._internal[m[1]] = m[2]
        return None

    def _context_line(self, line: str) -> Step | None | object:
        m = CONTEXT.match(line) or LEGACY_CONTEXT.match(line)
        # BuildKit transfers .dockerignore and the Dockerfile the same way: only "load build context" is the context
        if m and (m.re is LEGACY_CONTEXT or self._internal.get(m[1]) == "load build context"):
            self.context_sent = m[m.lastindex]
            return None
        return _NOT_MINE

    def _status_line(self, line: str) -> Step | None | object:
        m = STATUS.match(line)
        if m and m[1] in self.steps:
            return self._finish(self.steps[m[1]], m)
        if m and m["error"] is not None and self.error is None:  # an error of no step: the build's own
            self.error = m["error"].strip()
        return _NOT_MINE

    def _finish(self, step: Step, status: re.Match) -> Step | None:
        """``step`` in the state its status line says; the step if that finished it."""
        if step.finished:  # BuildKit may report a step twice (a FROM shared by two stages): once is enough
            return None
        if status["done"]:
            step.state, step.seconds = "done", float(status["seconds"])
        elif status["cached"]:
            step.state = "cached"
        elif status["canceled"]:
            step.state = "canceled"
        else:
            step.state, self.error = "error", status["error"].strip()
        return step if step.finished else None

    def _image_line(self, line: str) -> Step | None | object:
        m = IMAGE.search(line) or LEGACY_IMAGE.match(line)
        if not m:
            return _NOT_MINE
        self.image_id = m[1]
        return self._end_legacy()

    def _output_line(self, line: str) -> Step | None | object:
        m = OUTPUT.match(line)
        if not (m and m[1] in self.steps):
            return _NOT_MINE
        self.steps[m[1]].output.append(m[2])
        return None

    def _legacy_line(self, line: str) -> Step | None:
        m = LEGACY_STEP.match(line)
        if m:
            finished = self._end_legacy()
            self._legacy = Step("", int(m[1]), int(m[2]), m[3])
            self.steps[f"legacy-{m[1]}"] = self._legacy
            return finished
        if self._legacy is not None and "Using cache" in line:
            self._legacy.state = "cached"
        elif self._legacy is not None and line.strip() and not line.startswith(" ---> "):
            self._legacy.output.append(line)
        return None

    def _end_legacy(self) -> Step | None:
        step, self._legacy = self._legacy, None
        if step is not None and step.state == "running":
            step.state = "done"
        return step

    @property
    def total(self) -> int:
        """Steps the build has announced so far: each stage's n, added up (stages appear as the build reaches them)."""
        per_stage: dict[str, int] = {}
        for s in self.steps.values():
            per_stage[s.stage] = max(per_stage.get(s.stage, 0), s.n)
        return sum(per_stage.values())

    @property
    def done(self) -> int:
        return sum(1 for s in self.steps.values() if s.finished)

    @property
    def cached(self) -> list[Step]:
        return [s for s in self.steps.values() if s.state == "cached"]

    @property
    def ran(self) -> list[Step]:
        return [s for s in self.steps.values() if s.state == "done"]

    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    def _ipython_display_(self):  # a cell ending in build(...) shows the printed steps only
        pass

    def table(self, title: str | None = None) -> Table:
        rows = [(f"{s.stage} {s.k}/{s.n}".strip(), s.instruction[:70], "CACHED" if s.state == "cached" else
                 (f"{s.seconds:.1f} s" if s.seconds is not None else s.state)) for s in self.steps.values()]
        return Table(rows, ["step", "instruction", "ran"], title=title)


def with_plain_progress(cmd: str) -> str:
    """``docker build ...`` with ``--progress=plain`` after ``build`` (unless it asks for a progress already)."""
    if "--progress" in cmd:
        return cmd
    return re.sub(r"\bdocker\s+(image\s+)?build\b", lambda m: m[0] + " --progress=plain", cmd, count=1)


class _Bar:
    """A tqdm.notebook bar in a kernel, nothing elsewhere (the printed steps are the record)."""

    def __init__(self, title: str):
        self.bar = None
        try:
            from ..pulls import in_notebook

            if in_notebook():
                from tqdm.notebook import tqdm

                title = title.replace("{", "{{").replace("}", "}}")
                self.bar = tqdm(total=1, bar_format=f"{title}: {{n}}/{{total}} steps|{{bar}}| {{desc}}",
                                mininterval=0, leave=True)
        except ImportError:
            pass

    def update(self, log: BuildLog, text: str) -> None:
        if self.bar is not None:
            self.bar.total, self.bar.n = max(1, log.total), log.done
            self.bar.set_description_str(text[:60], refresh=True)

    def close(self, log: BuildLog, ok: bool, seconds: float) -> None:
        if self.bar is not None:
            if ok:
                self.bar.total = self.bar.n = max(1, log.total)
                self.bar.set_description_str(f"built in {seconds:.1f} s", refresh=True)
            else:
                self.bar.bar_style = "danger"
                self.bar.set_description_str("failed: " + (log.error or "")[:60], refresh=True)
            self.bar.close()


def build(cmd: str, *, show: str = "steps", check: bool = True, timeout: float = 300) -> BuildLog:
    """Run ``cmd`` (a ``docker build ...`` command line) as ``sh()`` would, with a progress bar of its steps.

    ``show``: ``"steps"`` prints each step as it finishes, ``"output"`` each step with what it printed, ``"all"``
    every line, ``"none"`` only the summary. A failed build raises :class:`CommandFailed` with the failing step's
    output (``check=False``: prints it and returns the log; ``log.error`` says what failed).

    >>> build("docker build -t hello:1 hello/")   # doctest: +SKIP
    $ docker build --progress=plain -t hello:1 hello/
    [1/2] FROM docker.io/library/busybox  (CACHED)
    [2/2] RUN echo hi > /hi.txt  (0.3 s)
    built hello:1 in 0.9 s: 2 steps, 1 from the cache
    """
    cmd = with_plain_progress(cmd)
    env = {**os.environ, **sandbox().env()}
    print(f"$ {cmd}", flush=True)
    tag = _tag(cmd)
    log, bar = BuildLog(), _Bar(tag)
    t0 = time.monotonic()
    proc = subprocess.Popen(["bash", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, bufsize=1)
    try:
        code = _follow(proc, cmd, log, bar, show, t0, timeout)
    except BaseException:
        proc.kill()
        proc.wait()
        bar.close(log, False, time.monotonic() - t0)
        raise
    seconds = time.monotonic() - t0
    bar.close(log, code == 0, seconds)
    if code != 0:
        return _failed(cmd, code, log, check)
    print(_summary(tag, seconds, log), file=sys.stdout)
    return log


def _tag(cmd: str) -> str:
    """The image name the command tags (``-t``/``--tag``), or "build": the bar's title."""
    words = shlex.split(cmd)
    return next((w for a, w in zip(words, words[1:]) if a in ("-t", "--tag")), "build")


def _follow(proc: subprocess.Popen, cmd: str, log: BuildLog, bar: _Bar, show: str, t0: float,
            timeout: float) -> int:
    """Feed the build's output to ``log`` and ``bar`` as it comes; its exit status. Kills it past ``timeout``."""
    for line in proc.stdout:
        _show(line, log.feed(line), show)
        bar.update(log, _running(log))
        if time.monotonic() - t0 > timeout:
            proc.kill()
            raise CommandFailed(cmd, -9, f"the build ran past {timeout:.0f} s\n" + "\n".join(log.lines[-20:]))
    return proc.wait()


def _show(line: str, finished: Step | None, show: str) -> None:
    """Print what ``show`` asks for of one line of output (and of the step it finished)."""
    if show == "all":
        print(line, end="", flush=True)
    elif finished is not None and show in ("steps", "output"):
        print(finished, flush=True)
        if show == "output":
            print("".join(f"    {out}\n" for out in finished.output), end="", flush=True)


def _running(log: BuildLog) -> str:
    """The instruction of the step the build started last and has not finished, or ""."""
    step = next((s for s in reversed(log.steps.values()) if s.state == "running"), None)
    return step.instruction if step else ""


def _failure_detail(log: BuildLog) -> str:
    """The failed step with the end of its output (or the log's last lines if no step failed), and the error."""
    failed = next((s for s in log.steps.values() if s.state == "error"), None)
    lines = ([str(failed)] + [f"    {o}" for o in failed.output[-10:]]) if failed else log.lines[-15:]
    return ("\n".join(lines) + f"\n{log.error or ''}").rstrip()


def _failed(cmd: str, code: int, log: BuildLog, check: bool) -> BuildLog:
    """Raise CommandFailed with what failed, or (``check=False``) print it and return the log."""
    detail = _failure_detail(log)
    if check:
        raise CommandFailed(cmd, code, detail)
    print(f"{detail}\nthe build failed (exit status {code})", flush=True)
    return log


def _summary(tag: str, seconds: float, log: BuildLog) -> str:
    sent = f"; context sent: {log.context_sent}" if log.context_sent else ""
    return f"built {tag} in {seconds:.1f} s: {log.total} steps, {len(log.cached)} from the cache{sent}"
