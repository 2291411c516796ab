"""The seal's policy on requests recorded from a real dockerd 20.10 (docker CLI 20.10 and 28, docker-py 7),
the ways a request can dodge a naive check, and the plugin process on its socket."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

import pytest

from dockyard import authz, sandbox as sb
from dockyard.authz import Policy, check
from dockyard.authz_server import PolicyFile, decide
from dockyard.config import SandboxConfig
from dockyard.daemon import _UnixHTTPConnection, dockerd_command
from dockyard.errors import ConfigError
from dockyard.seal import Seal

RECORDED = json.loads((Path(__file__).parent.parent / "data" / "authz" / "requests.json").read_text())
RECORDED_WS = RECORDED["workspace"][0]
CREATE = "/v1.41/containers/create"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def workspace(tmp_path) -> Path:
    """The recorded workspace, rebuilt here: sub/ and etc-link -> /etc."""
    ws = tmp_path / "ws"
    (ws / "sub").mkdir(parents=True)
    (ws / "etc-link").symlink_to("/etc")
    return ws


@pytest.fixture
def data_root(tmp_path) -> Path:
    """A fake dockerd data-root: containers/ only."""
    (tmp_path / "data" / "containers").mkdir(parents=True)
    return tmp_path / "data"


@pytest.fixture
def policy(workspace, data_root) -> Policy:
    return Policy.from_dict({"workspace": [str(workspace)], "address_pool": RECORDED["address_pool"],
                             "data_root": str(data_root)})


def replay(policy: Policy, rec: dict, workspace: Path):
    body = rec["body"].replace(RECORDED_WS, str(workspace)).encode() if rec["body"] is not None else None
    return check(policy, rec["method"], rec["uri"], rec["headers"], body)


@pytest.mark.parametrize("name", sorted(RECORDED["requests"]))
def test_recorded_request(name, policy, workspace):
    rec = RECORDED["requests"][name]
    refusal = replay(policy, rec, workspace)
    if rec["expect"] == "allowed":
        assert refusal is None, f"{rec['command']} was refused: {refusal}"
    else:
        assert refusal is not None, f"{rec['command']} ({rec['client']}) was allowed"
        assert " is refused: " in refusal.message and ". Instead: " in refusal.message


@pytest.mark.parametrize("name, words", [
    ("cli-privileged", "docker run --privileged is refused"),
    ("cli-pid-host", "--pid host is refused"),
    ("cli-network-host", "--network host is refused"),
    ("cli-cap-sys-admin", "--cap-add SYS_ADMIN is refused"),
    ("cli-cap-all", "--cap-add ALL is refused"),
    ("cli-seccomp-custom", "(a custom profile) is refused"),
    ("cli-systempaths-unconfined", "a custom MaskedPaths list is refused"),
    ("cli-bind-etc", "binding the host folder /etc (-v /etc:/x) is refused"),
    ("cli-bind-symlink-escape", "etc-link:/x) is refused"),
    ("cli-mount-volume-opts-bind", "volume driver options is refused"),
    ("cli-publish-all-interfaces", "-p 0.0.0.0:8080:80 is refused"),
    ("cli-log-driver-syslog", "--log-driver syslog is refused"),
    ("cli-exec-privileged", "docker exec --privileged is refused"),
    ("cli-build-network-host", "docker build --network host is refused"),
    ("cli-volume-opts-bind", "docker volume create --opt ... is refused"),
    ("cli-network-macvlan", "--driver macvlan is refused"),
    ("cli-network-bridge-name", "--opt com.docker.network.bridge.name is refused"),
    ("cli-network-subnet-outside", "--subnet 192.168.0.0/16 is refused"),
    ("cli-swarm-init", "docker swarm init is refused"),
    ("py-plugin-install", "installing or changing Docker plugins is refused"),
    ("cli28-relative-bind-outside-workspace", "binding the host folder /tmp/h1/ctx"),
])
def test_refusals_say_what_was_refused(name, words, policy, workspace):
    assert words in replay(policy, RECORDED["requests"][name], workspace).message


def test_a_bind_refusal_names_the_workspace_and_the_way_out(policy, workspace):
    msg = replay(policy, RECORDED["requests"]["cli-bind-etc"], workspace).message
    assert f"(now: {workspace})" in msg and "-v mydata:/data" in msg and "dockyard up --workspace DIR" in msg
    empty = Policy()
    assert "(now: none yet)" in check(empty, "POST", CREATE, JSON, _create({"Binds": [f"{workspace}:/x"]})).message


# --- the request as dockerd decodes it -----------------------------------------------------------------
def _create(host_config: dict | None = None, **top) -> bytes:
    doc = {"Image": "busybox", "Cmd": ["true"], **top}
    if host_config is not None:
        doc["HostConfig"] = host_config
    return json.dumps(doc).encode()


@pytest.mark.parametrize("body", [
    _create(None, Privileged=True),  # the deprecated top-level HostConfig fields
    _create({}, Privileged=True),
    b'{"Image": "busybox", "hostconfig": {"privileged": true}}',  # Go matches keys case-insensitively
    b'{"Image": "busybox", "HOSTCONFIG": {"PRIVILEGED": true}}',
    b'{"HostConfig": {"Privileged": false, "privileged": true}}',  # ...and the last duplicate wins
    '{"HostConfig": {"\u017fecurityOpt": ["seccomp=unconfined"]}}'.encode(),  # long s folds to s in Go
    _create({"CapAdd": "SYS_ADMIN"}),  # a single string is a list of one
    _create({"Capabilities": ["CAP_SYS_ADMIN"]}),  # API 1.40: replaces the default set
    _create({"MaskedPaths": []}),
    _create({"ReadonlyPaths": ["/proc/sys"]}),
    _create({"Mounts": [{"Type": "npipe", "Source": "x", "Target": "/x"}]}),
    _create({"Mounts": [{"Type": "bind", "Target": "/x"}]}),
    _create({"Binds": ["/etc:/x:ro"]}),
    _create({"VolumeDriver": "nfs"}),
    _create({"Runtime": "runsc"}),
    _create({"LogConfig": {"Type": "gelf", "Config": {"gelf-address": "udp://127.0.0.1:12201"}}}),
    _create({"PortBindings": {"80/tcp": [{"HostIp": "::", "HostPort": "80"}]}}),
    b"",  # no body: too big, chunked, or not exactly application/json
    b"not json",
    b"[]",
])
def test_create_requests_that_try_to_dodge_the_check(body, policy):
    assert check(policy, "POST", CREATE, JSON, body) is not None


@pytest.mark.parametrize("uri", [
    "/v1.41/%63ontainers/create",  # dockerd routes on the decoded path
    "/containers/create?name=x",
    "/v1.41/containers/./create",
    "/v1.12/containers/create",
])
def test_the_path_is_read_as_dockerd_routes_it(uri, policy):
    assert check(policy, "POST", uri, JSON, _create({"Privileged": True})) is not None


def test_old_api_versions_are_refused_everywhere(policy):
    # before 1.24, POST /containers/{id}/start may carry a whole new HostConfig
    r = check(policy, "POST", "/v1.23/containers/abc/start", JSON, b'{"Privileged": true}')
    assert r and "Docker API version 1.23 is refused" in r.message
    assert check(policy, "GET", "/v1.24/containers/json") is None
    assert check(policy, "POST", "/v1.41/containers/abc/start", {"Content-Length": "0"}) is None


def test_form_encoded_bodies_are_refused(policy):
    r = check(policy, "POST", "/v1.41/build", {"Content-Type": "application/x-www-form-urlencoded"}, None)
    assert r and "form-encoded" in r.message


def test_bind_sources_are_resolved(policy, workspace):
    assert check(policy, "POST", CREATE, JSON, _create({"Binds": [f"{workspace}/sub/../..:/x"]}))
    assert check(policy, "POST", CREATE, JSON, _create({"Binds": [f"{workspace}/etc-link/ssl:/x"]}))
    assert check(policy, "POST", CREATE, JSON, _create({"Binds": [f"{workspace}x:/x"]}))  # a sibling, not inside
    assert check(policy, "POST", CREATE, JSON, _create({"Binds": [f"{workspace}/sub/new:/x", "vol:/v", "/anon"]})) is None
    (workspace / "inside-link").symlink_to(workspace / "sub")  # harmless now, but it can be re-pointed later
    r = check(policy, "POST", CREATE, JSON, _create({"Binds": [f"{workspace}/inside-link:/x"]}))
    assert r and f"{workspace}/inside-link is a symbolic link inside the workspace" in r.why
    assert r.instead == f"bind the real folder: -v {workspace}/sub:..."
    r = check(policy, "POST", CREATE, JSON, _create({"Mounts": [{"Type": "bind", "Source": f"{workspace}/inside-link/x",
                                                                  "Target": "/x"}]}))
    assert r and "inside-link is a symbolic link" in r.why
    above = workspace.parent / "ws-link"  # links above the workspace are followed, as a teacher's /home may be one
    above.symlink_to(workspace)
    assert check(policy, "POST", CREATE, JSON, _create({"Binds": [f"{above}/sub:/x"]})) is None


# --- what a container mounts when it starts: read again from the data-root ------------------------------------------
def _fake_container(data_root: Path, cid: str, name: str, binds=(), mounts=(), mount_points=None,
                    restart: str = "no") -> Path:
    """A container's files as dockerd 20.10 writes them (only the fields the seal reads)."""
    folder = data_root / "containers" / cid
    folder.mkdir(parents=True)
    if mount_points is None:
        mount_points = {b.split(":")[1]: {"Source": b.split(":")[0], "Type": "bind"} for b in binds}
        mount_points.update({m["Target"]: {"Source": m["Source"], "Type": m["Type"]} for m in mounts})
    (folder / "config.v2.json").write_text(json.dumps({"ID": cid, "Name": f"/{name}", "MountPoints": mount_points}))
    (folder / "hostconfig.json").write_text(json.dumps({"Binds": list(binds) or None, "Mounts": list(mounts) or None,
                                                        "RestartPolicy": {"Name": restart}}))
    return folder


