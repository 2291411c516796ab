"""Lesson 08's self-checks: the capstone's five steps done right pass; the usual mistakes fail usefully.

The notebook gives the learner starters only, so the right answers live here: the Dockerfiles and
.dockerignore files below, built in folders made by the lesson's own build_folders() (the apps from
notebooks/capstone/ plus Git history, caches, test data and a .env with a token). The module has a sandbox of its
own, because the checks read its registry.
"""

from __future__ import annotations

import ast
import json
import re
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

import grader
from dockyard.notebook.capstone import OUTLINE_DOCKERFILE, build_folders

from ..conftest import make_sandbox
from . import helpers
from .helpers import assert_all_pass, assert_fails, notebook_check_tasks

LAB = "08-capstone"
ROOT = Path(__file__).resolve().parents[3]
NOTEBOOK = ROOT / "notebooks" / "08-capstone.ipynb"
APPS = ROOT / "notebooks" / "capstone"
CONTAINERS = ("capstone-api", "capstone-node")
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # only ever 127.0.0.1

API_DOCKERIGNORE = ".git\n.env\n__pycache__/\n*.pyc\ntest-data/\nDockerfile.*\n"
API_DOCKERFILE = """\
FROM python:3.11-slim
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin api
WORKDIR /app
COPY app.py ./
ENV PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 5000
HEALTHCHECK --interval=5s --timeout=3s --retries=3 \\
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=2)"]
CMD ["python3", "app.py"]
"""
NODE_DOCKERIGNORE = "node_modules\nnpm-debug.log\n.git\n.env\n"
NODE_DOCKERFILE = """\
FROM node:18-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json server.js ./
USER 1000:1000
EXPOSE 8111
CMD ["node", "server.js"]
"""


def docker(box, cmd: str, ok: bool = True, timeout: float = 120) -> str:
    """helpers.docker in the lesson's environment (BuildKit, the sandbox's docker first on PATH), as a learner types."""
    class Lesson:
        def env(self):
            return box.lesson_env()
    return helpers.docker(Lesson(), cmd, ok=ok, timeout=timeout)


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
    """A build folder as the lesson makes it (build_folders: the app and its junk), with this Dockerfile."""
    api, node, _ = build_folders(tmp_path / app)
    folder = api if app == "python-api" else node
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


def api_solution(box, tmp_path, dockerfile: str = API_DOCKERFILE, dockerignore: str | None = API_DOCKERIGNORE) -> Path:
    folder = build_dir(tmp_path, "python-api", dockerfile, dockerignore)
    build(box, "capstone-api:1", folder)
    return folder


def node_solution(box, tmp_path, dockerfile: str = NODE_DOCKERFILE, dockerignore: str | None = NODE_DOCKERIGNORE) -> Path:
    folder = build_dir(tmp_path, "node-server", dockerfile, dockerignore)
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
    # one self-check per step, in the order of the steps
    assert in_notebook == ["review", "api-image", "python-api", "node-server", "stops"]
    assert {t.id for t in lab.tasks} == set(in_notebook)


def test_the_learners_cells_are_starters_only():
    """The learner does every step: the cell before each check is hints and a commented-out skeleton."""
    cells = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    for i, src in enumerate(cells):
        if src.startswith(f'grader.check("{LAB}"'):
            assert all(not ln.strip() or ln.lstrip().startswith("#") for ln in cells[i - 1].splitlines()), cells[i - 1]
    code = "\n".join(cells)
    for solved in ("docker run -d --name capstone-api", "docker push", "USER 1000:1000"):
        assert not any(solved in ln and not ln.lstrip().startswith("#") for ln in code.splitlines()), solved


