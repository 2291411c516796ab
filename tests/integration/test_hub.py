"""`dockyard hub` for real: three students and an instructor, through the hub's REST API and nbgrader's exchange.

One hub, one class-grading pass: log in, spawn the three servers at once, run a cell in each student's own
sandbox, show that one student reaches nothing of another's (containers, files, server, sandbox socket) nor the
course or the hub's secrets; formgrader for the instructor only; lab 05 released, fetched, answered, submitted,
collected (a forged and a linked hand-in refused), graded by `dockyard grade`, feedback released and fetched;
then the hub stops and nothing is left: processes, sandboxes, bridges, cgroups, the proxy, accounts.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from grader.hub.client import HubClient
from grader.hub.spawner import sandbox_name
from dockyard.sandbox import Sandbox
from grader.course import labnb
from grader.course.layout import Course
from grader.course.release import nbgrader
from tests.hub_helpers import LAB, REPO, running_hub

STUDENTS = {"ann": None, "ben": "runs-as-root", "cat": None}  # the hand-in each makes: None is the reference
INSTRUCTOR = "tess"


def hand_in(course: Course, variant: str | None, tmp: Path) -> str:
    """The files a student would have after answering lab 05, as a base64 tarball a cell can unpack."""
    folder = labnb.write_submission(LAB, course.release(LAB.name), tmp / (variant or "solution"), variant)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        t.add(folder, arcname=".")
    return base64.b64encode(buf.getvalue()).decode()


def nb(user, *args: str) -> dict:
    """An nbgrader command run by the student, in their own server's kernel (their uid, their view)."""
    res = user.run("import subprocess, json\n"
                   f"r = subprocess.run(['nbgrader', *{list(args)!r}], capture_output=True, text=True)\n"
                   "print(json.dumps({'rc': r.returncode, 'out': r.stdout + r.stderr}))", timeout=180)
    assert res["error"] is None, res
    return json.loads(res["stdout"].strip().splitlines()[-1])


@pytest.fixture
def hub(tmp_path):
    with running_hub(tmp_path, f"ht{os.getpid() % 100000}", STUDENTS, [INSTRUCTOR]) as h:
        yield h


def test_the_idle_culler_stops_an_idle_server_and_its_sandbox(tmp_path):
    with running_hub(tmp_path, f"hc{os.getpid() % 100000}", ["dan"], extra=["--cull-idle", "15", "--cull-every",
                                                                          "5"]) as h:
        dan = HubClient(h["url"]).login("dan", h["passwords"]["dan"])
        dan.spawn()
        dan.wait_ready()
        box = Sandbox(name=sandbox_name(h["dir"].root, "dan"))
        assert box.daemon_pid()
        deadline = time.monotonic() + 90
        while dan.info().get("servers") or box.daemon_pid():
            assert time.monotonic() < deadline, "the idle culler did not stop dan's server and sandbox in 90 s"
            time.sleep(1)
        stops = [line for line in h["log"].read_text().splitlines() if "DELETE /hub/api/users/dan/server" in line]
        assert stops and all("(idle-culler@" in line for line in stops), stops  # the culler did it, no one else


