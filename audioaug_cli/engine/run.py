"""The batch run: plans items (input file x copy), hands them to the workers, records what finishes,
resumes, and keeps OUTPUT_DIR consistent however the run ends.

:func:`run` is the library's entry; a :class:`Run` holds what one run works with (the config, the
two folders, the options, the labels, the resume state and the summary), so that its steps are
methods, not functions passing the same bundle along. Nothing here prints: progress goes through
the :class:`~audioaug_cli.engine.summary.Reporter` the caller passes in.
"""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from audioaug_cli.config.load import load_config
from audioaug_cli.config.model import Config
from audioaug_cli.engine.mixing import check_pools
from audioaug_cli.engine.options import RunOptions
from audioaug_cli.engine.places import open_places
from audioaug_cli.engine.plan import Plan, check_class_copies
from audioaug_cli.engine.provenance import PROVENANCE, Provenance, check_resumable
from audioaug_cli.engine.state import RunState
from audioaug_cli.engine.summary import Reporter, Silent, Summary, sigterm_as_interrupt
from audioaug_cli.engine.tasks import Finished, Task, manifest_columns
from audioaug_cli.engine.workers import JOBS_PER_CPU, execute, jobs_cap, worker_count
from audioaug_cli.errors import DiskFullError, UsageError, is_disk_full
from audioaug_cli.io.inputs import WalkCounts
from audioaug_cli.io.manifest import ERRORS, Labels, write_errors, write_manifest
from audioaug_cli.io.segments import SEGMENTS, Segments, write_segments
from audioaug_cli.io.store import Store, open_store
from audioaug_cli.io.tables import credentials_hidden

if TYPE_CHECKING:
    from audioaug_cli.engine.cluster import DaskBackend

__all__ = ["Reporter", "Run", "RunOptions", "Summary", "run"]


def run(
    config: Config | str | Path,
    input_dir: str | Path,
    output_dir: str | Path,
    options: RunOptions | None = None,
    reporter: Reporter | None = None,
) -> Summary:
    """Augment every audio file under input_dir into output_dir. See SPEC for the guarantees.

    ``config`` is a loaded Config or a config file's path; input_dir and output_dir are paths
    or fsspec URLs (``s3://bucket/prefix``), with ``options.storage_options``.
    """
    options = options if options is not None else RunOptions()
    started = time.monotonic()
    if not isinstance(config, Config):
        config = load_config(config)
    batch = Run(config, input_dir, output_dir, options, reporter or Silent())
    summary = batch.dry_run() if options.dry_run else batch.execute()
    summary.seconds = time.monotonic() - started
    return summary


def _status(summary: Summary) -> str:
    """What audioaug.json says of a run that ended: only a run that did all it had to is complete
    (one stopped by --fail-fast may have had workers stopped mid-unit, their files not recorded)."""
    if summary.interrupted or summary.disk_full:
        return "interrupted"
    return "stopped" if summary.stopped_early else "complete"


