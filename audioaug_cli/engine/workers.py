"""Where units of work run: in this process (-j 1, and plans too small to gain from more), in
worker processes on this machine (forked from this one on Linux, loky's elsewhere), or on a dask
cluster (:mod:`audioaug_cli.engine.cluster`). Results stream back as they finish, in any order."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from audioaug_cli.config.model import Config
from audioaug_cli.engine.tasks import Finished, Task, Unit, manifest_columns
from audioaug_cli.io.inputs import UNDESCRIBED, described
from audioaug_cli.io.store import Store

if TYPE_CHECKING:
    from audioaug_cli.engine.cluster import DaskBackend
    from audioaug_cli.engine.ledger import Ledger

# INPUT_DIR's and OUTPUT_DIR's stores, and how workers record what they wrote: on OUTPUT_DIR's
# store while a unit runs (a prefix: see engine.store_state.WorkerRecords), each unit in the resume state
# (a Ledger), or not at all (None: the parent records)
Stores = tuple[Store, Store, "str | Ledger | None"]

WORKER_DIED = "the worker process died while augmenting this file (killed by the system, e.g. out of memory?)"
UNIT_BYTES = 2 << 20  # at most this many input bytes x copies per unit of work...
FIRST_UNIT_ITEMS = 8  # ...and this many items, until finished units tell what an item costs...
UNIT_ITEMS = 256  # ...then as many as take about UNIT_SECONDS, up to this
UNIT_SECONDS = 0.1  # long enough that handing a unit out costs little, short enough that results keep flowing


class Pace:
    """How many items a unit of work holds, from what the items of finished units took: about
    UNIT_SECONDS of work. A unit of 0.1 s clips is then hundreds of items, so that handing units
    to workers and their results back costs little beside the work; one of long files, a few."""

    def __init__(self) -> None:
        self.items = FIRST_UNIT_ITEMS
        self._per_item: float | None = None

    def observe(self, finished: Finished) -> None:
        spent = finished.seconds
        if not finished.items or spent <= 0:
            return
        per_item = spent / finished.items
        self._per_item = per_item if self._per_item is None else 0.7 * self._per_item + 0.3 * per_item
        self.items = max(1, min(UNIT_ITEMS, round(UNIT_SECONDS / self._per_item)))


def worker_count(jobs: int | None) -> int:
    """``-j``, or when not given the CPUs this process may use (joblib counts cgroup limits)."""
    if jobs is not None:
        return jobs
    from joblib import cpu_count

    return int(cpu_count())


JOBS_PER_CPU = 4  # -j beyond this many workers per usable CPU is cut down to it


def jobs_cap() -> int:
    """The most workers a run starts on this machine: JOBS_PER_CPU per usable CPU."""
    return JOBS_PER_CPU * _at_most(None)


def _at_most(jobs: int | None) -> int:
    """An upper bound of :func:`worker_count` that costs no import (joblib's takes ~50 ms)."""
    if jobs is not None:
        return jobs
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def execute(
    config: Config,
    tasks: Iterable[Task],
    stores: Stores,
    jobs: int | None,
    dask: DaskBackend | None = None,
    whole_units: bool = False,
    worker_lost: Callable[[], None] = lambda: None,
    hand_over: Callable[[], Ledger | None] = lambda: None,
) -> Generator[Finished, None, None]:
    """Run tasks in this process, in ``jobs`` local workers (None: one per usable CPU), or on a dask
    cluster (``dask``), yielding what each unit did as it finishes (in this process: each task).
    ``whole_units``: each file's copies in one unit (inputs in a store, fetched once each).
    ``worker_lost`` is called when a worker may have ended mid-item (and so left a temporary file):
    a local worker died, or the work went to a cluster, whose lost workers this process cannot see.
    ``hand_over`` is called before local workers start: a :class:`Ledger` it gives is where they
    record their units themselves (the parent, which hands out work for dozens of them, then
    records nothing per item).

    If a worker process dies, the pool goes with it: the tasks that were in flight are retried in a
    fresh pool, and alone if a worker dies again (a task that kills its worker fails alone; see
    :func:`_suspects_again`); the rest of the stream goes on in a new pool.
    """
    pace = Pace()
    limit = _at_most(jobs)
    # The first units are made knowing their files' sizes (a plan of a few long files is worth the
    # workers); workers describe the rest, and hand back what does not fit in a unit.
    remaining = units(_first_described(tasks, (limit + 1) * FIRST_UNIT_ITEMS), whole=whole_units, pace=pace)
    if dask is not None:  # the cluster's own thread count decides how many run at once
        worker_lost()
        yield from _paced(
            pace, dask.run(config, remaining, stores, lambda task: _alone_in_a_worker(config, task, stores))
        )
        return
    first = list(itertools.islice(remaining, limit + 1)) if limit > 1 else []
    # -j 1, or a plan too small to gain from workers (starting them costs ~50 ms): work here. A few
    # units of long files (one 20-minute file's copies) are worth the workers.
    large = len(first) > 1 and sum(_load(unit) for unit in first) > 2 * UNIT_BYTES
    workers = worker_count(jobs) if len(first) > limit or large else 1
    if workers == 1:
        from audioaug_cli.engine.item import augment_stream  # the audio work: not imported by a finished rerun

        columns = manifest_columns(config)
        tasks_here = itertools.chain.from_iterable(itertools.chain(first, remaining))
        inputs, output, recording = stores  # (this process records: never a Ledger here)
        progress = recording if isinstance(recording, str) else None
        for outcomes in augment_stream(config, tasks_here, inputs, output, progress):
            yield Finished.of(outcomes, columns)
        return
    ledger = hand_over()
    if ledger is not None:
        stores = (stores[0], stores[1], ledger)
    yield from _paced(pace, _in_local_workers(config, itertools.chain(first, remaining), stores, workers, worker_lost))


def _paced(pace: Pace, results: Iterator[Finished]) -> Generator[Finished, None, None]:
    """The results, each unit's told to ``pace`` as it comes back."""
    try:
        for finished in results:
            pace.observe(finished)
            yield finished
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()  # stopped early: the workers go now, not when the generator is collected


def _in_local_workers(
    config: Config, remaining: Iterator[list[Task]], stores: Stores, jobs: int, worker_lost: Callable[[], None]
) -> Iterator[Finished]:
    """Units of work on worker processes; a few more are in flight than there are workers, and
    results come back as they finish."""
    while True:
        try:
            yield from _in_a_pool(config, remaining, stores, jobs)
            return
        except _PoolBroken as broken:  # a worker died, and with it the pool and what was in flight
            worker_lost()
            yield from _suspects_again(config, broken.suspects, stores, jobs)


def _suspects_again(config: Config, suspects: list[Task], stores: Stores, jobs: int) -> Iterator[Finished]:
    """The tasks that were in flight when a worker died, again: each its own unit, ``jobs`` at a
    time. If a worker dies again, the tasks then in flight run one at a time, each alone in a
    worker (so the task that kills its worker fails alone), and the rest go on the same way. Each
    death takes at least one task out, so this ends; and a fresh worker's start-up (librosa's
    compiled code loads in ~2 s) is paid by ``jobs`` workers, not by every suspect."""
    remaining = iter([[task] for task in suspects])
    while True:
        try:
            yield from _in_a_pool(config, remaining, stores, jobs)
            return
        except _PoolBroken as again:
            for task in again.suspects:
                yield _alone_in_a_worker(config, task, stores)


class _PoolBroken(Exception):
    def __init__(self, suspects: list[Task]):
        self.suspects = suspects


def _in_a_pool(config: Config, remaining: Iterator[list[Task]], stores: Stores, jobs: int) -> Iterator[Finished]:
    """Units on a pool of ``jobs`` workers, results in the order they finish. Finished futures
    arrive on a queue (each one's done-callback puts it there) rather than through
    ``concurrent.futures.wait``: a Ctrl-C that lands while ``wait`` is taking its futures' locks
    one by one leaves some of them held for ever, and the pool's own thread, cancelling those
    futures at shutdown, then waits for ever too (seen as a run that never ends after Ctrl-C)."""
    import queue
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from audioaug_cli.engine.item import augment_unit

    executor = _pool(jobs)
    in_flight: dict[Future[Finished], list[Task]] = {}
    finished_futures: queue.SimpleQueue[Future[Finished]] = queue.SimpleQueue()
    unsent: list[list[Task]] = []  # taken from the plan when the pool had just broken

    def send(count: int, from_: Iterator[list[Task]] = remaining) -> None:
        for unit in itertools.islice(from_, count):
            try:
                future = executor.submit(augment_unit, config, unit, *stores, UNIT_BYTES)
            except BrokenProcessPool:  # a worker died since the last result came back
                unsent.append(unit)
                continue
            in_flight[future] = unit
            future.add_done_callback(finished_futures.put)

    def suspects() -> _PoolBroken:
        return _PoolBroken([task for unit in [*in_flight.values(), *unsent] for task in unit])

    finished = False
    try:
        send(2 * jobs)
        while in_flight or unsent:
            if unsent:
                raise suspects()
            future = finished_futures.get()
            try:
                done = future.result()
            except BrokenProcessPool:
                raise suspects() from None
            del in_flight[future]
            if done.handed_back:  # large files the plan did not know the size of, split now
                send(sys.maxsize, units(done.handed_back))
            send(1)
            yield done
        finished = True
    finally:
        if not finished:  # stopped early (interrupted, --fail-fast, a full disk) or broken
            _stop_workers(executor)
        _shut_down(executor)


@contextmanager
def process_pool(jobs: int) -> Iterator[Any]:
    """An executor of ``jobs`` worker processes made as the run's own are (see :func:`_pool`);
    leaving the block early (Ctrl-C, an error) kills them rather than waiting."""
    executor = _pool(jobs)
    finished = False
    try:
        yield executor
        finished = True
    finally:
        if not finished:
            _stop_workers(executor)
        _shut_down(executor)


def _pool(jobs: int) -> Any:
    """Workers forked from this process once the config is checked, so that each starts with numpy,
    scipy and audiomentations already imported: a spawned worker spends ~0.6 s importing them,
    which on a corpus of a few seconds' work costs more than the parallelism saves. On Linux; macOS
    and Windows do not fork safely, and get loky's spawned workers."""
    if not sys.platform.startswith("linux"):
        from joblib.externals.loky import get_reusable_executor

        return get_reusable_executor(max_workers=jobs)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_worker_started,
        initargs=(os.getpid(),),
    )


