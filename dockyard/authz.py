"""The seal: which Docker API requests a private sandbox refuses, as pure functions.

dockerd asks an authorization plugin (:mod:`dockyard.authz_server`) about every API
request; :func:`check` answers ``None`` (allow) or a :class:`Refusal` that the docker
CLI prints as ``Error response from daemon: authorization denied by plugin
dockyard-<name>: <what> is refused: <why>. Instead: <instead>``.

What is refused is whatever lets a container reach the host: privileged mode, host
namespaces, devices, capabilities beyond a teaching allowlist, switched-off
confinement, bind mounts outside the sandbox's workspace folders, ports published
beyond loopback, log drivers and volume drivers that make dockerd itself talk to the
network, networks outside the sandbox's address pool, plugins and swarm.

How dockerd decodes a request decides how we read it (moby 20.10):
- JSON keys match struct fields case-insensitively (Go's encoding/json, with
  Unicode folding: "ſecurityopt" is SecurityOpt), and the last duplicate wins, so
  keys are casefolded on parsing, keeping the last.
- /containers/create also reads HostConfig fields from the top level of the body
  (a deprecated embedded struct), so both places are checked.
- The body reaches the plugin only when Content-Type is exactly application/json
  and Content-Length is 1..1 MiB (a chunked body is not sent at all), so every
  endpoint whose body matters fails closed without one.
- API versions before 1.24 let ``POST /containers/{id}/start`` carry a new
  HostConfig: they are refused.
- A form-encoded body would be read as query parameters the plugin cannot see.

Bind sources are resolved by dockerd when it mounts them, not at create: at every
container start and restart, and at every ``docker cp`` (the archive endpoints mount
the container's volumes again, even for a stopped container). A learner or a hand-in
can write in its workspace folder, so a folder checked at create can be replaced by a
link to / before the start. So those requests check again what the container will mount,
read from the sandbox's data-root (:func:`check_mounts_now`), and restart policies are
refused on containers with binds (dockerd restarts those after an exit and at boot
without asking this plugin). A bind source that passes through a symbolic link under a
workspace folder is refused too: bind the real folder.

Known limit (a time-of-check/time-of-use race): between this check and dockerd's mount
there remain a few milliseconds in which a process writing in the workspace can still
swap a folder for a link. Closing it needs dockerd to resolve the mount itself below the
workspace (openat2 RESOLVE_BENEATH; no such option in 20.10).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import posixpath
import re
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

MAX_BODY = 1024 * 1024  # dockerd sends bodies below this size only

DOCKER_DEFAULT_CAPS = frozenset({
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP",
    "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
})
TEACHING_CAPS = frozenset({"NET_ADMIN", "SYS_PTRACE", "SYS_NICE", "IPC_LOCK", "NET_BROADCAST"})
ALLOWED_CAPS = DOCKER_DEFAULT_CAPS | TEACHING_CAPS

DEFAULT_MASKED_PATHS = frozenset({
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
})
DEFAULT_READONLY_PATHS = frozenset({"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"})

LOG_DRIVERS = ("", "json-file", "local", "none")  # the others write to the host or the network
NETWORK_OPTIONS = frozenset({
    "com.docker.network.bridge.enable_icc", "com.docker.network.bridge.enable_ip_masquerade",
    "com.docker.network.driver.mtu",
})
MIN_API = (1, 24)

_VERSION_PREFIX = re.compile(r"^/v([0-9.]+)(?=/)")
# dockerd routes /containers/{name:.*}/...: a link alias ("web/db") has a slash in it
_CONTAINER_ACTION = re.compile(r"^/containers/.+/(exec)$")
_MOUNTS_AGAIN = re.compile(r"^/containers/(.+)/(start|restart|archive)$")  # dockerd mounts the binds again
_UPDATE = re.compile(r"^/containers/(.+)/update$")


@dataclasses.dataclass(frozen=True)
class Refusal:
    """Why a request is refused, in words a learner can act on."""

    what: str
    why: str
    instead: str

    @property
    def message(self) -> str:
        return f"{self.what} is refused: {self.why}. Instead: {self.instead}"

    def __str__(self) -> str:
        return self.message


@dataclasses.dataclass(frozen=True)
class Policy:
    """What this sandbox allows beyond the defaults: host folders to bind, its network pool."""

    workspace: tuple[str, ...] = ()
    address_pool: str | None = None
    bridge: str | None = None  # the sandbox's own bridge (dy-<name>): kept closed to routing like the pool's
    data_root: str | None = None  # dockerd's --data-root: what a container will mount is read there

    @classmethod
    def from_dict(cls, d: dict) -> "Policy":
        return cls(workspace=tuple(os.path.realpath(w) for w in d.get("workspace") or ()),
                   address_pool=d.get("address_pool"), bridge=d.get("bridge"), data_root=d.get("data_root"))

    def to_dict(self) -> dict:
        return {"workspace": list(self.workspace), "address_pool": self.address_pool, "bridge": self.bridge,
                "data_root": self.data_root}


def parse_json(body: bytes) -> Any:
    """JSON the way dockerd's decoder sees it: keys casefolded, the last duplicate wins."""
    return json.loads(body, object_pairs_hook=lambda pairs: {k.casefold(): v for k, v in pairs})


