"""What a container will mount now: start, restart, docker cp, and restart policies on containers with binds."""

from __future__ import annotations

import json
import os
import re

from .policy import Policy, Refusal, _cap_list, _in_workspace, _link_in_workspace


# --- what a container will mount now: start, restart, docker cp, restart policies ---------------------------
# dockerd resolves bind sources by path when it mounts them, so these read the container's own files in
# the data-root (no API call: the plugin must not call the daemon that waits on it). Lookup as dockerd's
# GetContainer: full id, then name, then unique id prefix.
_NO_RESTART = ("", "no")


def find_container(data_root: str, ref: str) -> str | None:
    """The folder of the container ``ref`` (full id, name or unique id prefix) in the data-root, or None.

    Raises OSError if the containers folder cannot be read."""
    root = os.path.join(data_root, "containers")
    if re.fullmatch(r"[0-9a-f]{64}", ref) and os.path.isdir(os.path.join(root, ref)):
        return os.path.join(root, ref)
    ids = os.listdir(root)
    name = ref if ref.startswith("/") else "/" + ref
    needle = json.dumps(name).encode()  # names are [a-zA-Z0-9][a-zA-Z0-9_.-]*: no escaping differences
    for cid in ids:
        try:
            with open(os.path.join(root, cid, "config.v2.json"), "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:  # removed meanwhile
            continue
        if needle in raw and json.loads(raw).get("Name") == name:
            return os.path.join(root, cid)
    matches = [cid for cid in ids if re.fullmatch(r"[0-9a-f]+", ref) and cid.startswith(ref)]
    return os.path.join(root, matches[0]) if len(matches) == 1 else None


def container_binds(folder: str) -> list[str]:
    """The bind sources a container mounts (its own and those of --volumes-from)."""
    with open(os.path.join(folder, "config.v2.json"), "rb") as fh:
        config = json.load(fh)
    with open(os.path.join(folder, "hostconfig.json"), "rb") as fh:
        hc = json.load(fh)
    sources = [m.get("Source") or "" for m in (config.get("MountPoints") or {}).values()
               if (m.get("Type") or "").lower() == "bind"]  # what dockerd mounts, --volumes-from included
    sources += [b.split(":", 1)[0] for b in hc.get("Binds") or [] if ":" in b and b.startswith("/")]
    sources += [m.get("Source") or "" for m in hc.get("Mounts") or [] if (m.get("Type") or "").lower() == "bind"]
    return list(dict.fromkeys(sources))


def _unreadable(doing: str, ref: str, exc: Exception) -> Refusal:
    if isinstance(exc, LookupError):
        return Refusal(f"{doing} the container {ref}", "the seal's settings do not say where the daemon keeps "
                       "its containers, so the host folders it mounts cannot be checked",
                       "run: dockyard up (it rewrites the settings)")
    return Refusal(f"{doing} the container {ref}",
                   f"the sandbox could not read which host folders it mounts ({type(exc).__name__}: {exc})",
                   "try again; if it persists, remove the container and create it again")


def _binds_now(policy: Policy, ref: str, doing: str) -> tuple[list[str] | None, Refusal | None]:
    """(the bind sources container ``ref`` mounts now, None if there is no such container; None), or
    (None, the Refusal) if they cannot be read."""
    if not policy.data_root:
        return None, _unreadable(doing, ref, LookupError("data_root"))
    try:
        folder = find_container(policy.data_root, ref)
        return (container_binds(folder) if folder else None), None
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        return None, _unreadable(doing, ref, exc)


def check_mounts_now(policy: Policy, ref: str, doing: str) -> Refusal | None:
    """Refuse a start, restart or docker cp if a bind source now leaves the workspace or passes a link."""
    sources, refusal = _binds_now(policy, ref, doing)
    if refusal:
        return refusal
    if sources is None:
        if "/" in ref.strip("/"):  # a link alias dockerd resolves and this lookup does not
            return Refusal(f"{doing} the container {ref} by a link alias", "the sandbox cannot check "
                           "which host folders it mounts", "use the container's name or id")
        return None  # dockerd answers "No such container"
    for source in sources:
        if not _in_workspace(policy, source):
            return Refusal(f"{doing} the container {ref}",
                           f"its bind source {source} now leads to {os.path.realpath(source)}, outside the "
                           "workspace: the folder was replaced by a link that leaves the workspace after the "
                           "container was created",
                           "remove the container and create it again with a real folder (docker rm, then "
                           "docker run -v with a folder inside the workspace)")
        link = _link_in_workspace(policy, source)
        if link:
            return Refusal(f"{doing} the container {ref}",
                           f"the folder {link} of its bind source {source} was replaced by a link "
                           f"(to {os.path.realpath(link)}) after the container was created",
                           "remove the container and create it again with a real folder")
    return None


def _restart_refusal(kind: str, source: str) -> Refusal:
    return Refusal(f"the restart policy {kind} on a container that binds the host folder {source}",
                   "dockerd restarts such a container on its own, without this sandbox checking the folder again",
                   "use a named volume with the restart policy (-v mydata:/data), or bind the folder "
                   "without --restart")


def _restart_kind(hc: dict) -> str:
    rp = hc.get("restartpolicy")
    return str((rp.get("name") if isinstance(rp, dict) else "") or "")


def _restart_with_binds(policy: Policy, hc: dict) -> Refusal | None:
    kind = _restart_kind(hc)
    if kind in _NO_RESTART:
        return None
    sources = [s.split(":", 1)[0] for s in _cap_list(hc.get("binds")) if ":" in s and s.startswith("/")]
    sources += [str(m.get("source") or "") for m in hc.get("mounts") or []
                if isinstance(m, dict) and str(m.get("type") or "").lower() == "bind"]
    if sources:
        return _restart_refusal(kind, sources[0])
    for ref in _cap_list(hc.get("volumesfrom")):
        ref = ref.rsplit(":", 1)[0] if ref.endswith((":ro", ":rw")) else ref
        theirs, refusal = _binds_now(policy, ref, "--volumes-from")
        if refusal or theirs:
            return refusal or _restart_refusal(kind, theirs[0])
    return None


def check_update(policy: Policy, ref: str, body: dict) -> Refusal | None:
    """docker update changes resources and the restart policy (no mounts): a restart policy needs no binds."""
    kind = _restart_kind(body)
    if kind in _NO_RESTART:
        return None
    sources, refusal = _binds_now(policy, ref, "docker update --restart on")
    return refusal or (_restart_refusal(kind, sources[0]) if sources else None)
