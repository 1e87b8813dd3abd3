"""OUTPUT_DIR as a run writes it: one class per kind of place, chosen once by :func:`output_dir`
(through :func:`~audioaug_cli.engine.places.open_places`), so that the run never asks which kind
it has.

Both kinds keep the same promises and differ in how: a folder on this machine has a file lock
(taken before anything changes), a SQLite resume state, temporaries that a killed worker can
leave, and the stat of a file to tell that nobody changed it; a folder in object storage has a
lease lock (taken only when there is something to write, so that a finished rerun writes
nothing), a journal of objects, no temporaries (a PUT is whole), and one listing per run.

What both do alike: never replace a file audioaug did not write (:meth:`OutputDir.refuse_foreign_files`:
a run finding one where it would write is refused, naming it), ``--overwrite`` removes only what
audioaug wrote, ``--prune`` only the outputs of vanished inputs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from audioaug_cli.engine.input_dir import listed
from audioaug_cli.engine.ledger import Ledger, handed_over
from audioaug_cli.engine.provenance import PROVENANCE, read_provenance
from audioaug_cli.engine.state import LOCK, STATE_DIR, OutputLock, RunState
from audioaug_cli.engine.store_state import JOURNAL, LeaseLock, StoreState
from audioaug_cli.errors import DiskFullError, UsageError, is_disk_full
from audioaug_cli.io.atomic import TEMP_MARK, remove_temporaries
from audioaug_cli.io.manifest import ERRORS
from audioaug_cli.io.segments import SEGMENTS
from audioaug_cli.io.store import LocalStore, ObjectStore, Store, reason

_OUTPUT_NAME = re.compile(r"__aug\d+\.[A-Za-z0-9]+$")  # what item_files names: stem__augN.ext
Rewrite = Callable[[Store], None]  # writes the files that describe OUTPUT_DIR into a store
Describing = tuple[str, ...]  # their names: the manifest, errors.csv, audioaug.json, segments.csv


class OutputDir:
    """Where a run writes: outputs, the files that describe them, the resume state and the lock."""

    store: Store

    def __str__(self) -> str:
        return str(self.store)

    # -- what is there ------------------------------------------------------------------------
    def present(self, name: str) -> bool:
        """Whether a file is there (as the run found OUTPUT_DIR, on a store)."""
        raise NotImplementedError

    def taken(self, name: str) -> bool:
        """Whether anything at all has that name (a file, a folder, a link): a run may not write there."""
        return self.present(name)

    def has_output(self, name: str) -> bool:
        """Whether an item's file is there, as the run found OUTPUT_DIR (how a rerun knows what
        is done: from one listing where the run made one)."""
        return self.present(name)

    def listing(self) -> set[str] | None:
        """Every file in OUTPUT_DIR from one listing, where that is how a place is read (a store)."""
        return None

    def forget_listing(self) -> None:
        """OUTPUT_DIR changed (another run wrote to it, --overwrite emptied it)."""

    def _output_like(self) -> set[str]:
        raise NotImplementedError

    # -- the lock and the resume state --------------------------------------------------------
    def begin(self) -> None:
        """Before the run looks at its state: a local folder's lock is taken now."""

    def claim(self, state: RunState | None) -> None:
        """Before the first change to OUTPUT_DIR: a store's lock is taken now (and the state read
        again if another run changed it in the meantime)."""

    def release(self) -> None:
        raise NotImplementedError

    @property
    def claimed(self) -> bool:
        """Whether the run may change OUTPUT_DIR now (its lock is held)."""
        return True

    @property
    def lost(self) -> str | None:
        """Why the lock was lost while held (a store's lease, taken over), if it was."""
        return None

    def has_state(self) -> bool:
        raise NotImplementedError

    def open_state(self, readonly: bool = False) -> RunState:
        raise NotImplementedError

    def worker_parts(self, state: RunState) -> str | None:
        """Where workers record what they wrote while a unit runs (None: only the parent records)."""
        return None

    def hand_over(self, state: RunState) -> Ledger | None:
        """Before local workers start: where they record their own units (engine.ledger), if they do."""
        return None

    # -- before and after the work -------------------------------------------------------------
    def prepare(self) -> None:
        """Before the work: the folder made, a killed run's temporaries removed."""

    def clean_up(self) -> None:
        """After workers may have been stopped mid-write: their temporaries removed."""

    def unchanged(self, state: RunState, names: Describing, description: str, rewrite: Rewrite) -> bool:
        """Whether the files ``names`` (the manifest and those beside it), written from ``description``
        by ``rewrite``, are already what OUTPUT_DIR holds (then a finished rerun writes nothing)."""
        raise NotImplementedError

    def described(self, state: RunState, names: Describing, description: str) -> None:
        """Those files were just written from ``description``."""

    def removed(self, names: Iterable[str]) -> int:
        """Delete outputs (``--prune``); return how many files went."""
        raise NotImplementedError

    def _remove_recorded(self, names: list[str]) -> None:
        raise NotImplementedError

    # -- kind-independent ------------------------------------------------------------------------
    def remove_previous_run(self) -> None:
        """--overwrite: delete what audioaug wrote here before, and nothing else (the lock stays held)."""
        if not self.has_state():
            return
        state = self.open_state(readonly=True)
        names = list(state.file_names())
        state.close()
        try:
            previous = read_provenance(self.store)
        except UsageError:
            previous = None
        if previous is not None:
            names.append(previous.config["output"]["manifest"])
        self._remove_recorded([*names, ERRORS, PROVENANCE, SEGMENTS])
        self.forget_listing()

    def refuse_foreign_files(
        self, manifest: str, planned: Callable[[], Iterable[str]], segments: bool, overwrite: bool = False
    ) -> None:
        """Raise UsageError if a file audioaug did not write sits where this run would write.

        ``planned()`` gives the output files this run may write; it is only called when OUTPUT_DIR
        holds files with output-like names that no run recorded, so a first run into a new folder,
        or a rerun of a clean one, never walks INPUT_DIR for it. With ``overwrite``, an audioaug.json
        that cannot be read, beside a resume state, is a damaged record of audioaug's own: the run
        replaces it, and the files it describes, as the message that refuses a resume says."""
        written = (manifest, ERRORS, PROVENANCE, *((SEGMENTS,) if segments else ()))
        try:
            previous = read_provenance(self.store)
        except UsageError:
            if not overwrite:
                raise
            if not self.has_state():
                raise self._refusal(PROVENANCE) from None
            previous, ours = None, set(written)
        else:
            ours = {PROVENANCE, ERRORS, previous.config["output"]["manifest"]} if previous is not None else set()
        if previous is not None and previous.config.get("segments"):
            ours.add(SEGMENTS)
        for name in (config_name for config_name in written if config_name not in ours):
            if self.taken(name):
                raise self._refusal(name)
        if previous is not None and previous.status != "complete":
            # The last run was stopped: what it wrote after its last commit is not recorded yet, and
            # a rerun writes those same files again. Only a finished run has recorded all it wrote.
            return
        candidates = self._output_like()
        if candidates and self.has_state():
            state = self.open_state(readonly=True)
            try:
                candidates -= set(state.file_names())
            finally:
                state.close()
        clash = sorted(candidates.intersection(planned())) if candidates else []
        if clash:
            raise self._refusal(clash[0], len(clash))

    def _refusal(self, name: str, count: int = 1) -> UsageError:
        more = f" (and {count - 1} more)" if count > 1 else ""
        return UsageError(
            f"OUTPUT_DIR {self} already holds {name}{more}, which no audioaug run wrote, where this "
            "run would write; audioaug never replaces a file it did not write: move it away, or choose "
            "another OUTPUT_DIR"
        )