def test_the_notebook_writes_the_outlines_dockerfile_these_tests_review():
    written = [node.args[0].value for cell in nbformat.read(NOTEBOOK, as_version=4).cells if cell.cell_type == "code"
               for node in ast.walk(ast.parse(cell.source)) if isinstance(node, ast.Call)
               and getattr(node.func, "attr", "") == "write_text" and node.args and isinstance(node.args[0], ast.Constant)
               and str(node.args[0].value).startswith("FROM ubuntu")]
    assert written == [OUTLINE_DOCKERFILE]


def test_the_apps_need_nothing_but_their_standard_libraries():
    tree = ast.parse((APPS / "python-api" / "app.py").read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert modules - {"__future__"} <= set(sys.stdlib_module_names), modules - set(sys.stdlib_module_names)
    required = set(re.findall(r'require\("([^"]+)"\)', (APPS / "node-server" / "server.js").read_text()))
    assert required <= {"http", "os", "node:http", "node:os"}, required
    assert not json.loads((APPS / "node-server" / "package.json").read_text()).get("dependencies")


# --- review (static) ---------------------------------------------------------------------------
def test_review_passes_on_the_solution(box, tmp_path):
    folder = build_dir(tmp_path, "python-api", API_DOCKERFILE, API_DOCKERIGNORE)
    assert_all_pass(grade(box, "review", folder))


def test_review_of_the_outlines_dockerfile_fails_with_each_reason(box, tmp_path):
    _, _, folder = build_folders(tmp_path)
    assert (folder / "Dockerfile").read_text() == OUTLINE_DOCKERFILE
    res = grade(box, "review", folder)
    assert_fails(res["review.exec-form"], "single_string_exec", "ufw allow 5000", hint="ufw is the host's firewall")
    assert_fails(res["review.final-user"], "no_user", "no USER", hint="USER 10001:10001")
    assert_fails(res["review.no-maintainer"], "maintainer", "MAINTAINER", hint="org.opencontainers.image.authors")
    assert_fails(res["review.lint"], "lint", "DL4000")
    assert_fails(res["review.base"], "not_allowed", "ubuntu:18.04", hint="FROM python:3.11-slim")
    assert_fails(res["review.dockerignore"], "missing", hint=".dockerignore")
    assert res["review.copy-not-add"].passed, res["review.copy-not-add"].message


def test_review_without_dockerignore_fails_only_that(box, tmp_path):
    folder = build_dir(tmp_path, "python-api", API_DOCKERFILE, None)
    res = grade(box, "review", folder)
    assert [k for k, v in res.items() if not v.passed] == ["review.dockerignore"]


def test_review_without_a_submission_folder_says_to_pass_one(box, tmp_path):
    res = grade(box, "review", tmp_path)   # an empty folder: no Dockerfile in it
    assert_fails(res["review.exec-form"], "missing", hint="submission=str(API_DIR)")


# --- nothing done yet --------------------------------------------------------------------------
def test_nothing_built_yet_fails_every_check_with_a_next_step(box, tmp_path):
    box.reset()   # no capstone image, no container, an empty registry
    docker(box, "docker pull -q python:3.11-slim && docker pull -q node:18-slim")
    res = grade(box, "api-image", tmp_path)
    assert_fails(res["api-image.non-root"], "missing", "capstone-api:1", hint="docker build -t capstone-api:1")
    res = grade(box, "python-api")
    assert_fails(res["python-api.serves"], "missing", "capstone-api", hint="-p 127.0.0.1:5000:5000")
    assert_fails(res["python-api.pushed"], "no_repository", "capstone/api", hint="docker push $DOCKYARD_REGISTRY/capstone/api:1")
    res = grade(box, "node-server", tmp_path)
    assert_fails(res["node-server.pushed"], "no_repository", "capstone/node")
    assert_fails(res["node-server.pinned-base"], "missing")
    res = grade(box, "stops")
    assert_fails(res["stops.api"], "missing", hint="docker run --name capstone-api")
    assert_fails(res["stops.node"], "missing", hint="docker run --name capstone-node")


# --- api-image ---------------------------------------------------------------------------------
def test_api_image_solution_passes(box, tmp_path):
    folder = api_solution(box, tmp_path)
    assert_all_pass(grade(box, "api-image", folder))


def test_api_image_as_root_fails_non_root(box, tmp_path):
    folder = api_solution(box, tmp_path, without_user(API_DOCKERFILE))
    res = grade(box, "api-image", folder)
    assert_fails(res["api-image.non-root"], "root", "root", hint="USER 10001:10001")
    assert res["api-image.exposes-5000"].passed and res["api-image.no-env"].passed


def test_copy_everything_without_dockerignore_puts_the_token_in_a_layer(box, tmp_path):
    folder = api_solution(box, tmp_path, API_DOCKERFILE.replace("COPY app.py ./", "COPY . ."), dockerignore=None)
    res = grade(box, "api-image", folder)
    assert_fails(res["api-image.no-env"], "present", "/app/.env", hint=".dockerignore")
    assert "tok_live" not in res["api-image.no-env"].message


def test_a_env_deleted_in_a_later_run_is_still_found(box, tmp_path):
    folder = api_solution(box, tmp_path, API_DOCKERFILE.replace("COPY app.py ./", "COPY . .\nRUN rm -f .env"),
                          dockerignore=None)
    res = grade(box, "api-image", folder)
    assert_fails(res["api-image.no-env"], "deleted_later", "/app/.env", "deleted by a later step")
    assert res["api-image.app"].passed


def test_the_app_elsewhere_fails_the_app_check(box, tmp_path):
    folder = api_solution(box, tmp_path, API_DOCKERFILE.replace("WORKDIR /app", "WORKDIR /srv"))
    assert_fails(grade(box, "api-image", folder)["api-image.app"], "missing", "/app/app.py", hint="WORKDIR /app")


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


def test_python_api_pushed_then_rebuilt_fails_the_same_image_check(box, tmp_path):
    api_solution(box, tmp_path)
    docker(box, f"docker run -d --name capstone-api -p 127.0.0.1:{free_port()}:5000 capstone-api:1")
    docker(box, "docker tag capstone-api:1 $DOCKYARD_REGISTRY/capstone/api:1 && "
                "docker push -q $DOCKYARD_REGISTRY/capstone/api:1")
    api_solution(box, tmp_path / "again", API_DOCKERFILE.replace("ENV PYTHONUNBUFFERED=1", "ENV PYTHONUNBUFFERED=1 V=2"))
    res = grade(box, "python-api")
    assert res["python-api.pushed"].passed
    assert_fails(res["python-api.same-image"], "mismatch", hint="Tag the current one again")


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
    folder = node_solution(box, tmp_path)
    port = free_port()
    docker(box, f"docker run -d --name capstone-node -p 127.0.0.1:{port}:8111 capstone-node:1")
    status, body = wait_for(f"http://127.0.0.1:{port}/health")
    assert status == 200 and body["status"] == "ok"
    status, body = http("GET", f"http://127.0.0.1:{port}/")
    assert status == 200 and body["message"].startswith("Hello") and body["requests"] == 2
    assert docker(box, "docker exec capstone-node id -u").strip() == "1000"
    docker(box, "docker tag capstone-node:1 $DOCKYARD_REGISTRY/capstone/node:1 && "
                "docker push $DOCKYARD_REGISTRY/capstone/node:1")
    assert_all_pass(grade(box, "node-server", folder))


def test_node_server_as_root_fails_non_root(box, tmp_path):
    folder = node_solution(box, tmp_path, without_user(NODE_DOCKERFILE))
    assert_fails(grade(box, "node-server", folder)["node-server.non-root"], "root", "root", hint="USER 1000:1000")


def test_the_outlines_node_dockerfile_fails_the_pinned_base_and_carries_the_env(box, tmp_path):
    outline = ("FROM node:current-slim\nWORKDIR /usr/scr/app\nCOPY package.json .\nEXPOSE 8111\nCOPY . .\n"
               'CMD ["node", "server.js"]\n')
    folder = build_dir(tmp_path, "node-server", outline, None)
    res = grade(box, "node-server", folder)  # node:current-slim is not in this sandbox: it is never built
    assert_fails(res["node-server.pinned-base"], "not_allowed", "node:current-slim", hint="FROM node:18-slim")
    built = build_dir(tmp_path / "pinned", "node-server", outline.replace("current-slim", "18-slim"), None)
    build(box, "capstone-node:1", built)
    assert_fails(grade(box, "node-server", built)["node-server.no-env"], "present", "/usr/scr/app/.env")


def test_node_server_with_its_port_not_published_fails_not_published(box, tmp_path):
    folder = node_solution(box, tmp_path)
    docker(box, "docker run -d --name capstone-node capstone-node:1")
    assert_fails(grade(box, "node-server", folder)["node-server.serves"], "not_published", "8111/tcp",
                 hint="docker run -d --name capstone-node -p 127.0.0.1:8111:8111")


# --- stops -------------------------------------------------------------------------------------
def running_both(box, tmp_path, api_dockerfile: str = API_DOCKERFILE) -> None:
    api_solution(box, tmp_path, api_dockerfile)
    node_solution(box, tmp_path)
    docker(box, "docker run -d --name capstone-api capstone-api:1 && docker run -d --name capstone-node capstone-node:1")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not all(
            "listening" in docker(box, f"docker logs {name}") for name in CONTAINERS):
        time.sleep(0.2)


def test_both_stopped_cleanly_pass(box, tmp_path):
    running_both(box, tmp_path)
    docker(box, "docker stop capstone-api capstone-node")
    assert_all_pass(grade(box, "stops"))


def test_a_shell_form_cmd_ends_in_sigkill_with_the_exec_form_hint(box, tmp_path):
    running_both(box, tmp_path, API_DOCKERFILE.replace('CMD ["python3", "app.py"]', "CMD python3 app.py"))
    docker(box, "docker stop -t 1 capstone-api capstone-node")
    res = grade(box, "stops")
    assert_fails(res["stops.api"], "wrong_exit_code", "exited with code 137", "expected exit code 0",
                 hint='CMD ["python3", "app.py"]')
    assert res["stops.node"].passed


def test_still_running_is_told_to_stop(box, tmp_path):
    running_both(box, tmp_path)
    res = grade(box, "stops")
    assert_fails(res["stops.api"], "still_running", hint="docker stop capstone-api")


# --- everything --------------------------------------------------------------------------------
def test_the_whole_capstone_scores_full_marks(box, tmp_path):
    api_dir = api_solution(box, tmp_path)
    node_dir = node_solution(box, tmp_path)
    docker(box, f"docker run -d --name capstone-api -p 127.0.0.1:{free_port()}:5000 capstone-api:1")
    docker(box, f"docker run -d --name capstone-node -p 127.0.0.1:{free_port()}:8111 capstone-node:1")
    docker(box, "for app in api node; do docker tag capstone-$app:1 $DOCKYARD_REGISTRY/capstone/$app:1 && "
                "docker push -q $DOCKYARD_REGISTRY/capstone/$app:1; done")
    score = 0.0
    for task, folder in (("review", api_dir), ("api-image", api_dir), ("python-api", None), ("node-server", node_dir)):
        report = grader.grade(grader.find_lab(LAB), sandbox=box, submission=folder, only_tasks=[task])
        assert_all_pass({r.id: r for r in report.results})
        score += report.score
    docker(box, "docker stop capstone-api capstone-node")
    report = grader.grade(grader.find_lab(LAB), sandbox=box, only_tasks=["stops"])
    assert_all_pass({r.id: r for r in report.results})
    assert score + report.score == grader.load(grader.find_lab(LAB)).total
