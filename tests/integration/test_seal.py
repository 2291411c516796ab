"""The seal end to end: a real sealed sandbox refuses what reaches the host, with its message,
through the docker CLI 20.10 and docker-py, and the teaching uses keep working.

One sandbox for the whole module; the test that stops the plugin runs last and restores it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import docker
import pytest

from dockyard import procs
from dockyard.seal import Seal

from .conftest import make_sandbox

DOCKER = "/usr/bin/docker"  # Debian's docker.io 20.10 CLI


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = tmp_path_factory.mktemp("workspace")
    (ws / "lab").mkdir()
    (ws / "lab" / "hello.txt").write_text("hello from the host\n")
    (ws / "escape").symlink_to("/etc")
    return ws


@pytest.fixture(scope="module")
def box(workspace):
    with make_sandbox(memory="1g", pids=256, workspace=(str(workspace),)) as b:
        yield b


@pytest.fixture(scope="module")
def client(box):
    return box.client


@pytest.fixture(scope="module")
def peer(client):
    """A long-running container whose namespaces others join."""
    c = client.containers.run("busybox", ["sleep", "600"], detach=True, name=f"peer-{uuid.uuid4().hex[:6]}",
                              ipc_mode="shareable")
    yield c
    c.remove(force=True)


def cli(box, *args, cwd=None, docker=DOCKER):
    env = {**os.environ, **box.env(), "DOCKER_BUILDKIT": "0"}
    return subprocess.run([docker, *args], env=env, capture_output=True, text=True, timeout=120, cwd=cwd)


def assert_refused(p, box, *words):
    __tracebackhide__ = True
    assert p.returncode != 0, f"expected a refusal, the command succeeded: {p.stdout}"
    assert f"authorization denied by plugin {box.cfg.authz_plugin}: " in p.stderr, p.stderr
    for w in words:
        assert w in p.stderr, f"{w!r} not in: {p.stderr}"
    assert "Instead: " in p.stderr


# --- refused, through the docker CLI ---------------------------------------------------------------
RUN_REFUSED = [
    (["--privileged"], "docker run --privileged is refused"),
    (["--pid", "host"], "--pid host is refused"),
    (["--ipc", "host"], "--ipc host is refused"),
    (["--uts", "host"], "--uts host is refused"),
    (["--network", "host"], "--network host is refused"),
    (["--userns", "host"], "--userns host is refused"),
    (["--device", "/dev/null:/dev/x"], "docker run --device is refused"),
    (["--device-cgroup-rule", "c 1:3 rwm"], "--device-cgroup-rule is refused"),
    (["--cap-add", "SYS_ADMIN"], "--cap-add SYS_ADMIN is refused"),
    (["--cap-add", "ALL"], "--cap-add ALL is refused"),
    (["--cap-add", "cap_sys_module"], "--cap-add cap_sys_module is refused"),
    (["--security-opt", "apparmor=unconfined"], "--security-opt apparmor=unconfined is refused"),
    (["--security-opt", "seccomp=unconfined"], "--security-opt seccomp=unconfined is refused"),
    (["--security-opt", "label=disable"], "--security-opt label=disable is refused"),
    (["--security-opt", "systempaths=unconfined"], "MaskedPaths list is refused"),
    (["--cgroup-parent", "/escape"], "--cgroup-parent /escape is refused"),
    (["--runtime", "kata"], "--runtime kata is refused"),
    (["--volume-driver", "nfs", "-v", "v:/v"], "--volume-driver nfs is refused"),
    (["-p", "0.0.0.0:18080:80"], "-p 0.0.0.0:18080:80 is refused"),
    (["-v", "/etc:/x"], "binding the host folder /etc"),
    (["-v", "/:/host"], "binding the host folder /"),
    (["--mount", "type=bind,source=/etc,target=/x"], "binding the host folder /etc"),
    (["--mount", "type=volume,source=v2,target=/x,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/etc"],
     "volume driver options is refused"),
    (["--log-driver", "syslog"], "--log-driver syslog is refused"),
]


@pytest.mark.parametrize("flags, words", RUN_REFUSED, ids=[" ".join(f) for f, _ in RUN_REFUSED])
def test_cli_run_refused(box, flags, words):
    assert_refused(cli(box, "run", "--rm", *flags, "busybox", "true"), box, words)


def test_cli_binds_that_leave_the_workspace_are_refused(box, workspace):
    assert_refused(cli(box, "run", "--rm", "-v", f"{workspace}/escape:/x", "busybox", "true"), box,
                   f"binding the host folder {workspace}/escape", f"(now: {workspace}")
    assert_refused(cli(box, "run", "--rm", "-v", f"{workspace}/lab/../..:/x", "busybox", "true"), box)


def test_cli_other_refusals(box, peer, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN true\n")
    assert_refused(cli(box, "exec", "--privileged", peer.name, "true"), box, "docker exec --privileged is refused")
    assert_refused(cli(box, "build", "--network", "host", str(tmp_path)), box, "docker build --network host")
    assert_refused(cli(box, "build", "--cgroup-parent", "/x", str(tmp_path)), box, "docker build --cgroup-parent")
    assert_refused(cli(box, "volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt", "device=/etc",
                       "hostetc"), box, "docker volume create --opt")
    assert_refused(cli(box, "volume", "create", "--driver", "nfs", "v3"), box, "--driver nfs")
    assert_refused(cli(box, "network", "create", "-d", "macvlan", "mac"), box, "--driver macvlan")
    assert_refused(cli(box, "network", "create", "-o", "com.docker.network.bridge.name=eth9", "n1"), box,
                   "com.docker.network.bridge.name")
    assert_refused(cli(box, "network", "create", "--subnet", "192.168.0.0/16", "n2"), box,
                   f"address pool {box.state.address_pool}")
    assert_refused(cli(box, "swarm", "init", "--advertise-addr", "127.0.0.1"), box, "docker swarm init")
    assert_refused(cli(box, "import", "http://127.0.0.1:9/rootfs.tar"), box, "docker import http://")
    assert box.client.volumes.list(filters={"name": "hostetc"}) == []


# --- refused, through docker-py ----------------------------------------------------------------------
PY_REFUSED = [
    ({"privileged": True}, "--privileged is refused"),
    ({"pid_mode": "host"}, "--pid host is refused"),
    ({"network_mode": "host"}, "--network host is refused"),
    ({"cap_add": ["SYS_ADMIN"]}, "--cap-add SYS_ADMIN is refused"),
    ({"devices": ["/dev/null:/dev/x:rwm"]}, "--device is refused"),
    ({"security_opt": ["seccomp=unconfined"]}, "seccomp=unconfined is refused"),
    ({"volumes": {"/etc": {"bind": "/x", "mode": "ro"}}}, "binding the host folder /etc"),
    ({"mounts": [docker.types.Mount("/x", "/etc", type="bind")]}, "binding the host folder /etc"),
    ({"ports": {"80/tcp": ("0.0.0.0", 18081)}}, "-p 0.0.0.0:18081:80 is refused"),
    ({"cgroup_parent": "/escape"}, "--cgroup-parent /escape is refused"),
]


@pytest.mark.parametrize("kwargs, words", PY_REFUSED, ids=[next(iter(k)) for k, _ in PY_REFUSED])
def test_docker_py_run_refused(client, box, kwargs, words):
    with pytest.raises(docker.errors.APIError) as err:
        client.containers.run("busybox", "true", remove=True, **kwargs)
    assert err.value.status_code == 403
    assert f"authorization denied by plugin {box.cfg.authz_plugin}" in str(err.value) and words in str(err.value)


def test_docker_py_other_refusals(client, peer):
    for call, words in [
        (lambda: client.api.exec_create(peer.id, "true", privileged=True), "docker exec --privileged"),
        (lambda: client.volumes.create("v9", driver_opts={"type": "none", "o": "bind", "device": "/etc"}),
         "docker volume create --opt"),
        (lambda: client.networks.create("n9", ipam=docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet="172.31.0.0/16")])), "--subnet 172.31.0.0/16"),
        (lambda: list(client.api.pull_plugin("vieux/sshfs", privileges=[])), "Docker plugins"),
    ]:
        with pytest.raises(docker.errors.APIError, match="authorization denied") as err:
            call()
        assert words in str(err.value)


# --- allowed: what the lessons teach --------------------------------------------------------------------
def test_named_volume_keeps_data(box):
    vol = f"data-{uuid.uuid4().hex[:6]}"
    try:
        assert cli(box, "run", "--rm", "-v", f"{vol}:/data", "busybox", "sh", "-c", "echo kept > /data/f").returncode == 0
        p = cli(box, "run", "--rm", "--mount", f"type=volume,source={vol},target=/data", "busybox", "cat", "/data/f")
        assert p.returncode == 0 and p.stdout == "kept\n", p.stderr
    finally:
        cli(box, "volume", "rm", "-f", vol)


def test_workspace_binds_work_both_ways(box, workspace):
    p = cli(box, "run", "--rm", "-v", f"{workspace}/lab:/lab", "busybox", "sh", "-c",
            "cat /lab/hello.txt && echo from the container > /lab/out.txt")
    assert p.returncode == 0 and p.stdout == "hello from the host\n", p.stderr
    assert (workspace / "lab" / "out.txt").read_text() == "from the container\n"
    p = cli(box, "run", "--rm", "--mount", f"type=bind,source={workspace},target=/w,readonly", "busybox",
            "ls", "/w/lab")
    assert p.returncode == 0 and "hello.txt" in p.stdout, p.stderr
    out = box.client.containers.run("busybox", ["cat", "/lab/hello.txt"], remove=True,
                                    volumes={str(workspace / "lab"): {"bind": "/lab", "mode": "ro"}})
    assert out == b"hello from the host\n"


def test_a_bind_folder_swapped_for_a_link_after_create_is_refused_at_start(box, client, workspace, tmp_path):
    """dockerd resolves a bind source when it mounts it (start, restart, docker cp), not at create."""
    outside = tmp_path / "outside"  # stands for the host's /: a folder outside the workspace
    outside.mkdir()
    (outside / "marker").write_text("outside the workspace\n")
    tag = uuid.uuid4().hex[:6]
    folder, name, honest = workspace / f"swap-{tag}", f"swap-{tag}", f"honest-{tag}"
    folder.mkdir()
    try:
        p = cli(box, "create", "--name", name, "-v", f"{folder}:/host", "busybox", "cat", "/host/marker")
        assert p.returncode == 0, p.stderr
        cid = p.stdout.strip()
        folder.rmdir()
        folder.symlink_to(outside)
        p = cli(box, "start", "-a", name)
        assert_refused(p, box, "starting the container", f"its bind source {folder} now leads to {outside}",
                       "replaced by a link that leaves the workspace",
                       "Instead: remove the container and create it again with a real folder")
        assert "outside the workspace" not in p.stdout
        for ref in (name, cid, cid[:12]):
            with pytest.raises(docker.errors.APIError, match="replaced by a link") as err:
                client.api.start(ref)
            assert err.value.status_code == 403
        assert_refused(cli(box, "cp", f"{name}:/host/marker", "-"), box, f"docker cp with the container {name}")
        assert client.api.inspect_container(cid)["State"]["Status"] == "created"

        folder.unlink()  # honest again: a real folder inside the workspace
        folder.mkdir()
        (folder / "marker").write_text("inside\n")
        p = cli(box, "start", "-a", name)
        assert p.returncode == 0 and p.stdout == "inside\n", p.stderr
        p = cli(box, "run", "--name", honest, "-v", f"{folder}:/host", "busybox", "cat", "/host/marker")
        assert p.returncode == 0 and p.stdout == "inside\n", p.stderr
        assert cli(box, "restart", honest).returncode == 0
        # dockerd restarts a container with a restart policy on its own, without asking the seal
        assert_refused(cli(box, "run", "-d", "--restart", "always", "-v", f"{folder}:/x", "busybox", "true"), box,
                       "the restart policy always on a container that binds the host folder")
        assert_refused(cli(box, "update", "--restart", "unless-stopped", honest), box, "the restart policy")
    finally:
        cli(box, "rm", "-f", name, honest)
        if folder.is_symlink():
            folder.unlink()
        shutil.rmtree(folder, ignore_errors=True)


def test_relative_bind_from_inside_the_workspace(box, workspace):
    # docker CLI 23+ turns -v ./x into an absolute path; 20.10 says "use absolute path" itself
    newer = next((d for d in (shutil.which("docker"), "/usr/local/bin/docker") if d and d != DOCKER and
                  os.path.exists(d)), None)
    if newer is None:
        pytest.skip("no docker CLI newer than 20.10 here: relative -v paths need CLI 23+")
    p = cli(box, "run", "--rm", "-v", "./lab:/lab", "busybox", "cat", "/lab/hello.txt", cwd=workspace, docker=newer)
    assert p.returncode == 0 and p.stdout == "hello from the host\n", p.stderr
    p = cli(box, "run", "--rm", "-v", "./x:/x", "busybox", "true", cwd=workspace.parent, docker=newer)
    assert_refused(p, box, f"binding the host folder {workspace.parent}/x")


def test_sharing_namespaces_with_another_container(box, peer):
    p = cli(box, "run", "--rm", "--pid", f"container:{peer.name}", "busybox", "ps", "-o", "comm")
    assert p.returncode == 0 and "sleep" in p.stdout, p.stderr
    p = cli(box, "run", "--rm", "--network", f"container:{peer.name}", "--ipc", f"container:{peer.name}",
            "busybox", "hostname")
    assert p.returncode == 0 and p.stdout.strip() == peer.id[:12], p.stderr
    p = cli(box, "run", "--rm", "--cgroupns", "host", "--network", "none", "--volumes-from", peer.name,
            "--read-only", "--tmpfs", "/t", "--user", "1000", "--hostname", "box", "--cap-add", "NET_ADMIN",
            "--security-opt", "no-new-privileges", "busybox", "hostname")
    assert p.returncode == 0 and p.stdout.strip() == "box", p.stderr


def test_resource_limits_are_allowed(box):
    name = f"lim-{uuid.uuid4().hex[:6]}"
    try:
        p = cli(box, "run", "-d", "--name", name, "-m", "64m", "--cpus", "0.5", "--pids-limit", "50",
                "-p", "127.0.0.1::80", "busybox", "sleep", "60")
        assert p.returncode == 0, p.stderr
        hc = box.client.api.inspect_container(name)["HostConfig"]
        assert (hc["Memory"], hc["NanoCpus"], hc["PidsLimit"]) == (64 * 1024**2, 500_000_000, 50)
    finally:
        cli(box, "rm", "-f", name)


def test_build_push_to_the_sandbox_registry_and_pull_through_the_mirror(box, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo built > /built\n")
    tag = f"{box.registry.host}/seal-test:{uuid.uuid4().hex[:6]}"
    try:
        p = cli(box, "build", "-t", tag, str(tmp_path))
        assert p.returncode == 0, p.stderr
        p = cli(box, "push", tag)
        assert p.returncode == 0, p.stderr
        cli(box, "rmi", tag)
        p = cli(box, "pull", tag)
        assert p.returncode == 0, p.stderr
        cli(box, "rmi", "-f", "debian:bookworm-slim")
        p = cli(box, "pull", "debian:bookworm-slim")  # from the seed mirror: the daemon is offline
        assert p.returncode == 0, p.stderr
    finally:
        cli(box, "rmi", "-f", tag)


def test_status_shows_the_seal(box, workspace):
    st = box.status()
    assert st["problems"] == []
    assert st["seal"]["answering"] and st["seal"]["workspace"] == [str(workspace), str(box.scratch)]
    assert f"--authorization-plugin={box.cfg.authz_plugin}" in procs.cmdline(st["daemon"]["pid"])


# --- no routing past this machine, learners' networks included ---------------------------------------------
def _sysctl(iface: str, v6: bool = False) -> Path:
    if v6:
        return Path(f"/proc/sys/net/ipv6/conf/{iface}/disable_ipv6")
    return Path(f"/proc/sys/net/ipv4/conf/{iface}/forwarding")


def _closed(iface: str) -> bool:
    v6 = _sysctl(iface, v6=True)
    return _sysctl(iface).read_text() == "0\n" and (not v6.exists() or v6.read_text() == "1\n")


def _reopen(iface: str) -> None:
    """As a teacher's machine with net.ipv4.ip_forward=1 makes every new interface (the global stays as is)."""
    _sysctl(iface).write_text("1")
    if _sysctl(iface, v6=True).exists():
        _sysctl(iface, v6=True).write_text("0")