def _worker_started(parent: int) -> None:
    """In each worker: Ctrl-C and SIGTERM are the parent's to handle (it stops the workers), and a
    worker never outlives its parent, however the parent ends (SIGKILL included)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the line above could take effect
        os._exit(1)


def _die_with_parent() -> None:
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux): sent when the forking thread ends
    except (OSError, AttributeError):
        pass


def _stop_workers(executor: Any) -> None:
    """Kill the pool's workers now, mid-item: what they were writing is a temporary file."""
    from concurrent.futures import ProcessPoolExecutor

    if not isinstance(executor, ProcessPoolExecutor):  # loky's
        executor.shutdown(wait=True, kill_workers=True)
        return
    kill = getattr(executor, "kill_workers", None)  # Python >= 3.14
    if kill is not None:
        kill()
        return
    for process in list(executor._processes.values()):  # (the standard library has no public way before 3.14)
        process.kill()


def _shut_down(executor: Any) -> None:
    from concurrent.futures import ProcessPoolExecutor

    if isinstance(executor, ProcessPoolExecutor):
        executor.shutdown(wait=True, cancel_futures=True)
    else:  # loky's, which takes no cancel_futures (nothing is queued by then)
        executor.shutdown(wait=True)


def _load(unit: list[Task]) -> int:
    return sum(max(task.source.size, 1) * len(task.copies) for task in unit)