CID = "1d6a1c351523c60ef71c4028580a8c96973a03012c392d590d35723f0ee520ee"
CID2 = "1d6b" + "0" * 60


@pytest.mark.parametrize("uri", [f"/v1.41/containers/{CID}/start", "/containers/web/start", "/v1.41/containers/1d6a/start",
                                 "/v1.41/containers/web/restart?t=1", "/v1.41/containers/web/archive?path=/host"])
def test_a_start_is_refused_when_a_checked_folder_became_a_link(uri, policy, workspace, data_root, tmp_path):
    (workspace / "x").mkdir()
    _fake_container(data_root, CID, "web", binds=[f"{workspace}/x:/host"])
    _fake_container(data_root, CID2, "other")
    method = "GET" if "archive" in uri else "POST"
    assert check(policy, method, uri, {}) is None  # a real folder: the start goes ahead
    outside = tmp_path / "outside"
    outside.mkdir()
    (workspace / "x").rmdir()
    (workspace / "x").symlink_to(outside)
    r = check(policy, method, uri, {})
    assert r is not None, "the bind source now leads outside the workspace"
    assert f"its bind source {workspace}/x now leads to {outside}, outside the workspace" in r.why
    assert "replaced by a link that leaves the workspace" in r.why
    assert r.instead.startswith("remove the container and create it again with a real folder")
    (workspace / "x").unlink()
    (workspace / "x").symlink_to(workspace / "sub")  # a link that stays inside is refused too: it can move
    r = check(policy, method, uri, {})
    assert r and f"the folder {workspace}/x of its bind source {workspace}/x was replaced by a link" in r.why


