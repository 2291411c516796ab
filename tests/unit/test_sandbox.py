"""The sandbox without a daemon: state files in a tmp DOCKYARD_HOME, a fake Docker API, fake cgroups."""

import json
import os
import subprocess
import sys

import pytest

from dockyard import cgroups, procs
from dockyard import sandbox as sb
from dockyard.config import SandboxConfig
from dockyard.errors import ConfigError, NotRoot, NotRunning
from dockyard.state import SandboxState

MiB = 1024**2


@pytest.fixture
def fake_cgroups(tmp_path, monkeypatch):
    """A v2 tree where sandbox 't1' is capped at 512 MiB / 256 pids / 1.5 cpus, using 1 MiB and 3 pids."""
    root = tmp_path / "cgroup"
    (root / "dockyard-t1").mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpu memory pids")
    for name, value in {"memory.max": str(512 * MiB), "pids.max": "256", "cpu.max": "150000 100000",
                        "memory.current": str(MiB), "pids.current": "3"}.items():
        (root / "dockyard-t1" / name).write_text(value)
    real_detect = cgroups.detect
    monkeypatch.setattr(cgroups, "detect", lambda root_=None: real_detect(root))
    return root


def write_state(name, **state):
    cfg = SandboxConfig(name=name)
    cfg.dir.mkdir(parents=True, exist_ok=True)
    cfg.state_file.write_text(json.dumps(state))
    return cfg


def dead_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# --- finding sandboxes --------------------------------------------------------------------

def test_list_sandboxes(dockyard_home):
    write_state("class1", running=False)
    write_state("class2", running=False)
    (dockyard_home / "seed").mkdir()  # shared, not a sandbox
    (dockyard_home / "nostate").mkdir()
    (dockyard_home / "Bad_Name").mkdir()
    (dockyard_home / "Bad_Name" / "sandbox.json").write_text("{}")
    assert [s.name for s in sb.list_sandboxes()] == ["class1", "class2"]
    assert [s.cfg.home for s in sb.list_sandboxes(dockyard_home)] == [dockyard_home] * 2


def test_list_sandboxes_without_a_home(tmp_path):
    assert sb.list_sandboxes(tmp_path / "nothing-here") == []


def test_get(monkeypatch):
    box = sb.get("class1", memory="1g")
    assert type(box) is sb.Sandbox and box.backend == "private"
    assert (box.name, box.cfg.memory) == ("class1", 1024**3)
    monkeypatch.setenv("DOCKYARD_SANDBOX", "fromenv")
    assert sb.get().name == "fromenv"


def test_get_unknown_backend():
    with pytest.raises(ConfigError) as err:
        sb.get(backend="nope")
    assert "'existing'" in err.value.fix


def test_get_existing_backend_from_the_environment(monkeypatch):
    monkeypatch.setenv("DOCKYARD_BACKEND", "existing")
    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
    box = sb.get("ignored")
    assert type(box) is sb.ExistingSandbox
    assert box.docker_host == "unix:///var/run/docker.sock"
    assert box.env() == {"DOCKER_HOST": "unix:///var/run/docker.sock", "DOCKYARD_SANDBOX": "existing",
                         "DOCKYARD_BACKEND": "existing"}


def test_existing_backend_needs_docker_host():
    with pytest.raises(ConfigError) as err:
        sb.ExistingSandbox()
    assert "export DOCKER_HOST=" in err.value.fix


def test_existing_backend_never_stops_the_daemon():
    box = sb.ExistingSandbox("tcp://127.0.0.1:1")
    assert box.down()["note"] and box.down()["stopped"] == []


# --- state and env --------------------------------------------------------------------------

def test_env_and_state(dockyard_home):
    box = sb.Sandbox(name="t1")
    assert box.state == SandboxState()
    assert box.env() == {"DOCKER_HOST": f"unix://{dockyard_home}/t1/docker.sock", "DOCKYARD_SANDBOX": "t1"}
    write_state("t1", registry_port=5123)
    assert box.env()["DOCKYARD_REGISTRY"] == "127.0.0.1:5123"
    assert box.registry.port == 5123


def test_corrupt_state_reads_as_empty():
    cfg = write_state("t1")
    cfg.state_file.write_text("{truncated")
    assert sb.Sandbox(name="t1").state == SandboxState()


# --- refusing early ------------------------------------------------------------------------

def test_up_and_down_need_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    box = sb.Sandbox(name="t1")
    for action in (box.up, box.down):
        with pytest.raises(NotRoot) as err:
            action()
        assert "--backend existing" in err.value.fix
    assert not box.cfg.dir.exists()  # nothing was created


def test_preflight_refuses_a_socket_path_that_is_too_long(monkeypatch, tmp_path):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(procs, "which", lambda program: "/usr/bin/" + program)
    monkeypatch.setenv("DOCKYARD_HOME", str(tmp_path / ("x" * 100)))
    with pytest.raises(ConfigError) as err:
        sb.Sandbox(name="t1").preflight()
    assert "DOCKYARD_HOME" in err.value.fix


def test_reset_needs_a_running_sandbox():
    with pytest.raises(NotRunning):
        sb.Sandbox(name="t1").reset()


# --- status ----------------------------------------------------------------------------------

def test_status_of_a_sandbox_that_never_started(fake_cgroups):
    st = sb.Sandbox(name="t1").status()
    assert st["daemon"]["answering"] is False and st["daemon"]["pid"] is None
    assert st["problems"] == []
    assert st["registry"] == {"url": None, "running": False}
    assert st["mirror"]["running"] is False and st["mirror"]["images"] == []
    assert st["cgroup"]["limits"] == {"memory": 512 * MiB, "pids": 256, "cpus": 1.5}
    assert st["cgroup"]["usage"] == {"memory": MiB, "pids": 3}
    assert st["memory"] == {"sandbox_processes": 0, "processes": 0}
    assert "containers" not in st