def _first_described(tasks: Iterable[Task], count: int) -> Iterator[Task]:
    """The tasks, the first ``count`` with their sources described (see io.inputs.described)."""
    tasks = iter(tasks)
    for task in itertools.islice(tasks, count):
        yield task if task.source.fingerprint != UNDESCRIBED else replace(task, source=described(task.source))
    yield from tasks


def units(tasks: Iterable[Task], whole: bool = False, pace: Pace | None = None) -> Iterator[list[Task]]:
    """Group tasks into units of bounded work: small files together (as many as ``pace`` says),
    a large file's copies split across units, so that no worker is left with a long tail and
    results come back often. With ``whole`` (inputs in a store, where each split would fetch the
    file again), a file's copies stay in one unit."""
    unit = Unit()
    load = items = 0
    for task in tasks:
        per_copy = task.source.size or 1
        left = len(task.copies)
        cap = pace.items if pace is not None else FIRST_UNIT_ITEMS
        if items + left < cap and load + per_copy * left < UNIT_BYTES:  # the whole task, and room after it
            unit.append(task)
            items += left
            load += per_copy * left
            continue
        while left:
            room = min(left, left if whole else max(1, min((UNIT_BYTES - load) // per_copy, cap - items)))
            done = len(task.copies) - left
            unit.append(task if room == len(task.copies) else task.part(done, done + room))
            load += per_copy * room
            items += room
            left -= room
            if load >= UNIT_BYTES or items >= cap:
                yield unit
                unit, load, items = Unit(), 0, 0
    if unit:
        yield unit


def _alone_in_a_worker(config: Config, task: Task, stores: Stores) -> Finished:
    """A task that was in flight when a worker died, in a worker of its own: if it kills that
    one too, it fails alone."""
    from concurrent.futures.process import BrokenProcessPool

    from audioaug_cli.engine.item import augment_unit

    executor = _pool(1)
    try:
        done: Finished = executor.submit(augment_unit, config, [task], *stores).result()
        return done
    except BrokenProcessPool:
        source = described(task.source)
        failed = [(source.rel, copy, source.fingerprint, WORKER_DIED) for copy in task.copies]
        return Finished(failed=failed, items=len(failed))
    finally:
        _shut_down(executor)
