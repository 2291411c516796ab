"""Every instruction, command and flag in the course outline is exercised in some lesson's code.

The list below is the outline's syllabus; each entry is a pattern that must match the
source of at least one code cell of notebooks/NN-*.ipynb. Run this file directly to
print the map from each item to the notebook cell that exercises it:

    .venv/bin/python tests/unit/test_outline_coverage.py
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

# (outline item, regex over a code cell's source)
OUTLINE = [
    # namespaces and cgroups
    ("namespace mnt", r"\bns/mnt\b|['\"]mnt['\"]"),
    ("namespace pid (--pid)", r"--pid[ =]host"),
    ("namespace net (--network)", r"--network[ =](none|container:)"),
    ("namespace ipc (--ipc)", r"--ipc[ =](shareable|container:)"),
    ("namespace uts (--hostname/--uts)", r"--hostname|--uts"),
    ("namespace user", r"\bns/user\b|['\"]user['\"]"),
    ("cgroup cpu (--cpus)", r"--cpus\b"),
    ("cgroup cpuset (--cpuset-cpus)", r"--cpuset-cpus"),
    ("cgroup memory (-m/--memory)", r"(-m|--memory)[ =]\d"),
    ("cgroup blkio (--blkio-weight)", r"--blkio-weight"),
    ("cgroup net_cls/net_prio", r"net_cls|net_prio"),
    ("prioritization (--cpu-shares)", r"--cpu-shares"),
    ("accounting (docker stats)", r"docker stats"),
    # architecture
    ("client ↔ daemon REST API", r"/containers/json|/v1\.\d+/"),
    ("registry", r"/v2/_catalog"),
    # container commands
    ("docker create", r"docker create\b"),
    ("docker start", r"docker start\b"),
    ("docker run IMAGE:TAG", r"docker run\b[^\n]*\b[a-z0-9./-]+:[\w.-]+"),
    ("attached run (no -d)", r"docker run (?!.*\s-d\b)(?!.*-d\s)"),
    ("detached run (-d)", r"docker run\b[^\n]*\s-d\b"),
    ("docker ps", r"docker ps\b"),
    ("docker ps -a", r"docker ps\b[^\n]*-a\b"),
    ("docker pull", r"docker pull\b"),
    ("docker inspect", r"docker (container )?inspect\b"),
    ("docker exec", r"docker exec\b"),
    ("docker images", r"docker images\b"),
    ("docker logs", r"docker logs\b"),
    ("docker stop", r"docker stop\b"),
    ("docker kill", r"docker kill\b"),
    ("docker rm", r"docker rm\b"),
    ("docker rmi", r"docker rmi\b"),
    ("short IDs (a unique prefix)", r"shortest_unique|cid\[:3\]|\[:3\]\}"),
    # run flags
    ("-p host:container", r"-p\s+(127\.0\.0\.1:)?(\d+|\{\w+\}):\d+"),
    ("-i", r"docker run\b[^\n]*\s-i\b"),
    ("-t", r"docker run\b[^\n]*\s-t\b"),
    ("-it", r"docker run\b[^\n]*\s-it\b"),
    ("-v host:container", r"-v\s+\S+:/"),
    # Dockerfile instructions
    # an instruction at the start of a line, in a cell that writes a Dockerfile (it has a FROM)
    *[(f"Dockerfile {ins}", rf"(?ms)(?=.*^\s*[\"']?FROM\s+\w).*^\s*[\"']?{ins}\s") for ins in
      ("FROM", "MAINTAINER", "RUN", "CMD", "WORKDIR", "ENTRYPOINT", "ADD", "COPY", "ENV", "EXPOSE", "USER",
       "VOLUME", "LABEL")],
    # image commands
    ("docker build -t", r"docker build\b[^\n]*-t\b"),
    ("docker push", r"docker push\b"),
    ("docker image ls", r"docker image ls\b"),
    ("docker image history", r"docker (image )?history\b"),
    ("docker image inspect", r"docker image inspect\b"),
    ("docker image rm", r"docker image rm\b"),
    ("docker tag", r"docker tag\b"),
]


def code_cells():
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                yield path.stem, i, cell.source


def where(pattern: str) -> tuple[str, int] | None:
    rx = re.compile(pattern, re.M)
    for stem, i, src in code_cells():
        if rx.search(src):
            return stem, i
    return None


@pytest.mark.parametrize("item,pattern", OUTLINE, ids=[i for i, _ in OUTLINE])
def test_outline_item_is_exercised_in_a_lesson(item, pattern):
    assert where(pattern), f"no lesson code cell exercises {item!r} (pattern {pattern!r})"


if __name__ == "__main__":
    for item, pattern in OUTLINE:
        found = where(pattern)
        print(f"| {item} | {f'{found[0]} cell {found[1]}' if found else 'MISSING'} |")
