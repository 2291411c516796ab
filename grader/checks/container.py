"""Checks on a container the learner started: state, limits, namespaces, ports, mounts.

Configuration comes from ``docker inspect``; where the kernel has the final word
(cgroup limits, namespaces) the check also reads what is really in force, from
/proc and /sys/fs/cgroup (the grader runs as root on the sandbox's host).
"""

from __future__ import annotations

import datetime
import os
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


# --- namespaces -------------------------------------------------------------------------
NS_FIELDS = {"pid": "PidMode", "net": "NetworkMode", "ipc": "IpcMode", "uts": "UTSMode", "user": "UsernsMode",
             "cgroup": "CgroupnsMode"}
NS_FLAGS = {"pid": "--pid", "net": "--network", "ipc": "--ipc", "uts": "--uts", "user": "--userns",
            "cgroup": "--cgroupns"}


def ns_identity(pid: int | str, kind: str, proc: Path | None = None) -> str | None:
    """``pid:[4026532301]``: the kernel's identity of a process's namespace; None if unreadable."""
    try:
        return os.readlink((proc or PROC) / str(pid) / "ns" / kind)
    except OSError:
        return None


def _configured_ns(hc: dict, kind: str) -> tuple[str, str | None]:
    value = hc.get(NS_FIELDS[kind]) or ""
    if value == "host":
        return "host", None
    if value.startswith("container:"):
        return "shared", value.split(":", 1)[1]
    return "private", None


def _ns_peers(ctx, kind: str, cname: str, with_container: str | None, peer_id: str | None) -> list[tuple]:
    """(name, identity) of the container it must share with and of the one it is configured to share with."""
    peers = []
    for ref in dict.fromkeys(r for r in (with_container, peer_id) if r):
        try:
            other = ctx.container(ref)
        except ContainerNotFound:
            if ref == with_container:
                raise Failed(fail(f"container {with_container} (to share the {kind} namespace with) does not exist",
                                  reason="missing", hint=f"start {with_container} first, then {cname} with "
                                                         f"{NS_FLAGS[kind]} container:{with_container}")) from None
            continue
        if ref == with_container and not other["State"].get("Running"):
            raise Failed(_not_running(ctx, other, with_container, f"sharing its {kind} namespace"))
        pid = other["State"].get("Pid")
        peers.append((_cname(other, ref), ns_identity(pid, kind) if pid else None))
    return peers


def _ns_observed(configured: str, ident: str | None, host: str | None, peers: list[tuple]) -> tuple:
    """(host|shared|private, the identity or "unknown", the peer it is shared with): from the kernel's links,
    or from the configuration when they cannot be read (not root, or /proc not ours)."""
    if ident is None:
        return configured, "unknown", (peers[-1][0] if configured == "shared" and peers else None)
    shared_with = next((n for n, i in peers if i == ident), None)
    return ("host" if ident == host else "shared" if shared_with else "private"), ident, shared_with


def _ns_wanted(kind: str, mode: str, cname: str, configured: str, asked: str, host: str | None,
               target: str) -> tuple[str, str]:
    """What was expected, and the hint for the learner, by what went wrong."""
    flag = NS_FLAGS[kind]
    if mode == "shared":
        return f"shared with {target}", f"start {cname} with {flag} container:{target}"
    if mode == "host":
        return (f"host ({host})" if host else "host"), f"start {cname} with {flag} host"
    if configured != "private" and kind == "cgroup":
        return "private", f"start {cname} with --cgroupns private (private is the default only on cgroup v2 hosts)"
    if configured != "private" and kind == "user":
        return "private", ("a container gets its own user namespace only when the daemon runs with --userns-remap "
                           "(a daemon setting, not a docker run flag)")
    if configured != "private":
        return "private", (f"remove {flag} {asked} from the docker run command: "
                           f"a container gets its own {kind} namespace by default")
    return "private", (f"{cname} asks for its own {kind} namespace ({flag} {asked or 'default'}) but the kernel "
                       f"shows another one" + (": a private user namespace needs dockerd --userns-remap"
                                               if kind == "user" else ""))


@check("container.namespace", name=NAME,
       kind=Param(str, doc="pid, net, ipc, uts, user or cgroup", choices=("pid", "net", "ipc", "uts", "user", "cgroup")),
       mode=Param(str, doc="host, private or shared", choices=("host", "private", "shared")),
       with_container=Param(str, default=None, doc="for mode shared: the container it shares the namespace with"))
