"""Lesson 04's helpers: the lifecycle diagram, the stop-versus-kill measurement, a pty driver for ``-it``,
probes for published ports and a container control panel.

The lesson cells call these the way a learner types docker commands; what the helpers do behind the
scenes (reading /proc, driving a pseudo-terminal, drawing) is the plumbing kept out of the lesson.
"""

from __future__ import annotations

import os
import re
import select
import shlex
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from . import Table, sandbox, sh

# Docker's own states (what `docker inspect -f '{{.State.Status}}'` and `docker ps --filter status=` know),
# plus "removed", which is no state at all: the container is gone.
STATES = ("created", "running", "paused", "restarting", "removing", "exited", "dead")

BOXES = {"created": (1.0, 3.0), "running": (5.2, 3.0), "paused": (9.2, 3.0),
         "removing": (1.0, 0.6), "exited": (5.2, 0.6), "restarting": (9.2, 0.6),
         "removed": (1.0, -1.6), "dead": (5.2, -1.6)}
START = (-2.0, 3.0)                               # the image: no container yet
# (from, to): (label, curvature, label position (x, y, align) or None for the middle of the arrow)
ARROWS = {
    (None, "created"): ("create", 0.0, (-0.95, 3.3, "center")),
    (None, "running"): ("run (= create + start)", -0.3, None),
    ("created", "running"): ("start", 0.0, None),
    ("running", "paused"): ("pause", -0.3, None),
    ("paused", "running"): ("unpause", -0.3, None),
    ("running", "exited"): ("stop, kill,\nPID 1 ends", 0.3, (4.55, 1.8, "right")),
    ("exited", "running"): ("start", 0.3, (5.85, 1.8, "left")),
    ("running", "restarting"): ("PID 1 ends and\nthe restart policy\nsays again", -0.25, (8.6, 1.85, "left")),
    ("restarting", "running"): ("after a delay", -0.25, (9.75, 1.5, "left")),
    ("created", "removing"): ("rm", 0.0, (0.75, 1.8, "center")),
    ("exited", "removing"): ("rm", 0.0, None),
    ("running", "removing"): ("rm -f", 0.0, (2.9, 1.55, "center")),
    ("removing", "removed"): ("done", 0.0, (0.75, -0.5, "center")),
    ("removing", "dead"): ("removal failed", 0.0, (3.1, -0.8, "center")),
}


# what lesson 04 makes, so that a second run (and the clean-up) starts from nothing
LESSON_CONTAINERS = ("demo-life", "demo-restart", "demo-log", "demo-attached", "demo-detached", "demo-tty",
                     "demo-web", "demo-web-rev", "demo-src", "demo-user", "demo-data", "demo-sleep", "demo-ignore",
                     "demo-trap", "demo-init", "demo-kill",
                     "try-restart", "try-stopped", "try-detached", "try-web", "try-prefix")
LESSON_LABEL = "dockyard.try=prefix"
LESSON_IMAGES = ("demo-app:v1",)


def lesson_leftovers(client=None) -> list[str]:
    """IDs of the containers lesson 04 made: by name, by its label, and demo-id-N."""
    client = client or sandbox().client
    out = []
    for c in client.api.containers(all=True):
        name = c["Names"][0].lstrip("/")
        if name in LESSON_CONTAINERS or re.fullmatch(r"demo-id-\d+", name) \
                or (c.get("Labels") or {}).get(LESSON_LABEL.split("=")[0]) == LESSON_LABEL.split("=")[1]:
            out.append(c["Id"])
    return out


def remove_leftovers(client=None) -> None:
    """Remove what an earlier run of lesson 04 left: its containers and its image."""
    client = client or sandbox().client
    for cid in lesson_leftovers(client):
        client.api.remove_container(cid, force=True)
    for image in LESSON_IMAGES:
        if client.api.images(name=image, quiet=True):
            client.api.remove_image(image, force=True)


