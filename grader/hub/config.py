"""The JupyterHub configuration of a Dockyard hub, applied by the ``jupyterhub_config.py`` `dockyard hub start`
writes (the settings themselves are in ``<hub>/hub.json``).

Everything listens on 127.0.0.1: the proxy's public port, its API, the hub's API, the formgrader service and each
learner's server. Two hub services:

- ``idle-culler`` (jupyterhub-idle-culler): stops a server idle for ``cull_idle`` seconds; stopping it stops the
  learner's sandbox too (:meth:`DockyardSpawner.stop`);
- ``formgrader``: JupyterLab on the course folder with nbgrader's formgrader, as nbgrader's docs set it up as a
  hub service ("Using nbgrader with JupyterHub"); only the group ``instructors`` may open it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dockyard.lab import OFFLINE_ARGS, TEACHER_ARGS
from .roster import Roster

REPO = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent
PROXY = REPO / ".node" / "node_modules" / ".bin" / "configurable-http-proxy"

CONFIG_TEMPLATE = '''\
# JupyterHub configuration of a Dockyard hub (written by `dockyard hub start`; settings in hub.json beside it).
from pathlib import Path

from grader.hub.config import apply

apply(c, Path(__file__).resolve().parent)
'''


def formgrader_command(course: Path) -> list[str]:
    return [str(BIN / "jupyterhub-singleuser"), "--allow-root", f"--ServerApp.root_dir={course}",
            "--ServerApp.answer_yes=True",  # the hub's SIGINT stops it at once, without a prompt no one answers
            *TEACHER_ARGS, *OFFLINE_ARGS]  # as `dockyard course formgrader`


def apply(c, hub_dir: Path) -> None:
    from .auth import RosterAuthenticator
    from .spawner import DockyardSpawner

    hub_dir = Path(hub_dir)
    s = json.loads((hub_dir / "hub.json").read_text())
    members = Roster(hub_dir / "roster.json").members()
    c.JupyterHub.bind_url = f"http://127.0.0.1:{s['port']}"
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{s['hub_port']}"
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s['proxy_api_port']}"
    c.ConfigurableHTTPProxy.command = [s.get("proxy") or str(PROXY)]
    c.ConfigurableHTTPProxy.pid_file = str(hub_dir / "proxy.pid")
    c.JupyterHub.db_url = f"sqlite:///{hub_dir / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(hub_dir / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(hub_dir / "jupyterhub.pid")
    c.JupyterHub.cleanup_servers = True  # a hub that stops stops every server, and so every sandbox
    c.JupyterHub.cleanup_proxy = True
    c.JupyterHub.authenticator_class = RosterAuthenticator
    c.RosterAuthenticator.roster_file = str(hub_dir / "roster.json")
    c.JupyterHub.spawner_class = DockyardSpawner
    c.DockyardSpawner.hub_dir = str(hub_dir)
    c.DockyardSpawner.sandbox_memory = s.get("sandbox_memory", "2g")
    c.DockyardSpawner.sandbox_cpus = float(s.get("sandbox_cpus", 1.0))
    c.DockyardSpawner.purge_on_stop = bool(s.get("purge_on_stop", False))
    c.Spawner.default_url = "/lab"
    c.Spawner.start_timeout = 180  # the first start on a machine prepares the base images
    c.Spawner.http_timeout = 90
    c.Spawner.poll_interval = 10  # a server that died on its own gives its sandbox back within seconds
    c.JupyterHub.load_groups = {"instructors": {"users": sorted(n for n, m in members.items() if m.role == "instructor")}}
    c.JupyterHub.services = [
        {"name": "idle-culler",
         "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={int(s.get('cull_idle', 3600))}",
                     f"--cull-every={int(s.get('cull_every', 300))}"]},
        {"name": "formgrader", "url": f"http://127.0.0.1:{s['formgrader_port']}",
         "command": formgrader_command(Path(s["course"])), "cwd": s["course"], "oauth_no_confirm": True,
         "environment": {"DOCKYARD_COURSE": s["course"], "JUPYTERHUB_DEFAULT_URL": "/lab",
                         "HOME": str(hub_dir / "formgrader-home")}},
    ]
    c.JupyterHub.load_roles = [
        {"name": "idle-culler", "services": ["idle-culler"],
         "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
        {"name": "formgrader", "groups": ["instructors"], "scopes": ["access:services!service=formgrader"]},
    ]
