"""BuildKit in the lesson environment: a learner's kernel builds with it through the seal (:mod:`dockyard.buildkit`)."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from dockyard import buildkit
from grader.learner import LearnerSession
from grader.course import worker

from .conftest import make_sandbox

REPO = Path(__file__).resolve().parents[2]

CELL = """
import json, os, shutil
from dockyard.notebook import sh
os.makedirs("bk", exist_ok=True)
with open("bk/Dockerfile", "w") as fh:
    fh.write("FROM busybox\\nRUN echo built > /built\\n")
out = sh("docker build -t bk-hello bk")
seen = {"out": str(out), "docker": shutil.which("docker"), "buildkit": os.environ.get("DOCKER_BUILDKIT"),
        "run": str(sh("docker run --rm bk-hello cat /built", quiet=True))}
sh("docker rmi bk-hello", quiet=True)
with open("seen.json", "w") as fh:
    json.dump(seen, fh)
"""


def test_a_learner_kernel_builds_with_buildkit_through_the_seal(tmp_path, monkeypatch):
    if buildkit.find_cli() is None:
        pytest.skip("no docker CLI before 23 on this machine (Debian's docker.io brings one)")
    work = tmp_path / "work"
    with make_sandbox(workspace=(str(work),)) as box, \
            LearnerSession(box, REPO / "notebooks", work=work) as learner:
        env = learner.env(dict(os.environ))
        assert env["DOCKER_BUILDKIT"] == "1" and env["PATH"].split(os.pathsep)[0] == str(box.bin)
        for key, value in {**env, "JUPYTER_PATH": str(worker.kernelspec(tmp_path / "ks"))}.items():
            monkeypatch.setenv(key, value)
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(CELL))])
        NotebookClient(nb, timeout=180, kernel_name=worker.KERNEL, resources={"metadata": {"path": str(work)}}).execute()
        seen = json.loads((work / "seen.json").read_text())
    assert seen["buildkit"] == "1" and seen["docker"] == str(box.bin / "docker")
    assert "#1 [internal] load build definition from Dockerfile" in seen["out"], seen["out"]
    assert "[2/2] RUN echo built > /built" in seen["out"] and "naming to docker.io/library/bk-hello" in seen["out"]
    assert "Step 1/2" not in seen["out"]  # not the classic builder
    assert seen["run"].strip() == "built"


# --- bombs in a grading build: BuildKit's RUN steps stay inside the sandbox's caps and the build's own -------------
FORK_BOMB = "FROM busybox\nRUN mkfifo /wait; f(){ f | f & }; f; read -t 10 x <> /wait; exit 3\n"


def test_a_fork_bomb_and_a_memory_bomb_end_as_build_errors_and_leave_nothing(tmp_path):
    from dockyard import daemon
    from grader.context import GRADER_LABEL, Context
    from grader.errors import BuildError

    if buildkit.find_cli() is None:
        pytest.skip("no docker CLI before 23 on this machine (Debian's docker.io brings one)")
    # the sandbox could hold the memory bomb (400 MiB of 1 GiB): the build's own cap (256 MiB) is what stops it
    with make_sandbox(memory="1g", pids=256) as box:
        ctx = Context(box.client, submission=tmp_path, sandbox=box, builder="buildkit", memory="256m")
        builds = box.cgroup.hierarchy.root / "memory" / box.cgroup.name / "buildkit"
        try:
            (tmp_path / "fork").mkdir()
            (tmp_path / "fork" / "Dockerfile").write_text(FORK_BOMB)
            with pytest.raises(BuildError) as fork:
                ctx.build(tmp_path / "fork", tag="lab/fork", timeout=120)
            assert fork.value.step == "[2/2] RUN mkfifo /wait; f(){ f | f & }; f; read -t 10 x <> /wait; exit 3"
            assert "exit code: 3" in str(fork.value), fork.value.log[-2000:]
            assert box.cgroup.pids_max_hits() > 0 or "can't fork" in fork.value.log or \
                "Resource temporarily unavailable" in fork.value.log, fork.value.log[-2000:]
            (tmp_path / "memory").mkdir()
            (tmp_path / "memory" / "Dockerfile").write_text(
                "FROM busybox\nRUN dd if=/dev/zero of=/dev/null bs=400M count=1\n")
            with pytest.raises(BuildError) as mem:
                ctx.build(tmp_path / "memory", tag="lab/memory", timeout=120)
            assert "exit code: 137" in str(mem.value), mem.value.log[-2000:]  # SIGKILL: the OOM killer
            assert mem.value.step == "[2/2] RUN dd if=/dev/zero of=/dev/null bs=400M count=1"
            if builds.is_dir():  # cgroup v1: the build cap is given back, and it held
                assert int((builds / "memory.limit_in_bytes").read_text()) > 2**60
                assert int((builds / "memory.max_usage_in_bytes").read_text()) <= 256 * 1024**2
            # the daemon answers, and builds again
            assert daemon.ping(box.cfg.socket, timeout=5)
            (tmp_path / "ok").mkdir()
            (tmp_path / "ok" / "Dockerfile").write_text("FROM busybox\nRUN echo fine\n")
            assert ctx.build(tmp_path / "ok", tag="lab/ok").image_id.startswith("sha256:")
        finally:
            ctx.cleanup()
        assert not box.cgroup.procs(nested=True), "processes of the bombs are left in the sandbox's cgroup"
        assert not box.client.api.containers(all=True, filters={"label": GRADER_LABEL})
        assert not box.client.images.list(name="dockyard-grade/*")
