"""DEST, owned by the exports as `run` owns OUTPUT_DIR.

An export never replaces or deletes a file it did not write: DEST's record
(``.audioaug-export/record.json``) lists what exports wrote there, and a file of a name an export would
write or remove that the record does not list is refused before anything is written (exit 2,
naming it), unless ``--overwrite``. The record lists a file before the file is written, so a
killed export's files are still known to be its own. One export at a time holds DEST's lock (a
file lock here, a lease object in a store), and the temporaries a killed export left are removed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import IO, Any, cast

from audioaug_cli.engine.state import OutputLock
from audioaug_cli.engine.store_state import LeaseLock
from audioaug_cli.errors import UsageError
from audioaug_cli.io.atomic import TEMP_MARK
from audioaug_cli.io.store import LocalStore, ObjectStore, Store

RECORD = ".audioaug-export/record.json"
LOCK = ".audioaug-export/lock"


class OwnedDest:
    """DEST while an export holds it: what earlier exports wrote there, and the check of each
    name before it is written."""

    def __init__(self, store: Store, overwrite: bool):
        self.store = store
        self.overwrite = overwrite
        self.owned: set[str] = set()

    def _read_record(self) -> set[str]:
        try:
            found = json.loads(self.store.read_text(RECORD))
            return {str(name) for name in found["files"]}
        except FileNotFoundError:
            return set()
        except (ValueError, KeyError, TypeError):
            raise UsageError(
                f"{self.store.shown(RECORD)} is not what audioaug export writes; remove it to export into this DEST"
            ) from None

    def _write_record(self, names: Iterable[str]) -> None:
        text = json.dumps({"files": sorted(set(names))}, indent=2) + "\n"

        def write(handle: IO[str]) -> None:
            handle.write(text)

        self.store.write_text(RECORD, write)

    def claim(self, names: Iterable[str]) -> None:
        """Refuse (exit 2) if DEST holds a file of one of ``names`` that no export wrote; then
        record them all as the export's, before any is written."""
        names = set(names)
        present = self._present(names)
        foreign = sorted(present - self.owned)
        if foreign and not self.overwrite:
            more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
            raise UsageError(
                f"DEST {self.store} already holds {self.store.shown(foreign[0])}{more}, which audioaug export "
                "did not write: nothing was changed; choose another DEST, or give --overwrite to replace it"
            )
        self.owned |= names
        self._write_record(self.owned)

    def finish(self, written: Iterable[str]) -> None:
        """The export is complete: the record lists what DEST now holds of it."""
        self.owned = {name for name in self.owned if name in set(written) or self._present({name})}
        self._write_record(self.owned)

    def _present(self, names: set[str]) -> set[str]:
        return {name for name in names if name in self.top()}

    def names(self, matching: Any) -> set[str]:
        """The files at DEST's top whose names ``matching(name)`` accepts (a format's own pattern)."""
        return {name for name in self.top() if matching(name)}

    # -- what differs between the kinds of place ------------------------------------------------
    def top(self) -> set[str]:
        """The names at DEST's top."""
        raise NotImplementedError

    def check(self) -> None:
        """Refuse (UsageError) a DEST no export can write, before anything is."""

    def locked(self) -> LeaseLock | OutputLock:
        raise NotImplementedError

    def remove_temporaries(self) -> None:
        """What a killed export left (a store has none: a PUT is whole)."""


class LocalDest(OwnedDest):
    store: LocalStore

    def top(self) -> set[str]:
        return set(os.listdir(self.store.root)) if self.store.root.is_dir() else set()

    def check(self) -> None:
        if self.store.root.exists() and not self.store.root.is_dir():
            raise UsageError(f"DEST {self.store} is a file: give a folder (made if missing)")

    def locked(self) -> OutputLock:
        self.store.root.mkdir(parents=True, exist_ok=True)
        return OutputLock(self.store.root, name=LOCK, held_by="export", place="DEST")

    def remove_temporaries(self) -> None:
        for entry in os.scandir(self.store.root):
            if entry.name.endswith(TEMP_MARK) and entry.is_file(follow_symlinks=False):
                with suppress(OSError):
                    os.unlink(entry.path)


class StoreDest(OwnedDest):
    store: ObjectStore

    def top(self) -> set[str]:
        return {name for name in self.store.listing() if "/" not in name}

    def check(self) -> None:
        if self.store.read_only:
            raise UsageError(
                f"DEST {self.store} is read-only ({self.store.protocol}://): give a folder or a bucket to write to"
            )

    def locked(self) -> LeaseLock:
        return LeaseLock(self.store, name=LOCK, held_by="export", place="DEST")


def dest_place(store: Store, overwrite: bool) -> OwnedDest:
    """DEST, of its kind, checked."""
    found: OwnedDest = (
        StoreDest(store, overwrite) if isinstance(store, ObjectStore) else LocalDest(cast(LocalStore, store), overwrite)
    )
    found.check()
    return found


@contextmanager
def owned_dest(dest: OwnedDest) -> Iterator[OwnedDest]:
    """DEST with its lock held, its record read and a killed export's temporaries removed."""
    lock = dest.locked()
    lock.acquire()
    try:
        dest.owned = dest._read_record()
        dest.remove_temporaries()
        yield dest
    finally:
        lock.release()
