import json
import os
import shlex
import sys

import pytest
from click.testing import CliRunner

from dockyard import cgroups
from dockyard.cli import render_status
from grader.cli import main
from dockyard.config import SandboxConfig


@pytest.fixture
def run():
    def invoke(*args, **kw):
        return CliRunner().invoke(main, list(args), **kw)
    return invoke


def assert_clean_error(result, *expected):
    """Exit 1 through friendly_errors: 'error:' and the fix on stderr, no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.startswith("error: ")
    assert "→" in result.stderr
    assert "Traceback" not in result.output
    for text in expected:
        assert text in result.stderr


@pytest.mark.parametrize("command", [None] + sorted(main.commands))
def test_every_command_has_an_example(run, command):
    result = run(*([command] if command else []), "--help")
    assert result.exit_code == 0
    assert "Example" in result.output
    assert "dockyard " in result.output.split("Example", 1)[1]


def test_env_prints_export_lines(run, dockyard_home):
    result = run("env", "--name", "class1")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert f"export DOCKER_HOST=unix://{dockyard_home}/class1/docker.sock" in lines
    assert "export DOCKYARD_SANDBOX=class1" in lines


def test_env_output_survives_the_shell(run, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKYARD_HOME", str(tmp_path / "my home"))
    result = run("env", "-n", "class1")
    words = shlex.split(result.output.splitlines()[0])
    assert words == ["export", f"DOCKER_HOST=unix://{tmp_path}/my home/class1/docker.sock"]


def test_env_uses_dockyard_sandbox(run, monkeypatch):
    monkeypatch.setenv("DOCKYARD_SANDBOX", "fromenv")
    assert "export DOCKYARD_SANDBOX=fromenv" in run("env").output.splitlines()


def test_status_of_a_sandbox_that_never_started(run):
    result = run("status", "--name", "t1")
    assert result.exit_code == 1
    assert "sandbox     t1 (private)" in result.output
    assert "daemon      stopped" in result.output
    assert "PROBLEM" not in result.output


def test_status_json(run):
    result = run("status", "--name", "t1", "--json")
    assert result.exit_code == 1
    st = json.loads(result.stdout)
    assert st["name"] == "t1" and st["daemon"]["answering"] is False


def test_status_after_a_crash(run, dockyard_home):
    cfg = SandboxConfig(name="t1")
    cfg.dir.mkdir(parents=True)
    cfg.state_file.write_text(json.dumps({"running": True, "pid": 2**22 + 1}))  # above pid_max: never alive
    result = run("status", "-n", "t1")
    assert result.exit_code == 1
    assert "PROBLEM" in result.output and "dockyard up --name t1" in result.output


def test_status_of_a_running_sandbox(run, docker_api, spawn, seal_plugin, tmp_path, monkeypatch):
    monkeypatch.setattr(cgroups, "detect", lambda root=None: cgroups.Hierarchy(None, tmp_path, ()))
    cfg = SandboxConfig(name="t1")
    docker_api(cfg.socket)
    seal = seal_plugin(cfg)
    proc = spawn(sys.executable, "-c", "import time; time.sleep(60)", f"--host=unix://{cfg.socket}")
    cfg.pidfile.write_text(str(proc.pid))
    result = run("status", "-n", "t1")
    assert f"daemon      running, pid {proc.pid}, Docker 20.10.24 (API 1.41), containerd 1.6.20" in result.output
    assert "containers  1 running, 3 in all; images 4" in result.output
    assert f"seal        on, plugin dockyard-t1 pid {seal.pid}; workspace: none (named volumes only)" in result.output
    assert result.exit_code == 0


def test_up_with_a_bad_name(run):
    assert_clean_error(run("up", "--name", "Bad Name"), "'Bad Name'", "lowercase")


def test_up_when_not_root(run, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert_clean_error(run("up", "--name", "t1"), "needs root")
    assert "--backend existing" in run("up", "--name", "t1").stderr


def test_down_when_not_root(run, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert_clean_error(run("down", "--name", "t1"), "needs root")


def test_up_with_a_bad_memory_size(run):
    assert_clean_error(run("up", "--memory", "lots"), "'lots'")


def test_reset_when_not_running(run):
    assert_clean_error(run("reset", "--yes", "--name", "t1"), "not running", "dockyard up --name t1")


def test_bad_number_in_the_environment_is_a_clean_error(run, monkeypatch):
    monkeypatch.setenv("DOCKYARD_PIDS", "lots")
    assert_clean_error(run("status"))


def test_existing_backend_without_docker_host(run):
    assert_clean_error(run("status", "--backend", "existing"), "DOCKER_HOST")


def test_existing_backend_with_a_dead_socket(run, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    result = run("status", "--backend", "existing")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"DOCKER_HOST unix://{tmp_path}/nothing.sock" in result.output
    assert "daemon      stopped" in result.output
    assert "PROBLEM" in result.output


def test_existing_backend_with_a_dead_socket_says_what_to_do(run, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    problem = run("status", "--backend", "existing").output.split("PROBLEM", 1)[1]
    assert "→" in problem


def test_list(run):
    assert "no sandboxes yet" in run("list").output
    for name in ("class1", "class2"):
        cfg = SandboxConfig(name=name)
        cfg.dir.mkdir(parents=True)
        cfg.state_file.write_text(json.dumps({"subnet": "10.213.9.0/24"}))
    lines = run("list").output.splitlines()
    assert [line.split()[:3] for line in lines] == [["class1", "stopped", "10.213.9.0/24"],
                                                     ["class2", "stopped", "10.213.9.0/24"]]


def test_unknown_backend_is_refused_by_click(run):
    result = run("status", "--backend", "nope")
    assert result.exit_code == 2 and "Invalid value" in result.output


def test_render_status_shows_every_part_in_order():
    st = {"name": "y", "backend": "private", "docker_host": "unix:///s", "problems": ["the bridge dy-y can route"],
          "daemon": {"pid": 5, "answering": True, "version": "20.10.24", "api": "1.41", "containerd": "1.6.20"},
          "seal": {"sealed": True, "plugin": "dockyard-y", "pid": 6, "answering": True, "workspace": ["/a", "/b"]},
          "registry": {"url": None, "running": False},
          "mirror": {"url": "http://127.0.0.1:5959", "running": True, "images": "pull-through cache"},
          "bridge": {"name": "dy-y", "subnet": "10.213.7.0/24", "exists": True, "forwarding": True},
          "cgroup": {"path": "/dockyard-y", "hierarchy": "cgroup v2 (unified)",
                     "limits": {"memory": 1 << 30, "pids": 512, "cpus": 1.5}, "usage": {"memory": 1 << 20, "pids": 3}},
          "memory": {"sandbox_processes": 12345678, "processes": 4}, "storage_driver": "vfs",
          "containers": {"total": 3, "running": 1}, "images": 4,
          "disk": {"images": 1, "volumes": 2 << 20, "total": 10 << 30, "free": 1 << 30}}
    assert render_status(st).splitlines() == [
        "sandbox     y (private)",
        "DOCKER_HOST unix:///s",
        "daemon      running, pid 5, Docker 20.10.24 (API 1.41), containerd 1.6.20",
        "seal        on, plugin dockyard-y pid 6; workspace: /a, /b",
        "registry    - (down)",
        "mirror      http://127.0.0.1:5959 (up): pull-through cache",
        "containers  1 running, 3 in all; images 4",
        "disk        images 1 B, volumes 2 MiB; disk 9 GiB used of 10 GiB",
        "cgroup      /dockyard-y on cgroup v2 (unified): memory 1 MiB of 1 GiB, pids 3 of 512, cpus 1.5",
        "bridge      dy-y 10.213.7.0/24 (FORWARDING ON)",
        "memory      11.8 MiB in 4 sandbox processes",
        "storage     vfs",
        "PROBLEM     the bridge dy-y can route",
    ]


def test_render_status_of_a_daemon_whose_seal_is_down():
    st = {"name": "y", "backend": "private", "docker_host": "unix:///s", "problems": [],
          "daemon": {"pid": 5, "answering": False},
          "seal": {"sealed": True, "plugin": "dockyard-y", "pid": None, "answering": False, "workspace": []},
          "registry": {"url": "http://127.0.0.1:5123", "running": True},
          "mirror": {"url": "http://127.0.0.1:5959", "running": False, "images": []},
          "bridge": {"name": "dy-y", "subnet": "10.213.7.0/24", "exists": False, "forwarding": None}, "disk": {}}
    assert render_status(st).splitlines() == [
        "sandbox     y (private)",
        "DOCKER_HOST unix:///s",
        "daemon      refusing every request (its seal is down), pid 5",
        "seal        PLUGIN DOWN (run dockyard up); workspace: none (named volumes only)",
        "registry    http://127.0.0.1:5123 (up)",
        "mirror      http://127.0.0.1:5959 (down): none yet",
        "bridge      dy-y 10.213.7.0/24 (absent)",
    ]
