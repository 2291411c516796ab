"""Checks asked for by a learner's kernel, run by the grader's own process (the one that started the lab).

A learner's kernel runs as an unprivileged uid that cannot read the labs' specs (hidden
checks, solutions) and must not be the one computing its own results. So ``grader.check()``
in such a kernel (``$DOCKYARD_CHECKS`` names this socket) sends only *what* to check:

    {"lab": "05-dockerfile", "tasks": ["build"] | null, "submission": "/abs/folder" | null,
     "prefer": "lesson" | "lab", "record": true | false}

and :class:`CheckService`, in `dockyard lab`'s root process, loads the spec from the course,
grades the learner's sandbox and files, records the best result per task, and answers with the
report as the learner may see it (failed hidden checks without their details)::

    {"report": {...}}   or   {"error": "...", "hint": "..."}

Only the learner's uid (and root) may connect (the socket is theirs, mode 0600, and each
peer's uid is checked with SO_PEERCRED); a submission must be a folder inside the learner's
own files; a lab is named, never given as a path; one check runs at a time.

A graded lab's notebook in the learner's copy (``labs/NN-topic/``) asks the same way from its
test cells: ``award("05-dockerfile", "build")`` sends ``{"op": "award", "lab": ..., "ids": [...],
"submission": cwd}`` and gets the points and the lines to print; one grading session per lab and
folder is kept here, so a later cell reuses an earlier cell's build. Hidden checks are not run
this way: they count when a hand-in is graded.

It answers one question besides: ``{"op": "namespaces", "pid": N}`` gives the namespace
identities (``/proc/N/ns/*``) of a process of the learner's own sandbox's containers, which the
kernel (not root, not the process's owner) may not read itself. Lesson 01 compares them.
"""

from __future__ import annotations

import json
import os
import re
import socket
import socketserver
import struct
import threading
from pathlib import Path

from dockyard.service_client import ServiceError, ask, available  # noqa: F401 (available: for callers)

from .result import Report

LAB_NAME = re.compile(r"^[0-9]{2}(-[a-z0-9]+)*$|^[a-z][a-z0-9-]*$")
MAX_REQUEST = 64 * 1024


class Refused(Exception):
    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.hint = hint


def inside(path: str, roots: list[Path]) -> Path:
    """``path`` (absolute, resolved) when it is a folder inside one of ``roots``; else :class:`Refused`."""
    if not os.path.isabs(path):
        raise Refused(f"submission {path!r} is not an absolute path", "pass the folder that holds your files")
    real = Path(os.path.realpath(path))
    for root in roots:
        top = os.path.realpath(root)
        if str(real) == top or str(real).startswith(top.rstrip("/") + "/"):
            if not real.is_dir():
                raise Refused(f"submission {path} is not a folder", "pass the folder that holds your Dockerfile")
            return real
    raise Refused(f"submission {path} is outside your work folder",
                  "keep your files in the lessons' folder (or a folder made with tempfile) and check that")


