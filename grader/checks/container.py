"""Checks on a container the learner started: existence, state and simple configuration fields, and the
helpers the container family shares (finding the container, its state in words, a clipped output).
Its siblings check limits, ports, namespaces, mounts, hardening and what runs inside it.

Configuration comes from ``docker inspect``; where the kernel has the final word
(cgroup limits, namespaces) the check also reads what is really in force, from
/proc and /sys/fs/cgroup (the grader runs as root on the sandbox's host).
"""

from __future__ import annotations

import datetime
import re
import time
from pathlib import Path

from dockyard import cgroups
from dockyard.config import human_size
from dockyard.errors import ContainerNotFound, DockyardError, ImageNotFound
from dockyard.imageref import ImageRef

from .base import Failed, Param, check, fail, ok

PROC = Path("/proc")
CGROUP_ROOT = cgroups.ROOT
PROBE_BUDGET = 5.0  # seconds, all retries of one port probe together
NAME = Param(str, doc="the container's name (or id)")


# --- finding the container ------------------------------------------------------------
def _inspect(ctx, name: str) -> dict:
    try:
        return ctx.container(name)
    except ContainerNotFound:
        raise Failed(_missing(ctx, name)) from None


def _missing(ctx, name: str):
    similar = _similar_names(ctx, name)
    hint = f"start it with docker run --name {name} ... (docker ps -a lists what exists)"
    if similar:
        hint = (f"found '{similar[0]}', did you mean it? Name the container exactly {name} "
                f"(docker rename {similar[0]} {name}); " + hint)
    return fail(f"there is no container named {name}" + (f" (found: {', '.join(similar)})" if similar else ""),
                reason="missing", hint=hint, similar=similar)


def _norm(name: str) -> str:
    return re.sub(r"[-_.\s]", "", name.lower())


def _similar_names(ctx, name: str) -> list[str]:
    try:
        listed = ctx.containers()
    except DockyardError:
        return []
    want = _norm(name)
    found = []
    for c in listed:
        for n in c.get("Names") or [c.get("Name") or ""]:
            n = n.lstrip("/")
            have = _norm(n)
            if have == want or (len(want) >= 3 and want in have) or (len(have) >= 3 and want.startswith(have)):
                found.append(n)
    return sorted(set(found), key=lambda n: (len(n), n))


SETTLE_SECONDS = 2.0  # how long a container must have been up before "running" counts


def _started_at(ins: dict) -> float | None:
    text = ((ins.get("State") or {}).get("StartedAt") or "")[:26].rstrip("Z")
    try:
        return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        return None


def settled(ctx, ins: dict, name: str) -> dict:
    """Inspect data of a container that has been up for SETTLE_SECONDS at least.

    A container that started a moment ago has not shown yet whether it stays up: a command that ends at once
    (busybox's sh with no terminal, a typo'd program) is still "running" for a few milliseconds, and on its way
    out its process sits in the root cgroup. So a check of one just started waits until it has been up that long,
    then looks again; one started earlier is taken as it is."""
    st = ins.get("State") or {}
    started = _started_at(ins) if st.get("Running") else None
    wait = (started + SETTLE_SECONDS - time.time()) if started is not None else 0
    if 0 < wait <= SETTLE_SECONDS:
        time.sleep(wait)
        return ctx.container(name)
    return ins


def _cname(ins: dict, name: str) -> str:
    return (ins.get("Name") or "").lstrip("/") or name


def _log_tail(ctx, name: str, lines: int = 5) -> str:
    try:
        return "\n".join(ctx.logs(name, tail=lines).strip().splitlines()[-lines:])
    except DockyardError:
        return ""


def _state_text(ins: dict) -> str:
    st = ins.get("State") or {}
    status = st.get("Status", "unknown")
    if status in ("exited", "dead"):
        oom = ", killed by the OOM killer" if st.get("OOMKilled") else ""
        return f"{status} (exit code {st.get('ExitCode')}{oom})"
    if status == "restarting":
        return f"restarting (exit code {st.get('ExitCode')} last time, restarted {ins.get('RestartCount', 0)} times)"
    return status


def _not_running(ctx, ins: dict, name: str, doing: str):
    cname = _cname(ins, name)
    tail = _log_tail(ctx, cname)
    hint = f"start it (docker start {cname}) and see why it stops with docker logs {cname}"
    if tail:
        hint += f"; its log ends with: {tail.splitlines()[-1]!r}"
    return fail(f"container {cname} is {_state_text(ins)}; {doing} needs it running", reason="not_running",
                hint=hint, status=ins["State"].get("Status"), log_tail=tail)


def _running(ctx, ins: dict, name: str, doing: str) -> None:
    if not (ins.get("State") or {}).get("Running"):
        raise Failed(_not_running(ctx, ins, name, doing))


# --- existence and state --------------------------------------------------------------
@check("container.exists", name=NAME)
def exists(ctx, name):
    """The container exists."""
    ins = _inspect(ctx, name)
    return ok(f"container {_cname(ins, name)} exists ({_state_text(ins)}, image {ins['Config'].get('Image')})",
              id=ins["Id"][:12], status=ins["State"].get("Status"))


