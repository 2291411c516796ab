"""How many learners one machine holds under `dockyard hub`: memory (idle, busy), CPU at rest, spawn times.

A learner is their hub server (jupyterhub-singleuser, unprivileged, fenced), one kernel, and their own sealed
sandbox (dockerd, containerd, the seal's plugin, the sandbox registry). The benchmark starts a hub of its own
(`dockyard hub start --purge-on-stop`, so every spawn starts a fresh sandbox), then:

- spawn time: one learner's server started through the REST API until the hub reports it ready; median of 5;
- idle: a kernel started and left alone; memory (PSS: shared pages counted once among those who share them;
  RSS beside it) and CPU over 30 s at rest;
- busy: the same learner mid-lab: lab 05's image built and running (`docker run -d -p`), matplotlib imported;
- 10 at once: ten learners' spawns sent together, until the last is ready;
- the hub's own share (hub, proxy, idle culler, formgrader service);
- learners per machine: (RAM − 2 GiB for the system − the hub's share) / per-learner memory, and the CPU view.

Run as root, on a machine where the base images are seeded (`dockyard up` once):

    .venv/bin/python bench/hub_capacity.py [--ram 24g --cores 2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from dockyard import cgroups, network, procs  # noqa: E402
from dockyard.config import human_size, parse_size  # noqa: E402
from grader.hub.client import HubClient  # noqa: E402
from grader.hub.run import HubDir  # noqa: E402
from grader.hub.spawner import sandbox_name  # noqa: E402
from dockyard.sandbox import Sandbox  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")


def pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def learner_pids(hub: HubDir, name: str) -> dict[str, list[int]]:
    """The learner's processes: server and kernels (their fence cgroup), and their sandbox's."""
    box = Sandbox(name=sandbox_name(hub.root, name))
    fence = cgroups.SandboxCgroup(box.cfg.cgroup_name + "-lab", cgroups.detect())
    st = box.state
    pid = box.daemon_pid()
    sandbox = [p for p in [pid, box.registry.pid(), st.authz_pid] if p]
    if pid:
        sandbox += procs.descendants(pid)
    if st.authz_pid:
        sandbox += procs.children(st.authz_pid)
    sandbox += tree_procs(box.cgroup)  # the containers' processes, in its cgroup's sub-cgroups
    return {"server": sorted(fence.procs()), "sandbox": sorted(set(sandbox))}


def tree_procs(cg: cgroups.SandboxCgroup) -> list[int]:
    out: set[int] = set()
    for top in cg._all_dirs():
        for dirpath, _dirs, _files in os.walk(top):
            with contextlib.suppress(OSError):
                out.update(int(x) for x in Path(dirpath, "cgroup.procs").read_text().split() if x.isdigit())
    return sorted(out)


def memory(pids: list[int]) -> tuple[int, int]:
    return sum(pss(p) for p in pids), sum(procs.rss(p) for p in pids)


def cpu_share(pids: list[int], seconds: float) -> float:
    """Share of one core these processes used over ``seconds`` (the processes alive at the start)."""
    before = {p: cpu_ticks(p) for p in pids}
    time.sleep(seconds)
    used = sum(max(0, cpu_ticks(p) - t) for p, t in before.items())
    return used / CLK / seconds


class Hub:
    def __init__(self, names: list[str]):
        self.dir = HubDir.named(f"hb{os.getpid() % 100000}")
        self.tmp = Path(tempfile.mkdtemp(prefix="dockyard-hub-bench-"))
        self.passwords = {n: self.dir.roster.add(n)[1] for n in names}
        self.port = network.free_port()
        self.log = open(self.tmp / "hub.log", "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "grader.cli", "hub", "start", "--class",
                                      self.dir.root.name, "--course", str(self.tmp / "course"), "--port",
                                      str(self.port), "--purge-on-stop", "--cull-idle", "86400"],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 180
        while True:
            if self.proc.poll() is not None:
                raise SystemExit((self.tmp / "hub.log").read_text()[-3000:])
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/hub/api", timeout=2).ok:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("the hub did not answer in 180 s")
            time.sleep(0.3)
        self.client = HubClient(self.url)

    def own_pids(self) -> list[int]:
        return [self.proc.pid, *procs.descendants(self.proc.pid)]

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()
        for n in self.passwords:
            box = Sandbox(name=sandbox_name(self.dir.root, n))
            if box.cfg.dir.exists():
                box.down(purge=True)
        shutil.rmtree(self.dir.root, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.dir.root.parent.rmdir()  # .hub/, when no other hub is left
        shutil.rmtree(self.tmp, ignore_errors=True)


BUSY = r"""
import os, shutil, subprocess
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
lab = os.path.join(os.getcwd(), "labs", "05-dockerfile")
open(os.path.join(lab, "Dockerfile"), "w").write({dockerfile!r})
open(os.path.join(lab, ".dockerignore"), "w").write({dockerignore!r})
subprocess.run(["docker", "build", "-q", "-t", "hello-web", lab], check=True, capture_output=True)
subprocess.run(["docker", "run", "-d", "--name", "web", "-p", "127.0.0.1::8080", "hello-web"], check=True,
               capture_output=True)