# --- the entry point ------------------------------------------------------------------------------
def check(policy: Policy, method: str, uri: str, headers: dict | None = None,
          body: bytes | None = None) -> Refusal | None:
    """None if dockerd may serve this request, else the Refusal. ``body`` is the raw JSON, if sent."""
    method = method.upper()
    parts = urlsplit(uri)
    version, path = _api_path(parts.path)
    if version is not None and _api_too_old(version):
        return _old_api_refusal(version)
    mounting = _mounts_again(method, path)
    if mounting:
        return check_mounts_now(policy, *mounting)
    if method in ("GET", "HEAD"):
        return None
    return _check_change(policy, method, path, parts.query, headers, body)


# the methods with which each _MOUNTS_AGAIN action mounts the container's binds again
_MOUNTING_METHODS = {"start": ("POST",), "restart": ("POST",), "archive": ("GET", "HEAD", "PUT")}


def _mounts_again(method: str, path: str) -> tuple[str, str] | None:
    """(the container, what the request does to it) if dockerd mounts that container's binds to serve it."""
    again = _MOUNTS_AGAIN.match(path)
    if not again or method not in _MOUNTING_METHODS[again.group(2)]:
        return None
    return again.group(1), "docker cp with" if again.group(2) == "archive" else "starting"


def _check_change(policy: Policy, method: str, path: str, query: str, headers: dict | None,
                  body: bytes | None) -> Refusal | None:
    """The answer to a request that is not a read (GET, HEAD) and mounts nothing again."""
    if _form_encoded(headers):
        return _form_refusal(method, path)
    if method == "POST":
        endpoint = _post_endpoint(policy, path)
        if endpoint is not None:
            return endpoint(parse_qs(query, keep_blank_values=True), body)
    if path.startswith("/plugins") and method != "DELETE":
        return _PLUGINS_REFUSAL
    return None


def _old_api_refusal(version: str) -> Refusal:
    return Refusal(f"Docker API version {version}",
                   "versions before 1.24 let a container start change its host settings",
                   "use a current docker CLI or docker-py: they agree on API 1.41 with this daemon")


def _form_encoded(headers: dict | None) -> bool:
    ctype = ((headers or {}).get("Content-Type") or "").split(";")[0].strip().lower()
    return ctype in ("application/x-www-form-urlencoded", "multipart/form-data")


def _form_refusal(method: str, path: str) -> Refusal:
    return Refusal(f"a form-encoded {method} {path}",
                   "dockerd would read parameters from the body, where this sandbox cannot check them",
                   "send parameters in the URL and JSON bodies as application/json (as docker and docker-py do)")


_Endpoint = Callable[[dict, "bytes | None"], "Refusal | None"]  # (the parsed query, the raw body) → the answer


def _post_endpoint(policy: Policy, path: str) -> _Endpoint | None:
    """How the seal checks a POST to ``path``, or None if it does not look at that endpoint's POSTs."""
    if path in _BODY_CHECKS:
        doing, checker = _BODY_CHECKS[path]
        return lambda query, body: _with_body(body, doing, lambda doc: checker(policy, doc))
    if _CONTAINER_ACTION.match(path):  # exec adds no mounts: only privileged matters
        return lambda query, body: _with_body(body, "docker exec", check_exec)
    update = _UPDATE.match(path)
    if update:  # resources and the restart policy only: no binds, no devices
        return lambda query, body: _with_body(body, "docker update",
                                              lambda doc: check_update(policy, update.group(1), doc))
    if path in _QUERY_CHECKS:
        return lambda query, body: _QUERY_CHECKS[path](query)
    if path in _REFUSED_POSTS:
        return lambda query, body: _REFUSED_POSTS[path]
    return None


def _swarm_refusal(action: str) -> Refusal:
    return Refusal(f"docker swarm {action}",
                   "swarm services can bind host folders and publish ports this sandbox cannot check",
                   "run several containers with docker run on one user network, or use docker compose")