def _until_closed(iface: str, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while not _closed(iface) and time.monotonic() < deadline:
        time.sleep(0.01)
    return _closed(iface)


def test_learners_networks_never_route_off_the_machine(box, peer):
    nets = [f"fwd-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    bridges = []
    try:
        for net in nets:
            p = cli(box, "network", "create", net)
            assert p.returncode == 0, p.stderr
            bridges.append(f"br-{p.stdout.strip()[:12]}")
        for br in bridges:
            assert _closed(br), f"{br} forwards right after docker network create"
        _reopen(bridges[0])
        p = cli(box, "run", "--rm", "--network", nets[0], "busybox", "true")
        assert p.returncode == 0, p.stderr
        assert _closed(bridges[0]), f"{bridges[0]} still forwards after a container started on it"
        _reopen(bridges[1])
        assert cli(box, "network", "connect", nets[1], peer.name).returncode == 0
        assert _closed(bridges[1]), f"{bridges[1]} still forwards after a container was connected to it"
        _reopen(box.cfg.bridge)  # the sandbox's own bridge, as `sysctl net.ipv4.ip_forward=1` would reopen it
        assert _until_closed(box.cfg.bridge), "reopened without any request, the bridge must be closed again"
        assert box.status()["problems"] == []
    finally:
        for br in [box.cfg.bridge, *bridges]:
            if _sysctl(br).exists():
                _sysctl(br).write_text("0")
            if _sysctl(br, v6=True).exists():
                _sysctl(br, v6=True).write_text("1")
        cli(box, "network", "disconnect", "-f", nets[1], peer.name)
        for net in nets:
            cli(box, "network", "rm", net)


# --- the plugin dying: last, it restores the sandbox ----------------------------------------------------------
def test_zz_a_dead_plugin_is_reported_and_up_restarts_it(box):
    seal = Seal(box.cfg)
    pid = seal.pid()
    worker = procs.children(pid)[0]
    os.kill(worker, signal.SIGKILL)  # a crashed worker is replaced: the next request simply works
    assert cli(box, "ps").returncode == 0
    assert seal.pid() == pid and procs.children(pid) != [worker]
    procs.stop(pid, str(box.cfg.authz_socket))  # the whole plugin gone: dockerd refuses everything
    deadline = time.monotonic() + 5
    while procs.find_by_arg(str(box.cfg.authz_socket)) and time.monotonic() < deadline:
        time.sleep(0.05)
    st = box.status()
    assert st["seal"]["answering"] is False
    assert any("refuses every request" in p and f"dockyard up --name {box.name}" in p for p in st["problems"])
    dockerd = box.daemon_pid()
    box.up(progress=print)
    assert box.daemon_pid() == dockerd, "restarting the plugin must not restart dockerd"
    assert box.status()["problems"] == []
    assert cli(box, "run", "--rm", "busybox", "true").returncode == 0
    assert_refused(cli(box, "run", "--rm", "--privileged", "busybox", "true"), box, "--privileged")
    box.down()
    assert not box.cfg.authz_socket.exists() and seal.pid() is None
    assert not procs.find_by_arg(str(box.cfg.authz_socket))
    box.up(progress=print)  # the module fixture purges it