def test_mounts_and_volumes_from_are_checked_and_lookups_fail_closed(policy, workspace, data_root, tmp_path):
    (workspace / "a").mkdir()
    (workspace / "a" / "b").mkdir()
    _fake_container(data_root, CID, "web", mounts=[{"Type": "bind", "Source": f"{workspace}/a/b", "Target": "/w"}])
    # --volumes-from copies the other container's bind into MountPoints only
    _fake_container(data_root, CID2, "heir", mount_points={"/w": {"Source": f"{workspace}/a/b", "Type": "bind"},
                                                          "/v": {"Source": "/var/lib/docker/volumes/v/_data",
                                                                 "Type": "volume"}})
    start = "/v1.41/containers/{}/start"
    assert check(policy, "POST", start.format("web"), {}) is None and check(policy, "POST", start.format("heir"), {}) is None
    (workspace / "a").rename(workspace / "a-old")
    (workspace / "a").symlink_to(workspace / "a-old")  # a component above the source, not the source itself
    for ref in ("web", "heir"):
        r = check(policy, "POST", start.format(ref), {})
        assert r and f"the folder {workspace}/a of its bind source {workspace}/a/b was replaced by a link" in r.why
    assert check(policy, "POST", start.format("nosuch"), {}) is None  # dockerd answers 404 itself
    assert check(policy, "POST", start.format("1d"), {}) is None  # ambiguous prefix: dockerd refuses it itself
    r = check(policy, "POST", "/v1.41/containers/heir/alias/start", {})  # a link alias the seal cannot resolve
    assert r and "by a link alias" in r.what
    (data_root / "containers" / CID / "hostconfig.json").write_text("{broken")
    r = check(policy, "POST", start.format("web"), {})
    assert r and "could not read which host folders it mounts" in r.why
    r = check(Policy(workspace=policy.workspace), "POST", start.format("web"), {})
    assert r and "run: dockyard up" in r.instead
    (data_root / "containers" / CID / "hostconfig.json").unlink()  # removed while dockerd writes it anew
    r = check(policy, "POST", start.format("web"), {})
    assert r and "FileNotFoundError" in r.why


