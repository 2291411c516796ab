"""The sandbox lifecycle: up, status, env, reset, down.

Two :class:`Backend` implementations: ``Sandbox`` is the private daemon (the default);
``ExistingSandbox`` uses the daemon DOCKER_HOST already points at and touches only what
Dockyard labeled. Both give a docker-py client through :attr:`client`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable, Protocol

from . import buildkit, cgroups, daemon, mounts, network, procs
from . import status as status_of
from .config import LABEL, SandboxConfig, home as default_home
from .errors import ConfigError, DaemonError, DockyardError, NotRoot, NotRunning, translate_docker_error
from .locks import file_lock
from .registry import HUB, Registry
from .dataroot import clone, seed_registry
from .seal import Seal
from .seed import RECIPES, SeedStore, seed_with_bar
from .state import SandboxState

Progress = Callable[[str], None]
SOCKET_PATH_MAX = 100


def _quiet(_msg: str) -> None:
    pass


class Backend(Protocol):
    """What the fronts (the CLI, the notebook helpers, the grader) need of a daemon to teach and grade against.

    Two implementations: :class:`Sandbox`, Dockyard's own sealed dockerd (``backend == "private"``), and
    :class:`ExistingSandbox`, a daemon somebody else runs (``"existing"``). Everything else a ``Sandbox`` has
    (its seal, registries, cgroup, scratch folder, daemon pid) exists only where ``backend == "private"``."""

    backend: str
    cfg: SandboxConfig  # where Dockyard keeps its records of it (progress, state): paths, not a daemon

    @property
    def name(self) -> str: ...

    @property
    def docker_host(self) -> str: ...

    @property
    def client(self): ...

    def running(self) -> bool: ...

    def env(self) -> dict[str, str]: ...

    def lesson_env(self, path: str | None = None) -> dict[str, str]: ...

    def up(self, **kw) -> dict: ...

    def down(self, **kw) -> dict: ...

    def reset(self, progress: Progress = _quiet) -> dict: ...

    def status(self) -> dict: ...


def docker_client(docker_host: str, name: str):
    """A docker-py client for a daemon (API version negotiated)."""
    import docker

    try:
        return docker.DockerClient(base_url=docker_host, version="auto", timeout=120)
    except Exception as exc:
        raise translate_docker_error(exc, f"connecting to sandbox {name!r}") from exc


class _Handle:
    """What both backends do alike: their name is their config's, their docker-py client is made on first use."""

    cfg: SandboxConfig
    _client = None  # until the first use of .client (and again after the daemon stops)

    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def client(self):
        """A docker-py client for this daemon (API version negotiated)."""
        if self._client is None:
            self._client = docker_client(self.docker_host, self.name)
        return self._client


