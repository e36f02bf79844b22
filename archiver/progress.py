"""Progress for long work: a rich bar on a terminal, plain lines otherwise.

Messages name URLs and outcomes from outside: printed without control characters, and
the bar's column (which reads Rich markup) gets them escaped.
"""

from __future__ import annotations

import threading

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from archiver.terminal import markup, one_line


class PlainProgress:
    """One line per finished item, for logs and pipes."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.total = 0
        self.done = 0
        self.label = ""
        self._lock = threading.Lock()

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0

    def grow(self, extra: int) -> None:
        self.total += extra

    def advance(self, message: str) -> None:
        with self._lock:
            self.done += 1
            self.console.print(
                f"[{self.done}/{self.total}] {one_line(message)}", markup=False, highlight=False
            )

    def stop(self) -> None:
        pass


class BarProgress(PlainProgress):
    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[last]}"),
            console=console,
            transient=False,
        )
        self._task = None

    def start(self, label: str, total: int) -> None:
        super().start(label, total)
        self._bar.start()
        self._task = self._bar.add_task(label, total=total, last="")

    def grow(self, extra: int) -> None:
        super().grow(extra)
        self._bar.update(self._task, total=self.total)

    def advance(self, message: str) -> None:
        with self._lock:
            self.done += 1
        # the column renders markup: a "[link=…]" in a title must print as text
        self._bar.update(self._task, advance=1, last=markup(one_line(message)[:70]))

    def stop(self) -> None:
        self._bar.stop()


class NoProgress(PlainProgress):
    def __init__(self) -> None:
        super().__init__(Console(quiet=True))

    def advance(self, message: str) -> None:
        self.done += 1


def make_progress(console: Console) -> PlainProgress:
    return BarProgress(console) if console.is_terminal else PlainProgress(console)