def test_restart_policies_are_refused_on_containers_with_binds(policy, workspace, data_root):
    (workspace / "x").mkdir()
    bind = {"Binds": [f"{workspace}/x:/x"]}
    for kind in ("always", "unless-stopped", "on-failure"):
        r = check(policy, "POST", CREATE, JSON, _create({**bind, "RestartPolicy": {"Name": kind}}))
        assert r and f"the restart policy {kind} on a container that binds the host folder {workspace}/x" in r.what
        assert "named volume" in r.instead
    assert check(policy, "POST", CREATE, JSON, _create({**bind, "RestartPolicy": {"Name": "no"}})) is None
    assert check(policy, "POST", CREATE, JSON, _create({"Binds": ["v:/x"], "RestartPolicy": {"Name": "always"}})) is None
    assert check(policy, "POST", CREATE, JSON, _create(RestartPolicy={"Name": "always"}, Binds=[f"{workspace}/x:/x"]))
    _fake_container(data_root, CID, "web", binds=[f"{workspace}/x:/x"])
    _fake_container(data_root, CID2, "plain")
    r = check(policy, "POST", CREATE, JSON, _create({"VolumesFrom": ["web:ro"], "RestartPolicy": {"Name": "always"}}))
    assert r and "binds the host folder" in r.what
    assert check(policy, "POST", CREATE, JSON, _create({"VolumesFrom": ["plain"], "RestartPolicy": {"Name": "always"}})) is None
    update = "/v1.41/containers/{}/update"
    r = check(policy, "POST", update.format("web"), JSON, b'{"RestartPolicy": {"Name": "unless-stopped"}}')
    assert r and "the restart policy unless-stopped" in r.what
    assert check(policy, "POST", update.format("web"), JSON, b'{"Memory": 67108864, "RestartPolicy": {"Name": ""}}') is None
    assert check(policy, "POST", update.format("plain"), JSON, b'{"RestartPolicy": {"Name": "always"}}') is None
    assert check(policy, "POST", update.format("web"), {}, None) is not None  # no body to read: refused


def test_exec_on_a_link_alias_is_still_checked(policy):
    r = check(policy, "POST", "/v1.41/containers/web/db/exec", JSON, b'{"Privileged": true, "Cmd": ["sh"]}')
    assert r and "docker exec --privileged" in r.what


@pytest.mark.parametrize("cap", ["NET_ADMIN", "cap_net_admin", "Sys_Ptrace", "SYS_NICE", "IPC_LOCK", "NET_BROADCAST",
                                 "CHOWN", "NET_RAW"])
def test_teaching_capabilities_are_allowed(cap, policy):
    assert check(policy, "POST", CREATE, JSON, _create({"CapAdd": [cap], "CapDrop": ["ALL"]})) is None


@pytest.mark.parametrize("cap", ["ALL", "SYS_ADMIN", "cap_dac_read_search", "SYS_MODULE", "SYS_RAWIO", "BPF",
                                 "SYS_BOOT", "SYS_TIME", "MAC_ADMIN", "PERFMON", "SYSLOG", "NOPE"])
def test_other_capabilities_are_refused(cap, policy):
    assert check(policy, "POST", CREATE, JSON, _create({"CapAdd": [cap]})) is not None


@pytest.mark.parametrize("opt, refused", [("no-new-privileges", False), ("no-new-privileges:true", False),
                                          ("apparmor=docker-default", False), ("apparmor:unconfined", True),
                                          ("label=type:spc_t", True), ("seccomp=builtin", True)])
def test_security_options(opt, refused, policy):
    assert (check(policy, "POST", CREATE, JSON, _create({"SecurityOpt": [opt]})) is not None) is refused


@pytest.mark.parametrize("body", [{"IPAM": "x"}, {"IPAM": {"Config": "x"}}, {"IPAM": {"Config": ["x"]}},
                                  {"IPAM": {"Config": [1]}}, {"IPAM": {"Options": ["x"]}}, {"Options": ["x"]},
                                  {"IPAM": 5}])
def test_a_network_create_of_the_wrong_shape_is_refused_in_words_not_a_crash(policy, body):
    refusal = check(policy, "POST", "/networks/create", JSON, json.dumps({"Name": "n", **body}).encode())
    assert refusal is not None and "are not JSON objects" in refusal.message


def test_networks_must_lie_in_the_pool(policy):
    pool = RECORDED["address_pool"]  # 10.218.224.0/20

    def net(**ipam_conf):
        return json.dumps({"Name": "n", "IPAM": {"Config": [ipam_conf]}}).encode()

    assert check(policy, "POST", "/networks/create", JSON, net(Subnet="10.218.230.0/24")) is None
    assert check(policy, "POST", "/networks/create", JSON, net(Subnet="10.218.230.0/24", Gateway="10.1.1.1"))
    assert check(policy, "POST", "/networks/create", JSON, net(Subnet="10.218.0.0/16"))  # wider than the pool
    assert check(policy, "POST", "/networks/create", JSON, net(Subnet="fd00::/64"))
    no_pool = check(Policy(), "POST", "/networks/create", JSON, net(Subnet="10.218.230.0/24"))
    assert no_pool and "(unknown)" in no_pool.message and pool not in no_pool.message


