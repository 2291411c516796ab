"""Lesson 04's self-checks: each Try it solved the way the notebook asks passes; wrong attempts fail usefully.

The exercises are done here as a learner would, with the docker CLI pointed at the sandbox.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

import grader

from . import helpers
from .helpers import docker, assert_all_pass, assert_fails

LAB = "04-containers"
NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "04-containers.ipynb"
NAMES = ["try-web", "try-detached", "try-stopped", "try-mount"]
TRAP = """sh -c 'trap "echo got SIGTERM; exit 0" TERM; sleep 600 & wait'"""


@pytest.fixture
def box(sandbox, tracked):
    return helpers.without(sandbox, tracked, NAMES)


@pytest.fixture
def port_18080():
    """Try it 1 fixes host port 18080; say so plainly if something else on this machine holds it."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as docker-proxy does: TIME_WAIT is no obstacle
        try:
            s.bind(("127.0.0.1", 18080))
        except OSError:
            pytest.fail("127.0.0.1:18080 is in use by another program; Try it 1 needs it", pytrace=False)


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
                 "python:3.11-slim", "busybox:latest", "stop -t 3"):
        assert flag in code, f"no code cell uses {flag!r}"


def test_nothing_done_fails_every_check_with_a_start_hint(box):
    report = grader.grade(grader.find_lab(LAB), sandbox=box)
    assert report.score == 0
    for r in report.results:
        assert_fails(r, "missing", "there is no container named", hint="docker run --name")


# --- 1. publish -------------------------------------------------------------------------
def test_publish_solution_passes(box, port_18080):
    docker(box, "docker run -d --name try-web -p 127.0.0.1:18080:8080 busybox httpd -f -p 8080 -h /etc")
    results = grade(box, "publish")
    assert_all_pass(results)
    assert "HTTP 200" in results["web-published"].message


def test_publish_without_an_address_passes_too(box, port_18080):
    # this sandbox binds published ports to 127.0.0.1 anyway
    docker(box, "docker run -d --name try-web -p 18080:8080 busybox httpd -f -p 8080 -h /etc")
    assert_all_pass(grade(box, "publish"))


def test_publish_the_outlines_way_round_fails_as_reversed(box):
    # the outline's order, -p CONTAINER:HOST, publishes host port 8080 to container port 18080
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 8080)) == 0:
            pytest.skip("host port 8080 is in use on this machine")
    docker(box, "docker run -d --name try-web -p 127.0.0.1:8080:18080 busybox httpd -f -p 8080 -h /etc")
    r = grade(box, "publish")
    assert r["web-running"].passed
    assert_fails(r["web-published"], "reversed", "container port 8080/tcp of try-web is not published",
                 "host port 8080 is mapped to container port 18080/tcp", hint="-p 18080:8080")


def test_publish_on_another_host_port_fails_naming_both(box):
    docker(box, "docker run -d --name try-web -p 127.0.0.1::8080 busybox httpd -f -p 8080 -h /etc")
    r = grade(box, "publish")
    assert_fails(r["web-published"], "wrong_host_port", "expected host port 18080", hint="-p 18080:8080")


def test_publish_with_httpd_in_the_background_fails_with_the_lessons_hint(box, port_18080):
    # without -f busybox httpd forks into the background, and the container's main process ends
    docker(box, "docker run -d --name try-web -p 127.0.0.1:18080:8080 busybox httpd -p 8080 -h /etc")
    deadline = time.monotonic() + 10
    while "true" in docker(box, "docker inspect -f '{{.State.Running}}' try-web") and time.monotonic() < deadline:
        time.sleep(0.1)
    r = grade(box, "publish")
    assert_fails(r["web-running"], "not_running", "try-web is exited (exit code 0)", hint="httpd -f -p 8080")
    assert_fails(r["web-published"], "not_running", "needs it running")


# --- 2. detached ------------------------------------------------------------------------
def test_detached_solution_passes(box):
    docker(box, "docker run -d --name try-detached -e GREETING=hello busybox sleep 3600")
    assert docker(box, "docker exec try-detached sh -c 'echo $GREETING'").strip() == "hello"
    assert_all_pass(grade(box, "detached"))


def test_detached_without_the_variable_fails_with_the_flag(box):
    docker(box, "docker run -d --name try-detached busybox sleep 3600")
    r = grade(box, "detached")
    assert r["detached-running"].passed
    assert_fails(r["detached-greeting"], "missing", "GREETING is not set in container try-detached",
                 hint="docker run -e GREETING=hello")


