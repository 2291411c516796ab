"""The notebook kernel's launcher during class grading: join the hand-in's cgroup, then become the kernel.

The kernelspec ``dockyard-fenced`` runs ``python -m grader.course.fence -f {connection_file}``.
The cgroup (memory and pids caps) is named by ``DOCKYARD_FENCE_CGROUP``; everything the
student's code starts is born inside it, so a memory hog or a fork bomb stays fenced in and
the grader can end all of it by cgroup.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    name = os.environ.get("DOCKYARD_FENCE_CGROUP")
    if name:
        from dockyard import cgroups

        cgroups.SandboxCgroup(name, cgroups.detect()).add(os.getpid())
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *sys.argv[1:]])


if __name__ == "__main__":
    main()
