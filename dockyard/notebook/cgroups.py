"""Lesson 02's helpers: find a container's cgroup on cgroup v1 or v2, read its files, and draw what they say.

A lesson cell then reads like ``cg("cg-pids", "pids", "pids.max")`` or ``plot_memory(watch_memory("x"))``.
The parsers take the text or the root they read, so the unit tests feed them both versions' layouts.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import cgroups
from . import Table, pid_of, sandbox, sh

PROC = Path("/proc")
SYS_BLOCK = Path("/sys/block")

# v1 controller, what it does, its v2 counterpart, the v2 controller name (None: no controller)
MAPPING = [
    ("cpu", "CPU weight (shares) and quota", "cpu: cpu.weight, cpu.max", "cpu"),
    ("cpuacct", "counts CPU time used", "part of cpu: cpu.stat", "cpu"),
    ("cpuset", "which CPUs and memory nodes", "cpuset", "cpuset"),
    ("memory", "RAM (+swap) limit, usage, OOM kills", "memory: memory.max, memory.events", "memory"),
    ("blkio", "disk I/O: weight and bytes/operations per second", "io: io.weight, io.max", "io"),
    ("pids", "how many processes and threads", "pids", "pids"),
    ("devices", "which device files may be opened", "an eBPF program on the cgroup", None),
    ("freezer", "pause and resume (docker pause)", "the cgroup.freeze file", None),
    ("net_cls", "tags packets with a class ID for tc rules", "gone (eBPF programs instead)", None),
    ("net_prio", "per-interface packet priority", "gone (eBPF programs instead)", None),
    ("hugetlb", "huge-page usage", "hugetlb", "hugetlb"),
    ("perf_event", "groups processes for perf", "perf_event (always on)", "perf_event"),
]


def hierarchy() -> cgroups.Hierarchy:
    return cgroups.detect()


def summary(h: cgroups.Hierarchy | None = None, proc: Path = PROC) -> Table:
    """Which cgroup version this machine runs, as the kernel, the mounts and the daemon tell."""
    h = h or hierarchy()
    kinds = [line.split()[2] for line in (proc / "self" / "mounts").read_text().splitlines()
             if line.split()[2] in ("cgroup", "cgroup2")]
    info = sandbox().client.info()
    return Table([("kernel (dockyard.cgroups.detect())", h.label),
                  ("cgroup filesystems mounted", f"{kinds.count('cgroup')} × cgroup (v1), "
                                                 f"{kinds.count('cgroup2')} × cgroup2 (v2)"),
                  ("docker info: CgroupVersion", info.get("CgroupVersion")),
                  ("docker info: CgroupDriver", info.get("CgroupDriver"))],
                 ["what", "this machine"], title="cgroups here")


def controller_state(v1: str, v2: str | None, version: int, v1_mounted: set[str], v1_known: set[str],
                     v2_available: set[str]) -> str:
    """What this machine offers of one row of MAPPING."""
    if version == 2:
        if v2 is None:
            return "v2: built into every cgroup"
        return "v2: available" if v2 in v2_available or v2 == "perf_event" else "v2: not available"
    state = ("v1: mounted" if v1 in v1_mounted else
             "v1: in the kernel, not mounted" if v1 in v1_known else "v1: not in this kernel")
    return state + ("; v2 (unified tree): available" if v2 and v2 in v2_available else "")


def controllers_table(h: cgroups.Hierarchy | None = None, proc: Path = PROC) -> Table:
    """Every v1 controller, what it does, its v2 counterpart, and what this machine has of it."""
    h = h or hierarchy()
    known = {row.split()[0] for row in (proc / "cgroups").read_text().splitlines()[1:] if row.strip()}
    mounted = {c for entry in h.controllers for c in entry.split(",")} if h.version == 1 else set()
    unified = h.root / "cgroup.controllers" if h.version == 2 else h.root / "unified" / "cgroup.controllers"
    available = set(unified.read_text().split()) if unified.exists() else set()
    return Table([(v1, does, v2text, controller_state(v1, v2, h.version, mounted, known, available))
                  for v1, does, v2text, v2 in MAPPING],
                 ["v1 controller", "what it does", "in cgroup v2", f"on this machine ({h.label})"],
                 title="cgroup controllers, v1 → v2")


# --- a container's cgroup files ----------------------------------------------------------
def cgroup_path(proc_cgroup: str, controller: str, h: cgroups.Hierarchy) -> Path:
    """The directory, under h.root, that /proc/<pid>/cgroup's text names for ``controller``."""
    for line in proc_cgroup.splitlines():
        tree, controllers, path = line.split(":", 2)
        if h.version == 2 and tree == "0":
            return h.root / path.lstrip("/")
        if h.version == 1 and controller in controllers.split(","):
            mount = h.root / controller if (h.root / controller).is_dir() else h.root / controllers
            return mount / path.lstrip("/")
    raise LookupError(f"no {controller} cgroup in {proc_cgroup!r}")