def inspect(name: str, client=None) -> dict | None:
    """``docker inspect`` of one container as a dict, or None once it is removed."""
    import docker.errors

    try:
        return (client or sandbox().client).api.inspect_container(name)
    except docker.errors.NotFound:
        return None


def state_of(name: str, client=None) -> tuple[str, str]:
    """(state, what docker inspect said): "removed" when there is no such container."""
    ins = inspect(name, client)
    if ins is None:
        return "removed", "No such container"
    st = ins["State"]
    return st["Status"], f"Status={st['Status']} ExitCode={st['ExitCode']} Pid={st['Pid']} " \
                         f"RestartCount={ins.get('RestartCount', 0)}"


def path_between(before: str | None, after: str) -> list[tuple]:
    """The arrows a container took from one observed state to the next: the direct one, or two in a row
    (exited -> removing -> removed happens within one `docker rm`)."""
    if before == after:
        return []
    if (before, after) in ARROWS:
        return [(before, after)]
    for (a, mid) in ARROWS:
        if a == before and (mid, after) in ARROWS:
            return [(a, mid), (mid, after)]
    return []


class Lifecycle:
    """The lifecycle of one container, drawn after each command with its current state in orange and the
    arrows it just took in red. ``run`` runs a docker command (as ``sh`` does) and then draws."""

    def __init__(self, name: str, client=None):
        self.name, self.client = name, client
        self.last: str | None = None
        self.history: list[tuple] = []

    def observe(self) -> tuple[str, list[tuple]]:
        state, detail = state_of(self.name, self.client)
        taken = path_between(self.last, state)
        self.last = state
        self.history.append((len(self.history) + 1, state, detail))
        return state, taken

    def run(self, cmd: str, check: bool = True, draw: bool = True):
        out = sh(cmd, check=check)
        state, taken = self.observe()
        if draw:
            self.draw(state, taken, f"after `{cmd[:60]}`")
        return out

    def wait_for(self, status: str, budget: float = 20.0) -> str:
        """Wait (up to budget seconds) until the container is in `status`; draw and return what it is in."""
        deadline = time.monotonic() + budget
        while state_of(self.name, self.client)[0] != status and time.monotonic() < deadline:
            time.sleep(0.05)
        state, taken = self.observe()
        self.draw(state, taken, f"waited for {status}")
        return state

    def table(self) -> Table:
        return Table(self.history, ["step", "state", "what docker inspect said"], title=f"{self.name}, step by step")

    def draw(self, state: str, taken: list[tuple], caption: str = ""):
        import matplotlib.pyplot as plt
        from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

        fig, ax = plt.subplots(figsize=(10, 4.4))
        ax.set_xlim(-2.4, 10.6); ax.set_ylim(-2.2, 3.8); ax.axis("off")
        patches = {}
        for s, (x, y) in BOXES.items():
            here = s == state
            p = FancyBboxPatch((x - 1.0, y - 0.36), 2.0, 0.72, boxstyle="round,pad=0.04",
                               fc="#ff9f43" if here else ("#f7f7f7" if s == "removed" else "#e6e6e6"),
                               ec="black", lw=2.4 if here else 1, ls=":" if s == "removed" else "-")
            ax.add_patch(p); patches[s] = p
            ax.text(x, y, s, ha="center", va="center", fontsize=11, weight="bold" if here else "normal")
        ax.plot(*START, "ko", ms=7); ax.text(START[0], START[1] - 0.35, "image", ha="center", fontsize=9)
        for (a, b), (label, rad, where) in ARROWS.items():
            hot = (a, b) in taken
            pa = START if a is None else BOXES[a]
            ax.add_patch(FancyArrowPatch(pa, BOXES[b], connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>",
                                         mutation_scale=15, lw=2.6 if hot else 1.0, color="#d62728" if hot else "#666",
                                         patchA=None if a is None else patches[a], patchB=patches[b]))
            (x1, y1), (x2, y2) = pa, BOXES[b]
            # the middle of an arc3 curve lies half way between the chord's middle and its control point
            lx, ly, ha = where or ((x1 + x2) / 2 + rad * (y2 - y1) / 2, (y1 + y2) / 2 - rad * (x2 - x1) / 2, "center")
            ax.text(lx, ly, label, ha=ha, va="center", fontsize=8, color="#d62728" if hot else "#333",
                    weight="bold" if hot else "normal", bbox=dict(fc="white", ec="none", pad=0.4, alpha=0.85))
        ax.set_title(f"{self.name} is {state}  ({caption})", fontsize=10, loc="left")
        plt.show()


