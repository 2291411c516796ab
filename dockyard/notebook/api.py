"""Lesson 03's helpers: HTTP to the daemon over its unix socket, a spy on that socket, the map of the
parts, the process chain dockerd -> containerd -> shim -> container, and the registry's HTTP API.

Everything here is plain standard library (http.client, socket, /proc, urllib) on purpose: the lesson's
point is that nothing more is needed to drive Docker.
"""

from __future__ import annotations

import datetime
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import urllib.request
from pathlib import Path

from . import Table, sandbox, sh


def daemon_socket() -> str:
    """The path of the sandbox daemon's unix socket (DOCKER_HOST without unix://)."""
    return sandbox().docker_host.removeprefix("unix://")


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket: the same protocol as over TCP, only connect() differs."""

    def __init__(self, socket_path: str, timeout: float = 30):
        super().__init__("localhost", timeout=timeout)      # "localhost" only fills the Host: header
        self.socket_path = socket_path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


class Answer(tuple):
    """(status, headers, body) of one request; shows as a one-line summary in a notebook."""

    def __new__(cls, status: int, headers, body):
        return super().__new__(cls, (status, headers, body))

    status = property(lambda self: self[0])
    headers = property(lambda self: self[1])
    body = property(lambda self: self[2])

    def __repr__(self):
        body = json.dumps(self.body) if isinstance(self.body, (dict, list)) else repr(self.body)
        return f"HTTP {self.status}  {body[:300]}"


def api(method: str, path: str, body=None, socket_path: str | None = None) -> Answer:
    """One request to the daemon: (status, headers, body), the body decoded from JSON when it is JSON.

    >>> api("POST", "/v1.41/containers/create?name=x", {"Image": "busybox"})   # doctest: +SKIP
    HTTP 201  {"Id": "…", "Warnings": []}
    """
    conn = UnixHTTPConnection(socket_path or daemon_socket())
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={} if body is None else {"Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    if resp.headers.get("Content-Type", "").startswith("application/json") and raw:
        return Answer(resp.status, resp.headers, json.loads(raw))
    return Answer(resp.status, resp.headers, raw.decode(errors="replace"))


# --- the spy ----------------------------------------------------------------------------------------
REQUEST_LINE = re.compile(rb"^(GET|HEAD|POST|PUT|DELETE) (\S+) HTTP/1\.1", re.M)


def request_lines(data: bytes) -> list[tuple[str, str]]:
    """The (method, path) of each HTTP request line in a chunk of bytes."""
    return [(m.decode(), p.decode()) for m, p in REQUEST_LINE.findall(data)]


def _forward(src, dst, seen):
    try:
        while data := src.recv(65536):
            if seen is not None:
                seen.extend(request_lines(data))
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


class SocketSpy:
    """A second unix socket that forwards every byte to target and notes each HTTP request line it carries.

    >>> with SocketSpy("/run/docker.sock") as spy:          # doctest: +SKIP
    ...     sh(f"DOCKER_HOST=unix://{spy.path} docker ps")
    >>> spy.seen                                             # doctest: +SKIP
    [('HEAD', '/_ping'), ('GET', '/v1.41/containers/json')]
    """

    def __init__(self, target: str):
        self.target, self.seen = target, []
        self.folder = tempfile.mkdtemp(prefix="dy-spy-")
        self.path = os.path.join(self.folder, "spy.sock")
        self.listener = socket.socket(socket.AF_UNIX)

    def __enter__(self):
        self.listener.bind(self.path)
        self.listener.listen()
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.listener.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _serve(self):
        while True:
            try:
                client_side, _ = self.listener.accept()
            except OSError:                      # the listener was closed: stop
                return
            daemon_side = socket.socket(socket.AF_UNIX)
            daemon_side.connect(self.target)
            threading.Thread(target=_forward, args=(client_side, daemon_side, self.seen), daemon=True).start()
            threading.Thread(target=_forward, args=(daemon_side, client_side, None), daemon=True).start()


def _short(path: str) -> str:
    return re.sub(r"[0-9a-f]{64}", lambda m: m.group(0)[:12] + "…", path)


def spy(cmd: str, socket_path: str | None = None) -> Table:
    """Run cmd with DOCKER_HOST pointing at a SocketSpy in front of the daemon; the requests it sent, in order."""
    with SocketSpy(socket_path or daemon_socket()) as s:
        sh(f"DOCKER_HOST=unix://{s.path} {cmd}", timeout=60)
    return Table([(i + 1, m, _short(p)) for i, (m, p) in enumerate(s.seen)], ["#", "method", "path"],
                 title=f"what `{cmd}` sent to the daemon")


# --- the map ----------------------------------------------------------------------------------------
def architecture_map():
    """Draw client -> dockerd -> containerd -> shim -> runc -> process, and the registry."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    fig, ax = plt.subplots(figsize=(11, 6.6))
    ax.set_xlim(0, 13); ax.set_ylim(0, 10.6); ax.axis("off")
    L, R, W = 2.7, 10.2, 4.6

    def node(x, y, title, sub, color, dashed=False):
        ax.add_patch(FancyBboxPatch((x - W / 2, y - 0.55), W, 1.1, boxstyle="round,pad=0.05",
                                    fc=color, ec="black", lw=1.2, ls="--" if dashed else "-"))
        ax.text(x, y + 0.17, title, ha="center", va="center", fontsize=12, weight="bold", family="monospace")
        ax.text(x, y - 0.25, sub, ha="center", va="center", fontsize=8.5)

    def arrow(x1, y1, x2, y2, text, tx, ty, ha="left", both=False):
        ax.annotate("", xy=(x2, y2), xytext=(x1, y1),
                    arrowprops=dict(arrowstyle="<|-|>" if both else "-|>", lw=1.5, color="#333"))
        ax.text(tx, ty, text, fontsize=9, ha=ha, va="center", color="#222")

    node(L, 9.7, "docker / docker-py / curl", "the client: any program that speaks HTTP", "#cfe2ff")
    node(L, 7.6, "dockerd", "the daemon: API, images, networks, volumes", "#e2e3e5")
    node(L, 5.5, "containerd", 'runs containers; namespace "moby"', "#e2e3e5")
    node(L, 3.4, "containerd-shim-runc-v2", "one per container; stays as its parent", "#ffe5b4")
    node(L, 1.0, "container process", "e.g. sleep 600 (PID 1 inside)", "#d1e7dd")
    node(R, 3.4, "runc", "OCI runtime: sets up, starts, exits", "#ffe5b4", dashed=True)
    node(R, 7.6, "registry", "stores repositories of images; HTTP /v2/", "#d1e7dd")
    arrow(L, 9.1, L, 8.2, "REST (HTTP) over a unix socket = $DOCKER_HOST", L + 0.15, 8.65)
    arrow(L, 7.0, L, 6.1, "gRPC over containerd.sock", L + 0.15, 6.55)
    arrow(L, 4.9, L, 4.0, "starts one shim per container (ttrpc)", L + 0.15, 4.45)
    arrow(L, 2.8, L, 1.6, "parent: holds stdio, collects exit code", L + 0.15, 2.2)
    arrow(L + W / 2 + 0.1, 3.4, R - W / 2 - 0.1, 3.4, "runs runc create / start", (L + R) / 2, 3.7, "center")
    arrow(R, 2.8, L + W / 2 + 0.1, 1.1, "creates namespaces + cgroups,\nexecs the process, exits", R - 1.6, 1.9)
    arrow(L + W / 2 + 0.1, 7.6, R - W / 2 - 0.1, 7.6, "push / pull", (L + R) / 2, 7.9, "center", both=True)
    ax.set_title("From `docker run` to a running process", fontsize=13)
    plt.show()


