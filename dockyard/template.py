"""A data-root with every seeded base image already pulled, cloned into fresh sandboxes.

Grading gives each hand-in a brand-new sandbox. Pulling and unpacking
python:3.11-slim into each one would cost seconds; cloning this template costs
a fraction of one. Each base layer's folder (``overlay2/<id>``) is a symbolic
link to the template's: overlayfs never writes to a lower layer (a container's
change is copied up into its own upper directory), removing an image only
unlinks the clone's link, and a link, unlike a hard link, reaches across
filesystems, so a sandbox whose data-root is its own size-capped disk
(:func:`dockyard.mounts.mount_disk`) clones as fast as one on the host's. A
layer stacked on a parent (dockerd may mount it as an upper directory) is
copied instead; the seeded images have none. What dockerd rewrites in place
(``image/`` metadata) is copied. Everything else (networks, containers,
volumes, build cache) starts empty.

The sandbox's registry gets those base layers too (:func:`seed_registry`): pushing an
image built on python:3.11-slim then mounts its 190 MB base layer, as Docker Hub does from
library/python, instead of compressing it again (about 5 s of a CPU per push).

One template per set of images (a busybox-only lab clones a few hundred files, a
Python lab a few thousand), each built once per machine and seed (seconds), under
``<home>/seed/template/<images>``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Callable

from .config import home as dockyard_home
from .errors import DockyardError
from .registry import Registry
from .seed import RECIPES

BUILDER = "dytemplate"
KEPT = ("image", "overlay2")  # the parts of a data-root that hold pulled images


ALL = tuple(r.name for r in RECIPES)


def template_dir(home: Path | None = None, images: tuple[str, ...] = ALL) -> Path:
    label = "all" if set(images) == set(ALL) else "+".join(sorted(i.replace(":", "_") for i in images))
    return (home or dockyard_home()) / "seed" / "template" / label


def _key(home: Path, images: tuple[str, ...] = ALL) -> str:
    try:
        index = (home / "seed" / "seeded.json").read_text()
    except OSError:
        index = ""
    return hashlib.sha256(json.dumps([index, sorted(images)]).encode()).hexdigest()[:16]


def images_in(folder: Path) -> tuple[str, ...]:
    """The seeded images a lab's files mention (its notebook, specs, Dockerfiles): what its template needs."""
    text = "\n".join(p.read_text(errors="replace") for p in sorted(Path(folder).rglob("*"))
                     if p.is_file() and p.stat().st_size < 2_000_000)
    found = tuple(name for name in ALL if re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", text))
    return found or ALL


def ensure(home: Path | None = None, progress: Callable[[str], None] = print,
           images: tuple[str, ...] = ALL) -> Path:
    """The template's data-root for ``images``, built first if missing or made from an older seed."""
    home = home or dockyard_home()
    unknown = sorted(set(images) - set(ALL))
    if unknown:
        raise DockyardError(f"no seeded image {', '.join(unknown)} for a template", f"seeded images: {', '.join(ALL)}")
    tdir = template_dir(home, images)
    tdir.mkdir(parents=True, exist_ok=True)
    with open(tdir / "lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        root = tdir / "root"
        marker = tdir / "ready.json"
        try:
            ready = json.loads(marker.read_text()).get("key") == _key(home, images) and root.is_dir()
        except (OSError, ValueError):
            ready = False
        if not ready:
            progress(f"preparing a data-root with {', '.join(images)} (once per machine)")
            _build(home, tdir, images)
            marker.write_text(json.dumps({"key": _key(home, images), "images": sorted(images)}))
        return root


def _build(home: Path, tdir: Path, images: tuple[str, ...]) -> None:
    from .sandbox import Sandbox

    sb = Sandbox(name=BUILDER, home=home)
    try:
        sb.up(progress=lambda _m: None)
        if sb.state.get("storage_driver") != "overlay2":
            raise DockyardError("the template needs the overlay2 storage driver",
                                "grading still works without it: each sandbox pulls its base images")
        for name in images:
            sb.client.images.pull(name)
        sb.down(keep_shared=True)
        staging = tdir / "root.new"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for part in KEPT:
            (sb.cfg.data_root / part).rename(staging / part)
        shutil.rmtree(tdir / "root", ignore_errors=True)
        staging.rename(tdir / "root")
    finally:
        sb.down(purge=True, keep_shared=True)


def clone(template_root: Path, data_root: Path) -> None:
    """Fill an empty data-root from the template: base layers linked, the rest copied."""
    data_root.mkdir(parents=True, exist_ok=True)
    try:
        layers = template_root / "overlay2"
        if layers.is_dir():
            dest = data_root / "overlay2"
            dest.mkdir(mode=0o710)
            for layer in sorted(layers.iterdir()):
                if layer.name == "l" or (layer / "lower").exists():
                    _copy(layer, dest / layer.name)  # l/: dockerd's short names, relative links into dest
                else:
                    os.symlink(layer, dest / layer.name)
        if (template_root / "image").is_dir():
            _copy(template_root / "image", data_root / "image")
    except (OSError, DockyardError) as exc:
        for part in ("overlay2", "image"):
            shutil.rmtree(data_root / part, ignore_errors=True)
        raise DockyardError(f"could not clone the image template into {data_root}: "
                            f"{getattr(exc, 'problem', None) or exc}",
                            f"remove {template_root.parent} and try again; it is rebuilt on demand") from exc


def _copy(src: Path, dest: Path) -> None:
    res = subprocess.run(["cp", "-a", str(src), str(dest)], capture_output=True, text=True)
    if res.returncode != 0:
        raise DockyardError(res.stderr.strip() or f"cp -a {src} {dest} failed")


HUB_SOURCE = "docker.io/"  # what dockerd records as the source of an image pulled through the mirror
V2METADATA = Path("image/overlay2/distribution/v2metadata-by-diffid/sha256")


def seed_registry(data_root: Path, registry: Registry, seed: Registry) -> list[str]:
    """Give a fresh clone's registry the layers its images were pulled with; returns those repositories.

    Each layer is copied from the ``seed`` registry's storage into the sandbox's ``registry`` (a
    layer of library/python goes to library/python there), and the clone's push metadata (dockerd's
    v2metadata, read at every push) learns it is there: dockerd then asks the registry to mount the
    layer into the pushed repository instead of compressing and uploading it. Without an HMAC the
    entry only ranks below dockerd's own, and is dropped if a mount ever fails.
    """
    repos: set[str] = set()
    folder = data_root / V2METADATA
    for path in sorted(folder.iterdir()) if folder.is_dir() else ():
        known = json.loads(path.read_text())  # [{"Digest", "SourceRepository", "HMAC"}] per layer (diff id)
        here = []
        for entry in known:
            source, digest = entry.get("SourceRepository") or "", entry.get("Digest") or ""
            blob = seed.blob_path(digest) if source.startswith(HUB_SOURCE) and ":" in digest else None
            if blob is None or not blob.is_file():
                continue
            repo = source[len(HUB_SOURCE):]
            registry.add_layer(repo, digest, blob)
            here.append({"Digest": digest, "SourceRepository": f"{registry.host}/{repo}", "HMAC": ""})
            repos.add(repo)
        if here:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(json.dumps(known + here))
            tmp.replace(path)
    return sorted(repos)
