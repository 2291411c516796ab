"""A class on `dockyard hub`, in Chromium: a student and an instructor log in through the hub's own pages.

One hub for the module (tests/hub_helpers.py: the one tests/integration/test_hub.py drives through the REST API),
with lab 05 released by ``dockyard course release``. The student logs in on the hub's login form, waits on the
spawn-pending page for their server (and their own sealed sandbox), gets JupyterLab with the lessons and labs and
no instructor tools, runs lesson 00's first cells against their sandbox, and is refused the hub's admin pages and
formgrader. The instructor opens formgrader, logs in, and finds lab 05 in Manage Assignments. When the module ends
the hub stops, and nothing of it may be left on the machine (the fixture fails otherwise).
"""

from __future__ import annotations

import os
import re
import time

import pytest
from playwright.sync_api import Page, expect

from grader.hub.spawner import sandbox_name
from dockyard.sandbox import Sandbox
from tests.hub_helpers import LAB, running_hub

from .test_learner_journey import CELL_WAIT, error_outputs, open_in_browser, run_cell, wait_kernel_idle
from .test_teacher_journey import dockyard

STUDENT, INSTRUCTOR = "ann", "tess"


def release_with_the_cli(course) -> None:
    dockyard("course", "release", LAB.name, "--course", str(course.root), timeout=300)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("hub"), f"hb{os.getpid() % 100000}", [STUDENT], [INSTRUCTOR],
                     prepare_course=release_with_the_cli) as h:
        yield h


def log_in(page: Page, name: str, password: str) -> None:
    """The hub's login form, typed in as a person would."""
    expect(page.locator("#login_submit")).to_be_visible(timeout=30_000)
    page.locator("#username_input").fill(name)
    page.locator("#password_input").fill(password)
    page.locator("#login_submit").click()


def refused(page: Page, url: str) -> str:
    """Open ``url``; it must answer 403, with JupyterHub's error page ("403 : <why>"). Returns the page's text."""
    resp = page.goto(url)
    assert resp is not None and resp.status == 403, (url, resp and resp.status, page.url)
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^\s*403 : "), timeout=10_000)
    return page.locator("body").inner_text()


