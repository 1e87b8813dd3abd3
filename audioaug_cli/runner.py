"""The run: plans items (input file x copy), hands them to the workers, records what finishes,
resumes, and keeps OUTPUT_DIR consistent however the run ends.

No printing here: progress goes through a :class:`Reporter` that the caller passes in.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .audio_io import remove_temporaries
from .config import ClassCopies, Config, load_config
from .errors import DiskFullError, UsageError, is_disk_full, suggest
from .inputs import Source, WalkCounts, walk_inputs
from .items import Outcome, Task, item_files
from .manifest import Labels, write_errors, write_manifest
from .outputs import ERRORS, refuse_foreign_files, remove_outputs, remove_previous_run
from .plan import PlannedSize, is_upper_bound, planned_size
from .provenance import PROVENANCE, Provenance, check_resumable
from .state import OutputLock, RunState
from .workers import execute, worker_count


@dataclass(frozen=True)
class RunOptions:
    jobs: int | None = None  # None: the usable CPUs
    seed: int | None = None  # overrides the config's
    copies: int | None = None  # overrides the config's
    overwrite: bool = False
    fail_fast: bool = False
    dry_run: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    labels: Path | None = None
    include_original: bool = False  # also write each source, converted, as copy 0
    prune: bool = False  # remove outputs of inputs that no longer exist
    backend: str = "loky"  # or "dask"
    scheduler: str | None = None  # dask: an existing scheduler's address; None starts a LocalCluster


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
    unmatched_labels: list[str] = field(default_factory=list)  # --labels rows that name no input found
    planned: list[str] = field(default_factory=list)  # --dry-run: what would be written, and what would fail
    planned_items: int = 0  # --dry-run: items that would be written
    planned_failures: int = 0  # --dry-run: items that would fail before being read (name clashes, names)
    planned_size: PlannedSize | None = None  # --dry-run: how much audio, and how many bytes

    @property
    def exit_code(self) -> int:
        """The command's: 128 + the signal when interrupted, 1 when inputs failed, else 0."""
        if self.interrupted:
            return 128 + (self.signal or signal.SIGINT)
        return 1 if self.failed else 0

    def to_dict(self) -> dict[str, Any]:
        """What --summary-json writes."""
        found = {"exit_code": self.exit_code, "written": self.written, "skipped": self.skipped,
                 "failed": self.failed, "ignored": self.ignored, "seconds": round(self.seconds, 3),
                 "audio_seconds": round(self.audio_seconds, 3), "interrupted": self.interrupted,
                 "stopped_early": self.stopped_early, "vanished": self.vanished, "pruned": self.pruned,
                 "unmatched_labels": len(self.unmatched_labels)}
        if self.planned_size is not None:
            found["planned"] = self.planned_items
            found["planned_failures"] = self.planned_failures
            found["planned_audio_seconds"] = round(self.planned_size.seconds, 3)
            found["planned_bytes"] = self.planned_size.bytes
        return found

    def line(self) -> str:
        rate = self.audio_seconds / self.seconds if self.seconds > 0 else 0.0
        head = "interrupted" if self.interrupted else "done"
        return (f"{head}: {self.written} written, {self.skipped} skipped (already done), {self.failed} failed, "
                f"{self.ignored} ignored in {self.seconds:.1f}s ({rate:.1f} audio-s/s)")


class Reporter(Protocol):
    needs_total: bool  # whether start() wants the item count (one more walk of INPUT_DIR)

    def start(self, total: int | None) -> None: ...
    def advance(self, outcome: Outcome) -> None: ...
    def left_out(self, rel: str, reason: str) -> None: ...  # an entry of INPUT_DIR the walk did not take
    def notice(self, message: str) -> None: ...  # something the user should know before the work starts


class _Silent:
    needs_total = False

    def start(self, total: int | None) -> None:
        pass

    def advance(self, outcome: Outcome) -> None:
        pass

    def left_out(self, rel: str, reason: str) -> None:
        pass

    def notice(self, message: str) -> None:
        pass


