"""The sandbox's commands (up, down, status, env, reset, list): a thin layer over :mod:`dockyard.sandbox`.

The ``dockyard`` command is this group with the grader's and the course's commands added on top
(:mod:`grader.cli`); this package imports nothing from ``grader``."""

from __future__ import annotations

import functools
import json
import shlex
import sys

import click

from . import sandbox as sb
from .config import human_size
from .cliutil import friendly_errors


def sandbox_options(func):
    """--name and --backend, shared by every command that acts on one sandbox."""
    @click.option("--name", "-n", default=None, envvar="DOCKYARD_SANDBOX",
                  help="Sandbox name (default: 'default'); several can run at once.")
    @click.option("--backend", type=click.Choice(["private", "existing"]), default=None, envvar="DOCKYARD_BACKEND",
                  help="private: Dockyard's own dockerd (default). existing: the daemon DOCKER_HOST points at.")
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)
    return wrapper


def echo_progress(msg: str) -> None:
    click.echo(msg, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dockyard")
def main():
    """Dockyard: learn Docker against a private, sandboxed Docker daemon.

    \b
    Example:
      dockyard up && eval "$(dockyard env)" && docker run --rm busybox echo hello
    """


@main.command()
@sandbox_options
@click.option("--memory", default=None, help="Memory cap for all containers together, e.g. 4g.")
@click.option("--pids", type=int, default=None, help="Cap on processes in all containers together.")
@click.option("--cpus", type=float, default=None, help="CPU cap for all containers together, e.g. 1.5.")
@click.option("--subnet", default=None, help="Bridge subnet, e.g. 10.213.77.0/24 (default: a free one).")
@click.option("--disk", default=None, help="Put the data-root on a filesystem of this size, e.g. 20G.")
@click.option("--storage-driver", type=click.Choice(["overlay2", "vfs"]), default=None)
@click.option("--online", is_flag=True, help="Mirror Docker Hub through a local pull-through cache.")
@click.option("--reseed", is_flag=True, help="Rebuild the base images from Debian packages.")
@click.option("--workspace", "-w", multiple=True, type=click.Path(file_okay=False, resolve_path=True),
              help="A host folder containers may bind (-v DIR/x:/x); repeat for more. Added until `down`.")
@friendly_errors
def up(name, backend, memory, pids, cpus, subnet, disk, storage_driver, online, reseed, workspace):
    """Start the sandbox (idempotent) and print its DOCKER_HOST.

    \b
    Example:
      dockyard up --name class1 --memory 2g --pids 512 --workspace ~/course
    """
    box = sb.get(name, backend, memory=memory, pids=pids, cpus=cpus, subnet=subnet, disk=disk,
                 storage_driver=storage_driver, online=online or None, workspace=tuple(workspace) or None)
    if backend == "existing":
        box.up()
    else:
        box.up(reseed=reseed, progress=echo_progress)
    click.echo(box.docker_host)


@main.command()
@sandbox_options
@click.option("--purge", is_flag=True, help="Also delete the sandbox's data-root and state.")
@friendly_errors
def down(name, backend, purge):
    """Stop the sandbox: its processes, bridge, mounts and cgroups go away.

    \b
    Example:
      dockyard down --name class1 --purge
    """
    report = sb.get(name, backend).down(purge=purge)
    for key in ("stopped", "removed"):
        if report.get(key):
            click.echo(f"{key}: " + ", ".join(report[key]))
    if report.get("left"):
        click.secho("could not remove: " + ", ".join(report["left"]), fg="yellow", err=True)
        sys.exit(1)


@main.command()
@sandbox_options
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@friendly_errors
def status(name, backend, as_json):
    """Daemon, registry, images, containers, disk, cgroup caps and memory.

    \b
    Example:
      dockyard status --json | python3 -m json.tool
    """
    st = sb.get(name, backend).status()
    if as_json:
        click.echo(json.dumps(st, indent=2, default=str))
    else:
        click.echo(render_status(st))
    if st.get("problems") or not (st.get("daemon") or {}).get("answering"):
        sys.exit(1)


def render_status(st: dict) -> str:
    """The text of ``dockyard status``: a line per part the status dict has, in this order, then its problems."""
    return "\n".join(line for part in STATUS_LINES for line in part(st))


def _sandbox_lines(st: dict) -> list[str]:
    return [f"sandbox     {st['name']} ({st['backend']})", f"DOCKER_HOST {st['docker_host']}"]


def _sealed(st: dict) -> dict | None:
    """The seal's part of the status, if the sandbox has a seal (the existing backend has none)."""
    return st.get("seal") if (st.get("seal") or {}).get("sealed") else None


def _daemon_lines(st: dict) -> list[str]:
    d, seal = st.get("daemon") or {}, _sealed(st)
    seal_down = bool(d.get("pid")) and seal is not None and not seal["answering"]
    state = "running" if d.get("answering") else "refusing every request (its seal is down)" if seal_down else "stopped"
    if d.get("pid"):
        state += f", pid {d['pid']}"
    if d.get("version"):
        state += f", Docker {d['version']} (API {d.get('api')}), containerd {d.get('containerd')}"
    return [f"daemon      {state}"]


def _seal_lines(st: dict) -> list[str]:
    seal = _sealed(st)
    if seal is None:
        return []
    text = f"on, plugin {seal['plugin']} pid {seal['pid']}" if seal["answering"] else "PLUGIN DOWN (run dockyard up)"
    return [f"seal        {text}; workspace: {', '.join(seal['workspace']) or 'none (named volumes only)'}"]


def _shown_if(key: str):
    """Render a part's lines only when the status has ``key`` (the existing backend has no registry, a stopped
    daemon no containers)."""
    def wrap(render):
        @functools.wraps(render)
        def lines(st: dict) -> list[str]:
            return render(st) if key in st else []
        return lines
    return wrap


@_shown_if("registry")
def _registry_lines(st: dict) -> list[str]:
    r, m = st["registry"], st["mirror"]
    imgs = m["images"] if isinstance(m["images"], str) else ", ".join(m["images"]) or "none yet"
    return [f"registry    {r['url'] or '-'} ({'up' if r['running'] else 'down'})",
            f"mirror      {m['url']} ({'up' if m['running'] else 'down'}): {imgs}"]


@_shown_if("containers")
def _containers_lines(st: dict) -> list[str]:
    c = st["containers"]
    return [f"containers  {c['running']} running, {c['total']} in all; images {st.get('images')}"]


def _disk_lines(st: dict) -> list[str]:
    dk = st.get("disk")
    if not dk:
        return []
    text = ", ".join(f"{k} {human_size(dk[k])}" for k in ("images", "containers", "volumes") if k in dk)
    if "total" in dk:
        text += f"; disk {human_size(dk['total'] - dk['free'])} used of {human_size(dk['total'])}"
    return [f"disk        {text}"]


@_shown_if("cgroup")
def _cgroup_lines(st: dict) -> list[str]:
    cg = st["cgroup"]
    lim, use = cg["limits"], cg["usage"]
    return [f"cgroup      {cg['path']} on {cg['hierarchy']}: memory {human_size(use.get('memory'))} of "
            f"{human_size(lim.get('memory'))}, pids {use.get('pids')} of {lim.get('pids')}, cpus {lim.get('cpus')}"]


def _bridge_lines(st: dict) -> list[str]:
    b = st.get("bridge") or {}
    if not b.get("name"):
        return []
    fwd = {False: "forwarding off", True: "FORWARDING ON", None: "absent"}[b["forwarding"]]
    return [f"bridge      {b['name']} {b['subnet']} ({fwd})"]


@_shown_if("memory")
def _memory_lines(st: dict) -> list[str]:
    m = st["memory"]
    return [f"memory      {human_size(m['sandbox_processes'])} in {m['processes']} sandbox processes"]


def _storage_lines(st: dict) -> list[str]:
    return [f"storage     {st['storage_driver']}"] if st.get("storage_driver") else []


def _problem_lines(st: dict) -> list[str]:
    return [f"PROBLEM     {p}" for p in st.get("problems", [])]


STATUS_LINES = (_sandbox_lines, _daemon_lines, _seal_lines, _registry_lines, _containers_lines, _disk_lines,
                _cgroup_lines, _bridge_lines, _memory_lines, _storage_lines, _problem_lines)


@main.command()
@sandbox_options
@friendly_errors
def env(name, backend):
    """Print shell export lines for this sandbox.

    \b
    Example:
      eval "$(dockyard env)"; docker ps
    """
    for key, value in sb.get(name, backend).env().items():
        click.echo(f"export {key}={shlex.quote(value)}")


@main.command()
@sandbox_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
@friendly_errors
def reset(name, backend, yes):
    """Remove every container, image, volume and network the learner made (base images stay).

    \b
    Example:
      dockyard reset --yes
    """
    box = sb.get(name, backend)
    if not yes:
        click.confirm(f"Remove everything you created in sandbox {box.name!r}?", abort=True)
    done = box.reset(progress=echo_progress)
    click.echo(", ".join(f"{v} {k}" for k, v in done.items() if k != "registry") + " removed; registry emptied")


@main.command(name="list")
@friendly_errors
def list_cmd():
    """List the sandboxes on this machine.

    \b
    Example:
      dockyard list
    """
    boxes = sb.list_sandboxes()
    if not boxes:
        click.echo("no sandboxes yet: start one with dockyard up")
    for box in boxes:
        st = box.state
        click.echo(f"{box.name:14} {'running' if box.running() else 'stopped':8} {st.subnet or '-':16} "
                   f"{box.docker_host}")


if __name__ == "__main__":  # pragma: no cover
    main()
