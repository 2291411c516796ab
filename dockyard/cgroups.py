"""The sandbox's parent cgroup: created with caps, read for status, removed at down.

cgroup v1 (one hierarchy per controller, as on this project's CI machine) and v2
(one unified hierarchy, as on most laptops) are detected, never assumed. Every
function takes the cgroup root so the unit tests can run against fake trees.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
from pathlib import Path

from .errors import CgroupError

ROOT = Path("/sys/fs/cgroup")
V1_CAPPED = ("memory", "pids", "cpu")
V2_WANTED = ("cpuset", "cpu", "io", "memory", "pids")
CPU_PERIOD = 100_000
UNLIMITED = "unlimited"  # how every reader here says "no limit"
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
        raise _refused(f"cannot write {value.strip()!r} to {path}", path, exc,
                       "the sandbox needs a writable cgroup filesystem: run as root; inside a container, "
                       "start that container with --privileged (or a delegated cgroup), or pass --backend existing"
                       ) from exc


def _refused(problem: str, path: Path, exc: OSError, fix: str) -> CgroupError:
    """What the kernel (or the filesystem) refused, with its reason and our fix."""
    return CgroupError(f"{problem}: {exc.strerror or exc}", fix, context={"path": str(path)})


def read_file(path: Path) -> str | None:
    """A cgroup (or /proc) file's text, stripped; None when it cannot be read."""
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

    @contextlib.contextmanager
    def builds_capped(self, memory: int | None, cpu_shares: int | None = None):
        """``with cg.builds_capped(memory, cpu_shares=512):`` BuildKit's RUN steps of this sandbox are capped
        together: dockerd's BuildKit puts each in ``<parent>/buildkit/<id>`` (:mod:`dockyard.buildkit`), so a memory
        cap on ``buildkit`` holds for all of them, as the classic builder's ``container_limits`` did for one build's
        containers (``None``: no cap of its own; the sandbox's caps still hold). Afterwards, whatever happened inside, every file it wrote holds again the
        very text it held before (memory, swap, CPU weight or shares). A refused write raises :class:`CgroupError`."""
        caps = self._build_caps(memory, cpu_shares)
        saved = [(path, _read_to_restore(path)) for path, _text in caps]
        try:
            _cap(caps)
            yield
        finally:
            _restore(saved)

    def _build_dirs(self) -> dict[str, Path]:
        """The ``buildkit`` cgroup of each controller that caps builds, created when missing."""
        h = self.hierarchy
        if h.version == 2:
            dirs = {"memory": h.root / self.name / BUILDS, "cpu": h.root / self.name / BUILDS}
        elif h.version == 1:
            dirs = {c: h.root / c / self.name / BUILDS for c in ("memory", "cpu") if c in h.controllers}
        else:
            dirs = {}
        for path in dirs.values():
            _mkdir(path)
        return dirs

    def _build_caps(self, memory: int | None, cpu_shares: int | None) -> list[tuple[Path, str]]:
        """What capping the builds writes, file by file (``None``: that cap lifted)."""
        dirs = self._build_dirs()
        if self.hierarchy.version == 2:
            return _v2_build_caps(dirs, memory, cpu_shares)
        return _v1_build_caps(dirs, memory, cpu_shares)

    def limits(self) -> dict:
        """The caps in force, read back from the cgroup files (None where absent)."""
        h = self.hierarchy
        out = {"memory": None, "pids": None, "cpus": None}
        if h.version == 2:
            p = h.root / self.name
            out["memory"] = _num(read_file(p / "memory.max"))
            out["pids"] = _num(read_file(p / "pids.max"))
            cpu = read_file(p / "cpu.max")
            if cpu and not cpu.startswith("max"):
                q, per = cpu.split()
                out["cpus"] = int(q) / int(per)
        elif h.version == 1:
            out["memory"] = _num(read_file(h.root / "memory" / self.name / "memory.limit_in_bytes"))
            out["pids"] = _num(read_file(h.root / "pids" / self.name / "pids.max"))
            q = _num(read_file(h.root / "cpu" / self.name / "cpu.cfs_quota_us"))
            per = _num(read_file(h.root / "cpu" / self.name / "cpu.cfs_period_us"))
            if q and per and q > 0:
                out["cpus"] = q / per
        return out

    def usage(self) -> dict:
        h = self.hierarchy
        if h.version == 2:
            p = h.root / self.name
            return {"memory": _num(read_file(p / "memory.current")), "pids": _num(read_file(p / "pids.current"))}
        if h.version == 1:
            return {
                "memory": _num(read_file(h.root / "memory" / self.name / "memory.usage_in_bytes")),
                "pids": _num(read_file(h.root / "pids" / self.name / "pids.current")),
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
                text = read_file(path / "cgroup.procs") or ""
                out.update(int(x) for x in text.split() if x.isdigit())
        return out

    def pids_max_hits(self) -> int:
        """How often a fork failed because this cgroup was at its pids cap."""
        h = self.hierarchy
        path = h.root / self.name / "pids.events" if h.version == 2 else h.root / "pids" / self.name / "pids.events"
        for line in (read_file(path) or "").splitlines():
            key, _, value = line.partition(" ")
            if key == "max":
                return int(value)
        return 0

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer ended in this cgroup."""
        h = self.hierarchy
        path = h.root / self.name / "memory.events" if h.version == 2 else \
            h.root / "memory" / self.name / "memory.oom_control"
        for line in (read_file(path) or "").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        # kernels before 4.13 have no oom_kill counter: a hit limit is the best evidence left
        if h.version == 1:
            return 1 if (_num(read_file(h.root / "memory" / self.name / "memory.failcnt")) or 0) > 0 and \
                "under_oom 1" in (read_file(path) or "") else 0
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
        raise _refused(f"cannot create cgroup {path}", path, exc,
                       "run as root with a writable /sys/fs/cgroup, or pass --backend existing") from exc


V1_LIMIT = "memory.limit_in_bytes"
V1_MEMSW = "memory.memsw.limit_in_bytes"  # memory + swap; v1 refuses one below the memory limit


def _v2_build_caps(dirs: dict[str, Path], memory: int | None, cpu_shares: int | None) -> list[tuple[Path, str]]:
    """Only the files the enabled controllers give; swap off under a memory cap, as the sandbox has it."""
    writes = [(dirs["memory"] / "memory.max", str(memory) if memory else "max"),
              (dirs["memory"] / "memory.swap.max", "0" if memory else "max"),
              (dirs["cpu"] / "cpu.weight", str(shares_to_weight(cpu_shares)) if cpu_shares else "100")]
    return [(path, text) for path, text in writes if path.exists()]


def _v1_build_caps(dirs: dict[str, Path], memory: int | None, cpu_shares: int | None) -> list[tuple[Path, str]]:
    """memsw (memory + swap) too when the kernel accounts swap: the same number, so no swap under a cap."""
    limit = str(memory) if memory else "-1"
    writes = []
    if "memory" in dirs:
        writes.append((dirs["memory"] / V1_LIMIT, limit))
        if (dirs["memory"] / V1_MEMSW).exists():
            writes.append((dirs["memory"] / V1_MEMSW, limit))
    if "cpu" in dirs:
        writes.append((dirs["cpu"] / "cpu.shares", str(cpu_shares or 1024)))
    return writes


def _in_kernel_order(writes: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
    """The writes with v1's memsw before the memory limit when it grows and after it when it shrinks, so that
    memsw >= memory holds after every single write (the kernel refuses the write that would break it)."""
    first = [(path, text) for path, text in writes if path.name == V1_MEMSW and _widens(path, text)]
    return first + [w for w in writes if w not in first]


def _widens(path: Path, text: str) -> bool:
    """Does writing ``text`` to this limit file raise the limit (or keep it)?"""
    return _bytes(text) >= _bytes(read_file(path))


def _bytes(text: str | None) -> float:
    value = read_limit(text)
    return float("inf") if value in (UNLIMITED, None) else value


def _cap(writes: list[tuple[Path, str]]) -> None:
    for path, text in _in_kernel_order(writes):
        try:
            _write(path, text)
        except CgroupError as exc:
            raise CgroupError(f"could not cap BuildKit's RUN steps: {exc.problem}", exc.fix,
                              context=exc.context) from exc


def _read_to_restore(path: Path) -> str:
    """A file's exact text, to write back after the build."""
    try:
        return path.read_text()
    except OSError as exc:
        raise _refused(f"cannot read {path} (to give it back its value after the build)", path, exc,
                       "the sandbox needs a readable cgroup filesystem: run as root; or take the caps off "
                       "graded builds") from exc


def _restore(saved: list[tuple[Path, str]]) -> None:
    """Write every saved text back, each one tried even when another is refused; then say what was refused."""
    refused = []
    for path, text in _in_kernel_order(saved):
        try:
            _write(path, text)
        except CgroupError as exc:
            refused.append((path, text, exc))
    if refused:
        path, text, exc = refused[0]
        raise CgroupError(
            f"after the build, {len(refused)} of the build cgroup's files could not be given back their value: "
            f"{path} refused {text.strip()!r} ({exc.problem})",
            f"the next builds of this sandbox keep the build's caps until it restarts: dockyard down && dockyard up "
            f"(as root), or as root: echo {text.strip()} > {path}",
            context={"path": str(path), "text": text},
        ) from exc


def shares_to_weight(shares: int) -> int:
    """cgroup v1 cpu.shares as v2's cpu.weight (the conversion runc uses)."""
    return max(1, min(10_000, 1 + ((shares - 2) * 9999) // 262142))


def _num(text: str | None) -> int | None:
    """A cap for the sandbox's own view: a number, or None for no cap (absent or unlimited)."""
    value = read_limit(text)
    return None if value == UNLIMITED else value


def read_limit(text: str | None):
    """A limit from a cgroup file's text: an int, :data:`UNLIMITED` (v2's "max", v1's -1 or its huge
    page-aligned "no limit"), or None when absent or unreadable."""
    if text is None:
        return None
    if text in ("max", "-1"):
        return UNLIMITED
    try:
        value = int(text)
    except ValueError:
        return None
    return UNLIMITED if value >= 2**62 else value  # v1 writes "no limit" as a huge page-aligned number


def process_limits(proc_cgroup: str, root: Path = ROOT) -> dict:
    """The limits the kernel enforces on a process, from the text of its /proc/<pid>/cgroup.

    Keys are present only for files that could be read; a value is a number,
    ``"unlimited"``, or for ``cpuset`` a string. ``files`` names what was read.
    """
    root = Path(root)
    h = detect(root)
    out: dict = {}
    files: dict[str, str] = {}

    def take(key, path, parse):
        text = read_file(path)
        if text is not None:
            value = parse(text)
            if value is not None:
                out[key] = value
                files[key] = str(path)

    lines = [ln.split(":", 2) for ln in proc_cgroup.splitlines() if ln.count(":") >= 2]
    if h.version == 2:
        rel = next((p for hid, ctrls, p in lines if hid == "0" and ctrls == ""), None)
        if rel is None:
            return {"files": files}
        d = root / rel.lstrip("/")
        take("memory", d / "memory.max", read_limit)
        take("pids", d / "pids.max", read_limit)
        take("cpus", d / "cpu.max", _cpu_max)
        take("cpu_weight", d / "cpu.weight", read_limit)
        take("cpuset", d / "cpuset.cpus", lambda t: t or UNLIMITED)
        swap = read_limit(read_file(d / "memory.swap.max"))
        if "memory" in out and swap is not None:
            both = UNLIMITED if UNLIMITED in (swap, out["memory"]) else out["memory"] + swap
            out["memory_swap"], files["memory_swap"] = both, str(d / "memory.swap.max")
    elif h.version == 1:
        where = {}
        for _hid, ctrls, p in lines:
            for ctrl in ctrls.split(","):
                if ctrl:
                    where[ctrl] = (ctrls, p)

        def file(ctrl, name):
            if ctrl not in where:
                return Path("/nonexistent")
            ctrls, p = where[ctrl]
            base = root / ctrl if (root / ctrl).is_dir() else root / ctrls
            return base / p.lstrip("/") / name

        take("memory", file("memory", "memory.limit_in_bytes"), read_limit)
        take("memory_swap", file("memory", "memory.memsw.limit_in_bytes"), read_limit)
        take("pids", file("pids", "pids.max"), read_limit)
        take("cpu_shares", file("cpu", "cpu.shares"), read_limit)
        take("cpuset", file("cpuset", "cpuset.cpus"), lambda t: t or UNLIMITED)
        quota, period = read_limit(read_file(file("cpu", "cpu.cfs_quota_us"))), read_limit(read_file(file("cpu", "cpu.cfs_period_us")))
        if quota is not None and period not in (None, UNLIMITED):
            out["cpus"] = UNLIMITED if quota == UNLIMITED else quota / period
            files["cpus"] = str(file("cpu", "cpu.cfs_quota_us"))
    out["files"] = files
    return out


def _cpu_max(text: str):
    quota, _, period = text.partition(" ")
    if quota == "max":
        return UNLIMITED
    try:
        return int(quota) / int(period or 100_000)
    except ValueError:
        return None
