"""Where units of work run: in this process (-j 1), on joblib's loky worker processes, or on a
dask cluster through joblib's dask backend. Results stream back as they finish, in any order."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import Any

from .config import Config
from .items import Outcome, Task, augment_source, augment_unit
from .provenance import is_finished

WORKER_DIED = ("the worker process died while augmenting this file (killed by the system, "
               "e.g. out of memory?)")
UNIT_BYTES = 2 << 20  # at most this many input bytes x copies per unit of work...
UNIT_ITEMS = 8  # ...and at most this many items, so that results (and the resume state) keep flowing


def worker_count(jobs: int | None) -> int:
    """``-j``, or when not given the CPUs this process may use (joblib counts cgroup limits)."""
    if jobs is not None:
        return jobs
    from joblib import cpu_count

    return int(cpu_count())


def prestart_workers(jobs: int, output_dir: Path) -> None:
    """Start loky's workers now, in the background, so that they import numpy, scipy and
    audiomentations while this process checks the config. The run's Parallel reuses them.

    Not when OUTPUT_DIR holds a finished run: a rerun usually has nothing to do, and at exit
    loky would wait for every warm-up to end (~0.5 s on 2 cores). If there is work after all,
    the run starts its workers itself.
    """
    if jobs == 1 or is_finished(output_dir):
        return

    def warm() -> None:
        from joblib import Parallel, delayed

        Parallel(n_jobs=jobs, backend="loky")(delayed(_import_worker_modules)() for _ in range(jobs))

    threading.Thread(target=warm, name="audioaug-warm-up", daemon=True).start()


def _import_worker_modules() -> None:
    from . import pipeline  # noqa: F401
    from .registry import load_audiomentations

    load_audiomentations()  # what every item needs; the slow part of a worker's start
    time.sleep(0.1)  # hold this worker, so that the next warm-up goes to another one


def execute(config: Config, tasks: Iterable[Task], output_dir: Path, jobs: int,
            cluster: Any = None) -> Generator[list[Outcome], None, None]:
    """Run tasks in this process (``jobs`` 1), on loky workers, or on a dask cluster (``cluster``:
    joblib's parallel_config for it and what a lost worker raises), yielding results as they finish.

    If a worker process dies, joblib abandons the whole batch: the tasks that were in flight are
    retried one at a time in a fresh local worker (a task that kills its worker again fails alone),
    and the rest of the stream goes on.
    """
    if cluster is not None:
        parallel_config, worker_lost = cluster
        with parallel_config:  # the cluster's own thread count decides how many run at once
            yield from _in_workers(config, tasks, output_dir, None, worker_lost)
        return
    if jobs == 1:  # in-process: no workers to start, no joblib to import
        for task in tasks:
            yield augment_source(config, task, str(output_dir))
        return
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    yield from _in_workers(config, tasks, output_dir, jobs, (TerminatedWorkerError,))


def _in_workers(config: Config, tasks: Iterable[Task], output_dir: Path, jobs: int | None,
                worker_lost: tuple[type[BaseException], ...]) -> Iterator[list[Outcome]]:
    """joblib's Parallel over the tasks, with the backend in force (loky, or dask's)."""
    from joblib import Parallel, delayed

    remaining = units(tasks)
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
            with warnings.catch_warnings():  # stopped early (--fail-fast, a full disk): that is the point
                warnings.filterwarnings("ignore", "[0-9]+ tasks have been successfully executed", UserWarning)
                results.close()


def units(tasks: Iterable[Task]) -> Iterator[list[Task]]:
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
