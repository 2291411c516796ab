"""What a learner's pod runs (``python -m grader.k8s.learner SERVER...``), here on the machine instead of in sysbox.

Instead of jupyterhub-singleuser, the "server" is a shell that reports what it sees: it must run as the
learner's uid, reach its own sandbox, have the lessons in its work folder, and not read root's files.
The sandbox stops with the server; the test purges it.
"""

from __future__ import annotations

import os
import subprocess
import sys

from dockyard.sandbox import Sandbox
from tests.integration.conftest import _require_host

REPORT = ('echo "uid=$(id -u)"; echo "host=$DOCKER_HOST"; docker run --rm busybox echo hello-from-the-sandbox; '
          'ls 00-welcome.ipynb; cat /etc/shadow >/dev/null 2>&1 && echo shadow-readable || echo shadow-refused')


def test_the_learner_pod_entry_runs_the_server_as_the_learner_against_its_sandbox(tmp_path):
    _require_host()
    name = f"t{os.getpid() % 100000}-k8s"
    work = tmp_path / "home" / "dockyard"
    env = {**os.environ, "DOCKYARD_SANDBOX": name, "DOCKYARD_WORK": str(work), "DOCKYARD_LEARNER_UID": "20007"}
    env.pop("DOCKER_HOST", None)
    try:
        res = subprocess.run([sys.executable, "-m", "grader.k8s.learner", "sh", "-c", REPORT], env=env,
                             capture_output=True, text=True, timeout=240)
        assert res.returncode == 0, res.stdout + res.stderr
        lines = res.stdout.splitlines()
        assert "uid=20007" in lines
        assert f"host=unix://{Sandbox(name=name).cfg.socket}" in lines
        assert "hello-from-the-sandbox" in lines
        assert "00-welcome.ipynb" in lines and "shadow-refused" in lines
        assert os.stat(work / "00-welcome.ipynb").st_uid == 20007  # the work folder is the learner's
        assert not Sandbox(name=name).running()  # the sandbox went with the server
    finally:
        Sandbox(name=name).down(purge=True)