def namespace(ctx, name, kind, mode, with_container=None):
    """The container's namespace is shared as expected."""
    if kind not in NS_FIELDS or mode not in ("host", "private", "shared"):
        raise ValueError(f"container.namespace: kind must be one of {', '.join(NS_FIELDS)} and mode one of "
                         f"host, private, shared (got kind={kind!r}, mode={mode!r})")
    ins = _inspect(ctx, name)
    cname, hc = _cname(ins, name), ins.get("HostConfig") or {}
    _running(ctx, ins, name, f"checking its {kind} namespace")
    configured, peer_id = _configured_ns(hc, kind)
    ident, host = ns_identity(ins["State"]["Pid"], kind), ns_identity("self", kind)
    peers = _ns_peers(ctx, kind, cname, with_container, peer_id)  # raises Failed: a peer missing or stopped
    peer = peers[0] if peers else None
    actual, real, shared_with = _ns_observed(configured, ident, host, peers)
    evidence = {"configured": hc.get(NS_FIELDS[kind]) or "", "identity": ident, "host_identity": host,
                "peer": peer[0] if peer else None, "peer_identity": peer[1] if peer else None}
    if actual == mode and (mode != "shared" or not with_container or shared_with == peer[0]):
        text = f"shared with {shared_with}" if actual == "shared" else actual
        return ok(f"{kind} namespace of {cname} is {text} ({real})", **evidence)
    have = f"shared with {shared_with}" if actual == "shared" else actual
    target = with_container or (peer[0] if peer else "another container")
    want, hint = _ns_wanted(kind, mode, cname, configured, hc.get(NS_FIELDS[kind]) or "", host, target)
    if mode == "shared" and peer and peer[1]:
        want += f" ({peer[1]})"
    return fail(f"{kind} namespace of {cname} is {have} ({real}); expected {want}", reason=actual,
                hint=hint + " (namespaces are fixed when a container is created: docker rm -f it and run it again)",
                **evidence)


@check("container.namespace_pair", name=Param(str, doc="the container that must have a namespace of its own"),
       host_container=Param(str, doc="the container that must be in the host's namespace"),
       kind=Param(str, default="cgroup", doc="the namespace kind", choices=("cgroup", "pid", "net", "ipc", "uts")))
def namespace_pair(ctx, name, host_container, kind="cgroup"):
    """One container has its own namespace and another the host's: the flag asked for both ways."""
    # One of the two is always the daemon's default (cgroupns: host on cgroup v1, private on v2), so either
    # alone is free on some host. Both together need the flag on every host.
    private, host = name, host_container
    outcomes = []
    for who, mode in ((private, "private"), (host, "host")):
        try:
            outcomes.append(namespace(ctx, name=who, kind=kind, mode=mode))
        except Failed as exc:
            outcomes.append(exc.outcome)
    evidence = {private: outcomes[0].evidence, host: outcomes[1].evidence}
    if all(o.passed for o in outcomes):
        return ok(f"{outcomes[0].message}; {outcomes[1].message}", **evidence)
    bad = next(o for o in outcomes if not o.passed)
    both = " and ".join(o.message for o in outcomes if not o.passed)
    flag = NS_FLAGS[kind]
    return fail(both, reason=bad.reason, hint=(bad.hint or "") + f" (ask for both explicitly: {flag} private for "
                f"{private}, {flag} host for {host}: which one is the default depends on the host)", **evidence)


# --- mounts -----------------------------------------------------------------------------
def _describe_mount(m: dict) -> str:
    if m.get("Type") == "volume":
        vname = m.get("Name") or ""
        if re.fullmatch(r"[0-9a-f]{64}", vname):
            return f"an anonymous volume ({vname[:12]})"
        return f"volume {vname!r}"
    if m.get("Type") == "bind":
        return f"a bind mount of {m.get('Source')}"
    return m.get("Type") or "a mount"


def _mounts(ins: dict) -> list[dict]:
    """Every mount: docker inspect's Mounts plus --tmpfs ones (which Mounts leaves out)."""
    mounts = list(ins.get("Mounts") or [])
    for d, opts in ((ins.get("HostConfig") or {}).get("Tmpfs") or {}).items():
        mounts.append({"Type": "tmpfs", "Destination": d, "Source": "", "RW": "ro" not in (opts or "").split(",")})
    return mounts


