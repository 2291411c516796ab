"""Processes Dockyard started: is it alive, is it ours, stop it by PID, how much memory."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .errors import MissingDependency

# program -> Debian package that ships it
PACKAGES = {
    "dockerd": "docker.io",
    "containerd": "containerd",
    "runc": "runc",
    "docker-proxy": "docker.io",
    "docker-registry": "docker-registry",
    "mmdebstrap": "mmdebstrap",
    "ip": "iproute2",
    "mkfs.ext4": "e2fsprogs",
    "losetup": "mount",
}
EXTRA_PATH = ("/usr/sbin", "/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin")


def which(program: str) -> str:
    """Path of ``program`` or MissingDependency naming the Debian package to install."""
    path = shutil.which(program) or shutil.which(program, path=os.pathsep.join(EXTRA_PATH))
    if not path:
        raise MissingDependency(program, PACKAGES.get(program, program))
    return path


def run(cmd: list[str], check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=timeout)


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [p.decode(errors="replace") for p in raw.split(b"\0") if p]


def alive(pid: int | None, expect: str | None = None) -> bool:
    """True if ``pid`` runs (and is not a zombie), and its command line contains ``expect``.

    Checking the command line guards against a stale pidfile whose number the
    kernel has since given to an unrelated process.
    """
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        return False
    if expect is None:
        return True
    return any(expect in part for part in cmdline(pid))


def read_pidfile(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def stop(pid: int, expect: str | None = None, grace: float = 15.0) -> bool:
    """SIGTERM ``pid``, wait up to ``grace`` seconds, then SIGKILL. Only this one PID.

    Returns True if the process was running and is gone now.
    """
    if not alive(pid, expect):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(pid)
        if not alive(pid):
            return True
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    for _ in range(100):
        _reap(pid)
        if not alive(pid):
            break
        time.sleep(0.05)
    return True


def _reap(pid: int) -> None:
    """Collect ``pid`` if it is our own child, so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc/<pid>/task/*/children)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def descendants(pid: int) -> list[int]:
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in children(p):
            if c not in seen:
                seen.append(c)
                todo.append(c)
    return seen


def rss(pid: int) -> int:
    """Resident memory of one process in bytes (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def find_by_arg(fragment: str) -> list[int]:
    """PIDs whose command line contains ``fragment``: used for processes we started
    indirectly (containerd-shims of our own containerd), identified by our own paths."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and any(fragment in a for a in cmdline(int(entry.name))):
            found.append(int(entry.name))
    return found
