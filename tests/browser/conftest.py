"""A real `dockyard lab` in Debian's Chromium, driven by pytest-playwright (no browser download).

The server is started the way a learner starts it (``dockyard lab --no-browser``, as root, so
JupyterLab runs unprivileged on the learner's copy of the lessons), with a sandbox of its own,
and brought down with it. Each step saves a screenshot under ``tests/browser/screenshots/``
(git-ignored) for a person to look at after a run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from dockyard import network
from dockyard.lab import work_folder
from dockyard.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = os.environ.get("DOCKYARD_CHROMIUM", "/usr/bin/chromium")
# this machine's network is closed: Chromium must not try to phone home, update or sync
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: the browser tests use Debian's chromium (apt install chromium; "
                    "dockyard/bootstrap.sh test installs it)", pytrace=False)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 900}}


def _end_with_us() -> None:
    """In the child: a SIGTERM when this test process dies, even by SIGKILL, so the lab never outlives it
    (dockyard lab ends its server and gives back what it lent on SIGTERM)."""
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


class Lab:
    """A running `dockyard lab`: its URL with the token, its sandbox and the learner's work folder."""

    def __init__(self, name: str, port: int):
        self.name, self.port = name, port
        self.box = Sandbox(name=name)
        self.work = work_folder(self.box)
        self.output: list[str] = []
        self.token = None
        self.started = time.monotonic()
        env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKYARD_BACKEND")}
        env["DOCKYARD_SANDBOX"] = name
        self.proc = subprocess.Popen([sys.executable, "-m", "grader.cli", "lab", "--port", str(port), "--no-browser"],
                                     cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True, text=True, preexec_fn=_end_with_us)
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.output.append(line)
            m = re.search(rf"http://127\.0\.0\.1:{self.port}/lab\?token=([0-9a-f]+)", line)
            if m and self.token is None:
                self.token = m.group(1)
                self._ready.set()
        self._ready.set()

    def wait(self, timeout: float = 180) -> float:
        if not self._ready.wait(timeout) or self.token is None:
            raise AssertionError("dockyard lab did not print its URL:\n" + "".join(self.output[-40:]))
        return time.monotonic() - self.started

    def url(self, path: str = "lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}/{path}{sep}token={self.token}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # dockyard lab ends its server, then gives back what it lent
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.box.down(purge=True)
        shutil.rmtree(self.work, ignore_errors=True)


@pytest.fixture(scope="session")
def lab():
    if os.geteuid() != 0:
        pytest.fail("the browser tests start dockyard lab with a private sandbox: run them as root", pytrace=False)
    server = Lab(f"b{os.getpid() % 100000}", network.free_port())
    try:
        print(f"dockyard lab printed its URL after {server.wait():.1f} s")
        yield server
    finally:
        server.stop()


@pytest.fixture
def shot(request):
    """shot("step") saves a screenshot of the page as screenshots/<test>-<n>-<step>.png."""
    SHOTS.mkdir(exist_ok=True)
    counter = iter(range(1, 100))

    def take(page, step: str) -> None:
        page.screenshot(path=str(SHOTS / f"{request.node.name}-{next(counter):02d}-{step}.png"), full_page=False)

    return take


@pytest.fixture(autouse=True)
def stays_on_this_machine(context):
    """Every request a page makes goes to 127.0.0.1: anything else is refused before it leaves, and fails the test
    (a page that loads a script from a CDN would also hang offline)."""
    off = []

    def route(r):
        host = urllib.parse.urlsplit(r.request.url).hostname
        if r.request.url.startswith(("data:", "blob:", "about:")) or host in ("127.0.0.1", "localhost"):
            return r.continue_()
        off.append(r.request.url)
        return r.abort("blockedbyclient")

    context.route("**/*", route)
    yield
    assert off == [], f"pages asked for addresses off this machine: {off[:5]}"