def test_a_class_on_the_hub(hub):
    t0 = time.monotonic()
    figures = {}
    client = HubClient(hub["url"])
    hub_dir, course = hub["dir"], hub["course"]
    users = {n: client.login(n, hub["passwords"][n]) for n in STUDENTS}
    with pytest.raises(Exception):
        client.login("ann", "not her password")

    # three servers at once, each with its own sandbox
    t = time.monotonic()
    for u in users.values():
        u.spawn()
    servers = {n: u.wait_ready() for n, u in users.items()}
    figures["spawn 3 at once"] = round(time.monotonic() - t, 1)
    assert all(s["ready"] for s in servers.values())

    kernels = {n: u.kernel() for n, u in users.items()}
    for n, u in users.items():
        res = u.run("import os, pwd, subprocess\n"
                    f"subprocess.run(['docker', 'run', '-d', '--name', 'box-{n}', 'busybox', 'sleep', '600'], check=True,"
                    " capture_output=True)\n"
                    f"open('mine-{n}.txt', 'w').write('{n}')\n"
                    "print(os.getuid(), pwd.getpwuid(os.getuid()).pw_name, os.environ['DOCKER_HOST'])\n"
                    "print(subprocess.run(['docker', 'ps', '-a', '--format', '{{.Names}}'], capture_output=True,"
                    " text=True).stdout.split())", kernel=kernels[n])
        assert res["error"] is None, res
        ident, seen = res["stdout"].splitlines()
        uid, name, host = ident.split()
        assert int(uid) == hub_dir.roster.get(n).uid and name == n
        assert host == Sandbox(name=sandbox_name(hub_dir.root, n)).docker_host
        assert eval(seen) == [f"box-{n}"]  # only their own container

    # ann reaches nothing of ben's, nor the course or the hub's secrets
    ben_box = Sandbox(name=sandbox_name(hub_dir.root, "ben"))
    probe = f"""
import os, socket, subprocess
out = {{}}
for label, path in {{"ben_work": {str(hub_dir.work('ben'))!r}, "ben_file": {str(hub_dir.work('ben') / 'mine-ben.txt')!r},
                     "course": {str(course.root)!r}, "gradebook": {str(course.db)!r},
                     "cookie": {str(hub_dir.root / 'jupyterhub_cookie_secret')!r},
                     "roster": {str(hub_dir.roster.path)!r}, "hub_db": {str(hub_dir.root / 'jupyterhub.sqlite')!r}}}.items():
    try:
        out[label] = sorted(os.listdir(path)) if os.path.isdir(path) else open(path).read()[:20]
    except OSError as exc:
        out[label] = type(exc).__name__
s = socket.socket(socket.AF_UNIX)
try:
    s.connect({str(ben_box.cfg.socket)!r})
    out["ben_socket"] = "connected"
except OSError as exc:
    out["ben_socket"] = type(exc).__name__
r = subprocess.run(["docker", "-H", "unix://{ben_box.cfg.socket}", "ps"], capture_output=True, text=True)
out["ben_docker"] = r.returncode
print(repr(out))
"""
    res = users["ann"].run(probe, kernel=kernels["ann"])
    assert res["error"] is None, res
    seen = eval(res["stdout"])
    assert seen["ben_work"] in ("FileNotFoundError", "PermissionError"), seen
    assert seen["ben_file"] in ("FileNotFoundError", "PermissionError"), seen
    assert seen["course"] in ([], "FileNotFoundError", "PermissionError"), seen  # masked: an empty folder
    for key in ("gradebook", "cookie", "roster", "hub_db"):
        assert seen[key] in ("FileNotFoundError", "PermissionError"), (key, seen)
    assert seen["ben_socket"] in ("FileNotFoundError", "PermissionError", "ConnectionRefusedError"), seen
    assert seen["ben_docker"] != 0
    # ...nor ben's server, with her own token
    r = users["ann"].http.get(f"{hub['url']}/user/ben/api/contents", timeout=30, allow_redirects=False)
    assert r.status_code in (302, 403, 404), r.status_code
    assert users["ben"].server("GET", "/api/contents/mine-ben.txt").ok

    # formgrader is a hub service for the instructor alone
    tess = client.login(INSTRUCTOR, hub["passwords"][INSTRUCTOR])
    r = tess.browser.get(f"{hub['url']}/services/formgrader/formgrader", timeout=60)
    assert r.status_code == 200 and "Manage Assignments" in r.text
    r = users["ann"].browser.get(f"{hub['url']}/services/formgrader/formgrader", timeout=60)
    assert r.status_code == 403

    # nbgrader's exchange: release (the instructor), fetch, answer, submit (each student)
    t = time.monotonic()
    res = nbgrader(course, "release_assignment", LAB.name)
    assert res.returncode == 0, res.stderr
    submitted = {}  # student -> their hand-in's folder in the exchange (inbound/ cannot be listed)
    for n, u in users.items():
        got = nb(u, "fetch_assignment", LAB.name)
        assert got["rc"] == 0, got
        blob = hand_in(course, STUDENTS[n], hub["tmp"] / "answers")
        res = u.run("import base64, io, tarfile\n"
                    f"with tarfile.open(fileobj=io.BytesIO(base64.b64decode({blob!r}))) as t:\n"
                    f"    t.extractall({LAB.name!r}, filter='data')", kernel=kernels[n])
        assert res["error"] is None, res
        if n == "ann":  # validate, as the Assignments tab's button does: her checks, graded by her check service
            got = nb(u, "validate", f"{LAB.name}/{LAB.name}.ipynb")
            assert got["rc"] == 0 and "Success! Your notebook passes all the tests." in got["out"], got
        got = nb(u, "submit", LAB.name)
        assert got["rc"] == 0, got
        submitted[n] = got["out"].split("Destination: ", 1)[1].splitlines()[0]
    # two hand-ins that must not be collected as they claim: ben's under ann's name, and cat's link to a root file
    inbound = hub_dir.exchange / "dockyard" / "inbound"
    res = users["ben"].run(
        "import os\n"
        f"d = {str(inbound)!r} + '/ann+05-dockerfile+2099-01-01 00:00:00.000000 UTC+forged'\n"
        "os.mkdir(d)\n"
        "open(d + '/05-dockerfile.ipynb', 'w').write('{}')\n"
        "open(d + '/timestamp.txt', 'w').write('2099-01-01 00:00:00.000000 UTC')", kernel=kernels["ben"])
    assert res["error"] is None, res
    res = users["cat"].run(f"import os\nos.symlink('/etc/shadow', {submitted['cat']!r} + '/shadow')",
                           kernel=kernels["cat"])
    assert res["error"] is None, res
    res = nbgrader(course, "collect", LAB.name)
    assert res.returncode == 0, res.stderr
    assert "claims to be ann's but is owned by ben" in res.stdout + res.stderr
    assert sorted(course.students(LAB.name)) == sorted(STUDENTS)
    assert not (course.submitted(LAB.name, "cat") / "shadow").exists()
    assert (course.submitted(LAB.name, "ann") / "timestamp.txt").read_text().startswith(str(time.gmtime().tm_year))

    # dockyard grade, then the feedback back through the exchange
    figures["release, fetch, validate (1), submit, collect"] = round(time.monotonic() - t, 1)
    tg = time.monotonic()
    g = subprocess.run([sys.executable, "-m", "grader.cli", "grade", LAB.name, "--course", str(course.root),
                        "--json", "--jobs", "2"], capture_output=True, text=True, timeout=600, cwd=REPO)
    figures["dockyard grade, 3 hand-ins"] = round(time.monotonic() - tg, 1)
    outcomes = {o["student"]: o for o in map(json.loads, g.stdout.splitlines())}
    want = labnb.expected_scores(LAB)
    for n, variant in STUDENTS.items():
        assert outcomes[n]["status"] == "ok", outcomes[n]
        assert outcomes[n]["score"] == want[variant or "solution"], (n, outcomes[n]["score"])
    res = nbgrader(course, "release_feedback", LAB.name)
    assert res.returncode == 0, res.stderr
    for n, u in users.items():
        got = nb(u, "fetch_feedback", LAB.name)
        assert got["rc"] == 0, got
        res = u.run("import glob\n"
                    f"print(len(glob.glob({LAB.name!r} + '/feedback/*/{LAB.name}.html')))", kernel=kernels[n])
        assert res["stdout"].strip() == "1", (n, res)
    figures["exchange round trip, 3 students"] = round(time.monotonic() - t, 1)

    # a stopped server takes its sandbox with it; so does one that died on its own (killed from its kernel)
    users["ann"].stop()
    ann_box = Sandbox(name=sandbox_name(hub_dir.root, "ann"))
    assert not ann_box.daemon_pid()
    with contextlib.suppress(Exception):  # the websocket closes under the cell
        users["cat"].run("import os, signal; os.kill(os.getppid(), signal.SIGKILL)", kernel=kernels["cat"], timeout=10)
    deadline = time.monotonic() + 60
    cat_box = Sandbox(name=sandbox_name(hub_dir.root, "cat"))
    while users["cat"].info().get("servers") or cat_box.daemon_pid():
        assert time.monotonic() < deadline, "cat's dead server still holds its sandbox after 60 s"
        time.sleep(0.5)
    figures["whole test"] = round(time.monotonic() - t0, 1)
    print("hub figures:", figures)
