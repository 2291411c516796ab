"""container.*, registry.* and daemon.* checks against real containers in the session sandbox.

Limits are read back from the real cgroup files, namespaces from /proc, ports are
probed on 127.0.0.1, and the registry is the sandbox's own.
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest

from dockyard import cgroups
from grader.checks import base
from tests.unit.grader.fakes import run_check
from grader.checks import container, container_limits  # noqa: F401

base.load_all()
from grader.context import Context


def run(ctx, name, /, **params):
    return run_check(name, ctx, **params)


@pytest.fixture
def ctx(sandbox, tmp_path):
    c = Context(sandbox.client, sandbox=sandbox, submission=tmp_path)
    yield c
    c.cleanup()


@pytest.fixture
def start(docker_client, tracked):
    """Start a busybox container with a unique name; removed after the test."""
    def go(cmd, prefix="c", wait=False, **kw):
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        c = docker_client.containers.run("busybox", cmd, name=name, detach=True, **kw)
        tracked["containers"].append(c.id)
        if wait:
            c.wait(timeout=60)
        return name
    return go


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SLEEP = ["sleep", "300"]
HTTPD = ["sh", "-c", "mkdir -p /www && echo hello from httpd > /www/index.html && echo httpd ready && "
                     "exec httpd -f -v -p 80 -h /www"]


# --- limits -----------------------------------------------------------------------------------
def test_limits_right_values_pass_and_are_read_from_real_cgroup_files(ctx, start):
    name = start(SLEEP, "lim", mem_limit="64m", nano_cpus=500_000_000, pids_limit=50, cpu_shares=512)
    o = run(ctx, "container.limits", name=name, memory="64m", cpus=0.5, pids=50, cpu_shares=512)
    assert o.passed, o.message
    assert "enforced by its cgroup" in o.message
    assert o.evidence["enforced"]["memory"] == 64 * 2**20 and o.evidence["enforced"]["pids"] == 50
    assert o.evidence["enforced"]["cpus"] == pytest.approx(0.5)
    files = o.evidence["cgroup_files"]
    assert all(Path(files[k]).is_file() for k in ("memory", "pids", "cpus")), files
    assert Path(files["memory"]).read_text().strip() in ("67108864",)
    assert ctx.container(name)["Id"] in files["memory"]


def test_limits_wrong_values_quote_expected_and_actual(ctx, start):
    name = start(SLEEP, "lim", mem_limit="64m", nano_cpus=500_000_000, pids_limit=50)
    o = run(ctx, "container.limits", name=name, memory="128m", pids=100)
    assert o.reason == "wrong_value"
    assert "memory limit is 64 MiB; expected 128 MiB" in o.message and "process limit is 50; expected 100" in o.message
    assert "--memory 128m --pids-limit 100" in o.hint
    free = start(SLEEP, "nolim")
    o = run(ctx, "container.limits", name=free, memory="64m")
    assert o.reason == "no_limit" and "no memory limit is set; expected 64 MiB" in o.message
    assert o.evidence["enforced"]["memory"] == container_limits.UNLIMITED


# --- namespaces -------------------------------------------------------------------------------
def test_namespaces_host_private_shared(ctx, start):
    # The sealed daemon refuses the host's pid/net/ipc/uts namespaces; the host's cgroup namespace is allowed
    # (it is the only kind on cgroup v1), so it stands for "host" here.
    own = start(SLEEP, "own")
    host = start(SLEEP, "hostcg", cgroupns="host")
    peer = start(SLEEP, "peer", network_mode=f"container:{own}")
    o = run(ctx, "container.namespace", name=own, kind="pid", mode="private")
    assert o.passed and o.evidence["identity"] != o.evidence["host_identity"]
    assert o.evidence["identity"] == os.readlink(f"/proc/{ctx.container(own)['State']['Pid']}/ns/pid")
    o = run(ctx, "container.namespace", name=host, kind="cgroup", mode="host")
    assert o.passed and o.evidence["identity"] == os.readlink("/proc/self/ns/cgroup")
    o = run(ctx, "container.namespace", name=peer, kind="net", mode="shared", with_container=own)
    assert o.passed and f"shared with {own}" in o.message
    # and the failures quote both identities
    o = run(ctx, "container.namespace", name=own, kind="pid", mode="host")
    assert o.reason == "private" and o.message.count("pid:[") == 2
    o = run(ctx, "container.namespace", name=host, kind="cgroup", mode="private")
    assert o.reason == "host" and "--cgroupns private" in o.hint
    o = run(ctx, "container.namespace", name=host, kind="net", mode="shared", with_container=own)
    assert o.reason == "private" and o.message.count("net:[") == 2 and f"expected shared with {own}" in o.message


# --- ports ------------------------------------------------------------------------------------
def test_port_http_probe_of_a_published_httpd(ctx, start):
    name = start(HTTPD, "httpd", ports={"80/tcp": ("127.0.0.1", None)})
    o = run(ctx, "container.port", name=name, container_port=80, probe="http")
    assert o.passed, o.message
    assert o.evidence["status"] == 200 and "hello from httpd" in o.evidence["body"]
    assert o.evidence["url"].startswith("http://127.0.0.1:")
    o = run(ctx, "container.port", name=name, container_port=80, probe="http", path="/nothere")
    assert o.reason == "wrong_status" and "answered HTTP 404; expected 200" in o.message
    assert run(ctx, "container.port", name=name, container_port=80).passed  # tcp


def test_port_published_but_nothing_listens(ctx, start, monkeypatch):
    monkeypatch.setattr(container, "PROBE_BUDGET", 1.5)
    name = start(SLEEP, "silent", ports={"80/tcp": ("127.0.0.1", None)})
    o = run(ctx, "container.port", name=name, container_port=80)
    assert o.reason == "no_answer" and "nothing listens" in o.message, o.message


def test_port_reversed_p(ctx, start):
    hp = free_port()
    # the task: publish container port <hp> on host port 8080; written as -p <hp>:8080
    name = start(SLEEP, "rev", ports={"8080/tcp": ("127.0.0.1", hp)})
    o = run(ctx, "container.port", name=name, container_port=hp, host_port=8080)
    assert o.reason == "reversed"
    assert f"instead host port {hp} is mapped to container port 8080/tcp (-p {hp}:8080)" in o.message
    assert f"you wrote it the other way round: use -p 8080:{hp}" in o.hint


# --- mounts, exec, logs, state -----------------------------------------------------------------
def test_mount_exec_logs(ctx, start, tracked, tmp_path, docker_client):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "app.conf").write_text("greeting=hi\n")
    vol = f"data-{uuid.uuid4().hex[:8]}"
    tracked["volumes"].append(vol)
    name = start(["sh", "-c", "echo booted; exec sleep 300"], "mnt",
                 volumes={str(conf): {"bind": "/config", "mode": "ro"}, vol: {"bind": "/data", "mode": "rw"}})
    assert run(ctx, "container.mount", name=name, destination="/config", type="bind", source="conf",
               read_only=True).passed
    assert run(ctx, "container.mount", name=name, destination="/data", volume=vol, read_only=False).passed
    o = run(ctx, "container.mount", name=name, destination="/data", read_only=True)
    assert o.reason == "writable"
    assert run(ctx, "container.mount", name=name, destination="/srv").reason == "missing"
    o = run(ctx, "container.exec", name=name, command=["cat", "/config/app.conf"], stdout_contains="greeting=hi")
    assert o.passed, o.message
    o = run(ctx, "container.exec", name=name, command="touch /config/x")
    assert o.reason == "wrong_exit_code" and "Read-only file system" in o.message
    o = run(ctx, "container.exec", name=name, command="id -u", stdout_contains="1000", user="1000")
    assert o.passed
    assert run(ctx, "container.logs_contain", name=name, text="booted").passed
    assert run(ctx, "container.logs_contain", name=name, text="crashed").reason == "missing_text"


def test_state_exited_and_oom_killed(ctx, start):
    bad = start(["sh", "-c", "echo 'fatal: no config' >&2; exit 3"], "bad", wait=True)
    o = run(ctx, "container.state", name=bad)
    assert o.reason == "not_running" and "exited (exit code 3); expected running" in o.message
    assert "fatal: no config" in o.hint
    assert run(ctx, "container.state", name=bad, exit_code=3).passed
    hog = start(["sh", "-c", "exec dd if=/dev/zero of=/dev/null bs=64M count=1"], "hog", wait=True,
                mem_limit="16m", memswap_limit="16m")
    o = run(ctx, "container.state", name=hog, oom_killed=True)
    assert o.passed and "killed by the OOM killer" in o.message, o.message
    o = run(ctx, "container.state", name=hog, status="exited", oom_killed=False)
    assert o.reason == "oom_killed" and "memory limit 16 MiB" in o.message
    # the daemon's own event log agrees: the fallback when dockerd loses the OOMKilled flag
    ins = ctx.container(hog)
    assert ctx.container_events(ins["Id"], ins["Created"]) == {"oom": 1, "kill": 0}
    assert ctx.container_events(ctx.container(bad)["Id"], ctx.container(bad)["Created"]) == {"oom": 0, "kill": 0}


def test_missing_container_suggests_the_near_name(ctx, start):
    name = start(SLEEP, "web_1")
    o = run(ctx, "container.exists", name=name.replace("_", "-"))
    assert o.reason == "missing" and f"found '{name}', did you mean it?" in o.hint


# --- registry ---------------------------------------------------------------------------------
def test_registry_push_then_tag_and_digest(ctx, sandbox, docker_client, tracked):
    reg = sandbox.env()["DOCKYARD_REGISTRY"]
    repo = f"box{uuid.uuid4().hex[:6]}"
    ref = f"{reg}/{repo}:v1"
    docker_client.images.get("busybox").tag(f"{reg}/{repo}", "v1")
    tracked["images"].append(ref)
    out = docker_client.api.push(f"{reg}/{repo}", tag="v1", stream=True, decode=True)
    errors = [line for line in out if "error" in line]
    assert not errors, errors
    assert run(ctx, "registry.tag_exists", repository=repo, tag="v1").passed
    assert run(ctx, "registry.tag_exists", repository=f"{reg}/{repo}", tag="v1").passed
    o = run(ctx, "registry.digest_matches", repository=repo, tag="v1", image=ref)
    assert o.passed, o.message
    assert run(ctx, "registry.digest_matches", repository=repo, tag="v1", image="busybox").passed
    o = run(ctx, "registry.tag_exists", repository=repo, tag="v2")
    assert o.reason == "no_tag" and "(tags: v1)" in o.message
    o = run(ctx, "registry.tag_exists", repository="nothing-here")
    assert o.reason == "no_repository" and repo in o.message
    # change the image after pushing it: the same tag now names another image
    changer = docker_client.containers.run("busybox", ["sh", "-c", "echo changed > /changed"], detach=True)
    tracked["containers"].append(changer.id)
    changer.wait(timeout=30)
    changer.commit(repository=f"{reg}/{repo}", tag="v1")
    o = run(Context(docker_client, sandbox=sandbox), "registry.digest_matches", repository=repo, tag="v1", image=ref)
    assert o.reason == "mismatch" and "push it again" in o.hint
    assert o.evidence["local_id"] != o.evidence["registry_config"]


# --- daemon -----------------------------------------------------------------------------------
def test_daemon_info_cgroup_version_matches_the_host(ctx):
    version = cgroups.detect().version
    assert run(ctx, "daemon.info", field="CgroupVersion", equals=version).passed
    assert run(ctx, "daemon.info", field="CgroupVersion", equals=3 - version).reason == "wrong_value"
    assert run(ctx, "daemon.version", field="ApiVersion", contains="1.").passed


def test_daemon_labeled(ctx, start):
    name = start(SLEEP, "lab", labels={"tier": "web", "owner": "ada"})
    assert run(ctx, "daemon.labeled", kind="container", name=name, labels={"tier": "web", "owner": None}).passed
    o = run(ctx, "daemon.labeled", kind="container", name=name, labels={"tier": "db"})
    assert o.reason == "wrong_value" and "label tier is 'web', expected 'db'" in o.message
    assert run(ctx, "daemon.labeled", kind="container", name=name, labels={"env": "prod"}).reason == "missing_label"
    assert run(ctx, "daemon.labeled", kind="volume", name="no-such-vol", labels={"a": "b"}).reason == "missing_object"