plt.plot([1, 2, 3])
print("busy")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="Spawns timed one at a time.")
    ap.add_argument("--at-once", type=int, default=10, help="Spawns sent together.")
    ap.add_argument("--rest", type=float, default=30, help="Seconds of rest over which CPU is measured.")
    ap.add_argument("--ram", default="24g", help="The machine to size for: memory.")
    ap.add_argument("--cores", type=float, default=2, help="The machine to size for: cores.")
    args = ap.parse_args()
    names = [f"learner{i:02d}" for i in range(max(args.at_once, 1))]
    hub = Hub(names)
    try:
        users = {n: hub.client.login(n, hub.passwords[n]) for n in names}
        first = users[names[0]]
        times = []
        for i in range(args.runs):
            t = time.monotonic()
            first.spawn()
            first.wait_ready()
            times.append(time.monotonic() - t)
            print(f"spawn {i + 1}: {times[-1]:.2f} s (login done; REST POST → server ready, a fresh sandbox)")
            if i < args.runs - 1:
                t = time.monotonic()
                first.stop()
                print(f"        stop: {time.monotonic() - t:.2f} s (server, cgroup, check service, sandbox purged)")
        kernel = first.kernel()
        first.run("1 + 1", kernel=kernel)
        time.sleep(10)  # start-up settles
        hub_pss, hub_rss = memory([p for p in hub.own_pids() if p not in sum(learner_pids(hub.dir, names[0]).values(), [])])
        idle = learner_pids(hub.dir, names[0])
        idle_cpu = cpu_share(idle["server"] + idle["sandbox"], args.rest)
        idle_mem = {k: memory(v) for k, v in idle.items()}
        solution = REPO / "labs" / "05-dockerfile" / "solution"  # the learner cannot read it: sent in the cell
        res = first.run(BUSY.format(dockerfile=(solution / "Dockerfile").read_text(),
                                    dockerignore=(solution / ".dockerignore").read_text()), kernel=kernel, timeout=600)
        if res["error"]:
            raise SystemExit(f"the busy cell failed: {res}")
        time.sleep(5)
        busy = learner_pids(hub.dir, names[0])
        busy_mem = {k: memory(v) for k, v in busy.items()}
        busy_cpu = cpu_share(busy["server"] + busy["sandbox"], args.rest)
        first.stop()

        t = time.monotonic()
        with ThreadPoolExecutor(len(names)) as pool:
            list(pool.map(lambda u: u.spawn(), users.values()))
            done = list(pool.map(lambda u: (u.wait_ready(timeout=600), time.monotonic() - t)[1], users.values()))
        at_once = max(done)
        print(f"{len(names)} spawns at once: all ready after {at_once:.1f} s (first {min(done):.1f} s)")
        time.sleep(10)
        many = [memory(sum(learner_pids(hub.dir, n).values(), []))[0] for n in names]
        many_cpu = cpu_share(sum((sum(learner_pids(hub.dir, n).values(), []) for n in names), []), args.rest)
        t = time.monotonic()
        with ThreadPoolExecutor(len(names)) as pool:
            list(pool.map(lambda u: u.stop(timeout=300), users.values()))
        print(f"{len(names)} stops at once: {time.monotonic() - t:.1f} s")
    finally:
        hub.close()

    def mem(pair):
        return f"{human_size(pair[0])} PSS ({human_size(pair[1])} RSS)"

    print()
    print(f"spawn time, median of {len(times)}: {statistics.median(times):.2f} s")
    print(f"{len(names)} spawns at once: {at_once:.1f} s until the last server is ready")
    idle_total = idle_mem["server"][0] + idle_mem["sandbox"][0]
    busy_total = busy_mem["server"][0] + busy_mem["sandbox"][0]
    print(f"idle learner: server+kernel {mem(idle_mem['server'])}, sandbox {mem(idle_mem['sandbox'])}; "
          f"total {human_size(idle_total)} PSS; CPU at rest {idle_cpu * 100:.1f} % of a core")
    print(f"busy learner (lab 05 image built and running, matplotlib imported): server+kernel "
          f"{mem(busy_mem['server'])}, sandbox and containers {mem(busy_mem['sandbox'])}; total "
          f"{human_size(busy_total)} PSS; CPU after the build {busy_cpu * 100:.1f} % of a core")
    print(f"{len(names)} idle learners together (server, no kernel, sandbox): {human_size(sum(many))} PSS "
          f"({human_size(statistics.mean(many))} each); CPU at rest {many_cpu * 100:.1f} % of a core")
    print(f"the hub's own share (hub, proxy, idle culler, formgrader service): {human_size(hub_pss)} PSS")
    ram = parse_size(args.ram)
    room = ram - 2 * 1024**3 - hub_pss
    cpu_bound = args.cores / max(idle_cpu, 1e-6)
    print(f"learners per {human_size(ram)} / {args.cores:g}-core machine: {int(room // idle_total)} idle, "
          f"{int(room // busy_total)} busy (memory: {human_size(ram)} less 2 GiB for the system and the hub); "
          f"CPU at rest allows {int(cpu_bound)}; a busy build takes a core while it runs, so at most "
          f"{args.cores:g} learners build at full speed at once")


if __name__ == "__main__":
    main()
