"""Lesson 10's self-checks: each Try it solved the way the notebook asks passes; wrong attempts fail usefully.

The exercises are done here as a learner would: a compose.yaml in a folder, brought up with the machine's
Compose (v1 or v2, whichever dockyard.notebook.compose finds) as the project tryit, against a real sandbox.
"""

from __future__ import annotations

import pytest

from dockyard.notebook.compose import find

from . import helpers
from .helpers import assert_all_pass, assert_fails, docker

LAB = "10-compose"
COMPOSE = find()
HTTPD = '["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 8080 -h /www"]'
HEALTH = ('    healthcheck:\n      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]\n'
          "      interval: 1s\n")


def cache(*extra: str, command: str = HTTPD) -> str:
    head = "services:\n  cache:\n    image: busybox\n" + (f"    command: {command}\n" if command else "")
    return head + "".join(extra)


RESTART = "    restart: unless-stopped\n"
WWW = "    volumes:\n      - www:/www\n"
TOP_WWW = "volumes:\n  www:\n"


def client(host: str) -> str:
    return f"  client:\n    image: busybox\n    command: sleep 600\n    environment:\n      CACHE_HOST: {host}\n"


@pytest.fixture
def up(sandbox, tmp_path):
    """up(text): write compose/try/compose.yaml and bring it up as the project tryit; taken down afterwards."""
    folder = tmp_path / "try"
    folder.mkdir()
    docker(sandbox, "docker pull -q busybox")

    def bring_up(text: str, ok: bool = True) -> str:
        (folder / "compose.yaml").write_text(text)
        return docker(sandbox, f"cd {folder} && {COMPOSE} -p tryit up -d", ok=ok)

    yield bring_up
    docker(sandbox, f"cd {folder} && {COMPOSE} -p tryit down -v -t 1", ok=False)


def grade(box, task: str | None) -> dict:
    return helpers.grade(box, LAB, task)


def test_every_try_it_of_the_notebook_has_its_task():
    assert helpers.notebook_check_tasks(LAB) == helpers.spec_task_ids(LAB)


def test_nothing_done_fails_every_check_with_a_start_hint(sandbox, up):
    import grader

    report = grader.grade(grader.find_lab(LAB), sandbox=sandbox)
    assert report.score == 0
    for r in report.results:
        assert_fails(r, "missing", "in the Compose project tryit", hint="up -d")


# --- 1. services --------------------------------------------------------------------
def test_services_solution_passes(sandbox, up):
    up(cache())
    assert_all_pass(grade(sandbox, "services"))


def test_busybox_without_a_command_exits_and_the_hint_says_why(sandbox, up):
    up(cache(command=""))
    assert_fails(grade(sandbox, "services")["cache-running"], "not_running", "exited", hint="exec httpd -f")


# --- 2. health and restart --------------------------------------------------------------
def test_health_restart_solution_passes(sandbox, up):
    up(cache(HEALTH, RESTART))
    assert_all_pass(grade(sandbox, "health-restart"))


def test_no_healthcheck_and_no_restart_policy_fail_with_their_hints(sandbox, up):
    up(cache())
    r = grade(sandbox, "health-restart")
    assert_fails(r["cache-healthy"], "no_healthcheck", "no healthcheck", hint="wget")
    assert_fails(r["cache-restarts"], "no_restart", "restart policy no", hint="unless-stopped")


def test_a_healthcheck_on_the_wrong_port_is_unhealthy(sandbox, up):
    up(cache(HEALTH.replace("8080", "9090") + "      retries: 1\n", RESTART))
    assert_fails(grade(sandbox, "health-restart")["cache-healthy"], "unhealthy", "expected healthy", hint="exec")


def test_on_failure_is_not_enough_for_a_server_that_exits_cleanly(sandbox, up):
    up(cache(HEALTH, "    restart: on-failure\n"))
    assert_fails(grade(sandbox, "health-restart")["cache-restarts"], "no_restart", "on-failure", hint="on-failure")


# --- 3. volume ---------------------------------------------------------------------------
def test_volume_solution_passes(sandbox, up):
    up(cache(HEALTH, RESTART, WWW, TOP_WWW))
    assert_all_pass(grade(sandbox, "volume"))


def test_an_anonymous_volume_fails(sandbox, up):
    up(cache(HEALTH, RESTART, "    volumes:\n      - /www\n"))
    assert_fails(grade(sandbox, "volume")["cache-www"], "anonymous", "an anonymous one", hint="www:/www")


def test_a_bind_mount_with_a_restart_policy_is_refused_by_the_seal(sandbox, up):
    out = up(cache(HEALTH, RESTART, "    volumes:\n      - ./www:/www\n"), ok=False)
    assert "restart policy unless-stopped on a container that binds the host folder" in out
    assert_fails(grade(sandbox, "volume")["cache-www"], "missing")


# --- 4. by name --------------------------------------------------------------------------
def test_by_name_solution_passes_and_the_name_resolves(sandbox, up):
    up(cache(HEALTH, RESTART, WWW, client("cache"), TOP_WWW))
    assert_all_pass(grade(sandbox, "by-name"))
    page = docker(sandbox, "docker exec $(docker ps -q --filter label=com.docker.compose.service=client) "
                  "sh -c 'wget -qO- http://$CACHE_HOST:8080/'")
    assert page.strip() == "hello"


def test_an_ip_address_fails_even_when_it_is_the_right_one_today(sandbox, up):
    up(cache(HEALTH, RESTART, WWW, client("cache"), TOP_WWW))
    ip = docker(sandbox, "docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "
                "$(docker ps -q --filter label=com.docker.compose.service=cache)").strip()
    up(cache(HEALTH, RESTART, WWW, client(ip), TOP_WWW))
    r = grade(sandbox, "by-name")
    assert r["client-running"].passed
    assert_fails(r["client-finds-cache"], "ip_address", ip, hint="CACHE_HOST: cache")
