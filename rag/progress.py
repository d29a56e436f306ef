"""A small progress interface, so library code reports long work without knowing the UI.

Library code opens a task (``with reporter.task("Embedding chunks", n) as t: t.advance()``)
and writes notes. The CLI's reporter draws bars on a terminal; in a pipe or a log it
prints plain lines (:class:`LineProgress`), so long work is never silent there either.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Task:
    """One stage of ``total`` steps. The base class does nothing."""

    def advance(self, n: int = 1) -> None:
        """``n`` more steps are done."""

    def finish(self) -> None:
        """The stage is over (called once, also when it failed)."""

    def __enter__(self) -> Task:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()


class Reporter:
    """Does nothing; the CLI passes a subclass that shows tasks and notes."""

    def task(self, description: str, total: int, unit: str = "") -> Task:
        """A stage of ``total`` steps (in ``unit``, if not items) begins."""
        return Task()

    def note(self, message: str) -> None:
        """Something the user should know (a skipped file, a rebuild and why)."""


SILENT = Reporter()


def format_duration(seconds: float) -> str:
    """3 s, 4 min 05 s, 1 h 02 min."""
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class LineProgress(Task):
    """Progress as plain lines: when it starts, every ``every`` seconds, and when it ends.

    ``Embedding chunks: 1,280/37,310 (3%), 52.1/s, ETA 11 min 31 s``
    """

    def __init__(self, write: Callable[[str], None], description: str, total: int,
                 unit: str = "", every: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.write, self.description, self.total = write, description, max(0, total)
        self.unit = f" {unit}" if unit else ""
        self.every, self.clock = every, clock
        self.done = 0
        self.started = self.last = clock()
        self.finished = False
        write(f"{description}: 0/{self.total:,}{self.unit} …")

    def line(self) -> str:
        elapsed = self.clock() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        text = f"{self.description}: {self.done:,}/{self.total:,}{self.unit}{pct}"
        if self.finished:
            return f"{text}, done in {format_duration(elapsed)}"
        text += f", {rate:.1f}{self.unit}/s"
        if rate > 0 and self.total:
            text += f", ETA {format_duration((self.total - self.done) / rate)}"
        return text

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            self.write(self.line())

    def finish(self) -> None:
        if not self.finished:
            self.finished = True
            self.write(self.line())
