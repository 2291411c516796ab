"""image.no_secret: a secret file is in no layer of an image, under no name, and its values nowhere in its config.

Looking at one path of the final filesystem misses the usual leaks: the file copied elsewhere
(``COPY . /srv``), renamed, or deleted by a later ``RUN rm``, which hides it from a container but
leaves it in the layer that added it, where ``docker save`` (or any registry pull) hands it out.
So this check reads every layer of ``docker save``, by file name and by content.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import tarfile
import time
from pathlib import PurePosixPath

from dockyard.errors import DockyardError, translate_docker_error

from .base import Failed, Param, check, fail, ok
from .image import IMAGE

READ_CAP = 4 << 20  # bytes of one file searched for the secret values (a secret sits in small files)
MAX_SECRETS_FILE = 64 * 1024  # bytes of the hand-in's KEY=value file read for the values to look for
MIN_VALUE = 6  # shorter values (ports, "1", "true") would match everywhere


class _Stream(io.RawIOBase):
    """A file over an iterator of bytes chunks, read once, front to back (what tarfile's stream mode needs)."""

    def __init__(self, chunks, deadline: float | None = None):
        self._chunks, self._rest, self._deadline = iter(chunks), b"", deadline

    def readable(self):
        return True

    def readinto(self, buf):
        while not self._rest:
            if self._deadline and time.monotonic() > self._deadline:
                raise TimeoutError("reading the image took too long")
            try:
                self._rest = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buf), len(self._rest))
        buf[:n], self._rest = self._rest[:n], self._rest[n:]
        return n


class _Hashing:
    """A layer's bytes on their way to tarfile, hashed: the sha256 of an uncompressed layer is its diff id."""

    def __init__(self, f):
        self._f, self.sha = f, hashlib.sha256()

    def read(self, n=-1):
        data = self._f.read(n)
        self.sha.update(data)
        return data

    def drain(self) -> str:
        while self.read(1 << 20):
            pass
        return "sha256:" + self.sha.hexdigest()


def secret_values(text: str) -> list[str]:
    """The values of a KEY=value file (comments, blanks and short values left out)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        value = line.split("=", 1)[1].strip().strip("'\"")
        if len(value) >= MIN_VALUE:
            out.append(value)
    return out


def scan_save(chunks, names: list[str], values: list[str],
              deadline: float | None = None) -> tuple[list[dict], list[str], dict[str, list[str]]]:
    """Every file of every layer in a ``docker save`` stream whose name matches ``names`` or whose content
    holds one of ``values``: ([{layer, path, why}], the layers' diff ids in stream order, the paths each
    layer deletes).

    Both the classic layout (``<id>/layer.tar``) and the OCI one (``blobs/sha256/<digest>``) are read: any
    member that opens as a tar (plain or gzipped) is a layer. A gzipped layer's hash is not its diff id, so
    its findings name the layer by that hash only."""
    needles = [v.encode() for v in values]
    found, layers, whiteouts = [], [], {}
    outer = tarfile.open(fileobj=io.BufferedReader(_Stream(chunks, deadline), 1 << 20), mode="r|")
    for member in outer:
        if not member.isfile() or not (member.name.endswith("layer.tar") or member.name.startswith("blobs/")):
            continue
        raw = _Hashing(outer.extractfile(member))
        hits, deleted = [], []
        try:
            inner = tarfile.open(fileobj=raw, mode="r|*")  # the containerd store saves gzipped layers
            for f in inner:
                path = "/" + (f.name[2:] if f.name.startswith("./") else f.name).lstrip("/")
                base = PurePosixPath(path).name
                if base.startswith(".wh."):  # a layer deleting a file or dir, which stays in the layer below
                    parent = str(PurePosixPath(path).parent).rstrip("/")
                    deleted.append(parent + "/" if base == ".wh..wh..opq" else f"{parent}/{base[4:]}")
                    continue
                why = []
                if any(fnmatch.fnmatch(base, n) for n in names):
                    why.append("its name")
                if f.isfile() and needles and f.size <= READ_CAP:
                    data = inner.extractfile(f).read()
                    if any(b in data for b in needles):
                        why.append("its content")  # which value, never quoted: messages travel
                if why:
                    hits.append({"path": path, "why": " and ".join(why)})
        except tarfile.ReadError:
            continue  # a JSON blob, not a layer
        digest = raw.drain()
        layers.append(digest)
        whiteouts[digest] = deleted
        found += [{**h, "layer": digest} for h in hits]
    return found, layers, whiteouts


def hidden_later(hit: dict, order: list[str], whiteouts: dict[str, list[str]]) -> bool:
    """Whether a layer above the hit's deletes its path (so a container does not see it; the layer still has it)."""
    if hit["layer"] not in order:
        return False
    path = hit["path"]
    for layer in order[order.index(hit["layer"]) + 1:]:
        for gone in whiteouts.get(layer, []):
            if path == gone or path.startswith(gone if gone.endswith("/") else gone + "/"):
                return True
    return False


