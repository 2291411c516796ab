"""Lesson 09's helpers: who reaches whom, tried from inside each container.

``reach_table(["web", "client", "db"], port=80)`` runs one ``docker exec`` per container (busybox's
``nc``, so the sources need a shell and nc: busybox does) that connects to every other container,
first by name, then, when the name does not resolve, by each of its addresses. The answer is a
:class:`~dockyard.notebook.Table` a learner reads at a glance: ✓ by name, ✓ by address only (the
default bridge), ✗ with what nc said.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Callable, Iterable, Sequence

from . import Table, sh

WAIT = 1  # seconds nc waits: a container on this machine answers in well under a millisecond

# one line per try, all tries at once (so the table costs one wait, not one per unreachable address):
# "@@ <target> <rc> <what nc printed>"
_SCRIPT = ('for t in "$@"; do (out=$(nc -w {wait} ${{t% *}} ${{t#* }} </dev/null 2>&1); rc=$?; '
           'echo "@@ ${{t% *}} $rc $out") & done; wait')


def addresses(names: Iterable[str]) -> dict[str, list[str]]:
    """Each container's addresses, from docker inspect: {name: [ip, ...]} (empty with --network none)."""
    names = list(names)
    data = json.loads(sh("docker inspect " + " ".join(shlex.quote(n) for n in names), quiet=True))
    return {d["Name"].lstrip("/"): sorted(n["IPAddress"] for n in (d["NetworkSettings"]["Networks"] or {}).values()
                                          if n.get("IPAddress")) for d in data}


def parse(out: str) -> dict[str, tuple[int, str]]:
    """The ``@@ target rc output`` lines of one source's tries, by target."""
    found = {}
    for line in out.splitlines():
        m = re.match(r"^@@ (\S+) (\d+) ?(.*)$", line)
        if m:
            found[m.group(1)] = (int(m.group(2)), m.group(3).strip())
    return found


def why(rc: int, output: str) -> str:
    """What nc's answer means, in two or three words."""
    low = output.lower()
    if rc == 0:
        return "connected"
    for text, words in (("bad address", "name unknown"), ("refused", "refused"), ("unreachable", "no route"),
                        ("timed out", "timed out")):
        if text in low:
            return words
    return f"exit {rc}"


def name_problem(rc: int, output: str) -> str:
    """Why a name did not work: unknown to Docker's DNS, or no DNS answering at all (the default bridge)."""
    said = why(rc, output)
    return "no DNS answers" if said == "timed out" else said


def verdict(by_name: tuple[int, str], by_address: dict[str, tuple[int, str]]) -> str:
    """One cell of the table: by name if that works, else what each address did."""
    if by_name[0] == 0:
        return "✓ by name"
    reached = [ip for ip, ans in by_address.items() if ans[0] == 0]
    if reached:
        return f"✓ by address only ({reached[0]}) · name: {name_problem(*by_name)}"
    tried = " · ".join(f"{ip} {why(*ans)}" for ip, ans in by_address.items()) or "it has no address"
    return f"✗ name: {name_problem(*by_name)} · {tried}"


def reach_table(containers: Sequence[str], port: int = 80, *, targets: Sequence[str] | None = None,
                run: Callable[[str], str] | None = None) -> Table:
    """Try every container → every other container on ``port``, from inside the source, and tabulate."""
    run = run or (lambda cmd: sh(cmd, check=False, quiet=True, timeout=120))
    targets = list(targets or containers)
    ips = addresses(set(containers) | set(targets))
    rows = []
    for src in containers:
        others = [t for t in targets if t != src]
        tries = [f"{t} {port}" for t in others] + [f"{ip} {port}" for t in others for ip in ips.get(t, [])]
        script = _SCRIPT.format(wait=WAIT)
        out = run(f"docker exec {shlex.quote(src)} sh -c {shlex.quote(script)} try "
                  + " ".join(shlex.quote(x) for x in tries))
        got = parse(out)
        row = [src]
        for t in targets:
            if t == src:
                row.append("—")
                continue
            by_name = got.get(t, (1, "no answer"))
            row.append(verdict(by_name, {ip: got.get(ip, (1, "no answer")) for ip in ips.get(t, [])}))
        rows.append(row)
    return Table(rows, ["from ↓ to →"] + targets, title=f"Who reaches whom on port {port} (nc from inside each)")