# --- API versions -----------------------------------------------------------------------------------
def ask_versions(paths: list[str]) -> Table:
    """GET each path; show the status, the Api-Version header and the gist of the answer."""
    rows = []
    for path in paths:
        status, headers, body = api("GET", path)
        if isinstance(body, dict) and "message" in body:
            answer = body["message"]
        elif isinstance(body, dict) and "ApiVersion" in body:
            answer = f"ApiVersion={body['ApiVersion']}  MinAPIVersion={body['MinAPIVersion']}"
        elif isinstance(body, list):
            answer = f"a list of {len(body)} containers"
        else:
            answer = str(body).strip()
        rows.append((f"GET {path}", status, headers.get("Api-Version"), answer))
    return Table(rows, ["request", "status", "Api-Version header", "answer"], title="the daemon's API versions")


# --- events -----------------------------------------------------------------------------------------
def event_rows(events: list[dict], container_id: str) -> list[tuple]:
    """(time, type, action, id, detail) of the events about one container."""
    def detail(e):
        a = e["Actor"].get("Attributes", {})
        return (f"signal {a['signal']}" if "signal" in a else f"exit code {a['exitCode']}" if "exitCode" in a
                else f"network {a['name']}" if e["Type"] == "network" else "")

    ours = [e for e in events if container_id in (e["Actor"]["ID"], e["Actor"].get("Attributes", {}).get("container"))]
    return [(datetime.datetime.fromtimestamp(e["timeNano"] / 1e9).strftime("%H:%M:%S.%f")[:-3],
             e["Type"], e["Action"], e["Actor"]["ID"][:12], detail(e)) for e in ours]


