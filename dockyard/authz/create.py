"""POST /containers/create: the host settings and mounts a new container asks for."""

from __future__ import annotations

import os
import re

from .mounts import _restart_with_binds
from .policy import (ALLOWED_CAPS, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, LOG_DRIVERS, TEACHING_CAPS, Policy,
                     Refusal, _cap_list, _in_workspace, _link_in_workspace)


# --- POST /containers/create ----------------------------------------------------------------------
def check_create(policy: Policy, body: dict) -> Refusal | None:
    inner = body.get("hostconfig")
    for hc in ([inner] if isinstance(inner, dict) else []) + [body]:
        refusal = check_host_config(policy, hc) or _restart_with_binds(policy, hc)
        if refusal:
            return refusal
    return None


def check_host_config(policy: Policy, hc: dict) -> Refusal | None:
    for check_one in (_privileged, _namespaces, _devices, _capabilities, _security_opts, _system_paths,
                      _cgroup_parent, _drivers, _log_driver, _ports):
        refusal = check_one(hc)
        if refusal:
            return refusal
    return _binds(policy, hc) or _mounts(policy, hc)


def _privileged(hc: dict) -> Refusal | None:
    if hc.get("privileged"):
        return Refusal("docker run --privileged", "a privileged container has every device and capability "
                       "of the host and can take it over",
                       "add only the capability the exercise needs, e.g. --cap-add NET_ADMIN")
    return None


_NAMESPACE_FLAGS = (("pidmode", "--pid"), ("ipcmode", "--ipc"), ("utsmode", "--uts"), ("usernsmode", "--userns"),
                    ("networkmode", "--network"))


def _namespaces(hc: dict) -> Refusal | None:
    for key, flag in _NAMESPACE_FLAGS:
        if str(hc.get(key) or "").strip().lower() == "host":
            if key == "usernsmode":  # Docker's --userns takes only "host": it switches a daemon's remapping off
                fix = ("leave --userns out: it only turns off a daemon's --userns-remap (this one has none, so "
                       "containers already run in the host's user namespace: lesson 11)")
            elif key == "utsmode":  # --uts takes only "host"
                fix = "leave --uts out, and name the container's host with --hostname"
            else:
                fix = (f"share another container's namespace with {flag} container:<name>"
                       + (", or use the default bridge or a user network" if key == "networkmode" else ""))
            return Refusal(f"{flag} host", f"the container would share the host's {flag[2:]} namespace "
                           "and see (or change) what runs on the host", fix)
    return None


def _devices(hc: dict) -> Refusal | None:
    for key, flag in (("devices", "--device"), ("devicerequests", "--gpus"),
                      ("devicecgrouprules", "--device-cgroup-rule")):
        if hc.get(key):
            return Refusal(f"docker run {flag}", "host devices are not available in this sandbox",
                           "work with files and volumes; a device is not needed for the exercises")
    return None


def _norm_cap(cap: str) -> str:
    c = cap.strip().upper()
    return c[4:] if c.startswith("CAP_") else c


def _capabilities(hc: dict) -> Refusal | None:
    for key in ("capadd", "capabilities"):  # Capabilities (API 1.40) replaces the default set
        for cap in _cap_list(hc.get(key)):
            if _norm_cap(cap) not in ALLOWED_CAPS:
                return Refusal(f"--cap-add {cap}", "this capability lets a container act on the host's kernel "
                               "or files",
                               "the sandbox allows Docker's default capabilities plus "
                               + ", ".join(sorted(TEACHING_CAPS)))
    return None


_SAFE_SECURITY_OPTS = re.compile(r"^(no-new-privileges([=:](true|false))?|apparmor[=:]docker-default)$")


def _security_opts(hc: dict) -> Refusal | None:
    for opt in _cap_list(hc.get("securityopt")):
        if not _SAFE_SECURITY_OPTS.match(opt.strip().lower()):
            shown = opt.split("=", 1)[0] + "=(a custom profile)" if "{" in opt or len(opt) > 60 else opt
            return Refusal(f"--security-opt {shown}", "it switches off or replaces the confinement "
                           "(seccomp, AppArmor, SELinux, masked /proc paths) that keeps a container off the host",
                           "leave the default profile on; --security-opt no-new-privileges is allowed")
    return None


def _system_paths(hc: dict) -> Refusal | None:
    for key, defaults in (("maskedpaths", DEFAULT_MASKED_PATHS), ("readonlypaths", DEFAULT_READONLY_PATHS)):
        value = hc.get(key)
        if value is not None and not defaults <= set(_cap_list(value)):
            return Refusal(f"a custom {'MaskedPaths' if key == 'maskedpaths' else 'ReadonlyPaths'} list",
                           "it unmasks parts of /proc and /sys that describe or change the host",
                           "leave MaskedPaths and ReadonlyPaths unset")
    return None


