"""Picking uids for learners and grading kernels: a range from the environment, and what already holds a uid.

Two ranges use it: the hub's learners (``DOCKYARD_HUB_UIDS``, :mod:`grader.hub.roster`) and the grading
kernels (``DOCKYARD_KERNEL_UIDS``, :mod:`grader.course.kernel_user`). A uid is free when no account, group,
sub-id range (/etc/subuid, /etc/subgid) or running process holds it."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def range_from_env(var: str, default: tuple[int, int]) -> tuple[int, int]:
    """``FIRST-LAST`` (or one uid) from ``var``, else ``default``; both ends between 1000 and 2^31-2."""
    text = os.environ.get(var)
    if not text:
        return default
    first, _, last = text.partition("-")
    lo, hi = int(first), int(last or first)
    if not 1000 <= lo <= hi < 2**31 - 1:
        raise ValueError(f"{var}={text!r}: expected FIRST-LAST between 1000 and 2^31-2")
    return lo, hi


def id_ranges(path: str) -> list[tuple[int, int]]:
    """The ranges /etc/subuid or /etc/subgid hand out (name:start:count lines)."""
    out = []
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            parts = line.strip().split(":")
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                out.append((int(parts[1]), int(parts[1]) + int(parts[2]) - 1))
    return out


def sub_id_ranges() -> list[tuple[int, int]]:
    return id_ranges("/etc/subuid") + id_ranges("/etc/subgid")


def claimed_ids() -> set[int]:
    """Uids and gids that /etc/passwd and /etc/group name."""
    import grp
    import pwd

    return {p.pw_uid for p in pwd.getpwall()} | {p.pw_gid for p in pwd.getpwall()} | {g.gr_gid for g in grp.getgrall()}


def process_uids() -> set[int]:
    """The real, effective and saved uids of every running process."""
    out = set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                for line in (d / "status").read_text().splitlines():
                    if line.startswith("Uid:"):
                        out.update(int(x) for x in line.split()[1:4])
                        break
    return out


def usable(uid: int, claimed: set[int], ranges: list[tuple[int, int]], running: set[int]) -> bool:
    return uid not in claimed and uid not in running and not any(lo <= uid <= hi for lo, hi in ranges)
