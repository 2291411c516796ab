"""A learner's best result per lab and task, kept in the sandbox's state directory.

It survives restarts of the sandbox and of JupyterLab; ``dockyard progress`` prints it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .result import Report


def progress_file(sandbox) -> Path:
    base = getattr(getattr(sandbox, "cfg", None), "dir", None)
    if base is None:
        from dockyard.config import home

        base = home() / "existing"
    return Path(base) / "progress.json"


def load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def record(path: Path, report: Report) -> dict:
    """Merge ``report`` into the stored bests (never lowers a best); returns the lab's entry."""
    data = load(path)
    entry = data.setdefault(report.lab, {"title": report.title, "best": 0, "total": report.total, "tasks": {},
                                         "attempts": 0})
    entry["attempts"] += 1
    for task, results in report.by_task().items():
        if not results:  # a check limited to other tasks says nothing about this one
            continue
        got, total = sum(r.points for r in results), sum(r.max_points for r in results)
        best = entry["tasks"].get(task, [0, total])[0]
        entry["tasks"][task] = [max(best, got), total]
    # a check of one exercise updates that task only; the lab's best is the sum of task bests
    entry["best"] = sum(got for got, _ in entry["tasks"].values())
    entry["total"] = sum(total for _, total in entry["tasks"].values())
    entry["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)
    return entry


def table(data: dict) -> str:
    if not data:
        return "no labs checked yet: try  dockyard check 05-dockerfile"
    lines = []
    for lab, e in sorted(data.items()):
        done = sum(1 for got, total in e["tasks"].values() if got >= total)
        lines.append(f"{lab:24} best {e['best']:g}/{e['total']:g}   tasks complete {done}/{len(e['tasks'])}   "
                     f"attempts {e['attempts']}   last {e.get('updated', '-')}")
    return "\n".join(lines)