class Sandbox(_Handle):
    """A private dockerd with its own socket, data-root, bridge, cgroup parent and registry."""

    backend = "private"

    def __init__(self, config: SandboxConfig | None = None, **overrides):
        self.cfg = config or SandboxConfig.from_env(**overrides)

    # --- small accessors ---------------------------------------------------------
    @property
    def docker_host(self) -> str:
        return self.cfg.docker_host

    @property
    def state(self) -> SandboxState:
        """What the state file says now (read afresh: another command may have changed it)."""
        return SandboxState.load(self.cfg.state_file)

    def _save_state(self, **changes) -> SandboxState:
        st = self.state.replace(**changes)
        st.save(self.cfg.state_file)
        return st

    @property
    def scratch(self) -> Path:
        """A folder of the sandbox's own that containers may always bind: lessons point TMPDIR here, so a
        folder made with tempfile.mkdtemp() can be mounted into a container under the seal."""
        return self.cfg.dir / "scratch"

    @property
    def bin(self) -> Path:
        """A folder of the sandbox's own put first on a lesson's PATH: its ``docker`` is the CLI that builds with
        BuildKit through the seal (:mod:`dockyard.buildkit`)."""
        return self.cfg.dir / "bin"

    def lesson_env(self, path: str | None = None) -> dict[str, str]:
        """What a learner's kernel and terminal get: the sandbox's variables, TMPDIR in its scratch folder, and
        BuildKit (DOCKER_BUILDKIT=1 with a CLI that can use it through the seal first on ``path``, default $PATH),
        or DOCKER_BUILDKIT=0 and DOCKYARD_BUILDER_NOTE saying why not."""
        return {**self.env(), "TMPDIR": str(self.scratch), **buildkit.lesson_env(self.bin, path)}

    @property
    def seal(self) -> Seal:
        """This sandbox's authorization plugin (dockyard.authz_server), which dockerd asks about every request."""
        return Seal(self.cfg)

    @property
    def registry(self) -> Registry:
        """This sandbox's own registry, where learners push."""
        return Registry(self.cfg.dir / "registry", int(self.state.registry_port or 0))

    @property
    def seed_store(self) -> SeedStore:
        return SeedStore(self.cfg.seed_dir, self.cfg.seed_port)

    @property
    def hub_cache(self) -> Registry:
        return Registry(self.cfg.home / "hub-cache", self.cfg.seed_port + 1, proxy_remote=HUB)

    @property
    def cgroup(self) -> cgroups.SandboxCgroup:
        return cgroups.SandboxCgroup(self.cfg.cgroup_name, cgroups.detect())

    def daemon_pid(self) -> int | None:
        pid = procs.read_pidfile(self.cfg.pidfile) or self.state.pid
        return pid if procs.alive(pid, str(self.cfg.socket)) else None

    def running(self) -> bool:
        return self.daemon_pid() is not None and daemon.ping(self.cfg.socket)

    def env(self) -> dict[str, str]:
        st = self.state
        out = {"DOCKER_HOST": self.docker_host, "DOCKYARD_SANDBOX": self.name}
        if st.registry_port:
            out["DOCKYARD_REGISTRY"] = f"127.0.0.1:{st.registry_port}"
        return out

    def _lock(self):
        return file_lock(self.cfg.dir / "lock")

    # --- up ------------------------------------------------------------------------
    def preflight(self) -> None:
        if os.geteuid() != 0:
            raise NotRoot(f"starting the private sandbox {self.name!r}")
        for program in ("dockerd", "containerd", "runc", "docker-proxy", "docker-registry", "ip"):
            procs.which(program)
        if len(str(self.cfg.socket)) > SOCKET_PATH_MAX:
            raise ConfigError(f"the socket path {self.cfg.socket} is too long for a unix socket",
                              "set DOCKYARD_HOME to a shorter directory")

    def up(self, *, reseed: bool = False, seed: bool = True, progress: Progress = print,
           template: Path | None = None) -> dict:
        """Start everything that is not running; return when /_ping answers. Idempotent.

        ``template`` (see :mod:`dockyard.template`) fills a brand-new data-root with the
        base images already pulled.
        """
        self.preflight()
        with self._lock():
            t0 = time.monotonic()
            st = self.state
            pid = self.daemon_pid()
            if pid:
                self._seal_up(progress)  # without the plugin dockerd refuses every request, /_ping too
            if pid and not self._wait_ping(10):
                progress(f"dockerd (pid {pid}) does not answer; restarting it")
                self._stop_daemon(pid)
                pid = None
            if pid is None:
                if st.running:
                    progress(f"sandbox {self.name!r} was not shut down cleanly; recovering")
                self._recover_stale()
                plugin = self.seal.start() if self.cfg.sealed else None  # starts while the bridge is made
                try:
                    self._start_infrastructure(progress, template)
                    if plugin is not None:
                        self._write_seal_policy()
                        self._save_state(authz_pid=self.seal.wait(plugin, answer=False))
                    pid = self._start_daemon()
                except BaseException:
                    self.seal.stop()
                    raise
            else:
                self._start_registries()
            self._save_state(running=True, pid=pid, config=_config_record(self.cfg))
            if seed:
                self._seed(reseed, progress)
            self._save_state(up_seconds=round(time.monotonic() - t0, 3))
        return self.state.to_dict()

    def _wait_ping(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if daemon.ping(self.cfg.socket):
                return True
            time.sleep(0.05)
        return False

    def _seal_up(self, progress: Progress) -> None:
        """Write the seal's policy; restart the plugin if it died (dockerd keeps running)."""
        if not self.cfg.sealed:
            return
        self._write_seal_policy()
        pid, restarted = self.seal.ensure()
        if restarted:
            progress(f"the seal (authorization plugin {self.cfg.authz_plugin}) was not running; restarted it "
                     f"(pid {pid})")
        self._save_state(authz_pid=pid)

    def _write_seal_policy(self) -> None:
        """Workspace folders: those of earlier `up --workspace` calls since the last down, plus this config's."""
        st = self.state
        self.scratch.mkdir(parents=True, exist_ok=True)
        workspace = list(dict.fromkeys(list(st.workspace) + list(self.cfg.workspace) + [str(self.scratch)]))
        self._save_state(workspace=workspace)
        self.seal.write_policy(workspace, st.address_pool or self.cfg.address_pool)

    def _recover_stale(self) -> None:
        """After a crash: stale pidfile, socket, containerd and mounts from the last run."""
        cfg = self.cfg
        self.seal.stop()  # dockerd is gone: its plugin goes too (a new one starts with the new dockerd)
        ctr_pidfile = cfg.exec_root / "containerd" / "containerd.pid"
        ctr = procs.read_pidfile(ctr_pidfile)
        if ctr and procs.alive(ctr, str(cfg.exec_root)):
            procs.stop(ctr, str(cfg.exec_root))
        for shim in procs.find_by_arg(str(cfg.exec_root)):
            procs.stop(shim, str(cfg.exec_root), grace=3)
        mounts.unmount_all(cfg.exec_root)
        for mount_dir in (cfg.data_root / "overlay2", cfg.data_root / "containers"):
            mounts.unmount_all(mount_dir)
        for stale in (cfg.pidfile, cfg.socket, ctr_pidfile):
            stale.unlink(missing_ok=True)

    def _start_infrastructure(self, progress: Progress, template: Path | None = None) -> None:
        cfg, st = self.cfg, self.state
        cfg.dir.mkdir(parents=True, exist_ok=True)
        # bridge: reuse ours, refuse anybody else's
        if st.bridge == cfg.bridge and network.link_exists(cfg.bridge):
            subnet = st.subnet
            network.set_forwarding(cfg.bridge, False)
        else:
            # machine-wide: two sandboxes coming up at once (class grading) must not both pick the free subnet
            with file_lock(cfg.home / "bridges.lock"):
                subnet = cfg.subnet or network.choose_subnet(cfg.default_subnet_index, network.used_networks())
                network.create_bridge(cfg.bridge, subnet)
        self._save_state(bridge=cfg.bridge, subnet=subnet,
                         address_pool=cfg.address_pool or network.address_pool_for(subnet))
        # cgroup parent with caps
        cg = self.cgroup
        cg.create(cfg.memory, cfg.pids, cfg.cpus)
        self._save_state(cgroup={"name": cg.name, "version": cg.hierarchy.version})
        # optional fixed-size disk for the data-root
        if cfg.disk:
            mounts.mount_disk(cfg.dir / "disk.img", cfg.disk, cfg.data_root)
            self._save_state(disk=cfg.disk)
        cfg.data_root.mkdir(parents=True, exist_ok=True)
        driver = cfg.storage_driver or st.storage_driver
        if driver is None:
            driver = "overlay2" if mounts.overlay_works(cfg.data_root) else "vfs"
            if driver == "vfs":
                progress("warning: overlay mounts do not work here; using the vfs storage driver "
                         "(every layer is a full copy: slower builds, more disk)")
        self._save_state(storage_driver=driver)
        fresh = not any(p.name != "lost+found" for p in cfg.data_root.iterdir())  # a new disk has lost+found
        cloned = template is not None and driver == "overlay2" and fresh
        if cloned:
            clone(template, cfg.data_root)
        self._start_registries()
        if cloned:
            # a shortcut only: without it a push compresses and uploads the base layers, as it always could
            with contextlib.suppress(OSError, ValueError):
                seed_registry(cfg.data_root, self.registry, self.seed_store.registry)

    def _start_registries(self) -> None:
        cfg = self.cfg
        mirror = self.hub_cache if cfg.online else self.seed_store.registry
        mirror.start()
        reg = self.registry
        if not reg.port or (not reg.pid() and network.port_in_use(reg.port)):
            reg.start_on_free_port()
        else:
            reg.start()
        self._save_state(registry_port=reg.port, mirror=mirror.url)

    def _start_daemon(self) -> int:
        cfg, st = self.cfg, self.state
        cfg.exec_root.mkdir(parents=True, exist_ok=True)
        cmd = daemon.dockerd_command(cfg, dockerd=procs.which("dockerd"), storage_driver=st.storage_driver,
                                     mirror=st.mirror, cgroup_parent=self.cgroup.parent_arg
                                     if self.cgroup.hierarchy.version else None,
                                     address_pool=st.address_pool or network.address_pool_for(st.subnet))
        cmd = daemon.with_forwarding_view(cfg, cmd)
        with open(cfg.log, "ab") as log:
            log.write(f"\n--- dockyard up {time.strftime('%Y-%m-%dT%H:%M:%S')} ---\n".encode())
            log.flush()
            proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
                                    env=daemon.dockerd_env(dict(os.environ), cfg.online))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DaemonError(f"dockerd for sandbox {self.name!r} exited with status {proc.returncode}",
                                  f"read the whole log: {cfg.log}", log_tail=daemon.log_tail(cfg.log))
            if daemon.ping(cfg.socket, timeout=0.5):
                return proc.pid
            time.sleep(0.03)
        procs.stop(proc.pid, str(cfg.socket))
        raise DaemonError(f"dockerd for sandbox {self.name!r} did not answer /_ping within 60 s",
                          f"read the log: {cfg.log}", log_tail=daemon.log_tail(cfg.log))

    def _seed(self, force: bool, progress: Progress) -> None:
        if self.cfg.online:
            return
        store = self.seed_store
        if force or store.missing():
            progress("building the base images from Debian packages (once per machine; about 2 minutes)")
            seed_with_bar(store, self.client, force=force, progress=progress)  # k/N and time left

    # --- down ----------------------------------------------------------------------
    def down(self, *, purge: bool = False, progress: Progress = _quiet, keep_shared: bool = False) -> dict:
        """Stop every process this sandbox started; remove its bridges, mounts and cgroups.

        The machine-wide seed registry stops with the last sandbox, unless ``keep_shared``
        (a class grading run keeps it up between hand-ins and stops it at the end).
        """
        if os.geteuid() != 0:
            raise NotRoot(f"stopping the private sandbox {self.name!r}")
        report = {"stopped": [], "removed": [], "left": []}
        with self._lock():
            cfg, st = self.cfg, self.state
            pid = self.daemon_pid()
            bridges = [cfg.bridge] + list(st.network_bridges)
            if pid:
                self._seal_up(progress)  # listing networks and killing containers go through the plugin
                bridges += self._user_network_bridges()
                if purge:
                    self._kill_containers()
                self._stop_daemon(pid)
                report["stopped"].append(f"dockerd {pid}")
            self._recover_stale()
            if st.address_pool:
                # also after a crash, when dockerd can no longer list its networks
                bridges += network.bridges_in(st.address_pool)
            if self.registry.stop():
                report["stopped"].append("registry")
            for br in dict.fromkeys(bridges):
                if network.delete_bridge(br):
                    report["removed"].append(f"bridge {br}")
            for point in mounts.unmount_all(cfg.dir) + mounts.unmount_all(cfg.exec_root):
                report["left"].append(f"mount {point}")
            # the disk's loop device goes with its mount; detach one a crash left without a mount
            report["left"] += (mounts.remove_disk(cfg.dir / "disk.img") if purge
                               else [f"loop device {d}" for d in mounts.detach_loops(cfg.dir / "disk.img")])
            left = self.cgroup.remove()
            report["left"] += [f"cgroup {p}" for p in left]
            if not left:
                report["removed"].append(f"cgroup {cfg.cgroup_name}")
            shutil.rmtree(cfg.exec_root, ignore_errors=True)
            if purge:
                shutil.rmtree(cfg.dir, ignore_errors=True)
            else:
                self._save_state(running=False, pid=None, network_bridges=[], authz_pid=None, workspace=[])
        if not keep_shared:
            report["stopped"] += self.stop_shared_if_idle()
        return report

    def stop_shared_if_idle(self) -> list[str]:
        """Stop the machine-wide registries when no sandbox but this one is running."""
        return stop_shared_if_idle(self.cfg.home, but=self.name)

    def _kill_containers(self) -> None:
        """SIGKILL every running container: its data is about to be purged, and dockerd would
        otherwise give each one its stop timeout (a `sleep` as PID 1 ignores SIGTERM)."""
        with contextlib.suppress(Exception):
            for c in self.client.api.containers(filters={"status": ["running", "paused"]}):
                with contextlib.suppress(Exception):
                    if c.get("State") == "paused":  # a paused container refuses a kill
                        self.client.api.unpause(c["Id"])
                    self.client.api.kill(c["Id"])

    def _user_network_bridges(self) -> list[str]:
        """Bridges dockerd made for networks learners created: dockerd leaves them at shutdown."""
        try:
            _status, nets = daemon.api_get(self.cfg.socket, "/networks")
        except OSError:
            return []
        out = []
        for net in nets if isinstance(nets, list) else []:
            if net.get("Driver") == "bridge" and net.get("Name") != "bridge":
                out.append((net.get("Options") or {}).get("com.docker.network.bridge.name") or "br-" + net["Id"][:12])
        self._save_state(network_bridges=out)
        return out

    def _stop_daemon(self, pid: int) -> None:
        procs.stop(pid, str(self.cfg.socket), grace=30)
        self.cfg.pidfile.unlink(missing_ok=True)
        self._client = None

    # --- reset -----------------------------------------------------------------------
    def reset(self, progress: Progress = _quiet) -> dict:
        """Remove everything the learner created; the seeded base images stay."""
        if not self.running():
            raise NotRunning(self.name)
        removed = _remove_objects(self.client, label=None, progress=progress)
        self.registry.empty()
        removed["registry"] = "emptied"
        return removed

    # --- status -------------------------------------------------------------------
    def status(self) -> dict:
        """Daemon, seal, registries, bridge, cgroup, memory and, when the daemon answers, what it holds: the dict
        ``dockyard status --json`` prints (its key order too), with a sentence per problem saying what to run."""
        cfg, st = self.cfg, self.state
        pid = self.daemon_pid()
        answering = bool(pid) and daemon.ping(cfg.socket)
        seal, reg = status_of.seal(cfg, self.seal), self.registry
        mirror = self.hub_cache if cfg.online else self.seed_store.registry
        out: dict = {
            "name": self.name, "backend": self.backend, "docker_host": self.docker_host,
            "daemon": {"pid": pid, "answering": answering, "log": str(cfg.log)},
            "problems": (status_of.problems(cfg, st, pid, answering, seal)
                         + network.routing_problems(st.bridge, st.address_pool)),
            "seal": seal,
            "registry": status_of.registry(reg),
            "mirror": status_of.mirror(mirror, self.seed_store, cfg.online),
            "bridge": status_of.bridge(st),
            "cgroup": status_of.cgroup(self.cgroup),
            "storage_driver": st.storage_driver,
            "memory": status_of.memory(status_of.sandbox_pids(pid, reg.pid(), seal["pid"])),
        }
        if answering:
            out["daemon"].update(status_of.daemon_version(cfg.socket))
            out.update(status_of.daemon_contents(cfg.socket), disk=status_of.disk(cfg.socket, st, cfg.data_root))
        return out


