"""INPUT_DIR as a run reads it: one class per kind of place (a folder on this machine, a folder in
object storage), chosen once by :func:`input_dir`, so that the run never asks which kind it has.

A store's INPUT_DIR is listed once per run, however often the run asks what it holds; its files'
headers and durations are not fetched before the work (each input is fetched once, by the worker
that augments it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from audioaug_cli.errors import UsageError
from audioaug_cli.io.inputs import Source, WalkCounts, walk_inputs, walk_store
from audioaug_cli.io.store import LocalStore, ObjectStore, Store, reason


class InputDir:
    """Where a run finds its sources."""

    store: Store
    whole_units = False  # whether each file's copies must stay in one unit of work (one GET each)

    def check(self) -> None:
        """Refuse (UsageError) an INPUT_DIR no run can read, before anything is written."""
        raise NotImplementedError

    def walk(
        self,
        output: Store,
        include: tuple[str, ...],
        exclude: tuple[str, ...],
        counts: WalkCounts | None,
        describe: bool = True,
    ) -> Iterator[Source]:
        """The audio files, in sorted order, never entering ``output`` (OUTPUT_DIR). ``describe=False``:
        a file's size and mtime may be left to the worker that reads it (see io.inputs.described)."""
        raise NotImplementedError

    def exists(self, rel: str) -> bool:
        raise NotImplementedError

    def header(self, source: Source) -> Any:
        """A context manager giving what soundfile reads a source's header from."""
        raise NotImplementedError

    def duration(self, rel: str) -> tuple[float, int] | None:
        """A file's seconds and sample rate from its header; None when not known before the work."""
        return None


class LocalInput(InputDir):
    store: LocalStore

    def __init__(self, store: LocalStore):
        self.store = store
        self.root = store.root

    def check(self) -> None:
        if not self.root.is_dir():
            raise UsageError(f"INPUT_DIR {self.root} is not a folder")

    def walk(
        self,
        output: Store,
        include: tuple[str, ...],
        exclude: tuple[str, ...],
        counts: WalkCounts | None,
        describe: bool = True,
    ) -> Iterator[Source]:
        output_dir = Path(output.path("")) if isinstance(output, LocalStore) else None
        return walk_inputs(self.root, output_dir, include, exclude, counts, describe)

    def exists(self, rel: str) -> bool:
        return os.path.lexists(self.store.path(rel))

    @contextmanager
    def header(self, source: Source) -> Iterator[Any]:
        yield source.path

    def duration(self, rel: str) -> tuple[float, int] | None:
        import soundfile

        try:
            info = soundfile.info(self.store.path(rel))
        except (OSError, RuntimeError, soundfile.LibsndfileError):
            return None  # not there (a table's row for no input), or unreadable (that input fails alone)
        return info.duration, info.samplerate


class StoreInput(InputDir):
    store: ObjectStore
    whole_units = True

    def __init__(self, store: ObjectStore):
        self.store = store
        self._listing: dict[str, dict[str, Any]] | None = None

    def listing(self) -> dict[str, dict[str, Any]]:
        if self._listing is None:
            self._listing = listed(self.store, "INPUT_DIR")
        return self._listing

    def check(self) -> None:
        self.listing()  # a missing bucket is said now

    def walk(
        self,
        output: Store,
        include: tuple[str, ...],
        exclude: tuple[str, ...],
        counts: WalkCounts | None,
        describe: bool = True,
    ) -> Iterator[Source]:
        return walk_store(self.store, self.store.inside(output), include, exclude, counts, self.listing())

    def exists(self, rel: str) -> bool:
        return rel in self.listing()

    @contextmanager
    def header(self, source: Source) -> Iterator[Any]:
        handle = self.store.fs.open(source.path, "rb", block_size=1 << 16, cache_type="readahead")
        try:
            yield handle
        finally:
            handle.close()


def input_dir(store: Store) -> InputDir:
    """The INPUT_DIR of a store, of its kind."""
    return StoreInput(store) if isinstance(store, ObjectStore) else LocalInput(_local(store))


def _local(store: Store) -> LocalStore:
    assert isinstance(store, LocalStore)
    return store


def listed(store: ObjectStore, what: str) -> dict[str, dict[str, Any]]:
    """A store's listing; a missing bucket or a refused request is a usage error (exit 2)."""
    try:
        return store.listing()
    except FileNotFoundError:
        raise UsageError(f"{what} {store}: no such bucket or container") from None
    except PermissionError:
        raise UsageError(f"{what} {store}: access denied (check the credentials)") from None
    except OSError as exc:
        raise UsageError(f"{what} {store}: cannot list it: {reason(exc)}") from None
