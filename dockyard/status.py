"""What ``dockyard status`` says about a private sandbox, one part at a time: :meth:`Sandbox.status` puts them together.

Each part reads one thing (the seal, a registry, the bridge, the cgroup, the processes, the daemon's API) and
returns the plain dict ``dockyard status --json`` prints under its key; :func:`problems` turns what was read into
sentences that say what to run.
"""

from __future__ import annotations

from . import daemon, mounts, network, procs
from .cgroups import SandboxCgroup
from .config import SandboxConfig
from .registry import Registry
from .seal import Seal
from .seed import SeedStore
from .state import SandboxState


def seal(cfg: SandboxConfig, plugin: Seal) -> dict:
    """The authorization plugin: is it there, does it answer, which host folders it lets containers bind."""
    pid = plugin.pid() if cfg.sealed else None
    return {"sealed": cfg.sealed, "plugin": cfg.authz_plugin, "pid": pid,
            "answering": bool(pid) and plugin.answering(), "log": str(cfg.authz_log),
            "workspace": plugin.policy().get("workspace", [])}


def problems(cfg: SandboxConfig, st: SandboxState, pid: int | None, answering: bool, sealed: dict) -> list[str]:
    """What is wrong with the daemon and its seal, each with the command that fixes it.

    ``pid`` and ``answering`` are the daemon's as found now; ``sealed`` is what :func:`seal` returned."""
    found = (seal_problem(cfg, st, pid, sealed), daemon_problem(cfg, st, pid, answering, sealed))
    return [p for p in found if p]


def seal_problem(cfg: SandboxConfig, st: SandboxState, pid: int | None, sealed: dict) -> str | None:
    if cfg.sealed and pid and not sealed["answering"]:
        return (f"the seal (authorization plugin {cfg.authz_plugin}, pid {st.authz_pid}) is not running: "
                "dockerd refuses every request until it is back. "
                f"Run: dockyard up --name {cfg.name}   (restarts it; containers keep running)")
    return None


def daemon_problem(cfg: SandboxConfig, st: SandboxState, pid: int | None, answering: bool, sealed: dict) -> str | None:
    if st.running and not pid:
        return (f"dockerd (pid {st.pid}) is gone: it crashed or was killed. "
                f"Run: dockyard up --name {cfg.name}   (recovers the sandbox)")
    if pid and not answering and not (cfg.sealed and sealed["pid"] is None):
        # with its plugin gone dockerd refuses even /_ping: the seal's problem says so already
        return f"dockerd (pid {pid}) runs but does not answer on {cfg.socket}"
    return None


def registry(reg: Registry) -> dict:
    """The sandbox's own registry (where learners push); it has no URL before its first ``up``."""
    return {"url": reg.url if reg.port else None, "running": bool(reg.port) and reg.running()}


def mirror(reg: Registry, store: SeedStore, online: bool) -> dict:
    """Where dockerd pulls base images: the machine's seed registry (its images listed) or the hub cache."""
    return {"url": reg.url, "running": reg.running(),
            "images": sorted(store.index()) if not online else "pull-through cache"}


def bridge(st: SandboxState) -> dict:
    """The sandbox's bridge as the kernel has it now; forwarding None: there is no such bridge."""
    return {"name": st.bridge, "subnet": st.subnet,
            "exists": bool(st.bridge) and network.link_exists(st.bridge),
            "forwarding": network.forwarding(st.bridge) if st.bridge else None}


def cgroup(cg: SandboxCgroup) -> dict:
    """The cgroup every container runs under: its caps and what they use together."""
    return {"hierarchy": cg.hierarchy.label, "path": cg.parent_arg, "limits": cg.limits(), "usage": cg.usage()}


def sandbox_pids(daemon_pid: int | None, registry_pid: int | None, seal_pid: int | None) -> list[int]:
    """dockerd with everything under it (containerd, shims, containers), the registry, the seal and its workers."""
    pids = [p for p in [daemon_pid, registry_pid, seal_pid] if p] + (procs.children(seal_pid) if seal_pid else [])
    if daemon_pid:
        pids += procs.descendants(daemon_pid)
    return pids


def memory(pids: list[int]) -> dict:
    """The resident memory of the sandbox's own processes (not capped by its cgroup, which holds the containers)."""
    return {"sandbox_processes": sum(procs.rss(p) for p in pids), "processes": len(pids)}


def daemon_contents(socket) -> dict:
    """How many containers (running, in all) and images the daemon has."""
    _s, info = daemon.api_get(socket, "/info")
    return {"containers": {"total": info.get("Containers"), "running": info.get("ContainersRunning")},
            "images": info.get("Images")}


def daemon_version(socket) -> dict:
    """The versions of Docker, its API, containerd and runc, as the daemon reports them."""
    _s, version = daemon.api_get(socket, "/version")
    components = {c.get("Name"): c.get("Version") for c in version.get("Components") or []}
    return {"version": version.get("Version"), "api": version.get("ApiVersion"),
            "containerd": components.get("containerd"), "runc": components.get("runc")}


def disk(socket, st: SandboxState, data_root) -> dict:
    """Bytes in images, containers' writable layers and volumes; with a disk of its own, that disk's total and free."""
    try:
        _s, df = daemon.api_get(socket, "/system/df", timeout=10)
        out = disk_use(df)
    except OSError:
        out = {}  # /system/df walks every layer: a slow daemon may not answer in time, the rest still shows
    if st.disk:
        out.update(mounts.disk_usage(data_root))
    return out


def disk_use(df: dict) -> dict:
    """The sizes in dockerd's /system/df answer, added up (a size it has not computed yet is null)."""
    return {"images": df.get("LayersSize", 0),
            "containers": sum(c.get("SizeRw") or 0 for c in df.get("Containers") or []),
            "volumes": sum((v.get("UsageData") or {}).get("Size", 0) or 0 for v in df.get("Volumes") or [])}
