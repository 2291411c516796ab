"""Fences for one hand-in's grading: a cgroup around its kernel, a warm nbgrader worker, timeouts that kill.

The student's code runs in the notebook kernel. That kernel starts inside a
cgroup of its own (:mod:`grader.course.fence`) with memory and pids caps, so a
memory hog is OOM-killed there and a fork bomb hits the pids cap without
touching the rest of the class; on a timeout every process in it is ended. Its
Docker commands reach only the hand-in's own fresh sandbox. Each worker slot holds a
uid of its own (:mod:`.kernel_user`): the kernels it starts run as that uid, in a private
view of the host.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from dockyard import cgroups


class KernelFence:
    """The cgroup a hand-in's kernel runs in (None of it when the machine has no cgroups)."""

    def __init__(self, name: str, memory: int, pids: int):
        self.cg = cgroups.SandboxCgroup(name, cgroups.detect())
        self.enabled = self.cg.hierarchy.version is not None
        if self.enabled:
            self.cg.create(memory=memory, pids=pids, cpus=max(1.0, float(os.cpu_count() or 1)))

    @property
    def name(self) -> str | None:
        return self.cg.name if self.enabled else None

    def kill_all(self) -> None:
        """End every process in the fence: the kernel and all it started, and only those."""
        if not self.enabled:
            return
        for _ in range(50):
            left = self.cg.procs()
            if not left:
                return
            for pid in left:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)

    def oom_kills(self) -> int:
        return self.cg.oom_kills() if self.enabled else 0

    def pids_max_hits(self) -> int:
        return self.cg.pids_max_hits() if self.enabled else 0

    def close(self) -> None:
        if not self.enabled:
            return
        self.kill_all()
        for _ in range(50):
            if not self.cg.remove():
                return
            time.sleep(0.1)


@dataclasses.dataclass
class Answer:
    result: dict | None  # the worker's answer; None when it never came
    seconds: float
    timed_out: bool = False
    interrupted: bool = False


class Worker:
    """One warm ``python -m grader.course.worker`` process, restarted when it dies or hangs."""

    def __init__(self, workdir: Path, env: dict, user=None):
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.env = env
        self.user = user  # a kernel_user.KernelUser: the uid this slot's kernels run as
        self.proc: subprocess.Popen | None = None
        self.count = 0

    def _start(self) -> None:
        log = open(self.dir / "worker.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "grader.course.worker"], stdin=subprocess.PIPE,
                                     stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.dir,
                                     start_new_session=True)
        log.close()

    def ask(self, request: dict, *, timeout: float, fence: KernelFence, stop: threading.Event) -> Answer:
        """Send one request; on timeout or ``stop`` end the kernel, then the worker if it does not recover."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.count += 1
        result = self.dir / f"answer-{self.count}.json"
        request = {**request, "result": str(result)}
        t0 = time.monotonic()
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        timed_out = interrupted = False
        while not result.exists():
            if self.proc.poll() is not None:
                break
            if not (timed_out or interrupted):
                if time.monotonic() - t0 > timeout:
                    timed_out = True
                elif stop.is_set():
                    interrupted = True
                if timed_out or interrupted:
                    fence.kill_all()  # the kernel dies; nbgrader gives up on this notebook and answers
                    deadline = time.monotonic() + 20
            elif time.monotonic() > deadline:
                self.kill()
                break
            time.sleep(0.05)
        seconds = round(time.monotonic() - t0, 2)
        answer = None
        if result.exists():
            answer = json.loads(result.read_text())
            result.unlink()
        return Answer(answer, seconds, timed_out, interrupted)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                self.proc.wait(timeout=10)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
        self.kill()
        if self.user is not None:
            self.user.close()
