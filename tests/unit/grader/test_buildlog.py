"""Reading build output of both builders (grader.buildlog), on recorded builds (data/builds.json)."""

from __future__ import annotations

from grader import buildlog
from tests.unit.grader.fakes import load_data

RECORDED = load_data("builds")

# two stages, their lines interleaved as BuildKit prints vertices that run at once
MULTI = """\
#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s

#5 [build 2/3] RUN make app
#6 [stage-1 2/3] RUN apk add curl
#5 0.101 cc -o app app.c
#6 0.200 fetch curl
#6 DONE 1.2s
#5 0.300 app.c:3: error: expected ';'
#5 ERROR: executor failed running [/bin/sh -c make app]: exit code: 2
#7 [stage-1 3/3] COPY --from=build /app /app
#7 CANCELED
------
 > [build 2/3] RUN make app:
------
executor failed running [/bin/sh -c make app]: exit code: 2
"""


def test_the_failing_step_is_found_by_its_number_not_its_place():
    assert buildlog.is_buildkit(MULTI)
    assert buildlog.last_step(MULTI) == "[build 2/3] RUN make app"
    assert buildlog.since_step(MULTI) == ("cc -o app app.c\napp.c:3: error: expected ';'\n"
                                          "executor failed running [/bin/sh -c make app]: exit code: 2")
    assert buildlog.error(MULTI) == "executor failed running [/bin/sh -c make app]: exit code: 2"
    assert buildlog.total_steps(MULTI) == 3


def test_a_build_stopped_at_its_timeout_names_the_step_still_running():
    log = RECORDED["bk_timeout"]["log"]
    assert buildlog.last_step(log) == "[3/3] RUN echo sleeping; sleep 300"
    assert buildlog.since_step(log) == "sleeping"


def test_a_base_image_that_cannot_be_had_fails_before_any_step():
    log = RECORDED["bk_base_unavailable"]["log"]
    step = buildlog.last_step(log)
    assert step == "[internal] load metadata for docker.io/library/ubuntu:18.04"
    assert buildlog.instruction(step) == "FROM"
    assert "proxyconnect" in buildlog.since_step(log)


def test_cached_steps_of_both_builders():
    assert buildlog.cached_steps(RECORDED["bk_ok"]["log"]) == 3  # RUN, WORKDIR, COPY; never FROM
    assert buildlog.total_steps(RECORDED["bk_ok"]["log"]) == 4
    classic = RECORDED["ok"]["log"]
    assert not buildlog.is_buildkit(classic)
    assert buildlog.cached_steps(classic) == RECORDED["ok"]["cached_steps"]
    assert buildlog.cached_steps("", [" ---> Using cache\n", "Step 3/3 : RUN x\n", " ---> Using cache\n"]) == 2


def test_classic_steps_as_before():
    log = RECORDED["run_fails"]["log"]
    assert buildlog.last_step(log) == "Step 3/6 : RUN ls /nonexistent-dir"
    assert buildlog.since_step(log).startswith("---> Running in")
    assert buildlog.total_steps(log) == 6
    assert buildlog.last_step("nothing yet") is None and buildlog.since_step("nothing yet") == "nothing yet"


def test_instruction_and_command_of_either_form():
    for step in ("Step 3/6 : RUN make -j2", "[3/6] RUN make -j2", "[build 3/6] RUN make -j2"):
        assert buildlog.instruction(step) == "RUN" and buildlog.command(step) == "make -j2"
    assert buildlog.instruction("[2/2] COPY a b") == "COPY" and buildlog.command("[2/2] COPY a b") == "COPY a b"
    assert buildlog.instruction(None) == "" and buildlog.command(None) == ""
