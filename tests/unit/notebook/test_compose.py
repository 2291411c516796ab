"""dockyard.notebook.compose: finding Compose v2 or v1 on a search path, and the names each gives containers."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from dockyard.errors import DockyardError
from dockyard.notebook import compose


def program(folder, name, script):
    path = folder / name
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_the_v2_plugin_wins_when_docker_compose_version_answers(tmp_path):
    program(tmp_path, "docker", 'if [ "$1 $2" = "compose version" ]; then echo "Docker Compose version v2.26.1"; '
            'else exit 1; fi')
    program(tmp_path, "docker-compose", "echo v1")
    assert compose.find(str(tmp_path)) == "docker compose"


def test_v1_when_docker_has_no_compose_plugin(tmp_path):
    program(tmp_path, "docker", 'echo "docker: unknown command: docker compose" >&2; exit 1')
    program(tmp_path, "docker-compose", "echo v1")
    assert compose.find(str(tmp_path)) == "docker-compose"


def test_neither_says_what_to_install(tmp_path):
    program(tmp_path, "docker", "exit 1")
    with pytest.raises(DockyardError) as err:
        compose.find(str(tmp_path))
    assert "docker-compose" in str(err.value) and "apt-get install docker-compose" in err.value.fix


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="Debian's docker-compose is not installed")
def test_this_machine_finds_a_compose_that_runs():
    import subprocess

    cmd = compose.find()
    out = subprocess.run(cmd.split() + ["version"], capture_output=True, text=True, check=True).stdout
    assert "version" in out.lower()
    assert compose.COMPOSE == cmd


@pytest.mark.parametrize("command, name", [("docker-compose", "counter_web_1"), ("docker compose", "counter-web-1")])
def test_container_names_differ_between_v1_and_v2(command, name):
    assert compose.container_name("counter", "web", command) == name


@pytest.fixture
def server():
    """A real HTTP server on 127.0.0.1 that answers /ok with 200 and anything else with 404."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            code = 200 if self.path == "/ok" else 404
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b"fine\n" if code == 200 else b"nope\n")

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_get_returns_the_status_and_body(server):
    assert compose.get(f"http://127.0.0.1:{server}/ok") == (200, "fine")
    assert compose.get(f"http://127.0.0.1:{server}/missing") == (404, "nope")


def test_get_gives_up_on_a_closed_port_with_the_reason():
    import socket

    with socket.socket() as s:  # a port that was free a moment ago, and nothing listens on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    status, body = compose.get(f"http://127.0.0.1:{port}/", wait=0)
    assert status is None and "refused" in body.lower()


def test_get_refuses_any_address_but_the_loopback():
    with pytest.raises(DockyardError):
        compose.get("http://10.0.0.1:80/", wait=0)


LAB_10_STARTER = Path(__file__).resolve().parents[3] / "labs" / "10-compose" / "starter"


def test_the_lesson_and_lab_10_run_the_same_countdb_and_web(tmp_path):
    app = tmp_path / "compose" / "counter"
    assert compose.copy_app(app, work=tmp_path) == list(compose.APP_FILES)
    for rel in ("db/db.py", "db/Dockerfile", "web/web.py", "web/Dockerfile"):
        lesson = (app / rel).read_text()
        assert lesson == (LAB_10_STARTER / rel).read_text(), rel


def test_where_the_labs_are_hidden_the_app_comes_from_the_learners_copy_of_lab_10(tmp_path, monkeypatch):
    (tmp_path / "hidden").mkdir()  # the checkout's labs/ as a confined learner sees it: an empty folder
    monkeypatch.setattr(compose, "STARTER", tmp_path / "hidden")
    shutil.copytree(LAB_10_STARTER, tmp_path / "work" / "labs" / "10-compose")
    app = tmp_path / "work" / "compose" / "counter"
    compose.copy_app(app, work=tmp_path / "work")
    assert (app / "db" / "db.py").read_text() == (LAB_10_STARTER / "db" / "db.py").read_text()


def test_copying_the_app_keeps_a_learners_edit(tmp_path):
    app = tmp_path / "counter"
    (app / "web").mkdir(parents=True)
    (app / "web" / "web.py").write_text("# my edit\n")
    assert "web/web.py" not in compose.copy_app(app, work=tmp_path)
    assert (app / "web" / "web.py").read_text() == "# my edit\n"


def test_without_lab_10_the_app_cannot_be_copied_and_the_hint_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(compose, "STARTER", tmp_path / "hidden")
    with pytest.raises(DockyardError) as err:
        compose.copy_app(tmp_path / "counter", work=tmp_path)
    assert "lab 10's app" in str(err.value) and "dockyard lab" in err.value.fix


def test_get_asks_again_while_the_answer_is_503_and_returns_the_first_other():
    import http.server

    answers = [503, 503, 200]

    class Starting(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            code = answers.pop(0)
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b"starting\n" if code == 503 else b"ready\n")

        def log_message(self, *args):
            pass

    from tests.unit.grader.fakes import local_http_server

    with local_http_server(Starting) as port:
        assert compose.get(f"http://127.0.0.1:{port}/", wait=20) == (200, "ready")
        answers.extend([503])
        assert compose.get(f"http://127.0.0.1:{port}/", wait=0) == (503, "starting")