class ExistingSandbox(_Handle):
    """A daemon somebody else runs (Docker Desktop, a system dockerd), given by DOCKER_HOST: a :class:`Backend`.

    Dockyard starts nothing here and has no seal, registry, cgroup or scratch folder of its own for it;
    ``reset`` removes only what carries Dockyard's label. ``cfg`` only says where Dockyard keeps its records
    (the learner's progress) under the Dockyard home.
    """

    backend = "existing"

    def __init__(self, docker_host: str | None = None, name: str = "existing"):
        self.cfg = SandboxConfig(name=name)
        host = docker_host or os.environ.get("DOCKER_HOST")
        if not host:
            raise ConfigError("the 'existing' backend needs DOCKER_HOST",
                              "export DOCKER_HOST=unix:///var/run/docker.sock (or your daemon's address)")
        self._host = host

    @property
    def docker_host(self) -> str:
        return self._host

    def running(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:
            return False

    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self._host, "DOCKYARD_SANDBOX": self.name, "DOCKYARD_BACKEND": "existing"}

    def lesson_env(self, path: str | None = None) -> dict[str, str]:
        return self.env()  # somebody else's daemon (and CLI: its buildx talks to an unsealed daemon): no scratch folder of ours, no seal

    def up(self, **_kw) -> dict:
        if not self.running():
            raise DaemonError(f"the Docker daemon at {self._host} does not answer",
                              "start it (Docker Desktop, or systemctl start docker), or unset DOCKER_HOST "
                              "to use the private sandbox")
        return {"running": True, "docker_host": self._host}

    def down(self, **_kw) -> dict:
        return {"stopped": [], "removed": [], "left": [], "note": "the existing daemon is not Dockyard's to stop"}

    def reset(self, progress: Progress = _quiet) -> dict:
        if not self.running():
            raise NotRunning(self.name)
        return _remove_objects(self.client, label=LABEL, progress=progress)

    def status(self) -> dict:
        out = {"name": self.name, "backend": self.backend, "docker_host": self._host, "problems": []}
        try:
            info = self.client.info()
            version = self.client.version()
            out["daemon"] = {"answering": True, "version": version.get("Version"), "api": version.get("ApiVersion")}
            out["containers"] = {"total": info.get("Containers"), "running": info.get("ContainersRunning")}
            out["images"] = info.get("Images")
        except Exception as exc:
            out["daemon"] = {"answering": False}
            out["problems"].append(str(translate_docker_error(exc, "asking the daemon")))
        return out


