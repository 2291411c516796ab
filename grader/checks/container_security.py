"""Checks on a container's hardening: its user, capabilities, read-only root filesystem and no_new_privs.

Each check compares what ``docker inspect`` says was asked for with what the kernel applies to the
container's main process, read from ``/proc/<pid>/status`` on the sandbox's host (the grader runs as
root there; else the same file is read inside the container with ``docker exec``). A flag that reads
well in inspect but changes nothing (``--cap-drop ALL`` with every default added back,
``no-new-privileges:false``, a user whose uid is 0) fails on the kernel's answer.
"""

from __future__ import annotations

import re

from dockyard.procstatus import Ids, decode_caps, gids, norm_cap, parse_status, uids

from . import container as C
from .base import Failed, Param, check, fail, ok
from .container import NAME, _cname, _inspect, _running

PROBE_FILE = ".dockyard-probe"


def main_status(ctx, ins: dict, doing: str) -> tuple[dict, str]:
    """(parsed /proc/<pid>/status of the container's main process, where it was read)."""
    _running(ctx, ins, ins.get("Name", "").lstrip("/"), doing)
    pid = (ins.get("State") or {}).get("Pid")
    # the kernel's own record, read by the grader on the host, of the process in this container's cgroup; never
    # a `cat` inside the container (the hand-in's own binary could print any status it likes)
    try:
        cgroup = (C.PROC / str(pid) / "cgroup").read_text()
        text = (C.PROC / str(pid) / "status").read_text()
        if ins.get("Id") and ins["Id"] not in cgroup:
            raise OSError("not the container's process any more")
        return parse_status(text), f"/proc/{pid}/status on the host"
    except OSError as exc:
        raise Failed(fail(f"could not read the status of {_cname(ins, '')}'s main process ({exc})",
                          reason="unreadable", hint="is the container still running? docker ps -a")) from None


# --- the user ----------------------------------------------------------------------------
_ROOT = re.compile(r"^(|0|root)(:.*)?$")


@check("container.user", name=NAME, uid=Param(int, default=None, doc="the uid it must run as (default: any but 0)"))
def user(ctx, name, uid=None):
    """The container's main process runs as a non-root user, with no uid 0 it could take back."""
    ins = _inspect(ctx, name)
    cname = _cname(ins, name)
    configured = (ins.get("Config") or {}).get("User") or ""
    status, where = main_status(ctx, ins, "reading the uid of its process")
    ids = uids(status)
    real = ids.real
    shown = repr(configured) if configured else "not set (the image's default, root)"
    evidence = {"configured_user": configured, "uid": real, "euid": ids.effective, "uids": list(ids),
                "gids": list(gids(status)), "read_from": where}
    if ids.has_zero():
        return _root_user(cname, configured, shown, ids, evidence)
    if uid is not None and real != uid:
        return fail(f"{cname} runs as uid {real}; expected uid {uid}", reason="wrong_uid", **evidence,
                    hint=f"docker run --user {uid} ... (a name resolves to whatever uid the image's /etc/passwd gives)")
    return ok(f"{cname} runs as uid {real} (user {shown}, read from {where})", **evidence)


def _root_user(cname: str, configured: str, shown: str, ids: Ids, evidence: dict):
    """The failure for a process one of whose four uids is 0, by which of them."""
    real, eff = ids.real, ids.effective
    if 0 not in (real, eff):
        # seteuid(1000) by a root process keeps 0 as the saved uid: setuid(0) makes it root again at any time
        return fail(f"{cname} runs with {ids.text()}: the process can take root back; expected no uid 0",
                    reason="saved_root", **evidence,
                    hint="the program gave up only its effective uid and kept 0 as its saved (or filesystem) uid. "
                         "Start it as the unprivileged user instead (docker run --user 10001 ..., or USER 10001 in "
                         "the Dockerfile), so no uid of it is ever 0; a program that must start as root drops it "
                         "for good with setresuid(uid, uid, uid), not seteuid")
    if _ROOT.match(configured.strip().lower()):
        return fail(f"{cname} runs as root (uid {real}); its user is {shown}; expected a non-root user",
                    reason="root", **evidence,
                    hint="run it as an unprivileged user: docker run --user 10001 ... (or USER 10001 in the "
                         "Dockerfile); --user root, --user 0 or 0:0 are root")
    return fail(f"{cname} runs as uid {real} (euid {eff}): the user {configured!r} is root by its uid, whatever "
                f"its name; expected a non-root uid", reason="uid_zero", **evidence,
                hint=f"a user name means nothing to the kernel, only its uid does: the image's /etc/passwd gives "
                     f"{configured!r} uid 0. Use a numeric uid that is not 0 (--user 10001), or create the user "
                     f"without -o -u 0")


