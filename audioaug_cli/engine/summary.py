"""What a run reports: the counts it ends with (:class:`Summary`), and the :class:`Reporter` it
tells about each outcome as it happens. The engine prints nothing; the CLI's progress bar is a
Reporter."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from audioaug_cli.engine.estimate import PlannedSize
from audioaug_cli.engine.tasks import Finished
from audioaug_cli.errors import Interrupted, ItemError


@dataclass
class Summary:
    written: int = 0
    skipped: int = 0
    failed: int = 0  # input files with at least one failed item
    ignored: int = 0  # non-audio files, and files left out by --include/--exclude
    inputs: int = 0  # audio files found in INPUT_DIR
    seconds: float = 0.0
    audio_seconds: float = 0.0
    interrupted: bool = False
    signal: int | None = None  # the signal that interrupted the run (SIGINT, SIGTERM)
    stopped_early: bool = False  # --fail-fast
    disk_full: bool = False  # OUTPUT_DIR's filesystem filled up: the run stopped
    vanished: int = 0  # inputs gone from INPUT_DIR whose outputs are kept (see --prune)
    pruned: int = 0  # outputs removed by --prune
    clipped: int = 0  # outputs written this run whose format cut off samples beyond full scale
    unmatched_labels: list[str] = field(default_factory=list)  # --labels rows that name no input found
    unmatched_segments: list[str] = field(default_factory=list)  # files named by --segments rows but not found
    unmatched_segment_rows: int = 0  # the --segments rows naming them
    planned: list[str] = field(default_factory=list)  # --dry-run: what would be written, and what would fail
    planned_items: int = 0  # --dry-run: items that would be written
    planned_failures: int = 0  # --dry-run: items that would fail before being read (name clashes, names)
    planned_size: PlannedSize | None = None  # --dry-run: how much audio, and how many bytes

    @property
    def exit_code(self) -> int:
        """The command's: 128 + the signal when interrupted, 1 when inputs failed, else 0."""
        if self.interrupted:
            return Interrupted(self.signal or signal.SIGINT).exit_code
        return ItemError.exit_code if self.failed else 0

    def to_dict(self) -> dict[str, Any]:
        """What --summary-json writes."""
        found = {
            "exit_code": self.exit_code,
            "written": self.written,
            "skipped": self.skipped,
            "failed": self.failed,
            "ignored": self.ignored,
            "seconds": round(self.seconds, 3),
            "audio_seconds": round(self.audio_seconds, 3),
            "interrupted": self.interrupted,
            "stopped_early": self.stopped_early,
            "vanished": self.vanished,
            "pruned": self.pruned,
            "unmatched_labels": len(self.unmatched_labels),
            "unmatched_segments": self.unmatched_segment_rows,
            "clipped": self.clipped,
        }
        if self.planned_size is not None:
            found["planned"] = self.planned_items
            found["planned_failures"] = self.planned_failures
            found["planned_audio_seconds"] = round(self.planned_size.seconds, 3)
            found["planned_bytes"] = self.planned_size.bytes
        return found

    def line(self) -> str:
        rate = self.audio_seconds / self.seconds if self.seconds > 0 else 0.0
        head = "interrupted" if self.interrupted else "done"
        return (
            f"{head}: {self.written} written{f' ({self.clipped} clipped)' if self.clipped else ''}, "
            f"{self.skipped} skipped (already done), {self.failed} failed, "
            f"{self.ignored} ignored in {self.seconds:.1f}s ({rate:.1f} audio-s/s)"
        )


class Reporter(Protocol):
    needs_total: bool  # whether start() wants the item count (one more walk of INPUT_DIR)

    def start(self, total: int | None) -> None: ...
    def advance(self, done: Finished) -> None: ...  # a unit of work's results
    def left_out(self, rel: str, reason: str) -> None: ...  # an entry of INPUT_DIR the walk did not take
    def notice(self, message: str) -> None: ...  # something the user should know before the work starts


class Silent:
    """The Reporter of a run nobody watches."""

    needs_total = False

    def start(self, total: int | None) -> None:
        pass

    def advance(self, done: Finished) -> None:
        pass

    def left_out(self, rel: str, reason: str) -> None:
        pass

    def notice(self, message: str) -> None:
        pass


@contextmanager
def sigterm_as_interrupt(summary: Summary) -> Iterator[None]:
    """SIGTERM (a CI cancel, a scheduler's stop) ends the run as Ctrl-C does: finished work kept."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, _frame: Any) -> None:
        summary.signal = signum
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
