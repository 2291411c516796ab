"""Lesson 09's self-checks: each Try it solved the way the notebook asks passes; wrong attempts fail usefully.

The exercises are done here as a learner would, with the docker CLI pointed at the sandbox. Every check
tries real connections with the grader's own probe, so these tests also prove that a retagged busybox
cannot choose what the probe answers.
"""

from __future__ import annotations

import pytest

import grader

from . import helpers
from .helpers import assert_all_pass, assert_fails, docker, notebook_check_tasks

LAB = "09-networking"
NAMES = ["try-web", "try-db", "try-batch", "try-side", "try-pub"]
NETWORKS = ["try-net", "try-back"]
SERVE = "httpd -f -p 80 -h /"
FAKE = "dy09-fake-busybox"


@pytest.fixture
def box(sandbox, tracked):
    """The shared sandbox without this lesson's exercise containers and networks; removed afterwards too."""
    tracked["containers"].extend(NAMES)
    tracked["networks"].extend(NETWORKS)
    docker(sandbox, "docker rm -f " + " ".join(NAMES) + " 2>/dev/null; docker network rm " + " ".join(NETWORKS)
           + " 2>/dev/null; docker pull -q busybox >/dev/null")
    return sandbox


def grade(box, task: str | None) -> dict:
    return helpers.grade(box, LAB, task)


def web(box, *, network: str = "--network try-net --network-alias try-www"):
    docker(box, "docker network create try-net")
    docker(box, f"docker run -d --name try-web {network} busybox {SERVE}")


def back(box, *, connect: bool = True):
    docker(box, "docker network create try-back")
    docker(box, f"docker run -d --name try-db --network try-back busybox {SERVE}")
    if connect:
        docker(box, "docker network connect try-back try-web")


# --- no daemon needed ---------------------------------------------------------------------------
def test_spec_tasks_match_the_notebooks_check_cells():
    assert notebook_check_tasks(LAB) == ["by-name", "two-networks", "namespaces", "publish"]
    assert helpers.spec_task_ids(LAB) == notebook_check_tasks(LAB)


def test_nothing_done_fails_every_check(box):
    report = grader.grade(grader.find_lab(LAB), sandbox=box)
    assert report.score == 0
    for r in report.results:
        assert r.status == "failed" and r.reason in ("missing", "no_network"), (r.id, r.reason, r.message)


# --- 1. a name on a network ------------------------------------------------------------------------
def test_alias_at_run_passes(box):
    web(box)
    assert_all_pass(grade(box, "by-name"))


def test_alias_given_by_network_connect_passes(box):
    helpers.assert_solution_passes(box, LAB, "by-name",
                                   "docker network create try-net",
                                   f"docker run -d --name try-web busybox {SERVE}",
                                   "docker network connect --alias try-www try-net try-web")


def test_default_bridge_with_the_network_made_but_unused_fails_no_name(box):
    # dockerd refuses an alias on the default bridge ("only supported for user-defined networks")
    assert "user-defined networks" in docker(box, f"docker run -d --name try-web --network-alias try-www busybox {SERVE}",
                                             ok=False)
    web(box, network="")
    r = grade(box, "by-name")
    assert r["try-net"].passed
    assert_fails(r["try-www-by-alias"], "no_name", "from a new container on try-net", "does not resolve",
                 hint="--network-alias try-www")


def test_container_name_without_the_alias_fails(box):
    web(box, network="--network try-net")
    assert_fails(grade(box, "by-name")["try-www-by-alias"], "no_name", "try-www:80")


