"""The notebook kernel's launcher during class grading: join the hand-in's cgroup, then become the kernel.

The kernelspec ``dockyard-fenced`` runs ``python -m grader.course.fence -f {connection_file}``.
The cgroup (memory and pids caps) is named by ``DOCKYARD_FENCE_CGROUP``; everything the
student's code starts is born inside it, so a memory hog or a fork bomb stays fenced in and
the grader can end all of it by cgroup.

Then, when ``DOCKYARD_KERNEL`` carries a plan (:class:`grader.course.kernel_user.Plan`), it
gives the kernel a private view of the host (its own folder, its own sandbox's socket, the
code it runs; no course, labs, Dockyard home, /root or other hand-ins' temp folders) and
becomes the hand-in's own unprivileged uid for good. The cgroup is joined first, as root:
an unprivileged process could not join it.

``python -m grader.course.fence --exec CMD ARGS...`` does the same for another program: the
learner's JupyterLab server (:mod:`grader.learner`), whose kernels and terminals inherit
the cgroup, the view and the uid.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    name = os.environ.pop("DOCKYARD_FENCE_CGROUP", None)
    if name:
        from dockyard import cgroups

        cgroups.SandboxCgroup(name, cgroups.detect()).add(os.getpid())
    args = sys.argv[1:]
    program = None
    if args[:1] == ["--exec"]:
        program, args = args[1], args[2:]
    plan = os.environ.get("DOCKYARD_KERNEL")
    if plan:
        from .kernel_user import Plan

        args = Plan.from_env(plan).apply(args, kernel=program is None)
    if program:
        os.execvp(program, [program, *args])
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *args])


if __name__ == "__main__":
    main()
