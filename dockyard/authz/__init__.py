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

The modules, lowest first (each imports only those above it): :mod:`.policy` (Refusal, Policy, what is
allowed, shared helpers), :mod:`.mounts` (what a container will mount now), :mod:`.create` (POST
/containers/create), :mod:`.endpoints` (exec, build, images, volumes, networks), :mod:`.check` (the entry
point and which check answers which endpoint). authz_server.py imports this package as a file's sibling
(``import authz``), so these modules import only the standard library and each other, relatively.
"""

from .check import _form_encoded, _mounts_again, _post_endpoint, check, joins_network
from .create import _namespaces, check_create, check_host_config
from .endpoints import (_ipam_config, _network_options, check_build, check_exec, check_image_create,
                        check_network_create, check_volume_create)
from .mounts import check_mounts_now, check_update, container_binds, find_container
from .policy import (ALLOWED_CAPS, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, DOCKER_DEFAULT_CAPS, LOG_DRIVERS,
                     MAX_BODY, MIN_API, NETWORK_OPTIONS, TEACHING_CAPS, Policy, Refusal, parse_json)

__all__ = [  # the names dockyard.authz had as one module; the private ones are those the unit tests reach
    "ALLOWED_CAPS", "DEFAULT_MASKED_PATHS", "DEFAULT_READONLY_PATHS", "DOCKER_DEFAULT_CAPS", "LOG_DRIVERS", "MAX_BODY",
    "MIN_API", "NETWORK_OPTIONS", "TEACHING_CAPS", "Policy", "Refusal", "parse_json",
    "check", "joins_network", "check_create", "check_host_config", "check_mounts_now", "check_update",
    "container_binds", "find_container", "check_build", "check_exec", "check_image_create", "check_network_create",
    "check_volume_create",
    "_form_encoded", "_mounts_again", "_post_endpoint", "_namespaces", "_ipam_config", "_network_options",
]