def _remove_objects(client, label: str | None, progress: Progress) -> dict:
    """Remove containers, networks, volumes, images and build cache (only ``label``ed ones if set)."""
    seeded = {r.ref.canonical() for r in RECIPES}
    filt = {"label": label} if label else {}
    done = {"containers": 0, "networks": 0, "volumes": 0, "images": 0}
    try:
        for c in client.containers.list(all=True, filters=filt):
            c.remove(force=True, v=True)
            done["containers"] += 1
        for n in client.networks.list(filters=filt):
            if n.name not in ("bridge", "host", "none"):
                n.remove()
                done["networks"] += 1
        for v in client.volumes.list(filters=filt):
            v.remove(force=True)
            done["volumes"] += 1
        for img in client.images.list(all=False, filters=filt):
            tags = img.tags or []
            if tags and all(t in seeded for t in tags):
                continue
            for t in tags or [img.id]:
                if t in seeded:
                    continue
                with contextlib.suppress(Exception):
                    client.images.remove(t, force=True, noprune=False)
            done["images"] += 1
        client.api.prune_images(filters={"dangling": True, **({"label": label} if label else {})})
        with contextlib.suppress(Exception):
            client.api.prune_builds()
    except Exception as exc:
        raise translate_docker_error(exc, "resetting the sandbox") from exc
    progress(", ".join(f"{v} {k}" for k, v in done.items()) + " removed")
    return done


