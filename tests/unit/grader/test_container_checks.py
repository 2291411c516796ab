"""container.* checks against inspect data recorded from a real sandbox, a fake /proc and fake cgroup trees.

Recorded (tests/unit/grader/data/container_*.json): web (busybox httpd, --memory 64m
--cpus 0.5 --pids-limit 50 --cpu-shares 512 --cpuset-cpus 0 -p 127.0.0.1::80,
-v webdata:/data, -v conf:/config:ro, --tmpfs /scratch, --ipc shareable,
--restart unless-stopped), sidecar (--pid/--network/--ipc container:web), hostpid
(--pid/--network/--ipc/--uts host), reversed (-p 80:8080), exited3 (exit 3),
oom (--memory 16m, killed by the OOM killer), created (never started).
"""

from __future__ import annotations

import http.server
import os
import socket
import threading
from pathlib import Path

import pytest

from grader.checks import base
from grader.checks import container, container_exec, container_limits, container_namespaces, container_ports
from grader.checks import container_limits as C


def patch_all(monkeypatch, attr, value):
    """The container family spans several modules; patch a setting wherever it is used."""
    for mod in (container, container_limits, container_namespaces, container_ports):
        if hasattr(mod, attr):
            monkeypatch.setattr(mod, attr, value)

from .fakes import local_http_server, FakeContext, load_data, run_check

NAMES = ("web", "sidecar", "hostpid", "reversed", "exited3", "oom", "created")
HOST_NS = {"pid": "pid:[4026531836]", "net": "net:[4026531833]", "ipc": "ipc:[4026531839]",
           "uts": "uts:[4026531838]", "user": "user:[4026531837]", "cgroup": "cgroup:[4026531835]"}
WEB_NS = {"pid": "pid:[4026532183]", "net": "net:[4026532184]", "ipc": "ipc:[4026532182]",
          "uts": "uts:[4026532181]", "user": "user:[4026531837]", "cgroup": "cgroup:[4026531835]"}
SANDBOX = "dockyard-t4981-0"
V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct", "cpuset", "blkio", "devices", "freezer")


def run(ctx, name, /, **params):
    return run_check(name, ctx, **params)


@pytest.fixture
def data():
    return {n: load_data(f"container_{n}") for n in NAMES}


@pytest.fixture
def ctx(data, tmp_path):
    return FakeContext(containers=data, submission=tmp_path / "sub",
                       logs={"exited3": "starting\nfatal: no config\n", "web": "httpd starting\n",
                             "oom": "allocating\n"})


def proc_cgroup(cid: str, combined_cpu: bool = False) -> str:
    ctrls = ["pids", "memory", "cpuset", "cpu,cpuacct" if combined_cpu else "cpu"]
    lines = [f"{i + 1}:{c}:/{SANDBOX}/{cid}" for i, c in enumerate(ctrls)]
    return "\n".join(lines + [f"0::/{SANDBOX}/{cid}"]) + "\n"


@pytest.fixture
def fake_proc(tmp_path, monkeypatch, data):
    """/proc/<pid>/ns/* links and /proc/<pid>/cgroup as the host sees them for the recorded containers."""
    proc = tmp_path / "proc"
    ns = {"self": HOST_NS, data["web"]["State"]["Pid"]: WEB_NS,
          data["sidecar"]["State"]["Pid"]: {**WEB_NS, "uts": "uts:[4026532290]"},
          data["hostpid"]["State"]["Pid"]: HOST_NS,
          data["reversed"]["State"]["Pid"]: {k: v.replace("40265321", "40265323") for k, v in WEB_NS.items()}}
    for pid, links in ns.items():
        (proc / str(pid) / "ns").mkdir(parents=True)
        for kind, target in links.items():
            os.symlink(target, proc / str(pid) / "ns" / kind)
    for n in ("web", "sidecar", "hostpid", "reversed"):
        (proc / str(data[n]["State"]["Pid"]) / "cgroup").write_text(proc_cgroup(data[n]["Id"]))
    patch_all(monkeypatch, "PROC", proc)
    return proc


def v1_tree(root: Path, cid: str, files: dict | None = None) -> Path:
    """A cgroup v1 hierarchy with one container's files; ``files`` ("ctrl/file": text) replace the defaults."""
    for ctrl in V1_CONTROLLERS:
        (root / ctrl).mkdir(parents=True, exist_ok=True)
        (root / ctrl / "cgroup.procs").write_text("")
    defaults = {"memory/memory.limit_in_bytes": "67108864", "memory/memory.memsw.limit_in_bytes": "134217728",
                "pids/pids.max": "50", "cpu/cpu.cfs_quota_us": "50000", "cpu/cpu.cfs_period_us": "100000",
                "cpu/cpu.shares": "512", "cpuset/cpuset.cpus": "0"}
    defaults.update(files or {})
    for rel, text in defaults.items():
        ctrl, name = rel.split("/")
        d = root / ctrl / SANDBOX / cid
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text + "\n")
    return root


