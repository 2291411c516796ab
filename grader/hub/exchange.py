"""What the learners of a hub share with the instructor, and how each learner's view names them.

The exchange is nbgrader's own (``nbgrader release_assignment``, ``fetch_assignment``, ``submit``, ``collect``,
``release_feedback``, ``fetch_feedback``), one folder on this machine, ``<hub>/exchange``. It is made before
nbgrader first touches it, by root, with modes that close two of its doors: the exchange root is sticky (a learner
cannot rename the course's folder away and put their own in its place) and so is ``inbound/`` (a learner cannot
delete another's hand-in, even knowing its name). ``collect`` is :class:`grader.course.exchange.SafeCollect`.

A learner's server sees the exchange at the same path (a bind in its private view, :mod:`grader.learner`) and,
over /etc/passwd and /etc/group, a copy of the host's that also names their uid: nbgrader takes the student id
from ``getpwuid(getuid())``.
"""

from __future__ import annotations

import os
from pathlib import Path

from grader.course.config import COURSE_ID

# (relative path, mode): nbgrader's own modes, plus the sticky bit where learners write
LAYOUT = (("", 0o1777), (COURSE_ID, 0o755), (f"{COURSE_ID}/outbound", 0o755),
          (f"{COURSE_ID}/inbound", 0o3733), (f"{COURSE_ID}/feedback", 0o711))


def prepare(root: Path) -> Path:
    """Make the exchange root and the course's folders in it, root's, with :data:`LAYOUT`'s modes."""
    for rel, mode in LAYOUT:
        d = root / rel if rel else root
        d.mkdir(parents=True, exist_ok=True)
        st = os.lstat(d)
        if st.st_uid != os.geteuid() and rel:
            raise RuntimeError(f"{d} is owned by uid {st.st_uid}, not the hub's: a learner made it; remove it")
        os.chmod(d, mode)
    return root


def passwd_view(host_passwd: str, host_group: str, name: str, uid: int, home: str) -> tuple[str, str]:
    """The host's passwd and group, with ``name`` as ``uid`` (and a group of the same number) added."""
    pw = [line for line in host_passwd.splitlines() if line and line.split(":", 1)[0] != name]
    gr = [line for line in host_group.splitlines() if line and line.split(":", 1)[0] != name]
    pw.append(f"{name}:x:{uid}:{uid}:Dockyard learner:{home}:/bin/bash")
    gr.append(f"{name}:x:{uid}:")
    return "\n".join(pw) + "\n", "\n".join(gr) + "\n"


def write_passwd_view(folder: Path, name: str, uid: int, home: str) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True, mode=0o755)
    passwd, group = passwd_view(Path("/etc/passwd").read_text(), Path("/etc/group").read_text(), name, uid, home)
    out = []
    for fname, text in (("passwd", passwd), ("group", group)):
        target = folder / fname
        tmp = folder / f".{fname}.tmp"
        tmp.write_text(text)
        os.chmod(tmp, 0o644)
        tmp.replace(target)
        out.append(target)
    return out[0], out[1]


LEARNER_NBGRADER = '''\
# nbgrader settings of a Dockyard hub's learners (written by `dockyard hub start`): the course and its exchange.
import os

c = get_config()
c.CourseDirectory.course_id = {course!r}
c.Exchange.root = {exchange!r}
# the cache (what was submitted when) lives in the learner's work folder: fetch_feedback needs it after a restart
if os.environ.get("DOCKYARD_WORK"):
    c.Exchange.cache = os.path.join(os.environ["DOCKYARD_WORK"], ".nbgrader-cache")
'''

# the student's side of nbgrader in JupyterLab (Assignments: fetch, validate, submit, feedback); never the
# instructor's (formgrader, course list, create assignment, the menu that links to them)
LEARNER_SERVER = {"ServerApp": {"jpserver_extensions": {
    "nbgrader.server_extensions.assignment_list": True,
    "nbgrader.server_extensions.validate_assignment": True,
    "nbgrader.server_extensions.formgrader": False,
    "nbgrader.server_extensions.course_list": False,
    "jupyter_lsp": False}}}  # no language server is installed: its scan of PATH only slows every start
LEARNER_PAGE = {"disabledExtensions": {
    "@jupyter/nbgrader": False,
    "@jupyter/nbgrader:formgrader": True, "@jupyter/nbgrader:course-list": True,
    "@jupyter/nbgrader:create-assignment": True, "@jupyter/nbgrader:menu": True}}


def write_learner_config(folder: Path, exchange: Path) -> Path:
    """A Jupyter config folder, first on the learners' JUPYTER_CONFIG_PATH (readable by them: no secrets)."""
    import json

    (folder / "labconfig").mkdir(parents=True, exist_ok=True)
    (folder / "nbgrader_config.py").write_text(LEARNER_NBGRADER.format(course=COURSE_ID, exchange=str(exchange)))
    (folder / "jupyter_server_config.json").write_text(json.dumps(LEARNER_SERVER, indent=1))
    (folder / "labconfig" / "page_config.json").write_text(json.dumps(LEARNER_PAGE, indent=1))
    for p in [folder, folder / "labconfig", *folder.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    return folder
