"""The private sandbox, end to end, against real dockerd, registry, bridge and cgroups."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from dockyard import cgroups, mounts, network, procs
from dockyard.daemon import ping

from .conftest import make_sandbox


def test_up_is_idempotent(sandbox):
    pid = sandbox.daemon_pid()
    sandbox.up(progress=print)
    assert sandbox.daemon_pid() == pid, "a second up must not restart a healthy daemon"
    assert ping(sandbox.cfg.socket)


def test_run_a_container(docker_client):
    out = docker_client.containers.run("busybox", ["echo", "hello"], remove=True)
    assert out == b"hello\n"


def test_containers_get_the_sandbox_cgroup_parent(docker_client, sandbox, tracked):
    c = docker_client.containers.run("busybox", ["sleep", "30"], detach=True)
    tracked["containers"].append(c.id)
    c.reload()
    cgroup = Path(f"/proc/{c.attrs['State']['Pid']}/cgroup").read_text()
    assert f"/{sandbox.cfg.cgroup_name}/{c.id}" in cgroup


def test_pull_comes_from_the_sandbox_registry(docker_client, tracked):
    for ref in ("busybox:latest",):
        try:
            docker_client.images.remove(ref, force=True)
        except Exception:
            pass
    img = docker_client.images.pull("busybox", tag="latest")
    assert img.labels.get("org.dockyard.stand-in") == "true"
    assert "busybox:latest" in img.tags


@pytest.mark.parametrize("image,cmd,expect", [
    ("python:3.11-slim", ["python", "-c", "import sqlite3, sys; print(sys.version_info[:2])"], "(3, 11)"),
    ("node:18-slim", ["node", "-e", "console.log(process.versions.node.split('.')[0])"], "18"),
    ("debian:bookworm-slim", ["cat", "/etc/debian_version"], "12."),
])
def test_seeded_images_work(docker_client, image, cmd, expect):
    out = docker_client.containers.run(image, cmd, remove=True).decode()
    assert expect in out


def test_published_port_answers_on_loopback_only(docker_client, tracked):
    c = docker_client.containers.run("busybox", ["httpd", "-f", "-p", "8000", "-h", "/etc"], detach=True,
                                     ports={"8000/tcp": None})
    tracked["containers"].append(c.id)
    c.reload()
    binding = c.attrs["NetworkSettings"]["Ports"]["8000/tcp"][0]
    assert binding["HostIp"] == "127.0.0.1"
    url = f"http://127.0.0.1:{binding['HostPort']}/passwd"
    for _ in range(50):
        try:
            body = urllib.request.urlopen(url, timeout=2).read().decode()
            break
        except OSError:
            time.sleep(0.1)
    else:
        pytest.fail(f"nothing answered on {url}")
    assert body.startswith("root:")


def test_no_route_out_of_the_machine(sandbox):
    st = sandbox.state
    assert network.forwarding(st.bridge) is False, "the kernel must not forward packets from the bridge"
    args = procs.cmdline(sandbox.daemon_pid())
    for flag in ("--iptables=false", "--ip-masq=false", "--ip-forward=false", "--ip=127.0.0.1"):
        assert flag in args
    if os.path.exists("/usr/sbin/iptables"):
        nat = subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True, text=True).stdout
        assert st.subnet not in nat, f"a NAT rule mentions the sandbox subnet:\n{nat}"


def test_docker_run_prints_no_false_forwarding_warning(sandbox):
    """Containers talk across the bridge with the host's forwarding off; dockerd must not say networking is broken."""
    before = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    res = subprocess.run(["docker", "run", "--rm", "busybox", "true"], capture_output=True, text=True,
                         env={**os.environ, **sandbox.env()}, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "forwarding" not in res.stderr, res.stderr
    # the host's switch is untouched, and the view is dockerd's alone
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == before
    assert not any("ip_forward" in line for line in Path("/proc/self/mountinfo").read_text().splitlines())
    assert network.forwarding(sandbox.state.bridge) is False


def test_container_over_its_memory_cap_is_oom_killed(docker_client, tracked):
    c = docker_client.containers.run("busybox", ["sh", "-c", "x=a; while true; do x=$x$x; done"], detach=True,
                                     mem_limit="32m", memswap_limit="32m")
    tracked["containers"].append(c.id)
    result = c.wait(timeout=60)
    c.reload()
    assert c.attrs["State"]["OOMKilled"] is True
    assert result["StatusCode"] == 137


def test_fork_loop_hits_the_sandbox_pids_cap(fresh_sandbox):
    client = fresh_sandbox.client
    cap = fresh_sandbox.cgroup.limits()["pids"]
    assert cap == 256
    c = client.containers.run("busybox", ["sh", "-c", "f() { f & f & wait; }; f"], detach=True)
    try:
        peak = 0
        deadline = time.monotonic() + 60  # a bound on the wait, not what is asserted: a busy machine forks slowly
        while peak < cap * 0.9 and time.monotonic() < deadline:
            peak = max(peak, fresh_sandbox.cgroup.usage()["pids"] or 0)
            time.sleep(0.05)
        assert peak >= cap * 0.9, f"the fork loop reached only {peak} of {cap} processes"
        # the machine is fine: it can still start processes outside the sandbox
        assert subprocess.run(["true"]).returncode == 0
        assert fresh_sandbox.cgroup.usage()["pids"] <= cap
    finally:
        c.remove(force=True)
    assert client.containers.run("busybox", ["echo", "ok"], remove=True) == b"ok\n"


def test_push_to_the_sandbox_own_registry(sandbox, docker_client, tracked):
    reg = sandbox.env()["DOCKYARD_REGISTRY"]
    ref = f"{reg}/course/hello"
    docker_client.images.get("busybox").tag(ref, "v1")
    tracked["images"].append(f"{ref}:v1")
    for line in docker_client.api.push(ref, tag="v1", stream=True, decode=True):
        assert "error" not in line, line
    assert "course/hello" in sandbox.registry.catalog()
    assert sandbox.registry.tags("course/hello") == ["v1"]


def test_a_sandbox_cloned_from_the_template_mounts_base_layers_when_pushing():
    """Grading's sandboxes: the registry holds the template's base layers, so a push does not upload them."""
    from dockyard import template
    from dockyard.sandbox import Sandbox

    tpl = template.ensure(progress=print, images=("busybox",))
    box = Sandbox(name=f"t{os.getpid() % 100000}-tpl")
    try:
        box.up(progress=print, template=tpl)
        client = box.client
        ref = f"{box.env()['DOCKYARD_REGISTRY']}/course/base"
        client.images.get("busybox").tag(ref, "1")
        said = [line.get("status", "") for line in client.api.push(ref, tag="1", stream=True, decode=True)
                if "error" not in line or pytest.fail(line["error"])]
        assert any(s.startswith("Mounted from library/busybox") for s in said), said
        assert "course/base" in box.registry.catalog() and box.registry.tags("course/base") == ["1"]
        assert box.registry.image_config("course/base", "1") is not None
        _digest, manifest = box.registry.manifest("course/base", "1")
        assert manifest["config"]["digest"] == client.images.get("busybox").id  # the same image, all there
    finally:
        with contextlib.suppress(Exception):
            if box._client is not None:
                box._client.close()
        box.down(purge=True)


def test_a_container_name_not_on_the_network_fails_to_resolve_at_once(docker_client, tracked):
    """Not after the resolver's 10 s timeout for a DNS server that no container can reach."""
    net = docker_client.networks.create("dnsnet")
    tracked["networks"].append(net.name)
    probe = ("import socket, time\nt = time.monotonic()\ntry:\n    socket.getaddrinfo('nosuch-container', 80)\n"
             "except OSError as exc:\n    print(exc)\nprint(round(time.monotonic() - t, 1))")
    out = docker_client.containers.run("python:3.11-slim", ["python3", "-c", probe], network="dnsnet",
                                       remove=True).decode().splitlines()
    assert "No address associated with hostname" in out[0] and float(out[-1]) < 2, out


def test_reset_removes_what_the_learner_made_and_keeps_base_images(fresh_sandbox):
    client = fresh_sandbox.client
    client.containers.run("busybox", ["sleep", "60"], detach=True, name="mine")
    client.volumes.create("myvol")
    client.networks.create("mynet")
    client.images.get("busybox").tag("myimage", "1")
    reg = fresh_sandbox.env()["DOCKYARD_REGISTRY"]
    client.images.get("busybox").tag(f"{reg}/mine", "1")
    for _ in client.api.push(f"{reg}/mine", tag="1", stream=True):
        pass
    assert fresh_sandbox.registry.catalog() == ["mine"]

    done = fresh_sandbox.reset()

    assert done["containers"] == 1 and done["volumes"] == 1 and done["networks"] == 1
    assert client.containers.list(all=True) == []
    assert [v.name for v in client.volumes.list()] == []
    assert sorted(n.name for n in client.networks.list()) == ["bridge", "host", "none"]
    tags = {t for i in client.images.list() for t in i.tags}
    assert "busybox:latest" in tags and "myimage:1" not in tags
    assert fresh_sandbox.registry.catalog() == []

    # the registry keeps its address, so a kernel's $DOCKYARD_REGISTRY stays valid; pushing works again
    assert fresh_sandbox.env()["DOCKYARD_REGISTRY"] == reg
    for _ in range(3):
        fresh_sandbox.reset()
    client.images.get("busybox").tag(f"{reg}/again", "1")
    for line in client.api.push(f"{reg}/again", tag="1", stream=True, decode=True):
        assert "error" not in line, line
    assert fresh_sandbox.registry.catalog() == ["again"]


def test_two_sandboxes_do_not_see_each_other(sandbox, fresh_sandbox, tracked):
    c = sandbox.client.containers.run("busybox", ["sleep", "60"], detach=True, name="only-in-first")
    tracked["containers"].append(c.id)
    assert sandbox.state.bridge != fresh_sandbox.state.bridge
    assert sandbox.state.subnet != fresh_sandbox.state.subnet
    assert [x.name for x in fresh_sandbox.client.containers.list(all=True)] == []
    assert "only-in-first" in [x.name for x in sandbox.client.containers.list()]


def test_killed_dockerd_is_detected_and_recovered(fresh_sandbox):
    client = fresh_sandbox.client
    pid = fresh_sandbox.daemon_pid()
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        if not procs.alive(pid):
            break
        time.sleep(0.05)
    st = fresh_sandbox.status()
    assert st["daemon"]["answering"] is False
    assert any("dockyard up" in p for p in st["problems"]), st["problems"]

    fresh_sandbox.up(progress=print)
    assert fresh_sandbox.daemon_pid() not in (None, pid)
    fresh_sandbox._client = None
    assert fresh_sandbox.client.containers.run("busybox", ["echo", "back"], remove=True) == b"back\n"
    del client


def test_status_reports_the_running_sandbox(sandbox):
    st = sandbox.status()
    assert st["daemon"]["answering"] and st["daemon"]["version"]
    assert st["registry"]["running"] and st["mirror"]["running"]
    assert "busybox" in st["mirror"]["images"]
    assert st["cgroup"]["limits"]["memory"] == 2 * 1024**3
    assert st["cgroup"]["limits"]["pids"] == 512
    assert 0 < st["memory"]["sandbox_processes"] < 1024**3
    json.dumps(st, default=str)


def test_down_leaves_nothing_behind():
    with make_sandbox(memory="512m") as box:
        client = box.client
        client.networks.create("leftover-net")
        client.containers.run("busybox", ["sleep", "600"], detach=True, network="leftover-net")
        client.containers.run("busybox", ["sleep", "600"], detach=True, ports={"80/tcp": None})
        pid, cfg = box.daemon_pid(), box.cfg
        bridges = [cfg.bridge] + box._user_network_bridges()
        assert all(network.link_exists(b) for b in bridges)
        cg = box.cgroup
    # make_sandbox brought it down
    assert not procs.alive(pid)
    assert procs.find_by_arg(str(cfg.exec_root)) == []
    assert procs.find_by_arg(str(cfg.dir)) == []
    assert not any(network.link_exists(b) for b in bridges), bridges
    assert mounts.mounted_under(cfg.dir) == [] and mounts.mounted_under(cfg.exec_root) == []
    assert not cg.exists(), [str(p) for p in cg._all_dirs()]
    assert not cfg.dir.exists()


def test_disk_quota_contains_a_disk_filling_container():
    with make_sandbox(disk="300m") as box:
        assert mounts.is_mountpoint(box.cfg.data_root)
        res = box.client.containers.run("busybox", ["sh", "-c", "dd if=/dev/zero of=/big bs=1M count=600; echo rc=$?"],
                                        remove=True, stderr=True).decode()
        assert "No space left on device" in res
        assert box.status()["disk"]["total"] < 400 * 1024**2
    assert not mounts.mounted_under(box.cfg.dir)


def test_cgroup_hierarchy_is_detected():
    h = cgroups.detect()
    assert h.version in (1, 2)
    assert "memory" in h.controllers


def test_existing_backend_resets_only_what_dockyard_labeled(sandbox, tracked):
    from dockyard import ExistingSandbox
    from dockyard.config import LABEL

    client = sandbox.client
    client.images.pull("busybox", tag="latest")  # create() does not pull
    mine = client.containers.create("busybox", ["true"], labels={LABEL: "existing"})
    theirs = client.containers.create("busybox", ["true"])
    tracked["containers"] += [mine.id, theirs.id]
    existing = ExistingSandbox(docker_host=sandbox.docker_host)
    assert existing.up()["running"] is True
    assert existing.status()["daemon"]["answering"] is True
    done = existing.reset()
    ids = {c.id for c in client.containers.list(all=True)}
    assert mine.id not in ids and theirs.id in ids
    assert done["containers"] == 1
    assert existing.down()["stopped"] == []  # never Dockyard's to stop
    assert sandbox.running()


def test_vfs_storage_driver_works_where_overlay_would_not():
    with make_sandbox(storage_driver="vfs") as box:
        assert box.client.info()["Driver"] == "vfs"
        assert box.client.containers.run("busybox", ["echo", "vfs"], remove=True) == b"vfs\n"


def test_down_after_a_crash_still_removes_the_learners_network_bridges():
    with make_sandbox() as box:
        net = box.client.networks.create("crashnet")
        bridge = "br-" + net.id[:12]
        pool = box.state.address_pool
        assert network.bridges_in(pool) == [bridge], "user networks come from the sandbox's own pool"
        os.kill(box.daemon_pid(), signal.SIGKILL)
    assert not network.link_exists(bridge)
    assert network.bridges_in(pool) == []