# --- stop versus kill -------------------------------------------------------------------------------
TERM_BIT = 1 << (15 - 1)                     # SIGTERM is signal 15: bit 14 of the masks in /proc/PID/status


def term_handling(pid: int | str) -> tuple[str, str]:
    """(program, what it does with SIGTERM), from /proc/PID/status and /proc/PID/wchan: the kernel's word."""
    status_file = Path(f"/proc/{pid}/status")
    if not status_file.exists():
        return "?", "unknown: this kernel cannot read that process (the daemon runs elsewhere)"
    status = dict(line.split(":", 1) for line in status_file.read_text().splitlines() if ":" in line)
    prog = status["Name"].strip()
    if int(status["SigIgn"], 16) & TERM_BIT:
        return prog, "ignores it"
    if int(status["SigCgt"], 16) & TERM_BIT:
        return prog, "has a handler"
    try:
        wchan = Path(f"/proc/{pid}/wchan").read_text()      # where in the kernel it sleeps
    except OSError:
        wchan = ""
    if int(status["SigBlk"], 16) & TERM_BIT or "sigtimedwait" in wchan:
        return prog, "waits for signals (sigtimedwait)"
    # While it waits in sigtimedwait the kernel shows the awaited signals unblocked, and wchan reads "0" to
    # whoever may not ptrace the process (a learner's kernel): then only the program tells tini apart.
    if wchan in ("", "0") and prog in INIT_PROGRAMS:
        return prog, "waits for signals (sigtimedwait), as tini does"
    return prog, "no handler: as PID 1, the kernel drops it"


INIT_PROGRAMS = ("docker-init", "tini", "tini-static")
EXIT_MEANING = {137: "SIGKILL (128 + 9)", 143: "died from SIGTERM (128 + 15)", 0: "handled SIGTERM, exited by itself"}


def _wait_for_program(name: str, program: str, budget: float = 5.0) -> None:
    deadline = time.monotonic() + budget
    while program not in sh(f"docker top {name} -o pid,comm", quiet=True, check=False).split() \
            and time.monotonic() < deadline:
        time.sleep(0.1)


def measure_stops(cases: list[tuple[str, str, str]], plot: bool = True) -> Table:
    """Run each (name, `docker run` arguments, stop command) case: start it detached, read what its PID 1
    does with SIGTERM, stop it, time the stop and read the exit code. The containers are removed afterwards."""
    rows, took_by_name = [], {}
    try:
        for name, run_args, stop in cases:
            sh(f"docker run -d --name {name} {run_args}", quiet=True)
            _wait_for_program(name, "sleep")
            prog, handling = term_handling(inspect(name)["State"]["Pid"])
            t0 = time.monotonic()
            sh(f"docker {stop} {name}", quiet=True)
            took = time.monotonic() - t0
            code = inspect(name)["State"]["ExitCode"]
            took_by_name[f"{name}: {stop.split()[0]}"] = took
            rows.append((name, run_args, prog, handling, f"docker {stop}", f"{took:.1f} s", code,
                         EXIT_MEANING.get(code, "?")))
    finally:
        names = " ".join(c[0] for c in cases)
        sh(f"docker rm -f {names}", quiet=True, check=False)
    if plot and took_by_name:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 2.4))
        ax.barh(list(took_by_name), list(took_by_name.values()),
                color=["#d62728" if t > 1 else "#2ca02c" for t in took_by_name.values()])
        ax.invert_yaxis(); ax.set_xlabel("seconds until the container had stopped")
        plt.show()
    return Table(rows, ["container", "docker run -d ...", "PID 1", "SIGTERM at PID 1", "command", "took",
                        "ExitCode", "what ended it"], title="stop waits out the grace period, then kills")


