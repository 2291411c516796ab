"""A warm nbgrader process: autograde and feedback for one hand-in after another.

Starting Python and importing nbgrader costs seconds per hand-in; a class of 300
pays it once per ``--jobs`` slot instead. The parent sends one JSON request per
line on stdin and reads the answer from the file the request names. Each request
brings the environment of its own sandbox (DOCKER_HOST, ...), so the kernel that
nbgrader starts for that notebook talks to that sandbox only; the kernel itself
starts through :mod:`grader.course.fence` inside the hand-in's cgroup. The test
cells' checks run here, in this process (:mod:`grader.course.trusted`), against
the same sandbox; their evidence goes to the file the request names.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

KERNEL = "dockyard-fenced"


def kernelspec(root: Path) -> Path:
    """A Jupyter data dir holding the fenced kernelspec; put it on JUPYTER_PATH."""
    d = root / "kernels" / KERNEL
    d.mkdir(parents=True, exist_ok=True)
    (d / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "grader.course.fence", "-f", "{connection_file}"],
        "display_name": "Python 3 (Dockyard grading)", "language": "python"}))
    return root


def handle(req: dict, base_env: dict) -> dict:
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from .config import apply

    os.environ.clear()
    os.environ.update(base_env)
    os.environ.pop("DOCKYARD_EVIDENCE", None)  # a learner's own record: never named to a graded kernel
    os.environ.update(req["env"])  # the kernel inherits this: its sandbox and its cgroup (and so do the checks)
    c = Config()
    apply(c, req["course"], cell_timeout=int(req["cell_timeout"]))
    c.Execute.kernel_name = KERNEL
    # written by this process (grader.course.trusted), never named to the kernel
    c.TrustedExecute.evidence_file = req.get("evidence", "")
    api = NbGraderAPI(coursedir=CourseDirectory(config=c), config=c)
    out: dict = {}
    t0 = time.monotonic()
    out["autograde"] = api.autograde(req["lab"], req["student"], force=True, create=True)
    out["autograde_seconds"] = round(time.monotonic() - t0, 2)
    if out["autograde"].get("success"):
        t1 = time.monotonic()
        out["feedback"] = api.generate_feedback(req["lab"], req["student"], force=True)
        out["feedback_seconds"] = round(time.monotonic() - t1, 2)
    return out


def main() -> None:
    import nbgrader.apps.api  # noqa: F401  (warm: this import is what a cold start pays)

    base_env = dict(os.environ)
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            out = handle(req, base_env)
        except Exception:
            out = {"autograde": {"success": False, "error": traceback.format_exc()}}
        target = Path(req["result"])
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(out, default=str))
        tmp.replace(target)


if __name__ == "__main__":
    main()
