"""Time `dockyard up` (seed cache present) to the first `docker run --rm busybox true`, and idle memory.

Each run starts a brand-new sandbox (purged before and after), so the daemon
starts cold and pulls busybox from the machine's seed registry. With
``--template`` the sandbox is made as a grading sandbox is: its data-root cloned
from the image template (busybox already there); ``--disk 4g`` puts it on a
fixed-size disk, as grading does by default.

    .venv/bin/python bench/sandbox_start.py [--runs 5] [--template] [--disk 4g]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

from dockyard import Sandbox, SandboxConfig
from dockyard.config import human_size


def one_run(name: str, disk: str | None = None, tmpl=None) -> tuple[float, float, int]:
    box = Sandbox(SandboxConfig.from_env(name=name, disk=disk))
    box.down(purge=True)
    try:
        t0 = time.monotonic()
        box.up(progress=lambda m: None, **({"template": tmpl} if tmpl else {}))
        t_up = time.monotonic() - t0
        env = dict(os.environ, DOCKER_HOST=box.docker_host)
        subprocess.run(["docker", "run", "--rm", "busybox", "true"], env=env, check=True, capture_output=True)
        t_run = time.monotonic() - t0
        time.sleep(2)  # let start-up garbage settle before measuring idle memory
        idle = box.status()["memory"]["sandbox_processes"]
        return t_up, t_run, idle
    finally:
        box.down(purge=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--template", action="store_true", help="clone the busybox image template, as grading does")
    ap.add_argument("--disk", default=None, help="a disk cap for the data-root, e.g. 4g (grading's default)")
    args = ap.parse_args()
    tmpl = None
    if args.template:
        from dockyard import template

        tmpl = template.ensure(progress=print, images=("busybox",))
    # make sure the seed cache exists: that is not what this measures
    warm = Sandbox(SandboxConfig.from_env(name=f"bench{os.getpid() % 1000}"))
    try:
        warm.up(progress=print)
    finally:
        warm.down(purge=True)
    ups, runs, mems = [], [], []
    for i in range(args.runs):
        t_up, t_run, idle = one_run(f"bench{os.getpid() % 1000}", args.disk, tmpl)
        ups.append(t_up), runs.append(t_run), mems.append(idle)
        print(f"run {i + 1}: up {t_up:.2f} s, up → first container {t_run:.2f} s, idle memory {human_size(idle)}")
    kind = ("template clone" if tmpl else "empty data-root") + (f", {args.disk} disk" if args.disk else "")
    print(f"{kind}: median of {args.runs}: up {statistics.median(ups):.2f} s; up → `docker run --rm busybox true` "
          f"{statistics.median(runs):.2f} s (target < 3 s); idle memory {human_size(statistics.median(mems))} "
          f"(target < 200 MB)")


if __name__ == "__main__":
    main()