# --- terminals --------------------------------------------------------------------------------------
def raw(cmd: str, stdin: bytes = b"") -> bytes:
    """A command's exact output bytes (sh() tidies line ends away, and -t is all about line ends)."""
    env = {**os.environ, **sandbox().env()}
    return subprocess.run(cmd, shell=True, input=stdin, capture_output=True, env=env, timeout=60).stdout


def clean_screen(screen: bytes) -> str:
    """What a terminal would show: escape sequences and carriage returns removed."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode(errors="replace")).replace("\r", "")
    return text.strip("\n")


def terminal(cmd: str, keys: list[bytes], budget: float = 20.0, env: dict | None = None) -> tuple[int, str]:
    """Run cmd on a pseudo-terminal and type each of keys once the screen has been quiet for 0.4 s, as a
    person would: the first key once the program has printed something (a prompt), or after 2 s of silence
    (`docker attach` prints nothing until you type). Returns (exit code, screen)."""
    import pty

    env = env if env is not None else {**os.environ, **sandbox().env()}
    master, slave = pty.openpty()
    proc = subprocess.Popen(shlex.split(cmd), stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True)
    os.close(slave)
    started = time.monotonic()
    screen, keys, deadline, quiet_since = b"", list(keys), started + budget, started
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:          # the other side closed: the program ended
                    break
                if not chunk:
                    break
                screen, quiet_since = screen + chunk, time.monotonic()
            elif proc.poll() is not None:
                break
            elif keys and time.monotonic() - quiet_since > 0.4 and (screen or time.monotonic() - started > 2.0):
                os.write(master, keys.pop(0)); quiet_since = time.monotonic()
    finally:
        os.close(master)
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill(); code = proc.wait()
    return code, clean_screen(screen)


KEY_NAMES = {b"\x10\x11": "Ctrl-P Ctrl-Q", b"\x03": "Ctrl-C", b"\x04": "Ctrl-D"}


def _key_name(key: bytes) -> str:
    text = key.decode(errors="replace").strip()
    return KEY_NAMES.get(key) or (text if text.isprintable() and text else repr(key))


def type_into(cmd: str, *keys: bytes) -> int:
    """Run cmd on a terminal, type keys, print the screen as you would have seen it; returns the exit code."""
    shown = ", ".join(_key_name(k) for k in keys)
    code, screen = terminal(cmd, list(keys))
    print(f"$ {cmd}        (typed: {shown})\n{screen}\n[docker exited with {code}]")
    return code


# --- ports ------------------------------------------------------------------------------------------
def fetch(port: int, path: str = "/", budget: float = 3.0) -> str:
    """GET http://127.0.0.1:PORT/PATH, retried for a moment while a server starts. Only ever 127.0.0.1."""
    deadline, last = time.monotonic() + budget, ""
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{int(port)}{path}", timeout=2) as resp:
                return f"HTTP {resp.status}: {resp.read(200).decode(errors='replace').strip()}"
        except Exception as exc:       # refused, reset, timed out: say which
            last = f"{type(exc).__name__}: {getattr(exc, 'reason', None) or exc}"
        if time.monotonic() > deadline:
            return "no answer, " + last
        time.sleep(0.2)


def free_port(preferred: int) -> int:
    """preferred if nothing on 127.0.0.1 holds it, else a free one (another notebook may be using it)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)     # as docker-proxy does
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]


def daemon_flags(prefix: str = "--") -> list[str]:
    """The sandbox dockerd's command-line flags that start with prefix (read from /proc)."""
    box = sandbox()
    pid = box.daemon_pid() if box.backend == "private" else None
    if not pid:
        return []
    args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return [a.decode() for a in args if a.startswith(prefix.encode())]


