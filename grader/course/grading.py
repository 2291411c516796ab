"""``dockyard grade <lab>``: every hand-in in its own fresh sandbox, several at once, resumable.

For each student with a hand-in under ``submitted/<student>/<lab>/`` a worker
thread:

1. copies the hand-in, the lab's source folder and a snapshot of the gradebook
   into a private nbgrader course in a temporary folder;
2. starts a fresh sandbox named after the hand-in (``g`` + 8 hex digits), its
   base images hard-linked from a template (:mod:`dockyard.template`), so no
   student's cells can see or delete another's containers;
3. has its warm nbgrader worker (:mod:`.worker`, one per slot) run autograde
   and feedback there, with DOCKER_HOST pointing at that sandbox, nbgrader's
   per-cell timeout, our whole-notebook timeout, and the kernel fenced in a
   cgroup with memory and pids caps (:mod:`.isolation`, :mod:`.fence`);
4. hands the sandbox to a reaper thread that tears it down.

The main thread then, one hand-in at a time, copies the autograded notebook,
the evidence and the feedback into the course, merges the grades into the
course gradebook (the only writer) and writes ``grading/<lab>/<student>.json``.
A hand-in with such a status file and unchanged files is not graded again
unless ``force``; Ctrl-C or a crash loses only the hand-ins in flight. A
hand-in that lost a host port to another graded at the same time is graded
again at the end, alone.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

from dockyard import buildkit, mounts
from dockyard.config import human_size, parse_size
from dockyard.errors import DockyardError
from dockyard.sandbox import stop_shared_if_idle

from . import gradebook
from .diagnosis import EVIDENCE, OK, diagnose, last_lines, port_clash, write_evidence
from .config import CELL_TIMEOUT, write_config
from .isolation import KernelFence, Worker
from .kernel_user import KernelUser, Plan, code_dirs, copy_untrusted, masks, private_dirs
from ..catalog import labs_root
from .landing import TMP_PREFIX, discard, disks_dir, land, remove_run, remove_stale_runs
from .layout import REPO, Course
from .release import tool_env
from .worker import kernelspec



@dataclasses.dataclass
class Limits:
    cell_timeout: int = CELL_TIMEOUT
    notebook_timeout: int = 900
    memory: str = "1g"  # the notebook kernel and everything it starts
    pids: int = 512
    # each hand-in's sandbox (images, containers, volumes, build cache) gets a disk of this
    # size, and so, separately, does its notebook's folder; None: both on the host's disk
    disk: str | None = "4g"


@dataclasses.dataclass
class Outcome:
    student: str
    lab: str
    status: str  # ok | cell-timeout | grader-error | process-cap | disk-full | notebook-timeout | out-of-memory | kernel-died | failed | interrupted
    message: str
    merged: bool = False  # its grades are in the course gradebook
    score: float | None = None
    max_score: float | None = None
    cells: dict = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    sandbox: str = ""
    fingerprint: str = ""
    timings: dict = dataclasses.field(default_factory=dict)  # seconds per phase: up, autograde, feedback, down
    port_clash: bool = False  # a host port it asked for was taken (by a hand-in graded at the same time?)
    skipped: bool = False
    workdir: Path | None = dataclasses.field(default=None, repr=False)

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("workdir")
        d.pop("skipped")
        d.pop("port_clash")
        return d


MIN_DISK = 64 * 1024**2  # the smallest --disk a hand-in gets: a notebook and a few layers


def fingerprint(folder: Path) -> str:
    """A hash of every file of a hand-in: a changed hand-in is graded again."""
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(folder)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def sandbox_name(course: Course, lab: str, student: str) -> str:
    return "g" + hashlib.sha256(f"{course.root}\0{lab}\0{student}".encode()).hexdigest()[:8]


def previous(course: Course, lab: str, student: str) -> dict | None:
    try:
        return json.loads(course.status_file(lab, student).read_text())
    except (OSError, ValueError):
        return None


def grade_class(course: Course, lab: str, *, jobs: int = 2, force: bool = False, students: list[str] | None = None,
                limits: Limits | None = None, progress: Callable[[Outcome], None] | None = None,
                plan: Callable[[int, int], None] | None = None) -> list[Outcome]:
    """Grade every hand-in of ``lab`` (or only ``students``); return one outcome each, in student order.

    ``plan(total, to_grade)`` is called once, before any ``progress``: how many hand-ins there are and how
    many of them will be graded (the others are unchanged since they were graded, and are skipped). It comes
    after the image template is built (the first grading on a machine), so a progress bar starts with the
    grading itself."""
    limits = limits or Limits()
    check_gradable(course, lab, limits)
    everyone = chosen_students(course, lab, students)
    outcomes, todo = unchanged_and_todo(course, lab, everyone, force)
    if not todo:
        announce(plan, progress, len(everyone), 0, outcomes.values())
        return [outcomes[s] for s in everyone]
    stop = threading.Event()
    run = GradingRun(course, lab, limits, stop, jobs=max(1, jobs))
    try:
        announce(plan, progress, len(everyone), len(todo), outcomes.values())
        ClassGrading(course, run, stop, outcomes, progress).grade(todo)
    finally:
        run.close()
    return [outcomes[s] for s in everyone if s in outcomes]


def check_gradable(course: Course, lab: str, limits: Limits) -> None:
    """Refuse, before anything starts, a disk too small for a sandbox and a lab that was never released."""
    if limits.disk and parse_size(limits.disk) < MIN_DISK:
        raise DockyardError(f"a disk of {limits.disk} is too small for a hand-in's sandbox",
                            f"give --disk {human_size(MIN_DISK)} or more (the default is {Limits.disk})")
    if not (course.release(lab) / f"{lab}.ipynb").exists():
        raise DockyardError(f"{lab} has not been released in {course.root}",
                            f"run: dockyard course release {lab} --course {course.root}")


def chosen_students(course: Course, lab: str, students: list[str] | None) -> list[str]:
    """Everyone with a hand-in of ``lab``, or only ``students`` (each of whom must have one), in course order."""
    everyone = course.students(lab)
    if not students:
        return everyone
    missing = sorted(set(students) - set(everyone))
    if missing:
        raise DockyardError(f"no hand-in of {lab} from {', '.join(missing)}",
                            f"hand-ins go in {course.submitted(lab)}/<student>/{lab}/")
    return [s for s in everyone if s in students]


def unchanged_and_todo(course: Course, lab: str, everyone: list[str],
                       force: bool) -> tuple[dict[str, Outcome], list[tuple[str, str]]]:
    """The outcomes of hand-ins graded, merged and unchanged since (skipped, unless ``force``), and the
    (student, fingerprint) of every other hand-in: those to grade."""
    outcomes: dict[str, Outcome] = {}
    todo = []
    for student in everyone:
        fp = fingerprint(course.submitted(lab, student))
        prev = previous(course, lab, student)
        if prev and is_unchanged(prev, fp) and not force:
            outcomes[student] = skipped(prev)
        else:
            todo.append((student, fp))
    return outcomes, todo


def is_unchanged(prev: dict, fp: str) -> bool:
    """Its grades are in the gradebook and the hand-in has the files it had then."""
    return bool(prev.get("merged")) and prev.get("fingerprint") == fp


def skipped(prev: dict) -> Outcome:
    """A hand-in not graded again: its last outcome, from its status file."""
    return Outcome(**{k: v for k, v in prev.items() if k in Outcome.__annotations__}, skipped=True)


def announce(plan: Callable[[int, int], None] | None, progress: Callable[[Outcome], None] | None, total: int,
             to_grade: int, skipped) -> None:
    """What a progress bar learns first: the plan, then every skipped hand-in."""
    if plan:
        plan(total, to_grade)
    for outcome in skipped:
        if progress:
            progress(outcome)


def retry_alone_because(outcome: Outcome, jobs: int) -> str | None:
    """Why a hand-in graded beside others is graded again alone, or None when its outcome stands."""
    if jobs <= 1:
        return None
    if outcome.port_clash:
        return "its host ports collided with another hand-in's"
    if outcome.status == "failed" and not outcome.cells:
        # nbgrader stopped before a single cell ran: not the hand-in's doing (its code never ran);
        # once more, alone, so that a grade never depends on what ran beside it
        return f"the first attempt failed before any cell ran: {outcome.message}"
    return None


def graded_alone(outcome: Outcome, why: str) -> Outcome:
    """A second attempt's outcome says why there was one."""
    outcome.message += f" (graded again alone: {why})"
    outcome.port_clash = False
    return outcome


