"""Sandbox settings and where a sandbox keeps its state.

Layout of the Dockyard home (``$DOCKYARD_HOME``, default ``~/.local/state/dockyard``)::

    <home>/seed/             the machine-wide seed registry (mirror) and its cache
    <home>/<name>/           one sandbox: sockets, data-root, logs, its own registry
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from pathlib import Path

from .errors import ConfigError

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,11}$")
LABEL = "org.dockyard.sandbox"  # set on everything Dockyard creates
DEFAULT_SEED_PORT = 5959
RESERVED_NAMES = ("seed", "hub-cache")


def home() -> Path:
    env = os.environ.get("DOCKYARD_HOME")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "dockyard"


def parse_size(text: str | int) -> int:
    """'64m' → 67108864. Accepts b, k, m, g, t with an optional 'i'/'b' suffix."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", str(text).lower())
    if not m:
        raise ConfigError(f"size {text!r} is not a size", "write it like 512m, 4g or 20G")
    num, unit = float(m.group(1)), m.group(2)
    return int(num * 1024 ** " kmgt".index(unit or " "))


def human_size(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}".replace(".0 ", " ")
        n /= 1024
    return f"{n} B"  # pragma: no cover


@dataclasses.dataclass(frozen=True)
class SandboxConfig:
    name: str = "default"
    memory: int = 4 * 1024**3  # bytes, for every container of the sandbox together
    pids: int = 2048
    cpus: float = 2.0
    subnet: str | None = None  # None: chosen from 10.213.0.0/16 by name, skipping used ones
    disk: int | None = None  # bytes; None: data-root on the host filesystem
    storage_driver: str | None = None  # None: overlay2 if it works, else vfs
    online: bool = False
    seed_port: int = DEFAULT_SEED_PORT
    address_pool: str | None = None  # for networks learners create; None: a /20 of this sandbox's own
    home: Path = dataclasses.field(default_factory=home)
    workspace: tuple[str, ...] = ()  # host folders containers may bind (besides named volumes)
    sealed: bool = True  # the authorization plugin (dockyard.authz); off only in unit tests

    def __post_init__(self):
        if self.name in RESERVED_NAMES:
            raise ConfigError(f"sandbox name {self.name!r} is reserved: <home>/{self.name} holds what all sandboxes share",
                              "choose another --name")
        if not NAME_RE.match(self.name):
            raise ConfigError(
                f"sandbox name {self.name!r} is not valid",
                "use 1-12 lowercase letters, digits or '-', starting with a letter or digit "
                "(the bridge is called dy-<name> and Linux allows 15 characters)",
            )
        if self.memory < 64 * 1024**2:
            raise ConfigError(f"memory cap {self.memory} bytes is below 64 MiB", "use --memory 512m or more")
        if self.pids < 32:
            raise ConfigError(f"pids cap {self.pids} is below 32", "use --pids 256 or more")
        if self.cpus <= 0:
            raise ConfigError(f"cpu cap {self.cpus} must be positive", "use --cpus 1 or 0.5")
        if self.storage_driver not in (None, "overlay2", "vfs"):
            raise ConfigError(f"storage driver {self.storage_driver!r} is not supported", "use overlay2 or vfs")
        object.__setattr__(self, "workspace", tuple(dict.fromkeys(os.path.abspath(os.path.expanduser(w))
                                                                  for w in self.workspace if w)))
        if "/" in self.workspace:
            raise ConfigError("the workspace cannot be / : containers could then bind any host folder",
                              "pass the folder that holds the learner's files, e.g. --workspace ~/course")

    @classmethod
    def from_env(cls, **overrides) -> "SandboxConfig":
        """Defaults, then DOCKYARD_* environment variables, then explicit overrides."""
        kw: dict = {}
        env = os.environ
        if "DOCKYARD_SANDBOX" in env:
            kw["name"] = env["DOCKYARD_SANDBOX"]
        if "DOCKYARD_MEMORY" in env:
            kw["memory"] = parse_size(env["DOCKYARD_MEMORY"])
        for var, key, kind, example in (("DOCKYARD_PIDS", "pids", int, "512"), ("DOCKYARD_CPUS", "cpus", float, "1.5"),
                                        ("DOCKYARD_SEED_PORT", "seed_port", int, "5959")):
            if var in env:
                try:
                    kw[key] = kind(env[var])
                except ValueError:
                    raise ConfigError(f"{var}={env[var]!r} is not a number", f"use e.g. {var}={example}") from None
        if env.get("DOCKYARD_WORKSPACE"):
            kw["workspace"] = tuple(w for w in env["DOCKYARD_WORKSPACE"].split(":") if w)
        kw.update({k: v for k, v in overrides.items() if v is not None})
        if "workspace" in kw and isinstance(kw["workspace"], str):
            kw["workspace"] = (kw["workspace"],)
        for key in ("memory", "disk"):
            if key in kw and kw[key] is not None:
                kw[key] = parse_size(kw[key])
        return cls(**kw)

    # --- paths -----------------------------------------------------------------
    @property
    def dir(self) -> Path:
        return self.home / self.name

    @property
    def socket(self) -> Path:
        return self.dir / "docker.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def data_root(self) -> Path:
        return self.dir / "data"

    @property
    def exec_root(self) -> Path:
        # dockerd's exec-root holds unix sockets; keep the path short (108-byte limit).
        return Path("/run/dockyard") / self.name

    @property
    def pidfile(self) -> Path:
        return self.dir / "dockerd.pid"

    @property
    def log(self) -> Path:
        return self.dir / "dockerd.log"

    @property
    def state_file(self) -> Path:
        return self.dir / "sandbox.json"

    @property
    def authz_plugin(self) -> str:
        """The authorization plugin's name for dockerd: unique on the machine, like the bridge."""
        return f"dockyard-{self.name}"

    @property
    def authz_socket(self) -> Path:
        return Path("/run/docker/plugins") / f"{self.authz_plugin}.sock"

    @property
    def authz_config(self) -> Path:
        return self.dir / "authz.json"

    @property
    def authz_pidfile(self) -> Path:
        return self.dir / "authz.pid"

    @property
    def authz_log(self) -> Path:
        return self.dir / "authz.log"

    @property
    def bridge(self) -> str:
        return f"dy-{self.name}"

    @property
    def cgroup_name(self) -> str:
        return f"dockyard-{self.name}"

    @property
    def default_subnet_index(self) -> int:
        return int(hashlib.sha256(self.name.encode()).hexdigest(), 16) % 250 + 1

    @property
    def seed_dir(self) -> Path:
        return self.home / "seed"