# buildx (every docker CLI 23+) sends the whole build inside gRPC: network.host or a cgroup parent could be
# asked for there unseen. A CLI before 23 sends /session + /build?version=2 (dockyard.buildkit).
_GRPC_REFUSAL = Refusal("a BuildKit build through /grpc (docker buildx, and docker build of a CLI 23 or later)",
                        "its build request (host networking, a cgroup parent) travels inside gRPC, where this "
                        "sandbox cannot check it",
                        "build with a docker CLI before 23, whose BuildKit client is built in: "
                        "DOCKER_BUILDKIT=1 /usr/bin/docker build ... (Debian's docker.io 20.10; in a lesson "
                        "`docker` is that one already), or the classic builder: DOCKER_BUILDKIT=0 docker build ...")
_PLUGINS_REFUSAL = Refusal("installing or changing Docker plugins", "a plugin runs with full access to the host",
                           "use the built-in drivers: local volumes and bridge networks")


_JOINS_NETWORK = re.compile(r"^/(containers/.+/(start|restart)|networks/.+/connect)$")


def joins_network(method: str, uri: str) -> bool:
    """True if dockerd puts a container on a network to serve this request (start, restart, connect)."""
    return method.upper() == "POST" and bool(_JOINS_NETWORK.match(_api_path(urlsplit(uri).path)[1]))


def _api_path(path: str) -> tuple[str | None, str]:
    """(the API version, or None, and the path without it) as dockerd routes the URL's path."""
    path = posixpath.normpath(unquote(path or "/"))
    m = _VERSION_PREFIX.match(path)
    return (m.group(1), path[m.end():]) if m else (None, path)


def _api_too_old(version: str) -> bool:
    try:
        nums = tuple(int(x) for x in version.split("."))
    except ValueError:
        return True
    return nums < MIN_API


def _with_body(body: bytes | None, doing: str, checker) -> Refusal | None:
    if not body:
        return Refusal(f"{doing} without a JSON body this sandbox could read",
                       "the request body was not sent for checking (not application/json, chunked, or over 1 MiB)",
                       "send the request as docker or docker-py do: one JSON body under 1 MiB")
    try:
        doc = parse_json(body)
    except (ValueError, UnicodeDecodeError):
        return Refusal(f"{doing} with a body that is not valid JSON", "it cannot be checked",
                       "send valid JSON")
    if not isinstance(doc, dict):
        return Refusal(f"{doing} with a JSON body that is not an object", "it cannot be checked",
                       "send a JSON object")
    return checker(doc)


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


def _cap_list(value) -> list[str]:
    if isinstance(value, str):  # strslice.StrSlice accepts a single string
        value = [value]
    return [str(c) for c in value or []]


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


def _within(policy: Policy, real: str) -> bool:
    return any(real == w or real.startswith(w.rstrip("/") + "/") for w in policy.workspace)


def _in_workspace(policy: Policy, source: str) -> bool:
    return _within(policy, os.path.realpath(source))  # see the module docstring: a race remains until the mount


def _link_in_workspace(policy: Policy, source: str) -> str | None:
    """The first component of ``source`` that is a symbolic link inside a workspace folder, if any.

    Links above the workspace (/home -> /data/home) are followed as realpath does."""
    real = "/"
    for part in source.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            real = posixpath.dirname(real)
            continue
        nxt = posixpath.join(real, part)
        if os.path.islink(nxt):
            if _within(policy, real):
                return nxt
            nxt = os.path.realpath(nxt)
        real = nxt
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


# --- other endpoints -----------------------------------------------------------------------------------
def check_exec(body: dict) -> Refusal | None:
    if body.get("privileged"):
        return Refusal("docker exec --privileged", "a privileged process can take over the host",
                       "run the command without --privileged (add --user root if it needs root in the container)")
    return None


def check_build(query: dict) -> Refusal | None:
    if any(v.strip().lower() == "host" for v in query.get("networkmode", [])):
        return Refusal("docker build --network host", "build steps would run in the host's network",
                       "build with the default network (RUN steps still reach the sandbox's mirror)")
    if any(v for v in query.get("cgroupparent", [])):
        return Refusal("docker build --cgroup-parent", "build steps would leave the sandbox's caps",
                       "leave --cgroup-parent out")
    for remote in query.get("remote", []):
        if "://" in remote or remote.startswith(("git@", "github.com/")):
            return Refusal(f"building from the URL {remote}", "the daemon would fetch it from the host's network",
                           "put the files in a folder and run docker build on that folder")
    return None


def check_image_create(query: dict) -> Refusal | None:
    for src in query.get("fromSrc", []):
        if src != "-":
            return Refusal(f"docker import {src}", "the daemon would fetch the URL from the host's network",
                           "import a file you have: docker import ./rootfs.tar (or cat it | docker import -)")
    return None