class ClassGrading:
    """One class's hand-ins: graded in parallel on ``run``'s workers, landed one at a time by the main thread
    as they finish, those that need it graded again alone; on Ctrl-C or a crash, what finished is still landed."""

    def __init__(self, course: Course, run: GradingRun, stop: threading.Event, outcomes: dict[str, Outcome],
                 progress: Callable[[Outcome], None] | None):
        self.course, self.run, self.stop, self.outcomes, self.progress = course, run, stop, outcomes, progress
        self.landed: set[int] = set()  # the futures taken
        self.alone: list[tuple[str, str, str]] = []  # (student, fingerprint, why) to grade again, alone

    def grade(self, todo: list[tuple[str, str]]) -> None:
        pool = cf.ThreadPoolExecutor(max_workers=self.run.jobs, thread_name_prefix="grade")
        futures = [pool.submit(self.run.grade_one, s, fp) for s, fp in todo]
        try:
            for fut in cf.as_completed(futures):
                self.take(fut)
            self.grade_alone()
        except BaseException:
            self.save_finished(pool, futures)
            raise
        finally:
            pool.shutdown(wait=True)

    def take(self, fut: cf.Future) -> None:
        """A finished hand-in: landed, or put aside to be graded again alone."""
        self.landed.add(id(fut))
        outcome = fut.result()
        why = retry_alone_because(outcome, self.run.jobs)
        if why:
            discard(outcome)
            self.alone.append((outcome.student, outcome.fingerprint, why))
            return
        self.keep(outcome)

    def keep(self, outcome: Outcome) -> None:
        land(self.course, outcome)
        self.outcomes[outcome.student] = outcome
        if self.progress:
            self.progress(outcome)

    def grade_alone(self) -> None:
        """Every sandbox publishes ports on the same 127.0.0.1: two hand-ins that both ask for host port 8080
        cannot run at once. Whoever lost that race is graded again with nothing else running, so a grade never
        depends on who was graded beside whom."""
        if self.alone:
            self.run.wait_for_teardowns()  # the ports of sandboxes still coming down are not free yet
        for student, fp, why in self.alone:
            if self.stop.is_set():
                break
            self.keep(graded_alone(self.run.grade_one(student, fp), why))

    def save_finished(self, pool: cf.ThreadPoolExecutor, futures: list[cf.Future]) -> None:
        """Ctrl-C or a crash: cancel what has not started, stop what runs, and still land every hand-in that
        finished meanwhile."""
        self.stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        for fut in finished_unlanded(futures, self.landed):
            self.take(fut)


