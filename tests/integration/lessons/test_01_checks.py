"""Lesson 01's self-checks: each Try it solved the way the notebook asks passes; wrong attempts fail usefully.

The exercises are done here as a learner would, with the docker CLI pointed at the sandbox.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from . import helpers
from .helpers import docker, assert_all_pass, assert_fails

LAB = "01-namespaces"
NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "01-namespaces.ipynb"
NAMES = ["try-pidpeer", "ns-a", "try-web", "try-sidecar", "try-cgns", "try-cgns-host", "try-mnt", "ipc-owner",
         "try-ipc", "try-user"]


@pytest.fixture
def box(sandbox, tracked):
    tracked["volumes"].append("try-data")
    return helpers.without(sandbox, tracked, NAMES)


def grade(box, task: str | None) -> dict:
    return helpers.grade(box, LAB, task)


def wait_listening(box, name: str, port: int = 80, budget: float = 5.0):
    """A learner types the next command after httpd has long started; give it that moment here."""
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        if f":{port} " in docker(box, f"docker exec {name} netstat -ltn"):
            return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port} in {name} after {budget} s")


def test_nothing_done_fails_every_check_with_a_start_hint(box):
    helpers.assert_nothing_done_fails_every_check(box, LAB, "missing", "there is no container named",
                                                  hint="docker run --name")


# --- 1. try-pidpeer ---------------------------------------------------------------------
def test_pidpeer_solution_passes(box):
    helpers.assert_solution_passes(box, LAB, "pid-shared",
                                   "docker run -d --name ns-a busybox sleep 3600",
                                   "docker run -d --name try-pidpeer --pid container:ns-a busybox sleep 3600")


def test_pidpeer_in_its_own_pid_namespace_fails(box):
    r = helpers.graded_after(box, LAB, "pid-shared",
                             "docker run -d --name ns-a busybox sleep 3600",
                             "docker run -d --name try-pidpeer busybox sleep 3600")
    assert r["pidpeer-running"].passed
    assert_fails(r["pidpeer-pid-shared"], "private", "pid namespace of try-pidpeer is private",
                 "expected shared with ns-a", hint="--pid container:ns-a")


def test_pid_host_is_refused_and_the_hint_says_what_to_do_instead(box):
    out = docker(box, "docker run -d --name try-pidpeer --pid=host busybox sleep 3600", ok=False)
    assert "authorization denied" in out and "--pid" in out, out
    r = grade(box, "pid-shared")
    assert_fails(r["pidpeer-running"], "missing", "there is no container named try-pidpeer",
                 hint="--pid container:ns-a")


def test_pidpeer_that_exited_fails_with_the_lessons_hint(box):
    r = helpers.graded_after(box, LAB, "pid-shared",
                             "docker run -d --name ns-a busybox sleep 3600",
                             "docker run --name try-pidpeer --pid container:ns-a busybox true")
    assert_fails(r["pidpeer-running"], "not_running", "exited (exit code 0)", hint="sleep 3600")
    assert_fails(r["pidpeer-pid-shared"], "not_running", "needs it running")


# --- 2. try-web + try-sidecar ---------------------------------------------------------------
def test_shared_net_solution_passes(box):
    docker(box, "docker run -d --name try-web busybox httpd -f -p 80 -h /tmp")
    docker(box, "docker run -d --name try-sidecar --network container:try-web busybox sleep 3600")
    wait_listening(box, "try-sidecar")
    assert_all_pass(grade(box, "shared-net"))


def test_sidecar_in_its_own_network_namespace_fails(box):
    docker(box, "docker run -d --name try-web busybox httpd -f -p 80 -h /tmp")
    docker(box, "docker run -d --name try-sidecar busybox sleep 3600")
    wait_listening(box, "try-web")
    r = grade(box, "shared-net")
    assert r["web-running"].passed
    assert_fails(r["sidecar-net-shared"], "private", "net namespace of try-sidecar is private",
                 "expected shared with try-web", hint="--network container:try-web")
    assert_fails(r["sidecar-sees-port-80"], "missing_output", "':80 '", hint="try-web's network namespace")


def test_web_server_that_went_to_the_background_fails_with_the_lessons_hint(box):
    # without -f busybox httpd forks into the background, and the container's main process ends
    docker(box, "docker run -d --name try-web busybox httpd -p 80 -h /tmp")
    deadline = time.monotonic() + 10
    while json.loads(docker(box, "docker inspect -f '{{json .State.Running}}' try-web")) and time.monotonic() < deadline:
        time.sleep(0.1)
    r = grade(box, "shared-net")
    assert_fails(r["web-running"], "not_running", "try-web is exited", hint="httpd -f -p 80")
    assert_fails(r["sidecar-net-shared"], "missing", "there is no container named try-sidecar")


# --- 3. try-cgns + try-cgns-host (the outline's "six namespaces") ----------------------------
def test_cgroupns_both_ways_passes(box):
    helpers.assert_solution_passes(box, LAB, "cgroup-ns",
                                   "docker run -d --name try-cgns --cgroupns=private busybox sleep 3600",
                                   "docker run -d --name try-cgns-host --cgroupns=host busybox sleep 3600")


def test_cgroupns_left_to_the_default_fails_on_either_cgroup_version(box):
    """The default is private on v2 and host on v1: without the flags one of the pair is always wrong."""
    r = helpers.graded_after(box, LAB, "cgroup-ns",
                             "docker run -d --name try-cgns busybox sleep 3600",
                             "docker run -d --name try-cgns-host busybox sleep 3600")
    assert r["cgns-running"].passed
    v2 = box.client.info().get("CgroupVersion") == "2"
    wrong, have = ("try-cgns-host", "private") if v2 else ("try-cgns", "host")
    assert_fails(r["cgns-both-ways"], have, f"cgroup namespace of {wrong} is {have}", hint="--cgroupns")
    assert "depends on the host" in r["cgns-both-ways"].hint


def test_cgroupns_swapped_fails(box):
    r = helpers.graded_after(box, LAB, "cgroup-ns",
                             "docker run -d --name try-cgns --cgroupns=host busybox sleep 3600",
                             "docker run -d --name try-cgns-host --cgroupns=private busybox sleep 3600")
    assert_fails(r["cgns-both-ways"], "host", "cgroup namespace of try-cgns is host", "expected private",
                 hint="--cgroupns private")


# --- 4. try-mnt (the outline's "mnt maps the host's storage") -------------------------------
def test_mnt_volume_solution_passes(box):
    helpers.assert_solution_passes(box, LAB, "mnt-volume",
                                   "docker run -d --name try-mnt -v try-data:/data:ro busybox sleep 3600")


def test_mnt_volume_writable_fails_with_ro_hint(box):
    r = helpers.graded_after(box, LAB, "mnt-volume",
                             "docker run -d --name try-mnt -v try-data:/data busybox sleep 3600")
    assert r["mnt-running"].passed
    assert not r["mnt-data-volume"].passed and r["mnt-data-volume"].status == "failed"
    assert ":ro" in r["mnt-data-volume"].hint


def test_mnt_without_a_mount_fails(box):
    r = helpers.graded_after(box, LAB, "mnt-volume", "docker run -d --name try-mnt busybox sleep 3600")
    assert_fails(r["mnt-data-volume"], "missing", "nothing is mounted at /data in try-mnt", hint="-v try-data:/data:ro")


# --- 5. try-ipc (the outline's "ipc shares memory between containers") ----------------------
def test_ipc_solution_passes(box):
    helpers.assert_solution_passes(
        box, LAB, "ipc-shared",
        "docker run -d --name ipc-owner --ipc=shareable debian:bookworm-slim sleep 3600",
        "docker run -d --name try-ipc --ipc container:ipc-owner debian:bookworm-slim sleep 3600")


def test_ipc_in_its_own_namespace_fails(box):
    r = helpers.graded_after(box, LAB, "ipc-shared",
                             "docker run -d --name ipc-owner --ipc=shareable debian:bookworm-slim sleep 3600",
                             "docker run -d --name try-ipc debian:bookworm-slim sleep 3600")
    assert r["ipc-running"].passed
    assert_fails(r["ipc-ns-shared"], "private", "ipc namespace of try-ipc is private", "expected shared with ipc-owner",
                 hint="--ipc container:ipc-owner")


# --- 6. try-user (the outline's "user namespaces map user rights") --------------------------
def test_user_solution_passes(box):
    helpers.assert_solution_passes(box, LAB, "user", "docker run -d --name try-user --user 65534 busybox sleep 3600")


def test_user_left_as_root_fails_with_the_lessons_hint(box):
    r = helpers.graded_after(box, LAB, "user", "docker run -d --name try-user busybox sleep 3600")
    assert_fails(r["user-uid-inside"], "wrong_exit_code", "exited with 1; expected 0", hint="--user 65534")
    assert r["user-ns-host"].passed   # root inside, in the host's user namespace: root on the host


def test_every_task_of_the_spec_is_a_try_it_of_the_lesson():
    assert sorted(helpers.notebook_check_tasks(LAB)) == sorted(helpers.spec_task_ids(LAB))
