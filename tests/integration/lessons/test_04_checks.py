"""Lesson 04's self-checks: each Try it solved the way the notebook asks passes; wrong attempts fail usefully.

The exercises are done here as a learner would, with the docker CLI pointed at the sandbox.
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import nbformat
import pytest

import grader

from . import helpers
from .helpers import docker, assert_all_pass, assert_fails

LAB = "04-containers"
NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "04-containers.ipynb"
NAMES = ["try-web", "try-detached", "try-stopped", "try-restart", "try-prefix"]
TRAP = """sh -c 'trap "echo got SIGTERM; exit 0" TERM; sleep 600 & wait'"""


@pytest.fixture
def box(sandbox, tracked):
    return helpers.without(sandbox, tracked, NAMES)


@pytest.fixture
def port_18080():
    """The publish try-it fixes host port 18080; say so plainly if something else on this machine holds it."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as docker-proxy does: TIME_WAIT is no obstacle
        try:
            s.bind(("127.0.0.1", 18080))
        except OSError:
            pytest.fail("127.0.0.1:18080 is in use by another program; the publish try-it needs it", pytrace=False)


def grade(box, task: str | None) -> dict:
    return helpers.grade(box, LAB, task)


def wait_for(box, name: str, program: str, budget: float = 5.0):
    """Wait until `program` runs in the container (a learner types the next command long after)."""
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        if program in docker(box, f"docker top {name} -o pid,comm").split():
            return
        time.sleep(0.1)
    raise AssertionError(f"{program} does not run in {name} after {budget} s")


def test_every_command_and_flag_of_the_syllabus_is_run_in_a_code_cell():
    code = "\n".join(c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code")
    for command in ("create", "start", "run", "ps", "pull", "inspect", "exec", "images", "logs", "stop", "kill",
                    "rm", "rmi", "pause", "unpause", "port", "attach"):
        assert re.search(rf"docker (container )?{command}\b", code), f"no code cell runs docker {command}"
    for flag in ("ps -a", "run -d", "run --rm -i ", "run --rm -t ", "-it ", "-p 127.0.0.1:", "-v {", ":ro",
                 "python:3.11-slim", "busybox:latest", "stop -t 3", "--restart always", "status=$s"):
        assert flag in code, f"no code cell uses {flag!r}"


def test_nothing_done_fails_every_check_with_a_start_hint(box):
    report = grader.grade(grader.find_lab(LAB), sandbox=box)
    assert report.score == 0
    for r in report.results:
        if r.id == "prefix-is-the-lessons":      # a label check: it names the container the lesson made
            assert_fails(r, "missing_object", "there is no container 'try-prefix'", hint="label=dockyard.try=prefix")
        else:
            assert_fails(r, "missing", "there is no container named", hint="docker run --name")


# --- publish: a host folder served read-only on 18080 --------------------------------------
WEB = "docker run -d --name try-web {p} -v {d}:/www{ro} busybox httpd -f -p 8080 -h /www"


@pytest.fixture
def www(tmp_path):
    (tmp_path / "index.html").write_text("hello from the host\n")
    return tmp_path


def test_publish_solution_passes(box, port_18080, www):
    docker(box, WEB.format(p="-p 127.0.0.1:18080:8080", d=www, ro=":ro"))
    results = grade(box, "publish")
    assert_all_pass(results)
    assert "HTTP 200" in results["web-published"].message


def test_publish_without_an_address_passes_too(box, port_18080, www):
    # this sandbox binds published ports to 127.0.0.1 anyway
    docker(box, WEB.format(p="-p 18080:8080", d=www, ro=":ro"))
    assert_all_pass(grade(box, "publish"))


def test_publish_the_outlines_way_round_fails_as_reversed(box, www):
    # the outline's order, -p CONTAINER:HOST, publishes host port 8080 to container port 18080
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 8080)) == 0:
            pytest.skip("host port 8080 is in use on this machine")
    docker(box, WEB.format(p="-p 127.0.0.1:8080:18080", d=www, ro=":ro"))
    r = grade(box, "publish")
    assert r["web-running"].passed and r["web-mount-ro"].passed
    assert_fails(r["web-published"], "reversed", "container port 8080/tcp of try-web is not published",
                 "host port 8080 is mapped to container port 18080/tcp", hint="-p 18080:8080")


