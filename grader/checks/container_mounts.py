"""Checks on a container's mounts: a volume, a bind mount or a tmpfs at a path, read-only or read-write."""

from __future__ import annotations

import os
import re

from .base import Param, check, fail, ok
from .container import NAME, _cname, _inspect


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
