"""Which Compose this machine has: the v2 plugin (``docker compose``) or the v1 program (``docker-compose``).

Both read the same Compose Specification file; lesson cells write ``sh(f"{COMPOSE} up -d")`` and run
with whichever is installed. Debian 12 packages v1 (``docker-compose`` 1.29, Python); Debian 13 and
Ubuntu package v2 (Debian 13's ``docker-compose``, Ubuntu's ``docker-compose-v2``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ..errors import DockyardError


def find(path: str | None = None) -> str:
    """``"docker compose"`` when the docker CLI has the v2 plugin, else ``"docker-compose"``; raises if neither.

    ``path`` is the search path (default: $PATH)."""
    path = os.environ.get("PATH", os.defpath) if path is None else path
    docker = shutil.which("docker", path=path)
    if docker:
        try:
            answer = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=20,
                                    env={**os.environ, "PATH": path})
        except (OSError, subprocess.TimeoutExpired):
            answer = None
        if answer is not None and answer.returncode == 0 and "version" in answer.stdout.lower():
            return "docker compose"
    if shutil.which("docker-compose", path=path):
        return "docker-compose"
    raise DockyardError("neither `docker compose` (Compose v2) nor `docker-compose` (v1) is installed",
                        "install Debian's docker-compose package (apt-get install docker-compose), "
                        "or Ubuntu's docker-compose-v2")


def container_name(project: str, service: str, command: str, index: int = 1) -> str:
    """The name Compose gives a service's container: ``proj_web_1`` (v1) or ``proj-web-1`` (v2)."""
    sep = "-" if command == "docker compose" else "_"
    return sep.join((project, service, str(index)))


# lesson 10 runs lab 10's app: one copy, in the lab's starter, which the lesson copies into its own folder
STARTER = Path(__file__).resolve().parents[2] / "labs" / "10-compose" / "starter"
APP_FILES = ("db/Dockerfile", "db/db.py", "web/Dockerfile", "web/web.py")


def _holds_app(folder: Path) -> bool:
    try:
        return all((folder / rel).is_file() for rel in APP_FILES)
    except OSError:  # a folder hidden from the learner
        return False


def app_source(work: Path) -> Path:
    """Where lab 10's app is read from: the checkout's ``labs/10-compose/starter/``, or, where the labs are hidden
    from the learner (`dockyard lab` run by root), the learner's own copy of the lab, ``work/labs/10-compose/``."""
    for folder in (STARTER, work / "labs" / "10-compose"):
        if _holds_app(folder):
            return folder
    raise DockyardError(f"lab 10's app (countdb in db/, web in web/) is neither in {STARTER} "
                        f"nor in {work / 'labs' / '10-compose'}",
                        "restart dockyard lab: it copies each lab's starter files into your work folder")


def copy_app(dest: Path, work: Path | None = None) -> list[str]:
    """Copy lab 10's countdb (``db/``) and web (``web/``) into ``dest``, keeping any file already there (a learner's
    edit); returns what was copied. ``work`` is the learner's work folder (default: the current folder)."""
    source = app_source(Path.cwd() if work is None else work)
    copied = []
    for rel in APP_FILES:
        target = dest / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / rel, target)
            copied.append(rel)
    return copied


try:
    COMPOSE = find()
except DockyardError:  # the lesson's first compose command then says what is missing
    COMPOSE = "docker-compose"


def get(url: str, wait: float = 20.0) -> tuple[int | None, str]:
    """GET ``url`` (127.0.0.1 only, never through a proxy), retrying while nothing answers or it answers 503
    (Service Unavailable: starting), until ``wait`` seconds are over; (status, body)."""
    import time
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit

    if urlsplit(url).hostname != "127.0.0.1":
        raise DockyardError(f"{url} is not on 127.0.0.1", "lessons probe only ports published on the loopback")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + wait
    while True:
        try:
            with opener.open(url, timeout=3) as answer:
                return answer.status, answer.read().decode(errors="replace").strip()
        except urllib.error.HTTPError as err:  # 503: the app runs, what it needs is still starting
            answer = err.code, err.read().decode(errors="replace").strip()
            if err.code != 503 or time.monotonic() >= deadline:
                return answer
        except OSError as exc:  # refused or reset while the container (re)starts
            if time.monotonic() >= deadline:
                return None, f"no answer: {exc}"
        time.sleep(0.5)


def visit(project: str, service: str, port: int, path: str = "/", wait: float = 20.0) -> None:
    """GET ``path`` from a service through its published port; prints ``GET url -> status body``.

    The host port is asked of Compose each time (``COMPOSE -p project port service port``): Docker may give a
    restarted container another one."""
    import time

    from . import sh

    deadline = time.monotonic() + wait
    while True:
        answer = sh(f"{COMPOSE} -p {project} port {service} {port}", check=False, quiet=True)
        found = answer.strip()
        if answer.returncode == 0 and ":" in found:
            url = f"http://127.0.0.1:{found.splitlines()[-1].rsplit(':', 1)[1]}{path}"
            status, body = get(url, wait=max(0.0, deadline - time.monotonic()))
            print(f"GET {url} -> {status} {body}")
            return
        if time.monotonic() >= deadline:
            print(f"{service} has no published port {port}: {found}")
            return
        time.sleep(0.5)
