"""Who wrote the data a container reads: proof that does not rest on a name a student can type.

A hostname is only a string: ``--hostname notes-v1``, or a row whose ``host`` says "notes-v1",
fakes it. What the daemon and the kernel record cannot be typed in: which containers mounted a
volume (the daemon's ``mount`` events, by container id) and when a file last changed (its ctime,
which only the kernel sets) against when its writer was created and finished.
"""

from __future__ import annotations

import datetime
import re
import shlex

from dockyard.errors import ContainerNotFound

from .base import Failed, Param, check, fail, ok
from .container import NAME, _cname, _clip, _inspect, _running


def iso_ns(stamp: str | None) -> int | None:
    """Docker's (and busybox stat's) time stamps, to nanoseconds since the epoch; None when unset."""
    m = re.match(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?\s*(Z|[+-]\d\d:?\d\d)?", stamp or "")
    if not m or m.group(1).startswith("0001"):
        return None
    zone = (m.group(4) or "Z").replace("Z", "+00:00")
    if ":" not in zone:
        zone = zone[:3] + ":" + zone[3:]
    t = datetime.datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}{zone}")
    return int(t.timestamp()) * 10**9 + int((m.group(3) or "0")[:9].ljust(9, "0"))


def _clock(ns: int | None) -> str:
    if ns is None:
        return "?"
    t = datetime.datetime.fromtimestamp(ns / 1e9, datetime.timezone.utc)
    return t.strftime("%H:%M:%S.") + f"{ns % 10**9 // 10**6:03d}"


def _exists(ctx, cid: str) -> dict | None:
    try:
        return ctx.container(cid)
    except ContainerNotFound:
        return None


def _hosts_read(ctx, cname: str, command) -> tuple[list[str], dict]:
    """The hostnames the reading command prints, one a line, and the evidence of its run; a command that fails,
    or finds no record, ends the check."""
    shown = command if isinstance(command, str) else " ".join(command)
    code, out = ctx.exec(cname, command)
    hosts = [ln.strip() for ln in out.splitlines() if ln.strip()]
    evidence = {"command": shown, "exit_code": code, "hosts": hosts[:50]}
    if code != 0:
        raise Failed(fail(f"`{shown}` in {cname} exited with {code}; output: {_clip(out, 200)!r}",
                          reason="wrong_exit_code", hint=f"run it yourself to see why: docker exec {cname} {shown}",
                          **evidence))
    if not hosts:
        raise Failed(fail(f"{cname} finds no records; expected some written by another container",
                          reason="no_records",
                          hint="the records were not saved where the volume is mounted, or never committed",
                          **evidence))
    return hosts, evidence


def _mounted_by(ctx, volume: str, me: str) -> list[str]:
    """Every other container the daemon mounted the volume into, by id, first mount first: the only writers the
    data can have."""
    mounted = []
    for ev in ctx.events(type="volume", event="mount", volume=volume):
        cid = (ev.get("Actor") or {}).get("Attributes", {}).get("container")
        if cid and cid != me and cid not in mounted:
            mounted.append(cid)
    return mounted


def _writers_by_hostname(ctx, mounted: list[str]) -> dict[str, tuple[str, dict | None]]:
    """hostname -> (id, inspect or None when removed) of each container that mounted the volume: a removed one
    is known by the start of its id (the hostname it had unless started with --hostname), a living one also by
    the hostname it has."""
    writers = {}
    for cid in mounted:
        alive = _exists(ctx, cid)
        names = {cid[:12]} | ({alive["Config"].get("Hostname")} if alive else set())
        for h in names - {None, ""}:
            writers[h] = (cid, alive)
    return writers


def _by_writer_and_strangers(hosts: list[str], writers: dict, own: str) -> tuple[list[str], list[str]]:
    """The records' hosts that name a writer (in record order), and the distinct ones that name neither a writer
    nor the reader itself (sorted)."""
    return [h for h in hosts if h in writers], sorted(set(hosts) - set(writers) - {own})


def _no_writer(cname: str, volume: str, evidence: dict):
    return fail(f"no container but {cname} mounted {volume}, as far as the daemon's event log (its last 256 "
                f"events) reaches, so no record in it can come from another container", reason="no_writer",
                hint=f"write the records in another container with {volume} mounted, then start {cname}; if you "
                     f"did, long ago, run the task's cells again", **evidence)


