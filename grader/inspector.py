"""What a check may look at: the hand-in's files and the daemon's state, never changed.

An :class:`Inspector` reads afresh at every call (it outlives many test cells, and the learner changes things
between them), keeps every inspect answer it gave as the teacher's evidence, and reads the hand-in's files as a
tree it never leaves: the grader may run as root, the hand-in is the learner's. It knows nothing of grading: it
raises the project's Docker errors (:mod:`dockyard.errors`), never a check's outcome.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
import time
from pathlib import Path
from typing import Any, Callable, Protocol

from dockyard.errors import DockyardError, docker_errors

EXEC_OUTPUT_CAP = 1 << 20  # bytes of a command's output kept: a check reads a line or two, a flood is cut
LOG_CAP = 1 << 20  # bytes of a container's log kept
READ_CAP = 1 << 20  # bytes of a hand-in's file read unless a check says otherwise
# what a hand-in (and a lab's starter base) may hold when the grader copies it; past a cap the grading fails with it
HAND_IN_CAPS = {"max_bytes": 200 << 20, "max_files": 20_000, "max_depth": 40}


class OutsideSubmission(DockyardError):
    """A hand-in's path that resolves outside the hand-in: a failed check, never a file read."""


class InspectorAPI(Protocol):
    """The read-only half of what a check sees (:class:`Inspector` is the real one)."""

    submission: Path | None
    inspected: dict  # what was inspected, for the teacher's evidence file

    def path(self, rel: str = ".") -> Path: ...
    def read(self, rel: str, cap: int = READ_CAP) -> bytes: ...
    def text(self, rel: str, cap: int = READ_CAP) -> str: ...
    def image(self, ref: str) -> dict: ...
    def image_history(self, ref: str) -> list[dict]: ...
    def save_image(self, ref: str): ...
    def container(self, name: str) -> dict: ...
    def containers(self, **filters) -> list[dict]: ...
    def network(self, name: str) -> dict: ...
    def volume(self, name: str) -> dict: ...
    def info(self) -> dict: ...
    def version(self) -> dict: ...
    def container_events(self, container_id: str, since: str | None = None,
                         kinds: tuple[str, ...] = ("oom", "kill")) -> dict[str, int]: ...
    def container_event_log(self, container_id: str, since: str | None = None,
                            kinds: tuple[str, ...] = ("create", "start", "update", "die")) -> list[dict]: ...
    def events(self, since: int = 0, **filters) -> list[dict]: ...
    def exec(self, name: str, cmd, user: str | None = None, timeout: float = 30) -> tuple[int, str]: ...
    def logs(self, name: str, tail: int = 200) -> str: ...
    def registry(self): ...