class LocalOutput(OutputDir):
    store: LocalStore

    def __init__(self, store: LocalStore):
        self.store = store
        self.root = store.root
        self.lock = OutputLock(store.root)
        self._outputs: set[str] | None = None  # the output-like files, when a check listed them

    def present(self, name: str) -> bool:
        return self.store.is_file(name)

    def has_output(self, name: str) -> bool:
        """From the listing :meth:`refuse_foreign_files` made of a finished OUTPUT_DIR: a rerun
        then lists each folder once instead of asking for every output file it recorded."""
        if self._outputs is not None:
            return name in self._outputs
        return self.present(name)

    def forget_listing(self) -> None:
        self._outputs = None

    def taken(self, name: str) -> bool:
        return os.path.lexists(self.store.path(name))

    def _output_like(self) -> set[str]:
        found: set[str] = set()
        if not self.root.is_dir():
            return found
        for root, dirs, files in os.walk(self.root):
            if root == str(self.root):
                dirs[:] = [d for d in dirs if d != STATE_DIR]
            rel_root = os.path.relpath(root, self.root).replace(os.sep, "/")
            for name in files:
                if _OUTPUT_NAME.search(name) and not name.endswith(TEMP_MARK):
                    found.add(name if rel_root == "." else f"{rel_root}/{name}")
        self._outputs = set(found)
        return found

    def begin(self) -> None:
        """The lock is the first thing a run writes: a folder it cannot write is a usage error."""
        try:
            self.lock.acquire()
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFullError(
                    f"no space left on the filesystem of OUTPUT_DIR {self}: nothing was done; free some space and rerun"
                ) from None
            raise UsageError(f"cannot write to OUTPUT_DIR {self}: {exc.strerror or exc}; nothing was written") from None

    def release(self) -> None:
        self.lock.release()

    def has_state(self) -> bool:
        return (self.root / STATE_DIR / "state.sqlite").exists()

    def open_state(self, readonly: bool = False) -> RunState:
        return RunState(self.root, readonly)

    def hand_over(self, state: RunState) -> Ledger | None:
        return handed_over(state, self.root)

    def prepare(self) -> None:
        """The folder made, and the temporaries of a run killed or stopped mid-item removed. After
        a finished run only the folder's own files are looked at (a rerun that rewrote the manifest
        may have been killed doing so): that run removed whatever its workers left, and the output
        tree, which may hold millions of files, is not walked again."""
        self.root.mkdir(parents=True, exist_ok=True)
        previous = read_provenance(self.store)
        remove_temporaries(self.root, deep=previous is None or previous.status != "complete")

    def clean_up(self) -> None:
        remove_temporaries(self.root)

    def unchanged(self, state: RunState, names: Describing, description: str, rewrite: Rewrite) -> bool:
        return not state.changed and state.described() == self._as_found(names, description)

    def described(self, state: RunState, names: Describing, description: str) -> None:
        state.describe(self._as_found(names, description))

    def _as_found(self, names: Describing, description: str) -> str:
        """The description with each described file's size, mtime and inode as found now (or its
        absence): a file someone changed or removed since is written again."""
        found: dict[str, list[int] | None] = {}
        for name in names:
            try:
                st = os.stat(self.store.path(name))
            except OSError:
                found[name] = None
            else:
                found[name] = [st.st_size, st.st_mtime_ns, st.st_ino]
        return json.dumps({"from": description, "files": found})

    def removed(self, names: Iterable[str]) -> int:
        """Then the folders this left empty go too (never OUTPUT_DIR, nor a folder empty before)."""
        removed = 0
        emptied: set[Path] = set()
        for name in names:
            path = self.root / name
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            removed += 1
            emptied.add(path.parent)
        for folder in sorted(emptied, key=lambda p: len(p.parts), reverse=True):
            while folder != self.root and folder.is_relative_to(self.root):
                try:
                    folder.rmdir()  # only an empty folder goes
                except OSError:
                    break
                folder = folder.parent
        return removed

    def _remove_recorded(self, names: list[str]) -> None:
        for name in names:
            (self.root / name).unlink(missing_ok=True)
        for entry in (self.root / STATE_DIR).iterdir():
            if entry.name != LOCK:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


