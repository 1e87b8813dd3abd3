"""The progress bar on stderr: items, audio-seconds per second, ETA."""

from __future__ import annotations

import sys
from typing import Any

from audioaug_cli.engine.tasks import Finished
from audioaug_cli.errors import scrubbed


class ProgressBar:
    """A tqdm bar fed by the runner; with ``enabled=False`` it draws nothing (a null bar).

    Each distinct warning from the transforms is printed once, naming the first input that
    raised it (not with ``quiet``).
    """

    def __init__(self, enabled: bool, verbose: bool = False, quiet: bool = False):
        self.enabled = enabled
        self.needs_total = enabled
        self.verbose = verbose
        self.quiet = quiet
        self.bar: Any = None
        self.audio_seconds = 0.0
        self.warned: set[str] = set()

    def start(self, total: int | None) -> None:
        if self.enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="item", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)

    def advance(self, done: Finished) -> None:
        self.audio_seconds += done.audio_seconds
        if self.verbose:
            for source, copy, _fingerprint, error in done.failed:
                self.write(f"failed: {source} (copy {copy}): {error}", one_line=True)
        for source, message in done.warnings:
            if message not in self.warned and not self.quiet:
                self.warned.add(message)
                self.write(f"warning: {source}: {message}", one_line=True)
        if self.bar is not None:
            elapsed = self.bar.format_dict["elapsed"] or 1e-9
            self.bar.set_postfix_str(f"{self.audio_seconds / elapsed:.1f} audio-s/s", refresh=False)
            self.bar.update(done.items)

    def left_out(self, rel: str, reason: str) -> None:
        """An entry of INPUT_DIR the walk did not take: named with ``verbose``."""
        if self.verbose:
            self.write(f"ignored: {rel}: {reason}", one_line=True)

    def notice(self, message: str) -> None:
        if not self.quiet:
            self.write(message)

    def write(self, message: str, one_line: bool = False) -> None:
        """A message on stderr, as every message leaves the program (:func:`scrubbed`); ``one_line``
        for a line about one input, whose name may hold a newline."""
        message = scrubbed(message, one_line)
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
