"""Lesson 08's self-checks: the capstone built the notebook's way passes; the usual mistakes fail usefully.

The Dockerfiles and .dockerignore files are not repeated here: they are read from the notebook's own cells
(API_DOCKERFILE, NODE_DOCKERFILE, ...), so the notebook and this test cannot drift apart. The apps come from
notebooks/capstone/, as in the notebook. The module has a sandbox of its own, because the checks read its
registry.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

import grader

from ..conftest import make_sandbox
from .helpers import assert_all_pass, assert_fails, docker, notebook_check_tasks

LAB = "08-capstone"
ROOT = Path(__file__).resolve().parents[3]
NOTEBOOK = ROOT / "notebooks" / "08-capstone.ipynb"
APPS = ROOT / "notebooks" / "capstone"
CONTAINERS = ("capstone-api", "capstone-node")
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # only ever 127.0.0.1


def notebook_strings() -> dict[str, str]:
    """Every `NAME = "..."` string constant assigned in the notebook's code cells."""
    found = {}
    for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                    and isinstance(node.value.value, str):
                found.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
    return found


SOURCES = notebook_strings()


@pytest.fixture(scope="module")
def own_sandbox():
    with make_sandbox(memory="1g", pids=256) as box:
        docker(box, "docker pull -q python:3.11-slim && docker pull -q node:18-slim")
        yield box


