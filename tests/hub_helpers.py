"""A `dockyard hub` of a test's own, and the check that it left nothing behind (tests/integration/test_hub.py and
tests/browser/test_hub_journey.py).

``running_hub`` starts ``dockyard hub start`` as a subprocess on a free port of 127.0.0.1, with a roster and a
course of its own (lab 05 released), and stops it with SIGTERM (the hub's own clean-up) whatever happens; then
``leftovers`` looks for anything of its learners still on the machine (processes of their uids, cgroups,
sandboxes' daemons and bridges, the proxy, the hub), the sandboxes and the hub's folder are removed, and the test
fails if anything was left or a learner became an account of the host.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from dockyard import cgroups, network, procs
from grader.hub.run import HubDir
from grader.hub.spawner import sandbox_name
from dockyard.sandbox import Sandbox
from grader.course.layout import Course
from grader.course.release import release
from tests.integration.conftest import _require_host

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "labs" / "05-dockerfile"


def release_lab(course: Course) -> None:
    """Lab 05's student version in the course (what ``dockyard course release 05-dockerfile`` does)."""
    release(course, [LAB.name], progress=lambda _m: None)


def leftovers(hub: HubDir, members) -> list[str]:
    left = []
    uids = {m.uid for m in members.values()}
    for pid in Path("/proc").iterdir():
        if pid.name.isdigit():
            with contextlib.suppress(OSError):
                line = next(x for x in (pid / "status").read_text().splitlines() if x.startswith("Uid:"))
                if uids & {int(u) for u in line.split()[1:]}:
                    left.append(f"process {pid.name} of a learner: {' '.join(procs.cmdline(int(pid.name)))}")
    h = cgroups.detect()
    roots = [h.root] if h.version == 2 else [h.root / c for c in h.controllers]
    names = {sandbox_name(hub.root, n) for n in members}
    for r in roots:
        for d in r.iterdir() if r.is_dir() else ():
            if any(d.name.startswith(f"dockyard-{n}") for n in names):
                left.append(f"cgroup {d}")
    for n in names:
        box = Sandbox(name=n)
        if box.daemon_pid():
            left.append(f"dockerd of {n}")
        if Path(f"/sys/class/net/{box.cfg.bridge}").exists():
            left.append(f"bridge {box.cfg.bridge}")
    for pidfile in ("proxy.pid", "jupyterhub.pid"):
        pid = procs.read_pidfile(hub.root / pidfile) if (hub.root / pidfile).exists() else None
        if pid and procs.alive(pid):
            left.append(f"{pidfile} {pid}")
    return left


@contextlib.contextmanager
def running_hub(tmp_path, name: str, students, instructors=(), extra=(), prepare_course=release_lab):
    """A hub of its own (``dockyard hub start``, a subprocess), its roster, its course with lab 05 released
    (``prepare_course``); stopped (SIGTERM: the hub's own clean-up) and checked for leftovers, then removed,
    whatever happens."""
    _require_host()
    hub = HubDir.named(name)
    course = Course.at(tmp_path / "course")
    prepare_course(course)
    passwords = {n: hub.roster.add(n)[1] for n in students}
    passwords.update({n: hub.roster.add(n, "instructor")[1] for n in instructors})
    members = hub.roster.members()
    port = network.free_port()
    log = open(tmp_path / "hub.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "grader.cli", "hub", "start", "--class", hub.root.name,
                             "--course", str(course.root), "--port", str(port), "--purge-on-stop", *extra],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "hub.log").read_text()[-3000:]
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/hub/api", timeout=2).ok:
                    break
            assert time.monotonic() < deadline, "the hub did not answer in 120 s"
            time.sleep(0.3)
        yield {"url": url, "dir": hub, "course": course, "passwords": passwords, "proc": proc, "tmp": tmp_path,
               "log": tmp_path / "hub.log"}
    finally:
        os.kill(proc.pid, signal.SIGTERM)  # the hub's own clean-up: every server, sandbox, service, the proxy
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        left = leftovers(hub, members)
        for n in members:  # whatever the assertions below say, nothing of this test stays on the machine
            box = Sandbox(name=sandbox_name(hub.root, n))
            if box.cfg.dir.exists():
                box.down(purge=True)
        shutil.rmtree(hub.root, ignore_errors=True)
        with contextlib.suppress(OSError):
            hub.root.parent.rmdir()  # .hub/, when no other hub is left
        assert not left, left
        passwd = Path("/etc/passwd").read_text()
        assert not any(f"\n{n}:" in passwd for n in members), "a hub learner became an account of the host"
