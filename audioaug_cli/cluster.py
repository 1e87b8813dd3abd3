"""`--backend dask`: joblib's dask backend on a dask.distributed cluster.

With a scheduler address, the run uses that cluster: its workers need audioaug installed and must
see INPUT_DIR and OUTPUT_DIR at the same paths. Without one, a LocalCluster on loopback is started
for the run (one single-threaded worker process per job) and closed after it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from .errors import UsageError

DASK_HINT = "pip install 'audioaug[dask]'"


@contextmanager
def dask_backend(scheduler: str | None, jobs: int) -> Iterator[tuple[Any, tuple[type[BaseException], ...]]]:
    """Yield (a joblib parallel_config for the cluster, the exceptions that mean a worker died)."""
    try:
        from dask.distributed import Client, LocalCluster
        from distributed.scheduler import KilledWorker
    except ImportError:
        raise UsageError(f"--backend dask needs dask.distributed, which is not installed: {DASK_HINT}") from None
    from joblib import parallel_config

    with ExitStack() as stack:
        if scheduler:
            try:
                client = stack.enter_context(Client(scheduler, timeout="10s", set_as_default=False))
            except (OSError, TimeoutError) as exc:
                raise UsageError(f"cannot reach the dask scheduler at {scheduler}: {exc}") from None
        else:
            try:
                cluster = stack.enter_context(LocalCluster(
                    host="127.0.0.1", n_workers=jobs, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.ERROR))
            except KeyboardInterrupt:
                _close_half_started()
                raise
            client = stack.enter_context(Client(cluster, set_as_default=False))
        yield parallel_config(backend="dask", client=client), (KilledWorker,)


def _close_half_started() -> None:
    """Ctrl-C while a LocalCluster starts leaves it half made, and distributed's exit hook then
    fails to close it with a 30-line traceback: close such clusters now, quietly, and forget them."""
    from distributed.deploy.spec import SpecCluster

    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    for cluster in list(SpecCluster._instances):
        try:
            cluster.close(timeout=5)
        except BaseException:  # noqa: B036 (half started: whatever closing it raises, the run is over)
            pass
        SpecCluster._instances.discard(cluster)