def finished_unlanded(futures: list[cf.Future], landed: set[int]) -> list[cf.Future]:
    """The futures that ended with an outcome and were not taken yet (not cancelled, not failed)."""
    return [fut for fut in futures
            if id(fut) not in landed and fut.done() and not fut.cancelled() and fut.exception() is None]


class GradingRun:
    """What the worker threads of one ``grade_class`` call share: warm workers, a reaper, the template."""

    def __init__(self, course: Course, lab: str, limits: Limits, stop: threading.Event, jobs: int):
        from dockyard import template

        self.course, self.lab, self.limits, self.stop, self.jobs = course, lab, limits, stop, jobs
        remove_stale_runs()
        self.tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX))
        (self.tmp / "owner.pid").write_text(str(os.getpid()))
        # the notebook folders' disk images: on the Dockyard home's disk, never in a /tmp that may be RAM
        self.disks = disks_dir() / self.tmp.name
        self.local = threading.local()
        self.workers: list[Worker] = []
        self.lock = threading.Lock()
        # tearing a sandbox down takes a second or two: done beside the grading, not in its slot
        self.reaper = cf.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="reap")
        self.reaped: list[cf.Future] = []
        try:
            # the first grading on a machine builds it (a minute or two): its phases are shown on stderr
            self.template = template.ensure(progress=lambda _m: None,
                                            images=template.images_in(labs_root() / lab), stream=sys.stderr)
        except DockyardError:
            self.template = None  # without overlay2 each sandbox pulls its own base images
        jupyter = kernelspec(self.tmp / "jupyter")
        self.worker_env = tool_env({**os.environ, "JUPYTER_PATH": str(jupyter), "PYTHONDONTWRITEBYTECODE": "1",
                                    "DOCKYARD_LABS": str(labs_root())})

    def worker(self) -> Worker:
        w = getattr(self.local, "worker", None)
        if w is None:
            with self.lock:
                w = Worker(self.tmp / f"worker-{len(self.workers)}", self.worker_env, user=KernelUser.allocate())
                self.workers.append(w)
            self.local.worker = w
        return w

    def wait_for_teardowns(self) -> None:
        for f in list(self.reaped):
            f.exception()  # waits; a failure is reported by close()

    def close(self) -> None:
        for w in self.workers:
            w.close()
        self.reaper.shutdown(wait=True)
        for f in self.reaped:
            if f.exception() is not None:
                print(f"warning: a grading sandbox did not come down cleanly: {f.exception()}", file=sys.stderr)
        stop_shared_if_idle()
        remove_run(self.tmp)

    def _kernel_env(self, user: KernelUser, sb, folder: Path) -> dict:
        """What makes the hand-in's kernel its slot's uid, seeing its folder and its sandbox's socket only."""
        user.grant_socket(sb.cfg.socket)
        hidden = masks(course=self.course.root, run_tmp=self.tmp, dockyard_home=sb.cfg.home, labs=[labs_root()],
                       repo=REPO)
        binds = [(str(sb.cfg.socket), True), (str(sb.cfg.state_file), False), (str(sb.bin), False)]
        binds += [(p, False) for p in code_dirs(REPO)]  # python and this package, e.g. when under /root
        plan = Plan(uid=user.uid, mask=hidden, private=private_dirs(), folder=str(folder), binds=binds,
                    tmp_size=parse_size(self.limits.memory))
        # the kernel's HOME is its own: the Dockyard home must be named, not found from ~
        return {"DOCKYARD_KERNEL": plan.to_env(), "DOCKYARD_HOME": str(sb.cfg.home)}

    def grade_one(self, student: str, fp: str) -> Outcome:
        """One hand-in, start to end, in its own sandbox; whatever goes wrong is its outcome, never a raise."""
        t0 = time.monotonic()
        name = sandbox_name(self.course, self.lab, student)
        work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.tmp))
        out = Outcome(student, self.lab, "failed", "", sandbox=name, fingerprint=fp, workdir=work)
        if self.stop.is_set():
            out.status, out.message = "interrupted", "grading was interrupted before this hand-in started"
            return out
        cleanup = contextlib.ExitStack()  # the fence closed, then the sandbox handed to the reaper
        try:
            self._grade(out, cleanup)
        except Exception as exc:  # one broken hand-in never stops the class
            out.status, out.message = "failed", failure_message(exc)
        finally:
            cleanup.close()
            out.seconds = round(time.monotonic() - t0, 2)
        return out

    def _grade(self, out: Outcome, cleanup: contextlib.ExitStack) -> None:
        from dockyard.sandbox import Sandbox

        priv = self._private_course(out)
        folder = priv.autograded(out.student, self.lab)
        # the seal lets containers bind the hand-in's own folder (nbgrader runs the notebook there) and
        # nothing else: not the private course's source notebook, nor anything of the host
        sb = Sandbox(name=out.sandbox, disk=self._disk(), workspace=(str(folder),))
        cleanup.callback(self._reap, sb)
        self._bring_up(sb, out)
        fence = KernelFence(f"dockyard-{out.sandbox}-nb", parse_size(self.limits.memory), self.limits.pids)
        cleanup.callback(fence.close)
        evidence = out.workdir / "evidence.jsonl"  # written by the worker's own process, not by the kernel
        answer, worker = self._autograde(priv, out.student, sb, fence, evidence)
        record_timings(out, answer)
        fence.kill_all()  # nothing of the kernel's may change its folder while it is read back
        worker.user.end_processes()
        nb_path = folder / f"{self.lab}.ipynb"
        out.status, out.message = diagnose(answer, fence.oom_kills(), nb_path, self.limits, fence.pids_max_hits(),
                                           full_disks=self._full_disks(sb, out.workdir), evidence=evidence)
        out.port_clash = port_clash(nb_path)
        if nb_path.exists() and out.status not in ("interrupted", "notebook-timeout"):
            write_evidence(nb_path.parent / EVIDENCE, evidence, out, answer.seconds)
            note_feedback(out, (answer.result or {}).get("feedback") or {})
            out.merged = True  # the main thread merges it

    def _disk(self) -> int | None:
        return parse_size(self.limits.disk) if self.limits.disk else None

    def _private_course(self, out: Outcome) -> Course:
        """The hand-in's own nbgrader course in its work folder (on its own disk when there is a cap): config,
        the lab's source, the hand-in and a snapshot of the gradebook."""
        course, lab, work, disk = self.course, self.lab, out.workdir, self._disk()
        if disk:
            # the notebook's folder, where a cell can write a 50 GB file with plain Python: its own
            # disk; a little of it is kept for root, so nbgrader can still save the notebook
            mounts.mount_disk(self.disks / f"{work.name}.img", disk, work, reserve=min(32 << 20, disk // 8),
                              options="nosuid,nodev")
            work.chmod(0o700)  # as mkdtemp made it
        priv = Course(work / "course")
        write_config(priv.root)
        shutil.copytree(course.source(lab), priv.source(lab))
        # no links in a hand-in: nbgrader (root) would copy what they point at into the kernel's folder
        copy_untrusted(course.submitted(lab, out.student), priv.submitted(lab, out.student))
        gradebook.snapshot(course.db, priv.db)
        return priv

    def _bring_up(self, sb, out: Outcome) -> None:
        if sb.cfg.dir.exists():  # left by a crashed run: its containers and disk must not carry over
            sb.down(purge=True, keep_shared=True)
        t = time.monotonic()
        sb.up(progress=lambda _m: None, template=self.template)
        out.timings["up"] = round(time.monotonic() - t, 2)

    def _autograde(self, priv: Course, student: str, sb, fence: KernelFence, evidence: Path):
        """nbgrader autograde and feedback by this thread's warm worker, the kernel fenced; (answer, worker)."""
        env = sb.env()
        # `docker build` in the hand-in's notebook: BuildKit, as in the learner's lab (dockyard.buildkit)
        env.update(buildkit.lesson_env(sb.bin, self.worker_env.get("PATH")))
        if fence.name:
            env["DOCKYARD_FENCE_CGROUP"] = fence.name
        worker = self.worker()
        env.update(self._kernel_env(worker.user, sb, priv.autograded(student, self.lab)))
        answer = worker.ask({"course": str(priv.root), "lab": self.lab, "student": student, "env": env,
                             "cell_timeout": self.limits.cell_timeout, "evidence": str(evidence)},
                            timeout=self.limits.notebook_timeout, fence=fence, stop=self.stop)
        return answer, worker

    def _full_disks(self, sb, work: Path) -> list[str]:
        """Which of the hand-in's own disks were full when it ended."""
        if not self._disk():
            return []
        return [where for where, path in (("sandbox", sb.cfg.data_root), ("folder", work)) if mounts.is_full(path)]

    def _reap(self, sb) -> None:
        self.reaped.append(self.reaper.submit(sb.down, purge=True, keep_shared=True))


def record_timings(out: Outcome, answer) -> None:
    """Seconds of autograde (the worker's own count, else the whole answer's) and of feedback, when it ran."""
    res = answer.result or {}
    out.timings["autograde"] = res.get("autograde_seconds", answer.seconds)
    if "feedback_seconds" in res:
        out.timings["feedback"] = res["feedback_seconds"]


def note_feedback(out: Outcome, fb: dict) -> None:
    """A graded hand-in whose feedback nbgrader could not write is not ok: its grades still count."""
    if not fb.get("success") and out.status == OK:
        out.status, out.message = "failed", ("grades saved, but nbgrader generate_feedback failed: "
                                             + last_lines(fb.get("error") or fb.get("log") or ""))


def failure_message(exc: Exception) -> str:
    """A hand-in's grading that raised, in a teacher's words: ours carry their fix, others their type."""
    if isinstance(exc, DockyardError):
        return f"{exc.problem} ({exc.fix})"
    return f"{exc.__class__.__name__}: {exc}"
