"""Each hub learner's server starts with their own sealed sandbox, as an unprivileged uid, and ends with it.

:class:`DockyardSpawner` is JupyterHub's ``LocalProcessSpawner`` with the model of `dockyard lab`
(:mod:`grader.learner`) in front of it:

1. ``start``: the learner's sandbox (``h`` + 8 hex digits, from the hub and the name) comes up, sealed, with
   their work folder (``<hub>/work/<name>/``: the lessons and labs, kept across restarts) as its only workspace;
   a :class:`HubLearner` session makes the server's cgroup (memory and pids capped) and the check service, lends
   the sandbox's socket to the learner's uid (the roster's), and writes the passwd view that names that uid;
2. the server is ``jupyterhub-singleuser`` run through the grading kernels' launcher (``python -m
   grader.course.fence --exec``): it joins the cgroup as root, enters a private mount namespace (the Dockyard home,
   the hub's secrets, the course, the labs, /root masked; the work folder, the socket, the exchange and the
   learner config put back), then becomes the uid for good;
3. ``stop`` (the learner, an admin, the idle culler, the hub shutting down), or ``poll`` finding the server
   dead: the server ends, then everything in its cgroup, the check service, and the sandbox (its containers
   stop; its images stay unless ``purge_on_stop``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import time
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Bool, Float, Integer, Unicode

from grader.learner import LearnerSession

REPO = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent


def sandbox_name(hub_dir: str | Path, user: str) -> str:
    """``h`` + 8 hex digits: one per hub and learner, stable (their work and images are found again)."""
    return "h" + hashlib.sha256(f"{Path(hub_dir).resolve()}\0{user}".encode()).hexdigest()[:8]


class HubLearner(LearnerSession):
    """A learner session with the hub's additions: a name, the exchange, the learner config; the course masked."""

    def __init__(self, box, lessons, *, work, uid, name, hub):
        self.name, self.hub_state = name, hub
        super().__init__(box, lessons, work=work, uid=uid)

    def plan(self):
        from .exchange import write_passwd_view

        p = super().plan()
        passwd, group = write_passwd_view(self.hub_state.passwd_dir(self.name), self.name, self.uid, str(self.work))
        p.mask = sorted({*p.mask, *self.hub_state.hidden_from_learners()})
        p.binds += [(str(self.hub_state.exchange), True), (str(self.hub_state.learner_config), False)]
        p.overlays = [(str(passwd), "/etc/passwd"), (str(group), "/etc/group")]
        p.login = self.name
        return p

    def env(self, base):
        from dockyard.lab import LEARNER_CONFIG

        env = super().env(base)
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(self.hub_state.learner_config), str(LEARNER_CONFIG)])
        env["DOCKYARD_WORK"] = str(self.work)
        return env