def events_of(name: str, since: float, until: float) -> Table:
    """Replay the daemon's events (GET /events?since=&until=) about one container, or about a name that is
    gone, matching by the name in the event's attributes."""
    client = sandbox().client
    events = list(client.events(decode=True, since=int(since), until=int(until) + 1))
    ids = {e["Actor"]["ID"] for e in events if e.get("Actor", {}).get("Attributes", {}).get("name") == name
           and e["Type"] == "container"}
    rows = [r for cid in ids for r in event_rows(events, cid)]
    return Table(sorted(rows), ["time", "type", "action", "id", "detail"], title=f"events about {name}")


# --- beneath the daemon -----------------------------------------------------------------------------
def proc(pid: int) -> dict:
    """pid, parent pid, command name and arguments of a process, read from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return {"pid": pid, "ppid": int(stat[stat.rindex(")") + 2:].split()[1]),
            "comm": stat[stat.index("(") + 1:stat.rindex(")")], "args": [a.decode() for a in args if a]}


def all_procs() -> list[dict]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out.append(proc(int(entry.name)))
            except (OSError, ValueError, IndexError):      # it ended while we looked
                pass
    return out


def arg(p: dict, flag: str) -> str | None:
    return p["args"][p["args"].index(flag) + 1] if flag in p["args"] else None


def find_chain(container: str) -> dict | None:
    """dockerd, containerd, the shim and the process of one container, from /proc; None where the daemon
    is not on this machine or uses a system-wide containerd."""
    box = sandbox()
    ins = box.client.api.inspect_container(container)
    cid, cpid = ins["Id"], ins["State"]["Pid"]
    procs = all_procs()
    dockerd = box.daemon_pid() if box.backend == "private" else None
    containerd = next((p for p in procs if p["ppid"] == dockerd and p["comm"] == "containerd"), None)
    shim = next((p for p in procs if p["comm"].startswith("containerd-shim") and arg(p, "-id") == cid), None)
    if not (dockerd and containerd and shim):
        return None
    return {"dockerd": proc(dockerd), "containerd": containerd, "shim": shim, "process": proc(cpid), "id": cid}


def process_chain(container: str) -> Table | str:
    """The chain from dockerd to the container's process, each with its parent."""
    chain = find_chain(container)
    if chain is None:
        return ("This machine does not show the chain: the daemon runs elsewhere (Docker Desktop keeps it in a "
                "VM), or dockerd uses a system-wide containerd.")
    names = {p["pid"]: role for role, p in chain.items() if role != "id"}
    names[1] = "init"
    rows = [(role, p["pid"], p["ppid"], names.get(p["ppid"], "another process"), " ".join(p["args"])[:70])
            for role, p in chain.items() if role != "id"]
    return Table(rows, ["part", "pid", "parent pid", "the parent is", "command line"],
                 title=f"from dockerd to the process of {container}, read from /proc")