def _cgroup_parent(hc: dict) -> Refusal | None:
    if hc.get("cgroupparent"):
        return Refusal(f"--cgroup-parent {hc['cgroupparent']}", "the container would leave the sandbox's "
                       "memory, CPU and process caps", "leave --cgroup-parent out; use -m, --cpus, --pids-limit")
    return None


_DRIVERS = (("runtime", "--runtime", ("", "runc"), "only the default runtime (runc) is set up in this sandbox"),
            ("volumedriver", "--volume-driver", ("", "local"), "only local volumes exist in this sandbox"))


def _drivers(hc: dict) -> Refusal | None:
    for key, flag, allowed, why in _DRIVERS:
        if (hc.get(key) or "") not in allowed:
            return Refusal(f"{flag} {hc[key]}", why, f"leave {flag} out")
    return None


def _log_driver(hc: dict) -> Refusal | None:
    cfg = hc.get("logconfig")
    kind = (cfg.get("type") or "") if isinstance(cfg, dict) else ""
    if kind not in LOG_DRIVERS:
        return Refusal(f"--log-driver {kind}", "that driver makes the daemon write to the host's logs or "
                       "send them over the network", "use the default json-file driver (or local) and docker logs")
    return None


def _ports(hc: dict) -> Refusal | None:
    bindings = hc.get("portbindings")
    for port, binds in (bindings.items() if isinstance(bindings, dict) else ()):
        for b in binds or []:
            ip = (b.get("hostip") or "") if isinstance(b, dict) else ""
            if ip not in ("", "127.0.0.1"):
                host_port = b.get("hostport") or ""
                return Refusal(f"-p {ip}:{host_port}:{port.split('/')[0]}",
                               "ports are published on this machine's loopback only, never on its network",
                               f"publish with -p 127.0.0.1:{host_port or '8080'}:{port.split('/')[0]} (on a normal "
                               f"install that keeps it off the network too) and open http://127.0.0.1:<port>/")
    return None


def _source_refusal(policy: Policy, source: str, spec: str) -> Refusal | None:
    if not _in_workspace(policy, source):
        return _bind_refusal(policy, source or "(none)", spec)
    link = _link_in_workspace(policy, source)
    if link:
        return Refusal(f"binding the host folder {source} ({spec})",
                       f"{link} is a symbolic link inside the workspace, and a link can be pointed elsewhere "
                       "before dockerd mounts it", f"bind the real folder: -v {os.path.realpath(source)}:...")
    return None


def _bind_refusal(policy: Policy, source: str, spec: str) -> Refusal:
    where = ", ".join(policy.workspace) or "none yet"
    return Refusal(f"binding the host folder {source} ({spec})",
                   f"containers may bind only folders of the sandbox's workspace (now: {where})",
                   "use a named volume (-v mydata:/data), or put the files in your workspace folder "
                   "(a teacher adds one with: dockyard up --workspace DIR)")


def _binds(policy: Policy, hc: dict) -> Refusal | None:
    for spec in _cap_list(hc.get("binds")):
        source = spec.split(":", 1)[0]
        # like dockerd's Linux parser: an absolute source is a host path, anything else a volume name
        if ":" in spec and source.startswith("/"):
            refusal = _source_refusal(policy, source, f"-v {spec}")
            if refusal:
                return refusal
    return None


def _mounts(policy: Policy, hc: dict) -> Refusal | None:
    for mnt in hc.get("mounts") or []:
        if not isinstance(mnt, dict):
            return Refusal("a --mount that is not an object", "it cannot be checked", "use --mount type=volume,...")
        kind = str(mnt.get("type") or "").lower()
        source = str(mnt.get("source") or "")
        if kind == "bind":
            refusal = _source_refusal(policy, source, f"--mount type=bind,source={source}")
            if refusal:
                return refusal
        elif kind == "volume":
            driver = ((mnt.get("volumeoptions") or {}).get("driverconfig") or {})
            if (driver.get("name") or "") not in ("", "local") or driver.get("options"):
                return Refusal("a --mount with volume driver options",
                               "options such as type=nfs, o=bind or device= mount host paths or network shares",
                               "use a plain named volume: --mount type=volume,source=mydata,target=/data")
        elif kind != "tmpfs":
            return Refusal(f"--mount type={kind or '(none)'}", "only volume, bind (workspace) and tmpfs mounts "
                           "exist in this sandbox", "use --mount type=volume or type=tmpfs")
    return None

