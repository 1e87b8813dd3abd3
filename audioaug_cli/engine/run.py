"""The batch run: plans items (input file x copy), hands them to the workers, records what finishes,
resumes, and keeps OUTPUT_DIR consistent however the run ends.

:func:`run` is the library's entry; a :class:`Run` holds what one run works with (the config, the
two folders, the options, the labels, the resume state and the summary), so that its steps are
methods, not functions passing the same bundle along. Nothing here prints: progress goes through
the :class:`~audioaug_cli.engine.summary.Reporter` the caller passes in.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from audioaug_cli.config.load import load_config
from audioaug_cli.config.model import ClassCopies, Config
from audioaug_cli.engine.item import Outcome, Task, item_files
from audioaug_cli.engine.outputs import ERRORS, refuse_foreign_files, remove_outputs, remove_previous_run
from audioaug_cli.engine.plan import PlannedSize, is_upper_bound, planned_size
from audioaug_cli.engine.provenance import PROVENANCE, Provenance, check_resumable
from audioaug_cli.engine.state import OutputLock, RunState
from audioaug_cli.engine.summary import Reporter, Silent, Summary
from audioaug_cli.engine.workers import execute, worker_count
from audioaug_cli.errors import ConfigError, DiskFullError, UsageError, is_disk_full, suggest
from audioaug_cli.io.atomic import remove_temporaries
from audioaug_cli.io.inputs import Source, WalkCounts, walk_inputs
from audioaug_cli.io.manifest import COLUMNS, FEATURE_COLUMNS, Labels, write_errors, write_manifest
from audioaug_cli.io.segments import SEGMENTS, Segments, write_segments

__all__ = ["Reporter", "Run", "RunOptions", "Summary", "run"]


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
    segments: Path | None = None  # a table of time-aligned segments, mapped into every output
    include_original: bool = False  # also write each source, converted, as copy 0
    prune: bool = False  # remove outputs of inputs that no longer exist
    backend: str = "loky"  # or "dask"
    scheduler: str | None = None  # dask: an existing scheduler's address; None starts a LocalCluster


def run(
    config: Config | str | Path,
    input_dir: str | Path,
    output_dir: str | Path,
    options: RunOptions = RunOptions(),
    reporter: Reporter | None = None,
) -> Summary:
    """Augment every audio file under input_dir into output_dir. See SPEC for the guarantees.

    ``config`` is a loaded Config or a config file's path.
    """
    started = time.monotonic()
    if not isinstance(config, Config):
        config = load_config(config)
    batch = Run(config, input_dir, output_dir, options, reporter or Silent())
    summary = batch.dry_run() if options.dry_run else batch.execute()
    summary.seconds = time.monotonic() - started
    return summary


class Run:
    """One run of a config over INPUT_DIR into OUTPUT_DIR. Checks what can be checked before
    anything is written when made; :meth:`execute` or :meth:`dry_run` then does the work once."""

    def __init__(
        self, config: Config, input_dir: str | Path, output_dir: str | Path, options: RunOptions, reporter: Reporter
    ):
        self.input_dir = Path(input_dir).absolute()  # workers may run elsewhere
        self.output_dir = Path(output_dir).absolute()
        self.options, self.reporter = options, reporter
        self.config = config.with_overrides(options.seed, options.copies, options.include_original or None)
        self.summary = Summary()
        self.state: RunState | None = None
        self._check_dirs()
        self.labels = Labels.read(options.labels) if options.labels else Labels()
        self._check_class_copies()
        self.segments = self._read_segments(options.segments) if options.segments else None
        if not (options.overwrite and not options.dry_run):
            check_resumable(self.config, self.output_dir)
        refuse_foreign_files(self.output_dir, self.config.manifest, self._planned_files, self.segments is not None)

    # -- the run -------------------------------------------------------------------------------
    def execute(self) -> Summary:
        from audioaug_cli.transforms.registry import NUMBA_NOTICE, compiles_librosa_code, numba_cache_empty

        if compiles_librosa_code(self.config.pipeline, self.config.spectrogram is not None) and numba_cache_empty():
            self.reporter.notice(NUMBA_NOTICE.format(what="this config uses"))
        with ExitStack() as stack:
            cluster = None
            if self.options.backend == "dask":  # connect before writing anything: a bad address is a usage error
                from audioaug_cli.engine.cluster import dask_backend

                cluster = stack.enter_context(dask_backend(self.options.scheduler, worker_count(self.options.jobs)))
            lock = OutputLock(self.output_dir)
            self._acquire(lock)  # before anything in OUTPUT_DIR changes
            stack.callback(lock.release)
            self._run_locked(cluster)
        return self.summary

    def _acquire(self, lock: OutputLock) -> None:
        """The lock is the first thing a run writes: a folder it cannot write is a usage error (exit 2)."""
        try:
            lock.acquire()
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFullError(
                    f"no space left on the filesystem of OUTPUT_DIR {self.output_dir}: nothing was "
                    "done; free some space and rerun"
                ) from None
            raise UsageError(
                f"cannot write to OUTPUT_DIR {self.output_dir}: {exc.strerror or exc}; nothing was written"
            ) from None

    def _run_locked(self, cluster: Any) -> None:
        summary, output_dir = self.summary, self.output_dir
        if self.options.overwrite:
            remove_previous_run(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        remove_temporaries(output_dir)
        self.state = state = RunState(output_dir)
        try:
            self._augment_all(state, cluster)
            # What a worker stopped mid-write left: by a signal, --fail-fast or a full disk, or killed
            # (the OOM killer) while the run went on. No worker is left running by now.
            remove_temporaries(output_dir)
            if not (summary.interrupted or summary.stopped_early or summary.disk_full):
                self._handle_vanished(state)
            if summary.disk_full:
                state.free_reserve()  # room for the records below
            try:
                self._finish(state, "interrupted" if summary.interrupted or summary.disk_full else "complete")
            except (OSError, sqlite3.Error) as exc:
                if not is_disk_full(exc):
                    raise
                self._raise_disk_full(recorded=False)
        finally:
            state.close()
        if summary.disk_full:
            self._raise_disk_full(recorded=True)

    def _augment_all(self, state: RunState, cluster: Any) -> None:
        """Hand the pending items to the workers and record each outcome as it arrives."""
        config, summary, output_dir, reporter = self.config, self.summary, self.output_dir, self.reporter
        claimed = False  # audioaug.json says "running" from the first change to OUTPUT_DIR on
        if not (output_dir / PROVENANCE).exists():
            Provenance.of(config, "running", state.counts(), self.input_dir).write(output_dir)  # claims it
            claimed = True
        reporter.start(self._count_todo(state) if reporter.needs_total else None)
        counts = WalkCounts(report=reporter.left_out)
        failed_sources: set[str] = set()
        try:
            # closing(): stopping early ends the workers (they are killed) before what follows
            results = execute(config, self.plan(state, counts), output_dir, self.options.jobs, cluster)
            with _sigterm_as_interrupt(summary), closing(results):
                for outcomes in results:
                    if not claimed:  # a finished rerun never gets here, so it writes nothing
                        Provenance.of(config, "running", state.counts(), self.input_dir).write(output_dir)
                        claimed = True
                    for outcome in outcomes:
                        if outcome.disk_full:
                            summary.disk_full = True
                            continue
                        self._record(state, outcome, failed_sources)
                        reporter.advance(outcome)
                    if summary.disk_full or (self.options.fail_fast and failed_sources):
                        summary.stopped_early = self.options.fail_fast and bool(failed_sources)
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

    def _record(self, state: RunState, outcome: Outcome, failed: set[str]) -> None:
        if outcome.row is not None:
            state.record_output(outcome.row, outcome.fingerprint)
            self.summary.written += 1
            self.summary.audio_seconds += outcome.audio_seconds
            self.summary.clipped += bool(outcome.row.clipped)
        else:
            stale = state.record_failure(outcome.source, outcome.copy, outcome.fingerprint, outcome.error or "failed")
            for name in stale:
                (self.output_dir / name).unlink(missing_ok=True)
            failed.add(outcome.source)

    def _finish(self, state: RunState, status: str) -> None:
        """Make what finished survive, then write the files that describe it: manifest, errors, provenance."""
        config, output_dir = self.config, self.output_dir
        state.commit()
        write_manifest(
            output_dir / config.manifest,
            state.rows(),
            self.labels,
            COLUMNS if config.spectrogram is None else FEATURE_COLUMNS,
        )
        write_errors(output_dir / ERRORS, state.errors())
        if self.segments is not None:
            cells = self.segments.cells
            write_segments(
                output_dir / SEGMENTS,
                self.segments.columns,
                (
                    (row.file_name, start, end, cells[row.source][index] if row.source in cells else ())
                    for row in state.rows()
                    for start, end, index in row.segments or ()
                ),
            )
        Provenance.of(config, status, state.counts(), self.input_dir).write(output_dir)

    def _raise_disk_full(self, recorded: bool) -> None:
        kept = f"{self.summary.written} file(s) written by this run are kept"
        if recorded:
            kept += " and recorded"
        else:
            kept += ", but the manifest could not be updated (a rerun writes it)"
        raise DiskFullError(
            f"no space left on the filesystem of OUTPUT_DIR {self.output_dir}: {kept}; "
            "free some space and rerun the same command to do the rest"
        )

    def _handle_vanished(self, state: RunState) -> None:
        """Inputs that are gone: their failures are forgotten; their outputs kept, or pruned."""
        prune = self.options.prune
        for source in state.unseen_sources():
            if os.path.lexists(self.input_dir / source):
                continue  # left out by --include/--exclude this time, not gone
            names = state.forget_source(source, keep_outputs=not prune)
            if prune:
                remove_outputs(self.output_dir, names)
                self.summary.pruned += len(names)
            elif names:
                self.summary.vanished += 1

    # -- what to do ----------------------------------------------------------------------------
    def _sources(self, counts: WalkCounts | None = None) -> Iterator[Source]:
        return walk_inputs(self.input_dir, self.output_dir, self.options.include, self.options.exclude, counts)

    def copies_of(self, source: Source) -> tuple[int, ...]:
        copies = self.config.copies
        label = self.labels.value(source.rel, copies.by) if isinstance(copies, ClassCopies) else None
        return self.config.copy_numbers(label)

    def _pending(self, source: Source, state: RunState) -> tuple[int, ...]:
        """The copies of a source that are not done yet."""
        return tuple(
            c for c in self.copies_of(source) if not state.is_done(source.rel, c, source.fingerprint, self.output_dir)
        )

    def _count_todo(self, state: RunState) -> int:
        return sum(len(self._pending(s, state)) for s in self._sources())

    def plan(self, state: RunState, counts: WalkCounts) -> Iterator[Task]:
        """Stream the tasks still to do; count the items already done as skipped, and the label rows
        that name no input found."""
        labelled: set[str] = set()
        for source in self._sources(counts):
            state.mark_seen(source.rel)
            if source.rel in self.labels.values:
                labelled.add(source.rel)
            pending = self._pending(source, state)
            self.summary.skipped += len(self.copies_of(source)) - len(pending)
            if pending:
                times = tuple(self.segments.times.get(source.rel, ())) if self.segments is not None else None
                yield Task(source, pending, times)
        if not (self.options.include or self.options.exclude):  # a row left out by a glob is not a mistake
            self.summary.unmatched_labels = sorted(set(self.labels.values) - labelled)

    def _planned_files(self) -> Iterator[str]:
        """Every file this run could write for the inputs found (what --overwrite or a resume might redo)."""
        for source in self._sources():
            for copy in self.copies_of(source):
                yield from item_files(self.config, source.rel, copy)

    def dry_run(self) -> Summary:
        """What a run would do, as the run plans it: the items it would write (with the audio and
        bytes they add up to) and those that would fail before being read."""
        summary = self.summary
        summary.planned_size = size = PlannedSize(upper_bound=is_upper_bound(self.config))
        state = RunState(self.output_dir, readonly=True)
        counts = WalkCounts(report=self.reporter.left_out)
        try:
            for task in self.plan(state, counts):
                source = task.source
                if source.problem is not None:
                    summary.planned.append(f"{source.rel} -> fails: {source.problem}")
                    summary.planned_failures += len(task.copies)
                    continue
                summary.planned.extend(
                    f"{source.rel} -> {' '.join(item_files(self.config, source.rel, c))}" for c in task.copies
                )
                summary.planned_items += len(task.copies)
                size.add(planned_size(self.config, source.path), len(task.copies))
        finally:
            state.close()
        summary.ignored, summary.inputs = counts.ignored, counts.audio
        return summary

    # -- checks before anything is written ------------------------------------------------------
    def _read_segments(self, path: Path) -> Segments:
        """The --segments table, checked against the pipeline and the inputs' durations; the run's
        config records its digest, so that a rerun with another table is refused as another config."""
        import soundfile

        from audioaug_cli.transforms.timing import time_problems

        problems = time_problems(self.config.pipeline)
        if problems:
            raise ConfigError("the config (with --segments)", problems)
        segments = Segments.read(path)
        durations = {}
        for name in segments.times:
            try:
                durations[name] = soundfile.info(str(self.input_dir / name)).duration
            except (OSError, RuntimeError, soundfile.LibsndfileError):
                continue  # not there (ignored, as a --labels row), or unreadable (that input fails alone)
        segments.check_durations(path, durations, self.config.sample_rate)
        self.config = replace(self.config, segments=segments.digest)
        return segments

    def _check_dirs(self) -> None:
        input_dir, output_dir = self.input_dir, self.output_dir
        if not input_dir.is_dir():
            raise UsageError(f"INPUT_DIR {input_dir} is not a folder")
        inp, out = input_dir.resolve(), output_dir.resolve()
        if inp == out:
            raise UsageError("OUTPUT_DIR must differ from INPUT_DIR: the run never writes into its input")
        if inp.is_relative_to(out):
            raise UsageError(f"INPUT_DIR {input_dir} lies inside OUTPUT_DIR {output_dir}; choose another OUTPUT_DIR")
        if output_dir.exists() and not output_dir.is_dir():
            raise UsageError(f"OUTPUT_DIR {output_dir} exists and is not a folder")

    def _check_class_copies(self) -> None:
        """copies by a label column needs --labels with that column: said before anything is written."""
        copies, labels, path = self.config.copies, self.labels, self.options.labels
        if not isinstance(copies, ClassCopies) or copies.by in labels.columns:
            return
        if path is None:
            raise UsageError(f"the config's copies are by the label column {copies.by!r}: give --labels CSV")
        raise UsageError(
            f"{path}: no column {copies.by!r}, which the config's copies are by; found "
            f"columns: {', '.join(labels.columns) or 'none'}{suggest(copies.by, labels.columns)}"
        )


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
