"""What happened to one hand-in, in words a teacher can act on, and the evidence kept beside it.

Statuses: ok, cell-timeout, grader-error, process-cap, disk-full, notebook-timeout,
out-of-memory, kernel-died, failed, interrupted. Read from what the worker answered, the kernel's
cgroup counters and the autograded notebook's outputs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

OK = "ok"
EVIDENCE = "dockyard-evidence.json"


def diagnose(answer, oom_kills: int, nb_path: Path, limits, pids_hits: int = 0, *,
             full_disks=(), evidence: Path | None = None) -> tuple[str, str]:
    """What happened to a hand-in, in words a teacher can act on.

    ``full_disks``: which of the hand-in's disks ("sandbox", "folder") were full when it ended. The first of
    these that applies says it: interrupted, timed out, out of memory, at the process cap, no notebook back,
    then what its cells show."""
    if answer.interrupted:
        return "interrupted", "grading was interrupted (Ctrl-C); it will be graded on the next run"
    if answer.timed_out:
        return "notebook-timeout", (f"timed out after {limits.notebook_timeout} s for the whole notebook; "
                                    f"no grades were saved{forks_too(limits, pids_hits)}")
    if oom_kills:
        return out_of_memory(nb_path, limits, pids_hits)
    if pids_hits:
        return at_process_cap(nb_path, limits, pids_hits)
    if not nb_path.exists():
        return no_notebook(answer, limits, full_disks)
    return from_cells(nb_path, limits, full_disks, evidence)


def forks_too(limits, pids_hits: int) -> str:
    """The process cap, as an aside to a worse problem."""
    return f"; it also hit the cap of {limits.pids} processes {pids_hits} times (a fork bomb?)" if pids_hits else ""


def out_of_memory(nb_path: Path, limits, pids_hits: int) -> tuple[str, str]:
    """The kernel's OOM killer ended something of the notebook's: where, when its cells say so."""
    where = problem_cells(nb_path, limits)
    return "out-of-memory", (f"killed: out of memory (the notebook went over {limits.memory})"
                             + (f"; {where[0][1]}" if where else "; no grades were saved")
                             + forks_too(limits, pids_hits))


def at_process_cap(nb_path: Path, limits, pids_hits: int) -> tuple[str, str]:
    then = "; ".join(m for _k, m in problem_cells(nb_path, limits)) or \
        ("graded" if nb_path.exists() else "no grades were saved")
    return "process-cap", f"hit the cap of {limits.pids} processes {pids_hits} times (a fork bomb?); {then}"


def no_notebook(answer, limits, full_disks) -> tuple[str, str]:
    """nbgrader gave no autograded notebook back: why, from what it said."""
    ag = (answer.result or {}).get("autograde") or {}
    said = last_lines(ag.get("error") or ag.get("log") or "(no answer from the grading process)")
    if full_disks or DISK_FULL.search(said):
        return "disk-full", f"{disk_full(limits, full_disks, said)}; no grades were saved. nbgrader said: {said}"
    if "DeadKernelError" in said or "Kernel died" in said:
        return "kernel-died", f"the notebook's kernel died; no grades were saved. nbgrader said: {said}"
    return "failed", f"nbgrader autograde failed; no grades were saved. It said: {said}"


def from_cells(nb_path: Path, limits, full_disks, evidence: Path | None) -> tuple[str, str]:
    """The notebook came back: its cells' problems, and a full disk the checks' build logs show."""
    problems = problem_cells(nb_path, limits, full_disks)
    if not any(k == "disk-full" for k, _m in problems):
        log = _read(evidence)  # the checks' own build logs
        if full_disks or DISK_FULL.search(log):
            problems.append(("disk-full", disk_full(limits, full_disks or ("sandbox",), log)))
    if problems:
        return problems[0][0], "; ".join(msg for _k, msg in problems)
    return OK, "graded"


DISK_FULL = re.compile(r"no space left on device|\[Errno 28\]|\bENOSPC\b|disk quota exceeded", re.I)


def disk_full(limits, full_disks, said: str = "") -> str:
    """Which disk of the hand-in filled up, in a teacher's words."""
    cap = getattr(limits, "disk", None)
    if not cap:
        return "the host's disk filled up (no space left on device)"
    from dockyard.config import human_size, parse_size

    size = human_size(parse_size(cap))
    where = list(full_disks) or (["folder"] if "[Errno 28]" in said else ["sandbox"])
    words = {"sandbox": f"the sandbox's {size} disk filled up (a build or container wrote too much)",
             "folder": f"the notebook folder's {size} disk filled up (a cell wrote too much into it)"}
    return " and ".join(words[w] for w in where)


