"""BuildKit through the sealed daemon: which docker CLI can build with it, and the lesson environment that uses it.

The sandbox's dockerd (Debian's docker.io 20.10) has BuildKit built in. A client reaches it in one of two ways:

- **A docker CLI before 23** (18.09 to 22.x, e.g. Debian's ``/usr/bin/docker`` 20.10) has the BuildKit client
  built in; ``DOCKER_BUILDKIT=1`` switches it on. It opens ``POST /session`` (the build context, secrets and ssh
  agents travel back through it) and asks for the build with ``POST /build?version=2``, whose query carries the
  same parameters as a classic build: ``networkmode``, ``cgroupparent``, ``remote``. The seal reads them
  (:func:`dockyard.authz.check_build`) and refuses ``--network host``, ``--cgroup-parent`` and URL contexts,
  exactly as for the classic builder.
- **A docker CLI 23 or later** hands ``docker build`` to the buildx plugin (without it: "BuildKit is enabled but
  the buildx component is missing or broken"). buildx drives BuildKit's control API through ``POST /grpc``: the
  whole solve request (network mode ``host`` as an entitlement, a cgroup parent, exporters) is a gRPC message
  inside a hijacked HTTP/2 stream that an authorization plugin never sees. The seal refuses ``/grpc`` for that
  reason, so a 23+ CLI cannot build with BuildKit here; with ``DOCKER_BUILDKIT=0`` it still has the classic
  builder (deprecated there, and announced as such).

So the lesson environment puts a CLI of the first kind first on ``PATH`` (a ``bin`` folder of the sandbox holding
a ``docker`` symlink) with ``DOCKER_BUILDKIT=1``; where there is none (a machine with only Docker's own 23+ CLI),
it sets ``DOCKER_BUILDKIT=0`` and says why in ``DOCKYARD_BUILDER_NOTE``.

Settings: ``DOCKYARD_BUILDER=classic`` keeps the classic builder (default ``buildkit``); ``DOCKYARD_DOCKER_CLI``
names the CLI to use instead of searching ``PATH`` and the usual places.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import signal
import stat
import subprocess
from pathlib import Path

from .errors import ConfigError

# Where a docker CLI with BuildKit built in is usually found: Debian's and Ubuntu's docker.io put it in /usr/bin
# (Docker's own packages put a 23+ CLI there too, and /usr/local/bin is where a static download goes).
KNOWN = ("/usr/bin/docker", "/usr/local/bin/docker", "/bin/docker")
FIRST_BUILTIN = (18, 9)  # the first CLI with the BuildKit client (DOCKER_BUILDKIT=1)
FIRST_BUILDX = (23, 0)  # from here on `docker build` with BuildKit is buildx, which needs /grpc


@dataclasses.dataclass(frozen=True)
class Cli:
    path: str
    version: str  # as the CLI prints it, e.g. 20.10.24+dfsg1

    @property
    def release(self) -> tuple[int, int]:
        m = re.match(r"(\d+)\.(\d+)", self.version)
        return (int(m.group(1)), int(m.group(2))) if m else (0, 0)

    @property
    def builtin_buildkit(self) -> bool:
        """Has the BuildKit client of its own, which talks through /session and /build (the seal can read them)."""
        return FIRST_BUILTIN <= self.release < FIRST_BUILDX


@dataclasses.dataclass(frozen=True)
class Builder:
    """What builds run with: BuildKit through ``cli``, or the classic builder, and why."""

    buildkit: bool
    cli: Cli | None
    note: str

    @property
    def name(self) -> str:
        return "buildkit" if self.buildkit else "classic"


def parse_version(text: str) -> str | None:
    """'Docker version 20.10.24+dfsg1, build 297e128' → '20.10.24+dfsg1'."""
    m = re.search(r"Docker version ([0-9][^\s,]*)", text)
    return m.group(1) if m else None


_seen: dict[tuple[str, float], str | None] = {}
_chosen: dict[tuple, Builder] = {}


def unsafe_reason(real: str) -> str | None:
    """Why the file at ``real`` (a resolved path) is not safe to run, or None when it is.

    The grader may run as root, and every ``docker`` on its PATH is run with ``--version``: a file someone else can
    write, or replace through a folder they can write, would run their code as root. So the file and every folder
    above it must belong to root (or to whoever runs this) and be writable by nobody else. A folder with the
    sticky bit (/tmp) is the exception for its own entries: nobody but their owner can rename or replace them."""
    owners = {0, os.geteuid()}
    st = os.stat(real)
    if st.st_uid not in owners:
        return f"owned by uid {st.st_uid}"
    if st.st_mode & 0o022:
        return "writable by " + ("everyone" if st.st_mode & 0o002 else "its group")
    folder = os.path.dirname(real)
    while True:
        st = os.stat(folder)
        if st.st_uid not in owners:
            return f"in {folder}, owned by uid {st.st_uid}"
        if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
            return f"in {folder}, writable by " + ("everyone" if st.st_mode & 0o002 else "its group")
        if folder == os.path.dirname(folder):
            return None
        folder = os.path.dirname(folder)


def cli_at(path: str) -> Cli | None:
    """The docker CLI at ``path`` and its version (asked once per file; None if it is not one, or is not safe to
    run: see :func:`unsafe_reason`)."""
    try:
        real = os.path.realpath(path)
        key = (real, os.stat(real).st_mtime)
        if unsafe_reason(real):
            return None
    except OSError:
        return None
    if key not in _seen:
        try:
            res = subprocess.run([real, "--version"], capture_output=True, text=True, timeout=10)
            _seen[key] = parse_version(res.stdout) if res.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            _seen[key] = None
    version = _seen[key]
    return Cli(real, version) if version else None


def skipped(paths: list[str]) -> list[str]:
    """``/tmp/x/docker (writable by everyone)`` for each of ``paths`` that is not safe to run."""
    out = []
    for p in paths:
        try:
            reason = unsafe_reason(os.path.realpath(p))
        except OSError as exc:
            reason = f"unreadable: {exc.strerror}"
        if reason:
            out.append(f"{p} ({reason})")
    return out


def candidates(path: str | None = None) -> list[str]:
    """Every ``docker`` on ``path`` (default $PATH), then the usual places; each real file once."""
    dirs = (os.environ.get("PATH", "") if path is None else path).split(os.pathsep)
    out, seen = [], set()
    for p in [os.path.join(d, "docker") for d in dirs if d] + list(KNOWN):
        real = os.path.realpath(p)
        if real not in seen and os.path.isfile(real) and os.access(real, os.X_OK):
            seen.add(real)
            out.append(p)
    return out


def find_cli(path: str | None = None, *, skip: tuple[str, ...] = ()) -> Cli | None:
    """The first docker CLI with BuildKit built in (< 23), or None. $DOCKYARD_DOCKER_CLI, when set, is the only one
    looked at. ``skip``: real paths not to count (the sandbox's own shim folder, which points at one of them)."""
    named = os.environ.get("DOCKYARD_DOCKER_CLI")
    if named:
        cli = cli_at(named)
        if cli is None:
            unsafe = skipped([named])
            what = f"is not safe to run: {unsafe[0]}" if unsafe else "is not a docker CLI"
            raise ConfigError(f"DOCKYARD_DOCKER_CLI={named} {what}",
                              "point it at a docker CLI 18.09 to 22.x (e.g. /usr/bin/docker of Debian's docker.io), "
                              "or unset it")
        return cli if cli.builtin_buildkit else None
    for p in candidates(path):
        if os.path.dirname(os.path.abspath(p)) in skip:
            continue
        cli = cli_at(p)
        if cli is not None and cli.builtin_buildkit:
            return cli
    return None


def _fingerprint(paths: list[str]) -> tuple:
    """What the answer of :func:`choose` depends on in the files: each candidate's real path, mtime and safety."""
    out = []
    for p in paths:
        real = os.path.realpath(p)
        try:
            out.append((p, real, os.stat(real).st_mtime, unsafe_reason(real)))
        except OSError:
            out.append((p, real, None, None))
    return tuple(out)


def choose(setting: str | None = None, path: str | None = None, *, skip: tuple[str, ...] = ()) -> Builder:
    """The builder for lessons and grading: BuildKit when a CLI can do it through the seal, else the classic one.

    Asked at every kernel's start: the answer is kept for the process until the setting or a candidate changes."""
    setting = (setting or os.environ.get("DOCKYARD_BUILDER") or "buildkit").strip().lower()
    if setting not in ("buildkit", "classic"):
        raise ConfigError(f"DOCKYARD_BUILDER={setting!r} is not a builder", "use buildkit (the default) or classic")
    if setting == "classic":
        return Builder(False, None, "the classic builder, as DOCKYARD_BUILDER=classic asks")
    named = os.environ.get("DOCKYARD_DOCKER_CLI")
    key = (setting, skip, named, _fingerprint(([named] if named else []) + candidates(path)))
    if key not in _chosen:
        _chosen[key] = _choose_buildkit(path, skip)
    return _chosen[key]


def _choose_buildkit(path: str | None, skip: tuple[str, ...]) -> Builder:
    cli = find_cli(path, skip=skip)
    if cli is not None:
        return Builder(True, cli, f"BuildKit (DOCKER_BUILDKIT=1) with {cli.path} {cli.version}")
    found = [c for c in (cli_at(p) for p in candidates(path)) if c is not None]
    seen = ", ".join(f"{c.path} {c.version}" for c in found) or "none"
    unsafe = skipped(candidates(path))
    not_run = f"; not run, as not safe to run: {', '.join(unsafe)}" if unsafe else ""
    return Builder(False, None,
                   f"BuildKit is off (DOCKER_BUILDKIT=0, the classic builder): no docker CLI before 23 with "
                   f"BuildKit built in was found (docker CLIs found: {seen}{not_run}). A 23+ CLI builds with BuildKit "
                   "through buildx, which the sandbox's seal refuses (its /grpc requests cannot be checked). "
                   "Install Debian's docker.io (its /usr/bin/docker 20.10 has BuildKit built in) to get it.")


def shim(folder: Path, cli: Cli | None) -> None:
    """Make ``folder/docker`` point at ``cli`` (replaced atomically), or remove it when there is none."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)  # also without a CLI: a learner's view binds it
    link = folder / "docker"
    if cli is None:
        link.unlink(missing_ok=True)
        return
    if link.is_symlink() and os.readlink(link) == cli.path:
        return
    tmp = folder / f".docker.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(cli.path)
    tmp.replace(link)


def lesson_env(folder: Path, path: str | None = None, setting: str | None = None) -> dict[str, str]:
    """DOCKER_BUILDKIT, PATH (``folder`` first, holding the BuildKit CLI as ``docker``) and DOCKYARD_BUILDER_NOTE
    for a learner's kernel and terminal. ``path``: the PATH to put ``folder`` in front of (default $PATH); a
    ``folder`` already in it moves to the front, so applying this twice changes nothing."""
    folder = os.path.abspath(folder)
    base = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin") if path is None else path
    rest = [d for d in base.split(os.pathsep) if d and os.path.abspath(d) != folder]
    builder = choose(setting, os.pathsep.join(rest), skip=(folder,))
    shim(Path(folder), builder.cli)
    env = {"DOCKER_BUILDKIT": "1" if builder.buildkit else "0", "DOCKYARD_BUILDER_NOTE": builder.note,
           "PATH": os.pathsep.join(rest)}
    if builder.buildkit:
        env["PATH"] = os.pathsep.join([folder, *rest])
    return env


# --- one build through the CLI ------------------------------------------------------------------------------------
@dataclasses.dataclass
class BuildRun:
    """What one ``docker build`` through the BuildKit CLI left: its exit, its output (capped), the image it made."""

    returncode: int | None  # None: stopped at the timeout
    log: str  # the first ``log_cap`` characters of the output
    tail: str  # the last characters of the output, where BuildKit puts the error
    image_id: str | None
    seconds: float
    truncated: bool = False

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    @property
    def text(self) -> str:
        """The output as far as it is kept: the capped start and, when cut, the tail after a marker."""
        return self.log + (f"\n[... output cut at {len(self.log)} characters ...]\n{self.tail}" if self.truncated else "")


def build_command(cli: Cli, context: Path, *, dockerfile: Path, tag: str, iidfile: Path,
                  labels: dict[str, str] | None = None, network: str = "none") -> list[str]:
    cmd = [cli.path, "build", "--progress=plain", f"--network={network}", f"--iidfile={iidfile}",
           f"--file={dockerfile}", f"--tag={tag}"]
    for key, value in (labels or {}).items():
        cmd.append(f"--label={key}={value}")
    return cmd + [str(context)]


def run_build(cli: Cli, docker_host: str, context: Path, *, dockerfile: str = "Dockerfile", tag: str,
              labels: dict[str, str] | None = None, timeout: float = 120, log_cap: int = 200_000,
              tail_cap: int = 8000, network: str = "none") -> BuildRun:
    """``docker build`` of ``context`` with BuildKit against ``docker_host``, stopped after ``timeout`` s.

    The CLI runs in a session of its own with an empty config folder (no credentials, no aliases that would make
    `docker build` buildx) and only the variables it needs. At the timeout it is killed: its /session connection
    closes, and the daemon cancels the build, RUN step and all."""
    import tempfile
    import threading
    import time

    context = Path(context)
    with tempfile.TemporaryDirectory(prefix="dockyard-build-") as tmp:
        iid = Path(tmp) / "iid"
        cmd = build_command(cli, context, dockerfile=context / dockerfile, tag=tag, iidfile=iid, labels=labels,
                            network=network)
        env = {"DOCKER_HOST": docker_host, "DOCKER_BUILDKIT": "1", "DOCKER_CONFIG": tmp, "HOME": tmp,
               "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "NO_COLOR": "1"}
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=tmp, start_new_session=True)
        kept: list[str] = []
        state = {"size": 0, "tail": "", "cut": False}

        def read() -> None:
            for raw in iter(lambda: proc.stdout.read1(65536), b""):
                text = raw.decode(errors="replace")
                room = log_cap - state["size"]
                if room > 0:
                    kept.append(text[:room])
                    state["size"] += min(room, len(text))
                if len(text) > max(room, 0):
                    state["cut"] = True
                state["tail"] = (state["tail"] + text)[-tail_cap:]

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            returncode: int | None = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            if proc.poll() is None:
                # the CLI's own session (started above, so its pid is the group's): the daemon ends the build when
                # the CLI's connection goes
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            reader.join(10)
            if not reader.is_alive():  # else something the CLI started still holds the pipe: leave it to the thread
                proc.stdout.close()
        seconds = time.monotonic() - t0
        image_id = iid.read_text().strip() if returncode == 0 and iid.exists() else None
    return BuildRun(returncode, "".join(kept), state["tail"], image_id or None, seconds, state["cut"])
