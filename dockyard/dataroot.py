"""A sandbox's data-root from the image template: base layers linked copy-on-write, the rest copied; and the
shortcut that lets a clone's first push mount the base layers its registry already holds.

Below both the sandbox (which clones at ``up``) and the template (which builds what is cloned), so neither
imports the other."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from .errors import DockyardError
from .registry import Registry


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
