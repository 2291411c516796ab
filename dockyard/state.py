"""What Dockyard remembers about one private sandbox between commands: its state file (``<dir>/sandbox.json``).

``up`` writes it as it brings each part up (bridge, cgroup, registries, daemon), ``down`` clears what went
away, ``status`` and the notebook helpers read it. It is a record of what was made, not a source of truth:
the daemon's pid is checked against /proc, the bridge against the kernel.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class SandboxState:
    """One sandbox's state file, typed. Every field has the value a sandbox that never started has."""

    running: bool = False  # set by up, cleared by down: True with no daemon means it crashed
    pid: int | None = None  # dockerd's, when the pidfile is gone
    authz_pid: int | None = None  # the seal's (authorization plugin) process
    config: dict = dataclasses.field(default_factory=dict)  # the SandboxConfig of the last up, as JSON
    up_seconds: float | None = None  # how long the last up took
    workspace: tuple[str, ...] = ()  # host folders containers may bind, gathered since the last down
    bridge: str | None = None
    subnet: str | None = None  # the bridge's, e.g. 10.213.7.0/24
    address_pool: str | None = None  # where networks learners create get their subnets
    cgroup: dict | None = None  # {"name": ..., "version": 1 or 2}
    disk: int | None = None  # bytes of the data-root's own filesystem; None: on the host's
    storage_driver: str | None = None  # overlay2 or vfs, once chosen
    registry_port: int | None = None  # the sandbox's own registry, where learners push
    mirror: str | None = None  # the URL dockerd pulls base images from
    network_bridges: tuple[str, ...] = ()  # bridges of learners' networks, for down to remove after a crash
    # keys this version does not know (a newer or older Dockyard wrote them): kept so that saving loses nothing
    extra: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        # JSON has lists; a frozen record holds tuples (callers may pass either)
        for name in ("workspace", "network_bridges"):
            object.__setattr__(self, name, tuple(getattr(self, name) or ()))

    @classmethod
    def from_dict(cls, data: dict) -> "SandboxState":
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        return cls(**{k: v for k, v in data.items() if k in known},
                   extra={k: v for k, v in data.items() if k not in known})

    @classmethod
    def load(cls, path: Path) -> "SandboxState":
        """The state in ``path``; a missing, unreadable or corrupt file reads as a sandbox that never started.

        Why not an error: the file is rewritten by every ``up``, which also recovers what a crash left
        (stale pidfile, socket, mounts), so the fix for a broken file is the command the learner runs anyway."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError):
            return cls()
        return cls.from_dict(data) if isinstance(data, dict) else cls()

    def to_dict(self) -> dict:
        """The file's JSON object: every field (lists for tuples), then the keys kept in ``extra``."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        out.update(workspace=list(self.workspace), network_bridges=list(self.network_bridges))
        return {**self.extra, **out}

    def save(self, path: Path) -> None:
        """Write atomically (a temporary file renamed over it): a reader never sees half a file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, default=str))
        tmp.replace(path)

    def replace(self, **changes) -> "SandboxState":
        """A copy with ``changes`` (field names only: a misspelt key is a TypeError, not a silent new key)."""
        return dataclasses.replace(self, **changes)