def test_a_retagged_busybox_cannot_answer_for_the_probe(box, tracked):
    """A learner's 'busybox' whose nc always succeeds: the probe runs the grader's own image, so it still fails."""
    web(box, network="--network try-net")
    tracked["images"].append(FAKE)
    real = docker(box, "docker image inspect -f '{{.Id}}' busybox").strip()
    docker(box, f"printf 'FROM busybox\\nRUN rm /usr/bin/nc && printf \"#!/bin/sh\\\\nexit 0\\\\n\" > /usr/bin/nc "
                f"&& chmod +x /usr/bin/nc\\n' | docker build -q -t {FAKE} -")
    assert docker(box, f"docker run --rm --network try-net {FAKE} nc -w 1 try-www 80 && echo fooled") == "fooled\n"
    try:
        docker(box, f"docker tag {FAKE} busybox")
        assert_fails(grade(box, "by-name")["try-www-by-alias"], "no_name")
    finally:
        docker(box, f"docker tag {real} busybox")


# --- 2. two networks -----------------------------------------------------------------------------
def test_backend_solution_passes_and_isolation_tried_every_address(box):
    web(box)
    back(box)
    r = grade(box, "two-networks")
    assert_all_pass(r)
    answers = r["db-hidden-from-try-net"].evidence["answers"]
    assert len(answers) == 2 and all("timed out" in a or "does not resolve" in a for a in answers.values()), answers
    # the probes and the probe image are gone with the grading
    left = docker(box, "docker ps -aq --filter label=org.dockyard.grader; docker images -q --filter label=org.dockyard.grader")
    assert left.strip() == "", left


def test_web_not_connected_to_the_backend_fails_no_name(box):
    web(box)
    back(box, connect=False)
    r = grade(box, "two-networks")
    assert_fails(r["web-reaches-db"], "no_name", "from inside try-web", hint="docker network connect try-back try-web")
    assert r["db-hidden-from-try-net"].passed and r["try-db-back-only"].passed


def test_backend_on_both_networks_fails_as_reachable(box):
    web(box)
    back(box)
    r = helpers.graded_after(box, LAB, "two-networks", "docker network connect try-net try-db")
    assert_fails(r["try-db-back-only"], "extra_network", "try-back, try-net", hint="docker network disconnect try-net try-db")
    assert_fails(r["db-hidden-from-try-net"], "reachable", "try-db:80", hint="docker network disconnect")


# --- 3. none, and shared --------------------------------------------------------------------------
def test_none_and_shared_pass(box):
    web(box)
    helpers.assert_solution_passes(box, LAB, "namespaces",
                                   "docker run -d --name try-batch --network none busybox sleep 600",
                                   "docker run -d --name try-side --network container:try-web busybox sleep 600")


def test_default_network_for_both_fails_each_check(box):
    web(box)
    r = helpers.graded_after(box, LAB, "namespaces",
                             "docker run -d --name try-batch busybox sleep 600",
                             "docker run -d --name try-side busybox sleep 600")
    assert_fails(r["try-batch-none"], "not_none", "try-batch is on bridge", hint="--network none")
    assert not r["try-side-shares"].passed
    assert_fails(r["try-side-localhost"], "refused", "127.0.0.1:80", hint="--network container:try-web")


# --- 4. loopback only -------------------------------------------------------------------------------
def test_published_on_loopback_passes(box):
    helpers.assert_solution_passes(box, LAB, "publish",
                                   f"docker run -d --name try-pub -p 127.0.0.1::80 busybox {SERVE}")


def test_published_on_every_address_answers_but_fails_the_address_check(box):
    r = helpers.graded_after(box, LAB, "publish", f"docker run -d --name try-pub -p 80 busybox {SERVE}")
    assert r["try-pub-answers"].passed  # the sandbox bound it to 127.0.0.1 anyway
    assert_fails(r["try-pub-loopback"], "all_addresses", "every address", hint="ufw")


def test_the_outlines_expose_publishes_nothing(box):
    r = helpers.graded_after(box, LAB, "publish", f"docker run -d --name try-pub --expose 80 busybox {SERVE}")
    assert_fails(r["try-pub-loopback"], "not_published", hint="EXPOSE alone publishes nothing")
    assert not r["try-pub-answers"].passed
