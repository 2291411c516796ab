"""What a check sees: the one thin layer between the grader and Docker.

Every Docker call a check makes goes through :class:`Context`. It translates
docker-py errors into Dockyard's own, inspects afresh at every call (a context
outlives many test cells, and the learner changes things between them; only the
images it built itself are kept, by the hand-in's files), and labels, limits and
tracks everything it creates, so :meth:`cleanup` (called
in ``finally`` by the runner, also on Ctrl-C or a crashing check) removes it all.
"""

from __future__ import annotations

import contextlib
import datetime
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator, Protocol

from dockyard.config import LABEL, parse_size
from dockyard.errors import (ContainerNotFound, DaemonError, DockerAPIError, DockyardError, ImageNotFound,
                             translate_docker_error)

from . import buildlog
from .checks.base import Failed, fail
from .errors import BuildError, BuildTimeout

GRADER_LABEL = "org.dockyard.grader"
BUILD_LOG_CAP = 200_000  # characters of build output kept per build



@contextlib.contextmanager
def docker_errors(doing: str) -> Iterator[None]:
    """The one place the Docker API's exceptions become the project's: ``ContainerNotFound``, ``ImageNotFound``,
    ``DaemonError``... with what was being done (:func:`dockyard.errors.translate_docker_error`). The project's
    own errors pass as they are."""
    try:
        yield
    except DockyardError:
        raise
    except Exception as exc:
        raise translate_docker_error(exc, doing) from exc


class CheckContext(Protocol):
    """What a check may use: the hand-in's files, fresh inspect data, the daemon's events, commands inside
    containers, and the things the grader makes itself (builds, throwaway runs, services), which it also
    removes. :class:`Context` is the real one; the unit tests' FakeContext answers from recorded data."""

    client: Any  # docker-py, for the daemon-wide checks (info, version)
    submission: Path | None
    run_id: str
    labels: dict[str, str]
    builds: dict
    failed_builds: dict
    inspected: dict  # what was inspected, for the teacher's evidence file

    def path(self, rel: str = ".") -> Path: ...
    def image(self, ref: str) -> dict: ...
    def image_history(self, ref: str) -> list[dict]: ...
    def save_image(self, ref: str): ...
    def container(self, name: str) -> dict: ...
    def containers(self, **filters) -> list[dict]: ...
    def container_events(self, container_id: str, since: str | None = None,
                         kinds: tuple[str, ...] = ("oom", "kill")) -> dict[str, int]: ...
    def container_event_log(self, container_id: str, since: str | None = None,
                            kinds: tuple[str, ...] = ("create", "start", "update", "die")) -> list[dict]: ...
    def events(self, since: int = 0, **filters) -> list[dict]: ...
    def exec(self, name: str, cmd, user: str | None = None, timeout: float = 30) -> tuple[int, str]: ...
    def logs(self, name: str, tail: int = 200) -> str: ...
    def registry(self): ...
    def build(self, context_dir: Path, dockerfile: str = "Dockerfile", tag: str | None = None,
              timeout: float | None = None) -> "BuildResult": ...
    def run(self, image: str, cmd=None, *, timeout: float = 30, user: str | None = None, entrypoint=None,
            network: bool = False) -> tuple[int, str]: ...
    def start_service(self, image: str, port: int, cmd=None) -> dict: ...
    def cleanup(self) -> None: ...


class OutsideSubmission(DockyardError):
    """A hand-in's path that resolves outside the hand-in: a failed check, never a file read."""

