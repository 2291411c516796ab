"""Lesson 05's helpers: build contexts, where each instruction lands in an image, what runs as PID 1, how
``docker stop`` ends a container, and an image's layers drawn to scale."""

from __future__ import annotations

import io
import json
import shlex
import shutil
import tarfile
import tempfile
import textwrap
import time
from pathlib import Path

from . import Table, sandbox, sh

_WORK: Path | None = None
LESSON_PREFIXES = ("d5-",)
EXERCISE_PREFIXES = ("try-cmd", "try-env", "try-user", "try-stop", "try-small", "try-secret")


def work() -> Path:
    """This kernel's folder of build contexts (under TMPDIR: the sandbox's scratch folder in a lesson)."""
    global _WORK
    if _WORK is None or not _WORK.exists():
        _WORK = Path(tempfile.mkdtemp(prefix="dockyard-05-"))
    return _WORK


def folder(name: str) -> str:
    """Where ``context(name, ...)`` writes (or wrote) its build context: the ``submission`` of a check that reads
    the Dockerfile. Made empty if it is not there yet, so that a check says what is missing from it."""
    path = work() / name
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def context(name: str, dockerfile: str, files: dict[str, str | bytes] | None = None) -> Path:
    """A fresh build context ``<work>/<name>``: the Dockerfile (dedented) and ``files`` ({relative path: text or
    bytes}). Returns its path, for ``docker build ... {path}``."""
    ctx = work() / name
    shutil.rmtree(ctx, ignore_errors=True)
    ctx.mkdir(parents=True)
    (ctx / "Dockerfile").write_text(textwrap.dedent(dockerfile).lstrip())
    for rel, content in (files or {}).items():
        path = ctx / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip())
    return ctx


def tarball(files: dict[str, str]) -> bytes:
    """A .tar.gz holding ``files`` ({name: text}), for ``ADD`` to unpack."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def size_text(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB" if n >= 1e3 else f"{int(n)} B"


def step_label(created_by: str, width: int = 60) -> str:
    """A history entry's CreatedBy as the instruction it came from: BuildKit writes ``RUN /bin/sh -c ... #
    buildkit``, the legacy builder ``/bin/sh -c #(nop) CMD ...``."""
    text = " ".join(created_by.replace("/bin/sh -c #(nop) ", "").replace("# buildkit", "").split())
    if not text:
        return "(the base image)"
    if text.startswith("/bin/sh -c "):
        text = "RUN " + text[len("/bin/sh -c "):]
    text = text.replace("RUN /bin/sh -c ", "RUN ")
    return text if len(text) <= width else text[:width - 1] + "…"


def landed(image: str, base: str) -> Table:
    """Where each instruction of ``image``'s Dockerfile left its mark: the field of ``docker image inspect`` (or
    the layer of ``docker history``) and its value, without what the base image ``base`` already had."""
    api = sandbox().client.api
    cfg, bcfg = api.inspect_image(image)["Config"], api.inspect_image(base)["Config"]
    labels = {k: v for k, v in (cfg.get("Labels") or {}).items() if (bcfg.get("Labels") or {}).get(k) != v}
    env = [e for e in cfg.get("Env") or [] if e not in (bcfg.get("Env") or [])]
    history = api.history(image)
    ours = history[:len(history) - len(api.history(base))]
    layers = [f"{step_label(h['CreatedBy'], 40)}: {size_text(h['Size'])}" for h in reversed(ours) if h["Size"]]
    rows = [("LABEL", "Config.Labels", json.dumps(labels)),
            ("ENV", "Config.Env", json.dumps(env)),
            ("ARG", "(nowhere in Config)", "only in the history of the RUN steps after it"),
            ("WORKDIR", "Config.WorkingDir", cfg.get("WorkingDir") or ""),
            ("RUN, COPY, ADD", "a layer each (docker history)", "; ".join(layers)),
            ("EXPOSE", "Config.ExposedPorts", json.dumps(cfg.get("ExposedPorts"))),
            ("USER", "Config.User", cfg.get("User") or "(root)"),
            ("VOLUME", "Config.Volumes", json.dumps(cfg.get("Volumes"))),
            ("ENTRYPOINT", "Config.Entrypoint", json.dumps(cfg.get("Entrypoint"))),
            ("CMD", "Config.Cmd", json.dumps(cfg.get("Cmd")))]
    return Table(rows, ["instruction", "recorded in", image],
                 title=f"docker image inspect {image} (without what {base} had)")


def processes(container: str) -> list[tuple[int, str]]:
    """(pid, command line) of every process in a running container, read from its /proc (no ps needed)."""
    out = sh(f"docker exec {container} sh -c 'for p in /proc/[0-9]*; do echo \"${{p#/proc/}} $(tr \"\\0\" \" \" "
             f"< $p/cmdline)\"; done'", quiet=True)
    found = []
    for line in out.splitlines():
        pid, _, cmdline = line.partition(" ")
        if pid.isdigit() and cmdline.strip() and "/proc/[0-9]" not in cmdline and "tr \\0" not in cmdline:
            found.append((int(pid), cmdline.strip()))
    return sorted(found)


