"""The learner's side of `dockyard lab`: JupyterLab as an unprivileged uid, in a private view of the host.

`dockyard lab` needs root to run the sandbox (a bridge, cgroups, mounts), but the
learner's JupyterLab runs the learner's code: every kernel and terminal. So the server
starts through the same launcher as a grading kernel (:mod:`grader.course.fence`,
:class:`grader.course.kernel_user.Plan`):

- inside a memory and pids cgroup of its own (``dockyard-<name>-lab``), joined as root;
- in a private mount namespace where the Dockyard home (every sandbox's socket, data and
  logs), ``/root``, ``/run/dockyard``, the labs (specs, hidden checks, solutions) and the
  repository's history are empty read-only folders, and /tmp is a fresh tmpfs;
- as a uid of its own: the ``sudo`` caller's own account when there is one, else a free uid
  held for the session (:class:`grader.course.kernel_user.KernelUser`);
- with only these put back: the learner's work folder (writable), the sandbox's socket (granted
  to that uid alone), its state file and progress (read-only), its bin folder (read-only: the
  ``docker`` that builds with BuildKit, :mod:`dockyard.buildkit`), its scratch folder and the
  check service's socket (:mod:`grader.service`), which grades in this, root's, process.

The work folder (``<home>/work/<name>/``) holds the learner's copy of the lessons; it
survives ``dockyard down --purge`` and is never overwritten: a lesson the learner has not got
yet is copied in, one they have edited is kept.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from dockyard.lab import confined, lab_command, lab_env, notebooks_dir, serve, work_folder

LAB_MEMORY = 2 * 1024**3  # the learner's server, kernels and terminals together
LAB_PIDS = 1024


def lesson_files(lessons: Path):
    """What a learner gets of ``notebooks/``: the lessons and their material, not the self-checks' specs."""
    for p in sorted(lessons.rglob("*")):
        rel = p.relative_to(lessons)
        if rel.parts[0] in ("checks", ".ipynb_checkpoints") or "__pycache__" in rel.parts:
            continue
        yield p, rel


def fill_work(work: Path, lessons: Path, labs: Path | None = None) -> list[str]:
    """Copy into ``work`` each lesson file it lacks, and each graded lab as a student gets it (``labs/NN-topic/``:
    the notebook without solutions or hidden tests, and the starter files); returns what was copied. Nothing
    already there is replaced."""
    copied = []
    work.mkdir(parents=True, exist_ok=True)
    for src, rel in lesson_files(lessons):
        dest = work / rel
        if src.is_dir() and not src.is_symlink():
            dest.mkdir(exist_ok=True)
        elif src.is_file() and not os.path.lexists(dest):
            shutil.copy2(src, dest)
            copied.append(str(rel))
    for lab in sorted(labs.glob("[0-9][0-9]-*/")) if labs and labs.is_dir() else ():
        if (lab / "lab.yaml").exists():
            copied += _fill_lab(work / "labs" / lab.name, lab, f"labs/{lab.name}")
    return copied


def _fill_lab(dest: Path, lab: Path, rel: str) -> list[str]:
    import nbformat

    from .course import labnb

    copied = []
    dest.mkdir(parents=True, exist_ok=True)
    notebook = dest / labnb.notebook_path(lab).name
    if not os.path.lexists(notebook):
        nbformat.write(labnb.student_version(labnb.read(lab)), notebook)
        copied.append(f"{rel}/{notebook.name}")
    starter = lab / "starter"
    for src in sorted(starter.rglob("*")) if starter.is_dir() else ():
        target = dest / src.relative_to(starter)
        if src.is_dir():
            target.mkdir(exist_ok=True)
        elif src.is_file() and not os.path.lexists(target):
            shutil.copy2(src, target)
            copied.append(f"{rel}/{src.relative_to(starter)}")
    return copied


def caller_uid() -> int | None:
    """The account that ran ``sudo dockyard lab``: the learner's own (None when root logged in as root)."""
    text = os.environ.get("SUDO_UID", "")
    return int(text) if text.isdigit() and int(text) != 0 else None