def check_volume_create(body: dict) -> Refusal | None:
    driver = body.get("driver") or ""
    if driver not in ("", "local"):
        return Refusal(f"docker volume create --driver {driver}", "only local volumes exist in this sandbox",
                       "leave --driver out")
    if body.get("driveropts"):
        return Refusal("docker volume create --opt ...", "options such as device=, o=bind or type=nfs mount "
                       "host paths or network shares", "create a plain volume: docker volume create mydata")
    return None


def check_network_create(policy: Policy, body: dict) -> Refusal | None:
    """Refuse a network that is not a plain bridge inside the sandbox's address pool."""
    refusal = _network_shape(body) or _network_driver(body) or _swarm_network(body) or \
        _network_options(body.get("options") or {})
    if refusal:
        return refusal
    ipam = body.get("ipam") or {}
    return _ipam_driver(ipam) or _ipam_config(policy, ipam.get("config") or [])


def _network_shape(body: dict) -> Refusal | None:
    """A create whose options or IPAM are not the objects (and lists of objects) the API defines: refused in words,
    before anything reads them (dockerd would refuse it too, but the seal must not fail on it first)."""
    ipam = body.get("ipam") or {}
    configs = ipam.get("config") or [] if isinstance(ipam, dict) else []
    if isinstance(body.get("options") or {}, dict) and isinstance(ipam, dict) and isinstance(configs, list) \
            and all(isinstance(c or {}, dict) for c in configs) and isinstance(ipam.get("options") or {}, dict):
        return None
    return Refusal("a network create whose Options or IPAM are not JSON objects", "the API defines Options and "
                   "IPAM.Options as objects and IPAM.Config as a list of objects",
                   "docker network create --subnet ... --gateway ... (the CLI sends them right)")


def _network_driver(body: dict) -> Refusal | None:
    driver = body.get("driver") or "bridge"
    if driver != "bridge":
        return Refusal(f"docker network create --driver {driver}", "only bridge networks exist in this sandbox "
                       "(macvlan and ipvlan attach to the host's network cards)", "leave --driver out")
    return None


def _swarm_network(body: dict) -> Refusal | None:
    if body.get("ingress") or body.get("configfrom") or body.get("configonly"):
        return Refusal("a swarm or config-only network", "swarm is off in this sandbox", "create a plain network")
    return None


def _network_options(opts) -> Refusal | None:
    for key in opts if isinstance(opts, dict) else ():
        if key not in NETWORK_OPTIONS:
            return Refusal(f"docker network create --opt {key}", "this option names a host interface or "
                           "changes how the network reaches the host", "leave the --opt out")
    return None


def _ipam_driver(ipam: dict) -> Refusal | None:
    if (ipam.get("driver") or "default") != "default" or ipam.get("options"):
        return Refusal("a custom IPAM driver or IPAM options", "only the default address manager is set up",
                       "leave --ipam-driver and --ipam-opt out")
    return None


_IPAM_ADDRESSES = ("subnet", "iprange", "gateway")  # the IPAM config keys that name addresses


def _ipam_config(policy: Policy, configs: list) -> Refusal | None:
    pool = ipaddress.ip_network(policy.address_pool) if policy.address_pool else None
    for conf in configs:
        for key in _IPAM_ADDRESSES:
            value = (conf or {}).get(key)
            if value and not _inside(value, pool):
                return _outside_pool(key, value, pool)
    return None


def _outside_pool(key: str, value: str, pool) -> Refusal:
    return Refusal(f"docker network create --{key.replace('iprange', 'ip-range')} {value}",
                   f"this sandbox's networks must lie inside its address pool {pool or '(unknown)'}, "
                   "so they never shadow the host's own networks",
                   "leave --subnet out (the daemon picks one from the pool)"
                   + (f" or choose one inside {pool}" if pool else ""))


def _inside(value: str, pool) -> bool:
    if pool is None:
        return False
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return net.version == pool.version and net.subnet_of(pool)


# --- which POST endpoints the seal checks, and how (see _post_endpoint) --------------------------------
_BODY_CHECKS = {  # the endpoint → (what the request does, in words; the check of its JSON body)
    "/containers/create": ("creating a container", check_create),
    "/volumes/create": ("creating a volume", lambda policy, doc: check_volume_create(doc)),
    "/networks/create": ("creating a network", check_network_create),
}
_QUERY_CHECKS = {"/build": check_build, "/images/create": check_image_create}  # their parameters are in the URL
_REFUSED_POSTS = {"/swarm/init": _swarm_refusal("init"), "/swarm/join": _swarm_refusal("join"),
                  "/grpc": _GRPC_REFUSAL}
