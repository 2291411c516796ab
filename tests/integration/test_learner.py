"""The learner's kernel under `dockyard lab`: an unprivileged uid, a private view, checks run by root's process.

A notebook of hostile and ordinary cells runs through the real launcher (the fenced kernelspec
with the learner's plan, as the JupyterLab server's kernels inherit it). Every attack must fail,
every teaching use must work, and the course must be left byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import os
import sys
import textwrap
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from grader.learner import LearnerSession
from grader.course import worker

from .conftest import make_sandbox

REPO = Path(__file__).resolve().parents[2]

CELLS = [
    # who am I, and what do I see
    """
    import glob, json, os
    from pathlib import Path
    REPO, HOME = os.environ["T_REPO"], os.environ["DOCKYARD_HOME"]
    seen = {"uid": os.getuid(), "groups": os.getgroups(),
            "labs": sorted(os.listdir(f"{REPO}/labs")), "git": os.listdir(f"{REPO}/.git") if os.path.isdir(f"{REPO}/.git") else [],
            "checks": os.listdir(f"{REPO}/notebooks/checks"), "root": os.listdir("/root"),
            "home": sorted(os.listdir(HOME)), "run_dockyard": os.listdir("/run/dockyard"),
            "code": os.path.exists(f"{REPO}/dockyard/sandbox.py")}
    """,
    # writes to the course and the host
    """
    wrote = []
    for target in (f"{os.environ['T_REPO']}/dockyard/lab.py", "/etc/passwd", "/usr/local/bin/pwned",
                   f"{os.environ['T_REPO']}/notebooks/00-welcome.ipynb"):
        try:
            with open(target, "a") as fh:
                fh.write("# pwned\\n")
            wrote.append(target)
        except OSError:
            pass
    seen["wrote"] = wrote
    try:
        open("/etc/shadow").read()
        seen["shadow"] = True
    except OSError:
        seen["shadow"] = False
    """,
    # the sandbox works, and asks the daemon only through the seal
    """
    from dockyard.notebook import sh, ns_ids, pid_of
    sh("docker run -d --name learner-a busybox sleep 600")
    seen["ns"] = ns_ids(pid_of("learner-a"))
    seen["own_ns"] = ns_ids()
    from dockyard.service_client import ServiceError
    try:
        ns_ids(1)  # the host's init: not one of this sandbox's containers
        seen["init_ns"] = "read"
    except (ServiceError, PermissionError) as exc:
        seen["init_ns"] = str(exc)
    seen["privileged"] = sh("docker run --rm --privileged busybox true", check=False).returncode
    sh("docker rm -f learner-a")
    """,
    # a check, graded by the service in the grader's process
    """
    import grader
    report = grader.check("01-namespaces", task="pid-shared", widget=False)
    seen["check"] = [report.lab, report.total > 0, [r.id for r in report.results]]
    try:
        grader.check("../../etc", widget=False)
    except Exception as exc:
        seen["bad_lab"] = str(exc)
    try:
        grader.check("05-dockerfile", submission="/etc", widget=False)
    except Exception as exc:
        seen["outside"] = str(exc)
    """,
    # a graded lab, as the learner's copy has it: its test cells' checks run in the grader's process
    """
    from grader.autograde import award, GraderError
    os.chdir("labs/05-dockerfile")
    seen["lab_files"] = sorted(os.listdir("."))
    seen["award_before"] = award("05-dockerfile", "build")
    import shutil
    for name in ("Dockerfile", ".dockerignore"):
        shutil.copy(os.path.join(os.environ["T_SOLUTION"], name), name)
    seen["award_after"] = award("05-dockerfile", "build")
    try:
        award("05-dockerfile", "no-secrets-in-image")
    except GraderError as exc:
        seen["hidden"] = str(exc)
    os.chdir("../..")
    with open("seen.json", "w") as fh:
        json.dump(seen, fh)
    """,
]


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


def test_learner_kernel_is_unprivileged_and_sees_only_its_own(tmp_path, monkeypatch):
    before = {d: _digest(REPO / d) for d in ("labs", "dockyard", "notebooks")}
    work = tmp_path / "work"
    solution = work / "answer"  # where the kernel can read it: the labs are hidden from it, /tmp is its own
    shutil.copytree(REPO / "labs" / "05-dockerfile" / "solution", solution)
    with make_sandbox(workspace=(str(work),)) as box:
        with LearnerSession(box, REPO / "notebooks", work=work) as learner:
            assert (work / "01-namespaces.ipynb").exists() and not (work / "checks").exists()
            env = learner.env(dict(os.environ))
            for key, value in {**env, "JUPYTER_PATH": str(worker.kernelspec(tmp_path / "ks")),
                               "T_REPO": str(REPO), "T_SOLUTION": str(solution)}.items():
                monkeypatch.setenv(key, value)
            nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(c)) for c in CELLS])
            NotebookClient(nb, timeout=120, kernel_name=worker.KERNEL,
                           resources={"metadata": {"path": str(work)}}).execute()
            seen = json.loads((work / "seen.json").read_text())
            assert learner.uid != 0 and seen["uid"] == learner.uid and seen["groups"] == []
            assert (work / "seen.json").stat().st_uid == learner.uid  # its own files are its own
            # the labs (specs, hidden checks, solutions), history, self-check specs: empty folders; /root too,
            # but for the ways to what was put back (the work folder, the code, this Python)
            assert seen["labs"] == [] and seen["git"] == [] and seen["checks"] == []
            ways = {Path(p).relative_to("/root").parts[0] for p in (work, sys.prefix, sys.base_prefix, REPO, box.cfg.home)
                    if str(p).startswith("/root/")}
            assert set(seen["root"]) <= ways, seen["root"]
            assert seen["run_dockyard"] == []
            # of the Dockyard home, only the way to its own work folder and sandbox is there
            assert set(seen["home"]) <= {"work", box.name}, seen["home"]
            assert seen["code"], "the kernel must still run Dockyard's own code"
            assert seen["wrote"] == [] and seen["shadow"] is False
            # namespaces of its own container, read by the service; not of the host's processes
            assert set(seen["ns"]) >= {"mnt", "pid", "net"} and seen["ns"]["pid"] != seen["own_ns"]["pid"]
            assert "not in one of your sandbox's containers" in seen["init_ns"]
            assert seen["privileged"] != 0
            assert seen["check"][0] == "01-namespaces" and seen["check"][1]
            assert "no lab called" in seen["bad_lab"]
            assert "outside your work folder" in seen["outside"]
            # the learner's copy of lab 05: the notebook without solutions, the starter files; graded by the service
            assert {"05-dockerfile.ipynb", "app.py", "secrets.env"} <= set(seen["lab_files"])
            assert "### BEGIN SOLUTION" not in (work / "labs/05-dockerfile/05-dockerfile.ipynb").read_text()
            assert seen["award_before"] == 0 and seen["award_after"] == 5
            assert "hidden checks run only when your hand-in is graded" in seen["hidden"]
            # only the learner's uid (and root) may ask
            assert (os.stat(learner.service.socket).st_mode & 0o777) == 0o600
            assert os.stat(learner.service.socket).st_uid == learner.uid
            assert os.stat(box.cfg.socket).st_uid == learner.uid
            fence = learner.fence.cg
        assert os.stat(box.cfg.socket).st_uid == 0, "the sandbox's socket is root's again after the lab"
        assert not fence.exists(), "the learner's cgroup outlived the lab"
    assert {d: _digest(REPO / d) for d in before} == before, "the course changed"