def _mount_flag(want: str | None, dest: str, volume: str | None, source: str | None, read_only: bool | None) -> str:
    """The docker run flag that makes the mount asked for."""
    flag = {"volume": f"-v {volume or 'NAME'}:{dest}", "bind": f"-v {source or '/host/path'}:{dest}",
            "tmpfs": f"--tmpfs {dest}"}.get(want or "", f"-v SOURCE:{dest}")
    return flag + (":ro" if read_only and want != "tmpfs" else "")


def _same_source(ctx, m: dict, source: str) -> bool:
    """A volume by name, or a host path (relative: to the submission) that resolves to the mount's source."""
    if m.get("Type") == "volume" and not source.startswith(("/", ".")):
        return m.get("Name") == source
    wanted_path = source if os.path.isabs(source) else str(ctx.path(source))
    return os.path.realpath(m.get("Source") or "") == os.path.realpath(wanted_path)


def _mount_problem(ctx, m: dict, want, volume, source, read_only, flag: str) -> tuple[str, str, str] | None:
    """(reason, what was expected, the fix) for a mount that is there but not as asked."""
    if want and m.get("Type") != want:
        why = (" (a name, not a path, makes -v use a volume)" if want == "volume" else
               " (an absolute host path makes -v a bind mount)" if want == "bind" else "")
        return "wrong_type", f"expected a {want} mount", f"use {flag}{why}"
    if volume and m.get("Name") != volume:
        return "wrong_source", f"expected volume {volume!r}", f"(docker volume create {volume} is optional: -v creates it)"
    if source and not _same_source(ctx, m, source):
        return ("wrong_source", f"expected {source}",
                f"bind mounts need an absolute host path (e.g. \"$PWD/{source.lstrip('./')}\")")
    rw = bool(m.get("RW"))
    if read_only is True and rw:
        return "writable", "is mounted read-write; expected read-only", f"add :ro to the mount ({flag}) or readonly to --mount"
    if read_only is False and not rw:
        return "read_only", "is mounted read-only; expected read-write", "remove :ro / readonly from the mount"
    return None


@check("container.mount", name=NAME, destination=Param(str, doc="the path inside the container"),
       type=Param(str, default=None, doc="bind, volume or tmpfs"),
       source=Param(str, default=None, doc="bind: the host path (relative: to the submission)"),
       volume=Param(str, default=None, doc="the named volume"), read_only=Param(bool, default=None))
def mount(ctx, name, destination, type=None, source=None, volume=None, read_only=None):  # noqa: A002 (spec name)
    """The container has the expected mount."""
    ins = _inspect(ctx, name)
    cname, dest = _cname(ins, name), destination.rstrip("/") or "/"
    mounts = _mounts(ins)
    evidence = {"mounts": [{"destination": m.get("Destination"), "type": m.get("Type"), "source": m.get("Source"),
                            "name": m.get("Name"), "rw": m.get("RW")} for m in mounts]}
    m = next((m for m in mounts if (m.get("Destination") or "").rstrip("/") == dest), None)
    want = type or ("volume" if volume else "bind" if source else None)
    flag = _mount_flag(want, dest, volume, source, read_only)
    if m is None:
        have = ", ".join(f"{x['Destination']} ({x['Type']})" for x in mounts) or "nothing"
        return fail(f"nothing is mounted at {dest} in {cname} (mounts: {have})", reason="missing", **evidence,
                    hint=f"mounts are set when the container is created: docker rm -f {cname}, "
                         f"then docker run {flag} ...")
    what = _describe_mount(m)
    problem = _mount_problem(ctx, m, want, volume, source, read_only, flag)
    if problem:
        reason, expected, fix = problem
        recreate = f"docker rm -f {cname}, then docker run {flag} ..."
        joined = f"{recreate} {fix}" if fix.startswith("(") else f"{fix}: {recreate}"
        text = (f"{dest} in {cname} ({what}) {expected}" if reason in ("writable", "read_only")
                else f"{dest} in {cname} is {what}; {expected}")
        return fail(text, reason=reason, hint=joined, **evidence)
    rw = bool(m.get("RW"))
    return ok(f"{dest} in {cname} is {what} ({'read-write' if rw else 'read-only'})", **evidence)


