"""Progress of Dockyard's long steps: count/total, percent, elapsed and time left.

On a terminal it is a live tqdm bar on stderr; anywhere else (a log file, CI, a pipe) it is
plain lines, one per finished step, each with its count and time left, so a log reads well.
The estimates here are our own, not tqdm's rate: tqdm counts every update as work done at the
same pace, which is wrong for a hand-in skipped in no time or for a 1 MB image after a 190 MB one.
"""

from __future__ import annotations

import os
import threading
import time
from typing import IO, Callable


def fmt_time(seconds: float | None) -> str:
    """``75`` → ``01:15``, ``3725`` → ``1:02:05``, tqdm's way; ``None`` (not known yet) → ``?``."""
    if seconds is None:
        return "?"
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h:d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def fmt_bytes(n: float) -> str:
    """Decimal units, as ``docker pull`` shows them: ``84.2MB``."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1000
    return f"{n}B"  # pragma: no cover


def is_tty(stream: IO | None) -> bool:
    if os.environ.get("DOCKYARD_PROGRESS") == "plain":  # a terminal recorded to a file (script, asciinema)
        return False
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # closed or a stand-in without isatty
        return False


class ItemEta:
    """Time left for ``total`` like items done ``jobs`` at a time, from those actually done.

    Skipped items (already done: graded before, unchanged) count towards k/N but never towards
    the pace. Until ``jobs`` items have finished, each item left is taken to last the mean of
    those finished, ``jobs`` at once (``mean * left / min(jobs, left)``); from then on the pace is
    the one measured since the start (items finished per second of wall clock), which counts
    the work done in parallel and the overheads between items. Between two finishes the
    estimate counts down.
    """

    def __init__(self, total: int, jobs: int = 1, clock: Callable[[], float] = time.monotonic):
        self.total, self.jobs, self.clock = total, max(1, jobs), clock
        self.start = clock()
        self.skipped = 0
        self.times: list[float] = []
        self._at: tuple[float, float] | None = None  # (estimate, when it was made)

    @property
    def done(self) -> int:
        return self.skipped + len(self.times)

    @property
    def left(self) -> int:
        return max(0, self.total - self.done)

    def skip(self) -> None:
        self.skipped += 1
        self._remember()

    def finish(self, seconds: float) -> None:
        self.times.append(max(0.0, float(seconds)))
        self._remember()

    def _estimate(self) -> float | None:
        if not self.left:
            return 0.0
        if not self.times:
            return None
        if len(self.times) >= self.jobs:
            elapsed = self.clock() - self.start
            if elapsed > 0:
                return self.left * elapsed / len(self.times)
        mean = sum(self.times) / len(self.times)
        return mean * self.left / min(self.jobs, self.left)

    def _remember(self) -> None:
        est = self._estimate()
        self._at = None if est is None else (est, self.clock())

    def remaining(self) -> float | None:
        """Seconds left (``None`` while nothing has been timed), counting down between finishes."""
        if self._at is None:
            return None
        est, when = self._at
        return max(0.0, est - (self.clock() - when))


class Ticker:
    """Calls ``tick`` (a bar's redraw) once a second, so elapsed and time left move while nothing finishes."""

    def __init__(self, tick: Callable[[], None], every: float = 1.0):
        self.tick, self.every = tick, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress-tick", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.tick()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def tqdm_bar(*, total: float, title: str, file: IO, middle: str = "", text: str = ""):
    """``TITLE: 42%|█████     | MIDDLE TEXT``: a bar of fixed width, then ``middle`` (tqdm fields, e.g.
    ``{n_fmt}/{total_fmt}``) and a free text set with :func:`set_text` (what is under way, time left)."""
    from tqdm import tqdm

    title = title.replace("{", "{{").replace("}", "}}")
    # {desc} is our free text: tqdm's own postfix would start with ", "; a fixed-width bar does not
    # jump about as that text changes length. mininterval 0: our updates are few and all matter.
    return tqdm(total=total, desc=text, file=file, bar_format=f"{title}: {{percentage:3.0f}}%|{{bar:24}}| {middle}{{desc}}",
                dynamic_ncols=True, mininterval=0, leave=True)


def set_text(bar, text: str) -> None:
    bar.set_description_str(text, refresh=False)
    bar.refresh()


class PullProgress:
    """Docker's pull stream (``api.pull(ref, stream=True, decode=True)``) folded into layers and bytes.

    Each layer downloads (``Downloading``, bytes of the compressed blob), then extracts
    (``Extracting``, the same bytes read again); it is done at ``Pull complete`` or
    ``Already exists``. The work of a layer is both passes (``download_share`` of it the
    download), so a bar does not sit at 100 % while the largest layer unpacks. ``sizes`` (digest or layer id → bytes), when known
    beforehand (from the registry's manifest), give the total before the first byte arrives.
    """

    DONE = ("Pull complete", "Already exists")

    def __init__(self, sizes: dict[str, int] | None = None, download_share: float = 0.2):
        self.download_share = download_share  # of a layer's work: from a registry on 127.0.0.1, unpacking is most
        self.layers: dict[str, dict] = {}
        self.expected = dict(sizes or {})
        self.status = ""  # the last line not about a layer: "Digest: ...", "Status: Downloaded newer image ..."
        self.error: str | None = None

    def feed(self, event: dict) -> None:
        if event.get("error"):
            self.error = event.get("error") or (event.get("errorDetail") or {}).get("message") or "pull failed"
            return
        status, lid = event.get("status") or "", event.get("id")
        if not lid or status.startswith("Pulling from"):
            if status:
                self.status = status
            return
        layer = self.layers.setdefault(lid, {"status": "", "size": self.expected.pop(lid, 0),
                                             "down": 0, "extracted": 0, "done": False})
        layer["status"] = status
        detail = event.get("progressDetail") or {}
        if detail.get("total"):
            layer["size"] = max(layer["size"], int(detail["total"]))
        if status == "Downloading":
            layer["down"] = int(detail.get("current") or 0)
        elif status in ("Verifying Checksum", "Download complete"):
            layer["down"] = layer["size"]
        elif status == "Extracting":
            layer["down"] = layer["size"]
            layer["extracted"] = int(detail.get("current") or 0)
        elif status in self.DONE:
            layer["down"] = layer["extracted"] = layer["size"]
            layer["done"] = True

    @property
    def layers_total(self) -> int:
        return len(self.layers) + len(self.expected)

    @property
    def layers_done(self) -> int:
        return sum(1 for lay in self.layers.values() if lay["done"])

    @property
    def bytes_total(self) -> int:
        return sum(lay["size"] for lay in self.layers.values()) + sum(self.expected.values())

    @property
    def bytes_done(self) -> int:
        """Bytes downloaded (or already there)."""
        return sum(lay["down"] for lay in self.layers.values())

    def fraction(self) -> float:
        """How much of the pull's work (download and unpack, all layers) is done, 0 to 1."""
        total = self.bytes_total
        if total <= 0:
            if not self.layers_total:
                return 0.0
            return self.layers_done / self.layers_total
        share = self.download_share
        done = sum(lay["down"] * share + lay["extracted"] * (1 - share) for lay in self.layers.values())
        return min(1.0, done / total)

    def summary(self) -> str:
        """``layers 2/3, 84.2MB/190.0MB`` while downloading, ``layers 2/3, unpacking 12.0MB/190.0MB`` after; ``""`` if none."""
        if not self.layers_total:  # an image that is up to date: nothing moved
            return ""
        text = f"layers {self.layers_done}/{self.layers_total}"
        total = self.bytes_total
        if not total:
            return text
        if self.layers_done < self.layers_total and self.bytes_done >= total:
            unpacked = sum(lay["extracted"] for lay in self.layers.values())
            return text + f", unpacking {fmt_bytes(unpacked)}/{fmt_bytes(total)}"
        return text + f", {fmt_bytes(self.bytes_done)}/{fmt_bytes(total)}"


class Pace:
    """Time left of a job under way: from its own measured pace once it has one, else a first guess.

    ``fraction`` is the share done (0 to 1) ``elapsed`` seconds after it started; ``expected`` the
    seconds it was thought to take. Until a twentieth of it is done (too little to time), the
    guess stands, less what has already gone by.
    """

    @staticmethod
    def left(fraction: float, elapsed: float, expected: float | None) -> float | None:
        """Seconds left; None when there is neither a pace nor a guess."""
        if fraction >= 1:
            return 0.0
        if fraction >= 0.05 and elapsed > 0.2:
            return elapsed * (1 - fraction) / fraction
        if expected is None:
            return None
        return max(expected * (1 - fraction) - elapsed, expected * 0.1 * (1 - fraction))


class Phases:
    """A job of known steps, each with the seconds it is expected to take: step k/N, percent, elapsed, time left.

    The percent and the time left weigh each step by its expected seconds, corrected by the pace
    measured so far (a machine twice as slow on the steps done is taken to be twice as slow on
    those left); inside a step that reports its share done (a pull's bytes), its own pace counts.
    On a terminal it is one live line; elsewhere a line when a long step starts and one when any
    step ends, each with k/N and the time left.
    """

    LONG = 3.0  # a step expected to take longer than this says when it starts, in a log too

    def __init__(self, title: str, steps: list[tuple[str, float]], *, stream: IO | None,
                 tty: bool | None = None, clock: Callable[[], float] = time.monotonic,
                 say: Callable[[str], None] | None = None):
        self.title, self.steps, self.stream, self.clock = title, list(steps), stream, clock
        self.tty = is_tty(stream) if tty is None else tty
        # where the lines go when there is no live bar: ``say`` (a caller's progress callback) or ``stream``
        self.say = say or (None if stream is None else self._write)
        self.t0 = clock()
        self.index = -1  # the step under way
        self.spent: list[float] = []  # seconds each finished step took
        self.step_t0 = self.t0
        self.fraction = 0.0
        self.detail = ""
        self.bar = self.ticker = None
        if stream is not None and self.tty:
            self.bar = tqdm_bar(total=100, title=title, file=stream)
            self.ticker = Ticker(self._draw)

    @property
    def count(self) -> str:
        return f"{min(self.index + 1, len(self.steps))}/{len(self.steps)}"

    PRIOR = 20.0  # expected seconds of evidence the first guess is worth: one slow step does not triple the rest

    def pace(self) -> float:
        """Measured seconds per expected second on the finished steps, shrunk towards 1 while they are few."""
        expected = sum(e for _label, e in self.steps[:len(self.spent)])
        if expected < 10 or not self.spent:
            return 1.0  # a short step alone is too noisy to time a machine by
        return min(3.0, max(0.33, (sum(self.spent) + self.PRIOR) / (expected + self.PRIOR)))

    def remaining(self) -> float:
        pace = self.pace()
        later = sum(e for _label, e in self.steps[self.index + 1:]) * pace
        if self.index < 0:
            return later
        expected = self.steps[self.index][1] * pace
        return later + Pace.left(self.fraction, self.clock() - self.step_t0, expected)

    def percent(self) -> float:
        total = sum(e for _l, e in self.steps) or 1.0
        done = sum(e for _l, e in self.steps[:max(self.index, 0)])
        if self.index >= 0:
            done += self.steps[self.index][1] * self.fraction
        return 100.0 * min(1.0, done / total)

    def start(self, index: int, detail: str = "") -> None:
        """Step ``index`` (0-based) begins; the one before, if any, has ended."""
        if 0 <= self.index < index:
            self._ended()
        self.index, self.step_t0, self.fraction, self.detail = index, self.clock(), 0.0, detail
        label, expected = self.steps[index]
        if self.bar is not None:
            self._draw()
        elif self.say is not None and expected >= self.LONG:
            self.say(f"{self.title} [{self.count}] {label} ... (about {fmt_time(self.remaining())} left)")

    def update(self, fraction: float, detail: str = "") -> None:
        self.fraction, self.detail = max(self.fraction, min(1.0, fraction)), detail
        if self.bar is not None:
            self._draw()

    def _ended(self) -> None:
        took = self.clock() - self.step_t0
        self.spent.append(took)
        self.fraction = 1.0
        if self.bar is None and self.say is not None:
            label = self.steps[self.index][0]
            left = self.remaining() if self.index + 1 < len(self.steps) else 0.0
            self.say(f"{self.title} [{self.count}] {label}: done in {took:.1f} s"
                      + (f" ({self.detail})" if self.detail else "")
                      + (f"; about {fmt_time(left)} left" if left else ""))

    def close(self, ok: bool = True) -> None:
        if self.index >= 0 and len(self.spent) <= self.index and ok:
            self._ended()
        if self.ticker is not None:
            self.ticker.stop()
        if self.bar is not None:
            self._draw(final=ok)
            self.bar.close()
        elif self.say is not None and ok:
            self.say(f"{self.title}: done in {fmt_time(self.clock() - self.t0)}")
        self.bar = self.ticker = None

    def _draw(self, final: bool = False) -> None:
        bar = self.bar
        if bar is None:
            return
        elapsed = fmt_time(self.clock() - self.t0)
        if final:
            bar.n = 100
            text = f"{len(self.steps)}/{len(self.steps)} done [{elapsed}]"
        else:
            label = self.steps[self.index][0] if self.index >= 0 else "starting"
            bar.n = round(self.percent(), 1)
            # the times first: a narrow terminal cuts the end of the line
            text = (f"{self.count} [{elapsed}<{fmt_time(self.remaining())}] {label}"
                    + (f" ({self.detail})" if self.detail else ""))
        set_text(bar, text)

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()