def run(config: Config | str | Path, input_dir: str | Path, output_dir: str | Path,
        options: RunOptions = RunOptions(), reporter: Reporter | None = None) -> Summary:
    """Augment every audio file under input_dir into output_dir. See SPEC for the guarantees.

    ``config`` is a loaded Config or a config file's path.
    """
    started = time.monotonic()
    input_dir, output_dir = Path(input_dir).absolute(), Path(output_dir).absolute()  # workers may run elsewhere
    reporter = reporter or _Silent()
    if not isinstance(config, Config):
        config = load_config(config)
    config = config.with_overrides(options.seed, options.copies, options.include_original or None)
    _check_dirs(input_dir, output_dir)
    labels = Labels.read(options.labels) if options.labels else Labels()
    _check_class_copies(config, labels, options.labels)
    if not (options.overwrite and not options.dry_run):
        check_resumable(config, output_dir)
    refuse_foreign_files(output_dir, config.manifest, lambda: _planned_files(config, input_dir, output_dir, options,
                                                                             labels))
    if options.dry_run:
        return _dry_run(config, input_dir, output_dir, options, labels, reporter, started)
    from .registry import NUMBA_NOTICE, compiles_librosa_code, numba_cache_empty

    if compiles_librosa_code(config.pipeline, config.spectrogram is not None) and numba_cache_empty():
        reporter.notice(NUMBA_NOTICE.format(what="this config uses"))
    with ExitStack() as stack:
        cluster = None
        if options.backend == "dask":  # connect before writing anything: a bad address is a usage error
            from .cluster import dask_backend

            cluster = stack.enter_context(dask_backend(options.scheduler, worker_count(options.jobs)))
        lock = OutputLock(output_dir)
        _acquire(lock, output_dir)  # before anything in OUTPUT_DIR changes
        stack.callback(lock.release)
        summary = _run(config, input_dir, output_dir, options, reporter, labels, cluster)
    summary.seconds = time.monotonic() - started
    return summary


def _acquire(lock: OutputLock, output_dir: Path) -> None:
    """The lock is the first thing a run writes: a folder it cannot write is a usage error (exit 2)."""
    try:
        lock.acquire()
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(f"no space left on the filesystem of OUTPUT_DIR {output_dir}: nothing was done; "
                                "free some space and rerun") from None
        raise UsageError(f"cannot write to OUTPUT_DIR {output_dir}: {exc.strerror or exc}; nothing was written") \
            from None