def cgroup_dir(name: str, controller: str, h: cgroups.Hierarchy | None = None) -> Path:
    """The directory of container ``name``'s cgroup in the tree of ``controller`` (v2: the only tree)."""
    return cgroup_path((PROC / str(pid_of(name)) / "cgroup").read_text(), controller, h or hierarchy())


def cg(name: str, controller: str, file: str) -> str | None:
    """One cgroup file of a running container; None when this kernel has no such file."""
    try:
        return (cgroup_dir(name, controller) / file).read_text().strip()
    except FileNotFoundError:
        return None


def kv(text: str | None) -> dict[str, int]:
    """'key value' lines (cpu.stat, memory.events, pids.events ...) as numbers."""
    pairs = (line.split() for line in (text or "").splitlines())
    return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].lstrip("-").isdigit()}


def cg_kv(name: str, controller: str, file: str) -> dict[str, int]:
    return kv(cg(name, controller, file))


def cpu_seconds(name: str) -> float:
    """CPU time used by all of a container's processes: cpu.stat usage_usec (v2) or cpuacct.usage (v1, ns)."""
    if hierarchy().version == 2:
        return cg_kv(name, "cpu", "cpu.stat")["usage_usec"] / 1e6
    return int(cg(name, "cpuacct", "cpuacct.usage")) / 1e9


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def container_cgroups(name: str) -> Table:
    """/proc/<pid>/cgroup of a container's main process, and whether each path is under the sandbox's parent."""
    box = sandbox()
    parent = box.cgroup.parent_arg if box.backend == "private" else None
    lines = [line.split(":", 2) for line in (PROC / str(pid_of(name)) / "cgroup").read_text().splitlines()]
    return Table([(ctrls or "(v2: all)", path, "yes" if parent and path.startswith(parent + "/") else "no")
                  for _tree, ctrls, path in lines],
                 ["controllers", f"cgroup of {name}", f"under {parent or 'a sandbox parent'}?"])


def sandbox_caps() -> Table:
    """The caps of the sandbox's parent cgroup, and what all its containers use now."""
    box = sandbox()
    if box.backend != "private":
        return Table([("(a daemon Dockyard did not start)", "its own", "")],
                     ["resource", "cap of the whole sandbox", "in use now"])
    caps, used = box.cgroup.limits(), box.cgroup.usage()
    return Table([("memory", mib(caps["memory"]) if caps["memory"] else "none",
                   mib(used["memory"]) if used["memory"] is not None else "?"),
                  ("processes", caps["pids"] or "none", used["pids"] if used["pids"] is not None else "?"),
                  ("CPUs", caps["cpus"] or "none", "")],
                 ["resource", "cap of the whole sandbox", "in use now"], title=f"parent cgroup {box.cgroup.parent_arg}")