def test_publish_on_another_host_port_fails_naming_both(box, www):
    docker(box, WEB.format(p="-p 127.0.0.1::8080", d=www, ro=":ro"))
    r = grade(box, "publish")
    assert_fails(r["web-published"], "wrong_host_port", "expected host port 18080", hint="-p 18080:8080")


def test_publish_with_httpd_in_the_background_fails_with_the_lessons_hint(box, port_18080, www):
    # without -f busybox httpd forks into the background, and the container's main process ends
    docker(box, f"docker run -d --name try-web -p 127.0.0.1:18080:8080 -v {www}:/www:ro busybox httpd -p 8080 -h /www")
    deadline = time.monotonic() + 10
    while "true" in docker(box, "docker inspect -f '{{.State.Running}}' try-web") and time.monotonic() < deadline:
        time.sleep(0.1)
    r = grade(box, "publish")
    assert_fails(r["web-running"], "not_running", "try-web is exited (exit code 0)", hint="httpd -f -p 8080")
    assert_fails(r["web-published"], "not_running", "needs it running")


def test_publish_with_a_writable_mount_fails_asking_for_ro(box, port_18080, www):
    docker(box, WEB.format(p="-p 127.0.0.1:18080:8080", d=www, ro=""))
    r = grade(box, "publish")
    assert r["web-published"].passed
    assert_fails(r["web-mount-ro"], "writable", "mounted read-write; expected read-only", hint=":ro")


def test_publish_of_a_named_volume_fails_as_wrong_type(box, tracked, port_18080):
    tracked["volumes"].append("try-web-data")
    docker(box, WEB.format(p="-p 127.0.0.1:18080:8080", d="try-web-data", ro=":ro"))
    assert_fails(grade(box, "publish")["web-mount-ro"], "wrong_type", "volume 'try-web-data'",
                 "expected a bind mount", hint="absolute host path")


def test_publish_with_the_folder_in_the_wrong_place_fails_listing_the_mounts(box, www):
    docker(box, f"docker run -d --name try-web -v {www}:/mnt:ro busybox httpd -f -p 8080 -h /mnt")
    assert_fails(grade(box, "publish")["web-mount-ro"], "missing", "nothing is mounted at /www", "/mnt (bind)")


# --- detached ------------------------------------------------------------------------
def test_detached_solution_passes(box):
    docker(box, "docker run -d --name try-detached -e GREETING=hello busybox sleep 3600")
    assert docker(box, "docker exec try-detached sh -c 'echo $GREETING'").strip() == "hello"
    assert_all_pass(grade(box, "detached"))


def test_detached_without_the_variable_fails_with_the_flag(box):
    r = helpers.graded_after(box, LAB, "detached", "docker run -d --name try-detached busybox sleep 3600")
    assert r["detached-running"].passed
    assert_fails(r["detached-greeting"], "missing", "GREETING is not set in container try-detached",
                 hint="docker run -e GREETING=hello")


def test_detached_with_another_value_fails_quoting_both(box):
    docker(box, "docker run -d --name try-detached -e GREETING=Hello busybox sleep 3600")
    assert_fails(grade(box, "detached")["detached-greeting"], "wrong_value", "'Hello'", "expected 'hello'")


def test_detached_container_whose_command_ended_fails_with_the_lessons_hint(box):
    r = helpers.graded_after(box, LAB, "detached",
                             "docker run --name try-detached -e GREETING=hello busybox echo hello")
    assert_fails(r["detached-running"], "not_running", "try-detached is exited (exit code 0)",
                 hint="sleep 3600")
    assert r["detached-greeting"].passed


# --- stopped -------------------------------------------------------------------------
def test_stopped_solution_passes(box):
    docker(box, f"docker run -d --name try-stopped busybox {TRAP}")
    wait_for(box, "try-stopped", "sleep")
    helpers.assert_solution_passes(box, LAB, "stopped", "docker stop try-stopped")


def test_stopped_sleep_as_pid1_fails_with_137_and_the_trap_hint(box):
    r = helpers.graded_after(box, LAB, "stopped",
                             "docker run -d --name try-stopped busybox sleep 600",
                             "docker stop -t 1 try-stopped")
    assert_fails(r["stopped-exit-0"], "wrong_exit_code", "exited with code 137", "expected exit code 0",
                 hint="137 means SIGKILL")
    assert_fails(r["stopped-said-goodbye"], "missing_text", "has logged nothing", hint="echo got SIGTERM")