class Context:
    def __init__(self, client, *, submission: Path | None = None, lab_dir: Path | None = None,
                 sandbox=None, run_id: str | None = None, build_timeout: float = 120,
                 memory: str = "512m", cpus: float = 1.0, pids: int = 256, builder: str | None = None):
        self.client = client
        self.submission = Path(submission) if submission else None
        self.lab_dir = Path(lab_dir) if lab_dir else None
        self.sandbox = sandbox
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.build_timeout = build_timeout
        self.memory = parse_size(memory)
        self.cpus = cpus
        self.pids = pids
        self.builder_setting = builder  # buildkit | classic; None: $DOCKYARD_BUILDER, else buildkit where it can
        self._builder = None
        self.builds: dict[str, "BuildResult"] = {}
        self.failed_builds: dict[str, BuildError] = {}
        self._created_containers: list[str] = []
        self._created_images: list[str] = []
        # every inspect answer the checks looked at, by what they asked for: the evidence a teacher reads later
        self.inspected: dict[str, dict] = {}
        self.labels = {GRADER_LABEL: self.run_id, LABEL: getattr(sandbox, "name", "grader")}

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

    # --- inspect --------------------------------------------------------------------------
    def image(self, ref: str) -> dict:
        """``docker image inspect`` data for ``ref`` (a tag from a build step, or any local image), fresh each call."""
        if ref in self.failed_builds:
            raise Failed(fail(f"image {ref} was not built: {self.failed_builds[ref].problem}", reason="not_built",
                              hint="fix the build first: the build check above shows the failing step"))
        ref = self.builds[ref].image_id if ref in self.builds and self.builds[ref].image_id else ref
        # Never cached: a context lives as long as a notebook's kernel, and between two test cells the
        # learner may rebuild, retag, delete or pull the image. An inspect is a few milliseconds.
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
        start = 0
        if since:
            with contextlib.suppress(ValueError):
                start = int(datetime.datetime.fromisoformat(since[:19]).replace(
                    tzinfo=datetime.timezone.utc).timestamp()) - 1
        out = []
        with docker_errors("reading the daemon's events"):
            for ev in self.client.api.events(since=start, until=int(time.time()) + 1, decode=True,
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

    def containers(self, **filters) -> list[dict]:
        with docker_errors("listing containers"):
            return self.client.api.containers(all=True, filters=filters or None)

    def exec(self, name: str, cmd: list[str] | str, user: str | None = None, timeout: float = 30) -> tuple[int, str]:
        """Run ``cmd`` inside a running container; (exit code, combined output)."""
        with docker_errors(f"running {cmd!r} in {name}"):
            ex = self.client.api.exec_create(name, cmd, user=user or "", stdout=True, stderr=True)
            out = _with_timeout(lambda: self.client.api.exec_start(ex["Id"]), timeout, f"exec in {name}")
            code = self.client.api.exec_inspect(ex["Id"])["ExitCode"]
            return code, out.decode(errors="replace")

    def registry(self):
        """The sandbox's own registry (where learners push), or None: the existing backend has none."""
        reg = self.sandbox.registry if self.sandbox is not None and self.sandbox.backend == "private" else None
        return reg if reg is not None and reg.port else None

    def logs(self, name: str, tail: int = 200) -> str:
        with docker_errors(f"reading the logs of {name}"):
            return self.client.api.logs(name, tail=tail).decode(errors="replace")

    # --- things the grader creates ----------------------------------------------------
    def build(self, context_dir: Path, dockerfile: str = "Dockerfile", tag: str | None = None,
              timeout: float | None = None) -> "BuildResult":
        """Build under a wall-clock timeout, memory/CPU caps and no network; keep a capped log."""
        key = tag or f"{context_dir}:{dockerfile}"
        if key in self.builds:
            return self.builds[key]
        if key in self.failed_builds:
            raise self.failed_builds[key]
        try:
            return self._build(context_dir, dockerfile, key, tag, timeout)
        except BuildError as exc:
            self.failed_builds[key] = exc
            raise

    @property
    def builder(self):
        """How this context builds (:class:`dockyard.buildkit.Builder`): BuildKit through the sandbox's socket with
        the CLI that can use it through the seal, where the sandbox is a private one whose cgroup caps the build;
        else the classic builder through docker-py, whose ``container_limits`` cap it."""
        if self._builder is None:
            from dockyard import buildkit

            chosen = buildkit.choose(self.builder_setting)
            if chosen.buildkit and self._build_cgroup() is None:
                chosen = buildkit.Builder(False, None, "the classic builder: BuildKit's RUN steps are capped through "
                                                       "the sandbox's cgroup, and this daemon is not a private sandbox")
            self._builder = chosen
        return self._builder

    def _build_cgroup(self):
        cg = getattr(self.sandbox, "cgroup", None) if getattr(self.sandbox, "backend", None) == "private" else None
        return cg if cg is not None and cg.hierarchy.version and cg.exists() else None

    def _build(self, context_dir: Path, dockerfile: str, key: str, tag: str | None, timeout: float | None):
        timeout = timeout or self.build_timeout
        # The lab's name for the image stays the key; the real tag is the grader's own, so
        # grading never overwrites a learner's image of the same name.
        tag = f"dockyard-grade/{re.sub(r'[^a-z0-9._-]+', '-', (tag or 'build').lower())}:{self.run_id}"
        if self.builder.buildkit:
            return self._build_buildkit(context_dir, dockerfile, key, tag, timeout)
        return self._build_classic(context_dir, dockerfile, key, tag, timeout)

    def _build_buildkit(self, context_dir: Path, dockerfile: str, key: str, tag: str, timeout: float):
        """``docker build`` with BuildKit, as the learner's terminal runs it, with the classic path's caps: no network,
        the lab's memory for the RUN steps (all of them, through the sandbox's ``buildkit`` cgroup) and half the CPU
        weight, the same timeout (the CLI killed; the daemon cancels the build) and a capped log."""
        from dockyard import buildkit

        frontend = _syntax_directive(Path(context_dir) / dockerfile)
        if frontend:
            # a frontend is an image that BuildKit runs with the build's session: the grader's, which reads the
            # hand-in as root. Dockerfile's own frontend is built in; an image of the hand-in's choosing is not used
            raise BuildError(f"the Dockerfile asks for the BuildKit frontend {frontend!r} (# syntax=...); graded "
                             "builds use the built-in Dockerfile frontend only",
                             step="# syntax=" + frontend, output="remove the # syntax= line: this daemon's built-in "
                             "frontend knows RUN --mount (cache, secret, bind) already, and the sandbox is offline")
        cg = self._build_cgroup()
        before = cg.cap_builds(self.memory, cpu_shares=512)
        try:
            run = buildkit.run_build(self.builder.cli, self.sandbox.docker_host, context_dir, dockerfile=dockerfile,
                                     tag=tag, labels=self.labels, timeout=timeout, log_cap=BUILD_LOG_CAP)
        finally:
            cg.cap_builds(before["memory"], before["cpu_shares"])
        text = run.text
        if run.timed_out:
            raise BuildTimeout(f"the build did not finish within {timeout:.0f} s", step=buildlog.last_step(text),
                               output=buildlog.since_step(text), log=text)
        if run.returncode != 0:
            problem = buildlog.error(text)
            if not buildlog.is_buildkit(text) and "Cannot connect to the Docker daemon" in text:
                raise DaemonError(f"building {context_dir}: the Docker daemon does not answer ({problem}).",
                                  "check it with: dockyard status; dockyard up restarts the private sandbox")
            if not buildlog.is_buildkit(text) and "Error response from daemon" in text:
                raise DockerAPIError(f"building {context_dir}: {problem.split('Error response from daemon: ')[-1]}")
            step = buildlog.last_step(text)
            raise BuildError(f"the build failed at {step or 'the start'}: {problem}", step=step,
                             output=buildlog.since_step(text), log=text)
        self._created_images.append(tag)
        result = BuildResult(tag=tag, image_id=run.image_id or self.image(tag)["Id"], log=text, seconds=run.seconds,
                             cached_steps=buildlog.cached_steps(text))
        self.builds[key] = result
        return result

    def _build_classic(self, context_dir: Path, dockerfile: str, key: str, tag: str, timeout: float):
        log: list[str] = []
        size = 0
        image_id = None
        error = None
        t0 = time.monotonic()
        stream = None
        try:
            # timeout= here, for this request alone: docker-py's build() otherwise passes timeout=None
            stream = self.client.api.build(path=str(context_dir), dockerfile=dockerfile, tag=tag, rm=True, forcerm=True,
                               timeout=timeout,
                               network_mode="none", labels=self.labels, decode=True, pull=False,
                               container_limits={"memory": self.memory, "memswap": self.memory,
                                                 "cpushares": 512})
            for chunk in stream:
                text = chunk.get("stream") or chunk.get("status") or ""
                if text and size < BUILD_LOG_CAP:
                    log.append(text)
                    size += len(text)
                if "aux" in chunk and "ID" in chunk["aux"]:
                    image_id = chunk["aux"]["ID"]
                if "error" in chunk:
                    error = (chunk.get("errorDetail") or {}).get("message") or chunk["error"]
                if time.monotonic() - t0 > timeout:
                    raise BuildTimeout(f"the build did not finish within {timeout:.0f} s",
                                       step=_last_step(log), output=_since_step(log), log="".join(log))
        except BuildError:
            raise
        except Exception as exc:
            if _is_timeout(exc):
                raise BuildTimeout(f"the build did not finish within {timeout:.0f} s (no output for that long)",
                                   step=_last_step(log), output=_since_step(log), log="".join(log)) from exc
            raise translate_docker_error(exc, f"building {context_dir}") from exc
        finally:
            if stream is not None:
                stream.close()  # an abandoned stream drops the connection: dockerd then cancels the build
        if error:
            raise BuildError(f"the build failed at {_last_step(log) or 'the start'}: {error.strip()}",
                             step=_last_step(log), output=_since_step(log) + error, log="".join(log))
        self._created_images.append(tag)
        result = BuildResult(tag=tag, image_id=image_id or self.image(tag)["Id"], log="".join(log),
                             seconds=time.monotonic() - t0, cached_steps=buildlog.cached_steps("".join(log), log))
        self.builds[key] = result
        return result

    def run(self, image: str, cmd: list[str] | str | None = None, *, timeout: float = 30, user: str | None = None,
            entrypoint: list[str] | str | None = None, network: bool = False) -> tuple[int, str]:
        """Run a throwaway container to completion: labeled, capped, no network, removed afterwards."""
        image = self.builds[image].image_id if image in self.builds else image
        c = None
        try:
            with docker_errors(f"running {image}"):
                c = self.client.containers.create(
                    image, cmd, user=user, entrypoint=entrypoint, labels=self.labels, mem_limit=self.memory,
                    memswap_limit=self.memory, pids_limit=self.pids, nano_cpus=int(self.cpus * 1e9),
                    network_mode="bridge" if network else "none")
                self._created_containers.append(c.id)
                c.start()
                try:
                    status = c.wait(timeout=timeout)["StatusCode"]
                except Exception as exc:
                    if _is_timeout(exc):
                        c.kill()
                        return 124, c.logs().decode(errors="replace") + f"\n[killed after {timeout:.0f} s]"
                    raise
                return status, c.logs().decode(errors="replace")
        finally:
            if c is not None:
                self._remove_container(c.id)

    def start_service(self, image: str, port: int, cmd=None) -> dict:
        """Start a container from ``image`` with ``port`` published on 127.0.0.1; returns its inspect data."""
        image = self.builds[image].image_id if image in self.builds else image
        with docker_errors(f"starting {image}"):
            self.image(image)  # a missing image is the learner's fault to report, never a pull
            c = self.client.containers.run(
                image, cmd, detach=True, labels=self.labels, mem_limit=self.memory, memswap_limit=self.memory,
                pids_limit=self.pids, nano_cpus=int(self.cpus * 1e9), ports={f"{port}/tcp": ("127.0.0.1", None)})
            self._created_containers.append(c.id)
            return self.container(c.id)

    def cleanup(self) -> None:
        """Remove every container and image this context created (also ones a crash left behind)."""
        for cid in list(self._created_containers):
            self._remove_container(cid)
        with contextlib.suppress(Exception):
            for c in self.client.api.containers(all=True, filters={"label": f"{GRADER_LABEL}={self.run_id}"}):
                self._remove_container(c["Id"])
        for tag in self._created_images:
            with contextlib.suppress(Exception):
                # noprune keeps the intermediate layers: the next grading of the same
                # Dockerfile builds from cache
                self.client.api.remove_image(tag, force=True, noprune=True)
        self._created_images.clear()

    def _remove_container(self, cid: str) -> None:
        with contextlib.suppress(Exception):
            self.client.api.remove_container(cid, force=True, v=True)
        if cid in self._created_containers:
            self._created_containers.remove(cid)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()


class BuildResult:
    def __init__(self, tag: str, image_id: str, log: str, seconds: float, cached_steps: int):
        self.tag, self.image_id, self.log, self.seconds, self.cached_steps = tag, image_id, log, seconds, cached_steps

    def __repr__(self):
        return f"BuildResult({self.tag!r}, {self.image_id[:19]}, {self.seconds:.1f} s)"


def _syntax_directive(dockerfile: Path) -> str | None:
    """The image a ``# syntax=`` parser directive names (only before the first instruction or comment), or None."""
    try:
        with open(dockerfile, "rb") as fh:
            head = fh.read(4096).decode(errors="replace")
    except OSError:
        return None
    for line in head.splitlines():
        m = re.match(r"^\s*#\s*syntax\s*=\s*(\S+)", line, re.I)
        if m:
            return m.group(1)
        if line.strip() and not re.match(r"^\s*#\s*\w+\s*=", line):
            return None  # directives come first; after anything else a # line is a comment
    return None


def _is_timeout(exc: Exception) -> bool:
    """A read that waited longer than the client's timeout, however requests/urllib3 wrap it."""
    import requests
    import urllib3

    seen = exc
    while seen is not None:
        if isinstance(seen, (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)):
            return True
        if "timed out" in str(seen).lower() and isinstance(seen, requests.exceptions.ConnectionError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _with_timeout(fn, timeout: float, what: str):
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


def _last_step(log: list[str]) -> str | None:
    return buildlog.last_step("".join(log))


def _since_step(log: list[str], limit: int = 4000) -> str:
    return buildlog.since_step("".join(log), limit)


__all__ = ["Context", "BuildResult", "ImageNotFound", "ContainerNotFound"]
