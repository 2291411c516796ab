"""The seal's vocabulary: a Refusal, the sandbox's Policy, what is allowed, and the helpers several checks share."""

from __future__ import annotations

import dataclasses
import json
import os
import posixpath
from typing import Any

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


# --- shared by the create check and the checks of what a container mounts now ---------------------------
def _cap_list(value) -> list[str]:
    if isinstance(value, str):  # strslice.StrSlice accepts a single string
        value = [value]
    return [str(c) for c in value or []]


def _within(policy: Policy, real: str) -> bool:
    return any(real == w or real.startswith(w.rstrip("/") + "/") for w in policy.workspace)


def _in_workspace(policy: Policy, source: str) -> bool:
    return _within(policy, os.path.realpath(source))  # see the package docstring: a race remains until the mount


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
