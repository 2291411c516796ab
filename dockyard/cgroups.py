"""The sandbox's parent cgroup: created with caps, read for status, removed at down.

cgroup v1 (one hierarchy per controller, as on this project's CI machine) and v2
(one unified hierarchy, as on most laptops) are detected, never assumed. Every
function takes the cgroup root so the unit tests can run against fake trees.
"""

from __future__ import annotations

import dataclasses
import errno
import os
from pathlib import Path

from .errors import CgroupError

ROOT = Path("/sys/fs/cgroup")
V1_CAPPED = ("memory", "pids", "cpu")
V2_WANTED = ("cpuset", "cpu", "io", "memory", "pids")
CPU_PERIOD = 100_000
BUILDS = "buildkit"  # BuildKit's RUN steps go to <dockerd's --cgroup-parent>/buildkit/<id>


@dataclasses.dataclass(frozen=True)
class Hierarchy:
    version: int | None  # 1, 2, or None when no usable cgroup filesystem is mounted
    root: Path
    controllers: tuple[str, ...]

    @property
    def label(self) -> str:
        if self.version == 2:
            return "cgroup v2 (unified)"
        if self.version == 1:
            hybrid = " + unified (hybrid)" if (self.root / "unified" / "cgroup.controllers").exists() else ""
            return f"cgroup v1{hybrid}"
        return "no cgroup filesystem"


def detect(root: Path = ROOT) -> Hierarchy:
    root = Path(root)
    top = root / "cgroup.controllers"
    if top.exists():
        return Hierarchy(2, root, tuple(top.read_text().split()))
    v1 = tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "cgroup.procs").exists())) if root.is_dir() else ()
    controllers = tuple(c for c in v1 if not c.startswith("name=") and c not in ("unified", "systemd"))
    if controllers:
        return Hierarchy(1, root, controllers)
    return Hierarchy(None, root, ())


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as exc:
        raise CgroupError(
            f"cannot write {value.strip()!r} to {path}: {exc.strerror or exc}",
            "the sandbox needs a writable cgroup filesystem: run as root; inside a container, "
            "start that container with --privileged (or a delegated cgroup), or pass --backend existing",
            context={"path": str(path)},
        ) from exc


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