def pid1_table(cases: list[tuple[str, str, str]]) -> Table:
    """For each (base image, the Dockerfile's last lines, arguments to docker run): what the image stores and
    what runs as PID 1 (and under it) in a container started from it."""
    rows = []
    for i, (base, lines, args) in enumerate(cases):
        tag = f"d5-pid1-{i}:1"
        ctx = context(f"pid1-{i}", f"FROM {base}\n{lines}\n")
        sh(f"docker build -q -t {tag} {ctx}", quiet=True)
        name = f"d5-pid1-{i}"
        sh(f"docker rm -f {name} >/dev/null 2>&1; docker run -d --name {name} {tag} {args}", quiet=True)
        cfg = sandbox().client.api.inspect_image(tag)["Config"]
        procs = processes(name) if _running(name) else []
        first = next((c for p, c in procs if p == 1), "(exited)")
        others = ", ".join(f"{p}: {c}" for p, c in procs if p != 1 and "for p in" not in c) or "-"
        rows.append((base, lines.replace("\n", " + "), args or "-", json.dumps(cfg.get("Entrypoint")),
                     json.dumps(cfg.get("Cmd")), first, others))
        sh(f"docker rm -f {name}", quiet=True)
    return Table(rows, ["FROM", "Dockerfile ends with", "docker run … args", "Config.Entrypoint", "Config.Cmd",
                        "PID 1", "other processes"], title="What runs as PID 1")


def _running(name: str) -> bool:
    for _ in range(20):
        state = sandbox().client.api.inspect_container(name)["State"]
        if state["Running"]:
            return True
        if state["Status"] == "exited":
            return False
        time.sleep(0.1)
    return False


def stop_table(cases: list[tuple[str, str]], grace: int = 3) -> Table:
    """For each (what it is, ``docker run -d`` arguments after the name): PID 1, how long ``docker stop -t grace``
    took, the exit code and what it means. The containers are removed afterwards."""
    names = [f"d5-stop-{i}" for i in range(len(cases))]
    for name, (_, args) in zip(names, cases):
        sh(f"docker rm -f {name} >/dev/null 2>&1; docker run -d --name {name} {args}", quiet=True)
    api = sandbox().client.api
    for name in names:  # until each has printed "ready" (a handler installed) or has run for a moment
        for _ in range(50):
            if b"ready" in api.logs(name) or "python" not in json.dumps(api.inspect_container(name)["Config"]):
                break
            time.sleep(0.1)
    rows = []
    meaning = {0: "exited by itself (handled SIGTERM)", 137: "SIGKILL (128 + 9) at the deadline",
               143: "ended by SIGTERM (128 + 15)"}
    for name, (what, _) in zip(names, cases):
        first = next((c for p, c in processes(name) if p == 1), "?")
        t0 = time.monotonic()
        sh(f"docker stop -t {grace} {name}", quiet=True)
        took = time.monotonic() - t0
        code = api.inspect_container(name)["State"]["ExitCode"]
        rows.append((what, first, f"{took:.1f} s", code, meaning.get(code, "")))
    sh("docker rm -f " + " ".join(names), quiet=True)
    return Table(rows, ["container", "PID 1", f"docker stop -t {grace} took", "exit code", "meaning"],
                 title="docker stop: SIGTERM to PID 1, SIGKILL after the grace period")


def layer_chart(*images: str):
    """The layers of each image (oldest at the top) as bars, to scale, with the image's total size."""
    import matplotlib.pyplot as plt

    api = sandbox().client.api
    fig, axes = plt.subplots(1, len(images), figsize=(6.5 * len(images), 2.8), sharex=True, squeeze=False)
    top = max(h["Size"] for image in images for h in api.history(image)) / 1e6
    for ax, image in zip(axes[0], images):
        steps = list(reversed(api.history(image)))
        ax.barh(range(len(steps)), [h["Size"] / 1e6 for h in steps],
                color=["#cf222e" if h["Size"] >= 1e7 else "#2f81f7" for h in steps])
        ax.set_yticks(range(len(steps)), [step_label(h["CreatedBy"], 45) for h in steps], fontsize=8)
        ax.invert_yaxis()
        for y, h in enumerate(steps):
            ax.text(h["Size"] / 1e6 + top * 0.02, y, size_text(h["Size"]), va="center", fontsize=8)
        ax.set_xlim(0, top * 1.35)
        ax.set_title(f"{image}: {size_text(api.inspect_image(image)['Size'])}")
        ax.set_xlabel("layer size (MB)")
    plt.tight_layout()
    plt.show()


def clean_up(exercises: bool = False) -> None:
    """Remove this lesson's containers and images (and, with ``exercises``, the try-it ones), and the build
    contexts."""
    prefixes = LESSON_PREFIXES + (EXERCISE_PREFIXES if exercises else ())
    names = [n for n in sh("docker ps -a --format '{{.Names}}'", quiet=True).split() if n.startswith(prefixes)]
    if names:
        sh("docker rm -f -v " + " ".join(shlex.quote(n) for n in names), quiet=True)
    tags = [t for t in sh("docker image ls --format '{{.Repository}}:{{.Tag}}'", quiet=True).split()
            if t.startswith(prefixes)]
    if tags:
        sh("docker image rm -f " + " ".join(tags), quiet=True)
    sh("docker image prune -f", quiet=True)  # the untagged images a rebuild left behind
    sh("docker builder prune -af", quiet=True)  # and BuildKit's cache (cache mounts too): a rerun builds afresh
    global _WORK
    if _WORK is not None:
        shutil.rmtree(_WORK, ignore_errors=True)
        _WORK = None
