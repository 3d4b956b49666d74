"""Progress of an import's stages: nothing by default, a rich bar with rows/s on a terminal."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


class Stages:
    """No output: the stages of a run in tests, scripts and pipes."""

    def stage(self, name: str, total: int | None) -> Callable[[int], None]:
        return lambda n: None

    def close(self) -> None:
        pass


class TerminalStages(Stages):
    """One bar per stage (reading, validating, copying, storing) with rows per second."""

    def __init__(self, console: Console):
        # Imported here: rich.progress costs 0.1 s of start-up that a run into a pipe never uses.
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bars = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<11}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.bars.start()

    def stage(self, name: str, total: int | None) -> Callable[[int], None]:
        task = self.bars.add_task(name, total=total, rate="")

        def advance(n: int) -> None:
            if total is None:  # a stage of unknown length reports once, when it is done
                self.bars.update(task, completed=n, total=n)
                return
            self.bars.advance(task, n)
            speed = self.bars.tasks[task].speed
            self.bars.update(task, rate=f"{speed:,.0f} rows/s" if speed else "")

        return advance

    def close(self) -> None:
        self.bars.stop()