class DockyardSpawner(LocalProcessSpawner):
    hub_dir = Unicode(config=True, help="The hub's state folder (roster, exchange, work folders).")
    sandbox_memory = Unicode("2g", config=True, help="Memory cap of all a learner's containers together.")
    sandbox_pids = Integer(1024, config=True, help="Process cap of all a learner's containers together.")
    sandbox_cpus = Float(1.0, config=True, help="CPU cap of all a learner's containers together.")
    purge_on_stop = Bool(False, config=True, help="Remove the learner's images, containers and volumes at stop.")

    _session: HubLearner | None = None
    _starting = False
    _stage: tuple[int, str] | None = None  # (percent, what start() is doing), for the spawn-pending page

    @property
    def hub_state(self):
        from .run import HubDir

        return HubDir(Path(self.hub_dir))

    def make_preexec_fn(self, name):
        return None  # the launcher (grader.course.fence) drops to the learner's uid itself

    def user_env(self, env):
        env["USER"] = self.user.name
        return env

    def _box(self):
        from dockyard.config import SandboxConfig, parse_size
        from dockyard.sandbox import Sandbox

        work = self.hub_state.work(self.user.name)
        return Sandbox(SandboxConfig(name=sandbox_name(self.hub_dir, self.user.name),
                                     memory=parse_size(self.sandbox_memory), pids=self.sandbox_pids,
                                     cpus=self.sandbox_cpus, workspace=(str(work),)))

    def _bring_up(self) -> HubLearner:
        from dockyard import template
        from dockyard.errors import DockyardError

        member = self.hub_state.roster.get(self.user.name)
        if member is None:
            raise RuntimeError(f"{self.user.name} is not on the roster of {self.hub_dir}")
        box = self._box()
        self._stage = (10, f"Starting your sandbox {box.name}: a sealed Docker daemon of your own")
        try:
            seeded = template.ensure(progress=lambda _m: None)
        except DockyardError:
            seeded = None  # without overlay2 the sandbox pulls its base images from the seed registry
        work = self.hub_state.work(self.user.name)
        work.mkdir(parents=True, exist_ok=True)
        try:
            t0 = time.monotonic()
            box.up(progress=lambda _m: None, template=seeded if not box.cfg.data_root.exists() else None)
            t1 = time.monotonic()
            self._stage = (50, f"Sandbox {box.name} up in {t1 - t0:.1f} s; setting up your lessons and labs")
            session = HubLearner(box, REPO / "notebooks", work=work, uid=member.uid, name=member.name,
                                 hub=self.hub_state)
            session.__enter__()
            self.log.info("%s: sandbox %s up in %.2f s, learner session in %.2f s", self.user.name, box.name,
                          t1 - t0, time.monotonic() - t1)
        except BaseException:
            box.down()
            raise
        return session

    def _take_down(self) -> None:
        from grader.course.kernel_user import KernelUser

        session, self._session = self._session, None
        if session is not None:
            session.close()
        member = self.hub_state.roster.get(self.user.name)
        if member is not None:
            KernelUser(member.uid, None, None).end_processes()  # nothing of the learner's outlives the server
        box = session.box if session is not None else self._box()
        if box.cfg.dir.exists():
            box.down(purge=self.purge_on_stop)

    async def start(self):
        self._starting = True  # poll() must not take the sandbox down while it comes up
        self._stage = None
        try:
            self._session = await asyncio.to_thread(self._bring_up)
            self.cmd = [sys.executable, "-m", "grader.course.fence", "--exec", str(BIN / "jupyterhub-singleuser"),
                        f"--ServerApp.root_dir={self._session.work}", "--ServerApp.answer_yes=True",
                        # offline: no news feed, no update check, nothing sent off this machine
                        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                        f"--LabApp.app_settings_dir={REPO / 'dockyard' / 'lab_settings'}"]
            self.popen_kwargs = {"cwd": str(self._session.work)}
            # shown until the hub finds the server answering
            self._stage = (70, f"Your sandbox {self._session.box.name} is up; starting JupyterLab")
            return await super().start()
        except BaseException:
            if self._session is not None:
                await asyncio.to_thread(self._take_down)
            raise
        finally:
            self._starting = False

    async def progress(self):
        """What the spawn-pending page shows while the server starts (the hub stops asking once it answers)."""
        shown = None
        while True:
            if self._stage is not None and self._stage != shown:
                shown = self._stage
                yield {"progress": shown[0], "message": shown[1]}
            await asyncio.sleep(0.3)

    async def poll(self):
        status = await super().poll()
        if status is not None and self._session is not None and not self._starting:
            # the server died on its own (killed from its terminal, say): the hub will not call stop(), so the
            # sandbox and the cgroup go now
            await asyncio.to_thread(self._take_down)
        return status

    def get_env(self):
        env = super().get_env()  # env_keep's few variables and the hub's JUPYTERHUB_*: none of the hub's own
        env.update(self._session.box.lesson_env())  # DOCKER_HOST, DOCKYARD_SANDBOX, DOCKYARD_REGISTRY, TMPDIR
        env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH") or "/usr/local/bin:/usr/bin:/bin"])
        return self._session.env(env)

    async def stop(self, now=False):
        try:
            await super().stop(now=now)
        finally:
            await asyncio.to_thread(self._take_down)
