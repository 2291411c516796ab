"""`dockyard lab` serves JupyterLab on 127.0.0.1 with the sandbox's DOCKER_HOST for kernels and terminals."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from dockyard import buildkit, lab, network, procs

ROOT = Path(__file__).resolve().parents[2]


def test_lab_serves_the_lessons_with_the_sandbox_environment(sandbox, tmp_path):
    port = network.free_port()
    env = dict(os.environ, DOCKYARD_SANDBOX=sandbox.name, JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"), JUPYTER_DATA_DIR=str(tmp_path / "data"))
    env.pop("DOCKER_HOST", None)
    proc = subprocess.Popen([sys.executable, "-m", "grader.cli", "lab", "--port", str(port), "--no-browser"],
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
        assert "DOCKYARD_KERNEL" not in environ  # the plan was carried out, not passed on
        # docker builds with BuildKit: the CLI that can through the seal is the first `docker` on PATH
        cli = buildkit.find_cli()
        assert environ["DOCKER_BUILDKIT"] == ("1" if cli else "0") and environ["DOCKYARD_BUILDER_NOTE"]
        if cli:
            assert environ["PATH"].split(os.pathsep)[0] == str(sandbox.bin)
        args = procs.cmdline(server[0])
        assert "--ServerApp.ip=127.0.0.1" in args
        assert "--LabApp.news_url=None" in args  # offline: the browser must not fetch a news feed
        assert "--allow-root" not in args
        work = lab.work_folder(sandbox)
        assert f"--ServerApp.root_dir={work}" in args and (work / "01-namespaces.ipynb").exists()
        # the server (and so every kernel and terminal) runs as an unprivileged uid, in a view of its own
        uids = next(line for line in Path(f"/proc/{server[0]}/status").read_text().splitlines()
                    if line.startswith("Uid:")).split()[1:]
        assert len(set(uids)) == 1 and int(uids[0]) != 0, uids
        assert os.readlink(f"/proc/{server[0]}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
        view = Path(f"/proc/{server[0]}/root")  # the server's mount namespace, seen from here
        assert list((view / str(ROOT).lstrip("/") / "labs").iterdir()) == []
        assert (view / str(work).lstrip("/") / "01-namespaces.ipynb").exists()
        if cli:  # the sandbox's bin folder is put back in the server's view, with its link to the CLI
            assert os.readlink(view / str(sandbox.bin / "docker").lstrip("/")) == cli.path
        # /root is an empty folder but for the ways to what was put back (the work folder, this Python)
        ways = {Path(p).relative_to("/root").parts[0] for p in (work, sys.prefix, sys.base_prefix, ROOT)
                if str(p).startswith("/root/")}
        assert {e.name for e in (view / "root").iterdir()} <= ways
        assert os.stat(sandbox.cfg.socket).st_uid == int(uids[0])
        # a learner's JupyterLab has no teacher's tools
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/formgrader", timeout=5)
            raise AssertionError("formgrader is served in the learner's JupyterLab")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
        cgroup = Path(f"/proc/{server[0]}/cgroup").read_text()
        assert f"/{sandbox.cfg.cgroup_name}-lab" in cgroup
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(lab.work_folder(sandbox), ignore_errors=True)
    assert os.stat(sandbox.cfg.socket).st_uid == 0, "the sandbox's socket is root's again"
    assert not Path(f"/sys/fs/cgroup/pids/{sandbox.cfg.cgroup_name}-lab").exists()
    assert not Path(f"/sys/fs/cgroup/{sandbox.cfg.cgroup_name}-lab").exists()