def test_detached_with_another_value_fails_quoting_both(box):
    docker(box, "docker run -d --name try-detached -e GREETING=Hello busybox sleep 3600")
    assert_fails(grade(box, "detached")["detached-greeting"], "wrong_value", "'Hello'", "expected 'hello'")


def test_detached_container_whose_command_ended_fails_with_the_lessons_hint(box):
    docker(box, "docker run --name try-detached -e GREETING=hello busybox echo hello")
    r = grade(box, "detached")
    assert_fails(r["detached-running"], "not_running", "try-detached is exited (exit code 0)",
                 hint="sleep 3600")
    assert r["detached-greeting"].passed


# --- 3. stopped -------------------------------------------------------------------------
def test_stopped_solution_passes(box):
    docker(box, f"docker run -d --name try-stopped busybox {TRAP}")
    wait_for(box, "try-stopped", "sleep")
    docker(box, "docker stop try-stopped")
    assert_all_pass(grade(box, "stopped"))


def test_stopped_sleep_as_pid1_fails_with_137_and_the_trap_hint(box):
    docker(box, "docker run -d --name try-stopped busybox sleep 600")
    docker(box, "docker stop -t 1 try-stopped")
    r = grade(box, "stopped")
    assert_fails(r["stopped-exit-0"], "wrong_exit_code", "exited with code 137", "expected exit code 0",
                 hint="137 means SIGKILL")
    assert_fails(r["stopped-said-goodbye"], "missing_text", "has logged nothing", hint="echo got SIGTERM")


def test_stopped_with_kill_fails_even_with_a_handler(box):
    docker(box, f"docker run -d --name try-stopped busybox {TRAP}")
    wait_for(box, "try-stopped", "sleep")
    docker(box, "docker kill try-stopped")
    r = grade(box, "stopped")
    assert_fails(r["stopped-exit-0"], "wrong_exit_code", "exited with code 137")
    assert_fails(r["stopped-said-goodbye"], "missing_text")


def test_stopped_but_still_running_fails_asking_for_docker_stop(box):
    docker(box, f"docker run -d --name try-stopped busybox {TRAP}")
    r = grade(box, "stopped")
    assert_fails(r["stopped-exit-0"], "still_running", "try-stopped is still running; expected exited",
                 hint="docker stop try-stopped")


# --- 4. mount ---------------------------------------------------------------------------
def test_mount_solution_passes(box, tmp_path):
    (tmp_path / "note.txt").write_text("read me\n")
    docker(box, f"docker run -d --name try-mount -v {tmp_path}:/data:ro busybox sleep 3600")
    assert docker(box, "docker exec try-mount cat /data/note.txt") == "read me\n"
    res = subprocess.run(["bash", "-c", "docker exec try-mount touch /data/x"], capture_output=True, text=True,
                         env={**os.environ, **box.env()}, timeout=30)
    assert res.returncode != 0 and "Read-only file system" in res.stderr
    assert_all_pass(grade(box, "mount"))


def test_mount_solution_that_exited_passes_too(box, tmp_path):
    docker(box, f"docker run --name try-mount -v {tmp_path}:/data:ro busybox true")
    assert_all_pass(grade(box, "mount"))


def test_mount_read_write_fails_asking_for_ro(box, tmp_path):
    docker(box, f"docker run -d --name try-mount -v {tmp_path}:/data busybox sleep 3600")
    assert_fails(grade(box, "mount")["mount-ro-bind"], "writable", "mounted read-write; expected read-only",
                 hint=":ro")


def test_mount_of_a_named_volume_fails_as_wrong_type(box, tracked):
    tracked["volumes"].append("try-mount-data")
    docker(box, "docker run -d --name try-mount -v try-mount-data:/data:ro busybox sleep 3600")
    assert_fails(grade(box, "mount")["mount-ro-bind"], "wrong_type", "volume 'try-mount-data'",
                 "expected a bind mount", hint="absolute host path")


def test_mount_in_the_wrong_place_fails_listing_the_mounts(box, tmp_path):
    docker(box, f"docker run -d --name try-mount -v {tmp_path}:/mnt:ro busybox sleep 3600")
    assert_fails(grade(box, "mount")["mount-ro-bind"], "missing", "nothing is mounted at /data", "/mnt (bind)")