def test_builds_and_imports_from_urls_are_refused(policy):
    assert check(policy, "POST", "/v1.41/build?remote=https%3A%2F%2F127.0.0.1%3A8888%2Fx.tar")
    assert check(policy, "POST", "/v1.41/build?remote=git%40github.com%3Ax%2Fy.git")
    assert check(policy, "POST", "/v1.41/build?remote=client-session&session=abc&t=x") is None  # BuildKit
    assert check(policy, "POST", "/v1.41/images/create?fromSrc=http%3A%2F%2F127.0.0.1%3A9%2Fx")
    assert check(policy, "POST", "/v1.41/images/create?fromSrc=-&repo=x") is None
    assert check(policy, "POST", "/v1.41/images/create?fromImage=busybox&tag=latest") is None


def test_reads_and_the_rest_are_allowed(policy):
    for method, uri in [("GET", "/_ping"), ("HEAD", "/_ping"), ("GET", "/v1.41/containers/json?all=1"),
                        ("POST", "/v1.41/containers/abc/start"), ("POST", "/v1.41/containers/abc/kill"),
                        ("DELETE", "/v1.41/containers/abc?force=1"), ("POST", "/v1.41/images/x/push?tag=1"),
                        ("DELETE", "/v1.41/plugins/x"), ("POST", "/v1.41/session"), ("GET", "/v1.41/plugins")]:
        assert check(policy, method, uri, {}) is None, (method, uri)


@pytest.mark.parametrize("method, path, mounting", [
    ("POST", "/containers/abc/start", ("abc", "starting")),
    ("POST", "/containers/web/db/restart", ("web/db", "starting")),
    ("GET", "/containers/abc/archive", ("abc", "docker cp with")),
    ("PUT", "/containers/abc/archive", ("abc", "docker cp with")),
    ("HEAD", "/containers/abc/archive", ("abc", "docker cp with")),
    ("GET", "/containers/abc/start", None), ("PUT", "/containers/abc/start", None),
    ("POST", "/containers/abc/archive", None), ("POST", "/containers/abc/stop", None),
])
def test_which_requests_mount_a_containers_binds_again(method, path, mounting):
    assert authz._mounts_again(method, path) == mounting


@pytest.mark.parametrize("headers, form", [
    (None, False), ({}, False), (JSON, False), ({"Content-Type": None}, False),
    ({"Content-Type": "application/x-www-form-urlencoded"}, True),
    ({"Content-Type": " Multipart/Form-Data; b=x"}, True),
])
def test_form_encoded_is_read_from_the_content_type(headers, form):
    assert authz._form_encoded(headers) is form


def test_only_the_checked_post_endpoints_have_a_check(policy):
    for path in ("/containers/create", "/containers/x/exec", "/containers/x/update", "/build", "/images/create",
                 "/volumes/create", "/networks/create", "/swarm/init", "/swarm/join", "/grpc"):
        assert authz._post_endpoint(policy, path) is not None, path
    for path in ("/containers/x/start", "/containers/x/kill", "/session", "/swarm/leave", "/images/x/push"):
        assert authz._post_endpoint(policy, path) is None, path
    assert "docker swarm join" in authz._post_endpoint(policy, "/swarm/join")({}, None).what


def test_ipam_addresses_are_checked_in_every_config_against_the_pool():
    policy = Policy(address_pool="10.77.0.0/16")
    assert authz._ipam_config(policy, []) is None
    assert authz._ipam_config(policy, [None, {"subnet": "10.77.1.0/24", "gateway": "10.77.1.1"}]) is None
    refused = authz._ipam_config(policy, [{"subnet": "10.77.1.0/24"}, {"iprange": "10.0.0.0/8"}])
    assert refused.what == "docker network create --ip-range 10.0.0.0/8"
    assert refused.instead.endswith("or choose one inside 10.77.0.0/16")
    assert "--gateway garbage" in authz._ipam_config(policy, [{"gateway": "garbage"}]).what


def test_network_options_outside_the_allowlist_are_refused():
    assert authz._network_options({"com.docker.network.driver.mtu": "1400"}) is None
    assert authz._network_options(["parent"]) is None  # not an object: dockerd cannot decode it
    assert authz._network_options({"parent": "eth0"}).what == "docker network create --opt parent"


