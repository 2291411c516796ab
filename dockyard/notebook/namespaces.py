"""Lesson 01's helpers: namespace tables side by side, a comparison widget, and the readers behind them.

The lesson cells read like what a learner types (``ns_table(...)``, ``compare("a", "b")``); the
reading of ``/proc`` and the HTML live here. Every reader takes ``proc`` so the tests can hand it a
fake ``/proc``.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from . import NAMESPACES, Table, ns_ids, pid_of, sandbox, sh

PROC = Path("/proc")
COLOURS = ["#cfe2ff", "#ffe1b3", "#cdeccd", "#f6d2e4", "#fff0a0", "#ddd2f5"]

# kind, what it isolates, Docker's default, the docker run flag
KINDS = [
    ("mnt", "the mount table: what is mounted where, and so what / is", "its own", "-v, --mount add mounts to it"),
    ("pid", "process numbers: the first process inside is PID 1", "its own", "--pid container:X"),
    ("net", "interfaces, addresses, routes, ports", "its own", "--network none | container:X"),
    ("ipc", "System V shared memory, semaphores, message queues", "its own", "--ipc shareable | container:X"),
    ("uts", "the host name and domain name", "its own", "--hostname"),
    ("user", "uids and gids: uid 0 inside can be another uid outside", "the host's (unless --userns-remap)",
     "daemon: --userns-remap"),
    ("cgroup", "which part of the cgroup tree looks like /", "cgroup v1: the host's; v2: its own",
     "--cgroupns private | host"),
    ("time", "offsets of the boot-time and monotonic clocks", "the host's (no option)", "none"),
]


def kinds_table(proc: Path = PROC) -> Table:
    """The eight namespace kinds, what each isolates, Docker's default, and whether this kernel has it."""
    have = {k for k in os.listdir(proc / "self" / "ns") if not k.endswith("_for_children")}
    return Table([(k, what, default, flag, "yes" if k in have else "no (kernel too old)")
                  for k, what, default, flag in KINDS],
                 ["kind", "isolates", "Docker's default", "docker run flag", "this kernel"])


def who_shares(labels: list[str], ids: list[str]) -> str:
    """'shared', 'separate', or which of the labels share one namespace."""
    groups: dict[str, list[str]] = {}
    for label, value in zip(labels, ids):
        groups.setdefault(value, []).append(label)
    if len(groups) == 1:
        return "shared" if len(labels) == 2 else "shared by all"
    shared = [" = ".join(g) for g in groups.values() if len(g) > 1]
    return "shared: " + "; ".join(shared) if shared else ("separate" if len(labels) == 2 else "all separate")


class NsTable(Table):
    """Namespace numbers side by side; in a row, cells of one colour are one namespace."""

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in self.headers)
        body = ""
        for kind, *ids, verdict in self.rows:
            repeated = [v for v in dict.fromkeys(ids) if ids.count(v) > 1]
            colour = {v: COLOURS[i % len(COLOURS)] for i, v in enumerate(repeated)}
            cells = [f"<td style='text-align:left'><b>{html.escape(kind)}</b></td>"]
            cells += [f"<td style='text-align:left;background:{colour[v]};color:#000'><code>{html.escape(v)}</code></td>"
                      if v in colour else f"<td style='text-align:left'><code>{html.escape(v)}</code></td>" for v in ids]
            cells.append(f"<td style='text-align:left'>{html.escape(verdict)}</td>")
            body += "<tr>" + "".join(cells) + "</tr>"
        cap = f"<caption style='text-align:left'><b>{html.escape(self.title)}</b></caption>" if self.title else ""
        return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def ns_rows(ids: dict[str, dict[str, str]]) -> list[tuple]:
    """One row per kind: the number of each column's namespace, then who shares it."""
    labels = list(ids)
    return [(k, *[ids[l].get(k, "-") for l in labels], who_shares(labels, [ids[l].get(k, "-") for l in labels]))
            for k in NAMESPACES]


def ns_table(columns: dict[str, int | str], title: str | None = None) -> NsTable:
    """``columns``: {label: pid or "self"}. A table of the eight kinds; a coloured cell is shared."""
    ids = {label: ns_ids(pid) for label, pid in columns.items()}
    return NsTable(ns_rows(ids), ["namespace", *ids, "who shares"],
                   title=title or "the same colour in a row = the same namespace")


def compare(*names: str) -> NsTable | str:
    """The namespaces of running containers side by side; "host" stands for this notebook's kernel."""
    columns = {}
    for name in names:
        pid = "self" if name == "host" else pid_of(name)
        if pid == 0:
            return f"{name} is not running: start it first (docker start {name})"
        columns[name if name not in columns else name + " (again)"] = pid
    return ns_table(columns, title=" vs ".join(names) + ": the same colour in a row = one shared namespace")


def running() -> list[str]:
    return sorted(sh("docker ps --format '{{.Names}}'", quiet=True).split())