class Inspector:
    """The daemon's state and the hand-in's files, read through one docker-py client.

    ``registry`` says where the sandbox's own registry is (where learners push): a function asked at each use, or None; ``submission`` the hand-in's folder
    (None: the working directory, as a learner's own kernel checks its own files).
    """

    def __init__(self, client, *, submission: Path | None = None, registry: Callable[[], Any] | None = None):
        self.client = client
        self.submission = Path(submission) if submission else None
        self._registry = registry
        # every inspect answer the checks looked at, by what they asked for: the evidence a teacher reads later
        self.inspected: dict[str, dict] = {}

    # --- files of the submission ------------------------------------------------------
    def path(self, rel: str = ".") -> Path:
        """A file of the hand-in. The grader may run as root: a link that leads out of the hand-in (to
        /etc/shadow, say) is never followed, so no check reads or quotes a file the student could not."""
        base = (self.submission or Path.cwd()).resolve()
        full = (base / rel).resolve()
        if full != base and base not in full.parents:
            raise OutsideSubmission(f"{rel} leads outside the hand-in (to {full})",
                                    "hand in the file itself, not a link to a file elsewhere")
        return full

    def read(self, rel: str, cap: int = READ_CAP) -> bytes:
        """The bytes of one file of the hand-in, at most ``cap``; opened a folder at a time without following a
        link, so a name swapped for a link between a look and the read (the learner's kernel runs meanwhile) is
        refused, not followed. Raises FileNotFoundError, IsADirectoryError, :class:`OutsideSubmission`, or
        :class:`dockyard.safefs.FileTooLarge`."""
        from dockyard import safefs

        base = (self.submission or Path.cwd()).resolve()
        # a link that stays inside is the hand-in's own (Dockerfile -> docker/Dockerfile.prod): read what it names;
        # the read itself then follows no link, so one swapped in since is refused
        inside = self.path(rel).relative_to(base)
        try:
            return safefs.read_beneath(base, str(inside), cap)
        except safefs.OutsideTree as exc:
            raise OutsideSubmission(f"{rel} leads outside the hand-in ({exc.problem})",
                                    "hand in the file itself, not a link to a file elsewhere") from exc

    def text(self, rel: str, cap: int = READ_CAP) -> str:
        """:meth:`read`, decoded (undecodable bytes replaced)."""
        return self.read(rel, cap).decode(errors="replace")

    # --- inspect --------------------------------------------------------------------------
    def image(self, ref: str) -> dict:
        """``docker image inspect`` data for ``ref``, fresh each call."""
        # Never cached: between two test cells the learner may rebuild, retag, delete or pull the image.
        # An inspect is a few milliseconds.
        with docker_errors(f"inspecting image {ref}"):
            data = self.client.api.inspect_image(ref)
        self.inspected[f"image {ref}"] = data
        return data

    def image_history(self, ref: str) -> list[dict]:
        with docker_errors(f"reading the history of {ref}"):
            return self.client.api.history(self.image(ref)["Id"])

    def save_image(self, ref: str):
        """``docker save`` of one image, as a stream of bytes chunks: every layer, also what later layers delete."""
        image_id = self.image(ref)["Id"]
        with docker_errors(f"saving image {ref}"):
            return self.client.api.get_image(image_id, chunk_size=1 << 20)

    def container(self, name: str) -> dict:
        """``docker inspect`` data for a container, fresh each call."""
        with docker_errors(f"inspecting container {name}"):
            data = self.client.api.inspect_container(name)
        self.inspected[f"container {name}"] = data
        return data

    def containers(self, **filters) -> list[dict]:
        with docker_errors("listing containers"):
            return self.client.api.containers(all=True, filters=filters or None)

    def network(self, name: str) -> dict:
        """``docker network inspect``; a missing one is dockerd's 404 (:class:`ContainerNotFound`, whatever the
        object)."""
        with docker_errors(f"inspecting network {name}"):
            data = self.client.api.inspect_network(name)
        self.inspected[f"network {name}"] = data
        return data

    def volume(self, name: str) -> dict:
        with docker_errors(f"inspecting volume {name}"):
            data = self.client.api.inspect_volume(name)
        self.inspected[f"volume {name}"] = data
        return data

    def info(self) -> dict:
        with docker_errors("reading docker info"):
            return self.client.api.info()

    def version(self) -> dict:
        with docker_errors("reading docker version"):
            return self.client.api.version()

    # --- events -------------------------------------------------------------------------
    def container_events(self, container_id: str, since: str | None = None,
                         kinds: tuple[str, ...] = ("oom", "kill")) -> dict[str, int]:
        """How many events of each kind the daemon logged for a container (its in-memory event log).

        Docker 20.10 on cgroup v1 sometimes loses a container's OOMKilled flag, and under load even
        its ``oom`` event, when the container's exit is handled before the kernel's OOM notification.
        """
        counts = dict.fromkeys(kinds, 0)
        for ev in self.container_event_log(container_id, since, kinds):
            counts[ev["action"]] += 1
        return counts

    def container_event_log(self, container_id: str, since: str | None = None,
                            kinds: tuple[str, ...] = ("create", "start", "update", "die")) -> list[dict]:
        """The daemon's events for one container, oldest first: ``{"action", "time_ns"}`` each.

        The daemon keeps only its last 256 events in memory, so an old container's early events may be gone.
        """
        out = []
        with docker_errors("reading the daemon's events"):
            for ev in self.client.api.events(since=_epoch(since), until=int(time.time()) + 1, decode=True,
                                             filters={"container": container_id, "event": list(kinds)}):
                action = (ev.get("Action") or ev.get("status") or "").split(":")[0]
                if action in kinds:
                    out.append({"action": action, "time_ns": int(ev.get("timeNano") or ev.get("time", 0) * 10**9)})
        return sorted(out, key=lambda e: e["time_ns"])

    def events(self, since: int = 0, **filters) -> list[dict]:
        """The daemon's events (its last 256, kept in memory) that match ``filters``, oldest first."""
        with docker_errors("reading the daemon's events"):
            return list(self.client.api.events(since=since, until=int(time.time()) + 1, decode=True,
                                               filters=filters or None))

    # --- inside the learner's containers ---------------------------------------------------
    def exec(self, name: str, cmd: list[str] | str, user: str | None = None, timeout: float = 30) -> tuple[int, str]:
        """Run ``cmd`` inside a running container; (exit code, combined output: its first
        :data:`EXEC_OUTPUT_CAP` bytes). A command still running when its output is cut, or at the timeout,
        reports exit code -1."""
        with docker_errors(f"running {cmd!r} in {name}"):
            ex = self.client.api.exec_create(name, cmd, user=user or "", stdout=True, stderr=True)
            stream = self.client.api.exec_start(ex["Id"], stream=True)
            try:
                out = with_timeout(lambda: capped(stream, EXEC_OUTPUT_CAP), timeout, f"exec in {name}")
            finally:
                with contextlib.suppress(Exception):
                    stream.close()  # its connection: also ends a reader the timeout left waiting
            code = self.client.api.exec_inspect(ex["Id"])["ExitCode"]
            return (-1 if code is None else code), out.decode(errors="replace")

    def logs(self, name: str, tail: int = 200) -> str:
        """The last ``tail`` lines of a container's output, at most :data:`LOG_CAP` bytes of them."""
        with docker_errors(f"reading the logs of {name}"):
            stream = self.client.api.logs(name, tail=tail, stream=True, follow=False)
            return capped(stream, LOG_CAP).decode(errors="replace")

    def registry(self):
        """The sandbox's own registry (where learners push), or None: the existing backend has none."""
        reg = self._registry() if self._registry is not None else None
        return reg if reg is not None and reg.port else None


