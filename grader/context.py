"""What a check sees: the one thin layer between the grader and Docker.

A :class:`Context` is two parts with one job each, and the names a lab gives what it builds:

- an :class:`~grader.inspector.Inspector`, the read-only part: the hand-in's files and fresh inspect data, events,
  logs, commands inside the learner's containers (it knows nothing of grading);
- a :class:`~grader.workbench.Workbench`, the part that makes things: builds, throwaway runs, services and probe
  images, labeled, capped and tracked, so :meth:`cleanup` (called in ``finally`` by the runner, also on Ctrl-C or a
  crashing check) removes them all.

Checks are written against :class:`CheckContext`, the two halves' Protocols together: the unit tests' FakeContext
answers it from recorded data. The one grading outcome raised here is a lab's image that its build step failed
to build: the checks on that image fail with the build's reason rather than a "no such image".
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Protocol

from dockyard.errors import ContainerNotFound, ImageNotFound, docker_errors

from .checks.base import Failed, fail
from .inspector import READ_CAP, Inspector, InspectorAPI, OutsideSubmission
from .workbench import BUILD_LOG_CAP, GRADER_LABEL, BuildResult, Workbench, WorkbenchAPI


class CheckContext(InspectorAPI, WorkbenchAPI, Protocol):
    """What a check may use: :class:`~grader.inspector.InspectorAPI` to look and
    :class:`~grader.workbench.WorkbenchAPI` to make. :class:`Context` is the real one."""


class Context:
    """An inspector and a workbench on one client, for one hand-in (``submission``) of one lab (``lab_dir``)."""

    def __init__(self, client, *, submission: Path | None = None, lab_dir: Path | None = None,
                 sandbox=None, run_id: str | None = None, build_timeout: float = 120,
                 memory: str = "512m", cpus: float = 1.0, pids: int = 256, builder: str | None = None):
        self.client = client
        self.lab_dir = Path(lab_dir) if lab_dir else None
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.inspector = Inspector(client, submission=submission, registry=_own_registry(sandbox))
        self.workbench = Workbench(client, self.inspector, sandbox=sandbox, run_id=self.run_id,
                                   build_timeout=build_timeout, memory=memory, cpus=cpus, pids=pids, builder=builder)

    # --- what both halves share -----------------------------------------------------------
    @property
    def submission(self) -> Path | None:
        return self.inspector.submission

    @property
    def inspected(self) -> dict:
        return self.inspector.inspected

    @property
    def labels(self) -> dict[str, str]:
        return self.workbench.labels

    @property
    def builds(self) -> dict:
        return self.workbench.builds

    @property
    def failed_builds(self) -> dict:
        return self.workbench.failed_builds

    @property
    def builder(self):
        return self.workbench.builder

    # --- looking --------------------------------------------------------------------------
    def image(self, ref: str) -> dict:
        """``docker image inspect`` data for ``ref``: a lab's name for an image its build step made, or any local
        image; fresh each call."""
        failed = self.workbench.failed_builds.get(ref)
        if failed is not None:
            raise Failed(fail(f"image {ref} was not built: {failed.problem}", reason="not_built",
                              hint="fix the build first: the build check above shows the failing step"))
        return self.inspector.image(self.workbench.built(ref))

    def image_history(self, ref: str) -> list[dict]:
        return self.inspector.image_history(self.image(ref)["Id"])

    def save_image(self, ref: str):
        return self.inspector.save_image(self.image(ref)["Id"])

    def path(self, rel: str = ".") -> Path:
        return self.inspector.path(rel)

    def read(self, rel: str, cap: int = READ_CAP) -> bytes:
        return self.inspector.read(rel, cap)

    def text(self, rel: str, cap: int = READ_CAP) -> str:
        return self.inspector.text(rel, cap)

    def container(self, name: str) -> dict:
        return self.inspector.container(name)

    def containers(self, **filters) -> list[dict]:
        return self.inspector.containers(**filters)

    def network(self, name: str) -> dict:
        return self.inspector.network(name)

    def volume(self, name: str) -> dict:
        return self.inspector.volume(name)

    def info(self) -> dict:
        return self.inspector.info()

    def version(self) -> dict:
        return self.inspector.version()

    def container_events(self, container_id: str, since: str | None = None, kinds=("oom", "kill")) -> dict[str, int]:
        return self.inspector.container_events(container_id, since, kinds)

    def container_event_log(self, container_id: str, since: str | None = None,
                            kinds=("create", "start", "update", "die")) -> list[dict]:
        return self.inspector.container_event_log(container_id, since, kinds)

    def events(self, since: int = 0, **filters) -> list[dict]:
        return self.inspector.events(since, **filters)

    def exec(self, name: str, cmd, user: str | None = None, timeout: float = 30) -> tuple[int, str]:
        return self.inspector.exec(name, cmd, user, timeout)

    def logs(self, name: str, tail: int = 200) -> str:
        return self.inspector.logs(name, tail)

    def registry(self):
        return self.inspector.registry()

    # --- making -----------------------------------------------------------------------------

    def build(self, context_dir: Path, dockerfile: str = "Dockerfile", tag: str | None = None,
              timeout: float | None = None) -> BuildResult:
        return self.workbench.build(context_dir, dockerfile, tag, timeout)

    def run(self, image: str, cmd=None, **options) -> tuple[int, str]:
        return self.workbench.run(image, cmd, **options)

    def start_service(self, image: str, port: int, cmd=None) -> dict:
        return self.workbench.start_service(image, port, cmd)

    def imported(self, name: str, rootfs) -> str:
        return self.workbench.imported(name, rootfs)

    def restart(self, container: str, timeout: int = 5) -> None:
        return self.workbench.restart(container, timeout)

    def cleanup(self) -> None:
        return self.workbench.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.workbench.cleanup()



def _own_registry(sandbox):
    """How to find the private sandbox's registry (where learners push), asked at each use: a restart moves it.
    The existing backend has none."""
    if getattr(sandbox, "backend", None) != "private":
        return None
    return lambda: sandbox.registry


__all__ = ["Context", "CheckContext", "BuildResult", "ImageNotFound", "ContainerNotFound", "OutsideSubmission",
           "GRADER_LABEL", "BUILD_LOG_CAP", "docker_errors"]
