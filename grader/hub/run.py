"""Starting a Dockyard hub, and clearing what a hub that died left.

    <dockyard home>/.hub/<class>/     root's, mode 0700 (learners see none of it but their binds)
      roster.json                     names, roles, uids, password hashes
      hub.json, jupyterhub_config.py  the settings and the config that reads them
      jupyterhub.sqlite, jupyterhub_cookie_secret, proxy.pid, jupyterhub.pid
      exchange/                       nbgrader's exchange (:mod:`.exchange`)
      learner-config/                 the learners' Jupyter and nbgrader settings (no secrets)
      etc/<name>/passwd, group        the passwd view of each learner
      work/<name>/                    each learner's lessons, labs and fetched assignments
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from dockyard.config import home as dockyard_home
from dockyard.errors import DockyardError

from .roster import Roster

BIN = Path(sys.executable).parent


class HubDir:
    def __init__(self, root: Path):
        self.root = Path(root)

    @classmethod
    def named(cls, name: str = "class", home: Path | None = None) -> "HubDir":
        if not name.replace("-", "").isalnum():
            raise DockyardError(f"hub name {name!r} is not valid", "use letters, digits and '-'")
        return cls((home or dockyard_home()) / ".hub" / name)

    roster = property(lambda self: Roster(self.root / "roster.json"))
    exchange = property(lambda self: self.root / "exchange")
    learner_config = property(lambda self: self.root / "learner-config")
    settings_file = property(lambda self: self.root / "hub.json")

    def work(self, name: str) -> Path:
        return self.root / "work" / name

    def passwd_dir(self, name: str) -> Path:
        return self.root / "etc" / name

    def settings(self) -> dict:
        try:
            return json.loads(self.settings_file.read_text())
        except (OSError, ValueError):
            return {}

    def hidden_from_learners(self) -> list[str]:
        """Besides what every learner's view masks (:func:`grader.course.kernel_user.masks`): the course."""
        course = self.settings().get("course")
        return [os.path.realpath(course)] if course and os.path.isdir(course) else []


def prepare(hub: HubDir, *, course: Path, port: int, cull_idle: int, cull_every: int, sandbox_memory: str,
            sandbox_cpus: float, purge_on_stop: bool) -> dict:
    """Write everything the hub reads; make the exchange; point the course's nbgrader at it."""
    from dockyard.network import free_port
    from grader.course.config import HUB_FILE, write_config

    from . import config, exchange

    hub.root.mkdir(parents=True, exist_ok=True)
    os.chmod(hub.root, 0o700)
    if not config.PROXY.exists():
        raise DockyardError(f"configurable-http-proxy is not installed at {config.PROXY}",
                            f"run: npm install --prefix {config.PROXY.parents[2]} configurable-http-proxy@4 "
                            "(dockyard/bootstrap.sh does it)")
    course = course.resolve()
    if not (course / "nbgrader_config.py").exists():
        write_config(course)
    os.chmod(course, 0o700)  # the gradebook and every hand-in: the instructor's (root's) alone
    exchange.prepare(hub.exchange)
    exchange.write_learner_config(hub.learner_config, hub.exchange)
    settings = {"port": port, "hub_port": free_port(), "proxy_api_port": free_port(), "formgrader_port": free_port(),
                "course": str(course), "cull_idle": cull_idle, "cull_every": cull_every,
                "sandbox_memory": sandbox_memory, "sandbox_cpus": sandbox_cpus, "purge_on_stop": purge_on_stop,
                "proxy": str(config.PROXY)}
    hub.settings_file.write_text(json.dumps(settings, indent=1))
    (hub.root / "jupyterhub_config.py").write_text(config.CONFIG_TEMPLATE)
    (hub.root / "formgrader-home").mkdir(exist_ok=True, mode=0o700)
    (course / HUB_FILE).write_text(json.dumps({"exchange": str(hub.exchange), "roster": str(hub.roster.path)}, indent=1))
    return settings


def command(hub: HubDir) -> list[str]:
    return [str(BIN / "jupyterhub"), "-f", str(hub.root / "jupyterhub_config.py")]


def hub_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "CONFIGPROXY_", "SUDO_"))}
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "/usr/bin:/bin")])
    return env


def run(hub: HubDir, progress=print, **settings) -> int:
    """Start the hub in the foreground until ^C or SIGTERM; clear what it leaves either way."""
    from dockyard import template

    clear(hub, progress)
    s = prepare(hub, **settings)
    with contextlib.suppress(DockyardError):
        template.ensure(progress=progress)  # once per machine: then each learner's sandbox starts in a second
    progress(f"hub on http://127.0.0.1:{s['port']}/ (state in {hub.root}, course {s['course']})")
    # SIGINT as the hub stops its servers and services: a shell's background job would pass it on ignored
    proc = subprocess.Popen(command(hub), cwd=hub.root, env=hub_env(), start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_a: proc.terminate())
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()
    finally:
        clear(hub, progress)


def clear(hub: HubDir, progress=print) -> list[str]:
    """What a hub killed before its own clean-up left: its proxy, learners' processes, cgroups and sandboxes."""
    from dockyard import cgroups, procs
    from dockyard.sandbox import Sandbox
    from grader.course.kernel_user import KernelUser

    from .spawner import sandbox_name

    done = []
    pidfile = hub.root / "jupyterhub.pid"
    hub_pid = procs.read_pidfile(pidfile) if pidfile.exists() else None
    if hub_pid and procs.alive(hub_pid):
        raise DockyardError(f"the hub of {hub.root} is running (pid {hub_pid})", "stop it first (^C or kill it)")
    proxy = procs.read_pidfile(hub.root / "proxy.pid") if (hub.root / "proxy.pid").exists() else None
    if proxy and procs.alive(proxy, "configurable-http-proxy"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proxy, signal.SIGTERM)
        done.append(f"proxy {proxy}")
    for member in hub.roster.members().values() if hub.roster.path.exists() else ():
        KernelUser(member.uid, None, None).end_processes()
        box = Sandbox(name=sandbox_name(hub.root, member.name))
        fence = cgroups.SandboxCgroup(box.cfg.cgroup_name + "-lab", cgroups.detect())
        if fence.exists():
            for pid in fence.procs():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            fence.remove()
            done.append(f"cgroup {fence.name} ({member.name})")
        if box.cfg.dir.exists() and (box.running() or box.state.running):
            box.down()
            done.append(f"sandbox {box.name} ({member.name})")
    for p in done:
        progress(f"cleared {p}")
    return done
