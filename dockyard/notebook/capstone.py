"""Lesson 08's helpers: the apps' build folders (with the junk a real project folder carries), the outline's
Dockerfile, a review of it, a conversation with a running API, the registry's catalog, and clean-up."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import Table, sandbox, sh

APPS = Path(__file__).resolve().parents[2] / "notebooks" / "capstone"
CONTAINERS = ("capstone-api", "capstone-node")
IMAGES = ("capstone-api:draft", "capstone-api:1", "capstone-node:1")
# the outline's Python example, verbatim (trailing spaces included): the grader's tests review it as it stands
OUTLINE_API = """\
FROM ubuntu:18.04  
MAINTAINER Adam Angell  
RUN apt-get update -y && apt-get install -y   python3-pip python3-dev  
CMD [ "ufw allow 5000" ]  
COPY ./requirements.txt /app/requirements.txt  
WORKDIR /app  
RUN pip3 install -r requirements.txt  
COPY  ./myAPI.py /app  
ENTRYPOINT [ "python3" ]  
CMD [ "myAPI.py" ]  
"""
# what the lesson writes: the same instructions, mistakes and all, without trailing spaces and with a made-up author
OUTLINE_DOCKERFILE = "".join(line.rstrip() + "\n" for line in OUTLINE_API.splitlines()).replace("Adam Angell",
                                                                                               "Jane Doe")
# no proxy, ever: every request of the lesson goes to 127.0.0.1
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def build_folders(root: str | Path | None = None) -> tuple[Path, Path, Path]:
    """(api, node, outline): fresh build folders under ``root`` (a new temporary folder by default). The apps
    come from notebooks/capstone/, each with what a real project folder holds besides: Git history, caches,
    test data and a ``.env`` with a (fake) token. ``outline`` holds the outline's Dockerfile."""
    root = Path(root) if root else Path(tempfile.mkdtemp(prefix="dockyard-08-"))
    api, node, outline = root / "python-api", root / "node-server", root / "outline"
    for folder in (api, node, outline):
        shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(APPS / "python-api", api)
    shutil.copytree(APPS / "node-server", node)
    for folder, mb in ((api, 8), (node, 3)):
        (folder / ".git" / "objects" / "pack").mkdir(parents=True)
        (folder / ".git" / "objects" / "pack" / "pack-history.pack").write_bytes(os.urandom(mb * 1_000_000))
        (folder / ".env").write_text("API_TOKEN=tok_live_NOT-A-REAL-SECRET\n")
    (api / "test-data").mkdir()
    (api / "test-data" / "fixtures.json").write_text(json.dumps({"blob": os.urandom(3_000_000).hex()}))
    (api / "__pycache__").mkdir()
    (api / "__pycache__" / "app.cpython-311.pyc").write_bytes(os.urandom(4000))
    (node / "node_modules" / ".cache").mkdir(parents=True)
    (node / "node_modules" / ".cache" / "built-on-my-laptop.bin").write_bytes(os.urandom(2_000_000))
    outline.mkdir()
    (outline / "Dockerfile").write_text(OUTLINE_DOCKERFILE)
    return api, node, outline


def files(folder: str | Path) -> Table:
    """Every file of a folder with its size: what `COPY . .` would take along."""
    folder = Path(folder)
    rows = [(str(p.relative_to(folder)), f"{p.stat().st_size / 1e6:.3f} MB")
            for p in sorted(folder.rglob("*")) if p.is_file()]
    return Table(rows, ["file", "size"], title=str(folder))


def http(method: str, url: str, body: object = None) -> tuple[int, object]:
    """(status, decoded JSON or text) of one request; 4xx and 5xx answers are returned, not raised."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data is not None else {})
    try:
        with _OPENER.open(request, timeout=5) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def wait_for(url: str, budget: float = 15.0) -> tuple[int, object]:
    """GET ``url`` until the server answers (a new container needs a moment)."""
    deadline = time.monotonic() + budget
    while True:
        try:
            return http("GET", url)
        except OSError as exc:  # refused, or reset by docker-proxy while nothing listens yet
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {budget:.0f} s ({exc}): is the container running "
                                   "(docker ps), with its port published (-p 127.0.0.1:HOST:CONTAINER)? "
                                   "docker logs NAME shows what it said") from exc
            time.sleep(0.2)


def talk(base: str, exchanges=None) -> Table:
    """A short conversation with the API at ``base`` (``http://127.0.0.1:PORT``): read, add, read again."""
    exchanges = exchanges or [("GET", "/items", None), ("POST", "/items", {"name": "coffee"}),
                              ("POST", "/items", {"name": "tea"}), ("GET", "/items", None),
                              ("GET", "/items/9", None), ("POST", "/items", b"not json"), ("GET", "/health", None)]
    wait_for(base.rstrip("/") + exchanges[0][1])
    rows = []
    for method, path, body in exchanges:
        status, answer = http(method, base.rstrip("/") + path, body)
        sent = "" if body is None else (body.decode() if isinstance(body, bytes) else json.dumps(body))
        rows.append((f"{method} {path}", sent, status, json.dumps(answer)))
    return Table(rows, ["request", "body sent", "status", "answer"], title=f"Talking to {base}")


def catalog() -> Table:
    """The repositories and tags of the sandbox's registry, read from its HTTP API (GET /v2/_catalog)."""
    registry = os.environ.get("DOCKYARD_REGISTRY") or sandbox().env().get("DOCKYARD_REGISTRY")

    def get(path):
        with _OPENER.open(f"http://{registry}{path}", timeout=10) as answer:
            return json.load(answer)

    rows = [(repo, ", ".join(sorted(get(f"/v2/{repo}/tags/list").get("tags") or [])))
            for repo in get("/v2/_catalog")["repositories"]]
    return Table(rows, ["repository", "tags"], title=f"GET http://{registry}/v2/_catalog")


def clean_up(folders: tuple[Path, ...] = ()) -> None:
    """Remove the lesson's containers and local images (pushed tags stay in the registry) and its folders."""
    names = set(sh("docker ps -a --format '{{.Names}}'", quiet=True).split())
    doomed = [n for n in CONTAINERS if n in names]
    if doomed:
        sh("docker rm -f " + " ".join(doomed), quiet=True)
    registry = sandbox().env().get("DOCKYARD_REGISTRY")
    tags = set(sh("docker image ls --format '{{.Repository}}:{{.Tag}}'", quiet=True).split())
    doomed = [t for t in tags if t in IMAGES or (registry and t.startswith(f"{registry}/capstone/"))]
    if doomed:
        sh("docker image rm " + " ".join(doomed), quiet=True, check=False)
    for folder in folders:
        shutil.rmtree(Path(folder).parent if Path(folder).parent.name.startswith("dockyard-08-") else folder,
                      ignore_errors=True)