def _config_hits(ins: dict, history: list[dict], values: list[str]) -> list[str]:
    """Where the values sit in the image's metadata: ENV, labels, the commands of its history."""
    cfg = ins.get("Config") or {}
    places = [("ENV", e) for e in cfg.get("Env") or []]
    places += [("LABEL", f"{k}={v}") for k, v in (cfg.get("Labels") or {}).items()]
    places += [("history", h.get("CreatedBy") or "") for h in history]
    hits = []
    for where, text in places:
        if any(v in text for v in values):
            for v in values:
                text = text.replace(v, "***")  # which value, never quoted
            hits.append(f"{where}: {text[:80]}")
    return hits


@check("image.no_secret", image=IMAGE,
       name=Param(str, doc="the secret file's name (a glob, e.g. secrets.env or *.env), searched in every layer"),
       content_from=Param(str, default=None, doc="a KEY=value file of the hand-in whose values must appear in no "
                                                 "file of any layer and nowhere in the image's config or history"),
       timeout=Param(int, default=120, doc="seconds for reading the whole image"))
def no_secret(ctx, image, name, content_from=None, timeout=120):
    """No copy of the secret file in any layer of the image, under any name"""
    ins = ctx.image(image)
    values = []
    if content_from:
        try:
            values = secret_values(ctx.text(content_from, MAX_SECRETS_FILE))
        except (OSError, DockyardError):  # none to look for: the file check says why
            values = []
    order = (ins.get("RootFS") or {}).get("Layers") or []
    t0 = time.monotonic()
    try:
        found, seen, whiteouts = scan_save(ctx.save_image(image), [name], values, deadline=t0 + timeout)
    except TimeoutError:
        raise Failed(fail(f"the image's {len(order)} layers could not be read within {timeout} s", reason="too_big",
                          hint="a much smaller image reads in seconds: build from the slim base and copy only "
                               "what the app needs")) from None
    except DockyardError:
        raise
    except Exception as exc:
        raise translate_docker_error(exc, f"reading the layers of {image}") from exc
    try:
        history = ctx.image_history(image)
    except DockyardError:
        history = []
    meta = _config_hits(ins, history, values)
    evidence = {"searched": {"name": name, "values": len(values), "layers": len(seen)},
                "seconds": round(time.monotonic() - t0, 1)}
    if found:
        for f in found:
            f["deleted_later"] = hidden_later(f, order, whiteouts)
        evidence["found"] = [{**f, "layer": _layer_text(f["layer"], order)} for f in found[:20]]
        first = found[0]
        gone = (" (deleted by a later step, which hides it from containers only: the layer still holds it, and "
                "docker save or a pull hands it out)") if first["deleted_later"] else ""
        return fail(f"{first['path']} (found by {first['why']}) is in {_layer_text(first['layer'], order)} of the "
                    f"image{gone}" + (f"; {len(found) - 1} more" if len(found) > 1 else "")
                    + f"; expected no copy of {name}",
                    reason="deleted_later" if first["deleted_later"] else "present", **evidence,
                    hint=f"keep {name} out of the build context: list it in .dockerignore and copy only what the app "
                         f"needs (COPY app.py .). Deleting it in a later RUN does not help: each layer is kept as it "
                         f"was made")
    if meta:
        evidence["config"] = meta
        return fail(f"a value of {content_from} is in the image's metadata ({meta[0]}); expected it nowhere",
                    reason="in_config", **evidence,
                    hint="ENV, LABEL and ARG values are stored in the image for anyone to read (docker history, "
                         "docker inspect): pass secrets at run time (docker run --env-file), never at build time")
    return ok(f"no {name} in any of the image's {len(seen)} layers" +
              (f", and none of the {len(values)} values of {content_from} in any file or in its config"
               if values else ""), **evidence)


def _layer_text(digest: str, order: list[str]) -> str:
    if digest in order:
        return f"layer {order.index(digest) + 1} of {len(order)}"
    return f"layer {digest[7:19]}"