class Run:
    """One run of a config over INPUT_DIR into OUTPUT_DIR. Checks what can be checked before
    anything is written when made; :meth:`execute` or :meth:`dry_run` then does the work once."""

    def __init__(
        self, config: Config, input_dir: str | Path, output_dir: str | Path, options: RunOptions, reporter: Reporter
    ):
        storage = options.storage_options
        self.inputs, self.output = open_places(  # absolute: workers may run elsewhere
            open_store(input_dir, storage, f"INPUT_DIR {input_dir}"),
            open_store(output_dir, storage, f"OUTPUT_DIR {output_dir}"),
        )
        self.options, self.reporter = options, reporter
        cap = jobs_cap()
        if options.jobs is not None and options.jobs > cap and not options.scheduler:
            reporter.notice(
                f"-j {options.jobs}: at most {cap} workers here ({JOBS_PER_CPU} per usable CPU); more would only "
                f"wait on each other and hold memory, so the run uses {cap}"
            )
            self.options = replace(options, jobs=cap)
        self.config = config.with_overrides(options.seed, options.copies, options.include_original or None)
        self.summary = Summary()
        self.state: RunState | None = None
        self.dispatched = False  # whether any task went to a worker
        self.worker_lost = False  # whether a worker may have ended mid-item (and left a temporary file)
        self._unrecorded: list[Finished] = []  # what workers could not record in the state themselves
        self.running = False  # whether audioaug.json says "running" (this run has work to do)
        with credentials_hidden(options.labels, options.segments):
            self.labels = Labels.read(options.labels, storage) if options.labels else Labels()
            check_class_copies(self.config, self.labels, options.labels)
            check_pools(self.config, self.labels, options.labels)
            self.segments = self._read_segments(options.segments) if options.segments else None
        if not (options.overwrite and not options.dry_run):
            check_resumable(self.config, self.output.store)
        self.plan = Plan(
            config=self.config,
            inputs=self.inputs,
            output=self.output,
            labels=self.labels,
            segments=self.segments,
            include=options.include,
            exclude=options.exclude,
            summary=self.summary,
        )
        self.output.refuse_foreign_files(
            self.config.manifest, self.plan.files, self.segments is not None, options.overwrite and not options.dry_run
        )

    # -- the run -------------------------------------------------------------------------------
    def execute(self) -> Summary:
        from audioaug_cli.transforms.registry import NUMBA_NOTICE, compiles_librosa_code, numba_cache_empty

        if compiles_librosa_code(self.config.pipeline, self.config.spectrogram is not None) and numba_cache_empty():
            self.reporter.notice(NUMBA_NOTICE.format(what="this config uses"))
        with ExitStack() as stack:
            dask: DaskBackend | None = None
            if self.options.backend == "dask":  # connect before writing anything: a bad address is a usage error
                from audioaug_cli.engine.cluster import dask_backend

                dask = stack.enter_context(dask_backend(self.options.scheduler, worker_count(self.options.jobs)))
            self.output.begin()  # a local folder's lock, before anything in it changes
            stack.callback(self.output.release)
            self._run_locked(dask)
        return self.summary

    def _claim(self) -> None:
        """Before the first change to OUTPUT_DIR (on a store, its lock is taken then)."""
        self.output.claim(self.state)

    def _run_locked(self, dask: DaskBackend | None) -> None:
        summary = self.summary
        if self.options.overwrite:
            self._claim()
            self.output.remove_previous_run()
        self.output.prepare()
        self.state = state = self.output.open_state()
        try:
            try:
                self._augment_all(state, dask)
            finally:
                state.take_back()  # if the workers recorded: the workers are gone by now
            # What a worker stopped mid-write left: by a signal, --fail-fast or a full disk, or killed
            # (the OOM killer) while the run went on. No worker is left running by now. A run whose
            # workers all finished their items left none, and OUTPUT_DIR is not walked for them.
            stopped = summary.interrupted or summary.stopped_early or summary.disk_full
            if self.dispatched and (stopped or self.worker_lost):
                self.output.clean_up()
            if not stopped:
                self._handle_vanished(state)
            if summary.disk_full:
                state.free_reserve()  # room for the records below
            try:
                self._record_left(state)
                self._finish(state, _status(summary))
            except (OSError, sqlite3.Error) as exc:
                if not is_disk_full(exc):
                    raise
                self._raise_disk_full(recorded=False)
        finally:
            state.close()
        if summary.disk_full:
            self._raise_disk_full(recorded=True)

    def _augment_all(self, state: RunState, dask: DaskBackend | None) -> None:
        """Hand the pending items to the workers and record each outcome as it arrives."""
        config, summary, output, reporter = self.config, self.summary, self.output, self.reporter
        if not output.present(PROVENANCE):
            self._claim()
            self._mark_running(state)  # claims OUTPUT_DIR before anything else is written in it
        reporter.start(self.plan.count_todo(state) if reporter.needs_total else None)
        counts = WalkCounts(report=reporter.left_out)
        failed_sources: set[str] = set()
        try:
            # closing(): stopping early ends the workers (they are killed) before what follows
            # A local worker reads the size and mtime of the file it augments (on a first run)
            tasks = self._claiming(self.plan.tasks(state, counts, describe=dask is not None), state)
            stores = (self.inputs.store, output.store, output.worker_parts(state))
            results = execute(
                config,
                tasks,
                stores,
                self.options.jobs,
                dask,
                self.inputs.whole_units,
                self._lost_a_worker,
                lambda: output.hand_over(state),
            )
            with sigterm_as_interrupt(summary), closing(results):
                for done in results:
                    if output.lost:
                        state.disown()  # the state is the new holder's now
                        raise UsageError(f"OUTPUT_DIR {output}: {output.lost}; this run stopped")
                    self._record(state, done, failed_sources)
                    reporter.advance(done)
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

    def _lost_a_worker(self) -> None:
        self.worker_lost = True

    def _record(self, state: RunState, done: Finished, failed: set[str]) -> None:
        """Record and count what a unit did: its outputs in one statement, then its failures; unless
        its worker recorded them, or they wait for the state to be this process's again."""
        summary = self.summary
        if state.handed_over and not done.recorded:
            self._unrecorded.append(done)
        elif not done.recorded:
            self._write_records(state, done)
        summary.written += done.outputs
        summary.audio_seconds += done.audio_seconds
        summary.clipped += done.clipped
        failed.update(source for source, _copy, _fingerprint, _error in done.failed)
        summary.disk_full = summary.disk_full or done.disk_full

    def _write_records(self, state: RunState, done: Finished) -> None:
        if done.made:
            state.record_outputs(done.made)
        for source, copy, fingerprint, error in done.failed:
            for name in state.record_failure(source, copy, fingerprint, error):
                self.output.store.remove(name)  # a stale output of the item

    def _record_left(self, state: RunState) -> None:
        """What workers that recorded their own units could not (a full disk), recorded here."""
        left, self._unrecorded = self._unrecorded, []
        for done in left:
            self._write_records(state, done)

    def _finish(self, state: RunState, status: str) -> None:
        """Make what finished survive, then write the files that describe it: manifest, errors,
        provenance. A rerun that would change none of them (nor the state) writes nothing."""
        provenance = Provenance.of(self.config, status, state.counts(), self.inputs.store.url)
        names = (self.config.manifest, ERRORS, PROVENANCE, *((SEGMENTS,) if self.segments is not None else ()))
        description = self._description(provenance)

        def rewrite(store: Store) -> None:
            self._write_descriptions(store, state, provenance)

        if self.output.unchanged(state, names, description, rewrite):
            return  # the records, the tables and the config they were written from, and the files, as they were
        self._claim()
        state.commit()
        rewrite(self.output.store)
        self.output.described(state, names, description)

    def _write_descriptions(self, store: Store, state: RunState, provenance: Provenance) -> None:
        """The manifest, errors.csv, segments.csv and audioaug.json, from the records."""
        columns = manifest_columns(self.config)
        write_manifest(store, self.config.manifest, state.manifest_lines(columns), self.labels, columns)
        write_errors(store, ERRORS, state.errors())
        if self.segments is not None:
            write_segments(store, SEGMENTS, self.segments.columns, self._segment_rows(state))
        provenance.write(store)

    def _description(self, provenance: Provenance) -> str:
        """What the files that describe OUTPUT_DIR are written from, beside the records."""
        config = self.config
        segments = self.segments.digest if self.segments is not None else None
        made_of = [provenance.text(), self.labels.digest, segments, config.manifest, config.spectrogram is None]
        return hashlib.sha256(json.dumps(made_of).encode()).hexdigest()

    def _segment_rows(self, state: RunState) -> Iterator[tuple[str, float, float, tuple[str, ...]]]:
        assert self.segments is not None
        cells = self.segments.cells
        for row in state.rows():
            for start, end, index in row.segments or ():
                yield row.file_name, start, end, cells[row.source][index] if row.source in cells else ()

    def _raise_disk_full(self, recorded: bool) -> None:
        kept = f"{self.summary.written} file(s) written by this run are kept"
        if recorded:
            kept += " and recorded"
        else:
            kept += ", but the manifest could not be updated (a rerun writes it)"
        raise DiskFullError(
            f"no space left on the filesystem of OUTPUT_DIR {self.output}: {kept}; "
            "free some space and rerun the same command to do the rest"
        )

    def _handle_vanished(self, state: RunState) -> None:
        """Inputs that are gone: their failures are forgotten; their outputs kept, or pruned."""
        prune = self.options.prune
        for source in state.unseen_sources():
            if self.inputs.exists(source):
                continue  # left out by --include/--exclude this time, not gone
            names = state.forget_source(source, keep_outputs=not prune)
            if prune:
                self._claim()
                self.output.removed(names)
                self.summary.pruned += len(names)
            elif names:
                self.summary.vanished += 1

    def _claiming(self, tasks: Iterator[Task], state: RunState) -> Iterator[Task]:
        """The tasks, with OUTPUT_DIR's lock taken before the first one goes to a worker; if the
        state changed meanwhile (another run finished), that first task is planned again."""
        for task in tasks:
            if not self.output.claimed:
                self._claim()
                again = self.plan.pending(task.source, state)
                self.summary.skipped += len(task.copies) - len(again)
                if not again:
                    continue
                task = replace(task, copies=again)
            if not self.running:  # a finished rerun hands nothing out, so it writes nothing
                self._mark_running(state)
            self.dispatched = True
            yield task

    def _mark_running(self, state: RunState) -> None:
        """audioaug.json says "running" from before the first item is handed out until the run's end,
        so that an OUTPUT_DIR whose last run was killed is never taken for a finished one (by
        `export`), even when an earlier run had finished it. A run with nothing to do writes nothing."""
        Provenance.of(self.config, "running", state.counts(), self.inputs.store.url).write(self.output.store)
        self.running = True

    def dry_run(self) -> Summary:
        """What a run would do, as the run plans it, written nowhere."""
        state = self.output.open_state(readonly=True)
        try:
            self.plan.dry_run(state, WalkCounts(report=self.reporter.left_out))
        finally:
            state.close()
        return self.summary

    # -- checks before anything is written ------------------------------------------------------
    def _read_segments(self, path: str | Path) -> Segments:
        """The --segments table, checked against the pipeline and the inputs' durations; the run's
        config records its digest, so that a rerun with another table is refused as another config.

        Inputs in a store are not fetched for it (each is fetched once, by the worker that augments
        it): there, a segment past its file's end fails that input alone, with the same words."""
        from audioaug_cli.transforms.timing import check_time_mapping

        check_time_mapping(self.config)
        segments = Segments.read(path, self.options.storage_options)
        durations = {name: found for name in segments.times if (found := self.inputs.duration(name)) is not None}
        segments.check_durations(path, durations, self.config.sample_rate)
        self.config = replace(self.config, segments=segments.digest)
        return segments
