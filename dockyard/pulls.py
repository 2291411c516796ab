"""A pull with a progress bar, for :func:`dockyard.notebook.pull`: the daemon's pull stream shown as it comes.

The stream (docker-py ``api.pull(ref, stream=True, decode=True)``) is folded by
:class:`~dockyard.progressbar.PullProgress`; a view shows it: a tqdm.notebook widget in a
Jupyter kernel, a tqdm bar on a terminal, one line per image anywhere else.
"""

from __future__ import annotations

import sys
import time

from .errors import DockyardError, translate_docker_error
from .progressbar import Pace, PullProgress, fmt_time, is_tty, set_text, tqdm_bar
from .seed import seeded_names


def in_notebook() -> bool:
    """True in a Jupyter kernel that can show widgets (not in a terminal IPython, nor plain Python)."""
    try:
        from IPython import get_ipython
        import ipywidgets  # noqa: F401  (tqdm.notebook needs it)
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def outcome(seen: PullProgress) -> str:
    """``Downloaded newer image`` / ``Image is up to date``, from the stream's last status line."""
    status = seen.status.removeprefix("Status: ")
    return status.split(" for ", 1)[0] if status else "done"


def line(seen: PullProgress, elapsed: float, left: float | None) -> str:
    """``[00:02<00:03] layers 1/2, 30.0MB/67.0MB``: what a bar shows beside it (the times first: a narrow
    terminal cuts the end)."""
    return f"[{fmt_time(elapsed)}<{fmt_time(left)}] {seen.summary()}".rstrip()


class TextView:
    """Outside a terminal and a notebook (a log, a pipe): one line when the image is there."""

    def __init__(self, ref: str, stream=None):
        self.ref, self.stream = ref, stream or sys.stdout

    def update(self, seen: PullProgress, elapsed: float, left: float | None) -> None:
        pass

    def close(self, seen: PullProgress, elapsed: float, ok: bool) -> None:
        if ok:
            what = seen.summary()
            print(f"{self.ref}: {outcome(seen)}" + (f" ({what})" if what else "") + f" in {elapsed:.1f} s",
                  file=self.stream, flush=True)


class BarView:
    """A tqdm bar: a widget in a notebook (tqdm.notebook), text on a terminal."""

    def __init__(self, ref: str, notebook: bool, stream=None):
        self.ref = ref
        if notebook:
            from tqdm.notebook import tqdm

            title = ref.replace("{", "{{").replace("}", "}}")
            # tqdm.notebook splits its text at {bar} (plain, no width): left of it the percent, right the rest
            self.bar = tqdm(total=100, desc="", bar_format=f"{title}: {{percentage:3.0f}}%|{{bar}}| {{desc}}",
                            mininterval=0, leave=True)
        else:
            self.bar = tqdm_bar(total=100, title=ref, file=stream or sys.stderr)

    def update(self, seen: PullProgress, elapsed: float, left: float | None) -> None:
        self.bar.n = round(100 * seen.fraction(), 1)
        set_text(self.bar, line(seen, elapsed, left))

    def close(self, seen: PullProgress, elapsed: float, ok: bool) -> None:
        if ok:
            self.bar.n = 100
            what = seen.summary()
            set_text(self.bar, f"[{fmt_time(elapsed)}] {outcome(seen)}" + (f": {what}" if what else ""))
        self.bar.close()


def view_for(ref: str):
    if in_notebook():
        return BarView(ref, notebook=True)
    if is_tty(sys.stderr):
        return BarView(ref, notebook=False)
    return TextView(ref)


def pull_one(client, ref: str, view=None, clock=time.monotonic) -> PullProgress:
    """Pull ``ref`` (``name``, ``name:tag``, ``name@sha256:…``) through the daemon, shown on ``view``."""
    view = view or view_for(ref)
    # from the sandbox's mirror on 127.0.0.1 the download is quick and unpacking the work
    seen = PullProgress(download_share=0.2)
    t0 = last = clock()
    ok = False
    try:
        for event in client.api.pull(ref, stream=True, decode=True):
            seen.feed(event)
            if seen.error:
                raise DockyardError(f"docker pull {ref} failed: {seen.error}",
                                    "check the name and tag: `docker images` lists what is here; the base images "
                                    f"are {seeded_names()}")
            now = clock()
            if now - last >= 0.1:  # hundreds of events a second: redraw ten times a second
                view.update(seen, now - t0, Pace.left(seen.fraction(), now - t0, None))
                last = now
        ok = True
    except DockyardError:
        raise
    except Exception as exc:
        raise translate_docker_error(exc, f"pulling {ref}") from exc
    finally:
        view.close(seen, clock() - t0, ok)
    return seen
