"""Dockyard's own exceptions.

Every error a learner or teacher can hit carries a ``fix``: the command or the
step that gets them going again. Docker errors are translated into these in one
place (:func:`translate_docker_error`), so callers never see a raw
``docker.errors.APIError``.
"""

from __future__ import annotations

import contextlib
from typing import Iterator


class DockyardError(Exception):
    """Base class. ``str()`` gives the problem and, on its own line, the fix."""

    def __init__(self, problem: str, fix: str | None = None, *, context: dict | None = None):
        self.problem = problem
        self.fix = fix
        self.context = context or {}
        super().__init__(self._text())

    def _text(self) -> str:
        return self.problem if not self.fix else f"{self.problem}\n  → {self.fix}"


class ConfigError(DockyardError):
    """A setting or a name that cannot be used."""


class MissingDependency(DockyardError):
    """A program the sandbox needs is not installed."""

    def __init__(self, program: str, package: str):
        super().__init__(
            f"{program} is not installed; the private sandbox needs it.",
            f"install it with: apt-get install -y {package}"
            f"   (or run dockyard/bootstrap.sh, which installs everything)",
            context={"program": program, "package": package},
        )


class NotRoot(DockyardError):
    def __init__(self, what: str):
        super().__init__(
            f"{what} needs root: a private dockerd creates a bridge, cgroups and mounts.",
            "run it as root (sudo dockyard up), or use a Docker you already have: "
            "export DOCKER_HOST=... and pass --backend existing",
        )


class ResourceInUse(DockyardError):
    """A port, bridge or subnet is taken by something Dockyard did not create."""


class CgroupError(DockyardError):
    pass


class DaemonError(DockyardError):
    """dockerd (or the registry) would not start, or stopped answering."""

    def __init__(self, problem: str, fix: str | None = None, *, log_tail: str = "", context=None):
        self.log_tail = log_tail
        if log_tail:
            problem = f"{problem}\n--- last lines of the log ---\n{log_tail}"
        super().__init__(problem, fix, context=context)


class NotRunning(DockyardError):
    def __init__(self, name: str):
        super().__init__(f"sandbox {name!r} is not running.", f"start it with: dockyard up --name {name}")


class SeedError(DockyardError):
    """A base image could not be built from Debian packages."""


class DockerAPIError(DockyardError):
    """A Docker API call failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, problem: str, fix: str | None = None, *, status: int | None = None, context=None):
        self.status = status
        super().__init__(problem, fix, context=context)


class ImageNotFound(DockerAPIError):
    pass


class ContainerNotFound(DockerAPIError):
    pass


def translate_docker_error(exc: Exception, doing: str) -> DockyardError:
    """Map a docker-py / requests exception to a Dockyard error with a fix."""
    import docker.errors
    import requests.exceptions

    if isinstance(exc, DockyardError):
        return exc
    # docker-py's version negotiation wraps a refused connection in a plain DockerException
    if isinstance(exc, docker.errors.DockerException) and isinstance(exc.__cause__, requests.exceptions.ConnectionError):
        exc = exc.__cause__
    if isinstance(exc, requests.exceptions.ConnectionError):
        return DaemonError(
            f"{doing}: the Docker daemon does not answer ({exc.__class__.__name__}).",
            "check it with: dockyard status; dockyard up restarts the private sandbox "
            "(with --backend existing: start that daemon, or unset DOCKER_HOST)",
        )
    if isinstance(exc, docker.errors.ImageNotFound):
        from .seed import seeded_names

        return ImageNotFound(
            f"{doing}: image not found ({exc.explanation or exc}).",
            f"list the images this sandbox holds with: docker image ls (base images: {seeded_names()})",
            status=404,
        )
    if isinstance(exc, docker.errors.NotFound):
        return ContainerNotFound(
            f"{doing}: not found ({exc.explanation or exc}).",
            "list what exists with: docker ps -a",
            status=404,
        )
    if isinstance(exc, docker.errors.APIError):
        return DockerAPIError(
            f"{doing}: {exc.explanation or exc}",
            status=getattr(exc, "status_code", None),
        )
    if isinstance(exc, docker.errors.DockerException):
        return DockerAPIError(f"{doing}: {exc}")
    return DockyardError(f"{doing}: {exc.__class__.__name__}: {exc}")


@contextlib.contextmanager
def docker_errors(doing: str) -> Iterator[None]:
    """The one place the Docker API's exceptions become the project's: ``ContainerNotFound``, ``ImageNotFound``,
    ``DaemonError``... with what was being done (:func:`translate_docker_error`). The project's own errors pass
    as they are."""
    try:
        yield
    except DockyardError:
        raise
    except Exception as exc:
        raise translate_docker_error(exc, doing) from exc
