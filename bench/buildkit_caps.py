"""Do BuildKit's RUN steps stay inside the sandbox's caps? A fork bomb, a memory bomb and a hung step, measured.

A throwaway sandbox (small caps: --memory, --pids, one CPU) builds, through the docker CLI that can use BuildKit
through the seal (:mod:`dockyard.buildkit`), and for comparison with the classic builder:

- where:   ``RUN cat /proc/self/cgroup``: the cgroup a RUN step lands in;
- fork:    a fork bomb (``f(){ f|f& }; f``) that lives 15 s, then the step exits 3;
- memory:  ``dd bs=<cap + 256 MiB> count=1``: one buffer larger than the sandbox's memory cap;
- hung:    ``RUN sleep 300`` with the build stopped at --timeout s (the CLI killed, as the grader does).

BuildKit's steps run with --build-memory as the cap of all of them together (``<sandbox cgroup>/buildkit``, as
grading sets the lab's memory there: :meth:`dockyard.cgroups.SandboxCgroup.builds_capped`); the classic builder's run
as a learner's `docker build` does, with no limits of their own.

While each build runs, the sandbox's cgroup is sampled every 20 ms (pids, memory; v1's max_usage too) and the daemon
is pinged every 250 ms. Printed per build: how it ended, its time, peak pids and memory of the sandbox's cgroup, pids
cap hits and OOM kills, the slowest ping, and what was left (processes in the cgroup, containers).

Run as root:  .venv/bin/python bench/buildkit_caps.py [--memory 512m --pids 256 --builders buildkit,classic]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dockyard import buildkit, daemon  # noqa: E402
from dockyard.config import SandboxConfig, human_size, parse_size  # noqa: E402
from dockyard.sandbox import Sandbox  # noqa: E402

FORK = "RUN mkfifo /wait; f(){ f | f & }; f; read -t 15 x <> /wait; echo survived; exit 3\n"
HUNG = "RUN sleep 300\n"


def dockerfiles(memory: int) -> dict[str, str]:
    return {"where": "FROM busybox\nRUN cat /proc/self/cgroup\n",
            "fork": "FROM busybox\n" + FORK,
            "memory": f"FROM busybox\nRUN dd if=/dev/zero of=/dev/null bs={(memory >> 20) + 256}M count=1\n",
            "hung": "FROM busybox\n" + HUNG}


class Sampler:
    """The sandbox cgroup's pids and memory every 20 ms, and the daemon's /_ping every 250 ms, in threads."""

    def __init__(self, box: Sandbox):
        self.box, self.cg = box, box.cgroup
        self.stop = threading.Event()
        self.peak_pids = self.peak_memory = 0
        self.slowest_ping = 0.0
        self.failed_pings = 0
        self.seen_cgroups: set[str] = set()
        self.child_counts: dict[tuple[str, str], int] = {}

    def __enter__(self):
        self.pids_hits, self.ooms = self.cg.pids_max_hits(), self.cg.oom_kills()
        _reset_peak(self.cg)
        _reset_peak(self.cg.builds())
        self.threads = [threading.Thread(target=self._usage, daemon=True), threading.Thread(target=self._ping, daemon=True)]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()
        self.peak_memory = max(self.peak_memory, _peak(self.cg) or 0)
        self.pids_hits = self.cg.pids_max_hits() - self.pids_hits
        self.ooms = self.cg.oom_kills() - self.ooms
        # a RUN step's fork failures and OOM kills are counted in its own cgroup (Linux 6.x, v1 and v2's local
        # counters), which goes with the step: the sampled counts of those cgroups are added
        self.pids_hits += sum(v for (_p, k), v in self.child_counts.items() if k == "max")
        self.ooms += sum(v for (_p, k), v in self.child_counts.items() if k == "oom_kill")

    def _usage(self):
        top = self.cg.paths()[0] if self.cg.paths() else None
        n = 0
        while not self.stop.is_set():
            use = self.cg.usage()
            self.peak_pids = max(self.peak_pids, use["pids"] or 0)
            self.peak_memory = max(self.peak_memory, use["memory"] or 0)
            if top is not None and n % 10 == 0:
                for d, _sub, files in os.walk(top):
                    if (Path(d) / "cgroup.procs").exists() and (Path(d) / "cgroup.procs").read_text().strip():
                        self.seen_cgroups.add(re.sub(r"[0-9a-z]{20,}", "<id>", str(Path(d).relative_to(top.parent))))
            for hierarchy in self.cg.paths():
                for d, _sub, _files in os.walk(hierarchy):
                    if d == str(hierarchy):
                        continue
                    for name in ("pids.events", "memory.oom_control", "memory.events"):
                        try:
                            words = (Path(d) / name).read_text().split()
                        except OSError:
                            continue
                        for key, value in zip(words[::2], words[1::2]):
                            if key in ("max", "oom_kill"):
                                self.child_counts[(d, key)] = max(self.child_counts.get((d, key), 0), int(value))
            n += 1
            time.sleep(0.02)

    def _ping(self):
        while not self.stop.is_set():
            t = time.monotonic()
            if not daemon.ping(self.box.cfg.socket, timeout=5):
                self.failed_pings += 1
            self.slowest_ping = max(self.slowest_ping, time.monotonic() - t)
            time.sleep(0.25)


def _reset_peak(cg) -> None:
    for p in cg.paths():
        for name in ("memory.max_usage_in_bytes", "memory.peak"):
            if (p / name).exists():
                try:
                    (p / name).write_text("0")
                except OSError:
                    pass  # memory.peak before Linux 6.12 cannot be reset: the peak is then since up


def _peak(cg) -> int | None:
    for p in cg.paths():
        for name in ("memory.max_usage_in_bytes", "memory.peak"):
            if (p / name).exists():
                return int((p / name).read_text())
    return None


def classic(cli: buildkit.Cli, host: str, ctx: Path, tag: str, timeout: float) -> buildkit.BuildRun:
    """The same build with the classic builder (DOCKER_BUILDKIT=0), as a learner's `docker build` runs it."""
    t0 = time.monotonic()
    env = {"DOCKER_HOST": host, "DOCKER_BUILDKIT": "0", "DOCKER_CONFIG": str(ctx), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([cli.path, "build", "--network=none", "-t", tag, str(ctx)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        code = None
    text = out.decode(errors="replace")
    return buildkit.BuildRun(code, text, text[-8000:], None, time.monotonic() - t0)


def ending(run: buildkit.BuildRun) -> str:
    if run.timed_out:
        return "stopped at the timeout"
    if run.returncode == 0:
        return "built"
    m = re.search(r"(exit code: \d+|returned a non-zero code: \d+)", run.text)
    return f"failed ({m.group(1) if m else 'exit ' + str(run.returncode)})"


def leftovers(box: Sandbox, wait: float = 30) -> tuple[float, int, int]:
    """Seconds until the sandbox's cgroup has no process left, those still left then, and containers."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < wait and box.cgroup.procs(nested=True):
        time.sleep(0.1)
    gone = time.monotonic() - t0
    return gone, len(box.cgroup.procs(nested=True)), len(box.client.api.containers(all=True))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memory", default="512m")
    ap.add_argument("--pids", type=int, default=256)
    ap.add_argument("--timeout", type=float, default=8, help="seconds before the hung build is stopped")
    ap.add_argument("--builders", default="buildkit,classic")
    ap.add_argument("--only", default="where,fork,memory,hung")
    ap.add_argument("--build-memory", default="256m",
                    help="the cap of BuildKit's RUN steps together (<parent>/buildkit), as grading sets the lab's "
                         "memory; 0: none of their own (the sandbox's caps alone)")
    args = ap.parse_args(argv)
    memory = parse_size(args.memory)
    build_memory = parse_size(args.build_memory) if args.build_memory not in ("0", "") else 0
    cli = buildkit.find_cli()
    if cli is None:
        print("no docker CLI before 23 here: BuildKit cannot be measured through the seal", file=sys.stderr)
        return 2
    box = Sandbox(SandboxConfig.from_env(name=f"bkcap{os.getpid() % 1000}", memory=memory, pids=args.pids, cpus=1.0))
    rows = []
    try:
        box.up(progress=lambda m: print(m, file=sys.stderr))
        print(f"sandbox {box.name}: {box.cgroup.hierarchy.label}, caps memory {human_size(memory)}, pids {args.pids}, "
              f"1 CPU; BuildKit's RUN steps together {human_size(build_memory) if build_memory else 'no cap of their own'}; dockerd {box.client.version()['Version']}, CLI {cli.path} {cli.version}", flush=True)
        files = dockerfiles(memory)
        for builder in args.builders.split(","):
            for name in args.only.split(","):
                with tempfile.TemporaryDirectory() as tmp:
                    ctx = Path(tmp)
                    (ctx / "Dockerfile").write_text(files[name])
                    timeout = args.timeout if name == "hung" else 300
                    tag = f"bkcap/{name}-{builder}"
                    with Sampler(box) as s:
                        if builder == "buildkit":
                            with box.cgroup.builds_capped(build_memory or None):
                                run = buildkit.run_build(cli, box.docker_host, ctx, tag=tag, timeout=timeout,
                                                         labels={"org.dockyard.bench": "caps"})
                        else:
                            run = classic(cli, box.docker_host, ctx, tag, timeout)
                        gone, left, containers = leftovers(box)
                    answers = daemon.ping(box.cfg.socket, timeout=5)
                where = ""
                if name == "where":
                    m = re.search(r"\d+:memory:(\S+)", run.text)
                    where = m.group(1) if m else "?"
                rows.append([builder, name, ending(run), f"{run.seconds:.1f}", s.peak_pids, human_size(s.peak_memory),
                             human_size(_peak(box.cgroup.builds())) if builder == "buildkit" else "-",
                             s.pids_hits, s.ooms, f"{s.slowest_ping * 1000:.0f} ms", s.failed_pings,
                             "yes" if answers else "NO", f"{gone:.1f}", left, containers,
                             where or ", ".join(sorted(c for c in s.seen_cgroups if c.count("/") > 0))[:60]])
                print(" | ".join(str(c) for c in rows[-1]), flush=True)
                with __import__("contextlib").suppress(Exception):
                    box.client.api.remove_image(tag, force=True)
    finally:
        report = box.down(purge=True)
        print(f"down: {report}", file=sys.stderr)
    head = ["builder", "build", "ended", "s", "peak pids", "peak mem", "builds' peak", "pids-cap hits", "OOM kills", "slowest ping",
            "failed pings", "answers after", "s to empty", "procs left", "containers", "RUN steps' cgroups"]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    print()
    for r in [head, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
