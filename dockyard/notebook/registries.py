"""Lesson 06's helpers: what an image name means, a registry read over its HTTP API, a push as it happens.

The lesson's cells stay what a learner types (``sh("docker push ...")``); what they would not type
(the HTTP requests behind ``docker push``, folding the daemon's push stream into bars, a plot)
lives here.

>>> parse_name("alice/web:1.0")
('docker.io', 'alice/web', '1.0', '')
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import Table, sh

MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.v2+json, "
                  "application/vnd.oci.image.manifest.v1+json")


def parse_name(name: str) -> tuple[str, str, str, str]:
    """``(registry, repository, tag, digest)`` of an image name, with Docker's defaults filled in.

    The first part is a registry host only when it looks like one (a ``.`` or a ``:`` in it, or
    ``localhost``); no host means Docker Hub, where a name without a namespace is under ``library/``;
    no tag and no digest means ``latest``."""
    rest, _, digest = name.partition("@")
    tag = ""
    if ":" in rest.rsplit("/", 1)[-1]:  # a colon after the last slash starts a tag; before it, a port
        rest, tag = rest.rsplit(":", 1)
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, remainder
    else:
        registry, repository = "docker.io", rest
    if registry == "docker.io" and "/" not in repository:
        repository = "library/" + repository
    if not tag and not digest:
        tag = "latest"
    return registry, repository, tag, digest


def names_table(names, title: str = "What an image name means") -> Table:
    return Table([(n, *parse_name(n)) for n in names], ["name as typed", "registry", "repository", "tag", "digest"],
                 title=title)


def local_names(client, *prefixes: str) -> list[str]:
    """Every local image name (tag or digest name) that starts with one of ``prefixes``."""
    found: list[str] = []
    for image in client.images.list():
        for ref in (image.attrs.get("RepoTags") or []) + (image.attrs.get("RepoDigests") or []):
            if ref.startswith(prefixes) and ref not in found:
                found.append(ref)
    return found


def remove_local(client, *prefixes: str) -> list[str]:
    """``docker image rm`` every local name starting with one of ``prefixes`` (a re-run's leftovers)."""
    names = local_names(client, *prefixes)
    if names:
        sh("docker image rm " + " ".join(names), check=False, quiet=True)
    return names


class Registry:
    """A registry's HTTP API v2, read with the standard library (``Registry("127.0.0.1:5000")``)."""

    def __init__(self, address: str, timeout: float = 10):
        self.base = address if address.startswith(("http://", "https://")) else f"http://{address}"
        self.timeout = timeout

    def get(self, path: str) -> tuple[int, dict, bytes]:
        """GET a path of the API: ``(status, headers, body)``."""
        req = urllib.request.Request(self.base + path, headers={"Accept": MANIFEST_TYPES})
        with urllib.request.urlopen(req, timeout=self.timeout) as r:
            return r.status, dict(r.headers), r.read()

    def catalog(self) -> list[str]:
        return json.loads(self.get("/v2/_catalog")[2]).get("repositories") or []

    def tags(self, repo: str) -> list[str]:
        return sorted(json.loads(self.get(f"/v2/{repo}/tags/list")[2]).get("tags") or [])

    def manifest(self, repo: str, ref: str) -> tuple[str, dict]:
        """``(manifest digest, manifest)`` of ``repo:ref`` (a tag or a digest)."""
        _, headers, body = self.get(f"/v2/{repo}/manifests/{ref}")
        return headers["Docker-Content-Digest"], json.loads(body)

    def digest(self, repo: str, ref: str) -> str:
        return self.manifest(repo, ref)[0]

    def requests(self, *paths: str) -> Table:
        """GET each path (``/v2/_catalog``, ``/v2/REPO/tags/list``, ``/v2/REPO/manifests/TAG``): a row per answer."""
        rows = []
        for path in paths:
            status, headers, body = self.get(path)
            shown = body.decode() if len(body) < 120 else f"({len(body)} bytes of manifest JSON)"
            rows.append((f"GET {path}", status, headers.get("Docker-Content-Digest", ""), shown))
        return Table(rows, ["request", "status", "Docker-Content-Digest", "body"], title=f"registry at {self.base}")

    def table(self, repo: str, tags, title: str | None = None) -> Table:
        """One row per tag: manifest digest, image ID (the config's digest), when the image was built."""
        rows = []
        for tag in tags:
            digest, manifest = self.manifest(repo, tag)
            config_digest = manifest["config"]["digest"]
            config = json.loads(self.get(f"/v2/{repo}/blobs/{config_digest}")[2])
            rows.append((tag, digest[:19] + "…", config_digest[:19] + "…", config.get("created", "")[:19]))
        return Table(rows, ["tag", "manifest digest", "image ID", "created (UTC)"], title=title or repo)

    def tree(self) -> str:
        """registry → repository → tag → digest, as a tree of text."""
        lines = [f"{self.base}  (registry)"]
        repos = self.catalog()
        for i, repo in enumerate(repos):
            last = i == len(repos) - 1
            lines.append(("└── " if last else "├── ") + f"{repo}  (repository)")
            tags = self.tags(repo)
            for j, tag in enumerate(tags):
                lines.append(("    " if last else "│   ") + ("└── " if j == len(tags) - 1 else "├── ")
                             + f"{tag}  →  {self.digest(repo, tag)[:19]}…")
        return "\n".join(lines)


DOCKERFILE = 'FROM busybox\nCOPY hello.txt /hello.txt\nCMD ["cat", "/hello.txt"]\n'


def build_image(tag: str, text: str) -> str:
    """Build busybox plus /hello.txt holding ``text`` (its command prints the file); the image ID."""
    folder = Path(tempfile.mkdtemp(prefix="dy-06-"))
    try:
        (folder / "hello.txt").write_text(text + "\n")
        (folder / "Dockerfile").write_text(DOCKERFILE)
        out = sh(f"docker build -q -t {tag} {folder}", quiet=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    image_id = next(w for w in out.split() if w.startswith("sha256:"))
    print(f"built {tag}: {image_id[:19]}…  (FROM busybox, COPY hello.txt, CMD cat /hello.txt)")
    return image_id


def push_results(push_output: str) -> dict[str, str]:
    """``{short layer id: "Pushed" | "Layer already exists" | "Mounted from ..."}`` from ``docker push``'s output."""
    out = {}
    for line in push_output.splitlines():
        layer, sep, status = line.strip().partition(": ")
        if sep and (status in ("Pushed", "Layer already exists") or status.startswith("Mounted from")):
            out[layer] = status
    return out


def pushed_layers(client, image: str, base: str, push_output: str) -> Table:
    """Which of ``image``'s layers the push uploaded, and which the registry had already (from ``base``)."""
    layers = client.images.get(image).attrs["RootFS"]["Layers"]  # uncompressed digests, base first
    from_base = set(client.images.get(base).attrs["RootFS"]["Layers"])
    result = push_results(push_output)
    rows = [(layer[7:19], f"{base} (the base)" if layer in from_base else "this image's own",
             result.get(layer[7:19], "?")) for layer in layers]
    sent = sum(r[2] == "Pushed" for r in rows)
    return Table(rows, ["layer (as docker push shows it)", "comes from", "what the push did"],
                 title=f"{image}: {sent} uploaded, {len(rows) - sent} skipped")


@dataclass
class PushProgress:
    """Docker's push stream (``api.push(name, tag=..., stream=True, decode=True)``) folded per layer.

    A layer is ``Preparing``, ``Waiting``, ``Pushing`` (with ``progressDetail`` current/total bytes),
    then ``Pushed``, ``Layer already exists`` or ``Mounted from …``; the last message carries the
    manifest digest in ``aux``."""

    t0: float = field(default_factory=time.monotonic)
    layers: dict = field(default_factory=dict)  # id -> {"status", "current", "total", "done"}
    samples: list = field(default_factory=list)  # (seconds, MB sent, MB total) of each Pushing message
    messages: int = 0
    digest: str | None = None
    error: str | None = None

    DONE = ("Pushed", "Layer already exists")

    def feed(self, msg: dict, now: float | None = None) -> None:
        self.messages += 1
        if msg.get("error"):
            self.error = msg["error"]
            return
        if "aux" in msg:
            self.digest = (msg["aux"] or {}).get("Digest") or self.digest
        layer, status = msg.get("id"), msg.get("status") or ""
        if not layer or ":" in layer:  # "The push refers to repository ...", "v1: digest: ..."
            return
        lay = self.layers.setdefault(layer, {"status": "", "current": 0, "total": 0, "done": False})
        lay["status"] = status
        detail = msg.get("progressDetail") or {}
        if detail.get("total"):
            lay["total"] = int(detail["total"])
            lay["current"] = min(int(detail.get("current") or 0), lay["total"])  # may overshoot a little
            t = (now if now is not None else time.monotonic()) - self.t0
            self.samples.append((t, detail.get("current", 0) / 1e6, lay["total"] / 1e6))
        if status in self.DONE or status.startswith("Mounted from"):
            lay["done"] = True
            lay["current"] = lay["total"]

    def table(self, title: str) -> Table:
        rows = [(layer, lay["status"]) for layer, lay in self.layers.items()]
        rows += [("messages received", self.messages), ("manifest digest", self.digest)]
        return Table(rows, ["layer", "result"], title=title)


class _Bars:
    """One ipywidgets bar per layer, or one printed line per finished layer where there are no widgets."""

    def __init__(self):
        try:
            import ipywidgets as widgets
            from IPython.display import display
        except ImportError:
            widgets = None
        self.widgets, self.bars, self.printed = widgets, {}, set()
        if widgets:
            self.panel = widgets.VBox([])
            display(self.panel)

    def update(self, seen: PushProgress) -> None:
        for layer, lay in seen.layers.items():
            if not self.widgets:
                if lay["done"] and layer not in self.printed:
                    print(f"{layer}: {lay['status']}")
                    self.printed.add(layer)
                continue
            bar = self.bars.get(layer)
            if bar is None:
                bar = self.bars[layer] = self.widgets.IntProgress(min=0, max=1, description=layer, bar_style="info")
                self.panel.children += (bar,)
            bar.max = max(lay["total"], 1)
            bar.value = bar.max if lay["done"] else lay["current"]
            if lay["done"]:
                bar.bar_style, bar.description = "success", f"{layer[:8]} ✓"


def push_with_bars(client, repository: str, tag: str) -> PushProgress:
    """``docker push repository:tag`` through docker-py, a progress bar per layer as the daemon reports it."""
    seen, bars = PushProgress(), _Bars()
    for msg in client.api.push(repository, tag=tag, stream=True, decode=True):
        seen.feed(msg)
        if seen.error:
            raise RuntimeError(f"docker push {repository}:{tag} failed: {seen.error}")
        bars.update(seen)
    return seen


def speed_plot(seen: PushProgress, title: str = "Uploading a layer") -> None:
    """Bytes sent over time, from the ``Pushing`` messages (none when every layer was there already)."""
    if not seen.samples:
        print("No bytes were sent: the registry already had every layer (it does on a second run).")
        return
    import matplotlib.pyplot as plt

    t, mb, total = zip(*seen.samples)
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(t, mb, marker=".", lw=1, label="current (bytes read and compressed)")
    ax.axhline(total[-1], ls="--", color="grey", label="total (the layer, uncompressed)")
    ax.set_xlabel("seconds since the push started")
    ax.set_ylabel("MB")
    ax.legend(loc="lower right")
    ax.set_title(f"{title}: about {mb[-1] / max(t[-1], 0.01):.0f} MB/s")
    plt.show()