def compare_widget(left: str = "host", right: str | None = None):
    """Two drop-downs of the running containers (and "host") and their namespace table."""
    import ipywidgets as widgets
    from IPython.display import display

    names = ["host"] + running()
    a = widgets.Dropdown(options=names, value=left if left in names else "host", description="compare")
    b = widgets.Dropdown(options=names, value=right if right in names else names[-1], description="with")
    reload = widgets.Button(description="reload list", tooltip="list the containers running now")
    out = widgets.Output()

    def refresh(_=None):
        with out:
            out.clear_output(wait=True)
            try:
                display(compare(a.value, b.value))
            except Exception as exc:  # noqa: BLE001 - e.g. removed meanwhile: say so in the widget
                print(f"cannot compare {a.value} and {b.value}: {exc}")

    def reload_names(_=None):
        now = ["host"] + running()
        for dd in (a, b):
            keep = dd.value if dd.value in now else "host"
            dd.options, dd.value = now, keep
        refresh()

    a.observe(refresh, names="value")
    b.observe(refresh, names="value")
    reload.on_click(reload_names)
    refresh()
    return widgets.VBox([widgets.HBox([a, b, reload]), out])


# --- readers of /proc ------------------------------------------------------------------------
def status(pid: int | str, proc: Path = PROC) -> dict[str, str]:
    """/proc/<pid>/status as {field: value}."""
    return {k: v.strip() for k, _, v in (line.partition(":") for line in (proc / str(pid) / "status").read_text()
                                         .splitlines())}


def nspid(pid: int | str, proc: Path = PROC) -> list[int]:
    """The process's PID in each PID namespace it is visible in, outermost (the host's) first."""
    return [int(n) for n in status(pid, proc)["NSpid"].split()]


def uids(pid: int | str, proc: Path = PROC) -> list[int]:
    """Real, effective, saved and filesystem uid of a process, as the host's kernel counts them."""
    return [int(n) for n in status(pid, proc)["Uid"].split()]


def interfaces(pid: int | str = "self", proc: Path = PROC) -> list[str]:
    """The interfaces of a process's network namespace, from /proc/<pid>/net/dev."""
    return sorted(line.split(":")[0].strip() for line in (proc / str(pid) / "net" / "dev").read_text()
                  .splitlines()[2:] if ":" in line)


def interfaces_table(columns: dict[str, int | str], show: int = 6, proc: Path = PROC) -> Table:
    """How many interfaces each process's network namespace has, and the first few names."""
    rows = []
    for label, pid in columns.items():
        names = interfaces(pid, proc)
        rows.append((label, len(names), ", ".join(names[:show]) + (" ..." if len(names) > show else "")))
    return Table(rows, ["network namespace of", "interfaces", "names"])


def segments(output: str) -> list[str]:
    """The keys of the shared-memory segments that `ipcs -m` printed."""
    return [line.split()[0] for line in output.splitlines() if line.startswith("0x")]


def host_segments(proc: Path = PROC) -> list[str]:
    """The shared-memory keys of this process's IPC namespace (/proc/sysvipc/shm), as ipcs prints them."""
    rows = (proc / "sysvipc" / "shm").read_text().splitlines()[1:]
    return [f"0x{int(r.split()[0]) & 0xffffffff:08x}" for r in rows if r.strip()]


def ipc_views(owner: str, image: str = "debian:bookworm-slim") -> Table:
    """Who sees the segments made in ``owner``: itself, a container in its IPC namespace, a default one, the host."""
    ours = set(segments(sh(f"docker exec {owner} ipcs -m", quiet=True)))
    views = [(f"{owner} itself", f"docker exec {owner} ipcs -m"),
             (f"docker run --ipc=container:{owner}", f"docker run --rm --ipc=container:{owner} {image} ipcs -m"),
             ("docker run (default)", f"docker run --rm {image} ipcs -m")]
    rows = []
    for who, cmd in views:
        seen = segments(sh(cmd, quiet=True))
        rows.append((who, len(seen), "yes" if ours & set(seen) else "no"))
    host = host_segments()
    rows.append(("this notebook (the host's IPC namespace)", len(host), "yes" if ours & set(host) else "no"))
    return Table(rows, ["who looks", "segments seen", f"sees {', '.join(sorted(ours)) or 'none'}"])


# --- a container from scratch ---------------------------------------------------------------
TINY = Path(__file__).with_name("tinyrun.py")


def export_rootfs(image: str = "busybox") -> str:
    """The files of ``image`` (docker create + docker export) unpacked in a new temporary folder."""
    rootfs = tempfile.mkdtemp(prefix="dockyard-01-rootfs-")
    cid = sh(f"docker create {image}", quiet=True).strip().splitlines()[-1]
    try:
        export = subprocess.Popen(["docker", "export", cid], stdout=subprocess.PIPE,
                                  env={**os.environ, **sandbox().env()})
        with tarfile.open(fileobj=export.stdout, mode="r|") as tar:
            tar.extractall(rootfs, **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))
        export.wait()
    finally:
        sh(f"docker rm {cid}", quiet=True, check=False)
    return rootfs


def tiny_run(rootfs: str, *command: str, timeout: float = 30) -> str:
    """Run ``command`` in ``rootfs`` with dockyard/notebook/tinyrun.py, a 30-line runtime; its output."""
    run = subprocess.run([sys.executable, str(TINY), rootfs, *command], capture_output=True, text=True,
                         timeout=timeout)
    out = run.stdout + run.stderr
    print(out + (f"(exit status {run.returncode})" if run.returncode else ""))
    return out
