"""`--backend dask`: units of work submitted to a dask.distributed cluster directly.

With a scheduler address, the run uses that cluster: its workers need audioaug installed and must
see INPUT_DIR and OUTPUT_DIR at the same paths (or a store's URLs). Without one, a LocalCluster on
loopback is started for the run (one single-threaded worker process per job) and closed after it.

The config and the stores go to every worker once (scattered); each unit is one task that names
them, a few more in flight than the cluster has threads, and results come back as they finish. A
worker that dies loses its unit, which the scheduler gives to another; a unit that kills every
worker it is given (distributed's KilledWorker) has each of its files redone alone, locally.
"""

from __future__ import annotations

import itertools
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from audioaug_cli.errors import UsageError

if TYPE_CHECKING:
    from audioaug_cli.config.model import Config
    from audioaug_cli.engine.tasks import Finished, Task

DASK_HINT = "pip install 'audioaug[dask]'"


@dataclass(frozen=True)
class DaskBackend:
    """A dask cluster as a run uses it: its client, and the exceptions that mean a unit killed
    the workers it was given."""

    client: Any
    worker_lost: tuple[type[BaseException], ...]

    def run(
        self,
        config: Config,
        units: Iterator[list[Task]],
        stores: tuple[Any, ...],
        alone: Callable[[Task], Finished],
    ) -> Iterator[Finished]:
        """What each unit did, as it finishes. ``alone``: how a file of a unit that killed its
        workers is redone by itself."""
        from distributed import as_completed

        from audioaug_cli.engine.tasks import Finished

        client = self.client
        [shared] = client.scatter([(config, stores)], broadcast=True, hash=False)
        slots = 2 * max(1, sum(client.nthreads().values()))
        in_flight: dict[Any, list[Task]] = {}
        finished = as_completed(loop=client.loop)

        def send(count: int) -> None:
            for unit in itertools.islice(units, count):
                future = client.submit(_unit_on_worker, shared, unit, pure=False)
                in_flight[future] = unit
                finished.add(future)

        try:
            send(slots)
            for future in finished:
                unit = in_flight.pop(future)
                try:
                    done: Finished = future.result()
                except self.worker_lost:
                    done = Finished.joined([alone(task) for task in unit])
                send(1)
                yield done
        finally:
            if in_flight:  # stopped early (interrupted, --fail-fast, a full disk): nothing more runs
                client.cancel(list(in_flight))
            client.cancel([shared])


def _unit_on_worker(shared: tuple[Config, tuple[Any, ...]], unit: list[Task]) -> Finished:
    """A unit of work, on a dask worker (the config and stores as scattered once)."""
    from audioaug_cli.engine.item import augment_unit

    config, stores = shared
    return augment_unit(config, unit, *stores)


@contextmanager
def dask_backend(scheduler: str | None, jobs: int) -> Iterator[DaskBackend]:
    """The cluster at ``scheduler``, or a LocalCluster of ``jobs`` workers started for the run."""
    try:
        from dask.distributed import Client, LocalCluster
        from distributed.scheduler import KilledWorker
    except ImportError:
        raise UsageError(f"--backend dask needs dask.distributed, which is not installed: {DASK_HINT}") from None
    with ExitStack() as stack:
        if scheduler:
            _refused(scheduler)
            try:
                client = stack.enter_context(Client(scheduler, timeout="10s", set_as_default=False))
            except (OSError, TimeoutError) as exc:
                raise UsageError(f"cannot reach the dask scheduler at {scheduler}: {exc}") from None
            except ValueError as exc:  # distributed's reading of the address
                raise UsageError(
                    f"--scheduler {scheduler!r} is not a dask scheduler address (e.g. tcp://10.0.0.5:8786): {exc}"
                ) from None
        else:
            import dask

            # Its workers forked from this process once the config is checked (on Linux, as local
            # workers are): spawned, each imports distributed, numpy and the transforms again, which
            # cost a short job more CPU than its items (0.8 s wall, 1.3 CPU-s for 2 workers; forked: 0.3 s).
            if sys.platform.startswith("linux"):
                stack.enter_context(dask.config.set({"distributed.worker.multiprocessing-method": "fork"}))
            # Its workers' statistical profiler (a stack sample every 10 ms, for the dashboard,
            # which this cluster does not serve) is off.
            stack.enter_context(dask.config.set({"distributed.worker.profile.enabled": False}))
            with _ctrl_c_deferred():
                cluster = stack.enter_context(
                    LocalCluster(
                        host="127.0.0.1",
                        n_workers=jobs,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                        silence_logs=logging.ERROR,
                    )
                )
                client = stack.enter_context(Client(cluster, set_as_default=False, direct_to_workers=True))
                client.register_plugin(_quiet_shutdown())
        yield DaskBackend(client, (KilledWorker,))


def _refused(scheduler: str) -> None:
    """A tcp:// scheduler whose port refuses connections is said at once: distributed would retry
    for its whole connect timeout (10 s) before giving up on an address nothing listens at."""
    import socket

    if "://" in scheduler and not scheduler.startswith("tcp://"):
        return  # tls://, ucx://, ...: distributed's own connect says
    host, _colon, port = scheduler.removeprefix("tcp://").rpartition(":")
    if not host or not port.isdigit():
        return  # malformed: distributed's reading of it says how
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=3).close()
    except ConnectionRefusedError:
        raise UsageError(f"cannot reach the dask scheduler at {scheduler}: connection refused") from None
    except OSError:
        return  # unreachable, or slow: distributed's connect, with its timeout, says


def drop_distributed_cleanup_reports() -> None:
    """In a process of the run's own: a dask client that outlives its event loop (in a worker that
    is being stopped) reports from ``Client.__del__`` that the loop is closed, a traceback that
    says nothing. Those reports, and only those, are dropped."""
    previous = sys.unraisablehook
    if getattr(previous, "audioaug", False):
        return

    def hook(unraisable: Any) -> None:
        if not getattr(unraisable.object, "__module__", "").startswith("distributed"):
            previous(unraisable)

    hook.audioaug = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook


def _quiet_shutdown() -> Any:
    """A worker plugin for the LocalCluster a run starts for itself (never a user's cluster)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class QuietShutdown(WorkerPlugin):
        name = "audioaug-quiet-shutdown"

        def setup(self, worker: Any) -> None:
            drop_distributed_cleanup_reports()

    return QuietShutdown()


@contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Ctrl-C while a local cluster starts (a second or two) takes effect once it has started.
    Interrupted half way, distributed leaves a cluster and a client half made, whose cleanup then
    prints tracebacks at exit; started, they close like any other. (Its workers, started within,
    leave Ctrl-C to this process, as the run's own workers do.)"""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