def _none_by_a_writer(cname: str, volume: str, hosts: list[str], own: str, mounted: list[str],
                      strangers: list[str], evidence: dict):
    """No record names a writer: the hosts are strangers' (typed in), or the reader's own."""
    if strangers:
        return fail(f"{len(hosts)} records in {cname}, but their hosts ({', '.join(strangers[:3])}) are not the "
                    f"hostname of any container that mounted {volume} (the daemon saw it mounted by "
                    f"{', '.join(c[:12] for c in mounted) or 'no other container'}); expected records written "
                    f"by one of those", reason="not_a_writer", **evidence,
                    hint="a hostname is only a string: write the records from inside the first container, "
                         "storing the hostname it really has (socket.gethostname(): the start of its id, "
                         "when it was started without --hostname)")
    return fail(f"all {len(hosts)} records in {cname} were written by {cname} itself ({own}); expected records "
                f"from another container", reason="own_records", **evidence,
                hint=f"write them in the first container, then remove it and start {cname} on the same volume")


def _writer_exists(cid: str, alive: dict, evidence: dict):
    return fail(f"the records were written by {_cname(alive, cid)} ({cid[:12]}), which still exists; expected "
                f"them to outlive it", reason="writer_exists", **evidence,
                hint=f"remove it (docker rm -f {_cname(alive, cid)}): the point is that the data outlives it")


@check("container.written_by_others", name=NAME,
       command=Param((list, str), doc="prints, one a line, the hostname stored with each record it reads "
                                      "(e.g. a SELECT host FROM notes)"),
       volume=Param(str, doc="the volume the records live on: their writers must have mounted it"),
       removed=Param(bool, default=True, doc="the writers must be gone (the data outlived them)"))
def written_by_others(ctx, name, command, volume, removed=True):
    """The records the container reads were written by another container that mounted the volume."""
    ins = _inspect(ctx, name)
    cname, me = _cname(ins, name), ins["Id"]
    _running(ctx, ins, name, "reading the records in it")
    hosts, evidence = _hosts_read(ctx, cname, command)
    mounted = _mounted_by(ctx, volume, me)
    evidence["mounted_by"] = [c[:12] for c in mounted]
    if not mounted:
        return _no_writer(cname, volume, evidence)
    own = (ins.get("Config") or {}).get("Hostname") or me[:12]
    writers = _writers_by_hostname(ctx, mounted)
    by_writer, strangers = _by_writer_and_strangers(hosts, writers, own)
    evidence.update(counted=len(by_writer), strangers=strangers[:10])
    if not by_writer:
        return _none_by_a_writer(cname, volume, hosts, own, mounted, strangers, evidence)
    cid, alive = writers[by_writer[0]]
    if removed and alive:
        return _writer_exists(cid, alive, evidence)
    gone = ", which mounted it and has been removed" if not alive else ", which mounted it"
    return ok(f"{len(by_writer)} of {len(hosts)} records in {cname} were written by container {cid[:12]}{gone} "
              f"({volume})", writer=cid[:12], **evidence)


def _mount_at(ins: dict, path: str) -> dict | None:
    """The mount of ``ins`` that holds ``path`` (the deepest destination above it)."""
    best = None
    for m in ins.get("Mounts") or []:
        dest = (m.get("Destination") or "").rstrip("/") or "/"
        if path == dest or path.startswith(dest.rstrip("/") + "/"):
            if best is None or len(dest) > len(best.get("Destination") or ""):
                best = m
    return best


def _identity(m: dict | None) -> str | None:
    if not m:
        return None
    return f"volume {m.get('Name')}" if m.get("Type") == "volume" else f"{m.get('Type')} {m.get('Source')}"


def _shown(identity: str | None) -> str | None:
    """An anonymous volume's 64-digit name shortened, as docker ps shortens ids."""
    return re.sub(r"\b([0-9a-f]{12})[0-9a-f]{52}\b", r"\1", identity) if identity else identity