# --- the plugin process ------------------------------------------------------------------------------------
def test_decide_reads_the_base64_body_and_fails_closed_without_a_policy(policy):
    body = base64.b64encode(_create({"Privileged": True})).decode()
    req = {"RequestMethod": "POST", "RequestUri": CREATE, "RequestHeaders": JSON, "RequestBody": body}
    out = json.loads(decide(policy, req))
    assert out["Allow"] is False and "--privileged is refused" in out["Msg"]
    assert json.loads(decide(policy, {"RequestMethod": "GET", "RequestUri": "/_ping"})) == {"Allow": True}
    closed = json.loads(decide(None, {"RequestMethod": "GET", "RequestUri": "/_ping"}))
    assert closed["Allow"] is False and "dockyard up" in closed["Msg"]


def test_policy_file_is_reread_when_replaced(tmp_path):
    path = tmp_path / "authz.json"
    pf = PolicyFile(str(path))
    assert pf.get() is None
    path.write_text(json.dumps({"workspace": [str(tmp_path)], "address_pool": None}))
    assert pf.get().workspace == (os.path.realpath(tmp_path),)
    tmp = tmp_path / "new.json"
    tmp.write_text(json.dumps({"workspace": [], "address_pool": "10.1.0.0/20"}))
    tmp.replace(path)
    assert pf.get() == Policy((), "10.1.0.0/20")
    path.write_text("{broken")
    assert pf.get() == Policy((), "10.1.0.0/20")  # the last good policy stays


