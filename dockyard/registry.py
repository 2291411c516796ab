"""A Docker registry (Debian's ``docker-registry``, distribution v2) on 127.0.0.1.

Two roles use this class:
- the machine-wide *seed* registry: dockerd's ``--registry-mirror``, holding the
  base images built from Debian packages; served read-only;
- each sandbox's own registry, empty at first, where learners tag and push.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import yaml

from . import network, procs
from .daemon import log_tail
from .errors import DaemonError, ResourceInUse
from .locks import file_lock

_THREAD_LOCKS: dict[str, threading.Lock] = {}  # flock alone does not serialize threads of one process

MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])
HUB = "https://registry-1.docker.io"
V2 = Path("docker/registry/v2")  # where distribution's filesystem driver keeps blobs and repositories


def config_yaml(storage: Path, port: int, *, readonly: bool = False, proxy_remote: str | None = None) -> str:
    cfg: dict = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}, "readonly": {"enabled": readonly}},
        },
        "http": {"addr": f"127.0.0.1:{port}", "headers": {"X-Content-Type-Options": ["nosniff"]}},
    }
    if proxy_remote:
        cfg["proxy"] = {"remoteurl": proxy_remote}
    return yaml.safe_dump(cfg, sort_keys=False)


@dataclasses.dataclass
class Registry:
    dir: Path
    port: int
    readonly: bool = False
    proxy_remote: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        """What goes before the repository name in an image reference."""
        return f"127.0.0.1:{self.port}"

    @property
    def storage(self) -> Path:
        return self.dir / "storage"

    @property
    def pidfile(self) -> Path:
        return self.dir / "registry.pid"

    @property
    def log(self) -> Path:
        return self.dir / "registry.log"

    @property
    def config_path(self) -> Path:
        return self.dir / "registry.yml"

    def pid(self) -> int | None:
        pid = procs.read_pidfile(self.pidfile)
        return pid if procs.alive(pid, str(self.config_path)) else None

    def running(self) -> bool:
        return self.pid() is not None and self.ping()

    def ping(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/v2/", timeout=1) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """One start or stop at a time per registry, across threads and processes: the seed registry
        is shared, and two sandboxes coming up at once would otherwise both start it (one then dies
        on the taken port and leaves its pid in the pidfile, orphaning the one that listens)."""
        with _THREAD_LOCKS.setdefault(str(self.dir), threading.Lock()), file_lock(self.dir / "start.lock"):
            yield

    def start(self, timeout: float = 10) -> int:
        """Start it if it is not running; returns the PID."""
        with self._lock():
            return self._start(timeout)

    def start_on_free_port(self, tries: int = 3, timeout: float = 10) -> int:
        """Start it on a port that is free now; returns the PID. A free port can be taken before the
        registry binds it (by a sandbox coming up beside this one, or a port a dockerd publishes):
        then on another one."""
        for _ in range(tries - 1):
            self.port = network.free_port()
            with contextlib.suppress(ResourceInUse, DaemonError):
                return self.start(timeout)
        self.port = network.free_port()
        return self.start(timeout)

    def _start(self, timeout: float) -> int:
        pid = self.pid()
        if pid and self.ping():
            return pid
        if pid:  # ours, but not answering: restart it
            procs.stop(pid, str(self.config_path))
        if network.port_in_use(self.port):
            raise ResourceInUse(
                f"port 127.0.0.1:{self.port} is taken by another program, so the registry cannot listen there",
                "free the port, or choose another with DOCKYARD_SEED_PORT=NNNN",
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        self.storage.mkdir(exist_ok=True)
        self.config_path.write_text(config_yaml(self.storage, self.port, readonly=self.readonly,
                                                proxy_remote=self.proxy_remote))
        binary = procs.which("docker-registry")
        with open(self.log, "ab") as log:
            proc = subprocess.Popen([binary, "serve", str(self.config_path)], stdout=log, stderr=log,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.pidfile.write_text(str(proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DaemonError(f"the registry on port {self.port} exited with status {proc.returncode}",
                                  f"see {self.log}", log_tail=log_tail(self.log, 15))
            if self.ping():
                return proc.pid
            time.sleep(0.03)
        procs.stop(proc.pid)
        raise DaemonError(f"the registry on port {self.port} did not answer within {timeout:.0f} s",
                          f"see {self.log}", log_tail=log_tail(self.log, 15))

    def empty(self) -> None:
        """Delete every repository, in place.

        The registry keeps running on the same port, so a DOCKYARD_REGISTRY that a
        notebook kernel already holds stays valid. (Restarting it instead can fail to
        bind: the old process's half-closed connections from dockerd still hold the
        port for up to a minute.) It reads its storage afresh on every request: no
        blob-descriptor cache is configured.
        """
        shutil.rmtree(self.storage / "docker", ignore_errors=True)
        if not self.running():
            self.start()

    # --- its storage (distribution's filesystem layout), for content it holds without an upload ---
    def blob_path(self, digest: str) -> Path:
        algorithm, hexdigest = digest.split(":", 1)
        return self.storage / V2 / "blobs" / algorithm / hexdigest[:2] / hexdigest / "data"

    def add_layer(self, repo: str, digest: str, data: Path) -> None:
        """Hold a copy of the blob ``data`` (whose digest is ``digest``) as a layer of ``repo``, as a push would.

        Written in place, running or not: the registry reads its storage afresh on every request."""
        blob = self.blob_path(digest)
        if not blob.is_file():
            blob.parent.mkdir(parents=True, exist_ok=True)
            tmp = blob.with_name("data.tmp")
            shutil.copyfile(data, tmp)  # a copy: no registry ever shares a file with another
            tmp.replace(blob)
        algorithm, hexdigest = digest.split(":", 1)
        link = self.storage / V2 / "repositories" / repo / "_layers" / algorithm / hexdigest / "link"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.write_text(digest)

    def stop(self) -> bool:
        with self._lock():
            pid = procs.read_pidfile(self.pidfile)
            stopped = procs.stop(pid, str(self.config_path), grace=5) if pid else False
            self.pidfile.unlink(missing_ok=True)
            return stopped

    # --- the HTTP API v2 ----------------------------------------------------------
    def get(self, path: str, accept: str | None = None, method: str = "GET"):
        req = urllib.request.Request(self.url + path, method=method)
        if accept:
            req.add_header("Accept", accept)
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()

    def catalog(self) -> list[str]:
        _s, _h, body = self.get("/v2/_catalog?n=1000")
        return json.loads(body).get("repositories") or []

    def tags(self, repo: str) -> list[str]:
        try:
            _s, _h, body = self.get(f"/v2/{repo}/tags/list")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return []
            raise
        return json.loads(body).get("tags") or []

    def manifest(self, repo: str, ref: str) -> tuple[str, dict] | None:
        """(digest, manifest) of ``repo:ref``, or None if it is not there."""
        try:
            _s, headers, body = self.get(f"/v2/{repo}/manifests/{ref}", accept=MANIFEST_TYPES)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        return headers.get("Docker-Content-Digest", ""), json.loads(body)

    def blob(self, repo: str, digest: str) -> bytes:
        return self.get(f"/v2/{repo}/blobs/{digest}")[2]

    def image_config(self, repo: str, ref: str) -> dict | None:
        found = self.manifest(repo, ref)
        if not found:
            return None
        return json.loads(self.blob(repo, found[1]["config"]["digest"]))
