"""What the grader makes itself to grade: builds, throwaway runs, services and probe images, all of them labeled,
capped and tracked, so :meth:`Workbench.cleanup` (called in ``finally`` by the runner, also on Ctrl-C or a crashing
check) removes them. It also does the one thing a check does to a learner's own objects: a restart, to see what
survives one.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Protocol

from dockyard.config import LABEL, parse_size
from dockyard.errors import DaemonError, DockerAPIError, DockyardError, docker_errors, translate_docker_error

from . import buildlog
from .errors import BuildError, BuildTimeout
from .inspector import HAND_IN_CAPS, LOG_CAP, Inspector, capped

GRADER_LABEL = "org.dockyard.grader"
BUILD_LOG_CAP = 200_000  # characters of build output kept per build


class WorkbenchAPI(Protocol):
    """The half of what a check sees that makes things (:class:`Workbench` is the real one)."""

    run_id: str
    labels: dict[str, str]
    builds: dict
    failed_builds: dict

    def build(self, context_dir: Path, dockerfile: str = "Dockerfile", tag: str | None = None,
              timeout: float | None = None) -> "BuildResult": ...
    def run(self, image: str, cmd=None, *, timeout: float = 30, user: str | None = None, entrypoint=None,
            network: bool = False, network_mode: str | None = None, environment: dict | None = None
            ) -> tuple[int, str]: ...
    def start_service(self, image: str, port: int, cmd=None) -> dict: ...
    def imported(self, name: str, rootfs: Callable[[], bytes]) -> str: ...
    def restart(self, container: str, timeout: int = 5) -> None: ...
    def cleanup(self) -> None: ...


class Workbench:
    """Builds and containers of the grader's own on one daemon, capped by the lab's limits (``memory``, ``cpus``,
    ``pids``; builds also by ``build_timeout`` and no network). ``sandbox`` is the private sandbox whose socket and
    cgroup BuildKit builds use, or None. ``inspector`` is where what it made is inspected (and kept as evidence)."""

    def __init__(self, client, inspector: Inspector, *, sandbox=None, run_id: str, build_timeout: float = 120,
                 memory: str | int = "512m", cpus: float = 1.0, pids: int = 256, builder: str | None = None):
        self.client = client
        self.inspector = inspector
        self.sandbox = sandbox
        self.run_id = run_id
        self.build_timeout = build_timeout
        self.memory = parse_size(memory) if isinstance(memory, str) else memory
        self.cpus = cpus
        self.pids = pids
        self.builder_setting = builder  # buildkit | classic; None: $DOCKYARD_BUILDER, else buildkit where it can
        self._builder = None
        self.builds: dict[str, "BuildResult"] = {}
        self.failed_builds: dict[str, BuildError] = {}
        self._created_containers: list[str] = []
        self._created_images: list[str] = []
        self._imported: dict[str, str] = {}
        self.labels = {GRADER_LABEL: run_id, LABEL: getattr(sandbox, "name", "grader")}

    def built(self, ref: str) -> str:
        """The image ID the grader built under the lab's name ``ref``, else ``ref`` itself."""
        result = self.builds.get(ref)
        return result.image_id if result is not None and result.image_id else ref

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
        build = self._build_buildkit if self.builder.buildkit else self._build_classic
        # The builder (BuildKit's CLI, docker-py's tar) runs as the grader and opens the context's files by name, so
        # a name the learner's kernel swaps for a link meanwhile would be followed: it reads a private copy instead,
        # made without following links (the layer cache compares contents, so the copy costs no cache hit)
        with private_copy(context_dir) as copy:
            return build(copy, dockerfile, key, tag, timeout, shown=context_dir)

    def _build_buildkit(self, context_dir: Path, dockerfile: str, key: str, tag: str, timeout: float, *,
                        shown: Path | None = None):
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
        with self._build_cgroup().builds_capped(self.memory, cpu_shares=512):
            run = buildkit.run_build(self.builder.cli, self.sandbox.docker_host, context_dir, dockerfile=dockerfile,
                                     tag=tag, labels=self.labels, timeout=timeout, log_cap=BUILD_LOG_CAP)
        text = run.text
        if run.timed_out:
            raise BuildTimeout(f"the build did not finish within {timeout:.0f} s", step=buildlog.last_step(text),
                               output=buildlog.since_step(text), log=text)
        if run.returncode != 0:
            problem = buildlog.error(text)
            if not buildlog.is_buildkit(text) and "Cannot connect to the Docker daemon" in text:
                raise DaemonError(f"building {shown or context_dir}: the Docker daemon does not answer ({problem}).",
                                  "check it with: dockyard status; dockyard up restarts the private sandbox")
            if not buildlog.is_buildkit(text) and "Error response from daemon" in text:
                raise DockerAPIError(f"building {shown or context_dir}: {problem.split('Error response from daemon: ')[-1]}")
            step = buildlog.last_step(text)
            raise BuildError(f"the build failed at {step or 'the start'}: {problem}", step=step,
                             output=buildlog.since_step(text), log=text)
        self._created_images.append(tag)
        result = BuildResult(tag=tag, image_id=run.image_id or self.inspector.image(tag)["Id"], log=text, seconds=run.seconds,
                             cached_steps=buildlog.cached_steps(text))
        self.builds[key] = result
        return result

    def _build_classic(self, context_dir: Path, dockerfile: str, key: str, tag: str, timeout: float, *,
                       shown: Path | None = None):
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
            raise translate_docker_error(exc, f"building {shown or context_dir}") from exc
        finally:
            if stream is not None:
                stream.close()  # an abandoned stream drops the connection: dockerd then cancels the build
        if error:
            raise BuildError(f"the build failed at {_last_step(log) or 'the start'}: {error.strip()}",
                             step=_last_step(log), output=_since_step(log) + error, log="".join(log))
        self._created_images.append(tag)
        result = BuildResult(tag=tag, image_id=image_id or self.inspector.image(tag)["Id"], log="".join(log),
                             seconds=time.monotonic() - t0, cached_steps=buildlog.cached_steps("".join(log), log))
        self.builds[key] = result
        return result

    def run(self, image: str, cmd: list[str] | str | None = None, *, timeout: float = 30, user: str | None = None,
            entrypoint: list[str] | str | None = None, network: bool = False, network_mode: str | None = None,
            environment: dict | None = None) -> tuple[int, str]:
        """Run a throwaway container to completion: labeled, capped, removed afterwards; (exit code, the first
        :data:`~grader.inspector.LOG_CAP` bytes of its output). No network unless ``network`` (the default bridge)
        or ``network_mode`` (a network's name, ``container:ID``) says so. Killed at ``timeout``: exit code 124."""
        image = self.built(image)
        c = None
        try:
            with docker_errors(f"running {image}"):
                c = self.client.containers.create(
                    image, cmd, user=user, entrypoint=entrypoint, labels=self.labels, environment=environment,
                    network_mode=network_mode or ("bridge" if network else "none"), **self._caps())
                self._created_containers.append(c.id)
                c.start()
                status, note = self._wait(c, timeout)
                return status, capped(c.logs(stream=True, follow=False), LOG_CAP).decode(errors="replace") + note
        finally:
            if c is not None:
                self._remove_container(c.id)

    def _caps(self) -> dict:
        return dict(mem_limit=self.memory, memswap_limit=self.memory, pids_limit=self.pids,
                    nano_cpus=int(self.cpus * 1e9))

    @staticmethod
    def _wait(c, timeout: float) -> tuple[int, str]:
        """(exit code, a note for the output): the container's own, or 124 when it was killed at the timeout."""
        try:
            return c.wait(timeout=timeout)["StatusCode"], ""
        except Exception as exc:
            if not _is_timeout(exc):
                raise
        c.kill()
        return 124, f"\n[killed after {timeout:.0f} s]"

    def imported(self, name: str, rootfs: Callable[[], bytes]) -> str:
        """The ID of an image of the grader's own made from a root file system tar (``rootfs()``, called only when
        it is not there yet): imported once per workbench, again if the learner removed it meanwhile, labeled and
        removed by :meth:`cleanup`."""
        image_id = self._imported.get(name)
        if image_id:
            with contextlib.suppress(DockyardError):
                self.inspector.image(image_id)
                return image_id
        labels = " ".join(f'{k}="{v}"' for k, v in self.labels.items())
        with docker_errors(f"importing the grader's {name} image"):
            answer = self.client.api.import_image_from_data(rootfs(), changes=[f"LABEL {labels}"])
        found = re.search(r"sha256:[0-9a-f]{64}", answer if isinstance(answer, str) else str(answer))
        if not found:
            raise DockyardError(f"the daemon did not say which image it imported: {str(answer)[:200]}")
        self._imported[name] = found.group(0)
        self._created_images.append(found.group(0))
        return found.group(0)

    def restart(self, container: str, timeout: int = 5) -> None:
        """Restart one of the learner's containers (to see what survives a restart)."""
        with docker_errors(f"restarting {container}"):
            self.client.api.restart(container, timeout=timeout)

    def start_service(self, image: str, port: int, cmd=None) -> dict:
        """Start a container from ``image`` with ``port`` published on 127.0.0.1; returns its inspect data."""
        image = self.built(image)
        with docker_errors(f"starting {image}"):
            self.inspector.image(image)  # a missing image is the learner's fault to report, never a pull
            c = self.client.containers.run(
                image, cmd, detach=True, labels=self.labels, ports={f"{port}/tcp": ("127.0.0.1", None)}, **self._caps())
            self._created_containers.append(c.id)
            return self.inspector.container(c.id)

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


@contextlib.contextmanager
def private_copy(folder: Path):
    """A copy of ``folder`` in a temporary folder only the grader can read (:func:`dockyard.safefs.copy_tree`:
    no link followed, within :data:`~grader.inspector.HAND_IN_CAPS`), removed afterwards."""
    from dockyard.safefs import copy_tree

    tmp = Path(tempfile.mkdtemp(prefix="dockyard-build-"))
    try:
        copy_tree(Path(folder), tmp, **HAND_IN_CAPS)
        os.chmod(tmp, 0o700)  # the copy takes the folder's mode; it stays the grader's alone
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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


def _last_step(log: list[str]) -> str | None:
    return buildlog.last_step("".join(log))


def _since_step(log: list[str], limit: int = 4000) -> str:
    return buildlog.since_step("".join(log), limit)


__all__ = ["Workbench", "WorkbenchAPI", "BuildResult", "GRADER_LABEL"]