def _config_record(cfg: SandboxConfig) -> dict:
    d = dataclasses.asdict(cfg)
    d["home"] = str(cfg.home)
    return d


def stop_shared_if_idle(home: Path | None = None, but: str | None = None) -> list[str]:
    """Stop the machine-wide seed registry (and hub cache) when no sandbox other than ``but`` runs."""
    boxes = list_sandboxes(home)
    if any(s.running() for s in boxes if s.name != but):
        return []
    shared = Sandbox(SandboxConfig.from_env(**({"home": home} if home else {})))  # only its shared paths are used
    stopped = []
    for reg in (shared.seed_store.registry, shared.hub_cache):
        if reg.stop():
            stopped.append(f"shared registry :{reg.port}")
    return stopped


def list_sandboxes(home: Path | None = None) -> list[Sandbox]:
    root = Path(home) if home else default_home()
    if not root.is_dir():
        return []
    out = []
    for d in sorted(root.iterdir()):
        if (d / "sandbox.json").exists():
            with contextlib.suppress(DockyardError):
                out.append(Sandbox(SandboxConfig(name=d.name, home=root)))
    return out


def get(name: str | None = None, backend: str | None = None, **overrides) -> Backend:
    """The sandbox a notebook or command means: by name, else $DOCKYARD_SANDBOX, else 'default'."""
    backend = backend or os.environ.get("DOCKYARD_BACKEND", "private")
    if backend == "existing":
        return ExistingSandbox()
    if backend != "private":
        raise ConfigError(f"unknown backend {backend!r}", "use 'private' (the default) or 'existing'")
    if name:
        overrides["name"] = name
    return Sandbox(SandboxConfig.from_env(**overrides))