# --- disk I/O --------------------------------------------------------------------------------
def disks(sys_block: Path = SYS_BLOCK) -> list[str]:
    """This machine's real disks (/dev/NAME), loop, RAM and optical devices left out."""
    skip = ("loop", "ram", "zram", "sr", "fd", "dm-", "md")
    return [f"/dev/{p.name}" for p in sorted(sys_block.iterdir()) if not p.name.startswith(skip)]


def io_limit_file() -> str:
    """Where a container sees its own write-rate limits: blkio on v1, io.max on v2."""
    return "/sys/fs/cgroup/io.max" if hierarchy().version == 2 else \
        "/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device"


def active_schedulers(sys_block: Path = SYS_BLOCK) -> set[str]:
    """The I/O schedulers in use (the [bracketed] one of each disk)."""
    found = set()
    for p in sys_block.glob("*/queue/scheduler"):
        text = p.read_text()
        if "[" in text:
            found.add(text.split("[")[1].split("]")[0])
    return found


def blkio_weight(name: str, run_output: str) -> Table:
    """Is ``--blkio-weight`` in force for container ``name``? Docker's warning, its config, the cgroup files."""
    v2 = hierarchy().version == 2
    configured = sandbox().client.api.inspect_container(name)["HostConfig"]["BlkioWeight"]
    files = ["io.weight", "io.bfq.weight"] if v2 else ["blkio.weight", "blkio.bfq.weight"]
    rows = [("docker run printed", next((l for l in run_output.splitlines() if "WARNING" in l), "no warning")),
            ("HostConfig.BlkioWeight (what Docker kept)", configured)]
    rows += [(f"cgroup file {f}", cg(name, "io" if v2 else "blkio", f) or "absent") for f in files]
    rows.append(("disk I/O schedulers in use", ", ".join(sorted(active_schedulers())) or "unknown"))
    return Table(rows, ["evidence", "value"], title=f"is --blkio-weight in force for {name}?")


# --- memory ------------------------------------------------------------------------------
@dataclass
class MemoryTrace:
    name: str
    file: str
    limit: int
    times: list[float] = field(default_factory=list)
    usage: list[int] = field(default_factory=list)


def watch_memory(name: str, until: str = "allocator exited", seconds: float = 20, every: float = 0.1) -> MemoryTrace:
    """Sample a running container's memory usage file until ``until`` shows in its log (and a little after)."""
    api = sandbox().client.api
    file = cgroup_dir(name, "memory") / ("memory.current" if hierarchy().version == 2 else "memory.usage_in_bytes")
    trace = MemoryTrace(name, file.name, api.inspect_container(name)["HostConfig"]["Memory"])
    t0, stop_at = time.monotonic(), None
    while time.monotonic() - t0 < seconds and (stop_at is None or time.monotonic() < stop_at):
        trace.times.append(time.monotonic() - t0)
        trace.usage.append(int(file.read_text()))
        if stop_at is None and until.encode() in api.logs(name):
            stop_at = time.monotonic() + 0.5
        time.sleep(every)
    return trace


def plot_memory(trace: MemoryTrace):
    """Usage against the limit, with the moment usage fell (the OOM kill) marked."""
    import matplotlib.pyplot as plt

    peak = trace.usage.index(max(trace.usage))
    fell = next((i for i in range(peak, len(trace.usage)) if trace.usage[i] < max(trace.usage) / 2), None)
    fig, ax = plt.subplots(figsize=(8, 3.4))
    ax.plot(trace.times, [u / 2**20 for u in trace.usage], marker=".", label=f"usage ({trace.file})")
    ax.axhline(trace.limit / 2**20, color="crimson", linestyle="--", label=f"limit ({mib(trace.limit)})")
    if fell is not None:
        ax.axvline(trace.times[fell], color="grey", linestyle=":", label="OOM kill")
    ax.set(xlabel="seconds", ylabel="MiB", ylim=(0, trace.limit / 2**20 * 1.55),
           title=f"{trace.name}: memory of its cgroup")
    ax.legend(loc="upper left")
    plt.show()


