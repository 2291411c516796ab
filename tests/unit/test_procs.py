"""procs against child processes these tests start themselves (and always clean up)."""

import os
import shutil
import subprocess
import sys
import time

import pytest

from dockyard import procs
from dockyard.errors import MissingDependency

SLEEPER = "import time; time.sleep(60)"
NOTE_TERM = "import signal, sys, time; note = lambda: open(sys.argv[1], 'a').write('TERM '); "
IGNORES_TERM = NOTE_TERM + ("signal.signal(signal.SIGTERM, lambda *a: note()); "  # notes the SIGTERM and goes on
                            "print('ready', flush=True); time.sleep(60)")
ENDS_ON_TERM = NOTE_TERM + ("signal.signal(signal.SIGTERM, lambda *a: (note(), sys.exit(0))); "
                            "print('ready', flush=True); time.sleep(60)")


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_alive():
    assert procs.alive(os.getpid()) is True
    assert procs.alive(None) is False and procs.alive(0) is False
    assert procs.alive(dead_pid()) is False


def test_alive_checks_the_command_line(spawn):
    proc = spawn(sys.executable, "-c", SLEEPER, "/tmp/dy-test/docker.sock")
    assert procs.alive(proc.pid, "/tmp/dy-test/docker.sock") is True
    assert procs.alive(proc.pid, "/tmp/dy-other/docker.sock") is False
    assert procs.cmdline(proc.pid)[-1] == "/tmp/dy-test/docker.sock"


def test_a_zombie_is_not_alive(spawn):
    proc = spawn("true")
    deadline = time.monotonic() + 5
    while procs.alive(proc.pid) and time.monotonic() < deadline:  # exited but not reaped yet
        time.sleep(0.01)
    assert open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    assert procs.alive(proc.pid) is False
    proc.wait()


def test_read_pidfile(tmp_path):
    (tmp_path / "good").write_text("1234\n")
    (tmp_path / "bad").write_text("not a pid")
    assert procs.read_pidfile(tmp_path / "good") == 1234
    assert procs.read_pidfile(tmp_path / "bad") is None
    assert procs.read_pidfile(tmp_path / "missing") is None


def test_stop_a_child(spawn, tmp_path):
    proc = spawn(sys.executable, "-c", ENDS_ON_TERM, str(tmp_path / "got"), stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    assert procs.stop(proc.pid, "python") is True
    assert procs.alive(proc.pid) is False
    assert (tmp_path / "got").read_text() == "TERM "  # asked once, and it ended by itself


def test_stop_kills_what_ignores_sigterm(spawn, tmp_path):
    proc = spawn(sys.executable, "-c", IGNORES_TERM, str(tmp_path / "got"), stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"  # SIGTERM is ignored from here on
    assert procs.stop(proc.pid, grace=0.5) is True
    assert procs.alive(proc.pid) is False
    assert (tmp_path / "got").read_text() == "TERM "  # it got SIGTERM, went on, and was killed after the grace


def test_stop_leaves_a_process_that_is_not_ours(spawn):
    proc = spawn("sleep", "30")
    assert procs.stop(proc.pid, expect="dockerd") is False
    assert proc.poll() is None
    assert procs.stop(dead_pid()) is False


def test_rss():
    assert procs.rss(os.getpid()) > 1024 * 1024
    assert procs.rss(dead_pid()) == 0


def test_children_and_descendants(spawn):
    parent = spawn("sh", "-c", "sleep 30 & echo $!; wait", stdout=subprocess.PIPE, text=True)
    grandchild = int(parent.stdout.readline())
    try:
        assert procs.children(parent.pid) == [grandchild]
        assert grandchild in procs.descendants(parent.pid)
        assert {parent.pid, grandchild} <= set(procs.descendants(os.getpid()))
    finally:
        os.kill(grandchild, 9)


def test_find_by_arg(spawn):
    proc = spawn(sys.executable, "-c", SLEEPER, "--marker=dy-find-by-arg-test")
    assert procs.find_by_arg("dy-find-by-arg-test") == [proc.pid]
    assert procs.find_by_arg("dy-nobody-has-this-argument-xyz") == []


def test_which_finds_programs():
    assert procs.which("sh") == shutil.which("sh")


def test_which_missing_program():
    with pytest.raises(MissingDependency) as err:
        procs.which("definitely-not-a-program-xyz")
    assert "apt-get install" in err.value.fix
    assert "definitely-not-a-program-xyz" in err.value.problem


def test_which_names_the_debian_package(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda *_a, **_kw: None)
    with pytest.raises(MissingDependency) as err:
        procs.which("dockerd")
    assert "apt-get install -y docker.io" in err.value.fix
    assert "dockerd is not installed" in err.value.problem
    with pytest.raises(MissingDependency) as err:
        procs.which("ip")
    assert "iproute2" in err.value.fix


def test_which_looks_in_sbin_even_without_it_in_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert procs.which("sh") in {f"{d}/sh" for d in procs.EXTRA_PATH}


def test_run():
    res = procs.run(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False)
    assert (res.returncode, res.stdout, res.stderr) == (3, "out\n", "err\n")
    with pytest.raises(subprocess.CalledProcessError):
        procs.run(["false"])