# --- inside the running container ------------------------------------------------------
def _clip(text: str, n: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= n else "…" + text[-n:]


def container_env(ins: dict) -> dict[str, str]:
    """The environment the container's processes start with: Docker's HOSTNAME, then Config.Env over it."""
    env = {"HOSTNAME": (ins.get("Config") or {}).get("Hostname") or ""}
    env.update(e.split("=", 1) if "=" in e else (e, "") for e in (ins.get("Config") or {}).get("Env") or [])
    return env


_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def expand_env(template: str, env: dict[str, str]) -> str:
    """``$NAME`` and ``${NAME}`` replaced as a shell would, from ``env`` (unset: empty)."""
    return _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), template)


@check("container.exec", name=NAME, command=Param((list, str), doc="the command to run inside the container"),
       stdout_contains=Param(str, default=None), exit_code=Param(int, default=0),
       user=Param(str, default=None),
       expand=Param(bool, default=False, doc="stdout_contains names $VARIABLES of the container's own environment "
                                             "(HOSTNAME included): each is replaced by its value there, so only a "
                                             "shell inside the container that expanded them wrote the text"))
def exec_(ctx, name, command, stdout_contains=None, exit_code=0, user=None, expand=False):
    """A command run inside the container gives the expected result."""
    ins = _inspect(ctx, name)
    cname = _cname(ins, name)
    shown = command if isinstance(command, str) else " ".join(command)
    _running(ctx, ins, name, f"running `{shown}` in it")
    template = stdout_contains
    if expand and stdout_contains is not None:
        stdout_contains = expand_env(stdout_contains, container_env(ins))
    code, out = ctx.exec(cname, command, user=user)
    evidence = {"command": shown, "exit_code": code, "output": _clip(out, 1000)}
    if expand and template is not None:
        evidence["expected"] = stdout_contains
    if code != exit_code:
        if code in (126, 127) and exit_code not in (126, 127):
            hint = f"the command could not be started in {cname}: is the program installed in the image?"
        else:
            hint = f"run it yourself to see why: docker exec {cname} {shown}"
        return fail(f"`{shown}` in {cname} exited with {code}; expected {exit_code}"
                    + (f"; output: {_clip(out, 200)!r}" if out.strip() else ""), reason="wrong_exit_code",
                    hint=hint, **evidence)
    if stdout_contains is not None and stdout_contains not in out:
        want = f"{stdout_contains!r} ({template} expanded in {cname})" if expand else repr(stdout_contains)
        reason = "not_expanded" if expand else "missing_output"
        return fail(f"the output of `{shown}` in {cname} does not contain {want}; it was "
                    f"{_clip(out, 200)!r}", reason=reason, **evidence,
                    hint=f"run it yourself and compare: docker exec {cname} {shown}" + (
                        f"; the values must come from {cname}'s own environment, expanded by a shell inside it "
                        f"(sh -c '...' in single quotes), not typed in or expanded by your notebook's shell"
                        if reason == "not_expanded" else ""))
    return ok(f"`{shown}` in {cname} exited with {code}"
              + (f" and printed {stdout_contains!r}" if stdout_contains else ""), **evidence)


@check("container.logs_contain", name=NAME, text=Param(str, doc="text the log must contain"),
       tail=Param(int, default=200, doc="how many of the last lines to search"))
def logs_contain(ctx, name, text, tail=200):
    """The container's log contains the expected text."""
    ins = _inspect(ctx, name)
    cname = _cname(ins, name)
    logs = ctx.logs(cname, tail=tail)
    line = next((ln for ln in logs.splitlines() if text in ln), None)
    if line is not None:
        return ok(f"the log of {cname} contains {text!r}", line=_clip(line, 300))
    last = logs.strip().splitlines()[-3:]
    if not last:
        return fail(f"container {cname} has logged nothing; expected {text!r} in its log", reason="missing_text",
                    hint=f"a container's log is what its main process writes to stdout/stderr; is it "
                         f"{_state_text(ins)} as it should be? docker logs {cname}", log_tail="")
    return fail(f"the last {tail} log lines of {cname} do not contain {text!r}; they end with: {' | '.join(last)!r}",
                reason="missing_text", hint=f"docker logs {cname} shows the whole log", log_tail="\n".join(last))