def _read(path: Path | None) -> str:
    try:
        return path.read_text(errors="replace") if path else ""
    except OSError:
        return ""


CLASH = re.compile(r"port is already allocated|address already in use", re.I)


def port_clash(nb_path: Path) -> bool:
    """Did any cell fail to get a host port? (Docker: "port is already allocated"; a bind: EADDRINUSE.)"""
    if not nb_path.exists():
        return False
    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if CLASH.search(_text(o)):
                return True
    return False


def _text(o) -> str:
    return o.get("text") or o.get("evalue") or "".join(o.get("traceback") or []) or \
        str((o.get("data") or {}).get("text/plain", ""))


def problem_cells(nb_path: Path, limits, full_disks=()) -> list[tuple[str, str]]:
    if not nb_path.exists():
        return []
    out = []
    nb = nbformat.read(nb_path, as_version=4)
    for i, cell in enumerate(nb.cells, 1):
        said = "\n".join(_text(o) for o in cell.get("outputs", []))
        if DISK_FULL.search(said):
            out.append(("disk-full", f"{disk_full(limits, full_disks, said)} in cell {i}"))
        for o in cell.get("outputs", []):
            if o.get("output_type") != "error":
                continue
            if o.get("ename") == "CellTimeoutError":
                out.append(("cell-timeout", f"timed out after {limits.cell_timeout} s in cell {i}"))
            elif o.get("ename") == "GraderError":
                out.append(("grader-error", f"the checks could not run in cell {i}: {o.get('evalue', '')}"))
    return out


def write_evidence(target: Path, jsonl: Path, out, seconds: float) -> None:
    """One JSON file beside the autograded notebook: every check's result with its evidence (build-log
    tail, lint findings, probe answers) and the docker inspect data the checks looked at."""
    results, inspected = [], {}
    if jsonl.exists():
        for line in jsonl.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if "inspected" in rec:
                inspected[rec["inspected"]] = rec["data"]
            else:
                results.append(rec)
    target.write_text(json.dumps({"student": out.student, "lab": out.lab, "sandbox": out.sandbox,
                                  "status": out.status, "message": out.message, "autograde_seconds": seconds,
                                  "checks": results, "inspected": inspected}, indent=1, default=str))


def last_lines(text: str, lines: int = 6) -> str:
    """The end of what nbgrader said, led by the first error it names when its last lines are only the
    wrapper ("NbGraderException: Please see the above traceback"), which tells a teacher nothing."""
    keep = [ln for ln in text.strip().splitlines() if "Kernel is running over TCP" not in ln]
    tail = " / ".join(keep[-lines:])
    found = [ln.strip() for ln in keep if "NbGraderException" not in ln and ln.strip() not in tail]
    raised = [ln for ln in found if _RAISED.search(ln)]  # the exception itself, the last one raised
    cause = raised[-1] if raised else next((ln for ln in found if _ERROR_LINE.search(ln)), None)
    return f"{cause} … {tail}" if cause else tail


_RAISED = re.compile(r"^[\w.]+(Error|Exception|Timeout|Interrupt)\b:? ")
_ERROR_LINE = re.compile(r"\| ERROR\]|\[ERROR\]")