def v2_tree(root: Path, cid: str, files: dict | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
    d = root / SANDBOX / cid
    d.mkdir(parents=True)
    defaults = {"memory.max": "67108864", "memory.swap.max": "67108864", "pids.max": "50",
                "cpu.max": "50000 100000", "cpu.weight": "20", "cpuset.cpus": "0"}
    defaults.update(files or {})
    for name, text in defaults.items():
        (d / name).write_text(text + "\n")
    return root


# --- exists / state -------------------------------------------------------------------------
def test_exists_passes_with_state_and_image(ctx):
    o = run(ctx, "container.exists", name="web")
    assert o.passed and "web exists (running, image busybox)" in o.message


@pytest.mark.parametrize("asked", ["WEB", "web1", "web_"])
def test_missing_container_suggests_a_similar_name(ctx, asked):
    o = run(ctx, "container.exists", name=asked)
    assert not o.passed and o.reason == "missing" and f"there is no container named {asked}" in o.message
    assert "found 'web', did you mean it?" in o.hint and f"docker run --name {asked}" in o.hint


def test_missing_container_without_a_similar_one(ctx):
    o = run(ctx, "container.state", name="database")
    assert o.reason == "missing" and "did you mean" not in o.hint
    assert o.hint.startswith("start it with docker run --name database")


def test_state_running_passes(ctx):
    o = run(ctx, "container.state", name="web")
    assert o.passed and o.message == "container web is running"


def test_state_exited_quotes_exit_code_and_log_tail(ctx):
    o = run(ctx, "container.state", name="exited3")
    assert not o.passed and o.reason == "not_running"
    assert o.message == "container exited3 is exited (exit code 3); expected running"
    assert "fatal: no config" in o.hint and "docker logs exited3" in o.hint
    assert o.evidence["exit_code"] == 3 and "fatal: no config" in o.evidence["log_tail"]


def test_state_wrong_exit_code(ctx):
    o = run(ctx, "container.state", name="exited3", status="exited", exit_code=0)
    assert o.reason == "wrong_exit_code" and o.message == "container exited3 exited with code 3; expected exit code 0"
    assert run(ctx, "container.state", name="exited3", exit_code=3).passed  # "exited" is implied


def test_state_oom_killed(ctx):
    o = run(ctx, "container.state", name="oom", oom_killed=True)
    assert o.passed and "killed by the OOM killer" in o.message and o.evidence["exit_code"] == 137
    o = run(ctx, "container.state", name="oom", status="exited", oom_killed=False)
    assert o.reason == "oom_killed" and "memory limit 16 MiB" in o.message and "expected it not to be" in o.message
    assert "raise --memory" in o.hint
    o = run(ctx, "container.state", name="exited3", oom_killed=True)
    assert o.reason == "not_oom_killed" and "was not killed by the OOM killer (exit code 3" in o.message
    assert "--memory" in o.hint


@pytest.mark.parametrize("events,passed,why", [
    ({"oom": 1, "kill": 0}, True, "the daemon logged an oom event"),
    ({"oom": 0, "kill": 0}, True, "no docker kill or stop sent it"),
    ({"oom": 0, "kill": 1}, False, "killed by docker kill or docker stop"),
])
def test_state_oom_flag_lost_by_dockerd_is_recovered_from_its_events(data, events, passed, why):
    lost = data["oom"]
    lost["State"]["OOMKilled"] = False  # docker 20.10 can drop it when the exit is processed first

    class WithEvents(FakeContext):
        def container_events(self, container_id, since=None):
            self._record("container_events", container_id, since)
            return events

    ctx = WithEvents(containers={"oom": lost})
    o = run(ctx, "container.state", name="oom", oom_killed=True)
    assert o.passed is passed and why in o.evidence["oom_evidence"]
    assert ctx.calls_to("container_events") == [((lost["Id"], lost["Created"]), {})]


def test_state_oom_killed_but_expected_running_explains_memory(ctx):
    o = run(ctx, "container.state", name="oom")
    assert o.reason == "not_running" and "killed by the OOM killer" in o.message
    assert "ran out of memory (limit 16 MiB)" in o.hint


def test_state_still_running_and_created(ctx):
    o = run(ctx, "container.state", name="web", exit_code=0)
    assert o.reason == "still_running" and "still running; expected exited" in o.message
    o = run(ctx, "container.state", name="created", status="running")
    assert o.reason == "not_started" and "was created but never started; expected running" in o.message
    assert o.hint.startswith("start it: docker start ")


def test_state_hints_differ_by_reason(ctx):
    hints = {run(ctx, "container.state", **kw).hint for kw in (
        dict(name="exited3"), dict(name="exited3", exit_code=0), dict(name="oom", status="exited", oom_killed=False),
        dict(name="exited3", oom_killed=True), dict(name="web", exit_code=0))}
    assert len(hints) == 5


# --- simple fields ----------------------------------------------------------------------------
def test_hostname(ctx):
    assert run(ctx, "container.hostname", name="web", equals="webhost").passed
    assert run(ctx, "container.hostname", name="sidecar", equals="webhost").passed  # --network container:web
    o = run(ctx, "container.hostname", name="hostpid", equals="webhost")
    assert o.reason == "wrong_value" and o.message == "hostname of hostpid is 'vm'; expected 'webhost'"
    assert "--hostname webhost" in o.hint
    o = run(ctx, "container.hostname", name="exited3", equals="job")
    assert "(the default: the start of the container id)" in o.message and "'47d69aa6d7b7'" in o.message


@pytest.mark.parametrize("ref", ["busybox", "busybox:latest", "docker.io/library/busybox:latest"])
def test_image_allows_implicit_latest(ctx, ref):
    assert run(ctx, "container.image", name="web", equals=ref).passed


def test_image_mismatch(ctx):
    o = run(ctx, "container.image", name="web", equals="web:1.0")
    assert o.reason == "wrong_image" and o.message == "container web runs image busybox; expected web:1.0"


def test_image_same_id_under_another_tag(ctx, data):
    ctx.images["mybox:1"] = {"Id": data["web"]["Image"]}
    assert run(ctx, "container.image", name="web", equals="mybox:1").passed


def test_env(ctx):
    assert run(ctx, "container.env", name="web", variable="APP_ENV", value="prod").passed
    assert run(ctx, "container.env", name="web", variable="EMPTY", value="").passed
    o = run(ctx, "container.env", name="web", variable="APP_ENV", value="dev")
    assert o.reason == "wrong_value" and "APP_ENV is 'prod' in container web; expected 'dev'" == o.message
    o = run(ctx, "container.env", name="web", variable="DEBUG")
    assert o.reason == "missing" and "APP_ENV" in o.message and "-e DEBUG=" in o.hint


def test_restart_policy(ctx):
    assert run(ctx, "container.restart_policy", name="web", policy="unless-stopped").passed
    assert run(ctx, "container.restart_policy", name="exited3", policy="no").passed
    o = run(ctx, "container.restart_policy", name="web", policy="always")
    assert o.reason == "wrong_value" and o.message == "restart policy of web is unless-stopped; expected always"
    assert "docker update --restart always web" in o.hint


# --- namespaces -------------------------------------------------------------------------------
def test_namespace_private_host_shared_pass(ctx, fake_proc):
    o = run(ctx, "container.namespace", name="web", kind="pid", mode="private")
    assert o.passed and "pid:[4026532183]" in o.message
    assert run(ctx, "container.namespace", name="hostpid", kind="pid", mode="host").passed
    assert run(ctx, "container.namespace", name="hostpid", kind="net", mode="host").passed
    o = run(ctx, "container.namespace", name="sidecar", kind="pid", mode="shared", with_container="web")
    assert o.passed and o.message == "pid namespace of sidecar is shared with web (pid:[4026532183])"
    assert run(ctx, "container.namespace", name="sidecar", kind="net", mode="shared").passed
    assert run(ctx, "container.namespace", name="sidecar", kind="uts", mode="private").passed
    assert o.evidence["configured"].startswith("container:65efb78da3e2")


@pytest.mark.parametrize("name, kind, other, reason, message, hint", [
    ("reversed", "pid", "web", "private", "pid namespace of reversed is private (pid:[4026532383]); "
     "expected shared with web (pid:[4026532183])", "--pid container:web"),
    ("sidecar", "net", "reversed", "shared", "net namespace of sidecar is shared with web (net:[4026532184]); "
     "expected shared with reversed (net:[4026532384])", "--network container:reversed"),
], ids=["private-but-expected-shared", "shared-with-another-container-than-expected"])
def test_namespace_expected_shared_quotes_both_identities(ctx, fake_proc, name, kind, other, reason, message, hint):
    o = run(ctx, "container.namespace", name=name, kind=kind, mode="shared", with_container=other)
    assert o.reason == reason
    assert o.message == message
    assert hint in o.hint


def test_namespace_hints_differ_by_reason(ctx, fake_proc):
    host = run(ctx, "container.namespace", name="hostpid", kind="pid", mode="private")
    assert host.reason == "host" and "expected private" in host.message and "remove --pid host" in host.hint
    private = run(ctx, "container.namespace", name="web", kind="net", mode="host")
    assert private.reason == "private" and "expected host (net:[4026531833])" in private.message
    assert "--network host" in private.hint
    shared = run(ctx, "container.namespace", name="sidecar", kind="ipc", mode="private")
    assert shared.reason == "shared" and "shared with web" in shared.message
    assert "remove --ipc container:" in shared.hint
    assert len({host.hint, private.hint, shared.hint}) == 3


def test_namespace_private_by_configuration_but_not_in_the_kernel(ctx, fake_proc):
    o = run(ctx, "container.namespace", name="web", kind="user", mode="private")
    assert o.reason == "host" and "expected private" in o.message and "--userns-remap" in o.hint


def test_namespace_needs_a_running_container(ctx, fake_proc):
    o = run(ctx, "container.namespace", name="exited3", kind="pid", mode="private")
    assert o.reason == "not_running" and "docker start exited3" in o.hint
    o = run(ctx, "container.namespace", name="web", kind="pid", mode="shared", with_container="db")
    assert o.reason == "missing" and "db" in o.message


def test_namespace_without_proc_trusts_the_configuration(ctx, tmp_path, monkeypatch):
    patch_all(monkeypatch, "PROC", tmp_path / "empty")
    o = run(ctx, "container.namespace", name="hostpid", kind="pid", mode="host")
    assert o.passed and "(unknown)" in o.message and o.evidence["identity"] is None


def test_namespace_rejects_unknown_kind_when_the_spec_is_loaded():
    problems = base.get("container.namespace").validate({"name": "web", "kind": "mnt", "mode": "private"})
    assert problems == ["parameter 'kind' of container.namespace must be one of pid, net, ipc, uts, user, cgroup, "
                        "not 'mnt'"]


# --- limits -----------------------------------------------------------------------------------
def test_cgroup_limits_v1(tmp_path, data):
    cid = data["web"]["Id"]
    got = C.cgroup_limits(proc_cgroup(cid), v1_tree(tmp_path / "cg", cid))
    assert {k: got[k] for k in ("memory", "memory_swap", "pids", "cpus", "cpu_shares", "cpuset")} == {
        "memory": 64 * 2**20, "memory_swap": 128 * 2**20, "pids": 50, "cpus": 0.5, "cpu_shares": 512, "cpuset": "0"}
    assert got["files"]["memory"].endswith(f"memory/{SANDBOX}/{cid}/memory.limit_in_bytes")


def test_cgroup_limits_v1_unlimited_and_combined_cpu_dir(tmp_path):
    root = v1_tree(tmp_path / "cg", "c1", {"memory/memory.limit_in_bytes": "9223372036854771712",
                                           "pids/pids.max": "max", "cpu/cpu.cfs_quota_us": "-1"})
    (root / "cpu").rename(root / "cpu,cpuacct")
    got = C.cgroup_limits(proc_cgroup("c1", combined_cpu=True), root)
    assert got["memory"] == got["pids"] == got["cpus"] == C.UNLIMITED and got["cpu_shares"] == 512


def test_cgroup_limits_v2(tmp_path):
    root = v2_tree(tmp_path / "cg", "c2")
    got = C.cgroup_limits(f"0::/{SANDBOX}/c2\n", root)
    assert (got["memory"], got["memory_swap"], got["pids"], got["cpus"], got["cpu_weight"], got["cpuset"]) == (
        64 * 2**20, 128 * 2**20, 50, 0.5, 20, "0")
    root = v2_tree(tmp_path / "cg2", "c3", {"memory.max": "max", "pids.max": "max", "cpu.max": "max 100000",
                                            "cpuset.cpus": ""})
    got = C.cgroup_limits(f"0::/{SANDBOX}/c3\n", root)
    assert got["memory"] == got["pids"] == got["cpus"] == got["cpuset"] == C.UNLIMITED


def test_cgroup_limits_unreadable_files_are_absent(tmp_path):
    root = v2_tree(tmp_path / "cg", "c4")
    got = C.cgroup_limits("0::/elsewhere\n", root)
    assert got == {"files": {}}


def test_shares_to_weight_matches_runc():
    assert (C.shares_to_weight(2), C.shares_to_weight(512), C.shares_to_weight(1024), C.shares_to_weight(262144)) == (
        1, 20, 39, 10000)


@pytest.fixture
def v1(tmp_path, monkeypatch, data, fake_proc):
    def make(files=None):
        root = v1_tree(tmp_path / "cg", data["web"]["Id"], files)
        patch_all(monkeypatch, "CGROUP_ROOT", root)
        return root
    return make


def test_limits_pass_configured_and_enforced(ctx, v1):
    v1()
    o = run(ctx, "container.limits", name="web", memory="64m", cpus=0.5, pids=50, cpu_shares=512, cpuset="0",
            memory_swap="128m")
    assert o.passed, o.message
    assert "memory limit 64 MiB" in o.message and "0.5 CPUs" in o.message and "enforced by its cgroup" in o.message
    assert o.evidence["enforced"]["memory"] == 64 * 2**20 and o.evidence["cgroup_files"]["pids"].endswith("pids.max")


def test_limits_wrong_value_quotes_expected_and_actual(ctx, v1):
    v1()
    o = run(ctx, "container.limits", name="web", memory="128m", cpus=1)
    assert o.reason == "wrong_value"
    assert o.message == ("container web: memory limit is 64 MiB; expected 128 MiB; "
                         "CPU limit is 0.5 CPUs; expected 1 CPU")
    assert "docker run --memory 128m --cpus 1" in o.hint and "docker update" in o.hint


def test_limits_no_limit(ctx, data):
    o = run(ctx, "container.limits", name="exited3", memory="64m", pids=20)
    assert o.reason == "no_limit" and "no memory limit is set; expected 64 MiB" in o.message
    assert "no process limit is set; expected 20" in o.message and "--pids-limit 20" in o.hint
    assert o.evidence["enforced"] == "not read (container not running)"


def test_limits_not_enforced_quotes_configured_and_enforced(ctx, v1):
    v1({"memory/memory.limit_in_bytes": "9223372036854771712", "cpu/cpu.cfs_quota_us": "100000"})
    o = run(ctx, "container.limits", name="web", memory="64m", cpus=0.5, pids=50)
    assert o.reason == "not_enforced"
    assert "memory limit is configured as 64 MiB but its cgroup enforces unlimited" in o.message
    assert "CPU limit is configured as 0.5 CPUs but its cgroup enforces 1 CPU" in o.message
    assert "memory.limit_in_bytes" in o.message and "docker restart web" in o.hint


def test_limits_wrong_value_also_shows_a_different_enforced_value(ctx, v1):
    v1({"pids/pids.max": "10"})
    o = run(ctx, "container.limits", name="web", pids=20)
    assert o.message == "container web: process limit is 50 (the cgroup enforces 10); expected 20"


def test_limits_hints_differ_by_reason(ctx, v1):
    v1({"memory/memory.limit_in_bytes": "1048576"})
    hints = {run(ctx, "container.limits", name=n, memory=m).hint
             for n, m in (("web", "64m"), ("web", "32m"), ("exited3", "64m"))}
    assert len(hints) == 3


def test_limits_on_cgroup_v2(ctx, tmp_path, monkeypatch, data, fake_proc):
    patch_all(monkeypatch, "CGROUP_ROOT", v2_tree(tmp_path / "v2", data["web"]["Id"]))
    assert run(ctx, "container.limits", name="web", memory="64m", cpus=0.5, pids=50, cpu_shares=512, cpuset="0").passed
    patch_all(monkeypatch, "CGROUP_ROOT", v2_tree(tmp_path / "v2b", data["web"]["Id"], {"cpu.weight": "100"}))
    o = run(ctx, "container.limits", name="web", cpu_shares=512)
    assert o.reason == "not_enforced" and "cpu.weight 100" in o.message


def test_limits_cpuset_ranges_compare_as_sets(ctx, data, v1):
    data["web"]["HostConfig"]["CpusetCpus"] = "0-1"
    v1({"cpuset/cpuset.cpus": "0,1"})
    assert run(ctx, "container.limits", name="web", cpuset="0,1").passed


# --- ports ------------------------------------------------------------------------------------
class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200 if self.path == "/" else 404
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"hello\n" if code == 200 else b"not found\n")

    def log_message(self, *a):
        pass


