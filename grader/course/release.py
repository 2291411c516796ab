"""``dockyard course release``: labs/NN-topic → course/source → nbgrader's student versions."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from dockyard.errors import DockyardError

from . import labnb
from .config import write_config
from ..catalog import graded_labs
from .layout import Course, lab_dir

NEVER_RELEASED = ("lab.yaml", "solution", "broken")


def stage_source(course: Course, lab: Path) -> Path:
    """Copy what students may see (the source notebook and starter/) into course/source/<lab>."""
    dest = course.source(lab.name)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy2(labnb.notebook_path(lab), dest)
    starter = lab / "starter"
    if starter.is_dir():
        shutil.copytree(starter, dest, dirs_exist_ok=True)
    return dest


def nbgrader(course: Course, *args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run an nbgrader command in the course folder (so its nbgrader_config.py applies)."""
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course.root, capture_output=True,
                          text=True, timeout=timeout, env=tool_env(env))


def tool_env(env: dict | None = None) -> dict:
    """``env`` (default: ours) with this Python's bin first on PATH: nbgrader runs ``alembic`` from PATH."""
    env = dict(os.environ if env is None else env)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "/usr/bin:/bin")])
    return env


def release(course: Course, labs: list[str] | None = None, progress=print) -> list[str]:
    """Generate the student version of each lab (all graded labs when ``labs`` is empty)."""
    write_config(course.root)
    chosen = [lab_dir(n) for n in labs] if labs else graded_labs()
    done = []
    for lab in chosen:
        problems = labnb.validate(lab)
        if problems:
            raise DockyardError(f"{lab.name} is not consistent:\n  " + "\n  ".join(problems),
                                "fix the lab's notebook, lab.yaml or broken/ variants; "
                                "`pytest tests/unit/grader/test_labs.py` shows the same list")
        stage_source(course, lab)
        res = nbgrader(course, "generate_assignment", lab.name, "--force")
        if res.returncode != 0 or not (course.release(lab.name) / labnb.notebook_path(lab).name).exists():
            raise DockyardError(f"nbgrader generate_assignment {lab.name} failed:\n{_tail(res)}",
                                "the nbgrader metadata of the source notebook is probably wrong")
        progress(f"released {lab.name} → {course.release(lab.name)}")
        done.append(lab.name)
    return done


def _tail(res: subprocess.CompletedProcess, lines: int = 15) -> str:
    return "\n".join((res.stdout + res.stderr).strip().splitlines()[-lines:])
