"""What /proc/<pid>/status says about a process's privileges: its uids, capabilities, no_new_privs, seccomp.

Shared by the security lesson's helpers (:mod:`dockyard.notebook.security`) and the grader's
security checks (:mod:`grader.checks.container_security`), so both decode the same way.
"""

from __future__ import annotations

from typing import NamedTuple

# include/uapi/linux/capability.h, bit number -> name (without CAP_)
CAP_NAMES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
)
SECCOMP_MODES = {"0": "off", "1": "strict", "2": "filter"}


def parse_status(text: str) -> dict[str, str]:
    """``{"CapEff": "00000000a80425fb", "NoNewPrivs": "1", ...}`` from the text of /proc/<pid>/status."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def decode_caps(mask: str | int) -> list[str]:
    """The capability names set in a hex mask as /proc shows it (``"00000000a80425fb"``), in bit order."""
    bits = int(mask, 16) if isinstance(mask, str) else int(mask)
    names = [CAP_NAMES[i] if i < len(CAP_NAMES) else f"CAP_{i}" for i in range(bits.bit_length()) if bits >> i & 1]
    return names


def norm_cap(cap: str) -> str:
    """``cap_net_raw`` and ``CAP_NET_RAW`` are ``NET_RAW``, as Docker reads --cap-add."""
    c = str(cap).strip().upper()
    return c[4:] if c.startswith("CAP_") else c


class Ids(NamedTuple):
    """The four ids the kernel keeps for a process (the Uid: and Gid: lines of /proc/<pid>/status)."""

    real: int
    effective: int
    saved: int
    filesystem: int

    def has_zero(self) -> bool:
        """True when any of the four is 0: a saved or filesystem 0 is root the process can take back (setuid(0))."""
        return 0 in self

    def text(self, kind: str = "uids") -> str:
        """``uids real 1000, effective 1000, saved 0, filesystem 1000``"""
        return f"{kind} " + ", ".join(f"{field} {value}" for field, value in zip(self._fields, self))


def _ids(status: dict[str, str], key: str) -> Ids:
    # a missing or short line reads as -1 (unknown), never as 0 (root) nor as a harmless uid
    values = [int(v) for v in (status.get(key) or "").split()[:4]]
    return Ids(*(values + [-1] * (4 - len(values))))


def uids(status: dict[str, str]) -> Ids:
    """(real, effective, saved, filesystem) uid from a parsed status."""
    return _ids(status, "Uid")


def gids(status: dict[str, str]) -> Ids:
    """(real, effective, saved, filesystem) gid from a parsed status."""
    return _ids(status, "Gid")