def capped(chunks, cap: int) -> bytes:
    """The first ``cap`` bytes of a stream of byte chunks (the rest is not read), with a note where it was cut."""
    buf = bytearray()
    try:
        for chunk in chunks:
            buf += chunk[: cap - len(buf)]
            if len(buf) >= cap:
                return bytes(buf) + f"\n[output cut at {cap // 1024} KiB]".encode()
    finally:
        with contextlib.suppress(Exception):
            chunks.close()  # the connection goes with it: nothing more is read from the daemon
    return bytes(buf)


def _epoch(since: str | None) -> int:
    """Seconds since the epoch for an inspect timestamp (a second early), 0 without one."""
    if not since:
        return 0
    with contextlib.suppress(ValueError):
        return int(datetime.datetime.fromisoformat(since[:19]).replace(tzinfo=datetime.timezone.utc).timestamp()) - 1
    return 0


def with_timeout(fn, timeout: float, what: str):
    """``fn()``, or a DockyardError when it has not returned within ``timeout`` seconds (its thread is left to end
    with its connection)."""
    box: dict[str, Any] = {}

    def target():
        try:
            box["value"] = fn()
        except Exception as exc:  # surfaced below
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise DockyardError(f"{what} did not finish within {timeout:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


__all__ = ["Inspector", "InspectorAPI", "OutsideSubmission", "capped", "with_timeout"]
