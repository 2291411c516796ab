"""Start JupyterLab on 127.0.0.1 with the sandbox's DOCKER_HOST in every kernel and terminal.

Run by root (as ``sudo dockyard lab`` and the README's set-up command do), the server runs as
the learner, unprivileged, in a private view of the host, on a copy of the lessons of its own
(:mod:`grader.learner`, which also starts it: :func:`grader.learner.launch`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from .errors import DockyardError

SETTINGS = Path(__file__).resolve().parent / "lab_settings"  # overrides.json: the news prompt off
# a learner's JupyterLab has no teacher's tools: nbgrader's server extensions and its menu and sidebars are off
LEARNER_CONFIG = Path(__file__).resolve().parent / "jupyter_learner"
# the course runs offline: no news feed, no update check, nothing sent off this machine
OFFLINE_ARGS = ("--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                f"--LabApp.app_settings_dir={SETTINGS}")
# a teacher's server (`dockyard course formgrader`, the hub's formgrader service): formgrader's autograde button
# answers with `dockyard grade`, and class reports and feedback pages are served sandboxed
# (grader/course/teacher_ext.py); JupyterLab's Nbgrader > Formgrader panel frames this same server, so frames
# of itself only: Jupyter Server's own default, said here because jupyterhub-singleuser's is 'none'
TEACHER_ARGS = ("--ServerApp.jpserver_extensions=grader.course.teacher_ext=True",
                '--ServerApp.tornado_settings={"headers": {"Content-Security-Policy": "frame-ancestors \'self\'"}}')


def notebooks_dir() -> Path:
    for candidate in (Path.cwd() / "notebooks", Path(__file__).resolve().parent.parent / "notebooks"):
        if candidate.is_dir():
            return candidate
    raise DockyardError("cannot find the lessons folder notebooks/",
                        "run dockyard lab from the Dockyard checkout")


def lab_command(root: Path, port: int, open_browser: bool, *, as_root: bool | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "jupyterlab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=20", *OFFLINE_ARGS]
    if not open_browser:
        cmd.append("--no-browser")
    if os.geteuid() == 0 if as_root is None else as_root:
        cmd.append("--allow-root")
    return cmd


def work_folder(box) -> Path:
    """Where a confined learner's copy of the lessons lives: ``<home>/work/<name>/``."""
    return box.cfg.home / "work" / box.name


def confined(box) -> bool:
    """Does the learner's server run unprivileged (root starts a private sandbox's lab)?"""
    return os.geteuid() == 0 and box.backend == "private"


def workspace_dirs(box=None) -> tuple[str, ...]:
    """The folders a learner's containers may bind under the seal: the learner's work folder when the
    server is confined, else the lessons and the labs of the checkout."""
    if box is not None and confined(box):
        return (str(work_folder(box)),)
    root = notebooks_dir()
    labs = root.parent / "labs"
    return tuple(str(d) for d in (root, labs) if d.is_dir())


def lab_env(box) -> dict[str, str]:
    """The server's environment: kernels and terminals inherit it, so `docker` talks to the sandbox."""
    env = dict(os.environ)
    env.update(box.lesson_env(path=env.get("PATH")))
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(LEARNER_CONFIG), *filter(None, [env.get("JUPYTER_CONFIG_PATH")])])
    bindir = str(Path(sys.executable).parent)
    if bindir not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def serve(proc: subprocess.Popen) -> int:
    """Wait for a Jupyter server we started; a SIGTERM or SIGHUP to us ends it, and so does a second ^C (Jupyter
    asks to confirm the first)."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_a: proc.terminate())
    try:
        return proc.wait()
    except KeyboardInterrupt:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            return proc.wait()
