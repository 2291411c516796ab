"""What ``dockyard grade`` shows while a class is graded: k/N, percent, elapsed, time left, how many need a look.

On a terminal (stderr a TTY) a live bar sits under the per-hand-in lines; anywhere else each
hand-in's line starts with ``[k/N]`` and ends with the time left, so a log shows the same.
The per-hand-in lines go to ``out`` (stdout), the bar only to ``err``: with ``--json`` stdout
stays JSON lines. Time left comes from the hand-ins actually graded (:class:`ItemEta`), never
from those skipped as already graded, which take no time.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Callable

import click

from dockyard.progressbar import ItemEta, Ticker, fmt_time, is_tty, set_text, tqdm_bar


class ClassMeter:
    """Call :meth:`plan` once (N hand-ins, how many to grade), :meth:`landed` per hand-in, :meth:`close` at the end."""

    def __init__(self, lab: str, jobs: int, *, out: IO | None = None, err: IO | None = None,
                 tty: bool | None = None, json_lines: bool = False, clock: Callable[[], float] = time.monotonic):
        self.lab, self.jobs, self.json_lines, self.clock = lab, jobs, json_lines, clock
        self.out, self.err = out or sys.stdout, err or sys.stderr
        self.tty = is_tty(self.err) if tty is None else tty
        self.eta: ItemEta | None = None
        self.bad = 0
        self.t0 = self.clock()
        self.bar = self.ticker = None

    def plan(self, total: int, to_grade: int) -> None:
        self.eta = ItemEta(total, self.jobs, clock=self.clock)
        self.t0 = self.clock()
        if self.tty and to_grade:
            self.bar = tqdm_bar(total=total, title=f"grading {self.lab}", file=self.err, middle="{n_fmt}/{total_fmt} ",
                                text=f"[{self.postfix()}]")
            self.ticker = Ticker(self._refresh_postfix)
        elif not self.tty and to_grade and not self.json_lines:
            skipped = total - to_grade
            self._say(f"grading {to_grade} of {total} hand-ins of {self.lab}, {self.jobs} at a time"
                      + (f" ({skipped} already graded)" if skipped else ""))

    def landed(self, outcome, text: str) -> None:
        """``outcome`` finished (or was skipped); ``text`` is its line (or JSON) for ``out``."""
        if self.eta is None:  # a caller that never planned: no count to give
            self.plan(0, 0)
        if outcome.skipped:
            self.eta.skip()
        else:
            self.eta.finish(outcome.seconds)
        if outcome.status != "ok":
            self.bad += 1
        k, n = self.eta.done, max(self.eta.total, self.eta.done)
        if self.bar is not None:
            from tqdm import tqdm

            if not is_tty(self.out):  # stdout to a file, the bar on the terminal: the file gets the count too
                text = text if self.json_lines else self._counted(outcome, click.unstyle(text), k, n)
            # clears the bar, writes the line above it, redraws the bar
            tqdm.write(text, file=self.out)
            self.bar.update(1)
            self._refresh_postfix()
            return
        if self.json_lines:
            self._write(self.out, text)
            if not self.tty and not outcome.skipped:
                self._say(f"[{k}/{n}] {outcome.student} {outcome.status}{self._left()}")
            return
        self._write(self.out, self._counted(outcome, text, k, n))

    def _counted(self, outcome, text: str, k: int, n: int) -> str:
        """``[k/N] <first line>  (ETA mm:ss)``, the rest (a message) under it as it was."""
        first, _, rest = text.partition("\n")
        line = f"[{k:>{len(str(n))}}/{n}] {first}" + ("" if outcome.skipped else self._left())
        return line + (f"\n{rest}" if rest else "")

    def _left(self) -> str:
        left = self.eta.remaining()
        if not self.eta.left:
            return f"  (done in {fmt_time(self.clock() - self.t0)})"
        return f"  (ETA {fmt_time(left)})" if left is not None else ""

    def postfix(self) -> str:
        """What the bar shows after k/N: elapsed<left, and how many need a look."""
        elapsed = fmt_time(self.clock() - self.t0)
        left = fmt_time(self.eta.remaining()) if self.eta else "?"
        return f"{elapsed}<{left}, {self.bad} need a look"

    def _refresh_postfix(self) -> None:
        set_text(self.bar, f"[{self.postfix()}]")

    def close(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()
        if self.bar is not None:
            self._refresh_postfix()
            self.bar.close()
        self.bar = self.ticker = None

    def _say(self, line: str) -> None:
        self._write(self.err, line)

    @staticmethod
    def _write(stream: IO, line: str) -> None:
        click.echo(line, file=stream)  # colours only on a terminal
