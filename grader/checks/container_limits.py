"""container.limits: cgroup limits as configured (HostConfig) and as enforced (the container's own cgroup files)."""

from __future__ import annotations

from pathlib import Path

from dockyard import cgroups
from dockyard.config import human_size, parse_size

from .base import Param, check, fail, ok
from .container import CGROUP_ROOT, NAME, PROC, _cname, _inspect, settled

LIMIT_FLAGS = {"memory": "--memory", "memory_swap": "--memory-swap", "cpus": "--cpus", "pids": "--pids-limit",
               "cpu_shares": "--cpu-shares", "cpuset": "--cpuset-cpus"}

LIMIT_NAMES = {"memory": "memory limit", "memory_swap": "memory+swap limit", "cpus": "CPU limit",
               "pids": "process limit", "cpu_shares": "CPU share weight", "cpuset": "CPU set"}
UNLIMITED = cgroups.UNLIMITED


def cgroup_limits(proc_cgroup: str, root: Path | None = None) -> dict:
    return cgroups.process_limits(proc_cgroup, root or CGROUP_ROOT)


shares_to_weight = cgroups.shares_to_weight


def _configured_limits(hc: dict) -> dict:
    cpus = None
    if hc.get("NanoCpus"):
        cpus = hc["NanoCpus"] / 1e9
    elif (hc.get("CpuQuota") or 0) > 0:
        cpus = hc["CpuQuota"] / (hc.get("CpuPeriod") or 100_000)
    swap = hc.get("MemorySwap") or None
    return {"memory": hc.get("Memory") or None, "memory_swap": UNLIMITED if swap == -1 else swap, "cpus": cpus,
            "pids": hc["PidsLimit"] if (hc.get("PidsLimit") or 0) > 0 else None,
            "cpu_shares": hc.get("CpuShares") or None, "cpuset": hc.get("CpusetCpus") or None}


def _cpu_list(text: str) -> set[int]:
    out: set[int] = set()
    for part in str(text).replace(" ", "").split(","):
        if "-" in part:
            a, b = part.split("-")
            out.update(range(int(a), int(b) + 1))
        elif part:
            out.add(int(part))
    return out


def _same(key: str, a, b) -> bool:
    if a is None or b is None or UNLIMITED in (a, b):
        return a == b
    if key in ("memory", "memory_swap"):
        return abs(a - b) < 4096  # the kernel rounds to whole pages
    if key == "cpus":
        return abs(a - b) < 0.005
    if key == "cpuset":
        return _cpu_list(a) == _cpu_list(b)
    return a == b


def _show(key: str, v) -> str:
    if v is None or v == UNLIMITED:
        return "none" if v is None else UNLIMITED
    if key in ("memory", "memory_swap"):
        return human_size(v)
    if key == "cpus":
        return f"{v:g} CPU" + ("" if v == 1 else "s")
    return str(v)


def _wanted_limits(memory, cpus, pids, cpu_shares, cpuset, memory_swap) -> dict:
    """The limits asked for, in the readers' units (bytes, CPUs, UNLIMITED); only those given."""
    wanted = {"memory": parse_size(memory) if memory is not None else None,
              "memory_swap": None if memory_swap is None else (UNLIMITED if str(memory_swap) == "-1"
                                                               else parse_size(memory_swap)),
              "cpus": cpus, "pids": pids, "cpu_shares": cpu_shares, "cpuset": cpuset}
    return {k: v for k, v in wanted.items() if v is not None}


def _enforced_limits(ins: dict) -> dict:
    """What the kernel enforces on the running container ({} when it is not running, or its process is on its
    way out: an exiting process is moved to the root cgroup, whose "unlimited" is not the container's)."""
    state = ins.get("State") or {}
    text = cgroups.read_file(PROC / str(state["Pid"]) / "cgroup") if state.get("Pid") and state.get("Running") else None
    if text and ins.get("Id") and ins["Id"] not in text:
        text = None
    enforced = cgroup_limits(text) if text else {}
    if "cpu_weight" in enforced and "cpu_shares" not in enforced:
        enforced["cpu_shares"] = enforced["cpu_weight"]  # compared against the converted shares
    return enforced


def _limit_problem(key: str, want, have, enforced: dict) -> tuple[str, str] | None:
    """(reason, message) for one limit: not set, set to another value, or set but not what the cgroup enforces."""
    label, real = LIMIT_NAMES[key], enforced.get(key)
    if key == "cpu_shares" and "cpu_weight" in enforced and isinstance(have, int):
        real = have if enforced["cpu_weight"] == shares_to_weight(have) else f"cpu.weight {enforced['cpu_weight']}"
    if have is None:
        return "no_limit", f"no {label} is set; expected {_show(key, want)}"
    if not _same(key, have, want):
        also = f" (the cgroup enforces {_show(key, real)})" if key in enforced and not _same(key, real, have) else ""
        return "wrong_value", f"{label} is {_show(key, have)}{also}; expected {_show(key, want)}"
    if key in enforced and not _same(key, real, want):
        shown = real if isinstance(real, str) and real.startswith("cpu.weight") else _show(key, real)
        return "not_enforced", (f"{label} is configured as {_show(key, have)} but its cgroup enforces {shown} "
                                f"({enforced['files'].get(key, '?')}); expected {_show(key, want)}")
    return None


