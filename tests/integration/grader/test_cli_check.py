"""`dockyard check` and `dockyard progress`, as a learner runs them in a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

LAB = Path(__file__).resolve().parents[3] / "labs" / "05-dockerfile"


def dockyard(sandbox, *args):
    env = dict(os.environ, DOCKYARD_SANDBOX=sandbox.name)
    env.pop("DOCKER_HOST", None)
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_check_prints_the_table_records_progress_and_exits_by_result(sandbox):
    progress = sandbox.cfg.dir / "progress.json"
    progress.unlink(missing_ok=True)
    res = dockyard(sandbox, "check", "05", "--submission", str(LAB / "broken" / "runs-as-root"))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "16.5/18.5 points" in res.stdout
    assert "✗ The image runs as a non-root user [0/2]" in res.stdout and "hint:" in res.stdout

    res = dockyard(sandbox, "check", "05-dockerfile", "--submission", str(LAB / "solution"), "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["score"] == 18.5

    res = dockyard(sandbox, "progress")
    assert "05-dockerfile" in res.stdout and "best 18.5/18.5" in res.stdout and "attempts 2" in res.stdout
    assert json.loads(progress.read_text())["05-dockerfile"]["best"] == 18.5


def test_check_validate_and_a_broken_spec(sandbox, tmp_path):
    res = dockyard(sandbox, "check", "05", "--validate")
    assert res.returncode == 0 and "valid (15 checks in 6 tasks, 18.5 points)" in res.stdout
    (tmp_path / "lab.yaml").write_text("schema_version: 1\nid: x\ntitle: X\ntasks:\n  - id: a\n    checks:\n"
                                       "      - check: image.usr\n")
    res = dockyard(sandbox, "check", str(tmp_path), "--validate")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert f"{tmp_path / 'lab.yaml'}:7: unknown check 'image.usr'" in res.stderr