class CheckService:
    """A unix-socket server in the grader's process that grades one learner's sandbox on request."""

    def __init__(self, box, socket_path: Path, *, roots: list[Path], uid: int):
        self.box, self.socket, self.roots, self.uid = box, Path(socket_path), list(roots), uid
        self._server = self._thread = None
        self._one = threading.Lock()
        self._sessions: dict[tuple[str, str], object] = {}  # (lab, folder) -> GradingSession, for award

    def start(self) -> None:
        service = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                creds = self.request.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
                _pid, uid, _gid = struct.unpack("3i", creds)
                if uid not in (0, service.uid):
                    return
                line = self.rfile.readline(MAX_REQUEST + 1)
                self.wfile.write((json.dumps(service.answer(line)) + "\n").encode())

        _unlink_quietly(self.socket)
        self.socket.parent.mkdir(parents=True, exist_ok=True)
        server = socketserver.ThreadingUnixStreamServer(str(self.socket), Handler, bind_and_activate=False)
        server.daemon_threads = True
        old = os.umask(0o177)
        try:
            server.server_bind()
        finally:
            os.umask(old)
        os.chown(self.socket, self.uid, self.uid)
        server.server_activate()
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="dockyard-checks", daemon=True)
        self._thread.start()

    def answer(self, line: bytes) -> dict:
        try:
            if len(line) > MAX_REQUEST:
                raise Refused("the request is too large")
            try:
                req = json.loads(line)
            except ValueError:
                raise Refused("the request is not JSON") from None
            if not isinstance(req, dict):
                raise Refused("the request is not a JSON object")
            if req.get("op") == "namespaces":
                return {"namespaces": self.namespaces(req.get("pid"))}
            if req.get("op") == "award":
                return self.award(req)
            return {"report": self.check(req).to_dict(reveal_hidden=False)}
        except Refused as exc:
            return {"error": str(exc), "hint": exc.hint}
        except Exception as exc:  # a broken spec, a daemon gone: the learner sees why, the service lives on
            from dockyard.errors import DockyardError

            hint = getattr(exc, "hint", "") if isinstance(exc, DockyardError) else ""
            return {"error": f"{type(exc).__name__}: {exc}", "hint": hint or ""}

    def check(self, req: dict) -> Report:
        from . import grade, grade_and_record
        from .spec import find_lab, load

        lab, tasks, sub = req.get("lab"), req.get("tasks"), req.get("submission")
        if not isinstance(lab, str) or not LAB_NAME.match(lab):
            raise Refused(f"no lab called {lab!r}", "name a lab like 05-dockerfile or a lesson like 01-namespaces")
        if tasks is not None and not (isinstance(tasks, list) and all(isinstance(t, str) for t in tasks)):
            raise Refused("tasks must be a list of task names")
        prefer = "lab" if req.get("prefer") == "lab" else "lesson"
        submission = inside(sub, self.roots) if sub is not None else None
        spec = load(find_lab(lab, prefer=prefer))
        with self._one:
            if req.get("record", True) is False:
                return grade(spec, sandbox=self.box, submission=submission, only_tasks=tasks)
            return grade_and_record(spec, sandbox=self.box, submission=submission, only_tasks=tasks)

    def award(self, req: dict) -> dict:
        """Run the checks a lab notebook's test cell names, in the learner's lab folder; points and lines."""
        from . import progress as store
        from .catalog import spec_path
        from .session import GradingSession, select
        from .spec import load

        lab, ids = req.get("lab"), req.get("ids")
        if not isinstance(lab, str) or not LAB_NAME.match(lab) or not spec_path(lab).is_file():
            raise Refused(f"no graded lab called {lab!r}", "the test cells name their lab, e.g. 05-dockerfile")
        if not (isinstance(ids, list) and ids and all(isinstance(i, str) for i in ids)):
            raise Refused("award() needs the task or check ids to run")
        folder = inside(req.get("submission") or "", self.roots)
        spec = load(spec_path(lab))
        try:
            chosen = select(spec, ids)
        except ValueError as exc:
            raise Refused(str(exc)) from None
        if any(c.hidden for _t, c in chosen):
            raise Refused("hidden checks run only when your hand-in is graded")
        with self._one:
            key = (lab, str(folder))
            session = self._sessions.get(key)
            if session is None:
                session = self._sessions[key] = GradingSession(spec, client=self.box.client, sandbox=self.box,
                                                               submission=folder, track_files=True)
            results = session.run(ids)
            store.record(store.progress_file(self.box), session.report())
        errors = [f"{r.id}: {r.message}" for r in results if r.status == "error"]
        return {"points": round(sum(r.points for r in results), 3), "lines": [str(r) for r in results],
                "errors": errors}

    def namespaces(self, pid) -> dict[str, str]:
        """``{kind: id}`` of ``pid`` when it runs in one of this sandbox's containers (by its cgroup)."""
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            raise Refused(f"{pid!r} is not a process id")
        top = self.box.cfg.cgroup_name
        try:
            lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        except OSError:
            raise Refused(f"no process {pid}", "is the container still running? docker ps shows it") from None
        if not any(line.split(":", 2)[-1].split("/")[1:2] == [top] for line in lines):
            raise Refused(f"process {pid} is not in one of your sandbox's containers",
                          "pass the PID docker inspect -f '{{.State.Pid}}' gives for one of your containers")
        from dockyard.notebook import read_ns

        try:
            return read_ns(pid)
        except OSError:
            raise Refused(f"no process {pid}", "is the container still running? docker ps shows it") from None

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for session in self._sessions.values():
            try:
                session.close()  # what the checks started (probe containers, temporary copies)
            except Exception:  # noqa: BLE001 - a daemon already gone: nothing left to remove
                pass
        self._sessions.clear()
        _unlink_quietly(self.socket)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _ask(req: dict, timeout: float) -> dict:
    from .errors import GraderError

    try:
        return ask(req, timeout)
    except ServiceError as exc:
        raise GraderError(exc.problem, exc.fix or "") from None


def award(lab: str, ids: list[str], timeout: float = 1800) -> dict:
    """A lab test cell's checks, run by the grader's process in this kernel's folder."""
    return _ask({"op": "award", "lab": str(lab), "ids": list(ids), "submission": os.getcwd()}, timeout)


def request(lab: str, *, submission: str | None = None, tasks: list[str] | None = None,
            prefer: str = "lesson", record: bool = True, timeout: float = 1800) -> Report:
    """Ask the check service to grade; raises :class:`grader.errors.GraderError` with its reason when it refuses."""
    req = {"lab": str(lab), "tasks": tasks, "prefer": prefer, "record": bool(record),
           "submission": os.path.abspath(submission) if submission is not None else None}
    return Report.from_dict(_ask(req, timeout)["report"])
