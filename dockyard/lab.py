"""Start JupyterLab on 127.0.0.1 with the sandbox's DOCKER_HOST in every kernel and terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .errors import DockyardError

SETTINGS = Path(__file__).resolve().parent / "lab_settings"  # overrides.json: the news prompt off


def notebooks_dir() -> Path:
    for candidate in (Path.cwd() / "notebooks", Path(__file__).resolve().parent.parent / "notebooks"):
        if candidate.is_dir():
            return candidate
    raise DockyardError("cannot find the lessons folder notebooks/",
                        "run dockyard lab from the Dockyard checkout")


def lab_command(root: Path, port: int, open_browser: bool) -> list[str]:
    cmd = [sys.executable, "-m", "jupyterlab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=20",
           # the course runs offline: no news feed, no update check, nothing sent off this machine
           "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           f"--LabApp.app_settings_dir={SETTINGS}"]
    if not open_browser:
        cmd.append("--no-browser")
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    return cmd


def workspace_dirs() -> tuple[str, ...]:
    """The folders a learner's containers may bind under the seal: the lessons and the labs."""
    root = notebooks_dir()
    labs = root.parent / "labs"
    return tuple(str(d) for d in (root, labs) if d.is_dir())


def lab_env(box) -> dict[str, str]:
    """The server's environment: kernels and terminals inherit it, so `docker` talks to the sandbox."""
    env = dict(os.environ)
    env.update(box.lesson_env())
    bindir = str(Path(sys.executable).parent)
    if bindir not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def launch(box, port: int = 8888, open_browser: bool = True) -> int:
    root = notebooks_dir()
    print(f"JupyterLab on http://127.0.0.1:{port}/ with DOCKER_HOST={box.docker_host}", file=sys.stderr)
    try:
        return subprocess.call(lab_command(root, port, open_browser), env=lab_env(box))
    except KeyboardInterrupt:
        return 0
