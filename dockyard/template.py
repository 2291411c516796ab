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

Building one has these steps, shown as a progress bar (:class:`dockyard.progressbar.Phases`):
start a builder sandbox (a second or two); build each base image the seed registry lacks from
Debian packages (only on a machine never seeded: mmdebstrap, 20 to 35 s each, about 90 s for
all); pull each image from the seed registry into the builder (bytes known from the registry's
manifests beforehand); stop the builder and keep its layers.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
import time
from pathlib import Path
from typing import IO, Callable

from .config import home as dockyard_home
from .errors import DockyardError, translate_docker_error
from .locks import file_lock
from .progressbar import Phases, PullProgress
from .seed import RECIPES, SeedStore, recipe, seed_steps

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


_STDERR = object()


def ensure(home: Path | None = None, progress: Callable[[str], None] = print,
           images: tuple[str, ...] = ALL, stream: IO | None = _STDERR) -> Path:
    """The template's data-root for ``images``, built first if missing or made from an older seed.

    A build shows its steps on ``stream`` (stderr unless told; None for none): a live bar on a
    terminal, a line per step elsewhere."""
    home = home or dockyard_home()
    unknown = sorted(set(images) - set(ALL))
    if unknown:
        raise DockyardError(f"no seeded image {', '.join(unknown)} for a template", f"seeded images: {', '.join(ALL)}")
    tdir = template_dir(home, images)
    tdir.mkdir(parents=True, exist_ok=True)
    with file_lock(tdir / "lock"):
        root = tdir / "root"
        marker = tdir / "ready.json"
        try:
            ready = json.loads(marker.read_text()).get("key") == _key(home, images) and root.is_dir()
        except (OSError, ValueError):
            ready = False
        if not ready:
            progress(f"preparing a data-root with {', '.join(images)} (once per machine)")
            _build(home, tdir, images, sys.stderr if stream is _STDERR else stream)
            marker.write_text(json.dumps({"key": _key(home, images), "images": sorted(images)}))
        return root


# What the first build's bar expects each step to take, on 2 cores and a nearby Debian mirror; a
# machine's own figures replace them (seeded.json keeps each image's build time), and the pace
# measured on the steps done corrects the rest.
START_SECONDS = 2.0
PULL_BYTES_PER_SECOND = 20e6  # compressed bytes, downloaded from 127.0.0.1 and unpacked (10-30 MB/s measured)
PULL_GUESS = 60e6  # bytes of an image whose layers are not known yet (built in this same run)
SAVE_SECONDS = 1.0


def plan(store: SeedStore, images: tuple[str, ...], seeding: list) -> list[tuple[str, float]]:
    """The build's steps, each with the seconds it is expected to take."""
    steps = [("starting a builder sandbox", START_SECONDS)] + seed_steps(store, seeding)
    for name in images:
        size = sum(layer_sizes(store, name).values()) or PULL_GUESS
        steps.append((f"pulling {name}", max(0.5, size / PULL_BYTES_PER_SECOND)))
    steps.append(("saving the template", SAVE_SECONDS))
    return steps


def layer_sizes(store: SeedStore, name: str) -> dict[str, int]:
    """``{short layer id: bytes}`` of a seeded image, read from the seed registry's storage (no request)."""
    r = recipe(name)
    try:
        link = (store.registry.storage / "docker/registry/v2/repositories" / r.repo / "_manifests/tags" / r.tag
                / "current/link").read_text().strip()
        manifest = json.loads(store.registry.blob_path(link).read_text())
        # the pull stream names a layer by the first 12 hex digits of its digest
        return {layer["digest"].split(":", 1)[1][:12]: int(layer["size"]) for layer in manifest.get("layers") or ()}
    except (OSError, ValueError, KeyError, IndexError):
        return {}


def _build(home: Path, tdir: Path, images: tuple[str, ...], stream: IO | None = None) -> None:
    from .sandbox import Sandbox

    sb = Sandbox(name=BUILDER, home=home)
    store = sb.seed_store
    seeding = [] if sb.cfg.online else store.missing()
    steps = plan(store, images, seeding)
    bar = Phases("image template", steps, stream=stream)
    ok = False
    try:
        bar.start(0)
        sb.up(progress=lambda _m: None, seed=False)
        if sb.state.storage_driver != "overlay2":
            raise DockyardError("the template needs the overlay2 storage driver",
                                "grading still works without it: each sandbox pulls its base images")
        if seeding:
            order = {r.name: i for i, r in enumerate(seeding, 1)}

            def seeded(r, seconds):
                if seconds is None:
                    bar.start(order[r.name])

            store.seed(sb.client, progress=lambda _m: None, step=seeded)
        first_pull = 1 + len(seeding)
        for i, name in enumerate(images):
            bar.start(first_pull + i)
            _pull(sb.client, name, layer_sizes(store, name), bar)
        bar.start(len(steps) - 1)
        sb.down(keep_shared=True)
        staging = tdir / "root.new"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for part in KEPT:
            (sb.cfg.data_root / part).rename(staging / part)
        shutil.rmtree(tdir / "root", ignore_errors=True)
        staging.rename(tdir / "root")
        ok = True
    finally:
        bar.close(ok=ok)
        sb.down(purge=True, keep_shared=True)


def _pull(client, name: str, sizes: dict[str, int], bar: Phases) -> None:
    """Pull ``name`` through the low-level stream, telling ``bar`` its share done (download and unpack)."""
    repo, _, tag = name.partition(":")
    seen = PullProgress(sizes, download_share=0.1)  # from 127.0.0.1: unpacking is the work
    last = 0.0
    try:
        for event in client.api.pull(repo, tag=tag or "latest", stream=True, decode=True):
            seen.feed(event)
            if seen.error:
                raise DockyardError(f"pulling {name} into the image template failed: {seen.error}",
                                    "run `dockyard up --reseed` to rebuild the base images")
            now = time.monotonic()
            if now - last >= 0.1:  # a pull sends hundreds of events a second
                bar.update(seen.fraction(), seen.summary())
                last = now
    except DockyardError:
        raise
    except Exception as exc:
        raise translate_docker_error(exc, f"pulling {name} into the image template") from exc
    bar.update(1.0, seen.summary())