@dataclasses.dataclass
class SandboxCgroup:
    """``/<name>`` under each hierarchy; dockerd's ``--cgroup-parent``."""

    name: str
    hierarchy: Hierarchy

    @property
    def parent_arg(self) -> str:
        return "/" + self.name

    def paths(self) -> list[Path]:
        h = self.hierarchy
        if h.version == 2:
            return [h.root / self.name]
        if h.version == 1:
            return [h.root / c / self.name for c in h.controllers]
        return []

    def create(self, memory: int, pids: int, cpus: float) -> None:
        h = self.hierarchy
        if h.version is None:
            raise CgroupError(
                f"no cgroup filesystem found at {h.root}",
                "mount cgroups (v1 or v2) at /sys/fs/cgroup; Docker cannot limit containers without them",
            )
        quota = max(1000, int(cpus * CPU_PERIOD))
        if h.version == 2:
            path = h.root / self.name
            wanted = [c for c in V2_WANTED if c in h.controllers]
            _write(h.root / "cgroup.subtree_control", " ".join("+" + c for c in wanted))
            _mkdir(path)
            _write(path / "cgroup.subtree_control", " ".join("+" + c for c in wanted))
            if "memory" in wanted:
                _write(path / "memory.max", str(memory))
                if (path / "memory.swap.max").exists():
                    _write(path / "memory.swap.max", "0")
            if "pids" in wanted:
                _write(path / "pids.max", str(pids))
            if "cpu" in wanted:
                _write(path / "cpu.max", f"{quota} {CPU_PERIOD}")
            return
        for ctrl in V1_CAPPED:
            if ctrl not in h.controllers:
                continue
            path = h.root / ctrl / self.name
            _mkdir(path)
            if ctrl == "memory":
                _write(path / "memory.limit_in_bytes", str(memory))
                if (path / "memory.memsw.limit_in_bytes").exists():
                    _write(path / "memory.memsw.limit_in_bytes", str(memory))
            elif ctrl == "pids":
                _write(path / "pids.max", str(pids))
            elif ctrl == "cpu":
                _write(path / "cpu.cfs_period_us", str(CPU_PERIOD))
                _write(path / "cpu.cfs_quota_us", str(quota))

    def builds(self) -> "SandboxCgroup":
        """The cgroup of BuildKit's RUN steps (``<name>/buildkit``), to read."""
        return SandboxCgroup(f"{self.name}/{BUILDS}", self.hierarchy)

    def cap_builds(self, memory: int | None, cpu_shares: int | None = None) -> dict:
        """Cap BuildKit's RUN steps of this sandbox, together: dockerd's BuildKit puts each in
        ``<parent>/buildkit/<id>`` (:mod:`dockyard.buildkit`), so a memory cap on ``buildkit`` holds for all of them,
        as the classic builder's ``container_limits`` did for one build's containers. ``None``: no cap of its own (the
        sandbox's caps still hold). Returns the caps it replaced, to give back to this method."""
        h = self.hierarchy
        before: dict = {"memory": None, "cpu_shares": None}
        if h.version == 2:
            path = h.root / self.name / BUILDS
            _mkdir(path)
            before["memory"] = _num(_read(path / "memory.max"))
            if (path / "memory.max").exists():
                _write(path / "memory.max", str(memory) if memory else "max")
                if (path / "memory.swap.max").exists():
                    _write(path / "memory.swap.max", "0" if memory else "max")
            weight = _read(path / "cpu.weight")
            if weight is not None:
                before["cpu_shares"] = None if weight == "100" else _shares(int(weight))
                _write(path / "cpu.weight", str(_weight(cpu_shares) if cpu_shares else 100))
            return before
        if h.version == 1:
            if "memory" in h.controllers:
                path = h.root / "memory" / self.name / BUILDS
                _mkdir(path)
                before["memory"] = _num(_read(path / "memory.limit_in_bytes"))
                value = str(memory) if memory else "-1"
                files = ["memory.limit_in_bytes"]
                if (path / "memory.memsw.limit_in_bytes").exists():
                    # memsw may never be below the memory limit: lowering sets the memory limit first
                    lowering = memory and memory < (_num(_read(path / "memory.memsw.limit_in_bytes")) or 2**62)
                    files = files + ["memory.memsw.limit_in_bytes"] if lowering else \
                        ["memory.memsw.limit_in_bytes"] + files
                for name in files:
                    _write(path / name, value)
            if "cpu" in h.controllers:
                path = h.root / "cpu" / self.name / BUILDS
                _mkdir(path)
                shares = _num(_read(path / "cpu.shares"))
                before["cpu_shares"] = None if shares == 1024 else shares
                _write(path / "cpu.shares", str(cpu_shares or 1024))
        return before

    def limits(self) -> dict:
        """The caps in force, read back from the cgroup files (None where absent)."""
        h = self.hierarchy
        out = {"memory": None, "pids": None, "cpus": None}
        if h.version == 2:
            p = h.root / self.name
            out["memory"] = _num(_read(p / "memory.max"))
            out["pids"] = _num(_read(p / "pids.max"))
            cpu = _read(p / "cpu.max")
            if cpu and not cpu.startswith("max"):
                q, per = cpu.split()
                out["cpus"] = int(q) / int(per)
        elif h.version == 1:
            out["memory"] = _num(_read(h.root / "memory" / self.name / "memory.limit_in_bytes"))
            out["pids"] = _num(_read(h.root / "pids" / self.name / "pids.max"))
            q = _num(_read(h.root / "cpu" / self.name / "cpu.cfs_quota_us"))
            per = _num(_read(h.root / "cpu" / self.name / "cpu.cfs_period_us"))
            if q and per and q > 0:
                out["cpus"] = q / per
        return out

    def usage(self) -> dict:
        h = self.hierarchy
        if h.version == 2:
            p = h.root / self.name
            return {"memory": _num(_read(p / "memory.current")), "pids": _num(_read(p / "pids.current"))}
        if h.version == 1:
            return {
                "memory": _num(_read(h.root / "memory" / self.name / "memory.usage_in_bytes")),
                "pids": _num(_read(h.root / "pids" / self.name / "pids.current")),
            }
        return {"memory": None, "pids": None}

    def exists(self) -> bool:
        return any(p.is_dir() for p in self._all_dirs())

    def add(self, pid: int) -> None:
        """Move ``pid`` into this cgroup (every capped hierarchy); its future children follow it."""
        for path in self.paths():
            if path.is_dir():
                _write(path / "cgroup.procs", str(pid))

    def procs(self, nested: bool = False) -> set[int]:
        """PIDs in this cgroup, in any hierarchy; ``nested``: also in the cgroups below it (containers', and
        BuildKit's RUN steps in ``buildkit/<id>``)."""
        out: set[int] = set()
        for top in self._all_dirs():
            for path in [Path(d) for d, _s, _f in os.walk(top)] if nested else [top]:
                text = _read(path / "cgroup.procs") or ""
                out.update(int(x) for x in text.split() if x.isdigit())
        return out

    def pids_max_hits(self) -> int:
        """How often a fork failed because this cgroup was at its pids cap."""
        h = self.hierarchy
        path = h.root / self.name / "pids.events" if h.version == 2 else h.root / "pids" / self.name / "pids.events"
        for line in (_read(path) or "").splitlines():
            key, _, value = line.partition(" ")
            if key == "max":
                return int(value)
        return 0

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer ended in this cgroup."""
        h = self.hierarchy
        path = h.root / self.name / "memory.events" if h.version == 2 else \
            h.root / "memory" / self.name / "memory.oom_control"
        for line in (_read(path) or "").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        # kernels before 4.13 have no oom_kill counter: a hit limit is the best evidence left
        if h.version == 1:
            return 1 if (_num(_read(h.root / "memory" / self.name / "memory.failcnt")) or 0) > 0 and \
                "under_oom 1" in (_read(path) or "") else 0
        return 0

    def _all_dirs(self) -> list[Path]:
        """Our directory in every hierarchy: dockerd also creates it in controllers we did not cap."""
        h = self.hierarchy
        if h.version == 2:
            return [h.root / self.name]
        if h.version == 1 and h.root.is_dir():
            return [d / self.name for d in h.root.iterdir() if (d / self.name).is_dir()]
        return []

    def remove(self) -> list[str]:
        """Remove our cgroups bottom-up. Returns the paths that could not be removed."""
        left = []
        for top in self._all_dirs():
            for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
                try:
                    os.rmdir(dirpath)
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    if exc.errno in (errno.EBUSY, errno.ENOTEMPTY, errno.EACCES, errno.EPERM):
                        left.append(dirpath)
                    else:
                        raise
        return left


def _mkdir(path: Path) -> None:
    try:
        path.mkdir(exist_ok=True)
    except OSError as exc:
        raise CgroupError(
            f"cannot create cgroup {path}: {exc.strerror or exc}",
            "run as root with a writable /sys/fs/cgroup, or pass --backend existing",
            context={"path": str(path)},
        ) from exc


def _weight(shares: int) -> int:
    """cgroup v1 cpu.shares as v2's cpu.weight (the conversion runc uses)."""
    return max(1, min(10_000, 1 + ((shares - 2) * 9999) // 262142))


def _shares(weight: int) -> int:
    return max(2, 2 + ((weight - 1) * 262142) // 9999)


def _num(text: str | None) -> int | None:
    if text is None or text == "max":
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    # v1 reports "no limit" as a huge page-aligned number
    return None if value >= 2**62 else value
