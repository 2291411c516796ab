"""`dockyard lab` serves JupyterLab on 127.0.0.1 with the sandbox's DOCKER_HOST for kernels and terminals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from dockyard import network, procs

ROOT = Path(__file__).resolve().parents[2]


def test_lab_serves_the_lessons_with_the_sandbox_environment(sandbox, tmp_path):
    port = network.free_port()
    env = dict(os.environ, DOCKYARD_SANDBOX=sandbox.name, JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"), JUPYTER_DATA_DIR=str(tmp_path / "data"))
    env.pop("DOCKER_HOST", None)
    proc = subprocess.Popen([sys.executable, "-m", "dockyard.cli", "lab", "--port", str(port), "--no-browser"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2).read()
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()
                time.sleep(0.3)
        assert body and "version" in json.loads(body)
        # the Jupyter server is the child of `dockyard lab`: kernels and terminals inherit its environment
        server = [p for p in procs.descendants(proc.pid) if any("jupyterlab" in a for a in procs.cmdline(p))]
        assert server, "no jupyterlab process found"
        environ = dict(kv.split("=", 1) for kv in
                       Path(f"/proc/{server[0]}/environ").read_bytes().decode().split("\0") if "=" in kv)
        assert environ["DOCKER_HOST"] == sandbox.docker_host
        assert environ["DOCKYARD_SANDBOX"] == sandbox.name
        args = procs.cmdline(server[0])
        assert "--ServerApp.ip=127.0.0.1" in args
        assert "--LabApp.news_url=None" in args  # offline: the browser must not fetch a news feed
        assert any(a.endswith("/notebooks") for a in args if a.startswith("--ServerApp.root_dir="))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