def _oom_without_flag(ctx, ins: dict, memory: int) -> tuple[bool, str]:
    """Exit 137 without OOMKilled: dockerd can lose the flag (and, under load, its oom event) when it
    handles the exit first. A SIGKILL under a memory limit that no docker kill or stop sent is the
    kernel's OOM killer."""
    events = ctx.container_events(ins.get("Id", ""), ins.get("Created"))
    if events.get("oom"):
        return True, "the daemon logged an oom event (the OOMKilled flag was lost)"
    if memory and not events.get("kill"):
        return True, "SIGKILL (exit 137) under a memory limit, and no docker kill or stop sent it"
    return False, ("killed by docker kill or docker stop" if events.get("kill") else "SIGKILL without a memory limit")


def _wanted_status(status: str, exit_code, oom_killed) -> str:
    """An exit code or an OOM kill asked for means the container must have stopped."""
    if status == "running" and (exit_code is not None or oom_killed):
        return "exited"
    return status


def _memory_limit(ins: dict) -> tuple[int, str]:
    """The container's memory limit in bytes (0: none) and as the messages show it."""
    memory = (ins.get("HostConfig") or {}).get("Memory") or 0
    return memory, human_size(memory) if memory else "none"


def _stopped(ctx, ins: dict, cname: str, limit: str, evidence: dict):
    """Expected running, found stopped: why, from the OOM flag or the end of its log."""
    st = ins.get("State") or {}
    tail = _log_tail(ctx, cname)
    hint = f"find out why it stopped: docker logs {cname}"
    if st.get("OOMKilled"):
        hint = f"it ran out of memory (limit {limit}): raise --memory or make it use less; " + hint
    elif tail:
        hint += f"; its log ends with: {tail.splitlines()[-1]!r}"
    return fail(f"container {cname} is {_state_text(ins)}; expected running", reason="not_running",
                hint=hint, log_tail=tail, **evidence)


def _wrong_status(ctx, ins: dict, cname: str, status: str, limit: str, evidence: dict):
    """The container is not in the status asked for: never started, stopped, still running, or another one."""
    actual = evidence["status"]
    if status == "running" and actual == "created":
        return fail(f"container {cname} was created but never started; expected running", reason="not_started",
                    hint=f"start it: docker start {cname}", **evidence)
    if status == "running":
        return _stopped(ctx, ins, cname, limit, evidence)
    if actual == "running":
        return fail(f"container {cname} is still running; expected {status}", reason="still_running",
                    hint=f"wait for it to finish, or stop it with docker stop {cname}", **evidence)
    return fail(f"container {cname} is {_state_text(ins)}; expected {status}", reason="wrong_status",
                hint=f"docker ps -a shows the state of {cname}", **evidence)


def _oom_killed(ctx, ins: dict, memory: int, oom_killed, evidence: dict) -> bool:
    """Whether the OOM killer ended it: the daemon's flag, or, for an exit 137 without it when the check asks,
    what the daemon's events tell (recorded as the evidence's oom_evidence)."""
    st = ins.get("State") or {}
    killed = bool(st.get("OOMKilled"))
    if not killed and st.get("ExitCode") == 137 and oom_killed is not None:
        killed, evidence["oom_evidence"] = _oom_without_flag(ctx, ins, memory)
    return killed


def _oom_mismatch(cname: str, exit_code, oom_killed: bool, memory: int, limit: str, evidence: dict):
    """Killed by the OOM killer when it must not have been, or the other way round."""
    if oom_killed:
        return fail(f"container {cname} was not killed by the OOM killer (exit code {exit_code}, "
                    f"memory limit {limit}); expected it to be", reason="not_oom_killed",
                    hint="give it a memory limit (--memory) smaller than what it allocates"
                    + (", and no extra swap (--memory-swap equal to --memory)" if memory else ""), **evidence)
    return fail(f"container {cname} was killed by the OOM killer (memory limit {limit}); expected it not to be",
                reason="oom_killed", hint=f"it needs more memory than {limit}: raise --memory, or make it use less",
                **evidence)


def _wrong_exit_code(ctx, cname: str, actual, codes: list, evidence: dict):
    tail = _log_tail(ctx, cname)
    expected = " or ".join(map(str, codes))
    return fail(f"container {cname} exited with code {actual}; expected exit code {expected}",
                reason="wrong_exit_code", log_tail=tail,
                hint=f"docker logs {cname} shows what it did" + (f"; its log ends with: {tail.splitlines()[-1]!r}"
                                                                 if tail else ""), **evidence)


@check("container.state", name=NAME,
       status=Param(str, default="running", doc="running, exited, created, paused ...; exited is implied "
                    "when exit_code or oom_killed=true is given"),
       oom_killed=Param(bool, default=None, doc="whether the OOM killer must (true) or must not (false) "
                        "have killed it"),
       exit_code=Param((int, list), default=None, doc="the exit code it must have stopped with "
                       "(or a list of acceptable codes, e.g. [0, 143] for a graceful stop)"))
