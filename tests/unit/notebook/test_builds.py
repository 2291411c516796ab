"""dockyard.notebook.builds: BuildKit's plain progress (and the legacy builder's log) folded into steps.

The logs in data/ are real: Debian's docker 20.10 CLI with DOCKER_BUILDKIT=1 (and =0 for the legacy ones)
against a sandbox's daemon, building the same three-stage Dockerfile (FROM busybox AS base / WORKDIR /srv /
RUN echo ... ; FROM base AS test / RUN echo testing ; FROM busybox / COPY --from=base / CMD)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.notebook import builds

DATA = Path(__file__).parent / "data"


def fold(name: str) -> tuple[builds.BuildLog, list[builds.Step]]:
    log, finished = builds.BuildLog(), []
    for line in (DATA / name).read_text().splitlines(keepends=True):
        step = log.feed(line)
        if step is not None:
            finished.append(step)
    return log, finished


def test_a_first_buildkit_build_reads_as_its_stages_steps_with_their_output_and_times():
    log, finished = fold("buildkit-multistage.txt")
    assert [(s.stage, s.k, s.n, s.instruction) for s in finished] == [
        ("base", 1, 3, "FROM docker.io/library/busybox"),
        ("base", 2, 3, "WORKDIR /srv"),
        ("base", 3, 3, "RUN echo hello from base && echo second line"),
        ("stage-2", 2, 2, "COPY --from=base /srv /srv"),
    ]
    run = finished[2]
    assert run.state == "done" and run.seconds == pytest.approx(0.8)
    assert run.output == ["hello from base", "second line"]
    assert str(run) == "[base 3/3] RUN echo hello from base && echo second line  (0.8 s)"
    # the test stage is not needed by the last stage, so BuildKit never announces it
    assert not any(s.stage == "test" for s in log.steps.values())
    assert log.total == 5 and log.done == 4 and not log.cached and log.error is None
    assert log.image_id and log.image_id.startswith("sha256:") and len(log.image_id) == 71


def test_an_unchanged_rebuild_is_all_cached():
    log, finished = fold("buildkit-cached.txt")
    assert sorted(s.instruction for s in log.cached) == ["COPY --from=base /srv /srv",
                                                         "RUN echo hello from base && echo second line", "WORKDIR /srv"]
    assert all(s.output == [] for s in log.cached)
    assert "[base 2/3] WORKDIR /srv  (CACHED)" in map(str, log.cached)
    assert len(finished) == len(log.steps)  # a step reported twice finishes once


def test_a_failing_step_keeps_its_output_and_the_error():
    log, finished = fold("buildkit-error.txt")
    failed = [s for s in log.steps.values() if s.state == "error"]
    assert len(failed) == 1 and failed[0].instruction == "RUN echo about to fail && false"
    assert failed[0].output == ["about to fail"]
    assert log.error == "executor failed running [/bin/sh -c echo about to fail && false]: exit code: 1"
    assert log.image_id is None and [s.k for s in finished] == [1]


def test_the_legacy_builders_log_folds_the_same_way_and_builds_every_stage():
    log, finished = fold("legacy.txt")
    assert [(s.k, s.n) for s in finished] == [(k, 8) for k in range(1, 9)]
    assert finished[4].instruction == "RUN echo testing"  # the classic builder builds the unused stage too
    assert "testing" in finished[4].output
    assert log.total == 8 and log.done == 8 and log.image_id
    cached, _ = fold("legacy-cached.txt")
    assert [s.k for s in cached.cached] == [2, 3, 5, 7, 8]


def test_fraction_grows_as_stages_are_announced():
    log = builds.BuildLog()
    assert log.fraction() == 0.0
    log.feed("#4 [base 1/3] FROM docker.io/library/busybox")
    log.feed("#4 DONE 0.1s")
    assert log.fraction() == pytest.approx(1 / 3)
    log.feed("#7 [stage-2 2/2] COPY --from=base /srv /srv")
    assert log.total == 5 and log.fraction() == pytest.approx(1 / 5)


@pytest.mark.parametrize("cmd, expected", [
    ("docker build -t a .", "docker build --progress=plain -t a ."),
    ("docker image build -t a .", "docker image build --progress=plain -t a ."),
    ("cd x && docker build .", "cd x && docker build --progress=plain ."),
    ("docker build --progress=tty .", "docker build --progress=tty ."),
])
def test_plain_progress_is_asked_for_unless_the_command_names_one(cmd, expected):
    assert builds.with_plain_progress(cmd) == expected


def test_build_runs_the_command_prints_each_step_and_raises_on_failure(monkeypatch, tmp_path, capsys):
    """build() end to end, with a stand-in `docker` on PATH that prints a recorded log (no daemon needed)."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "docker").write_text("#!/bin/sh\ncat \"$LOG\" >&2\n[ \"$LOG\" = \"${LOG%error.txt}\" ]\n")
    (fake / "docker").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    monkeypatch.setattr(builds, "sandbox", lambda: type("Box", (), {"env": lambda self: {}})())
    monkeypatch.setenv("LOG", str(DATA / "buildkit-multistage.txt"))
    log = builds.build("docker build -t fx:1 .")
    out = capsys.readouterr().out
    assert out.startswith("$ docker build --progress=plain -t fx:1 .\n")
    assert "[base 3/3] RUN echo hello from base && echo second line  (0.8 s)\n" in out
    assert "built fx:1 in" in out and "5 steps, 0 from the cache" in out
    assert log.done == 4

    monkeypatch.setenv("LOG", str(DATA / "buildkit-error.txt"))
    with pytest.raises(builds.CommandFailed, match="exit code: 1") as err:
        builds.build("docker build -t fx:bad .", show="none")
    assert "about to fail" in err.value.output
    log = builds.build("docker build -t fx:bad .", check=False, show="none")
    assert log.error and "the build failed" in capsys.readouterr().out