def memory_counters(name: str) -> Table:
    """The limit, the peak and the OOM counters of a container's memory cgroup."""
    if hierarchy().version == 2:
        ev = cg_kv(name, "memory", "memory.events")
        peak = cg(name, "memory", "memory.peak")
        rows = [("memory.max", mib(int(cg(name, "memory", "memory.max"))), "the limit (-m)"),
                ("memory.peak", mib(int(peak)) if peak else "not in this kernel", "highest usage"),
                ("memory.events: max", ev.get("max"), "times usage hit the limit"),
                ("memory.events: oom_kill", ev.get("oom_kill"), "processes the OOM killer killed")]
    else:
        oom = cg_kv(name, "memory", "memory.oom_control")
        rows = [("memory.limit_in_bytes", mib(int(cg(name, "memory", "memory.limit_in_bytes"))), "the limit (-m)"),
                ("memory.memsw.limit_in_bytes", mib(int(cg(name, "memory", "memory.memsw.limit_in_bytes") or 0)),
                 "memory + swap (--memory-swap)"),
                ("memory.max_usage_in_bytes", mib(int(cg(name, "memory", "memory.max_usage_in_bytes"))), "highest usage"),
                ("memory.oom_control: oom_kill", oom.get("oom_kill", "not in this kernel"),
                 "processes the OOM killer killed")]
    return Table(rows, ["file", "value", "meaning"], title=f"{name}'s memory cgroup")


# --- CPU ---------------------------------------------------------------------------------
def cpu_quota(name: str) -> str:
    """The CFS quota of a container's cgroup, as its files say."""
    if hierarchy().version == 2:
        return "cpu.max: " + cg(name, "cpu", "cpu.max")
    return f"cpu.cfs_quota_us {cg(name, 'cpu', 'cpu.cfs_quota_us')} per cpu.cfs_period_us {cg(name, 'cpu', 'cpu.cfs_period_us')}"


def throttling(name: str, samples: int = 6, every: float = 0.5) -> Table:
    """cpu.stat every ``every`` seconds: CPU used, periods, throttled periods and time."""
    key, per_s = ("throttled_usec", 1e6) if hierarchy().version == 2 else ("throttled_time", 1e9)
    rows, first, t0 = [], cpu_seconds(name), time.monotonic()
    for _ in range(samples):
        stat = cg_kv(name, "cpu", "cpu.stat")
        rows.append((f"{time.monotonic() - t0:.1f}", f"{cpu_seconds(name) - first:.2f}", stat["nr_periods"],
                     stat["nr_throttled"], f"{stat[key] / per_s:.2f}"))
        time.sleep(every)
    return Table(rows, ["seconds", "CPU seconds used", "nr_periods", "nr_throttled", f"{key} (s)"],
                 title=f"{name}: cpu.stat")


@dataclass
class Race:
    shares: dict[str, int]
    weights: dict[str, int]
    used: dict[str, float]
    wall: float

    @property
    def expected(self) -> dict[str, float]:
        return {n: w / sum(self.weights.values()) for n, w in self.weights.items()}

    @property
    def measured(self) -> dict[str, float]:
        return {n: u / sum(self.used.values()) for n, u in self.used.items()}

    def table(self) -> Table:
        return Table([(n, self.shares[n], self.weights[n], f"{self.used[n]:.2f}", f"{100 * self.measured[n]:.1f} %",
                       f"{100 * self.expected[n]:.1f} %") for n in self.shares],
                     ["container", "--cpu-shares", "weight in the cgroup file", "CPU seconds",
                      "measured share", "share set by the weights"],
                     title=f"together they had CPU 0 for {100 * sum(self.used.values()) / self.wall:.0f} % of "
                           f"{self.wall:.1f} s (the rest went to other programs)")