def test_stopped_with_kill_fails_even_with_a_handler(box):
    docker(box, f"docker run -d --name try-stopped busybox {TRAP}")
    wait_for(box, "try-stopped", "sleep")
    r = helpers.graded_after(box, LAB, "stopped", "docker kill try-stopped")
    assert_fails(r["stopped-exit-0"], "wrong_exit_code", "exited with code 137")
    assert_fails(r["stopped-said-goodbye"], "missing_text")


def test_stopped_but_still_running_fails_asking_for_docker_stop(box):
    r = helpers.graded_after(box, LAB, "stopped", f"docker run -d --name try-stopped busybox {TRAP}")
    assert_fails(r["stopped-exit-0"], "still_running", "try-stopped is still running; expected exited",
                 hint="docker stop try-stopped")


# --- restart: on-failure:2 ------------------------------------------------------------------
FAILING = "busybox sh -c 'echo attempt; exit 3'"


def wait_until_not_restarting(box, name: str, budget: float = 30.0) -> str:
    """Wait until the daemon gave up restarting (the delays double: 100, 200, 400 ms ...); its status."""
    deadline = time.monotonic() + budget
    while True:
        status = docker(box, f"docker inspect -f '{{{{.State.Status}}}}' {name}").strip()
        if status == "exited" or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def test_restart_solution_passes_after_three_attempts(box):
    docker(box, f"docker run -d --name try-restart --restart on-failure:2 {FAILING}")
    assert wait_until_not_restarting(box, "try-restart") == "exited"
    assert docker(box, "docker logs try-restart").split() == ["attempt"] * 3
    assert_all_pass(grade(box, "restart"))


def test_restart_without_a_policy_fails_naming_the_policy(box):
    docker(box, f"docker run --name try-restart {FAILING}", ok=False)
    r = grade(box, "restart")
    assert r["restart-gave-up"].passed
    assert_fails(r["restart-policy"], "wrong_value", "restart policy of try-restart is no; expected on-failure:2",
                 hint="on-failure:2")


def test_restart_always_never_gives_up_and_fails_both(box):
    docker(box, f"docker run -d --name try-restart --restart always {FAILING}")
    deadline = time.monotonic() + 30          # until the daemon is between attempts at least once
    while docker(box, "docker inspect -f '{{.RestartCount}}' try-restart").strip() in ("0", "1") \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    r = grade(box, "restart")
    assert_fails(r["restart-policy"], "wrong_value", "restart policy of try-restart is always", hint="on-failure:2")
    assert not r["restart-gave-up"].passed
    assert r["restart-gave-up"].reason in ("wrong_status", "still_running")
    assert "on-failure:2" in r["restart-gave-up"].hint


def test_restart_on_failure_without_a_limit_fails_quoting_it(box):
    r = helpers.graded_after(box, LAB, "restart", f"docker run -d --name try-restart --restart on-failure:5 {FAILING}")
    assert_fails(r["restart-policy"], "wrong_value", "on-failure:5; expected on-failure:2")


# --- prefix: rename the lesson's unnamed container by an ID prefix ---------------------------------
def test_prefix_solution_passes(box, tracked):
    cid = docker(box, "docker create --label dockyard.try=prefix busybox sleep 3600").strip()
    tracked["containers"].append(cid)
    ids = docker(box, "docker ps -aq --no-trunc").split()
    prefix = next(cid[:n] for n in range(1, 65) if sum(i.startswith(cid[:n]) for i in ids) == 1)
    helpers.assert_solution_passes(box, LAB, "prefix", f"docker rename {prefix} try-prefix && docker start {prefix}")


def test_prefix_with_a_new_container_of_that_name_fails_as_not_the_lessons(box):
    r = helpers.graded_after(box, LAB, "prefix", "docker run -d --name try-prefix busybox sleep 3600")
    assert r["prefix-running"].passed
    assert_fails(r["prefix-is-the-lessons"], "missing_label", hint="label=dockyard.try=prefix")


def test_prefix_renamed_but_not_started_fails_asking_to_start(box, tracked):
    cid = docker(box, "docker create --label dockyard.try=prefix busybox sleep 3600").strip()
    tracked["containers"].append(cid)
    r = helpers.graded_after(box, LAB, "prefix", f"docker rename {cid[:12]} try-prefix")
    assert r["prefix-is-the-lessons"].passed
    assert_fails(r["prefix-running"], "not_started", "created but never started", hint="docker start try-prefix")
