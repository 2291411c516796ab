"""What a learner's pod runs (``singleuser.cmd`` of the values file): the sandbox, then the server as the learner.

KubeSpawner starts the pod with ``python3 -m grader.k8s.learner jupyterhub-singleuser --port=8888 ...``.
Inside the pod (sysbox: its root is an unprivileged uid on the node, in a user namespace of its own)
this brings the learner's sealed sandbox up, exactly as ``dockyard lab`` does on one machine, then
runs the command it was given through the same launcher as ``dockyard lab``'s JupyterLab: as the
learner's uid (``DOCKYARD_LEARNER_UID``), in a memory and pids cgroup and a private mount namespace,
on the work folder in the learner's home volume, with checks graded by this, root's, process.
When the server ends (the hub stops it, or the idle culler does), the sandbox goes with the pod.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

LEARNER_UID = 1000  # jovyan, the owner of the home volume in the Jupyter images
WORK = "/home/jovyan/dockyard"  # on the learner's persistent volume: their edits outlive the pod


def command(server: list[str]) -> list[str]:
    """The server, started through the fence (its cgroup joined as root, then the plan, then the uid)."""
    return [sys.executable, "-m", "grader.course.fence", "--exec", *server]


def main(argv: list[str] | None = None) -> int:
    from dockyard import sandbox
    from dockyard.lab import lab_env, notebooks_dir
    from grader.learner import LearnerSession

    server = list(sys.argv[1:] if argv is None else argv)
    if server[:1] == ["--"]:
        server = server[1:]
    if not server:
        print("usage: python -m grader.k8s.learner SERVER-COMMAND [ARGS...]", file=sys.stderr)
        return 2
    box = sandbox.get()
    box.up(progress=lambda m: print(m, file=sys.stderr))
    uid = int(os.environ.get("DOCKYARD_LEARNER_UID") or LEARNER_UID)
    work = Path(os.environ.get("DOCKYARD_WORK") or WORK)
    try:
        with LearnerSession(box, notebooks_dir(), work=work, uid=uid) as learner:
            proc = subprocess.Popen(command(server), env=learner.env(lab_env(box)), cwd=learner.work)
            # the kubelet's SIGTERM ends the server first, so the session can take back what it lent
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                signal.signal(sig, lambda *_a: proc.terminate())
            return proc.wait()
    finally:
        box.down()


if __name__ == "__main__":
    sys.exit(main())
