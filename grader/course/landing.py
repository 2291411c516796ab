"""What a hand-in's grading leaves, and where it goes: the worker's files landed in the course (the autograded
notebook, the feedback, the grades merged into the course's gradebook, the status file), and every temporary thing
removed (work folders, their disks, a dead run's leftovers). The main thread is the course's only writer."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard import mounts, procs
from dockyard.config import home as dockyard_home
from dockyard.errors import DockyardError

from . import gradebook
from .kernel_user import copy_untrusted, remove_tree
from .layout import Course

if TYPE_CHECKING:
    from .grading import Outcome


def discard(out: Outcome) -> None:
    if out.workdir is not None:
        remove_work(out.workdir)


TMP_PREFIX = "dockyard-grade-"


def disks_dir() -> Path:
    return dockyard_home() / ".grade-disks"  # not a sandbox name (no dots in those)


def remove_work(work: Path) -> None:
    """A hand-in's folder and, when it has one, its disk: unmounted, loop device detached, image deleted."""
    mounts.remove_disk(disks_dir() / work.parent.name / f"{work.name}.img", work)
    shutil.rmtree(work, ignore_errors=True)


def remove_run(tmp: Path) -> None:
    for point in mounts.mounted_under(tmp):
        mounts.remove_disk(disks_dir() / tmp.name / f"{Path(point).name}.img", Path(point))
    disks = disks_dir() / tmp.name
    for image in disks.glob("*.img") if disks.is_dir() else ():
        mounts.remove_disk(image)
    shutil.rmtree(disks, ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)


def remove_stale_runs() -> None:
    """What a grading run killed before its clean-up (SIGKILL, a power cut) left: mounts, loop devices, images."""
    owners = {tmp.name: tmp for tmp in Path(tempfile.gettempdir()).glob(TMP_PREFIX + "*")}
    if disks_dir().is_dir():
        owners.update({d.name: Path(tempfile.gettempdir()) / d.name for d in disks_dir().iterdir() if d.name not in owners})
    for tmp in owners.values():
        if tmp.exists():
            try:
                pid = int((tmp / "owner.pid").read_text())
            except (OSError, ValueError):
                continue  # a run starting right now, or one of a Dockyard that made no disks
            if procs.alive(pid):
                continue
            purge_sandboxes(tmp)
        remove_run(tmp)


def purge_sandboxes(tmp: Path) -> None:
    """The hand-ins' sandboxes a dead run left (their dockerd outlives it): each work folder is <sandbox>-*."""
    from dockyard.sandbox import Sandbox

    for work in tmp.glob("g*-*"):
        sb = Sandbox(name=work.name.split("-", 1)[0])
        if sb.cfg.dir.exists():
            with contextlib.suppress(DockyardError):
                sb.down(purge=True, keep_shared=True)


def land(course: Course, out: Outcome) -> None:
    """Main thread only: copy the worker's files into the course, merge grades, write the status file."""
    work = out.workdir
    try:
        if out.merged and work is not None:
            priv = Course(work / "course")
            src = priv.autograded(out.student, out.lab)
            dest = course.autograded(out.student, out.lab)
            replace_tree(src, dest)
            fb = priv.feedback(out.student, out.lab)
            if fb.is_dir():
                replace_tree(fb, course.feedback(out.student, out.lab))
            out.cells = gradebook.merge(priv.db, course.db, out.lab, out.student)
            out.score = round(sum(s or 0 for s, _m in out.cells.values()), 3)
            out.max_score = round(sum(m for _s, m in out.cells.values()), 3)
    except Exception as exc:
        out.merged = False
        out.status, out.message = "failed", f"could not save the grades: {exc.__class__.__name__}: {exc}"
    finally:
        if out.status != "interrupted":
            target = course.status_file(out.lab, out.student)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            tmp.write_text(json.dumps(out.to_json(), indent=1, default=str))
            tmp.replace(target)  # atomic: a crash leaves the old status or the new, never half
        if work is not None:
            remove_work(work)


def replace_tree(src: Path, dest: Path) -> None:
    """``dest`` becomes a copy of ``src``, a folder the kernel wrote in: regular files and folders only,
    never a link followed (one to /etc/shadow stays out), nor a file over KEPT_FILE_MAX."""
    if os.path.lexists(dest):
        remove_tree(dest)  # nbgrader makes autograded files read-only; no link in it is followed
    dest.parent.mkdir(parents=True, exist_ok=True)
    copy_untrusted(src, dest, max_file=KEPT_FILE_MAX)


KEPT_FILE_MAX = 64 * 1024**2  # what a cell wrote past this, the course does not keep (a disk-filling hand-in)