def _run(config: Config, input_dir: Path, output_dir: Path, options: RunOptions, reporter: Reporter,
         labels: Labels, cluster: Any) -> Summary:
    if options.overwrite:
        remove_previous_run(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    remove_temporaries(output_dir)
    state = RunState(output_dir)
    summary = Summary()
    try:
        _augment_all(config, input_dir, output_dir, options, labels, reporter, cluster, state, summary)
        # What a worker stopped mid-write left: by a signal, --fail-fast or a full disk, or killed
        # (the OOM killer) while the run went on. No worker is left running by now.
        remove_temporaries(output_dir)
        if not (summary.interrupted or summary.stopped_early or summary.disk_full):
            _handle_vanished(state, input_dir, output_dir, options.prune, summary)
        if summary.disk_full:
            state.free_reserve()  # room for the records below
        try:
            _finish(config, input_dir, output_dir, state, labels,
                    "interrupted" if summary.interrupted or summary.disk_full else "complete")
        except (OSError, sqlite3.Error) as exc:
            if not is_disk_full(exc):
                raise
            _raise_disk_full(output_dir, summary, recorded=False)
    finally:
        state.close()
    if summary.disk_full:
        _raise_disk_full(output_dir, summary, recorded=True)
    return summary


def _augment_all(config: Config, input_dir: Path, output_dir: Path, options: RunOptions, labels: Labels,
                 reporter: Reporter, cluster: Any, state: RunState, summary: Summary) -> None:
    """Hand the pending items to the workers and record each outcome as it arrives."""
    claimed = False  # audioaug.json says "running" from the first change to OUTPUT_DIR on
    if not (output_dir / PROVENANCE).exists():
        Provenance.of(config, "running", state.counts(), input_dir).write(output_dir)  # claims it
        claimed = True
    reporter.start(_count_todo(config, input_dir, output_dir, options, labels, state) if reporter.needs_total else None)
    counts = WalkCounts(report=reporter.left_out)
    tasks = _plan(config, input_dir, output_dir, options, labels, state, summary, counts)
    failed_sources: set[str] = set()
    try:
        # closing(): stopping early ends the workers (they are killed) before what follows
        results = execute(config, tasks, output_dir, options.jobs, cluster)
        with _sigterm_as_interrupt(summary), closing(results):
            for outcomes in results:
                if not claimed:  # a finished rerun never gets here, so it writes nothing
                    Provenance.of(config, "running", state.counts(), input_dir).write(output_dir)
                    claimed = True
                for outcome in outcomes:
                    if outcome.disk_full:
                        summary.disk_full = True
                        continue
                    _record(outcome, state, output_dir, summary, failed_sources)
                    reporter.advance(outcome)
                if summary.disk_full or (options.fail_fast and failed_sources):
                    summary.stopped_early = options.fail_fast and bool(failed_sources)
                    break
    except KeyboardInterrupt:
        summary.interrupted = True
        summary.signal = summary.signal or signal.SIGINT
    except sqlite3.OperationalError as exc:  # the resume state's own writes found the disk full
        if not is_disk_full(exc):
            raise
        summary.disk_full = True
    summary.ignored, summary.inputs = counts.ignored, counts.audio
    summary.failed = len(failed_sources)


def _finish(config: Config, input_dir: Path, output_dir: Path, state: RunState, labels: Labels, status: str) -> None:
    """Make what finished survive, then write the files that describe it: manifest, errors, provenance."""
    state.commit()
    write_manifest(output_dir / config.manifest, state.rows(), labels, config.manifest_columns)
    write_errors(output_dir / ERRORS, state.errors())
    Provenance.of(config, status, state.counts(), input_dir).write(output_dir)


def _raise_disk_full(output_dir: Path, summary: Summary, recorded: bool) -> None:
    kept = f"{summary.written} file(s) written by this run are kept"
    if recorded:
        kept += " and recorded"
    else:
        kept += ", but the manifest could not be updated (a rerun writes it)"
    raise DiskFullError(f"no space left on the filesystem of OUTPUT_DIR {output_dir}: {kept}; "
                        "free some space and rerun the same command to do the rest")


@contextmanager
def _sigterm_as_interrupt(summary: Summary) -> Iterator[None]:
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


def _handle_vanished(state: RunState, input_dir: Path, output_dir: Path, prune: bool, summary: Summary) -> None:
    """Inputs that are gone: their failures are forgotten; their outputs kept, or pruned."""
    for source in state.unseen_sources():
        if os.path.lexists(input_dir / source):
            continue  # left out by --include/--exclude this time, not gone
        names = state.forget_source(source, keep_outputs=not prune)
        if prune:
            remove_outputs(output_dir, names)
            summary.pruned += len(names)
        elif names:
            summary.vanished += 1


def _check_dirs(input_dir: Path, output_dir: Path) -> None:
    if not input_dir.is_dir():
        raise UsageError(f"INPUT_DIR {input_dir} is not a folder")
    inp, out = input_dir.resolve(), output_dir.resolve()
    if inp == out:
        raise UsageError("OUTPUT_DIR must differ from INPUT_DIR: the run never writes into its input")
    if inp.is_relative_to(out):
        raise UsageError(f"INPUT_DIR {input_dir} lies inside OUTPUT_DIR {output_dir}; choose another OUTPUT_DIR")
    if output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"OUTPUT_DIR {output_dir} exists and is not a folder")


def _check_class_copies(config: Config, labels: Labels, labels_path: Path | None) -> None:
    """copies by a label column needs --labels with that column: said before anything is written."""
    if not isinstance(config.copies, ClassCopies) or config.copies.by in labels.columns:
        return
    if labels_path is None:
        raise UsageError(f"the config's copies are by the label column {config.copies.by!r}: give --labels CSV")
    raise UsageError(f"{labels_path}: no column {config.copies.by!r}, which the config's copies are by; found "
                     f"columns: {', '.join(labels.columns) or 'none'}{suggest(config.copies.by, labels.columns)}")