def shim_arguments(container: str) -> Table | str:
    chain = find_chain(container)
    if chain is None:
        return "no shim of this container on this machine"
    shim = chain["shim"]
    return Table([("-namespace", arg(shim, "-namespace"), "containerd's namespace for all dockerd creates"),
                  ("-id", arg(shim, "-id")[:24] + "…", f"the container's Id: {arg(shim, '-id') == chain['id']}"),
                  ("-address", arg(shim, "-address"), "containerd's socket"),
                  ("may this kernel use that socket?", "yes" if os.access(arg(shim, "-address") or "", os.W_OK)
                   else "no", "containerd has no authorization: only root may")],
                 ["argument", "value", "meaning"], title=f"/proc/{shim['pid']}/cmdline of the shim")


def runc_state(container: str) -> Table | str:
    """What runc keeps of a container: its state file and the OCI bundle's config.json dockerd generated."""
    box = sandbox()
    ins = box.client.api.inspect_container(container)
    if box.backend != "private":
        return "runc's state directory is not on this machine (the daemon runs elsewhere)."
    root = Path(str(box.cfg.exec_root)) / "runtime-runc" / "moby"
    if not root.is_dir():
        return (f"{root} is hidden from this kernel (uid {os.geteuid()}), as containerd's socket is: Dockyard keeps "
                f"the runtime folder root's. As root, `runc --root {root} state {ins['Id'][:12]}` prints runc's record, "
                f"and the bundle it names holds config.json.")
    state = json.loads(sh(f"runc --root {root} state {ins['Id']}", quiet=True))
    spec = json.loads((Path(state["bundle"]) / "config.json").read_text())
    return Table([("runc state: status", state["status"]),
                  ("runc state: pid", f"{state['pid']}  (docker inspect: {ins['State']['Pid']})"),
                  ("config.json: process.args", spec["process"]["args"]),
                  ("config.json: linux.namespaces", ", ".join(n["type"] for n in spec["linux"]["namespaces"])),
                  ("config.json: linux.cgroupsPath", spec["linux"].get("cgroupsPath"))],
                 ["what runc knows", "value"], title=f"runc's record of {container}")


# --- the registry -----------------------------------------------------------------------------------
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def registry_get(path: str, accept: str | None = None, registry: str | None = None):
    """GET http://REGISTRY/PATH: (status, headers, bytes). The registry is this sandbox's own by default."""
    base = registry or sandbox().env()["DOCKYARD_REGISTRY"]
    base = base if base.startswith("http") else "http://" + base
    req = urllib.request.Request(base + path, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.headers, r.read()


def registry_table(paths: list[str], registry: str | None = None) -> Table:
    rows = []
    for path in paths:
        status, headers, body = registry_get(path, registry=registry)
        rows.append((f"GET {path}", status, body.decode().strip()[:200]))
    return Table(rows, ["request", "status", "body"], title="the registry's HTTP API")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def manifest_table(repository: str, tag: str, registry: str | None = None) -> Table:
    """The manifest of repository:tag: its digest checked against its bytes, and the blobs it lists."""
    status, headers, body = registry_get(f"/v2/{repository}/manifests/{tag}", accept=MANIFEST_V2, registry=registry)
    manifest = json.loads(body)
    rows = [("manifest", headers["Content-Type"], headers["Docker-Content-Digest"],
             f"= sha256 of its bytes: {sha256(body) == headers['Docker-Content-Digest']}")]
    rows += [("config", manifest["config"]["mediaType"], manifest["config"]["digest"],
              f"{manifest['config']['size']:,} bytes")]
    rows += [(f"layer {i + 1}", x["mediaType"], x["digest"], f"{x['size']:,} bytes")
             for i, x in enumerate(manifest["layers"])]
    return Table(rows, ["what", "mediaType", "digest", "size / check"], title=f"GET /v2/{repository}/manifests/{tag}")


def config_blob(repository: str, tag: str, registry: str | None = None) -> dict:
    """The image's config blob, fetched by the digest its manifest names, with that digest checked."""
    _, _, body = registry_get(f"/v2/{repository}/manifests/{tag}", accept=MANIFEST_V2, registry=registry)
    digest = json.loads(body)["config"]["digest"]
    _, _, blob = registry_get(f"/v2/{repository}/blobs/{digest}", registry=registry)
    if sha256(blob) != digest:
        raise ValueError(f"the registry sent a blob whose content ({sha256(blob)}) does not match its digest {digest}")
    return {"digest": digest, **json.loads(blob)}