class StoreOutput(OutputDir):
    store: ObjectStore

    def __init__(self, store: ObjectStore):
        self.store = store
        self.lock = LeaseLock(store)  # taken by claim(): a finished rerun writes nothing, lock included
        self._listing: set[str] | None = None

    def listing(self) -> set[str]:
        if self._listing is None:
            self._listing = set(listed(self.store, "OUTPUT_DIR"))
        return self._listing

    def forget_listing(self) -> None:
        self._listing = None

    def present(self, name: str) -> bool:
        return name in self.listing()

    def _output_like(self) -> set[str]:
        return {
            name
            for name in self.listing()
            if not name.startswith(STATE_DIR + "/") and _OUTPUT_NAME.search(name) and not name.endswith(TEMP_MARK)
        }

    def claim(self, state: RunState | None) -> None:
        if self.lock.held:
            return
        try:
            self.lock.acquire()
        except OSError as exc:
            raise UsageError(f"cannot write to OUTPUT_DIR {self}: {reason(exc)}") from None
        if isinstance(state, StoreState):
            state.holds_lock = True
            if state.refresh():
                self.forget_listing()

    def release(self) -> None:
        self.lock.release()

    @property
    def lost(self) -> str | None:
        return self.lock.lost

    @property
    def claimed(self) -> bool:
        return self.lock.held

    def has_state(self) -> bool:
        return any(name.startswith(JOURNAL + "/") for name in self.listing())

    def open_state(self, readonly: bool = False) -> RunState:
        return StoreState(self.store, readonly, self.listing())

    def worker_parts(self, state: RunState) -> str | None:
        return state.worker_parts() if isinstance(state, StoreState) else None

    def unchanged(self, state: RunState, names: Describing, description: str, rewrite: Rewrite) -> bool:
        """A store has no stat of this machine's: the files are written again into a scratch folder
        and compared with the objects, byte for byte."""
        if state.changed:
            return False
        with tempfile.TemporaryDirectory(prefix="audioaug-compare-") as folder:
            rewrite(LocalStore(Path(folder)))
            for name in names:
                mine = Path(folder, name)
                there = name in self.listing()
                if mine.exists() != there or (there and self.store.read_bytes(name) != mine.read_bytes()):
                    return False
        return True

    def removed(self, names: Iterable[str]) -> int:
        """No folders to empty: a prefix with no objects is gone already."""
        present = [name for name in sorted(set(names)) if self.store.is_file(name)]
        self.store.remove_many(present)
        return len(present)

    def _remove_recorded(self, names: list[str]) -> None:
        journal = sorted(self.store.listing(JOURNAL))
        self.store.remove_many([name for name in names if name in self.listing()] + journal)


def output_dir(store: Store) -> OutputDir:
    """The OUTPUT_DIR of a store, of its kind."""
    if isinstance(store, ObjectStore):
        return StoreOutput(store)
    assert isinstance(store, LocalStore)
    return LocalOutput(store)
