"""A tiny progress interface so library code can report long work without knowing the UI."""

from __future__ import annotations


class Reporter:
    """Does nothing; the CLI passes a subclass that draws progress bars and notes."""

    def start(self, description: str, total: int) -> None:
        """A stage of ``total`` steps begins."""

    def advance(self, n: int = 1) -> None:
        """``n`` more steps of the current stage are done."""

    def finish(self) -> None:
        """The current stage is done."""

    def note(self, message: str) -> None:
        """Something the user should know (a skipped file, a rebuild and why)."""


SILENT = Reporter()