class LearnerSession:
    """What one `dockyard lab` holds while its server runs: the uid, the cgroup, the check service."""

    def __init__(self, box, lessons: Path, work: Path | None = None, uid: int | None = None):
        from .course.kernel_user import KernelUser

        self.box, self.lessons = box, lessons
        self.work = Path(work or work_folder(box))
        self._held = None
        self._socket_was = None  # the sandbox socket's owner, group and mode, given back at the end
        if uid is None:
            uid = caller_uid()
        if uid is None:
            self._held = KernelUser.allocate()
            uid = self._held.uid
        self.uid = uid
        self.fence = self.service = None
        try:
            self.copied = fill_work(self.work, lessons, Path(__file__).resolve().parent.parent / "labs")
        except BaseException:
            self.close()  # the uid is not held for a session that never starts
            raise

    def __enter__(self) -> "LearnerSession":
        from .course.isolation import KernelFence
        from .service import CheckService

        try:
            self.fence = KernelFence(f"{self.box.cfg.cgroup_name}-lab", LAB_MEMORY, LAB_PIDS)
            self.service = CheckService(self.box, self.box.cfg.dir / "check.sock", roots=self.roots(), uid=self.uid)
            self.service.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def roots(self) -> list[Path]:
        """The folders the learner's files live in: the only ones a check may read a submission from."""
        return [self.work, self.box.scratch]

    def plan(self):
        from .course import kernel_user as ku
        from .progress import progress_file

        cfg = self.box.cfg
        repo = Path(__file__).resolve().parent.parent
        self.box.scratch.mkdir(parents=True, exist_ok=True)
        ku.give(self.box.scratch, self.uid)
        self.box.bin.mkdir(parents=True, exist_ok=True)  # the BuildKit docker's folder (dockyard.buildkit): read-only
        progress = progress_file(self.box)
        if not progress.exists():
            progress.write_text("{}")
        if self._socket_was is None:
            st = os.stat(cfg.socket)
            self._socket_was = (st.st_uid, st.st_gid, st.st_mode & 0o7777)
        ku.KernelUser(self.uid, None, None).grant_socket(cfg.socket)
        hidden = ku.masks(course=cfg.home, run_tmp=cfg.home, dockyard_home=cfg.home, labs=[repo / "labs"], repo=repo)
        hidden += [str(self.lessons / "checks")] if (self.lessons / "checks").is_dir() else []
        binds = [(str(cfg.socket), True), (str(cfg.state_file), False), (str(progress), False),
                 (str(self.box.scratch), True), (str(self.service.socket), True), (str(self.box.bin), False)]
        binds += [(p, False) for p in ku.code_dirs(repo)]
        return ku.Plan(uid=self.uid, mask=hidden, private=ku.private_dirs(), folder=str(self.work), binds=binds)

    def env(self, base: dict[str, str]) -> dict[str, str]:
        """The server's environment: the sandbox's, the plan, the cgroup, and where checks are asked for."""
        env = {k: v for k, v in base.items() if not k.startswith("SUDO_")
               and k not in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR")}
        env.update(self.box.lesson_env(path=env.get("PATH")))
        env.update(DOCKYARD_KERNEL=self.plan().to_env(), DOCKYARD_HOME=str(self.box.cfg.home),
                   DOCKYARD_CHECKS=str(self.service.socket))
        if self.fence and self.fence.name:
            env["DOCKYARD_FENCE_CGROUP"] = self.fence.name
        return env

    def close(self) -> None:
        if self.service is not None:
            self.service.close()
            self.service = None
        if self.fence is not None:
            self.fence.close()  # every process the learner left running in it ends here
            self.fence = None
        if self._held is not None:
            self._held.close()
            self._held = None
        if self._socket_was is not None:
            uid, gid, mode = self._socket_was
            with contextlib.suppress(OSError):  # a daemon restarted meanwhile made a socket of its own
                os.chown(self.box.cfg.socket, uid, gid)
                os.chmod(self.box.cfg.socket, mode)
            self._socket_was = None


def launch(box, port: int = 8888, open_browser: bool = True) -> int:
    root = notebooks_dir()
    env = lab_env(box)
    if env.get("DOCKYARD_BUILDER_NOTE"):
        print(f"docker build: {env['DOCKYARD_BUILDER_NOTE']}", file=sys.stderr)
    if not confined(box):
        print(f"JupyterLab on http://127.0.0.1:{port}/ with DOCKER_HOST={box.docker_host}", file=sys.stderr)
        try:
            return subprocess.call(lab_command(root, port, open_browser), env=env)
        except KeyboardInterrupt:
            return 0
    with LearnerSession(box, root) as learner:
        print(f"JupyterLab on http://127.0.0.1:{port}/ with DOCKER_HOST={box.docker_host}, as uid {learner.uid}, "
              f"in {learner.work}" + (f" (new: {len(learner.copied)} lesson files)" if learner.copied else ""),
              file=sys.stderr)
        cmd = [sys.executable, "-m", "grader.course.fence", "--exec",
               *lab_command(learner.work, port, open_browser, as_root=False)]
        # the server ends first, so the session can take back what it lent
        return serve(subprocess.Popen(cmd, env=learner.env(env), cwd=learner.work))
