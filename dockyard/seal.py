"""The seal's process: start, find, check and stop a sandbox's authorization plugin.

The plugin (:mod:`dockyard.authz_server`) listens on /run/docker/plugins/dockyard-<name>.sock,
where dockerd's ``--authorization-plugin=dockyard-<name>`` finds it. dockerd dials that
path for every request, so a plugin restarted on the same path is picked up at once,
without restarting dockerd; while none listens, dockerd refuses every request.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from . import procs
from .config import SandboxConfig
from .daemon import api_get, log_tail
from .errors import DaemonError

SERVER = Path(__file__).resolve().with_name("authz_server.py")


class Seal:
    def __init__(self, cfg: SandboxConfig):
        self.cfg = cfg

    def pid(self) -> int | None:
        pid = procs.read_pidfile(self.cfg.authz_pidfile)
        return pid if procs.alive(pid, str(self.cfg.authz_socket)) else None

    def answering(self, timeout: float = 0.5) -> bool:
        """True if the plugin answers /Plugin.Activate as an authz plugin."""
        try:
            status, body = api_get(self.cfg.authz_socket, "/Plugin.Activate", timeout, method="POST")
            return status == 200 and "authz" in json.loads(body).get("Implements", [])
        except (OSError, http.client.HTTPException, ValueError, AttributeError):
            return False

    def policy(self) -> dict:
        try:
            return json.loads(self.cfg.authz_config.read_text())
        except (OSError, ValueError):
            return {}

    def write_policy(self, workspace: list[str], address_pool: str | None) -> None:
        """Write the policy the plugin enforces (it re-reads the file when it changes)."""
        doc = {"workspace": list(workspace), "address_pool": address_pool, "bridge": self.cfg.bridge,
               "data_root": str(self.cfg.data_root)}  # starts are checked against the containers' files there
        if self.policy() == doc:
            return
        self.cfg.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.cfg.authz_config.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=2))
        tmp.replace(self.cfg.authz_config)

    def start(self) -> subprocess.Popen:
        """Start the plugin process (without waiting for it: see :meth:`wait`)."""
        cfg = self.cfg
        cfg.dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-I", str(SERVER), "--socket", str(cfg.authz_socket), "--config", str(cfg.authz_config)]
        with open(cfg.authz_log, "ab") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        cfg.authz_pidfile.write_text(f"{proc.pid}\n")
        return proc

    def wait(self, proc: subprocess.Popen, timeout: float = 10, answer: bool = True) -> int:
        """Wait until the plugin answers, or with ``answer=False`` only until its socket listens:
        dockerd's first call then waits in the backlog while the worker starts (saves ~50 ms of `up`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DaemonError(f"the seal (authorization plugin {self.cfg.authz_plugin}) exited with status "
                                  f"{proc.returncode}", f"read its log: {self.cfg.authz_log}",
                                  log_tail=log_tail(self.cfg.authz_log))
            if self.cfg.authz_socket.exists() and (not answer or self.answering()):
                return proc.pid
            time.sleep(0.005)
        procs.stop(proc.pid, str(self.cfg.authz_socket))
        raise DaemonError(f"the seal (authorization plugin {self.cfg.authz_plugin}) did not answer within "
                          f"{timeout:.0f} s", f"read its log: {self.cfg.authz_log}", log_tail=log_tail(self.cfg.authz_log))

    def ensure(self) -> tuple[int, bool]:
        """The plugin's pid, starting it if it is gone or mute; True if it was (re)started."""
        pid = self.pid()
        if pid and self.answering():
            return pid, False
        self.stop()
        return self.wait(self.start()), True

    def stop(self) -> bool:
        """Stop the plugin (also one whose pidfile is lost) and remove its socket."""
        stopped = False
        sock = str(self.cfg.authz_socket)
        for pid in dict.fromkeys([p for p in [self.pid()] if p] + procs.find_by_arg(sock)):
            if pid != os.getpid():
                stopped |= procs.stop(pid, sock, grace=3)  # stops only a live process that names our socket
        self.cfg.authz_socket.unlink(missing_ok=True)
        self.cfg.authz_pidfile.unlink(missing_ok=True)
        return stopped

