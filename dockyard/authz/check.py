"""The entry point: which check answers an API request, by method, API version and path."""

from __future__ import annotations

import posixpath
import re
from typing import Callable
from urllib.parse import parse_qs, unquote, urlsplit

from .create import check_create
from .endpoints import check_build, check_exec, check_image_create, check_network_create, check_volume_create
from .mounts import check_mounts_now, check_update
from .policy import MIN_API, Policy, Refusal, parse_json

_VERSION_PREFIX = re.compile(r"^/v([0-9.]+)(?=/)")
# dockerd routes /containers/{name:.*}/...: a link alias ("web/db") has a slash in it
_CONTAINER_ACTION = re.compile(r"^/containers/.+/(exec)$")
_MOUNTS_AGAIN = re.compile(r"^/containers/(.+)/(start|restart|archive)$")  # dockerd mounts the binds again
_UPDATE = re.compile(r"^/containers/(.+)/update$")


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


# --- which POST endpoints the seal checks, and how (see _post_endpoint) --------------------------------
_BODY_CHECKS = {  # the endpoint → (what the request does, in words; the check of its JSON body)
    "/containers/create": ("creating a container", check_create),
    "/volumes/create": ("creating a volume", lambda policy, doc: check_volume_create(doc)),
    "/networks/create": ("creating a network", check_network_create),
}
_QUERY_CHECKS = {"/build": check_build, "/images/create": check_image_create}  # their parameters are in the URL
_REFUSED_POSTS = {"/swarm/init": _swarm_refusal("init"), "/swarm/join": _swarm_refusal("join"),
                  "/grpc": _GRPC_REFUSAL}