def _copies_of(config: Config, source: Source, labels: Labels) -> tuple[int, ...]:
    label = labels.value(source.rel, config.copies.by) if isinstance(config.copies, ClassCopies) else None
    return config.copy_numbers(label)


def _pending(config: Config, source: Source, output_dir: Path, state: RunState, labels: Labels) -> tuple[int, ...]:
    """The copies of a source that are not done yet."""
    return tuple(c for c in _copies_of(config, source, labels)
                 if not state.is_done(source.rel, c, source.fingerprint, output_dir))


def _count_todo(config: Config, input_dir: Path, output_dir: Path, options: RunOptions, labels: Labels,
                state: RunState) -> int:
    sources = walk_inputs(input_dir, output_dir, options.include, options.exclude)
    return sum(len(_pending(config, s, output_dir, state, labels)) for s in sources)


def _plan(config: Config, input_dir: Path, output_dir: Path, options: RunOptions, labels: Labels, state: RunState,
          summary: Summary, counts: WalkCounts) -> Iterator[Task]:
    """Stream the tasks still to do; count the items already done as skipped, and the label rows
    that name no input found."""
    labelled: set[str] = set()
    for source in walk_inputs(input_dir, output_dir, options.include, options.exclude, counts):
        state.mark_seen(source.rel)
        if source.rel in labels.values:
            labelled.add(source.rel)
        pending = _pending(config, source, output_dir, state, labels)
        summary.skipped += len(_copies_of(config, source, labels)) - len(pending)
        if pending:
            yield Task(source, pending)
    if not (options.include or options.exclude):  # a row left out by a glob is not a mistake
        summary.unmatched_labels = sorted(set(labels.values) - labelled)


def _planned_files(config: Config, input_dir: Path, output_dir: Path, options: RunOptions, labels: Labels
                   ) -> Iterator[str]:
    """Every file this run could write for the inputs found (what --overwrite or a resume might redo)."""
    for source in walk_inputs(input_dir, output_dir, options.include, options.exclude):
        for copy in _copies_of(config, source, labels):
            yield from item_files(config, source.rel, copy)


def _record(outcome: Outcome, state: RunState, output_dir: Path, summary: Summary, failed: set[str]) -> None:
    if outcome.row is not None:
        state.record_output(outcome.row, outcome.fingerprint)
        summary.written += 1
        summary.audio_seconds += outcome.audio_seconds
    else:
        for stale in state.record_failure(outcome.source, outcome.copy, outcome.fingerprint, outcome.error or "failed"):
            (output_dir / stale).unlink(missing_ok=True)
        failed.add(outcome.source)


def _dry_run(config: Config, input_dir: Path, output_dir: Path, options: RunOptions, labels: Labels,
             reporter: Reporter, started: float) -> Summary:
    """What a run would do, as the run plans it: the items it would write (with the audio and
    bytes they add up to) and those that would fail before being read."""
    summary = Summary()
    summary.planned_size = size = PlannedSize(upper_bound=is_upper_bound(config))
    state = RunState(output_dir, readonly=True)
    counts = WalkCounts(report=reporter.left_out)
    try:
        for task in _plan(config, input_dir, output_dir, options, labels, state, summary, counts):
            source = task.source
            if source.problem is not None:
                summary.planned.append(f"{source.rel} -> fails: {source.problem}")
                summary.planned_failures += len(task.copies)
                continue
            summary.planned.extend(f"{source.rel} -> {' '.join(item_files(config, source.rel, c))}"
                                   for c in task.copies)
            summary.planned_items += len(task.copies)
            size.add(planned_size(config, source.path), len(task.copies))
    finally:
        state.close()
    summary.ignored, summary.inputs = counts.ignored, counts.audio
    summary.seconds = time.monotonic() - started
    return summary
