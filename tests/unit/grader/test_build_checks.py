"""build.succeeds against recorded build outcomes (data/builds.json: real BuildError fields from a sandbox)."""

from __future__ import annotations

import pytest

from dockyard.seed import RECIPES
from grader.checks import build
from grader.context import BuildResult
from grader.errors import BuildError, BuildTimeout
from tests.unit.grader.fakes import FakeContext, load_data, run_check

RECORDED = load_data("builds")


def recorded_error(name: str) -> BuildError:
    r = RECORDED[name]
    cls = BuildTimeout if r["type"] == "BuildTimeout" else BuildError
    return cls(r["problem"], step=r["step"], output=r["output"], log=r["log"])


@pytest.fixture
def submission(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox:latest\n")
    return tmp_path


def succeeds(submission, answer, **params):
    ctx = FakeContext(submission=submission, builds={"lab/web": answer})
    params.setdefault("tag", "lab/web")
    return ctx, run_check("build.succeeds", ctx, **params)


def failed(outcome, reason):
    assert not outcome.passed, outcome
    assert outcome.reason == reason, outcome
    assert outcome.hint, outcome
    return outcome


def test_success_quotes_time_and_cache(submission):
    r = RECORDED["ok"]
    result = BuildResult("dockyard-grade/lab-web:x", "sha256:" + "1" * 64, r["log"], 2.345, 1)
    ctx, o = succeeds(submission, result, timeout=60)
    assert o.passed, o
    assert o.message == "built lab/web in 2.3 s (1 of 5 steps from cache)"
    assert o.evidence["image_id"] == result.image_id
    (context_dir, dockerfile, tag), kw = ctx.calls_to("build")[0]
    assert context_dir == submission and dockerfile == "Dockerfile" and tag == "lab/web" and kw["timeout"] == 60


def test_context_and_dockerfile_params(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "web.Dockerfile").write_text("FROM busybox:latest\n")
    ctx = FakeContext(submission=tmp_path, builds={"t": BuildResult("t", "sha256:1", "", 0.1, 0)})
    assert run_check("build.succeeds", ctx, context="app", dockerfile="web.Dockerfile", tag="t").passed
    (context_dir, dockerfile, _), _ = ctx.calls_to("build")[0]
    assert context_dir == tmp_path / "app" and dockerfile == "web.Dockerfile"


def test_missing_dockerfile(tmp_path):
    ctx, o = succeeds(tmp_path, None)
    failed(o, "missing")
    assert "Dockerfile does not exist" in o.message
    assert not ctx.calls_to("build")


def test_failing_run_names_step_and_output(submission):
    _, o = succeeds(submission, recorded_error("run_fails"))
    failed(o, "build_failed")
    assert "`Step 3/6 : RUN ls /nonexistent-dir`" in o.message
    assert "ls: /nonexistent-dir: No such file or directory" in o.message
    assert "\x1b[" not in o.message and "\x1b[" not in o.evidence["output"]  # colour codes stripped
    assert o.evidence["cause"] == "run_failed"
    assert "RUN command itself failed" in o.hint and "ls /nonexistent-dir" in o.hint
    assert o.evidence["step"] == "Step 3/6 : RUN ls /nonexistent-dir"


def test_missing_file_in_context(submission):
    _, o = succeeds(submission, recorded_error("copy_missing"))
    failed(o, "build_failed")
    assert "COPY requirements.txt /app/" in o.message and "file does not exist" in o.message
    assert o.evidence["cause"] == "missing_file" and ".dockerignore" in o.hint


def test_program_not_installed(submission):
    _, o = succeeds(submission, recorded_error("not_installed"))
    assert o.evidence["cause"] == "not_installed"
    assert "pip3: not found" in o.message and "not installed in the base image" in o.hint


def test_base_unavailable(submission):
    _, o = succeeds(submission, recorded_error("base_unavailable"))
    failed(o, "build_failed")
    assert "FROM ubuntu:18.04" in o.message
    assert o.evidence["cause"] == "base_unavailable" and "offline" in o.hint
    for r in RECIPES:
        assert r.name in o.hint


@pytest.mark.parametrize("output", ["pull access denied for nosuch, repository does not exist",
                                    "manifest for python:3.99 not found: manifest unknown: manifest unknown"])
def test_base_unavailable_messages(output):
    assert build.classify("Step 1/3 : FROM x", output) == "base_unavailable"
    assert build.classify(None, output) == "base_unavailable"


def test_hints_differ_by_cause(submission):
    hints = {succeeds(submission, recorded_error(n))[1].hint
             for n in ("run_fails", "copy_missing", "not_installed", "base_unavailable")}
    assert len(hints) == 4


def test_timeout(submission):
    err = BuildTimeout("the build did not finish within 5 s", step="Step 2/3 : RUN sleep 300",
                       output="---> Running in 0123abcd", log="Step 1/3 : FROM busybox\nStep 2/3 : RUN sleep 300\n")
    _, o = succeeds(submission, err, timeout=5)
    failed(o, "timeout")
    assert "within 5 s" in o.message and "RUN sleep 300" in o.message
    assert "CMD" in o.hint and o.evidence["step"] == "Step 2/3 : RUN sleep 300"


def test_evidence_is_capped(submission):
    huge = "x" * 300 + "\n"
    err = BuildError("boom", step="Step 2/2 : RUN make", output=huge * 100 + "returned a non-zero code: 2",
                     log=huge * 1000)
    _, o = succeeds(submission, err)
    assert len(o.evidence["output"]) <= build.EVIDENCE_CAP and len(o.evidence["log"]) <= build.EVIDENCE_CAP
    assert len(o.message) < 1500


def test_failed_build_is_remembered_for_image_checks(submission):
    ctx, o = succeeds(submission, recorded_error("run_fails"))
    assert not o.passed
    o = run_check("image.user", ctx, image="lab/web")
    assert o.reason == "not_built"


# --- the same outcomes from BuildKit (the default builder): recorded through Context.build with the CLI ---------
def test_buildkit_success_counts_its_cached_steps(submission):
    r = RECORDED["bk_ok"]
    result = BuildResult("dockyard-grade/lab-web:x", "sha256:" + "1" * 64, r["log"], 0.68, r["cached_steps"])
    _, o = succeeds(submission, result)
    assert o.passed and o.message == "built lab/web in 0.7 s (3 of 4 steps from cache)", o


def test_buildkit_failing_run_names_step_and_output(submission):
    _, o = succeeds(submission, recorded_error("bk_run_fails"))
    failed(o, "build_failed")
    assert "`[3/5] RUN ls /nonexistent-dir`" in o.message
    assert "ls: /nonexistent-dir: No such file or directory" in o.message and "exit code: 1" in o.message
    assert o.evidence["cause"] == "run_failed" and o.evidence["step"] == "[3/5] RUN ls /nonexistent-dir"
    assert "RUN command itself failed" in o.hint and "`ls /nonexistent-dir`" in o.hint


@pytest.mark.parametrize("name, cause, quoted", [
    ("bk_copy_missing", "missing_file", '"/requirements.txt" not found'),
    ("bk_not_installed", "not_installed", "pip3: not found"),
    ("bk_base_unavailable", "base_unavailable", "ubuntu:18.04"),
])
def test_buildkit_causes_are_the_classic_ones(submission, name, cause, quoted):
    _, o = succeeds(submission, recorded_error(name))
    failed(o, "build_failed")
    assert o.evidence["cause"] == cause and quoted in o.message, o
    classic = {"bk_copy_missing": "copy_missing", "bk_not_installed": "not_installed",
               "bk_base_unavailable": "base_unavailable"}[name]
    assert o.hint == succeeds(submission, recorded_error(classic))[1].hint  # the same help, whichever builder


def test_buildkit_timeout_names_the_running_step(submission):
    _, o = succeeds(submission, recorded_error("bk_timeout"), timeout=6)
    failed(o, "timeout")
    assert "within 6 s" in o.message and "`[3/3] RUN echo sleeping; sleep 300`" in o.message
    assert o.evidence["output"] == "sleeping"


@pytest.mark.parametrize("output", ["executor failed running [/bin/sh -c make]: exit code: 2",
                                    'process "/bin/sh -c make" did not complete successfully: exit code: 2'])
def test_buildkit_run_failures_of_20_10_and_later_daemons(output):
    assert build.classify("[2/2] RUN make", output) == "run_failed"
    assert build.classify("[2/2] RUN make", "/bin/sh: make: not found\n" + output) == "not_installed"
    assert build.classify("[build 2/2] RUN make", output.replace(": 2", ": 127")) == "not_installed"


def test_a_frontend_of_the_hand_ins_choosing_is_refused_before_any_build(tmp_path):
    """# syntax= names an image BuildKit would run with the grader's session: never built, a clear BuildError."""
    import pytest

    from grader.context import Context
    from grader.workbench import _syntax_directive

    (tmp_path / "Dockerfile").write_text("# syntax=evil/frontend:1\nFROM busybox\n")
    assert _syntax_directive(tmp_path / "Dockerfile") == "evil/frontend:1"
    (tmp_path / "late").write_text("FROM busybox\n# syntax=evil/frontend:1\n")  # a comment there, not a directive
    assert _syntax_directive(tmp_path / "late") is None
    ctx = Context(None, submission=tmp_path, builder="buildkit")
    with pytest.raises(BuildError, match="evil/frontend:1"):
        ctx.workbench._build_buildkit(tmp_path, "Dockerfile", "k", "t", 10)


def test_a_build_reads_a_private_copy_of_its_context_made_without_following_links(tmp_path):
    """The builder opens files by name as the grader: it is given a copy in which a link out is gone."""
    import os

    from grader.workbench import private_copy

    (tmp_path / "secret").write_text("root only\n")
    hand_in = tmp_path / "hand-in"
    hand_in.mkdir()
    (hand_in / "Dockerfile").write_text("FROM busybox\nCOPY . /app\n")
    os.symlink(tmp_path / "secret", hand_in / "notes.txt")
    os.symlink("Dockerfile", hand_in / "inside")
    with private_copy(hand_in) as copy:
        assert copy != hand_in and oct(copy.stat().st_mode & 0o777) == "0o700"
        assert (copy / "Dockerfile").read_text() == "FROM busybox\nCOPY . /app\n"
        assert not os.path.lexists(copy / "notes.txt") and os.readlink(copy / "inside") == "Dockerfile"
    assert not copy.exists()
