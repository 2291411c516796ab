"""A learner kernel's side of the check service's socket: one JSON request, one JSON answer.

Under ``dockyard lab`` the root process serves a unix socket named by ``$DOCKYARD_CHECKS``
(:class:`grader.service.CheckService`): it runs the learner's checks, and reads for the kernel what an
unprivileged process may not (another user's ``/proc/<pid>/ns``, for this sandbox's containers only).
This module is only the client, so that the sandbox's notebook helpers can ask it as the grader does."""

from __future__ import annotations

import json
import os
import socket

from .errors import DockyardError

ENV = "DOCKYARD_CHECKS"


class ServiceError(DockyardError):
    """The service did not answer, or refused; ``problem`` and ``fix`` say why."""


def available() -> bool:
    """Is this kernel one whose checks the grader's process runs (a learner's, under `dockyard lab`)?"""
    return bool(os.environ.get(ENV))


def ask(req: dict, timeout: float) -> dict:
    path = os.environ[ENV]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(path)
        except OSError as exc:
            raise ServiceError(f"the check service at {path} does not answer ({exc.strerror})",
                               "restart dockyard lab: it runs the checks") from None
        s.sendall((json.dumps(req) + "\n").encode())
        with s.makefile("rb") as fh:
            line = fh.readline()
    if not line:
        raise ServiceError("the check service closed the connection without an answer",
                           "see the terminal that runs dockyard lab")
    answer = json.loads(line)
    if "error" in answer:
        raise ServiceError(answer["error"], answer.get("hint") or "")
    return answer


def namespaces(pid: int, timeout: float = 30) -> dict[str, str]:
    """The namespace identities of a process of this learner's sandbox, read by the service's (root) process."""
    return ask({"op": "namespaces", "pid": int(pid)}, timeout)["namespaces"]
