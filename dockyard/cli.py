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
    d = st.get("daemon") or {}
    lines = [f"sandbox     {st['name']} ({st['backend']})", f"DOCKER_HOST {st['docker_host']}"]
    seal = st.get("seal") if (st.get("seal") or {}).get("sealed") else None
    seal_down = bool(d.get("pid")) and seal is not None and not seal["answering"]
    state = "running" if d.get("answering") else "refusing every request (its seal is down)" if seal_down else "stopped"
    if d.get("pid"):
        state += f", pid {d['pid']}"
    if d.get("version"):
        state += f", Docker {d['version']} (API {d.get('api')}), containerd {d.get('containerd')}"
    lines.append(f"daemon      {state}")
    if seal is not None:
        text = f"on, plugin {seal['plugin']} pid {seal['pid']}" if seal["answering"] else "PLUGIN DOWN (run dockyard up)"
        lines.append(f"seal        {text}; workspace: {', '.join(seal['workspace']) or 'none (named volumes only)'}")
    if "registry" in st:
        r, m = st["registry"], st["mirror"]
        lines.append(f"registry    {r['url'] or '-'} ({'up' if r['running'] else 'down'})")
        imgs = m["images"] if isinstance(m["images"], str) else ", ".join(m["images"]) or "none yet"
        lines.append(f"mirror      {m['url']} ({'up' if m['running'] else 'down'}): {imgs}")
    if "containers" in st:
        c = st["containers"]
        lines.append(f"containers  {c['running']} running, {c['total']} in all; images {st.get('images')}")
    if st.get("disk"):
        dk = st["disk"]
        text = ", ".join(f"{k} {human_size(dk[k])}" for k in ("images", "containers", "volumes") if k in dk)
        if "total" in dk:
            text += f"; disk {human_size(dk['total'] - dk['free'])} used of {human_size(dk['total'])}"
        lines.append(f"disk        {text}")
    if "cgroup" in st:
        cg = st["cgroup"]
        lim, use = cg["limits"], cg["usage"]
        lines.append(f"cgroup      {cg['path']} on {cg['hierarchy']}: memory {human_size(use.get('memory'))} of "
                     f"{human_size(lim.get('memory'))}, pids {use.get('pids')} of {lim.get('pids')}, "
                     f"cpus {lim.get('cpus')}")
    if "bridge" in st and st["bridge"].get("name"):
        b = st["bridge"]
        fwd = {False: "forwarding off", True: "FORWARDING ON", None: "absent"}[b["forwarding"]]
        lines.append(f"bridge      {b['name']} {b['subnet']} ({fwd})")
    if "memory" in st:
        m = st["memory"]
        lines.append(f"memory      {human_size(m['sandbox_processes'])} in {m['processes']} sandbox processes")
    if st.get("storage_driver"):
        lines.append(f"storage     {st['storage_driver']}")
    for p in st.get("problems", []):
        lines.append(f"PROBLEM     {p}")
    return "\n".join(lines)


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
