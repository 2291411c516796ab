"""Base images built offline from Debian packages, pushed to the machine-wide seed registry.

They stand in for Docker Hub's images of the same names, so ``docker pull busybox``
and ``FROM python:3.11-slim`` work with no internet. Each carries the label
``org.dockyard.stand-in=true``. Seeding is cached by a recipe key: a second ``up``
builds nothing; ``--reseed`` forces it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import IO, Callable

from . import network, procs
from .errors import SeedError, translate_docker_error
from .imageref import ImageRef
from .locks import file_lock
from .progressbar import Phases, is_tty
from .registry import Registry

RECIPE_VERSION = "1"
SUITE = "bookworm"
SLIM_EXCLUDES = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/lintian/*",
)


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str  # short name as learners write it: busybox, python:3.11-slim
    include: tuple[str, ...] = ()  # Debian packages on top of minbase; () with busybox=True
    busybox: bool = False
    changes: tuple[str, ...] = ()

    @property
    def ref(self) -> ImageRef:
        return ImageRef.parse(self.name)

    @property
    def repo(self) -> str:
        return self.ref.hub_path

    @property
    def tag(self) -> str:
        return self.ref.tag_or_latest

    @property
    def key(self) -> str:
        text = json.dumps([RECIPE_VERSION, SUITE, self.name, self.include, self.busybox, self.changes, SLIM_EXCLUDES])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def all_changes(self) -> list[str]:
        what = "busybox-static" if self.busybox else "Debian " + SUITE + " minbase" + (
            " + " + ", ".join(self.include) if self.include else "")
        return list(self.changes) + [
            f'LABEL org.dockyard.stand-in="true" org.dockyard.recipe="{self.key}" '
            f'org.opencontainers.image.description="Dockyard stand-in for {self.name}, built locally from {what}"'
        ]


PATH_ENV = 'ENV PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"'
RECIPES: tuple[Recipe, ...] = (
    Recipe("busybox", busybox=True, changes=('CMD ["sh"]',)),
    Recipe("debian:bookworm-slim", changes=(PATH_ENV, 'CMD ["bash"]')),
    Recipe("python:3.11-slim", include=("python3", "python-is-python3", "python3-pip", "python3-venv"),
           changes=(PATH_ENV, 'ENV LANG="C.UTF-8" PYTHONDONTWRITEBYTECODE="1"', 'CMD ["python3"]')),
    Recipe("node:18-slim", include=("nodejs",), changes=(PATH_ENV, 'CMD ["node"]')),
)


def recipe(name: str) -> Recipe:
    want = ImageRef.parse(name).canonical()
    for r in RECIPES:
        if r.ref.canonical() == want:
            return r
    raise KeyError(name)


def seeded_names() -> str:
    """The base images every sandbox holds offline, for messages: "busybox, debian:bookworm-slim, ..."."""
    return ", ".join(r.name for r in RECIPES)


class SeedStore:
    """The seed registry's storage plus ``seeded.json`` (recipe key and digest per image)."""

    def __init__(self, seed_dir: Path, port: int):
        self.dir = seed_dir
        self.registry = Registry(seed_dir, port, readonly=True)

    @property
    def index_path(self) -> Path:
        return self.dir / "seeded.json"

    def index(self) -> dict:
        try:
            return json.loads(self.index_path.read_text())
        except (OSError, ValueError):
            return {}

    def missing(self, recipes=RECIPES) -> list[Recipe]:
        """Recipes whose image is not in the registry with the current recipe key."""
        idx = self.index()
        out = []
        for r in recipes:
            entry = idx.get(r.name)
            if not entry or entry.get("key") != r.key or not (self.registry.storage / "docker/registry/v2/repositories"
                                                               / r.repo / "_manifests/tags" / r.tag).is_dir():
                out.append(r)
        return out

    def lock(self):
        return file_lock(self.dir / "seed.lock")

    def seed(self, client, force: bool = False, progress: Callable[[str], None] = print,
             step: Callable[[Recipe, float | None], None] | None = None) -> list[str]:
        """Build and push what is missing (everything with ``force``). Returns the names built.

        ``step(recipe, None)`` is called as each image starts, ``step(recipe, seconds)`` when it is ready
        (a progress bar's hook; ``progress`` gets the same as text).

        ``client`` is a docker-py client of a running sandbox: it imports the root
        filesystems and pushes them to a short-lived writable registry that shares
        the seed registry's storage.
        """
        with self.lock():
            todo = list(RECIPES) if force else self.missing()
            if not todo:
                return []
            writer = Registry(self.dir / "writer", network.free_port())
            writer.dir.mkdir(parents=True, exist_ok=True)
            # the writer serves the same storage directory as the read-only mirror
            writer_storage = writer.storage
            if writer_storage.is_symlink() or not writer_storage.exists():
                writer_storage.unlink(missing_ok=True)
                self.registry.storage.mkdir(parents=True, exist_ok=True)
                writer_storage.symlink_to(self.registry.storage)
            writer.start()
            built = []
            try:
                idx = self.index()
                for i, r in enumerate(todo, 1):
                    t0 = time.monotonic()
                    progress(f"[{i}/{len(todo)}] building {r.name} from Debian packages ...")
                    if step:
                        step(r, None)
                    digest = self._build_and_push(client, r, writer)
                    took = time.monotonic() - t0
                    idx[r.name] = {"key": r.key, "digest": digest, "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                   "seconds": round(took, 1)}  # what the next build's progress bar expects
                    self.index_path.write_text(json.dumps(idx, indent=2))
                    progress(f"[{i}/{len(todo)}] {r.name} ready ({took:.0f} s, {digest[:19]})")
                    if step:
                        step(r, took)
                    built.append(r.name)
            finally:
                writer.stop()
            return built

    def _build_and_push(self, client, r: Recipe, writer: Registry) -> str:
        with tempfile.TemporaryDirectory(prefix="dockyard-seed-", dir=self.dir) as tmp:
            tar = Path(tmp) / "rootfs.tar"
            if r.busybox:
                tar.write_bytes(busybox_rootfs())
            else:
                mmdebstrap_rootfs(r.include, tar)
            target = f"{writer.host}/{r.repo}"
            try:
                client.api.import_image_from_file(str(tar), repository=target, tag=r.tag, changes=r.all_changes())
                digest = ""
                for line in client.api.push(target, tag=r.tag, stream=True, decode=True):
                    if "error" in line:
                        raise SeedError(f"pushing {r.name} to the seed registry failed: {line['error']}")
                    digest = (line.get("aux") or {}).get("Digest", digest)
                image = client.images.get(f"{target}:{r.tag}")
                image.tag(r.name.split(":")[0], r.tag)  # usable at once in the seeding sandbox
                client.api.remove_image(f"{target}:{r.tag}")
            except SeedError:
                raise
            except Exception as exc:
                raise translate_docker_error(exc, f"seeding {r.name}") from exc
            return digest


def busybox_rootfs() -> bytes:
    """A tar of busybox-static with every applet linked, /etc/passwd, /tmp and friends."""
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        raise SeedError("/bin/busybox is missing", "install it with: apt-get install -y busybox-static")
    if _elf_has_interpreter(busybox.read_bytes()[:4096]):
        raise SeedError("/bin/busybox is dynamically linked (the 'busybox' package)",
                        "install the static one: apt-get install -y busybox-static")
    applets = subprocess.run([str(busybox), "--list-full"], capture_output=True, text=True, check=True).stdout.split()
    buf = io.BytesIO()
    now = int(time.time())

    def add_dir(tf, name, mode=0o755):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, mode, now
        tf.addfile(ti)

    def add_file(tf, name, data: bytes, mode=0o644):
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode, ti.mtime = len(data), mode, now
        tf.addfile(ti, io.BytesIO(data))

    with tarfile.open(fileobj=buf, mode="w") as tf:
        for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "home", "var", "var/www", "dev", "proc", "sys"):
            add_dir(tf, d, 0o700 if d == "root" else 0o755)
        add_dir(tf, "tmp", 0o1777)
        add_file(tf, "bin/busybox", busybox.read_bytes(), 0o755)
        for applet in applets:
            if applet == "bin/busybox":
                continue
            ti = tarfile.TarInfo(applet)
            ti.type, ti.mtime = tarfile.SYMTYPE, now
            ti.linkname = "/bin/busybox"
            tf.addfile(ti)
        add_file(tf, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")
        add_file(tf, "etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    return buf.getvalue()


def _elf_has_interpreter(head: bytes) -> bool:
    """True for a dynamically linked 64-bit little-endian ELF (it has a PT_INTERP header)."""
    import struct

    if head[:4] != b"\x7fELF" or head[4] != 2:
        return False
    phoff, = struct.unpack_from("<Q", head, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
    for i in range(phnum):
        off = phoff + i * phentsize
        if off + 4 <= len(head) and struct.unpack_from("<I", head, off)[0] == 3:
            return True
    return False


def mmdebstrap_rootfs(include: tuple[str, ...], out: Path, timeout: float = 900) -> None:
    mmdebstrap = procs.which("mmdebstrap")
    mirror = os.environ.get("DOCKYARD_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    cmd = [mmdebstrap, "--variant=minbase", "--mode=root", "--format=tar", "--quiet"]
    cmd += [f"--dpkgopt={o}" for o in SLIM_EXCLUDES]
    if include:
        cmd.append("--include=" + ",".join(include))
    cmd += [SUITE, str(out), mirror]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise SeedError(f"mmdebstrap did not finish within {timeout:.0f} s",
                        "check that Debian's package mirror is reachable (apt-get update)") from exc
    if res.returncode != 0:
        tail = "\n".join((res.stderr or res.stdout).splitlines()[-12:])
        raise SeedError(f"mmdebstrap failed (exit {res.returncode}) building a {SUITE} root filesystem:\n{tail}",
                        "check that Debian's package mirror is reachable (apt-get update), "
                        "or set DOCKYARD_DEBIAN_MIRROR to a mirror that is")


SEED_SECONDS = {"busybox": 1.0, "debian:bookworm-slim": 22.0, "python:3.11-slim": 33.0, "node:18-slim": 34.0}


def seed_steps(store: SeedStore, seeding: list) -> list[tuple[str, float]]:
    """One step per base image to build, expecting what it took here last time (or SEED_SECONDS)."""
    index = store.index()
    return [(f"building {r.name} from Debian packages",
             float((index.get(r.name) or {}).get("seconds") or SEED_SECONDS.get(r.name, 30.0))) for r in seeding]


def seed_with_bar(store: SeedStore, client, *, force: bool = False, progress: Callable[[str], None] = print,
                  stream: IO | None = None) -> list[str]:
    """Seed what is missing (all with ``force``) with a bar on ``stream`` if it is a terminal, else lines
    with k/N and the time left through ``progress``. What the first ``dockyard up`` on a machine spends its
    minute and a half on."""
    todo = list(RECIPES) if force else store.missing()
    if not todo:
        return []
    stream = sys.stderr if stream is None else stream
    bar = Phases("base images", seed_steps(store, todo), stream=stream if is_tty(stream) else None, say=progress)
    order = {r.name: i for i, r in enumerate(todo)}
    ok = False
    try:
        built = store.seed(client, force=force, progress=lambda _m: None,
                           step=lambda r, seconds: bar.start(order[r.name]) if seconds is None else None)
        ok = True
        return built
    finally:
        bar.close(ok=ok)