def test_status_after_a_crash_says_how_to_recover(fake_cgroups):
    write_state("t1", running=True, pid=dead_pid(), bridge="dy-t1", subnet="10.213.7.0/24")
    st = sb.Sandbox(name="t1").status()
    assert st["daemon"]["answering"] is False
    assert len(st["problems"]) == 1
    assert "crashed" in st["problems"][0] and "dockyard up --name t1" in st["problems"][0]
    assert st["bridge"] == {"name": "dy-t1", "subnet": "10.213.7.0/24", "exists": False, "forwarding": None}


def test_status_on_the_real_cgroup_tree_does_not_crash():
    st = sb.Sandbox(name="t1").status()  # reads /sys/fs/cgroup, writes nothing
    assert st["name"] == "t1" and st["daemon"]["answering"] is False
    assert isinstance(st["cgroup"]["hierarchy"], str)


SYSTEM_DF = {"LayersSize": 1000, "Containers": [{"SizeRw": 10}, {"SizeRw": None}],
             "Volumes": [{"UsageData": {"Size": 5}}, {"UsageData": None}]}


def fake_running_daemon(docker_api, spawn, name="t1", extra_routes=None, seal_plugin=None):
    """A fake API on the sandbox's socket plus a process that looks like its dockerd (and its real seal)."""
    cfg = SandboxConfig(name=name)
    docker_api(cfg.socket, extra_routes)
    if seal_plugin:
        seal_plugin(cfg)
    proc = spawn(sys.executable, "-c", "import time; time.sleep(60)", f"--host=unix://{cfg.socket}")
    cfg.pidfile.write_text(str(proc.pid))
    return proc


def test_status_of_a_running_sandbox(fake_cgroups, docker_api, spawn, seal_plugin):
    proc = fake_running_daemon(docker_api, spawn, extra_routes={"/system/df": SYSTEM_DF}, seal_plugin=seal_plugin)
    box = sb.Sandbox(name="t1")
    assert box.daemon_pid() == proc.pid and box.running() is True
    st = box.status()
    assert st["problems"] == []
    assert st["daemon"]["pid"] == proc.pid and st["daemon"]["answering"] is True
    assert (st["daemon"]["version"], st["daemon"]["api"]) == ("20.10.24", "1.41")
    assert (st["daemon"]["containerd"], st["daemon"]["runc"]) == ("1.6.20", "1.1.5")
    assert st["containers"] == {"total": 3, "running": 1} and st["images"] == 4
    assert st["disk"] == {"images": 1000, "containers": 10, "volumes": 5}
    assert st["memory"]["processes"] == 3 and st["memory"]["sandbox_processes"] > 0  # dockerd, the seal, its worker


def test_a_pidfile_pointing_at_a_stranger_is_not_our_daemon(fake_cgroups, spawn):
    cfg = SandboxConfig(name="t1")
    cfg.dir.mkdir(parents=True)
    proc = spawn(sys.executable, "-c", "import time; time.sleep(60)")
    cfg.pidfile.write_text(str(proc.pid))
    box = sb.Sandbox(name="t1")
    assert box.daemon_pid() is None and box.running() is False


def test_user_network_bridges(docker_api, spawn):
    networks = [
        {"Name": "bridge", "Driver": "bridge", "Id": "0" * 64, "Options": {}},
        {"Name": "host", "Driver": "host", "Id": "1" * 64},
        {"Name": "web", "Driver": "bridge", "Id": "abcdef0123456789" * 4, "Options": None},
        {"Name": "db", "Driver": "bridge", "Id": "2" * 64,
         "Options": {"com.docker.network.bridge.name": "dy-db-net"}},
    ]
    fake_running_daemon(docker_api, spawn, extra_routes={"/networks": networks})
    box = sb.Sandbox(name="t1")
    assert box._user_network_bridges() == ["br-abcdef012345", "dy-db-net"]
    assert box.state.network_bridges == ("br-abcdef012345", "dy-db-net")


def test_purging_kills_running_and_paused_containers_first():
    """dockerd would give each container its stop timeout (a `sleep` ignores SIGTERM); a paused one refuses a kill."""
    calls = []

    class API:
        def containers(self, filters):
            calls.append(("list", filters))
            return [{"Id": "a", "State": "running"}, {"Id": "b", "State": "paused"}]

        def unpause(self, cid):
            calls.append(("unpause", cid))

        def kill(self, cid):
            calls.append(("kill", cid))
            if cid == "a":
                raise RuntimeError("already gone")  # one failure does not stop the others

    box = sb.Sandbox(name="p1")
    box._client = type("Client", (), {"api": API()})()
    box._kill_containers()
    assert calls == [("list", {"status": ["running", "paused"]}), ("kill", "a"), ("unpause", "b"), ("kill", "b")]


def test_the_existing_daemon_is_a_backend_of_its_own_not_a_sandbox(monkeypatch):
    """It has what every front uses, and none of the private sandbox's seal, registry, cgroup or lock."""
    box = sb.ExistingSandbox("unix:///run/somebody/docker.sock")
    assert not isinstance(box, sb.Sandbox)
    for attr in ("name", "backend", "cfg", "docker_host", "client", "running", "env", "lesson_env", "up", "down",
                 "reset", "status"):
        assert attr in dir(box), attr
    for private in ("seal", "registry", "seed_store", "cgroup", "scratch", "daemon_pid", "_lock"):
        assert not hasattr(box, private), private
    assert box.lesson_env() == box.env() == {"DOCKER_HOST": "unix:///run/somebody/docker.sock",
                                             "DOCKYARD_SANDBOX": "existing", "DOCKYARD_BACKEND": "existing"}