def _post(conn, path: str, doc: dict) -> dict:
    conn.request("POST", path, body=json.dumps(doc), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    return json.loads(resp.read())


def test_the_plugin_speaks_the_authz_protocol_on_one_kept_alive_connection(seal_plugin):
    cfg = SandboxConfig(name="t1", workspace=("/srv/course",))
    seal_plugin(cfg)
    Seal(cfg).write_policy(["/srv/course"], "10.220.16.0/20")
    conn = _UnixHTTPConnection(str(cfg.authz_socket))
    try:
        assert _post(conn, "/Plugin.Activate", {}) == {"Implements": ["authz"]}
        bind = base64.b64encode(_create({"Binds": ["/srv/course/lab1:/lab"]})).decode()
        req = {"RequestMethod": "POST", "RequestUri": CREATE, "RequestHeaders": JSON, "RequestBody": bind}
        assert _post(conn, "/AuthZPlugin.AuthZReq", req) == {"Allow": True}
        req["RequestBody"] = base64.b64encode(_create({"Binds": ["/srv/other:/lab"]})).decode()
        refused = _post(conn, "/AuthZPlugin.AuthZReq", req)
        assert refused["Allow"] is False and "/srv/other" in refused["Msg"]
        assert _post(conn, "/AuthZPlugin.AuthZRes", {**req, "ResponseStatusCode": 201}) == {"Allow": True}
    finally:
        conn.close()
    log = cfg.authz_log.read_text() if cfg.authz_log.exists() else ""
    assert "/srv/other" not in log  # what was refused is logged, never a body


def test_the_plugin_socket_is_roots_alone(seal_plugin):
    cfg = SandboxConfig(name="t1")
    seal_plugin(cfg)
    assert cfg.authz_socket.stat().st_mode & 0o077 == 0


def test_status_says_a_dead_seal_blocks_everything_and_how_to_fix_it(docker_api, spawn, monkeypatch, tmp_path):
    from dockyard import cgroups

    monkeypatch.setattr(cgroups, "detect", lambda root=None: cgroups.Hierarchy(None, tmp_path, ()))
    cfg = SandboxConfig(name="t1")
    docker_api(cfg.socket)
    proc = spawn(sys.executable, "-c", "import time; time.sleep(60)", f"--host=unix://{cfg.socket}")
    cfg.pidfile.write_text(str(proc.pid))
    st = sb.Sandbox(name="t1").status()
    assert st["seal"]["pid"] is None and st["seal"]["answering"] is False
    assert any("the seal (authorization plugin dockyard-t1" in p and "refuses every request" in p
               and "dockyard up --name t1" in p for p in st["problems"])


def test_seal_ensure_restarts_a_dead_plugin_on_the_same_socket(spawn):
    cfg = SandboxConfig(name="t1")
    seal = Seal(cfg)
    seal.write_policy([], None)
    pid, restarted = seal.ensure()
    try:
        assert restarted and seal.answering()
        assert seal.ensure() == (pid, False)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        new, restarted = seal.ensure()
        assert restarted and new != pid and seal.answering()
    finally:
        seal.stop()
    assert not cfg.authz_socket.exists() and seal.pid() is None


# --- the daemon flag and the config ----------------------------------------------------------------------------
def _cmd(**cfg):
    return dockerd_command(SandboxConfig(name="class1", **cfg), dockerd="/usr/sbin/dockerd", storage_driver="overlay2",
                           mirror="http://127.0.0.1:5959", cgroup_parent=None, address_pool="10.220.16.0/20")


def test_dockerd_asks_the_sandboxs_own_plugin():
    assert "--authorization-plugin=dockyard-class1" in _cmd()
    assert not any(a.startswith("--authorization-plugin") for a in _cmd(sealed=False))
    assert SandboxConfig(name="class1").authz_plugin != SandboxConfig(name="class2").authz_plugin


def test_workspace_from_the_environment_and_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKYARD_WORKSPACE", f"{tmp_path}/a:{tmp_path}/b:")
    assert SandboxConfig.from_env().workspace == (f"{tmp_path}/a", f"{tmp_path}/b")
    assert SandboxConfig.from_env(workspace=(str(tmp_path),)).workspace == (str(tmp_path),)
    monkeypatch.chdir(tmp_path)
    assert SandboxConfig(workspace=("rel",)).workspace == (f"{tmp_path}/rel",)
    assert SandboxConfig().workspace == () and SandboxConfig().sealed is True
    with pytest.raises(ConfigError, match="cannot be /"):
        SandboxConfig(workspace=("/",))


def test_allowlists_are_what_the_brief_says():
    assert {"NET_ADMIN", "SYS_PTRACE", "SYS_NICE", "IPC_LOCK", "NET_BROADCAST"} <= authz.ALLOWED_CAPS
    assert not {"SYS_ADMIN", "DAC_READ_SEARCH", "SYS_MODULE", "SYS_RAWIO", "BPF", "ALL"} & authz.ALLOWED_CAPS


def test_a_killed_worker_is_replaced_and_no_request_fails(spawn):
    cfg = SandboxConfig(name="t1")
    seal = Seal(cfg)
    seal.write_policy([], None)
    pid, _ = seal.ensure()
    try:
        from dockyard import procs

        workers = procs.children(pid)
        assert len(workers) == 1
        os.kill(workers[0], 9)
        assert seal.answering(timeout=5)  # the supervisor keeps the socket; the request waits for a new worker
        assert seal.pid() == pid and procs.children(pid) not in ([], workers)
    finally:
        seal.stop()
    assert not procs.find_by_arg(str(cfg.authz_socket))


# --- the bridges: closed to routing (dockyard.routing) ------------------------------------------------------
POOL = RECORDED["address_pool"]  # 10.218.224.0/20


@pytest.fixture
def fake_net(tmp_path, monkeypatch):
    """/sys/class/net and /proc/sys/net with every interface open: ours, a network's bridge in the pool,
    another sandbox's (outside it), the host's card; IPv6 absent on one."""
    from dockyard import routing

    addresses = {"dy-t1": "10.213.7.1", "br-0123456789ab": "10.218.230.1", "br-ffffffffffff": "10.9.0.1",
                 "eth0": "192.0.2.7", "br-noaddress00": None}
    proc = tmp_path / "proc" / "sys" / "net"
    for name in addresses:
        (tmp_path / "class" / name).mkdir(parents=True)
        (proc / "ipv4" / "conf" / name).mkdir(parents=True)
        (proc / "ipv4" / "conf" / name / "forwarding").write_text("1\n")
        if name != "br-ffffffffffff":
            (proc / "ipv6" / "conf" / name).mkdir(parents=True)
            (proc / "ipv6" / "conf" / name / "disable_ipv6").write_text("0\n")
    monkeypatch.setattr(routing, "SYS_NET", str(tmp_path / "class"))
    monkeypatch.setattr(routing, "PROC_NET", str(proc))
    monkeypatch.setattr(routing, "_ipv4_address", lambda _sock, name: addresses.get(name))

    def state(name):
        v6 = proc / "ipv6" / "conf" / name / "disable_ipv6"
        return ((proc / "ipv4" / "conf" / name / "forwarding").read_text().strip(),
                v6.read_text().strip() if v6.exists() else None)

    return state


def _closed(state):
    return {n: state(n) for n in ("dy-t1", "br-0123456789ab", "br-ffffffffffff", "eth0", "br-noaddress00")}


OPEN_ALL = {"dy-t1": ("1", "0"), "br-0123456789ab": ("1", "0"), "br-ffffffffffff": ("1", None),
            "eth0": ("1", "0"), "br-noaddress00": ("1", "0")}
CLOSED_OURS = {**OPEN_ALL, "dy-t1": ("0", "1"), "br-0123456789ab": ("0", "1")}


def test_only_the_sandboxs_bridges_are_closed(fake_net):
    from dockyard import routing

    assert sorted(routing.open_bridges("dy-t1", POOL)) == ["br-0123456789ab", "dy-t1"]
    assert sorted(routing.close_all("dy-t1", POOL)[0]) == ["br-0123456789ab", "dy-t1"]
    assert _closed(fake_net) == CLOSED_OURS  # another sandbox's bridge and the host's card are left alone
    assert routing.close_all("dy-t1", POOL) == ([], [])  # nothing written when already closed
    assert routing.open_bridges("dy-t1", "not a network") == []  # a broken policy touches nothing more


@pytest.mark.parametrize("method, uri, joins", [
    ("POST", "/v1.41/containers/abc/start", True), ("POST", "/containers/abc/start?detachKeys=x", True),
    ("POST", "/v1.41/containers/abc/restart?t=1", True), ("POST", "/v1.41/networks/n1/connect", True),
    ("post", "/v1.41/containers/abc/./start", True), ("POST", "/v1.41/%63ontainers/abc/start", True),
    ("POST", "/v1.41/containers/abc/stop", False), ("GET", "/v1.41/containers/abc/start", False),
    ("POST", "/v1.41/networks/n1/disconnect", False), ("POST", "/v1.41/containers/create", False),
])
def test_which_requests_put_a_container_on_a_network(method, uri, joins):
    assert authz.joins_network(method, uri) is joins


def test_a_container_start_closes_the_bridges_before_it_is_allowed(fake_net, data_root):
    policy = Policy(address_pool=POOL, bridge="dy-t1", data_root=str(data_root))
    ping = {"RequestMethod": "GET", "RequestUri": "/_ping"}
    assert json.loads(decide(policy, ping)) == {"Allow": True}
    stop = {"RequestMethod": "POST", "RequestUri": "/v1.41/containers/abc/stop"}
    assert json.loads(decide(policy, stop)) == {"Allow": True}
    assert _closed(fake_net) == OPEN_ALL  # the hot path does not look at bridges
    start = {"RequestMethod": "POST", "RequestUri": "/v1.41/containers/abc/start", "RequestHeaders": {}}
    assert json.loads(decide(policy, start)) == {"Allow": True}
    assert _closed(fake_net) == CLOSED_OURS


def test_a_bridge_that_cannot_be_closed_refuses_the_start(fake_net, monkeypatch):
    from dockyard import routing

    def refuse(_name):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(routing, "close", refuse)
    policy = Policy(address_pool=POOL, bridge="dy-t1")
    out = json.loads(decide(policy, {"RequestMethod": "POST", "RequestUri": "/v1.41/networks/n1/connect"}))
    assert out["Allow"] is False
    assert "starting or connecting a container now is refused: the network bridge " in out["Msg"]
    assert any(f"bridge {n} would route" in out["Msg"] for n in ("dy-t1", "br-0123456789ab"))


def test_a_created_network_gets_its_bridge_closed(fake_net):
    from dockyard.authz_server import ALLOW, after

    policy = Policy(address_pool=POOL, bridge="dy-t1")
    res = {"RequestMethod": "POST", "RequestUri": "/v1.41/networks/create", "ResponseStatusCode": 409}
    assert after(policy, json.dumps(res).encode()) == ALLOW
    assert _closed(fake_net) == OPEN_ALL  # the create failed: nothing to do
    res["ResponseStatusCode"] = 201
    assert after(policy, json.dumps(res).encode()) == ALLOW
    assert _closed(fake_net) == CLOSED_OURS
    assert after(policy, b"not json /networks/create") == ALLOW


def test_status_names_an_open_bridge_and_how_to_close_it(fake_net):
    from dockyard import network

    problems = network.routing_problems("dy-t1", POOL)
    assert len(problems) == 2
    br = next(p for p in problems if "br-0123456789ab" in p)
    assert "net.ipv4.conf.br-0123456789ab.forwarding is 1" in br
    assert "net.ipv6.conf.br-0123456789ab.disable_ipv6 is 0" in br
    assert br.endswith("sysctl -w net.ipv4.conf.br-0123456789ab.forwarding=0 "
                       "net.ipv6.conf.br-0123456789ab.disable_ipv6=1")
    network.set_forwarding("dy-t1", False)
    network.set_forwarding("br-0123456789ab", False)
    assert network.routing_problems("dy-t1", POOL) == []


def test_host_user_and_uts_namespaces_are_refused_with_a_fix_docker_accepts():
    from dockyard.authz import _namespaces

    userns = _namespaces({"usernsmode": "host"})
    assert "--userns host" in userns.what and "container:" not in userns.instead and "--userns-remap" in userns.instead
    uts = _namespaces({"utsmode": "host"})
    assert "container:" not in uts.instead and "--hostname" in uts.instead
    assert "--pid container:<name>" in _namespaces({"pidmode": "host"}).instead