def _limits_hint(cname: str, reason: str, bad_keys: list[str], given: dict) -> str:
    if reason == "not_enforced":
        return (f"Docker recorded the limit but the kernel does not apply it: restart the container "
                f"(docker restart {cname}); if that does not help, run dockyard status to see the cgroup controllers")
    flags = " ".join(f"{LIMIT_FLAGS[k]} {given[k]}" for k in bad_keys)
    return f"set it when creating the container: docker run {flags} ... (or change it in place: docker update {flags} {cname})"


@check("container.limits", name=NAME,
       memory=Param((str, int), default=None, doc="e.g. 64m"), cpus=Param(float, default=None, doc="e.g. 0.5"),
       pids=Param(int, default=None, doc="--pids-limit"), cpu_shares=Param(int, default=None),
       cpuset=Param(str, default=None, doc="e.g. 0 or 0-1"),
       memory_swap=Param((str, int), default=None, doc="memory + swap, e.g. 64m; -1 for unlimited"))
def limits(ctx, name, memory=None, cpus=None, pids=None, cpu_shares=None, cpuset=None, memory_swap=None):
    """The container has the expected resource limits, enforced by its cgroup."""
    wanted = _wanted_limits(memory, cpus, pids, cpu_shares, cpuset, memory_swap)
    given = {"memory": memory, "memory_swap": memory_swap, "cpus": cpus, "pids": pids, "cpu_shares": cpu_shares,
             "cpuset": cpuset}
    ins = settled(ctx, _inspect(ctx, name), name)
    cname = _cname(ins, name)
    configured = _configured_limits(ins.get("HostConfig") or {})
    enforced = _enforced_limits(ins)
    problems = [(p[0], key, p[1]) for key, want in wanted.items()
                if (p := _limit_problem(key, want, configured[key], enforced))]
    evidence = {"configured": {k: configured[k] for k in wanted},
                "enforced": {k: enforced.get(k) for k in wanted} if enforced else "not read (container not running)",
                "cgroup_files": {k: enforced.get("files", {}).get(k) for k in wanted} if enforced else {}}
    if not problems:
        shown = ", ".join(f"{LIMIT_NAMES[k]} {_show(k, configured[k])}" for k in wanted)
        how = " (enforced by its cgroup)" if enforced else " (configured; not running, so the cgroup was not read)"
        return ok(f"container {cname}: {shown}{how}", **evidence)
    reason = problems[0][0]
    hint = _limits_hint(cname, reason, [k for r, k, _m in problems if r != "not_enforced"], given)
    return fail(f"container {cname}: " + "; ".join(m for _r, _k, m in problems), reason=reason, hint=hint, **evidence)


def _clock(time_ns: int) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(time_ns / 1e9, datetime.timezone.utc).strftime("%H:%M:%S")


@check("container.updated_live", name=NAME)
def updated_live(ctx, name):
    """The container's limits were changed in place, while it ran (docker update), not by recreating it."""
    ins = _inspect(ctx, name)
    cname, cid = _cname(ins, name), ins["Id"]
    # inspect keeps no record of a change: only the daemon's event log shows an update, and when
    events = ctx.container_event_log(cid, ins.get("Created"), ("create", "start", "update", "die"))
    evidence = {"id": cid[:12], "created": ins.get("Created"), "started_at": (ins.get("State") or {}).get("StartedAt"),
                "events": [f"{_clock(e['time_ns'])} {e['action']}" for e in events]}
    if not (ins.get("State") or {}).get("Running"):
        return fail(f"container {cname} is not running; a live update needs it running from before the update "
                    f"until now", reason="not_running", hint=f"run the cell again from the top, and leave {cname} "
                                                             f"running", **evidence)
    starts = [e["time_ns"] for e in events if e["action"] == "start"]
    updates = [e["time_ns"] for e in events if e["action"] == "update"]
    if not starts:
        return fail(f"the daemon's event log (its last 256 events) no longer reaches back to when {cname} "
                    f"({cid[:12]}) started, so an update in place cannot be told from a new container",
                    reason="no_evidence", hint="run the task's cell again from the top: it starts a fresh "
                                               f"{cname} and updates it", **evidence)
    live = [t for t in updates if t > starts[-1]]
    if live:
        return ok(f"container {cname} ({cid[:12]}, running since {_clock(starts[-1])}) was updated in place at "
                  f"{_clock(live[-1])}" + (f" ({len(live)} updates)" if len(live) > 1 else ""), **evidence)
    if updates:
        return fail(f"container {cname} ({cid[:12]}) was updated at {_clock(updates[-1])} but (re)started after "
                    f"that, at {_clock(starts[-1])}; expected an update while it ran", reason="restarted",
                    hint="docker update changes a running container's cgroup at once: no docker stop/start or "
                         "restart is needed (run the cell again from the top, without them)", **evidence)
    return fail(f"container {cname} ({cid[:12]}, started at {_clock(starts[0])}) has never been updated: it is a "
                f"new container, made with its limit, not the one started earlier with a smaller limit and raised "
                f"in place", reason="recreated",
                hint=f"keep the given {cname} and change it where it runs with docker update (docker rm -f and "
                     f"docker run again makes a new container: a new Id, a new StartedAt, its process restarted)",
                **evidence)
