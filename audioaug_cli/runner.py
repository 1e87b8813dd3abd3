"""Plans items (input file x copy), augments them in parallel, records them, resumes.

No printing here: progress goes through a :class:`Reporter` that the caller passes in.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Generator, Iterable, Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from . import __version__
from .audio_io import all_finite, convert, read_audio, remove_temporaries, write_audio, write_text
from .config import AUDIO_EXTENSIONS, FORMATS, Config
from .errors import ItemError, UsageError
from .manifest import Labels, manifest_row, write_errors, write_manifest
from .state import STATE_DIR, RunState

PROVENANCE = "audioaug.json"
ERRORS = "errors.csv"


def item_seed(seed: int, source: str, copy: int) -> int:
    """An item's seed: the first 63 bits of BLAKE2b-64 over "<seed>:<copy>:<source>" (UTF-8).

    Depends only on the run seed, the source's path relative to INPUT_DIR (with '/') and the copy
    number, so it is the same on every machine, process and order of execution.
    """
    digest = hashlib.blake2b(f"{seed}:{copy}:{source}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def output_name(source: str, copy: int, extension: str) -> str:
    """'a/b.flac', copy 2, '.wav' -> 'a/b__aug2.wav'."""
    stem, _dot, _ext = source.rpartition(".")
    return f"{stem}__aug{copy}{extension}"


@dataclass(frozen=True)
class Source:
    """An input file found by the walk."""

    rel: str  # relative to INPUT_DIR, '/' separated
    path: str
    fingerprint: str  # size and mtime: a changed input is redone
    conflict: str | None = None  # another input in the same folder whose outputs would share names
    size: int = 0  # bytes: how work is split between workers


@dataclass(frozen=True)
class Task:
    """The copies of one source still to make: one unit of parallel work (decoded once)."""

    source: Source
    copies: tuple[int, ...]


@dataclass(frozen=True)
class Outcome:
    source: str
    copy: int
    fingerprint: str
    row: dict[str, Any] | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()  # what the transforms warned about, one line each

    @property
    def audio_seconds(self) -> float:
        return float(self.row["duration"]) if self.row else 0.0


@dataclass(frozen=True)
class RunOptions:
    jobs: int | None = None  # None: the usable CPUs
    overwrite: bool = False
    fail_fast: bool = False
    dry_run: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    labels: Path | None = None
    prune: bool = False  # remove outputs of inputs that no longer exist
    backend: str = "loky"  # or "dask"
    scheduler: str | None = None  # dask: an existing scheduler's address; None starts a LocalCluster


@dataclass
class Summary:
    written: int = 0
    skipped: int = 0
    failed: int = 0  # input files with at least one failed item
    ignored: int = 0  # non-audio files, and files left out by --include/--exclude
    seconds: float = 0.0
    audio_seconds: float = 0.0
    interrupted: bool = False
    signal: int | None = None  # the signal that interrupted the run (SIGINT, SIGTERM)
    stopped_early: bool = False  # --fail-fast
    vanished: int = 0  # inputs gone from INPUT_DIR whose outputs are kept (see --prune)
    pruned: int = 0  # outputs removed by --prune
    planned: list[str] = field(default_factory=list)  # --dry-run: what would be written

    def line(self) -> str:
        rate = self.audio_seconds / self.seconds if self.seconds > 0 else 0.0
        head = "interrupted" if self.interrupted else "done"
        return (f"{head}: {self.written} written, {self.skipped} skipped (already done), {self.failed} failed, "
                f"{self.ignored} ignored in {self.seconds:.1f}s ({rate:.1f} audio-s/s)")


class Reporter(Protocol):
    needs_total: bool  # whether start() wants the item count (one more walk of INPUT_DIR)

    def start(self, total: int | None) -> None: ...
    def advance(self, outcome: Outcome) -> None: ...


class _Silent:
    needs_total = False

    def start(self, total: int | None) -> None:
        pass

    def advance(self, outcome: Outcome) -> None:
        pass


# -- walking ---------------------------------------------------------------------------------
@dataclass
class _WalkCounts:
    ignored: int = 0


def walk_inputs(input_dir: Path, skip_dir: Path | None = None, include: tuple[str, ...] = (),
                exclude: tuple[str, ...] = (), counts: _WalkCounts | None = None) -> Iterator[Source]:
    """Audio files under input_dir in sorted order (a folder's files, then its subfolders).

    Hidden entries are skipped, symlinks followed (a folder is entered once, so loops end), and
    ``skip_dir`` (OUTPUT_DIR, when it lies inside INPUT_DIR) is never entered.
    """
    counts = counts if counts is not None else _WalkCounts()
    skip = _dir_key(skip_dir) if skip_dir is not None else None
    visited = {_dir_key(input_dir)}
    yield from _walk(input_dir, "", visited, skip, include, exclude, counts)


def _dir_key(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _walk(folder: Path, prefix: str, visited: set[Any], skip: Any, include: tuple[str, ...],
          exclude: tuple[str, ...], counts: _WalkCounts) -> Iterator[Source]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        counts.ignored += 1
        return
    subfolders = []
    stems: dict[str, str] = {}
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            subfolders.append(entry)
            continue
        rel = prefix + entry.name
        if not entry.name.lower().endswith(AUDIO_EXTENSIONS) or not _selected(rel, include, exclude):
            counts.ignored += 1
            continue
        stem = entry.name.rpartition(".")[0]
        fingerprint, size = _fingerprint(entry.path)
        yield Source(rel, entry.path, fingerprint, stems.get(stem), size)
        stems.setdefault(stem, rel)
    for entry in subfolders:
        key = _dir_key(Path(entry.path))
        if key is None or key in visited or key == skip:
            continue
        visited.add(key)
        yield from _walk(Path(entry.path), f"{prefix}{entry.name}/", visited, skip, include, exclude, counts)


def _selected(rel: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    if include and not any(fnmatch.fnmatchcase(rel, g) for g in include):
        return False
    return not any(fnmatch.fnmatchcase(rel, g) for g in exclude)


def _fingerprint(path: str) -> tuple[str, int]:
    """(size and mtime, size): what marks a changed input, and how much work it is."""
    try:
        st = os.stat(path)
    except OSError:
        return "unreadable", 0
    return f"{st.st_size}:{st.st_mtime_ns}", st.st_size


# -- one unit of work (runs in a worker) ------------------------------------------------------
_augmenters: dict[tuple[str, str], Any] = {}


def augment_source(config: Config, task: Task, output_dir: str) -> list[Outcome]:
    """Decode one input once and write each of its pending copies. Never raises for bad input."""
    import numpy as np

    from .pipeline import Augmenter, captured_warnings

    source = task.source
    if source.conflict is not None:
        error = (f"its outputs would have the same names as those of {source.conflict}; "
                 "rename one of the two")
        return [Outcome(source.rel, c, source.fingerprint, error=error) for c in task.copies]
    try:
        samples, sample_rate = read_audio(source.path)
        samples, sample_rate = convert(samples, sample_rate, config.sample_rate, config.mono)
    except ItemError as exc:
        return [Outcome(source.rel, c, source.fingerprint, error=str(exc)) for c in task.copies]
    key = (config.hash, config.base_dir)
    if key not in _augmenters:
        _augmenters[key] = Augmenter(config)
    augmenter = _augmenters[key]
    outcomes = []
    for copy in task.copies:
        seed = item_seed(config.seed, source.rel, copy)
        name = output_name(source.rel, copy, config.extension)
        warned: list[str] = []
        try:
            with np.errstate(all="ignore"), captured_warnings() as warned:  # overflow etc.: caught below
                source_samples = samples.copy(order="K") if len(task.copies) > 1 else samples
                out, applied = augmenter.augment(source_samples, sample_rate, seed)
            if applied and not all_finite(out):  # with nothing applied, out is the checked input
                raise ItemError("the augmented audio holds NaN or infinite samples")
            write_audio(os.path.join(output_dir, name), out, sample_rate, FORMATS[config.format], config.subtype)
        except Exception as exc:  # any failure is this item's alone
            outcomes.append(Outcome(source.rel, copy, source.fingerprint, error=_one_line(exc),
                                    warnings=tuple(warned)))
            continue
        channels, frames = (1, out.shape[0]) if out.ndim == 1 else out.shape
        row = manifest_row(name, source.rel, copy, seed, sample_rate, channels, frames, applied)
        outcomes.append(Outcome(source.rel, copy, source.fingerprint, row=row, warnings=tuple(warned)))
    return outcomes


def _one_line(exc: BaseException) -> str:
    """An item's failure as one line: our own messages as they are, others with their type."""
    text = " ".join(str(exc).split())
    if isinstance(exc, ItemError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- the run ---------------------------------------------------------------------------------
def run(config: Config, input_dir: str | Path, output_dir: str | Path, options: RunOptions = RunOptions(),
        reporter: Reporter | None = None) -> Summary:
    """Augment every audio file under input_dir into output_dir. See SPEC for the guarantees."""
    started = time.monotonic()
    input_dir, output_dir = Path(input_dir).absolute(), Path(output_dir).absolute()  # workers may run elsewhere
    reporter = reporter or _Silent()
    _check_dirs(input_dir, output_dir)
    labels = Labels.read(options.labels) if options.labels else Labels()
    _check_provenance(config, output_dir, options.overwrite and not options.dry_run)
    if options.dry_run:
        return _dry_run(config, input_dir, output_dir, options, started)
    with ExitStack() as stack:
        cluster = None
        if options.backend == "dask":  # connect before writing anything: a bad address is a usage error
            from .cluster import dask_backend

            cluster = stack.enter_context(dask_backend(options.scheduler, options.jobs))
        return _run(config, input_dir, output_dir, options, reporter, labels, cluster, started)


def _run(config: Config, input_dir: Path, output_dir: Path, options: RunOptions, reporter: Reporter, labels: Labels,
         cluster: Any, started: float) -> Summary:
    if options.overwrite:
        _remove_previous_run(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    remove_temporaries(output_dir)
    state = RunState(output_dir)
    summary = Summary()
    try:
        claimed = False  # audioaug.json says "running" from the first change to OUTPUT_DIR on
        if not (output_dir / PROVENANCE).exists():
            _write_provenance(config, output_dir, state, "running")  # claims OUTPUT_DIR for this config
            claimed = True
        reporter.start(_count_todo(config, input_dir, output_dir, options, state) if reporter.needs_total else None)
        counts = _WalkCounts()
        tasks = _plan(config, input_dir, output_dir, options, state, summary, counts)
        failed_sources: set[str] = set()
        try:
            # closing(): stopping early ends the workers (loky kills them) before what follows
            with _sigterm_as_interrupt(summary), closing(_execute(config, tasks, output_dir, options.jobs,
                                                                  cluster)) as results:
                for outcomes in results:
                    if not claimed:  # a finished rerun never gets here, so it writes nothing
                        _write_provenance(config, output_dir, state, "running")
                        claimed = True
                    for outcome in outcomes:
                        _record(outcome, state, output_dir, summary, failed_sources)
                        reporter.advance(outcome)
                    if options.fail_fast and failed_sources:
                        summary.stopped_early = True
                        break
        except KeyboardInterrupt:
            summary.interrupted = True
            summary.signal = summary.signal or signal.SIGINT
        if summary.interrupted or summary.stopped_early:
            remove_temporaries(output_dir)  # what workers stopped mid-write left
        else:
            _handle_vanished(state, input_dir, output_dir, options.prune, summary)
        summary.ignored = counts.ignored
        summary.failed = len(failed_sources)
        state.commit()
        write_manifest(output_dir / config.manifest, state.rows(), labels)
        write_errors(output_dir / ERRORS, state.errors())
        _write_provenance(config, output_dir, state, "interrupted" if summary.interrupted else "complete")
    finally:
        state.close()
    summary.seconds = time.monotonic() - started
    return summary


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
            for name in names:
                (output_dir / name).unlink(missing_ok=True)
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


def _check_provenance(config: Config, output_dir: Path, overwrite: bool) -> None:
    """Refuse to resume into an OUTPUT_DIR made by another config, seed or copies."""
    path = output_dir / PROVENANCE
    if overwrite or not path.exists():
        return
    try:
        previous = json.loads(path.read_text())
        old = previous["config"]
        if previous["config_hash"] == config.hash:
            return
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(f"{path} is unreadable, so this OUTPUT_DIR cannot be resumed; "
                         "--overwrite starts over") from None
    new = config.to_dict()
    changes = [f"{k} {old.get(k)} -> {new[k]}" for k in ("seed", "copies") if old.get(k) != new[k]]
    changes += [f"{k} differs" for k in ("version", "audio", "output", "pipeline") if old.get(k) != new[k]]
    raise UsageError(f"OUTPUT_DIR {output_dir} was made with a different config ({'; '.join(changes)}); "
                     "use --overwrite to start over, or choose another OUTPUT_DIR")


def _remove_previous_run(output_dir: Path) -> None:
    """--overwrite: delete what audioaug wrote here before, and nothing else."""
    if not (output_dir / STATE_DIR).exists():
        return
    state = RunState(output_dir, readonly=True)
    names = list(state.file_names())
    state.close()
    for name in names:
        (output_dir / name).unlink(missing_ok=True)
    previous = output_dir / PROVENANCE
    try:
        manifest = json.loads(previous.read_text())["config"]["output"]["manifest"]
        (output_dir / manifest).unlink(missing_ok=True)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    for name in (ERRORS, PROVENANCE):
        (output_dir / name).unlink(missing_ok=True)
    shutil.rmtree(output_dir / STATE_DIR, ignore_errors=True)


def _skip_dir(input_dir: Path, output_dir: Path) -> Path | None:
    return output_dir if output_dir.exists() and output_dir.resolve().is_relative_to(input_dir.resolve()) else None


def _pending(config: Config, source: Source, output_dir: Path, state: RunState) -> tuple[int, ...]:
    return tuple(c for c in range(1, config.copies + 1)
                 if not state.is_done(source.rel, c, source.fingerprint, output_dir))


def _count_todo(config: Config, input_dir: Path, output_dir: Path, options: RunOptions, state: RunState) -> int:
    sources = walk_inputs(input_dir, _skip_dir(input_dir, output_dir), options.include, options.exclude)
    return sum(len(_pending(config, s, output_dir, state)) for s in sources)


def _plan(config: Config, input_dir: Path, output_dir: Path, options: RunOptions, state: RunState,
          summary: Summary, counts: _WalkCounts) -> Iterator[Task]:
    """Stream the tasks still to do; count the items already done as skipped."""
    for source in walk_inputs(input_dir, _skip_dir(input_dir, output_dir), options.include, options.exclude, counts):
        state.mark_seen(source.rel)
        pending = _pending(config, source, output_dir, state)
        summary.skipped += config.copies - len(pending)
        if pending:
            yield Task(source, pending)


WORKER_DIED = ("the worker process died while augmenting this file (killed by the system, "
               "e.g. out of memory?)")


def _execute(config: Config, tasks: Iterable[Task], output_dir: Path, jobs: int | None,
             cluster: Any = None) -> Generator[list[Outcome], None, None]:
    """Run tasks in this process (-j 1), on joblib's loky workers, or on a dask cluster, yielding
    results as they finish.

    If a worker process dies, joblib abandons the whole batch: the tasks that were in flight are
    retried one at a time in a fresh local worker (a task that kills its worker again fails alone),
    and the rest of the stream goes on.
    """
    if cluster is not None:  # (joblib's parallel_config for dask, what a lost worker raises)
        parallel_config, worker_lost = cluster
        with parallel_config:
            yield from _in_workers(config, tasks, output_dir, -1, worker_lost)
        return
    if jobs is None:
        from joblib import cpu_count  # counts what cgroups (containers) allow, not just the cores

        jobs = cpu_count()
    if jobs == 1:  # in-process: no workers to start, no joblib to import
        for task in tasks:
            yield augment_source(config, task, str(output_dir))
        return
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    yield from _in_workers(config, tasks, output_dir, jobs, (TerminatedWorkerError,))


def _in_workers(config: Config, tasks: Iterable[Task], output_dir: Path, jobs: int,
                worker_lost: tuple[type[BaseException], ...]) -> Iterator[list[Outcome]]:
    """joblib's Parallel over the tasks, with the backend in force (loky, or dask's)."""
    from joblib import Parallel, delayed

    remaining = _units(tasks)
    lock = threading.Lock()
    while True:
        in_flight: dict[tuple[str, int], list[Task]] = {}
        calls = (delayed(augment_unit)(config, unit, str(output_dir))
                 for unit in _tracked(remaining, lock, in_flight))
        # Units are already sized for the workers; joblib's own batching would regroup them.
        parallel = Parallel(n_jobs=jobs, return_as="generator_unordered", batch_size=1)
        results = parallel(calls)
        try:
            for outcomes in results:
                in_flight.pop((outcomes[0].source, outcomes[0].copy), None)
                yield outcomes
            return
        except worker_lost:
            with lock:
                suspects = [task for unit in in_flight.values() for task in unit]
            for task in suspects:
                yield _alone_in_a_worker(config, task, output_dir)
        finally:
            results.close()


def prestart_workers(jobs: int | None, output_dir: Path) -> None:
    """Start loky's workers now, in the background, so that they import numpy, scipy and
    audiomentations while this process checks the config. The run's Parallel reuses them.

    Not when OUTPUT_DIR holds a finished run: a rerun usually has nothing to do, and at exit
    loky would wait for every warm-up to end (~0.5 s on 2 cores). If there is work after all,
    the run starts its workers itself.
    """
    if jobs == 1 or _finished(output_dir):
        return

    def warm() -> None:
        from joblib import Parallel, cpu_count, delayed

        count = jobs or cpu_count()
        Parallel(n_jobs=count, backend="loky")(delayed(_import_worker_modules)() for _ in range(count))

    threading.Thread(target=warm, name="audioaug-warm-up", daemon=True).start()


def _finished(output_dir: Path) -> bool:
    try:
        return bool(json.loads((output_dir / PROVENANCE).read_text()).get("status") == "complete")
    except (OSError, ValueError, AttributeError):
        return False


def _import_worker_modules() -> None:
    import audiomentations  # noqa: F401  (what every item needs; the slow part of a worker's start)

    from . import pipeline  # noqa: F401

    time.sleep(0.1)  # hold this worker, so that the next warm-up goes to another one


UNIT_BYTES = 2 << 20  # at most this many input bytes x copies per unit of work...
UNIT_ITEMS = 8  # ...and at most this many items, so that results (and the resume state) keep flowing


def _units(tasks: Iterable[Task]) -> Iterator[list[Task]]:
    """Group tasks into units of bounded work: a few small files together, a large file's copies
    split across units, so that no worker is left with a long tail and results come back often."""
    unit: list[Task] = []
    load = items = 0
    for task in tasks:
        per_copy = max(task.source.size, 1)
        copies = task.copies
        while copies:
            room = max(1, min((UNIT_BYTES - load) // per_copy, UNIT_ITEMS - items))  # at least one copy
            unit.append(Task(task.source, copies[:room]))
            load += per_copy * len(copies[:room])
            items += len(copies[:room])
            copies = copies[room:]
            if load >= UNIT_BYTES or items >= UNIT_ITEMS:
                yield unit
                unit, load, items = [], 0, 0
    if unit:
        yield unit


def augment_unit(config: Config, unit: list[Task], output_dir: str) -> list[Outcome]:
    """One unit of work in a worker: its tasks in order."""
    return [outcome for task in unit for outcome in augment_source(config, task, output_dir)]


def _tracked(units: Iterator[list[Task]], lock: threading.Lock,
             in_flight: dict[tuple[str, int], list[Task]]) -> Iterator[list[Task]]:
    """Hand out units (joblib pulls from its own thread), remembering each until its result comes."""
    while True:
        with lock:
            unit = next(units, None)
            if unit is None:
                return
            in_flight[(unit[0].source.rel, unit[0].copies[0])] = unit
        yield unit


def _alone_in_a_worker(config: Config, task: Task, output_dir: Path) -> list[Outcome]:
    from joblib import Parallel, delayed
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    try:
        in_a_worker = Parallel(n_jobs=2, backend="loky")
        [outcomes] = in_a_worker([delayed(augment_source)(config, task, str(output_dir))])
        return outcomes  # type: ignore[no-any-return]
    except TerminatedWorkerError:
        return [Outcome(task.source.rel, c, task.source.fingerprint, error=WORKER_DIED) for c in task.copies]


def _record(outcome: Outcome, state: RunState, output_dir: Path, summary: Summary, failed: set[str]) -> None:
    if outcome.row is not None:
        state.record_output(outcome.row, outcome.fingerprint)
        summary.written += 1
        summary.audio_seconds += outcome.audio_seconds
    else:
        stale = state.record_failure(outcome.source, outcome.copy, outcome.fingerprint, outcome.error or "failed")
        if stale:
            (output_dir / stale).unlink(missing_ok=True)
        failed.add(outcome.source)


def _dry_run(config: Config, input_dir: Path, output_dir: Path, options: RunOptions, started: float) -> Summary:
    summary = Summary()
    state = RunState(output_dir, readonly=True)
    counts = _WalkCounts()
    try:
        for task in _plan(config, input_dir, output_dir, options, state, summary, counts):
            summary.planned.extend(f"{task.source.rel} -> {output_name(task.source.rel, c, config.extension)}"
                                   for c in task.copies)
    finally:
        state.close()
    summary.ignored = counts.ignored
    summary.seconds = time.monotonic() - started
    return summary


@cache
def versions() -> dict[str, str]:
    """The versions audioaug.json records: a loaded module's __version__, else the installed one."""
    found = {"audioaug": __version__}
    for package in ("audiomentations", "librosa", "numpy", "soundfile"):
        loaded = getattr(sys.modules.get(package), "__version__", None)
        found[package] = str(loaded) if loaded else _installed_version(package)
    return found


def _installed_version(package: str) -> str:
    """From the package's ``<name>-<version>.dist-info`` folder, whose name the wheel format fixes;
    importlib.metadata, the fallback, takes ~10 ms to import: a quarter of an empty pipeline's start-up."""
    found = _dist_info_versions().get(package.lower().replace("-", "_"))
    if found is not None:
        return found
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


@cache
def _dist_info_versions() -> dict[str, str]:
    """{normalised name: version} of the dist-info folders on sys.path; the first one found wins, as
    for imports."""
    found: dict[str, str] = {}
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info"):
                package, _dash, version = name[:-len(".dist-info")].partition("-")
                found.setdefault(package.lower(), version)
    return found


def _write_provenance(config: Config, output_dir: Path, state: RunState, status: str) -> None:
    """audioaug.json: what made this OUTPUT_DIR. Holds no times or paths, so reruns match byte for byte."""
    record = {
        "config": config.to_dict(),
        "config_hash": config.hash,
        "seed": config.seed,
        "copies": config.copies,
        "versions": versions(),
        "status": status,
        "counts": state.counts(),
    }
    text = json.dumps(record, indent=2) + "\n"
    write_text(output_dir / PROVENANCE, lambda handle: print(text, end="", file=handle))