def test_hub_student_logs_in_spawns_runs_lesson_00_in_her_sandbox_and_is_refused_instructor_pages(page: Page, hub,
                                                                                                   shot):
    url, me = hub["url"], f"/user/{STUDENT}"
    box = Sandbox(name=sandbox_name(hub["dir"].root, STUDENT))
    page.goto(f"{url}/hub/login")
    shot(page, "login")
    log_in(page, STUDENT, "not her password")  # a wrong password: the form again, with a message
    expect(page.locator(".login_error")).to_contain_text("Invalid username or password")
    log_in(page, STUDENT, hub["passwords"][STUDENT])
    # her server (and her sandbox) takes a few seconds: the hub shows its spawn-pending page, then JupyterLab
    page.wait_for_url(re.compile(rf"/hub/spawn-pending/{STUDENT}"), timeout=30_000)
    t0 = time.monotonic()
    expect(page.locator("body")).to_contain_text("Your server is starting up", timeout=10_000)
    expect(page.locator("#progress-log")).to_contain_text(f"Your sandbox {box.name} is up", timeout=10_000)
    shot(page, "spawn-pending")
    page.wait_for_url(re.compile(rf"{me}/lab"), timeout=180_000)
    print(f"spawn-pending for {time.monotonic() - t0:.1f} s")
    page.wait_for_selector(".jp-DirListing-content", timeout=60_000)
    assert box.daemon_pid(), "her server is up but her sandbox is not"

    # the lessons and the labs; none of nbgrader's instructor tools
    for name in ("00-welcome.ipynb", "04-containers.ipynb", "labs"):
        expect(page.locator(".jp-DirListing-itemText", has_text=re.compile(f"^{re.escape(name)}$"))).to_be_visible()
    expect(page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader")).to_have_count(0)
    expect(page.locator(".jp-LauncherCard", has_text=re.compile("Formgrader", re.I))).to_have_count(0)
    shot(page, "file-browser")
    open_in_browser(page, "labs")
    expect(page.locator(".jp-DirListing-itemText", has_text=LAB.name)).to_be_visible()
    shot(page, "labs")

    # lesson 00: its docker cells are answered by her own sandbox
    page.goto(f"{url}{me}/lab/tree/00-welcome.ipynb?reset")
    wait_kernel_idle(page)
    run_cell(page, "where()", shot)
    first = page.locator(".jp-NotebookPanel:visible .jp-CodeCell", has_text="where()").first.locator(".jp-OutputArea")
    expect(first).to_contain_text(f"DOCKER_HOST = {box.docker_host}", timeout=CELL_WAIT)
    expect(first).to_contain_text(f"Sandbox '{box.name}'")
    since = int(time.time()) - 1
    run_cell(page, "echo 'Hello from inside a container'", shot)
    out = page.locator(".jp-NotebookPanel:visible .jp-CodeCell", has_text="Hello from inside").first
    expect(out.locator(".jp-OutputArea")).to_contain_text("Hello from inside a container", timeout=CELL_WAIT)
    shot(page, "lesson-00")
    assert error_outputs(page) == []
    # ...and the daemon that ran it is hers: her sandbox's dockerd started that container
    started = [e["Actor"]["Attributes"].get("image") for e in box.client.api.events(
        since=since, until=int(time.time()) + 1, decode=True, filters={"type": "container", "event": "start"})]
    assert "busybox" in started, started

    # the instructor's pages are not hers: the hub's admin page and API, formgrader (the hub service), and
    # formgrader in her own server (its server extension is off)
    refused(page, f"{url}/hub/admin")
    shot(page, "admin-refused")
    resp = page.goto(f"{url}/hub/api/users")  # the list of users, as the admin page would ask for it
    assert resp is not None and resp.status == 403, resp and resp.status
    expect(page.locator("body")).to_contain_text('"status": 403')
    text = refused(page, f"{url}/services/formgrader/")
    assert "Manage Assignments" not in text
    shot(page, "formgrader-refused")
    resp = page.goto(f"{url}{me}/formgrader")
    assert resp is not None and resp.status == 404, resp and resp.status
    expect(page.locator("body")).not_to_contain_text("Manage Assignments")


def test_hub_instructor_logs_in_to_formgrader_and_finds_lab_05(page: Page, hub, shot):
    url = hub["url"]
    page.goto(f"{url}/services/formgrader/")  # not logged in: the hub's login page first
    page.wait_for_url(re.compile(r"/hub/login"), timeout=30_000)
    shot(page, "login")
    log_in(page, INSTRUCTOR, hub["passwords"][INSTRUCTOR])
    # formgrader's JupyterLab on the course: the Nbgrader menu is there, and its Formgrader item opens it
    page.wait_for_url(re.compile(r"/services/formgrader/lab"), timeout=60_000)
    page.wait_for_selector(".jp-DirListing-content", timeout=60_000)
    shot(page, "formgrader-lab")
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Nbgrader$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Formgrader$")).first.click()
    frame = page.frame_locator(".jp-MainAreaWidget:visible iframe")
    expect(frame.locator("body")).to_contain_text("Manage Assignments", timeout=60_000)
    row = frame.locator("#main-table tr", has_text=LAB.name)
    expect(row).to_have_count(1, timeout=30_000)
    shot(page, "manage-assignments")
    expect(page.get_by_text("official Jupyter news")).to_have_count(0)  # offline: JupyterLab asks nothing of it
    # no hub server of her own was started for it: the service is all she opened
    assert not Sandbox(name=sandbox_name(hub["dir"].root, INSTRUCTOR)).daemon_pid()
