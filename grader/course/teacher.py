"""The teacher's JupyterLab: the course folder with nbgrader's formgrader, on 127.0.0.1.

The teacher's server is the teacher's own tool, so it runs as the teacher, with nbgrader's
instructor extensions on (the learner's JupyterLab has them off: :data:`dockyard.lab.LEARNER_CONFIG`).
Two things keep students' code out of it:

- formgrader's own "autograde" would run a hand-in's notebook in a plain kernel, as the teacher,
  against whatever daemon the teacher's shell names. :class:`grader.course.trusted.TrustedExecute`
  refuses that and names ``dockyard grade`` instead, which grades in a fresh sealed sandbox;
- students' feedback pages and notebooks open through Jupyter's ``/files/`` handler, which serves
  them with ``Content-Security-Policy: sandbox``: their scripts run in an origin of their own,
  never with the teacher's session.
"""

from __future__ import annotations

import os
import secrets
import subprocess

from dockyard.errors import DockyardError
from dockyard.lab import LEARNER_CONFIG, TEACHER_ARGS, lab_command, serve

from .config import write_config
from .layout import Course


def server_command(course: Course, port: int, open_browser: bool, token: str) -> list[str]:
    base = [a for a in lab_command(course.root, port, open_browser) if not a.startswith("--ServerApp.port_retries=")]
    return [*base, f"--IdentityProvider.token={token}",
            "--LabApp.default_url=/formgrader", "--ServerApp.port_retries=0",  # the URL printed is the one served
            *TEACHER_ARGS]


def server_env() -> dict[str, str]:
    """The teacher's environment, without the learner's config (it switches formgrader off)."""
    env = dict(os.environ)
    paths = [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p and p != str(LEARNER_CONFIG)]
    if paths:
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(paths)
    else:
        env.pop("JUPYTER_CONFIG_PATH", None)
    # the teacher's shell may point at a sandbox; nothing the teacher's server runs should talk to it
    env.pop("DOCKER_HOST", None)
    return env


def launch(course: Course, port: int = 8890, open_browser: bool = True) -> int:
    if not (course.root / "source").is_dir():
        raise DockyardError(f"{course.root} is not a course yet (no source/ folder)",
                            "run `dockyard course release` first, then `dockyard grade LAB`")
    if not (course.root / "nbgrader_config.py").exists():
        write_config(course.root)
    token = secrets.token_hex(24)
    print(f"formgrader: http://127.0.0.1:{port}/?token={token}  (course {course.root}; ^C to stop)\n"
          f"class reports, with each hand-in's feedback: http://127.0.0.1:{port}/dockyard/course/reports/LAB.html",
          flush=True)
    return serve(subprocess.Popen(server_command(course, port, open_browser, token), env=server_env(),
                                  cwd=course.root))
