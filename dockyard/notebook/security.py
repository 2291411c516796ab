"""Helpers for lesson 11 (container security): refused requests as a table, capabilities by name.

>>> caps_table({"default": sh("docker run --rm busybox grep Cap /proc/self/status")})   # doctest: +SKIP
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

from ..procstatus import decode_caps, parse_status
from . import Table, sh

_REFUSAL = re.compile(r"authorization denied by plugin [\w.-]+: (?P<what>.+?) is refused: (?P<why>.+?)\. "
                      r"Instead: (?P<instead>[^\n]+)")


def parse_refusal(output: str) -> dict[str, str] | None:
    """``{"what", "why", "instead"}`` from what the docker CLI printed for a request the seal refused, else None."""
    m = _REFUSAL.search(output)
    return m.groupdict() if m else None


def refusals(commands: Sequence[str], timeout: float = 60) -> Table:
    """Run each docker command; a table of what happened: refused by the seal (and why), failed, or ran.

    >>> refusals(["docker run --rm --privileged busybox true"])   # doctest: +SKIP
    """
    rows = []
    for cmd in commands:
        out = sh(cmd, check=False, quiet=True, timeout=timeout)
        refusal = parse_refusal(out)
        if refusal:
            rows.append((cmd, "refused", refusal["why"], refusal["instead"]))
        elif out.returncode:
            rows.append((cmd, f"failed ({out.returncode})", out.strip().splitlines()[-1][:160] if out.strip() else "",
                         ""))
        else:
            rows.append((cmd, "ran", "", ""))
    return Table(rows, ["request", "answer", "why", "instead"], title="What the sandbox's daemon answered")


def caps(status_text: str, which: str = "CapEff") -> list[str]:
    """The capability names of one set (CapEff, CapPrm, CapBnd, CapInh, CapAmb) in /proc/<pid>/status text."""
    return decode_caps(parse_status(status_text).get(which, "0"))


def caps_table(runs: Mapping[str, str], which: str = "CapEff") -> Table:
    """One row per capability found in any run, one column per run: ✓ where that run's set has it.

    ``runs`` maps a label (the flags used) to the /proc/self/status text its container printed."""
    sets = {label: caps(text, which) for label, text in runs.items()}
    seen: list[str] = []
    for names in sets.values():
        seen += [n for n in names if n not in seen]
    rows = [[name] + ["✓" if name in names else "" for names in sets.values()] for name in sorted(seen)]
    rows.append(["(count)"] + [str(len(names)) for names in sets.values()])
    return Table(rows, ["capability"] + list(sets), title=f"{which}: the capabilities each container's process has")


def host_status(container: str) -> dict[str, str]:
    """/proc/<pid>/status of a container's main process as the host sees it (its host PID, from docker inspect).

    Any user may read another process's status file, so this works from an unprivileged kernel."""
    from . import pid_of

    pid = pid_of(container)
    if not pid:
        raise ValueError(f"container {container} is not running")
    with open(f"/proc/{pid}/status") as fh:
        return parse_status(fh.read())