# --- capabilities ------------------------------------------------------------------------
def _names(value) -> list[str]:
    if isinstance(value, str):
        value = [value]
    return [norm_cap(c) for c in value or []]


@check("container.capabilities", name=NAME,
       allow=Param(list, default=[], doc="capabilities that may stay (default: none)"),
       require=Param(list, default=[], doc="capabilities that must stay"))
def capabilities(ctx, name, allow=(), require=()):
    """Every capability is dropped but the ones allowed, as configured and in the kernel's bounding set."""
    ins = _inspect(ctx, name)
    cname = _cname(ins, name)
    hc = ins.get("HostConfig") or {}
    drop, add = _names(hc.get("CapDrop")), _names(hc.get("CapAdd"))
    allow = {norm_cap(c) for c in allow} | {norm_cap(c) for c in require}
    require = {norm_cap(c) for c in require}
    status, where = main_status(ctx, ins, "reading its capabilities")
    bnd, eff = decode_caps(status.get("CapBnd", "0")), decode_caps(status.get("CapEff", "0"))
    evidence = {"cap_drop": drop, "cap_add": add, "CapBnd": bnd, "CapEff": eff, "read_from": where}
    keep = " ".join(f"--cap-add {c}" for c in sorted(require)) or ""
    flags = f"--cap-drop ALL {keep}".strip()
    extra = [c for c in bnd if c not in allow]
    if "ALL" not in drop and extra:
        dropped = f"it drops only {', '.join(drop)}" if drop else "it drops none"
        return fail(f"{cname} keeps {len(extra)} capabilities ({', '.join(extra)}): {dropped}; expected "
                    f"{'only ' + ', '.join(sorted(allow)) if allow else 'none'}", reason="not_dropped", **evidence,
                    hint=f"drop them all and add back only what the program needs: docker run {flags} ...")
    if extra:
        return fail(f"{cname} drops ALL but adds back {', '.join(extra)}: its bounding set is {', '.join(bnd)}; "
                    f"expected {'only ' + ', '.join(sorted(allow)) if allow else 'nothing'}", reason="added_back",
                    **evidence,
                    hint=f"--cap-drop ALL followed by --cap-add of the defaults is the default set again: keep only "
                         f"{flags} (a non-root process has no effective capabilities anyway)")
    missing = sorted(require - set(bnd))
    if missing:
        return fail(f"{cname} lacks {', '.join(missing)} (bounding set: {', '.join(bnd) or 'empty'}); expected it "
                    f"kept", reason="missing_cap", **evidence, hint=f"docker run {flags} ...")
    return ok(f"{cname}: bounding set {', '.join(bnd) or 'empty'}, effective {', '.join(eff) or 'empty'} "
              f"(read from {where})", **evidence)


# --- no_new_privs ------------------------------------------------------------------------
_NNP = re.compile(r"^no-new-privileges(?:[=:](true|false))?$")


@check("container.no_new_privileges", name=NAME)
def no_new_privileges(ctx, name):
    """The container runs with no_new_privs: setuid binaries and file capabilities raise no privileges."""
    ins = _inspect(ctx, name)
    cname = _cname(ins, name)
    opts = [str(o).strip() for o in (ins.get("HostConfig") or {}).get("SecurityOpt") or []]
    asked = [o for o in opts if _NNP.match(o.lower())]
    status, where = main_status(ctx, ins, "reading NoNewPrivs")
    flag = status.get("NoNewPrivs", "?")
    evidence = {"security_opt": opts, "NoNewPrivs": flag, "read_from": where}
    if flag == "1":
        return ok(f"{cname} has NoNewPrivs 1 (security options: {', '.join(opts) or 'none'}; read from {where})",
                  **evidence)
    if asked and _NNP.match(asked[-1].lower()).group(1) == "false":
        return fail(f"{cname} asks for {asked[-1]!r}, which switches it off: NoNewPrivs is {flag}; expected 1",
                    reason="set_false", **evidence,
                    hint="no-new-privileges:false means off; use --security-opt no-new-privileges "
                         "(or no-new-privileges:true)")
    if not asked:
        odd = [o for o in opts if "new" in o.lower() or "priv" in o.lower()]
        extra = f" ({', '.join(odd)} is not how Docker spells it)" if odd else ""
        return fail(f"{cname} has no no-new-privileges security option{extra}: NoNewPrivs is {flag}; expected 1",
                    reason="not_set", **evidence, hint="docker run --security-opt no-new-privileges ...")
    return fail(f"{cname} asks for {asked[-1]!r} but its process has NoNewPrivs {flag}; expected 1",
                reason="not_enforced", **evidence, hint=f"create the container again: docker rm -f {cname}")


