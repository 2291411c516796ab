"""Helpers for the lesson notebooks: run a command against the sandbox and show what came back.

``sh`` raises when a command fails (unless ``check=False``), so a lesson that
stops working fails the test suite instead of printing an error nobody reads.
"""

from __future__ import annotations

import html
import os
import subprocess
from typing import Iterable, Sequence

from .. import service_client
from ..errors import DockyardError
from ..sandbox import Sandbox, get


class CommandFailed(DockyardError):
    def __init__(self, cmd: str, code: int, output: str):
        self.returncode, self.output = code, output
        super().__init__(f"`{cmd}` exited with status {code}:\n{output.rstrip()}")


class Output(str):
    """A command's output: a plain string that a notebook does not echo a second time.

    ``returncode`` is the command's exit status (useful with ``check=False``).
    """

    returncode: int = 0

    def _ipython_display_(self):
        pass


def sandbox() -> Sandbox:
    """The sandbox this kernel talks to (from DOCKYARD_SANDBOX / DOCKER_HOST)."""
    return get(os.environ.get("DOCKYARD_SANDBOX"))


def sh(cmd: str, *, check: bool = True, timeout: float = 120, quiet: bool = False) -> Output:
    """Run ``cmd`` in bash with the sandbox's environment; print and return its output.

    >>> sh("docker run --rm busybox echo hi")   # doctest: +SKIP
    $ docker run --rm busybox echo hi
    hi
    """
    env = dict(os.environ)
    env.update(sandbox().env())
    try:
        res = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        raise DockyardError(f"`{cmd}` did not finish within {timeout:.0f} s",
                            "is it waiting for input, or following logs (-f)? add a timeout or -d") from exc
    out = res.stdout + res.stderr
    if not quiet:
        print(f"$ {cmd}\n{out}", end="" if out.endswith("\n") or not out else "\n")
    if check and res.returncode != 0:
        raise CommandFailed(cmd, res.returncode, out)
    result = Output(out)
    result.returncode = res.returncode
    return result


class Table:
    """A small table that renders as HTML in a notebook and as aligned text elsewhere."""

    def __init__(self, rows: Iterable[Sequence], headers: Sequence[str], title: str | None = None):
        self.rows = [[str(c) for c in r] for r in rows]
        self.headers = list(headers)
        self.title = title

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in self.headers)
        body = "".join("<tr>" + "".join(f"<td style='text-align:left'><code>{html.escape(c)}</code></td>" for c in r)
                       + "</tr>" for r in self.rows)
        cap = f"<caption style='text-align:left'><b>{html.escape(self.title)}</b></caption>" if self.title else ""
        return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        widths = [max(len(x) for x in col) for col in zip(self.headers, *self.rows)]
        fmt = "  ".join(f"{{:{w}}}" for w in widths)
        lines = ([self.title] if self.title else []) + [fmt.format(*self.headers)]
        lines += [fmt.format(*r) for r in self.rows]
        return "\n".join(lines)


def where() -> Table:
    """Where this sandbox keeps things, read from the running daemon and Dockyard's state."""
    box = sandbox()
    rows = [("DOCKER_HOST (the API socket)", box.docker_host)]
    if box.backend == "private":
        info = box.client.info()
        st = box.state
        rows += [
            ("data-root (images, containers, volumes)", info.get("DockerRootDir")),
            ("exec-root (runtime state, containerd socket)", str(box.cfg.exec_root)),
            ("storage driver", info.get("Driver")),
            ("bridge and subnet", f"{st.bridge} {st.subnet}"),
            ("cgroup parent of every container", f"{box.cgroup.parent_arg} ({info.get('CgroupVersion') and 'cgroup v' + info['CgroupVersion']})"),
            ("registry mirror (base images)", st.mirror),
            ("your own registry (push here)", box.env().get("DOCKYARD_REGISTRY")),
            ("daemon log", str(box.cfg.log)),
        ]
    return Table(rows, ["what", "where"], title=f"Sandbox {box.name!r}")


NAMESPACES = ("mnt", "pid", "net", "ipc", "uts", "user", "cgroup", "time")


def pid_of(container: str) -> int:
    """The host PID of a container's main process (0 when it is not running)."""
    return int(sandbox().client.api.inspect_container(container)["State"]["Pid"])


def read_ns(pid: int | str) -> dict[str, str]:
    """``{kind: number}`` read from the links in ``/proc/<pid>/ns/`` (PermissionError when not allowed)."""
    return {k: os.readlink(f"/proc/{pid}/ns/{k}").split("[")[1].rstrip("]") for k in NAMESPACES
            if os.path.lexists(f"/proc/{pid}/ns/{k}")}


def ns_ids(pid: int | str = "self") -> dict[str, str]:
    """``{kind: number}``: the kernel's identity of each namespace of a process ("self" = this kernel).

    It reads the links in ``/proc/<pid>/ns/``. Linux shows another user's links only to root (a
    ptrace-style check), and a learner's kernel is not root while containers' processes are; so for
    those the read is done by Dockyard's own process, for your sandbox's containers only."""
    try:
        return read_ns(pid)
    except PermissionError:
        if pid == "self" or not service_client.available():
            raise
        return service_client.namespaces(int(pid))


def remove_folder(path: str) -> None:
    """Remove a folder of yours, files that containers wrote into it included.

    Root in a container writes root-owned files into a bind-mounted folder (lesson 07), and an
    unprivileged kernel cannot delete them; so what it may not remove, a container removes,
    through a bind mount of that same folder."""
    import shutil

    try:
        shutil.rmtree(path)
        return
    except PermissionError:
        pass
    sh(f"docker run --rm -v {path}:/gone busybox sh -c 'cd /gone && rm -rf -- * .[!.]* ..?*'", quiet=True)
    shutil.rmtree(path)


def pull(*refs: str) -> None:
    """``docker pull`` each of ``refs`` with a progress bar: layers done/total, bytes, elapsed, time left.

    In a notebook the bar is a widget (tqdm.notebook); elsewhere one line per image when it is
    done. It reads the daemon's own pull stream (docker-py's low-level ``api.pull``), so it shows
    what ``docker pull`` would, and raises when the pull fails.

    >>> pull("busybox", "python:3.11-slim")   # doctest: +SKIP
    busybox: 100%|██████████| [00:00] Downloaded newer image: layers 1/1, 1.1MB/1.1MB
    """
    from ..pulls import pull_one

    client = sandbox().client
    for ref in refs:
        pull_one(client, ref)
