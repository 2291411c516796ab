"""What every command line of the project shares (dockyard's and grader.course's)."""

from __future__ import annotations

import functools
import sys

import click

from .errors import DockyardError


def friendly_errors(func):
    """Print a DockyardError as its problem and fix, exit 1, no traceback."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except DockyardError as exc:
            click.secho(f"error: {exc.problem}", fg="red", err=True)
            if exc.fix:
                click.echo(f"  → {exc.fix}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
    return wrapper
