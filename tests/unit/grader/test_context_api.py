"""Context against a fake Docker API on a unix socket: the one docker_errors translation, and the CheckContext
Protocol that both Context and the tests' FakeContext honour."""

from __future__ import annotations

import http.server
import json
import socketserver
import threading

import docker
import pytest

from dockyard.errors import ContainerNotFound, DaemonError, DockyardError, ImageNotFound
from grader.context import CheckContext, Context, docker_errors

from .fakes import FakeContext

WEB = {"Id": "c0ffee" * 10 + "abcd", "Name": "/web", "State": {"Running": True}}
ROUTES = {
    "/containers/web/json": (200, WEB),
    "/containers/nope/json": (404, {"message": "No such container: nope"}),
    "/images/nope/json": (404, {"message": "No such image: nope:latest"}),
    "/containers/json": (500, {"message": "the daemon's disk is full"}),
}


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _Api(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        path = self.path.split("?")[0]
        path = path[path.index("/", 1):] if path.startswith("/v1.") else path
        status, body = ROUTES.get(path, (404, {"message": "page not found"}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def address_string(self):
        return "unix"

    def log_message(self, *_a):
        pass


@pytest.fixture
def ctx(tmp_path):
    sock = tmp_path / "docker.sock"
    srv = _Server(str(sock), _Api)
    threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()
    client = docker.DockerClient(base_url=f"unix://{sock}", version="1.41", timeout=5)
    yield Context(client, submission=tmp_path)
    srv.shutdown()
    srv.server_close()


def test_inspect_data_comes_back_and_is_kept_for_the_evidence(ctx):
    assert ctx.container("web")["Name"] == "/web"
    assert ctx.inspected["container web"]["Id"] == WEB["Id"]


def test_the_apis_errors_become_the_projects_with_what_was_being_done(ctx):
    with pytest.raises(ContainerNotFound, match="inspecting container nope"):
        ctx.container("nope")
    with pytest.raises(ImageNotFound, match="inspecting image nope"):
        ctx.image("nope")
    with pytest.raises(DockyardError, match="listing containers"):
        ctx.containers()


def test_a_daemon_that_is_gone_is_a_daemon_error(tmp_path):
    client = docker.DockerClient(base_url=f"unix://{tmp_path / 'gone.sock'}", version="1.41", timeout=2)
    with pytest.raises(DaemonError):
        Context(client).logs("web")


def test_the_projects_own_errors_pass_through_unchanged():
    mine = ContainerNotFound("already ours")
    with pytest.raises(ContainerNotFound) as err, docker_errors("doing something"):
        raise mine
    assert err.value is mine


def test_context_and_the_fake_both_have_everything_a_check_may_use():
    members = [m for m in dir(CheckContext) if not m.startswith("_")] + list(CheckContext.__annotations__)
    fake = FakeContext()
    for m in members:
        assert hasattr(Context, m) or m in Context.__init__.__code__.co_names or m in ("client", "submission"), m
        assert hasattr(fake, m), f"FakeContext lacks {m}"
