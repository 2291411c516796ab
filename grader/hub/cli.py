"""``dockyard hub ...``: a class on one machine (a thin layer over :mod:`grader.hub`)."""

from __future__ import annotations

import functools
import sys

import click

from dockyard.cliutil import friendly_errors


def hub_option(func):
    @click.option("--class", "class_name", default="class", show_default=True, envvar="DOCKYARD_HUB",
                  help="Which hub: its state is <dockyard home>/.hub/CLASS/.")
    @functools.wraps(func)
    def wrapper(*args, class_name="class", **kwargs):
        from .run import HubDir

        return func(*args, hub=HubDir.named(class_name), **kwargs)
    return wrapper


@click.group()
def hub():
    """A class on one machine: JupyterHub, a sealed sandbox per learner, nbgrader's exchange and formgrader.

    \b
    Example:
      dockyard hub adduser alice && dockyard hub adduser teacher --instructor
      dockyard hub start --course /srv/dockyard-course --port 8000
    """


@hub.command()
@click.argument("name")
@click.option("--instructor", is_flag=True, help="May open formgrader (the hub service) and grade.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin instead of generating one.")
@hub_option
@friendly_errors
def adduser(name, instructor, password_stdin, hub):
    """Put NAME on the class roster (or give them a new password); prints the password once.

    \b
    Example:
      dockyard hub adduser alice
      echo 's3cret-pass' | dockyard hub adduser teacher --instructor --password-stdin
    """
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    member, password = hub.roster.add(name, "instructor" if instructor else "student", password)
    click.echo(f"{member.name} ({member.role}, uid {member.uid}): password {password}")


@hub.command()
@click.argument("name")
@hub_option
@friendly_errors
def deluser(name, hub):
    """Take NAME off the roster (their work folder stays, in <hub>/work/NAME/).

    \b
    Example:
      dockyard hub deluser alice
    """
    click.echo(f"removed {name}" if hub.roster.remove(name) else f"{name} was not on the roster")


@hub.command()
@hub_option
@friendly_errors
def users(hub):
    """List the roster: name, role, uid.

    \b
    Example:
      dockyard hub users --class docker-101
    """
    for m in sorted(hub.roster.members().values(), key=lambda m: (m.role, m.name)):
        click.echo(f"{m.name:24} {m.role:11} {m.uid}")


@hub.command()
@click.option("--course", "course_dir", default=None, envvar="DOCKYARD_COURSE",
              help="The nbgrader course folder (default: ./course beside the labs, or $DOCKYARD_COURSE).")
@click.option("--port", type=int, default=8000, show_default=True, help="The hub's port on 127.0.0.1.")
@click.option("--cull-idle", type=int, default=3600, show_default=True,
              help="Stop a server (and its sandbox) idle this many seconds.")
@click.option("--cull-every", type=int, default=300, show_default=True, help="How often the culler looks.")
@click.option("--sandbox-memory", default="2g", show_default=True, help="Memory cap of a learner's containers.")
@click.option("--sandbox-cpus", type=float, default=1.0, show_default=True, help="CPU cap of a learner's containers.")
@click.option("--purge-on-stop", is_flag=True, help="A stopped server's sandbox loses its images and volumes.")
@hub_option
@friendly_errors
def start(course_dir, port, cull_idle, cull_every, sandbox_memory, sandbox_cpus, purge_on_stop, hub):
    """Run the hub in the foreground (^C stops every server and sandbox).

    \b
    Example:
      dockyard course release 05-dockerfile && dockyard hub start --port 8000
    """
    from grader.course.layout import Course

    from .run import run

    sys.exit(run(hub, progress=lambda m: click.echo(m, err=True), course=Course.at(course_dir).root, port=port,
                 cull_idle=cull_idle, cull_every=cull_every, sandbox_memory=sandbox_memory,
                 sandbox_cpus=sandbox_cpus, purge_on_stop=purge_on_stop))


@hub.command()
@hub_option
@friendly_errors
def clear(hub):
    """Stop what a hub that was killed left: its proxy, learners' processes, cgroups and sandboxes.

    \b
    Example:
      dockyard hub clear --class docker-101
    """
    from .run import clear as do_clear

    done = do_clear(hub, progress=click.echo)
    if not done:
        click.echo("nothing to clear")