# --- IDs --------------------------------------------------------------------------------------------
def shortest_unique(cid: str, ids) -> str:
    """The shortest prefix of cid that no other of ids starts with."""
    others = [o for o in ids if o != cid]
    return next(cid[:n] for n in range(1, len(cid) + 1) if not any(o.startswith(cid[:n]) for o in others))


def id_table(client=None) -> Table:
    """Every container of the sandbox with its short ID and the shortest prefix docker accepts for it."""
    ids = {c["Id"]: c["Names"][0].lstrip("/") for c in (client or sandbox().client).api.containers(all=True)}
    return Table(sorted((name, cid[:12], shortest_unique(cid, ids)) for cid, name in ids.items()),
                 ["container", "ID (12 of 64 hex digits)", "shortest prefix that works"])


def first_shared_digit(ids) -> str | None:
    """A hex digit that two or more of ids start with, or None."""
    firsts = [i[0] for i in ids]
    return next((d for d in "0123456789abcdef" if firsts.count(d) > 1), None)


def create_until_ids_collide(prefix: str, client=None) -> str:
    """Create containers PREFIX-1, PREFIX-2 ... (at most 17: there are 16 hex digits) until two IDs in the
    sandbox start with the same digit; return that digit, a prefix that names no single container."""
    client = client or sandbox().client
    for i in range(1, 18):
        shared = first_shared_digit([c["Id"] for c in client.api.containers(all=True)])
        if shared:
            return shared
        sh(f"docker create --name {prefix}-{i} busybox true", quiet=True)
    return first_shared_digit([c["Id"] for c in client.api.containers(all=True)])


# --- the control panel ------------------------------------------------------------------------------
class ContainerPanel:
    """Every container of the sandbox with its state, and buttons for the lifecycle commands; each button
    prints the docker command it ran and its answer."""

    COMMANDS = {"start": "docker start {}", "stop": "docker stop -t 3 {}", "kill": "docker kill {}",
                "pause": "docker pause {}", "unpause": "docker unpause {}", "remove": "docker rm {}"}

    def __init__(self, client=None):
        import ipywidgets as W

        self.client = client or sandbox().client
        self.table = W.HTML()
        self.pick = W.Dropdown(description="container", layout=W.Layout(width="300px"))
        self.force = W.Checkbox(description="force (rm -f)", indent=False, layout=W.Layout(width="120px"))
        buttons = [W.Button(description=a, layout=W.Layout(width="78px")) for a in self.COMMANDS]
        for b in buttons:
            b.on_click(lambda b: self.act(b.description))
        refresh = W.Button(description="refresh", icon="refresh", layout=W.Layout(width="90px"))
        refresh.on_click(lambda _b: self.refresh())
        self.log = W.Output()
        self.widget = W.VBox([self.table, W.HBox([self.pick, *buttons, self.force, refresh]), self.log])
        self.refresh()

    def rows(self) -> list[tuple]:
        return sorted((c["Names"][0].lstrip("/"), c["Image"], c["State"], c["Status"], c["Id"][:12])
                      for c in self.client.api.containers(all=True))

    def snapshot(self) -> Table:
        """The list as a Table: what the panel shows, readable in a saved notebook too."""
        return Table(self.rows(), ["name", "image", "state", "status", "id"], title="containers in the sandbox")

    def command(self, action: str, name: str) -> str:
        cmd = self.COMMANDS[action].format(shlex.quote(name))
        return cmd.replace("docker rm ", "docker rm -f ") if action == "remove" and self.force.value else cmd

    def refresh(self) -> None:
        keep = self.pick.value
        self.table.value = self.snapshot()._repr_html_()
        names = [r[0] for r in self.rows()]
        self.pick.options = names
        self.pick.value = keep if keep in names else (names[0] if names else None)

    def act(self, action: str, name: str | None = None) -> None:
        if name:
            self.refresh()
            self.pick.value = name
        if not self.pick.value:
            return
        with self.log:
            self.log.clear_output()
            sh(self.command(action, self.pick.value), check=False, timeout=30)
        self.refresh()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