def _writer(ctx, writer: str, path: str) -> dict:
    """The writer's inspect data; a writer that is gone ends the check (its mount can no longer be compared)."""
    try:
        return ctx.container(writer)
    except ContainerNotFound:
        raise Failed(fail(f"there is no container {writer} (the writer of {path})", reason="no_writer",
                          hint=f"keep {writer}: an exited container keeps its volumes; only docker rm deletes it")) from None


def _other_mount(cname: str, wname: str, path: str, evidence: dict):
    return fail(f"{path} in {cname} is on {evidence['mount'] or 'its own filesystem'}, {wname} wrote to "
                f"{evidence['writer_mount'] or 'its own filesystem'}; expected the same mount in both",
                reason="other_mount", **evidence,
                hint=f"give {wname} a volume there and start {cname} with --volumes-from {wname} (or the same "
                     f"named volume in both)")


def _read_with_ctime(ctx, cname: str, path: str) -> tuple[int, str, int | None, str]:
    """(exit code, output, when the kernel last saw the file change (None: unread), its text), read in the
    container."""
    code, out = ctx.exec(cname, ["sh", "-c", f"stat -c %z {shlex.quote(path)} && cat {shlex.quote(path)}"])
    lines = out.splitlines()
    changed = iso_ns(lines[0]) if code == 0 and lines else None
    return code, out, changed, "\n".join(lines[1:])


def _life(w: dict) -> tuple[int | None, int | None]:
    """When the container was created and finished, in ns; finished None while it runs (it may write until now)."""
    created, finished = iso_ns(w.get("Created")), iso_ns((w.get("State") or {}).get("FinishedAt"))
    if w["State"].get("Running"):
        finished = None
    return created, finished


def _outside(changed: int, created: int | None, finished: int | None) -> bool:
    return created is None or changed < created or (finished is not None and changed > finished)


def _window(created: int | None, finished: int | None) -> str:
    return f"{_clock(created)} to {_clock(finished) if finished else 'now'}"


def _not_by_writer(cname: str, wname: str, path: str, changed: int, window: str, evidence: dict):
    return fail(f"{path} last changed at {_clock(changed)}, outside {wname}'s life ({window}); expected it "
                f"written by {wname}", reason="not_by_writer", **evidence,
                hint=f"only {wname}'s own command may write it: a file written by {cname}, whatever it says, "
                     f"changes after {wname} has finished")


@check("container.file_from", name=NAME, path=Param(str, doc="the file, as the reading container sees it"),
       writer=Param(str, doc="the container that must have written it"),
       contains=Param(str, default=None, doc="text the file must contain"))
def file_from(ctx, name, path, writer, contains=None):
    """The file the container reads lies on the writer's own mount, and was last changed while the writer ran."""
    ins = _inspect(ctx, name)
    cname = _cname(ins, name)
    _running(ctx, ins, name, f"reading {path} in it")
    w = _writer(ctx, writer, path)
    wname = _cname(w, writer)
    mine, theirs = _mount_at(ins, path), _mount_at(w, path)
    evidence = {"mount": _shown(_identity(mine)), "writer_mount": _shown(_identity(theirs))}
    if not mine or not theirs or _identity(mine) != _identity(theirs):
        return _other_mount(cname, wname, path, evidence)
    code, out, changed, text = _read_with_ctime(ctx, cname, path)
    created, finished = _life(w)
    evidence.update(changed=_clock(changed), writer_created=_clock(created), writer_finished=_clock(finished),
                    content=_clip(text, 300))
    if code != 0 or changed is None:
        return fail(f"{cname} cannot read {path}: {_clip(out, 200)!r}", reason="missing", **evidence,
                    hint=f"{path} is not on the mount {cname} shares with {wname}, or {wname} never wrote it")
    if _outside(changed, created, finished):
        return _not_by_writer(cname, wname, path, changed, _window(created, finished), evidence)
    if contains is not None and contains not in text:
        return fail(f"{path} does not contain {contains!r}: {_clip(text, 200)!r}", reason="missing_output", **evidence,
                    hint=f"docker exec {cname} cat {path} shows what {wname} wrote")
    return ok(f"{path} in {cname} is on {evidence['mount']}, shared with {wname}, and last changed at "
              f"{_clock(changed)}, while {wname} ran ({_window(created, finished)})", **evidence)


__all__ = ["iso_ns", "written_by_others", "file_from"]