@pytest.fixture
def box(own_sandbox):
    """The module's sandbox; the capstone containers are removed after each test."""
    yield own_sandbox
    docker(own_sandbox, "docker rm -f " + " ".join(CONTAINERS), ok=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_dir(tmp_path: Path, app: str, dockerfile: str, dockerignore: str | None) -> Path:
    """A build folder as the notebook makes it: the app's files from notebooks/capstone/<app>, its Dockerfile."""
    folder = tmp_path / app
    shutil.copytree(APPS / app, folder)
    (folder / "Dockerfile").write_text(dockerfile)
    if dockerignore is not None:
        (folder / ".dockerignore").write_text(dockerignore)
    return folder


def build(box, tag: str, folder: Path) -> None:
    docker(box, f"docker build -q -t {tag} {folder}")


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, object]:
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Content-Type": "application/json"} if body is not None else {})
    try:
        with OPENER.open(req, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def wait_for(url: str, budget: float = 15) -> tuple[int, object]:
    deadline = time.monotonic() + budget
    while True:
        try:
            return http("GET", url)
        except OSError:
            assert time.monotonic() < deadline, f"{url} did not answer within {budget} s"
            time.sleep(0.2)


def grade(box, task: str, submission: Path | None = None) -> dict:
    """helpers.grade, with a submission folder for the static review."""
    report = grader.grade(grader.find_lab(LAB), sandbox=box, only_tasks=[task], submission=submission)
    assert report.results and all(r.task == task for r in report.results)
    return {r.id: r for r in report.results}


def api_solution(box, tmp_path, dockerfile: str | None = None) -> Path:
    folder = build_dir(tmp_path, "python-api", dockerfile or SOURCES["API_DOCKERFILE"], SOURCES["API_DOCKERIGNORE"])
    build(box, "capstone-api:1", folder)
    return folder


def node_solution(box, tmp_path, dockerfile: str | None = None) -> Path:
    folder = build_dir(tmp_path, "node-server", dockerfile or SOURCES["NODE_DOCKERFILE"], SOURCES["NODE_DOCKERIGNORE"])
    build(box, "capstone-node:1", folder)
    return folder


def without_user(dockerfile: str) -> str:
    out = re.sub(r"(?m)^USER .*\n", "", dockerfile)
    assert out != dockerfile
    return out


# --- no daemon needed --------------------------------------------------------------------------
def test_spec_tasks_match_the_notebooks_check_cells():
    lab = grader.load(grader.find_lab(LAB))
    in_notebook = notebook_check_tasks(LAB)
    # the outline's Dockerfile is reviewed first, the two apps are checked, then our own Dockerfile is reviewed
    assert in_notebook == ["review", "python-api", "node-server", "review"]
    assert {t.id for t in lab.tasks} == set(in_notebook)


def test_the_notebook_defines_the_solutions_this_test_builds():
    for name in ("API_DOCKERFILE", "API_DOCKERIGNORE", "NODE_DOCKERFILE", "NODE_DOCKERIGNORE", "OUTLINE_DOCKERFILE"):
        assert SOURCES.get(name), f"the notebook no longer assigns {name}"
    assert "USER 10001:10001" in SOURCES["API_DOCKERFILE"] and "EXPOSE 5000" in SOURCES["API_DOCKERFILE"]
    assert "USER 1000:1000" in SOURCES["NODE_DOCKERFILE"] and "EXPOSE 8111" in SOURCES["NODE_DOCKERFILE"]


def test_the_apps_need_nothing_but_their_standard_libraries():
    tree = ast.parse((APPS / "python-api" / "app.py").read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert modules - {"__future__"} <= set(sys.stdlib_module_names), modules - set(sys.stdlib_module_names)
    required = set(re.findall(r'require\("([^"]+)"\)', (APPS / "node-server" / "server.js").read_text()))
    assert required <= {"http", "os", "node:http", "node:os"}, required
    assert not json.loads((APPS / "node-server" / "package.json").read_text()).get("dependencies")


# --- review (static) ---------------------------------------------------------------------------
def test_review_passes_on_the_notebooks_dockerfile(box, tmp_path):
    folder = build_dir(tmp_path, "python-api", SOURCES["API_DOCKERFILE"], SOURCES["API_DOCKERIGNORE"])
    assert_all_pass(grade(box, "review", folder))


def test_review_of_the_outlines_dockerfile_fails_with_each_reason(box, tmp_path):
    folder = tmp_path / "outline"
    folder.mkdir()
    (folder / "Dockerfile").write_text(SOURCES["OUTLINE_DOCKERFILE"])
    res = grade(box, "review", folder)
    assert_fails(res["review.exec-form"], "single_string_exec", "ufw allow 5000", hint="ufw is the host's firewall")
    assert_fails(res["review.final-user"], "no_user", "no USER", hint="USER 10001:10001")
    assert_fails(res["review.no-maintainer"], "maintainer", "MAINTAINER", hint="org.opencontainers.image.authors")
    assert_fails(res["review.lint"], "lint", "DL4000")
    assert res["review.copy-not-add"].passed, res["review.copy-not-add"].message


def test_review_without_a_submission_folder_says_to_pass_one(box, tmp_path):
    res = grade(box, "review", tmp_path)   # an empty folder: no Dockerfile in it
    assert_fails(res["review.exec-form"], "missing", hint="submission=str(API_DIR)")


# --- nothing done yet --------------------------------------------------------------------------
def test_nothing_built_yet_fails_every_check_with_a_next_step(box):
    box.reset()   # no capstone image, no container, an empty registry
    docker(box, "docker pull -q python:3.11-slim && docker pull -q node:18-slim")
    res = grade(box, "python-api")
    assert_fails(res["python-api.non-root"], "missing", "capstone-api:1", hint='build("capstone-api:1", API_DIR)')
    assert_fails(res["python-api.serves"], "missing", "capstone-api", hint="-p 127.0.0.1:5000:5000")
    assert_fails(res["python-api.pushed"], "no_repository", "capstone/api", hint="docker push $DOCKYARD_REGISTRY/capstone/api:1")
    res = grade(box, "node-server")
    assert_fails(res["node-server.pushed"], "no_repository", "capstone/node")


# --- python-api --------------------------------------------------------------------------------
def test_python_api_solution_serves_keeps_state_and_passes(box, tmp_path):
    api_solution(box, tmp_path)
    port = free_port()
    docker(box, f"docker run -d --name capstone-api -p 127.0.0.1:{port}:5000 capstone-api:1")
    base = f"http://127.0.0.1:{port}"
    assert wait_for(f"{base}/health") == (200, {"status": "ok", "items": 0})
    assert http("POST", f"{base}/items", b'{"name": "coffee"}') == (201, {"id": 1, "name": "coffee"})
    assert http("GET", f"{base}/items") == (200, [{"id": 1, "name": "coffee"}])
    assert http("POST", f"{base}/items", b"not json")[0] == 400
    assert http("GET", f"{base}/items/7")[0] == 404
    assert docker(box, "docker exec capstone-api id -u").strip() == "10001"
    docker(box, "docker tag capstone-api:1 $DOCKYARD_REGISTRY/capstone/api:1 && "
                "docker push $DOCKYARD_REGISTRY/capstone/api:1")
    assert_all_pass(grade(box, "python-api"))


def test_python_api_as_root_fails_non_root(box, tmp_path):
    api_solution(box, tmp_path, without_user(SOURCES["API_DOCKERFILE"]))
    res = grade(box, "python-api")
    assert_fails(res["python-api.non-root"], "root", "root", hint="USER 10001:10001")
    assert res["python-api.exposes-5000"].passed


def test_python_api_with_its_port_not_published_fails_not_published(box, tmp_path):
    api_solution(box, tmp_path)
    docker(box, "docker run -d --name capstone-api capstone-api:1")
    assert_fails(grade(box, "python-api")["python-api.serves"], "not_published", "5000/tcp", "only exposed",
                 hint="EXPOSE does not publish")


def test_python_api_listening_on_loopback_fails_no_answer(box, tmp_path):
    api_solution(box, tmp_path)
    docker(box, f"docker run -d --name capstone-api -e HOST=127.0.0.1 -p 127.0.0.1:{free_port()}:5000 capstone-api:1")
    assert_fails(grade(box, "python-api")["python-api.serves"], "no_answer", "/health", hint="0.0.0.0")


# --- node-server -------------------------------------------------------------------------------
def test_node_server_solution_serves_and_passes(box, tmp_path):
    node_solution(box, tmp_path)
    port = free_port()
    docker(box, f"docker run -d --name capstone-node -p 127.0.0.1:{port}:8111 capstone-node:1")
    status, body = wait_for(f"http://127.0.0.1:{port}/health")
    assert status == 200 and body["status"] == "ok"
    status, body = http("GET", f"http://127.0.0.1:{port}/")
    assert status == 200 and body["message"].startswith("Hello") and body["requests"] == 2
    assert docker(box, "docker exec capstone-node id -u").strip() == "1000"
    docker(box, "docker tag capstone-node:1 $DOCKYARD_REGISTRY/capstone/node:1 && "
                "docker push $DOCKYARD_REGISTRY/capstone/node:1")
    assert_all_pass(grade(box, "node-server"))


def test_node_server_as_root_fails_non_root(box, tmp_path):
    node_solution(box, tmp_path, without_user(SOURCES["NODE_DOCKERFILE"]))
    assert_fails(grade(box, "node-server")["node-server.non-root"], "root", "root", hint="USER 1000:1000")


def test_node_server_with_its_port_not_published_fails_not_published(box, tmp_path):
    node_solution(box, tmp_path)
    docker(box, "docker run -d --name capstone-node capstone-node:1")
    assert_fails(grade(box, "node-server")["node-server.serves"], "not_published", "8111/tcp",
                 hint="docker run -d --name capstone-node -p 127.0.0.1:8111:8111")


def test_node_server_stops_quickly_on_sigterm(box, tmp_path):
    node_solution(box, tmp_path)
    docker(box, "docker run -d --name capstone-node capstone-node:1")
    deadline = time.monotonic() + 10
    while "listening" not in docker(box, "docker logs capstone-node") and time.monotonic() < deadline:
        time.sleep(0.2)
    t0 = time.monotonic()
    docker(box, "docker stop -t 5 capstone-node")
    assert time.monotonic() - t0 < 3
    assert docker(box, "docker inspect -f '{{.State.ExitCode}}' capstone-node").strip() == "0"


# --- everything --------------------------------------------------------------------------------
def test_the_whole_capstone_scores_full_marks(box, tmp_path):
    api_dir = api_solution(box, tmp_path)
    node_solution(box, tmp_path)
    docker(box, f"docker run -d --name capstone-api -p 127.0.0.1:{free_port()}:5000 capstone-api:1")
    docker(box, f"docker run -d --name capstone-node -p 127.0.0.1:{free_port()}:8111 capstone-node:1")
    docker(box, "for app in api node; do docker tag capstone-$app:1 $DOCKYARD_REGISTRY/capstone/$app:1 && "
                "docker push -q $DOCKYARD_REGISTRY/capstone/$app:1; done")
    report = grader.grade(grader.find_lab(LAB), sandbox=box, submission=api_dir)
    assert_all_pass({r.id: r for r in report.results})
    assert report.score == grader.load(grader.find_lab(LAB)).total
