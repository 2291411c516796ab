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
from dockyard.learner import LearnerSession
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