def race(shares: dict[str, int], seconds: float = 5) -> Race:
    """Busy containers pinned to CPU 0 with these shares: the CPU time each got, from its cgroup."""
    v2 = hierarchy().version == 2
    for n, s in shares.items():
        sh(f"docker run -d --name {n} --cpuset-cpus 0 --cpu-shares {s} busybox sh -c 'while :; do :; done'",
           quiet=True)
    try:
        weights = {n: int(cg(n, "cpu", "cpu.weight" if v2 else "cpu.shares")) for n in shares}
        start, t0 = {n: cpu_seconds(n) for n in shares}, time.monotonic()
        time.sleep(seconds)
        used = {n: cpu_seconds(n) - start[n] for n in shares}
        return Race(dict(shares), weights, used, time.monotonic() - t0)
    finally:
        sh("docker rm -f " + " ".join(shares), quiet=True, check=False)


def plot_race(r: Race):
    import matplotlib.pyplot as plt

    names = list(r.shares)
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], [100 * r.expected[n] for n in names], width=0.4, color="lightgrey",
           label="set by the weights")
    ax.bar([i + 0.2 for i in x], [100 * r.measured[n] for n in names], width=0.4, color="tab:blue",
           label="measured (cgroup CPU time)")
    ax.set_xticks(list(x), [f"{n}\n--cpu-shares {r.shares[n]}" for n in names])
    ax.set(ylabel="% of CPU 0", ylim=(0, 100), title="Busy containers sharing one CPU")
    ax.legend(loc="upper right")
    plt.show()


# --- accounting --------------------------------------------------------------------------
def io_bytes(text: str | None, version: int) -> tuple[int, int]:
    """(read, written) bytes from io.stat (v2) or blkio.throttle.io_service_bytes_recursive (v1)."""
    rows = [line.split() for line in (text or "").splitlines()]
    if version == 2:
        def total(key):
            return sum(int(f.split("=")[1]) for r in rows for f in r if f.startswith(key + "="))
        return total("rbytes"), total("wbytes")
    return (sum(int(r[2]) for r in rows if len(r) == 3 and r[1] == "Read"),
            sum(int(r[2]) for r in rows if len(r) == 3 and r[1] == "Write"))


def stats_vs_files(name: str) -> Table:
    """`docker stats` for one container next to the same figures computed from its cgroup files."""
    v2 = hierarchy().version == 2
    c0, t0 = cpu_seconds(name), time.monotonic()
    stats = json.loads(sh(f"docker stats --no-stream --format '{{{{json .}}}}' {name}", quiet=True))
    c1, t1 = cpu_seconds(name), time.monotonic()
    mem = cg_kv(name, "memory", "memory.stat")
    if v2:
        usage = int(cg(name, "memory", "memory.current")) - mem.get("inactive_file", 0)
        limit = int(cg(name, "memory", "memory.max"))
        rd, wr = io_bytes(cg(name, "io", "io.stat"), 2)
        files = ("cpu.stat", "memory.current − inactive_file / memory.max", "io.stat")
    else:
        usage = int(cg(name, "memory", "memory.usage_in_bytes")) - mem.get("total_inactive_file", 0)
        limit = int(cg(name, "memory", "memory.limit_in_bytes"))
        rd, wr = io_bytes(cg(name, "blkio", "blkio.throttle.io_service_bytes_recursive"), 1)
        files = ("cpuacct.usage", "memory.usage_in_bytes − total_inactive_file / memory.limit_in_bytes",
                 "blkio.throttle.io_service_bytes_recursive")
    return Table([("CPU %", stats["CPUPerc"], f"{100 * (c1 - c0) / (t1 - t0):.2f}%", files[0]),
                  ("MEM USAGE / LIMIT", stats["MemUsage"], f"{usage / 2**20:.2f}MiB / {limit / 2**20:.0f}MiB", files[1]),
                  ("PIDS", stats["PIDs"], cg(name, "pids", "pids.current"), "pids.current"),
                  ("BLOCK I/O", stats["BlockIO"], f"{rd}B / {wr}B", files[2]),
                  ("NET I/O", stats["NetIO"], "(no cgroup counts it)", "its network namespace's /proc/<pid>/net/dev")],
                 ["column", "docker stats", "from the cgroup files", "file(s)"], title=f"{name}, two ways")