def state(ctx, name, status="running", oom_killed=None, exit_code=None):
    """The container is in the expected state."""
    ins = settled(ctx, _inspect(ctx, name), name)
    cname, st = _cname(ins, name), ins.get("State") or {}
    status = _wanted_status(status, exit_code, oom_killed)
    evidence = {"status": st.get("Status"), "exit_code": st.get("ExitCode"), "oom_killed": st.get("OOMKilled"),
                "restart_count": ins.get("RestartCount", 0)}
    memory, limit = _memory_limit(ins)
    if st.get("Status") != status:
        return _wrong_status(ctx, ins, cname, status, limit, evidence)
    killed = _oom_killed(ctx, ins, memory, oom_killed, evidence)
    if oom_killed is not None and killed != oom_killed:
        return _oom_mismatch(cname, st.get("ExitCode"), oom_killed, memory, limit, evidence)
    codes = exit_code if isinstance(exit_code, list) else [exit_code]
    if exit_code is not None and st.get("ExitCode") not in codes:
        return _wrong_exit_code(ctx, cname, st.get("ExitCode"), codes, evidence)
    return ok(f"container {cname} is {_state_text(ins)}", **evidence)


# --- simple configuration fields ------------------------------------------------------
@check("container.hostname", name=NAME, equals=Param(str, doc="the hostname it must have"))
def hostname(ctx, name, equals):
    """The container has the expected hostname."""
    ins = _inspect(ctx, name)
    cname, actual = _cname(ins, name), ins["Config"].get("Hostname") or ""
    if actual == equals:
        return ok(f"hostname of {cname} is {actual!r}", hostname=actual)
    default = " (the default: the start of the container id)" if ins["Id"].startswith(actual) and actual else ""
    return fail(f"hostname of {cname} is {actual!r}{default}; expected {equals!r}", reason="wrong_value",
                hint=f"set it when creating the container: docker run --hostname {equals} ...", hostname=actual)


@check("container.image", name=NAME,
       equals=Param(str, doc="image reference, e.g. web:1.0 (an implicit :latest is allowed)"))
def image(ctx, name, equals):
    """The container runs the expected image."""
    ins = _inspect(ctx, name)
    cname, actual = _cname(ins, name), ins["Config"].get("Image") or ""
    if ImageRef.parse(actual).canonical() == ImageRef.parse(equals).canonical():
        return ok(f"container {cname} runs image {actual}", image=actual)
    try:  # started by id, or by another tag of the same image
        if ctx.image(equals)["Id"] == ins.get("Image"):
            return ok(f"container {cname} runs image {actual} (the same image as {equals})", image=actual)
    except (ImageNotFound, Failed):
        pass
    return fail(f"container {cname} runs image {actual}; expected {equals}", reason="wrong_image", image=actual,
                hint=f"remove it and start it again from the right image: docker rm -f {cname} && "
                     f"docker run --name {cname} ... {equals}")


@check("container.env", name=NAME, variable=Param(str, doc="environment variable name"),
       value=Param(str, default=None, doc="its value; omit to only require that it is set"))
def env(ctx, name, variable, value=None):
    """The container has the environment variable."""
    ins = _inspect(ctx, name)
    cname = _cname(ins, name)
    envs = dict(e.split("=", 1) if "=" in e else (e, "") for e in ins["Config"].get("Env") or [])
    if variable not in envs:
        return fail(f"{variable} is not set in container {cname} (set: {', '.join(sorted(envs)) or 'nothing'})",
                    reason="missing", variables=sorted(envs),
                    hint=f"pass it when creating the container: docker run -e {variable}={value or '...'} ...")
    if value is not None and envs[variable] != value:
        return fail(f"{variable} is {envs[variable]!r} in container {cname}; expected {value!r}", reason="wrong_value",
                    hint=f"recreate it with docker run -e {variable}={value} ...", value=envs[variable])
    return ok(f"{variable}={envs[variable]} in container {cname}", value=envs[variable])


@check("container.restart_policy", name=NAME,
       policy=Param(str, doc="no, always, unless-stopped, on-failure or on-failure:N"))
def restart_policy(ctx, name, policy):
    """The container has the expected restart policy."""
    ins = _inspect(ctx, name)
    cname = _cname(ins, name)
    rp = (ins.get("HostConfig") or {}).get("RestartPolicy") or {}
    actual = rp.get("Name") or "no"
    if actual == "on-failure" and rp.get("MaximumRetryCount"):
        actual += f":{rp['MaximumRetryCount']}"
    want = policy or "no"
    if actual == want or (want == "on-failure" and actual.startswith("on-failure")):
        return ok(f"restart policy of {cname} is {actual}", policy=actual)
    return fail(f"restart policy of {cname} is {actual}; expected {want}", reason="wrong_value", policy=actual,
                hint=f"docker update --restart {want} {cname} changes it without recreating the container")


# --- output quoted in messages -----------------------------------------------------------
def _clip(text: str, n: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= n else "…" + text[-n:]
