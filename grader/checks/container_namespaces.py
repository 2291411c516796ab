"""Checks on a container's namespaces: host, private, or shared with another container.

``docker inspect`` says what was asked for; the kernel's ``/proc/<pid>/ns/<kind>`` links say what is in
force (the grader runs as root on the sandbox's host). When the links cannot be read, the configuration
is taken as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

from dockyard.errors import ContainerNotFound

from .base import Failed, Param, check, fail, ok
from .container import NAME, PROC, _cname, _inspect, _not_running, _running


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
