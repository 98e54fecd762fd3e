"""Progress shown to a person while long stages run (on stderr, so stdout stays machine-readable)."""

from __future__ import annotations

import contextlib
import time
from typing import Callable, Iterator


class Progress:
    """Stage messages and progress bars; ``quiet=True`` silences both (library use, tests)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._console = None
        if not quiet:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False)

    @contextlib.contextmanager
    def writing_to(self, stream) -> Iterator[None]:  # noqa: ANN001
        """Print to ``stream`` meanwhile (the terminal's stderr while fd 2 goes to a log file)."""
        if self._console is None or stream is None:
            yield
            return
        saved = self._console.file
        self._console.file = stream
        try:
            yield
        finally:
            self._console.file = saved

    def note(self, message: str) -> None:
        if self._console:
            self._console.print(message)

    @contextlib.contextmanager
    def stage(self, title: str) -> Iterator[None]:
        start = time.perf_counter()
        self.note(f"[bold]{title}[/bold] ...")
        yield
        self.note(f"  done in {time.perf_counter() - start:.1f} s")

    @contextlib.contextmanager
    def bar(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        if not self._console:
            yield lambda n: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        with RichProgress("  " + description, BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=self._console, transient=False) as progress:
            task = progress.add_task(description, total=total)
            yield lambda n: progress.advance(task, n)