def test_the_context_sent_is_read_from_the_load_build_context_step():
    """BuildKit sends only the files the Dockerfile uses (COPY app.sh: not the 3 MB log), and .dockerignore's
    own transfer (load .dockerignore) is not the context."""
    plain, _ = fold("buildkit-context.txt")
    ignored, _ = fold("buildkit-context-ignored.txt")
    assert plain.context_sent == "36B" and ignored.context_sent == "27B"
    assert fold("buildkit-multistage.txt")[0].context_sent is None  # nothing copied from the context
    legacy, _ = fold("legacy.txt")
    assert legacy.context_sent == "3.072kB"


@pytest.mark.parametrize("cmd, tag", [
    ("docker build -t hello:1 hello/", "hello:1"), ("docker build --tag 'a b' .", "a b"),
    ("docker build .", "build"), ("docker build -t", "build"), ("docker build -ta:1 .", "build"),
])
def test_the_bar_is_titled_with_the_tag(cmd, tag):
    assert builds._tag(cmd) == tag


def test_each_show_mode_prints_its_share_of_a_line(capsys):
    step = builds.Step("", 2, 2, "RUN echo hi", state="done", seconds=0.25, output=["hi", "there"])
    for show in ("steps", "output", "all", "none"):
        builds._show("#6 DONE 0.3s\n", step, show)
    builds._show("#6 0.1 hi\n", None, "output")  # a line that finished no step prints nothing but in "all"
    assert capsys.readouterr().out == ("[2/2] RUN echo hi  (0.2 s)\n"
                                       "[2/2] RUN echo hi  (0.2 s)\n    hi\n    there\n"
                                       "#6 DONE 0.3s\n")


def test_the_bar_names_the_last_started_running_step():
    log = builds.BuildLog()
    assert builds._running(log) == ""
    for line in ("#4 [1/3] FROM busybox", "#5 [2/3] WORKDIR /srv", "#6 [3/3] RUN true", "#6 DONE 0.1s"):
        log.feed(line)
    assert builds._running(log) == "WORKDIR /srv"


def test_a_failure_shows_the_failed_steps_last_output_or_else_the_logs_last_lines():
    log, _ = fold("buildkit-error.txt")
    assert builds._failure_detail(log) == ("[2/2] RUN echo about to fail && false  (error)\n    about to fail\n"
                                           + log.error)
    bare = builds.BuildLog()
    for i in range(20):
        bare.feed(f"line {i}")
    assert builds._failure_detail(bare) == "\n".join(f"line {i}" for i in range(5, 20))


def test_a_step_reported_twice_finishes_once_and_a_stray_error_is_the_builds():
    log = builds.BuildLog()
    assert log.feed("#3 ERROR: failed to solve: no such file") is None
    assert log.error == "failed to solve: no such file"
    log.feed("#4 [1/1] FROM busybox")
    assert log.feed("#4 DONE 0.1s") is log.steps["4"]
    assert log.feed("#4 CACHED") is None and log.steps["4"].state == "done"
    assert log.feed("#9 CANCELED") is None and log.lines[-1] == "#9 CANCELED"


def test_the_summary_counts_steps_and_cache_and_names_the_context_sent():
    log, _ = fold("buildkit-context.txt")
    assert builds._summary("app:1", 1.25, log).startswith("built app:1 in 1.2 s: ")
    assert builds._summary("app:1", 1.25, log).endswith("from the cache; context sent: 36B")