# --- the read-only root filesystem -------------------------------------------------------
def writable_mounts(ins: dict) -> list[tuple[str, str]]:
    """(destination, kind) of every mount a process in the container may write to."""
    out = []
    for m in ins.get("Mounts") or []:
        if m.get("RW"):
            out.append((m.get("Destination") or "", m.get("Type") or "?"))
    for dest, opts in ((ins.get("HostConfig") or {}).get("Tmpfs") or {}).items():
        if "ro" not in [o.strip() for o in str(opts or "").split(",")] and all(d != dest for d, _k in out):
            out.append((dest, "tmpfs"))
    return sorted(set(out))


_PROBE = ('for d in "$@"; do if (: > "$d/' + PROBE_FILE + '") 2>/dev/null; then rm -f "$d/' + PROBE_FILE +
          '"; echo "WROTE $d"; else (: > "$d/' + PROBE_FILE + '") 2>&1 | tail -n 1; fi; done')


@check("container.read_only", name=NAME,
       writable=Param(list, default=[], doc="mount points that may be writable (e.g. [/tmp])"),
       probe=Param(list, default=["/"], doc="folders where the grader's write, as root, must fail"))
def read_only(ctx, name, writable=(), probe=("/",)):
    """The root filesystem is read-only: nothing is writable but the allowed mounts, and a write as root fails."""
    ins = _inspect(ctx, name)
    cname = _cname(ins, name)
    ro = bool((ins.get("HostConfig") or {}).get("ReadonlyRootfs"))
    mounts = writable_mounts(ins)
    extra = [(d, k) for d, k in mounts if d not in writable]
    evidence = {"ReadonlyRootfs": ro, "writable_mounts": [f"{d} ({k})" for d, k in mounts]}
    if not ro:
        return fail(f"{cname}'s root filesystem is writable (ReadonlyRootfs false); expected read-only",
                    reason="writable_root", **evidence,
                    hint="docker run --read-only --tmpfs /tmp ... (a tmpfs where the program must write)")
    if extra:
        shown = ", ".join(f"{d} ({k})" for d, k in extra)
        return fail(f"{cname} has a read-only root but writable mounts over {shown}; expected none but "
                    f"{', '.join(writable) or 'none'}", reason="writable_mount", **evidence,
                    hint=f"a writable mount undoes --read-only below it: whoever gets into {cname} can change what "
                         f"is there (its code, its configuration). Keep only "
                         f"{' '.join('--tmpfs ' + w for w in writable) or 'no writable mounts'}")
    _running(ctx, ins, name, "trying a write in it")
    code, out = ctx.exec(cname, ["sh", "-c", _PROBE, "sh", *probe], user="0")
    evidence.update(probe_output=out.strip()[:500])
    wrote = [ln.split(" ", 1)[1] for ln in out.splitlines() if ln.startswith("WROTE ")]
    if wrote:
        return fail(f"a write as root in {', '.join(wrote)} of {cname} succeeded; expected Read-only file system",
                    reason="wrote", **evidence, hint=f"nothing may be writable there: docker rm -f {cname} and run "
                                                     "it again with --read-only and no mount over that folder")
    if code != 0 or out.count("Read-only file system") < len(probe):
        return fail(f"the grader's write in {', '.join(probe)} of {cname} did not fail with Read-only file system: "
                    f"{out.strip()[:200]!r}", reason="probe_failed", **evidence,
                    hint=f"the grader needs sh in the container; run it yourself: docker exec -u 0 {cname} touch /x")
    return ok(f"{cname}: read-only root; a write as root in {', '.join(probe)} fails with Read-only file system; "
              f"writable: {', '.join(f'{d} ({k})' for d, k in mounts) or 'nothing'}", **evidence)
