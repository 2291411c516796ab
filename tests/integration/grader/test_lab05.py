"""Lab 05 end to end: the reference solution gets full marks, every broken variant
fails exactly the checks its expected.yaml names, and the outline's own Dockerfiles
get messages that name their real faults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import grader
from dockyard import buildkit
from grader.context import GRADER_LABEL
from tests.outline_dockerfiles import OUTLINE_API, OUTLINE_NODE, OUTLINE_VENV

LAB = Path(__file__).resolve().parents[3] / "labs" / "05-dockerfile"
VARIANTS = sorted(p for p in (LAB / "broken").iterdir() if (p / "expected.yaml").exists())


@pytest.fixture(scope="module")
def lab():
    return grader.load(LAB)


def no_grader_leftovers(client):
    left = client.containers.list(all=True, filters={"label": GRADER_LABEL})
    assert left == [], [c.name for c in left]


def test_solution_gets_full_marks(sandbox, lab):
    report = grader.grade(lab, sandbox=sandbox, submission=LAB / "solution")
    assert report.score == report.total == lab.total, report.table()
    no_grader_leftovers(sandbox.client)
    # built with BuildKit, the default, where a CLI can use it through the seal (its log numbers each step #N)
    build = next(r for r in report.results if r.evidence.get("image_id"))
    assert ("#" in build.evidence["log"] and "DONE" in build.evidence["log"]) == (buildkit.find_cli() is not None), \
        build.evidence["log"]


def test_at_least_six_broken_variants():
    assert len(VARIANTS) >= 6


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_broken_variant_fails_exactly_what_it_should(sandbox, lab, variant):
    expected = set(yaml.safe_load((variant / "expected.yaml").read_text())["failing"])
    report = grader.grade(lab, sandbox=sandbox, submission=variant)
    failing = {r.id for r in report.results if not r.passed}
    assert failing == expected, report.table()
    points = {c.id: c.points for _, c in lab.checks()}
    assert report.score == lab.total - sum(points[i] for i in expected)
    for r in report.results:
        if not r.passed:
            assert r.message and r.message != "failed", r
            assert r.status == "failed", f"{r.id} errored instead of failing: {r.message}"
    no_grader_leftovers(sandbox.client)


@pytest.mark.parametrize("dockerfile,faults", [
    (OUTLINE_API, {"exec-form": ["ufw allow 5000"], "no-maintainer": ["MAINTAINER"],
                          "base-image": ["ubuntu:18.04"], "builds": ["ubuntu:18.04"]}),
    (OUTLINE_NODE, {"base-image": ["node:current-slim"], "builds": ["node:current-slim"]}),
    (OUTLINE_VENV, {"shell-pitfalls": ["source", "export"], "exec-form": ["mkvirtualenv"],
                          "base-image": ["ubuntu:focal"]}),
], ids=["python-api", "node", "virtualenv"])
def test_outline_dockerfiles_get_messages_that_name_their_faults(sandbox, lab, tmp_path, dockerfile, faults):
    (tmp_path / "Dockerfile").write_text(dockerfile)
    report = grader.grade(lab, sandbox=sandbox, submission=tmp_path)
    by_id = {r.id: r for r in report.results}
    for check_id, words in faults.items():
        r = by_id[check_id]
        assert not r.passed, f"{check_id} should fail for this Dockerfile"
        for word in words:
            assert word in r.message, f"{check_id}: {word!r} not in {r.message!r}"
        assert r.hint, f"{check_id} gives no hint"


def run_pytest_lab(sandbox, submission, tmp_path):
    env = dict(os.environ, **sandbox.env())
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--lab", str(LAB), "--submission",
           str(submission), "--sandbox", sandbox.name, "--grade-json", str(tmp_path / "grade.json"),
           "--grade-junit", str(tmp_path / "grade.xml"), "-q"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)


def test_pytest_plugin_full_marks_for_the_solution(sandbox, tmp_path, lab):
    res = run_pytest_lab(sandbox, LAB / "solution", tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"score: {lab.total:g}/{lab.total:g}" in res.stdout
    data = json.loads((tmp_path / "grade.json").read_text())
    assert data["score"] == data["total"] == lab.total
    assert "<testsuite" in (tmp_path / "grade.xml").read_text()


def test_pytest_plugin_fails_a_broken_variant_with_the_learners_message(sandbox, tmp_path, lab):
    res = run_pytest_lab(sandbox, LAB / "broken" / "runs-as-root", tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "non-root" in res.stdout and "hint:" in res.stdout
    assert json.loads((tmp_path / "grade.json").read_text())["score"] == lab.total - 2
