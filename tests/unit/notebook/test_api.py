"""Lesson 03's helpers (dockyard.notebook.api) against a small HTTP server on a unix socket and a small
content-addressed registry on 127.0.0.1: the requests they send and what they make of the answers."""

from __future__ import annotations

import hashlib
import os

import pytest

from dockyard.notebook import api as nbapi
from tests.unit.conftest import FakeRegistry


def test_api_sends_json_and_decodes_json_answers(tmp_path, docker_api):
    sock = docker_api(tmp_path / "d.sock", {"/v1.41/containers/json": [{"Id": "a" * 64}]})
    answer = nbapi.api("GET", "/v1.41/containers/json", socket_path=str(sock))
    assert answer.status == 200 and answer.body == [{"Id": "a" * 64}]
    assert repr(answer).startswith("HTTP 200  [{\"Id\"")
    text = nbapi.api("GET", "/_ping", socket_path=str(sock))
    assert (text.status, text.body) == (200, "OK")
    missing = nbapi.api("GET", "/nothing", socket_path=str(sock))
    assert missing.status == 404 and missing.body["message"] == "page not found"


def test_request_lines_finds_every_request_in_a_chunk():
    chunk = (b"HEAD /_ping HTTP/1.1\r\nHost: x\r\n\r\nPOST /v1.41/containers/create?name=a HTTP/1.1\r\n"
             b"Content-Length: 2\r\n\r\n{}")
    assert nbapi.request_lines(chunk) == [("HEAD", "/_ping"), ("POST", "/v1.41/containers/create?name=a")]
    assert nbapi.request_lines(b'{"body": "GET / HTTP/1.1 inside a line"}') == []


def test_the_spy_forwards_requests_and_answers_and_notes_each_request(tmp_path, docker_api):
    sock = docker_api(tmp_path / "d.sock")
    with nbapi.SocketSpy(str(sock)) as spy:
        first = nbapi.api("GET", "/version", socket_path=spy.path)
        second = nbapi.api("GET", "/_ping", socket_path=spy.path)
    assert first.body["ApiVersion"] == "1.41" and second.body == "OK"
    assert spy.seen == [("GET", "/version"), ("GET", "/_ping")]
    assert not os.path.exists(spy.path)


def test_event_rows_keep_the_containers_events_with_their_detail():
    cid = "c" * 64
    events = [
        {"Type": "container", "Action": "start", "Actor": {"ID": cid, "Attributes": {"name": "x"}}, "timeNano": 1e18},
        {"Type": "container", "Action": "kill", "Actor": {"ID": cid, "Attributes": {"signal": "15"}}, "timeNano": 1e18},
        {"Type": "network", "Action": "connect", "Actor": {"ID": "n" * 64, "Attributes": {"container": cid,
                                                                                            "name": "bridge"}},
         "timeNano": 1e18},
        {"Type": "container", "Action": "die", "Actor": {"ID": cid, "Attributes": {"exitCode": "137"}}, "timeNano": 1e18},
        {"Type": "container", "Action": "start", "Actor": {"ID": "d" * 64, "Attributes": {}}, "timeNano": 1e18},
    ]
    rows = nbapi.event_rows(events, cid)
    assert [(r[1], r[2], r[4]) for r in rows] == [("container", "start", ""), ("container", "kill", "signal 15"),
                                                  ("network", "connect", "network bridge"),
                                                  ("container", "die", "exit code 137")]


def test_proc_reads_parent_and_arguments_of_this_process():
    me = nbapi.proc(os.getpid())
    assert me["ppid"] == os.getppid() and "python" in me["args"][0]
    assert nbapi.arg({"args": ["shim", "-id", "abc", "-address", "/s"]}, "-id") == "abc"
    assert nbapi.arg({"args": ["shim"]}, "-id") is None


# --- a registry whose digests are real ------------------------------------------------------------
def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


CONFIG = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]}}
LAYER = b"layer bytes"


def _manifest() -> dict:
    return {"schemaVersion": 2, "mediaType": nbapi.MANIFEST_V2,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "digest": _digest(FakeRegistry.body(CONFIG)), "size": len(FakeRegistry.body(CONFIG))},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "digest": _digest(LAYER), "size": len(LAYER)}]}


@pytest.fixture
def registry(fake_registries):
    """start(tamper=False): the conftest's fake registry with lesson03/hello:v1, whose digests are real."""
    def start(tamper=False) -> FakeRegistry:
        manifest = _manifest()
        return fake_registries(repos={"lesson03/hello": ["v1"]}, manifest=manifest, image_config=CONFIG,
                               manifest_digest=_digest(FakeRegistry.body(manifest)), tamper=tamper)

    return start


def _accepts(srv: FakeRegistry) -> list[str | None]:
    """The Accept header of each manifest request the registry got."""
    return [headers.get("Accept") for path, headers in srv.requests if "/manifests/" in path]


def test_the_manifest_table_checks_the_digest_and_lists_the_blobs(registry):
    srv = registry()
    where = f"127.0.0.1:{srv.server_address[1]}"
    table = nbapi.manifest_table("lesson03/hello", "v1", registry=where)
    assert _accepts(srv) == [nbapi.MANIFEST_V2]
    assert [r[0] for r in table.rows] == ["manifest", "config", "layer 1"]
    assert table.rows[0][3] == "= sha256 of its bytes: True"
    assert table.rows[2][2] == _digest(LAYER)
    config = nbapi.config_blob("lesson03/hello", "v1", registry=where)
    assert config["digest"] == _digest(FakeRegistry.body(CONFIG)) and config["config"]["Cmd"] == ["sh"]


def test_a_blob_that_does_not_match_its_digest_is_refused(registry):
    srv = registry(tamper=True)
    with pytest.raises(ValueError, match="does not match its digest"):
        nbapi.config_blob("lesson03/hello", "v1", registry=f"http://127.0.0.1:{srv.server_address[1]}")


def test_registry_table_accepts_an_address_or_a_url(registry):
    srv = registry()
    port = srv.server_address[1]
    for where in (f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"):
        table = nbapi.registry_table(["/v2/_catalog"], registry=where)
        assert table.rows == [["GET /v2/_catalog", "200", '{"repositories":["lesson03/hello"]}']]