@pytest.fixture
def http_port():
    with local_http_server(_Handler) as port:
        yield port


@pytest.fixture
def closing_port():
    """Like docker-proxy with nothing behind it: accepts, then closes at once."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    stop = threading.Event()

    def serve():
        s.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = s.accept()
                conn.close()
            except OSError:
                pass
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield s.getsockname()[1]
    stop.set()
    t.join()
    s.close()


@pytest.fixture
def web_on(data, monkeypatch):
    patch_all(monkeypatch, "PROBE_BUDGET", 0.8)

    def point(port):
        data["web"]["NetworkSettings"]["Ports"]["80/tcp"] = [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
        return port
    return point


def test_port_http_probe_passes(ctx, web_on, http_port):
    web_on(http_port)
    o = run(ctx, "container.port", name="web", container_port=80, probe="http")
    assert o.passed and f"GET http://127.0.0.1:{http_port}/ answered HTTP 200" in o.message
    assert o.evidence["body"] == "hello\n"


def test_port_tcp_probe_passes_on_a_silent_server(ctx, web_on, http_port):
    web_on(http_port)
    o = run(ctx, "container.port", name="web", container_port=80)
    assert o.passed and "stayed open" in o.message


def test_port_wrong_status(ctx, web_on, http_port):
    web_on(http_port)
    o = run(ctx, "container.port", name="web", container_port=80, probe="http", path="/missing")
    assert o.reason == "wrong_status" and "answered HTTP 404; expected 200" in o.message


def test_port_no_answer_behind_the_proxy(ctx, web_on, closing_port):
    web_on(closing_port)
    o = run(ctx, "container.port", name="web", container_port=80)
    assert o.reason == "no_answer" and "nothing listens" in o.message and "0.0.0.0" in o.hint


def test_port_no_answer_http_closed_port(ctx, web_on):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    web_on(port)
    o = run(ctx, "container.port", name="web", container_port=80, probe="http")
    assert o.reason == "no_answer" and "got no answer" in o.message and "expected HTTP 200" in o.message


def test_port_probe_none_checks_only_the_binding(ctx):
    o = run(ctx, "container.port", name="web", container_port=80, probe="none")
    assert o.passed and "published on host port 32768" in o.message
    assert o.evidence["bindings"] == ["127.0.0.1:32768->80/tcp", "*:random->80/tcp"] or \
        "127.0.0.1:32768->80/tcp" in o.evidence["bindings"]


def test_port_wrong_host_port(ctx):
    o = run(ctx, "container.port", name="web", container_port=80, host_port=8080)
    assert o.reason == "wrong_host_port"
    assert o.message == "container port 80/tcp of web is published on host port 32768; expected host port 8080"
    assert "-p 8080:80" in o.hint


def test_port_reversed(ctx):
    o = run(ctx, "container.port", name="reversed", container_port=80)
    assert o.reason == "reversed"
    assert "instead host port 80 is mapped to container port 8080/tcp (-p 80:8080)" in o.message
    assert o.hint.startswith("-p HOST:CONTAINER; you wrote it the other way round")
    o = run(ctx, "container.port", name="reversed", container_port=80, host_port=8080)
    assert o.reason == "reversed" and o.hint.endswith("use -p 8080:80")


def test_port_not_published(ctx):
    o = run(ctx, "container.port", name="sidecar", container_port=80)
    assert o.reason == "not_published" and "published: nothing" in o.message and "docker run -p HOST:80" in o.hint
    o = run(ctx, "container.port", name="web", container_port=443)
    assert o.reason == "not_published" and "127.0.0.1:32768->80/tcp" in o.message


def test_port_probe_needs_a_running_container(ctx, data):
    data["exited3"]["HostConfig"]["PortBindings"] = {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    o = run(ctx, "container.port", name="exited3", container_port=80, host_port=8080)
    assert o.reason == "not_running" and "fatal: no config" in o.hint
    assert run(ctx, "container.port", name="exited3", container_port=80, host_port=8080, probe="none").passed


def test_port_hints_differ_by_reason(ctx):
    hints = {run(ctx, "container.port", name=n, container_port=p, **kw).hint for n, p, kw in (
        ("reversed", 80, {}), ("sidecar", 80, {}), ("web", 80, {"host_port": 8080}))}
    assert len(hints) == 3


# --- mounts -----------------------------------------------------------------------------------
def test_mount_volume_bind_tmpfs_pass(ctx):
    o = run(ctx, "container.mount", name="web", destination="/data", type="volume", volume="webdata", read_only=False)
    assert o.passed and o.message == "/data in web is volume 'webdata' (read-write)"
    assert run(ctx, "container.mount", name="web", destination="/config/", type="bind",
               source="/tmp/crd_rec/conf", read_only=True).passed
    assert run(ctx, "container.mount", name="web", destination="/scratch", type="tmpfs").passed


def test_mount_missing_lists_what_is_mounted(ctx):
    o = run(ctx, "container.mount", name="web", destination="/srv", volume="srv")
    assert o.reason == "missing" and "nothing is mounted at /srv in web" in o.message
    assert "/data (volume)" in o.message and "-v srv:/srv" in o.hint


def test_mount_wrong_type_and_source(ctx):
    o = run(ctx, "container.mount", name="web", destination="/data", type="bind")
    assert o.reason == "wrong_type" and o.message == "/data in web is volume 'webdata'; expected a bind mount"
    o = run(ctx, "container.mount", name="web", destination="/config", type="volume")
    assert o.reason == "wrong_type" and "a bind mount of /tmp/crd_rec/conf; expected a volume mount" in o.message
    o = run(ctx, "container.mount", name="web", destination="/data", volume="db")
    assert o.reason == "wrong_source" and "expected volume 'db'" in o.message
    o = run(ctx, "container.mount", name="web", destination="/config", source="/etc")
    assert o.reason == "wrong_source" and "expected /etc" in o.message


def test_mount_relative_source_is_in_the_submission(ctx, data, tmp_path):
    for m in data["web"]["Mounts"]:
        if m["Destination"] == "/config":
            m["Source"] = str(tmp_path / "sub" / "conf")
    assert run(ctx, "container.mount", name="web", destination="/config", source="conf").passed
    assert run(ctx, "container.mount", name="web", destination="/config", source="./conf").passed


def test_mount_read_only_and_writable(ctx):
    o = run(ctx, "container.mount", name="web", destination="/data", read_only=True)
    assert o.reason == "writable" and "mounted read-write; expected read-only" in o.message and ":ro" in o.hint
    o = run(ctx, "container.mount", name="web", destination="/config", read_only=False)
    assert o.reason == "read_only" and "mounted read-only; expected read-write" in o.message
    assert "remove :ro" in o.hint


def test_mount_anonymous_volume_is_named_so(ctx, data):
    data["web"]["Mounts"][0]["Name"] = "a" * 64
    o = run(ctx, "container.mount", name="web", destination="/data", volume="webdata")
    assert o.reason == "wrong_source" and "an anonymous volume (aaaaaaaaaaaa)" in o.message


# --- exec and logs ----------------------------------------------------------------------------
def test_exec(ctx):
    ctx.exec_results = {"cat /www/index.html": (0, "hello\n"), "false": (1, ""), "nosuch": (127, "exec failed")}
    o = run(ctx, "container.exec", name="web", command="cat /www/index.html", stdout_contains="hello")
    assert o.passed and "printed 'hello'" in o.message
    o = run(ctx, "container.exec", name="web", command=["cat", "/www/index.html"], stdout_contains="bye")
    assert o.reason == "missing_output" and "does not contain 'bye'; it was 'hello'" in o.message
    o = run(ctx, "container.exec", name="web", command="false")
    assert o.reason == "wrong_exit_code" and o.message == "`false` in web exited with 1; expected 0"
    o2 = run(ctx, "container.exec", name="web", command="nosuch")
    assert o2.reason == "wrong_exit_code" and "installed in the image" in o2.hint and o2.hint != o.hint


def test_exec_passes_the_user_and_needs_a_running_container(ctx):
    ctx.exec_results = {"id -u": (0, "1000\n")}
    assert run(ctx, "container.exec", name="web", command="id -u", stdout_contains="1000", user="app").passed
    assert ctx.calls_to("exec")[0][1]["user"] == "app"
    o = run(ctx, "container.exec", name="exited3", command="id -u")
    assert o.reason == "not_running" and "is exited (exit code 3)" in o.message


def test_logs_contain(ctx):
    o = run(ctx, "container.logs_contain", name="exited3", text="fatal")
    assert o.passed and o.evidence["line"] == "fatal: no config"
    o = run(ctx, "container.logs_contain", name="exited3", text="ready", tail=50)
    assert o.reason == "missing_text" and "last 50 log lines of exited3 do not contain 'ready'" in o.message
    assert "fatal: no config" in o.message
    o2 = run(ctx, "container.logs_contain", name="created", text="ready")
    assert o2.reason == "missing_text" and "has logged nothing" in o2.message and o2.hint != o.hint


def test_every_container_check_is_registered_with_a_title():
    names = [n for n in base.REGISTRY if n.startswith("container.")]
    assert set(names) == {"container.exists", "container.state", "container.hostname", "container.image",
                          "container.namespace", "container.limits", "container.port", "container.mount",
                          "container.exec", "container.logs_contain", "container.env", "container.restart_policy",
                          "container.updated_live", "container.written_by_others", "container.file_from",
                          "container.namespace_pair",
                          "container.user", "container.capabilities", "container.no_new_privileges", "container.read_only"}
    assert all(base.REGISTRY[n].params["name"].required for n in names)


def test_limits_accepts_sizes_in_bytes(ctx, v1):
    v1()
    assert run(ctx, "container.limits", name="web", memory=64 * 2**20, memory_swap="128m").passed
    problems = base.REGISTRY["container.limits"].validate({"name": "web", "memory": 1.5})
    assert problems and "must be str or int" in problems[0]


def test_state_accepts_a_list_of_exit_codes(ctx):
    assert run(ctx, "container.state", name="exited3", exit_code=[0, 3]).passed
    o = run(ctx, "container.state", name="exited3", exit_code=[0, 143])
    assert o.reason == "wrong_exit_code" and "expected exit code 0 or 143" in o.message


# --- container.updated_live: the same container, changed where it runs -----------------------
S = 10**9


@pytest.mark.parametrize("log,passed,reason,said", [
    ([("create", 1 * S), ("start", 2 * S), ("update", 5 * S)], True, None, "was updated in place"),
    ([("create", 1 * S), ("start", 2 * S)], False, "recreated", "has never been updated: it is a new container"),
    ([("create", 1 * S), ("start", 2 * S), ("die", 3 * S), ("update", 4 * S), ("start", 5 * S)], False,
     "restarted", "(re)started after that"),
    ([("update", 4 * S)], False, "no_evidence", "no longer reaches back"),
])
def test_updated_live_tells_an_update_from_a_new_container(data, log, passed, reason, said):
    web = data["web"]
    ctx = FakeContext(containers={"web": web}, events={web["Id"]: log})
    o = run(ctx, "container.updated_live", name="web")
    assert o.passed is passed and said in o.message and o.reason == (reason or None)
    assert o.evidence["id"] == web["Id"][:12] and len(o.evidence["events"]) == len(log)
    assert ctx.calls_to("container_event_log")[0][0][:2] == (web["Id"], web["Created"])  # by Id, not by name
    if reason == "recreated":
        assert "docker update" in o.hint


def test_updated_live_needs_the_container_running(data):
    ctx = FakeContext(containers={"exited3": data["exited3"]}, events={})
    o = run(ctx, "container.updated_live", name="exited3")
    assert o.reason == "not_running"


def test_exec_expand_compares_with_the_containers_own_environment(data):
    web = data["web"]
    web["Config"]["Env"] = ["APP_MODE=production", "PATH=/bin"]
    host = web["Config"]["Hostname"]
    said = {"typed": "ready in production mode on web\n", "expanded": f"ready in production mode on {host}\n",
            "host": "ready in  mode on vm\n"}
    for how, out in said.items():
        ctx = FakeContext(containers={"web": web}, exec_results={"cat /tmp/ready": (0, out)})
        o = run(ctx, "container.exec", name="web", command=["cat", "/tmp/ready"],
                stdout_contains="ready in $APP_MODE mode on ${HOSTNAME}", expand=True)
        assert o.passed is (how == "expanded"), (how, o.message)
        assert o.evidence["expected"] == f"ready in production mode on {host}"
        if how != "expanded":
            assert o.reason == "not_expanded" and "expanded in web" in o.message and "single quotes" in o.hint
    assert container_exec.container_env({"Config": {"Hostname": "h", "Env": ["HOSTNAME=set"]}})["HOSTNAME"] == "set"


@pytest.mark.parametrize("vault_ns,agent_ns,passed,reason", [
    ("cgroup:[4026532900]", HOST_NS["cgroup"], True, None),                  # both asked for, on any host
    (HOST_NS["cgroup"], HOST_NS["cgroup"], False, "host"),                   # no flags on cgroup v1
    ("cgroup:[4026532900]", "cgroup:[4026532901]", False, "private"),        # no flags on cgroup v2
])
def test_namespace_pair_needs_the_flag_on_v1_and_on_v2(data, tmp_path, monkeypatch, vault_ns, agent_ns, passed,
                                                       reason):
    proc = tmp_path / "proc"
    vault, agent = data["web"], data["sidecar"]
    vault["HostConfig"]["CgroupnsMode"], agent["HostConfig"]["CgroupnsMode"] = "private", "private"
    vault["Name"], agent["Name"] = "/vault", "/agent"
    for pid, ident in (("self", HOST_NS["cgroup"]), (vault["State"]["Pid"], vault_ns), (agent["State"]["Pid"], agent_ns)):
        (proc / str(pid) / "ns").mkdir(parents=True)
        os.symlink(ident, proc / str(pid) / "ns" / "cgroup")
    patch_all(monkeypatch, "PROC", proc)
    ctx = FakeContext(containers={"vault": vault, "agent": agent})
    o = run(ctx, "container.namespace_pair", name="vault", host_container="agent")
    assert o.passed is passed and o.reason == reason, o.message
    if reason == "private":
        assert "cgroup namespace of agent is private" in o.message and "--cgroupns host for agent" in o.hint
