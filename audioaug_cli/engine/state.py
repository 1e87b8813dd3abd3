"""What a run has finished, kept in OUTPUT_DIR/.audioaug/state.sqlite so that a rerun resumes.

The parent process writes it (it may be read from more than one thread, hence the lock), but on a
first run with local workers: there each worker records its own units through a connection of its
own (engine.ledger), and the parent, which then asks nothing of the state, records
nothing per item. sqlite's journal makes every commit all-or-nothing, so a kill at any moment
leaves the state as of the last commit; items done after that are simply done again, with the
same bytes.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

from audioaug_cli.engine.tasks import Record, record_of
from audioaug_cli.errors import DISK_FULL_ERRNOS, DiskFullError, UsageError
from audioaug_cli.io.manifest import ManifestRow

STATE_DIR = ".audioaug"
COMMIT_EVERY_SECONDS = 1.0
LOCK = "lock"
RESERVE = "reserve"
RESERVE_BYTES = 1 << 20  # freed when the disk fills up, so that what finished can still be recorded
# A record is ~600 bytes (its row's JSON and manifest line): on 16 KiB pages the parent spends
# about a quarter less CPU recording each than on sqlite's default 4 KiB (bench.py's record_cost).
PAGE_SIZE = 16384

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outputs (
    source TEXT NOT NULL, copy INTEGER NOT NULL, fingerprint TEXT NOT NULL,
    file_name TEXT NOT NULL, row TEXT NOT NULL, line TEXT, PRIMARY KEY (source, copy));
CREATE TABLE IF NOT EXISTS failures (
    source TEXT NOT NULL, copy INTEGER NOT NULL, fingerprint TEXT NOT NULL,
    error TEXT NOT NULL, PRIMARY KEY (source, copy));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
DESCRIBED = "described"  # what the manifest and the files beside it were last written from
_SEEN = "CREATE TEMP TABLE seen (source TEXT PRIMARY KEY)"  # the inputs this run's walk found


class OutputLock:
    """Held by a run for as long as it writes to OUTPUT_DIR, so that a second run started on the
    same OUTPUT_DIR is refused before it touches anything. The kernel releases it when the
    process ends, however it ends (SIGKILL included), so a rerun is never locked out."""

    def __init__(
        self, output_dir: Path, name: str = f"{STATE_DIR}/{LOCK}", held_by: str = "run", place: str = "OUTPUT_DIR"
    ):
        self.output_dir = output_dir
        self.name = name  # the lock file, relative to the folder
        self.held_by, self.place = held_by, place  # how messages name the holder and the folder
        self.fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        path = self.output_dir / self.name
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise UsageError(
                f"another audioaug {self.held_by} (pid {holder}) is writing to {self.place} {self.output_dir}; "
                f"wait for it to finish, or choose another {self.place}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        _held.add(self)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the lock; the file stays, empty of meaning
            self.fd = None
        _held.discard(self)


_held: weakref.WeakSet[OutputLock] = weakref.WeakSet()


def _close_in_child() -> None:
    """A forked worker must not keep the lock alive after its parent is gone."""
    for lock in list(_held):
        if lock.fd is not None:
            with suppress(OSError):
                os.close(lock.fd)
            lock.fd = None


os.register_at_fork(after_in_child=_close_in_child)


class RunState:
    def __init__(self, output_dir: Path, readonly: bool = False, reserve: bool = True, timeout: float = 5.0):
        self.path = path = output_dir / STATE_DIR / "state.sqlite"
        self.readonly = readonly
        self.handed_over = False  # whether the workers record (see hand_over)
        self._counts: dict[str, int] = {}  # counts() as handed over
        self.lock = threading.Lock()
        self.reserve = output_dir / STATE_DIR / RESERVE
        if readonly:
            target, uri = (f"file:{path}?mode=ro", True) if path.exists() else (":memory:", False)
            self.db = sqlite3.connect(target, uri=uri, check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = self._connect(timeout)
            if reserve:
                self._keep_reserve()
        if not readonly or not path.exists():
            self.db.executescript(_SCHEMA)
        self.has_lines = self._line_column()
        if readonly:
            self.db.execute(_SEEN)
        self._seen: list[tuple[str]] = []  # marked, not yet inserted: a batch at a time
        self._last_commit = time.monotonic()
        self._changed = False
        self._refresh_flags()

    def _connect(self, timeout: float = 5.0) -> sqlite3.Connection:
        """A connection to write through (``timeout``: how long to wait for another's transaction)."""
        db = sqlite3.connect(self.path, check_same_thread=False, timeout=timeout)
        db.execute(f"PRAGMA page_size={PAGE_SIZE}")  # (a state made before keeps its own)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(_SEEN)
        return db

    def _line_column(self) -> bool:
        """Whether records keep their manifest line: a state written before they did gains the
        column (empty), unless read-only."""
        columns = {name for _cid, name, *_rest in self.db.execute("PRAGMA table_info(outputs)")}
        if "line" not in columns and not self.readonly:
            self.db.execute("ALTER TABLE outputs ADD COLUMN line TEXT")
            return True
        return "line" in columns

    def _refresh_flags(self) -> None:
        """Whether any output or failure is recorded: a first run asks nothing of an empty table."""
        self.has_outputs = self.db.execute("SELECT 1 FROM outputs LIMIT 1").fetchone() is not None
        self.had_outputs = self.has_outputs
        self.has_failures = self.db.execute("SELECT 1 FROM failures LIMIT 1").fetchone() is not None
        self.tracks_seen = self.has_outputs or self.has_failures

    def _keep_reserve(self) -> None:
        """Set aside room on OUTPUT_DIR's filesystem for the last records of a run that fills it."""
        fd = os.open(self.reserve, os.O_WRONLY | os.O_CREAT, 0o666)
        try:
            os.posix_fallocate(fd, 0, RESERVE_BYTES)
        except OSError as exc:
            if exc.errno in DISK_FULL_ERRNOS:
                raise DiskFullError(
                    f"the filesystem of {self.reserve.parent.parent} is full: nothing was done; "
                    "free some space and rerun"
                ) from None
            # a filesystem without fallocate: run without a reserve
        finally:
            os.close(fd)

    def free_reserve(self) -> None:
        with suppress(OSError):
            self.reserve.unlink()

    def done_copies(self, source: str, fingerprint: str) -> set[int]:
        """The copies of a source recorded for this fingerprint (one query for all of them). A
        state that was empty when the run began has none (this run's walk meets each source once)."""
        if not self.had_outputs:
            return set()
        with self.lock:
            found = self.db.execute("SELECT copy FROM outputs WHERE source=? AND fingerprint=?", (source, fingerprint))
            return {copy for (copy,) in found}

    def done_copies_of(self, sources: list[tuple[str, str]]) -> dict[str, set[int]]:
        """:meth:`done_copies` of many (source, fingerprint) at once (a few hundred: one query)."""
        if not self.had_outputs or not sources:
            return {}
        wanted = dict(sources)
        done: dict[str, set[int]] = {}
        with self.lock:
            found = self.db.execute(
                f"SELECT source, fingerprint, copy FROM outputs WHERE source IN ({','.join('?' * len(wanted))})",
                tuple(wanted),
            )
            for source, fingerprint, copy in found:
                if wanted[source] == fingerprint:
                    done.setdefault(source, set()).add(copy)
        return done

    def record_output(self, row: ManifestRow, fingerprint: str) -> None:
        self.record_outputs([record_of(row, fingerprint)])

    def record_outputs(self, made: list[Record]) -> None:
        """Record finished items (a worker's unit at a time: one statement for all of them)."""
        with self.lock:
            self._insert(made)
            self._change()
            self._maybe_commit()

    def _insert(self, made: list[Record]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO outputs VALUES (?, ?, ?, ?, ?, ?)", made)
        if self.has_failures:
            self.db.executemany(
                "DELETE FROM failures WHERE source=? AND copy=?", [(record[0], record[1]) for record in made]
            )
        self.has_outputs = True

    def record_failure(self, source: str, copy: int, fingerprint: str, error: str) -> tuple[str, ...]:
        """Record a failed item; return the files of a stale output it had, to be removed."""
        with self.lock:
            stale = self._failed(source, copy, fingerprint, error)
            self._change()
            self._maybe_commit()
        return stale

    def _failed(self, source: str, copy: int, fingerprint: str, error: str) -> tuple[str, ...]:
        old = self.db.execute("SELECT row FROM outputs WHERE source=? AND copy=?", (source, copy)).fetchone()
        self.db.execute("DELETE FROM outputs WHERE source=? AND copy=?", (source, copy))
        self.db.execute("INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?)", (source, copy, fingerprint, error))
        self.has_failures = True
        return ManifestRow.from_json(old[0]).files if old else ()

    # -- workers that record their own units ---------------------------------------------------
    def hand_over(self) -> None:
        """Let the worker processes record their units themselves, each through its own connection
        (see engine.ledger). This process's connection is closed first: one open while workers are
        forked would carry sqlite's locks into them. Until :meth:`take_back`, nothing here touches
        the database; what a worker could not record comes back to the parent, to record then."""
        with self.lock:
            self.commit()
            self._counts = self.counts()
            self.db.close()
            self.handed_over = True

    def take_back(self) -> None:
        """The workers are done: this process's connection again, and what they recorded."""
        with self.lock:
            if not self.handed_over:
                return
            self.db = self._connect()
            self.handed_over = False
            had_outputs, tracks_seen = self.had_outputs, self.tracks_seen  # as the run began
            self._refresh_flags()
            self.had_outputs, self.tracks_seen = had_outputs, tracks_seen
            if self.has_outputs or self.has_failures:
                self._changed = True  # (a worker's first record dropped the description)

    def record_unit(self, made: list[Record], failed: list[tuple[str, int, str, str]]) -> list[str]:
        """A worker's unit, recorded by the worker: one transaction that takes the write lock before
        anything (other workers write too); return the files of stale outputs, to be removed."""
        stale: list[str] = []
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                if made:
                    self._insert(made)
                for source, copy, fingerprint, error in failed:
                    stale += self._failed(source, copy, fingerprint, error)
                self.db.execute("DELETE FROM meta WHERE key=?", (DESCRIBED,))
                self.db.commit()
            except BaseException:
                self.db.rollback()
                raise
        return stale

    def mark_seen_all(self, sources: list[str]) -> None:
        """Note that the walk found these inputs in this run (see :meth:`unseen_sources`): only while
        the state held records when read (else every record is of a source this run found)."""
        if self.tracks_seen:
            self._seen += [(source,) for source in sources]
        if len(self._seen) >= 1000:
            self._flush_seen()

    def _flush_seen(self) -> None:
        with self.lock:
            self.db.executemany("INSERT OR IGNORE INTO seen VALUES (?)", self._seen)
            self._seen = []

    def unseen_sources(self) -> list[str]:
        """Inputs with recorded outputs or failures that this run's walk did not find."""
        if not self.tracks_seen:
            return []  # all recorded by this run, of sources it found
        self._flush_seen()
        with self.lock:
            found = self.db.execute(
                "SELECT source FROM outputs WHERE source NOT IN (SELECT source FROM seen) UNION "
                "SELECT source FROM failures WHERE source NOT IN (SELECT source FROM seen) ORDER BY source"
            )
            return [s for (s,) in found]

    def forget_source(self, source: str, keep_outputs: bool) -> list[str]:
        """Drop an input's failures, and unless keep_outputs its outputs; return their file names."""
        with self.lock:
            self.db.execute("DELETE FROM failures WHERE source=?", (source,))
            names = [
                name
                for (row,) in self.db.execute("SELECT row FROM outputs WHERE source=?", (source,))
                for name in ManifestRow.from_json(row).files
            ]
            if not keep_outputs:
                self.db.execute("DELETE FROM outputs WHERE source=?", (source,))
            self._change()
            return names

    def rows(self) -> Iterator[ManifestRow]:
        """Manifest rows of every output in OUTPUT_DIR, sorted by (source, copy)."""
        for (row,) in self.db.execute("SELECT row FROM outputs ORDER BY source, copy"):
            yield ManifestRow.from_json(row)

    def manifest_lines(self, columns: tuple[str, ...]) -> Iterator[tuple[str, str]]:
        """(source, manifest line) of every output, sorted by (source, copy): the line its worker
        made, or one made here from the row (recorded from a store's journal, or by an older
        version)."""
        line = "line" if self.has_lines else "NULL"
        query = f"SELECT source, {line}, CASE WHEN {line} IS NULL THEN row END FROM outputs ORDER BY source, copy"
        for source, text, row in self.db.execute(query):  # (a row's JSON is read only when it has no line)
            yield source, text if text is not None else ManifestRow.from_json(row).line(columns)

    def errors(self) -> Iterator[tuple[str, str]]:
        """(source, error) for every failed input: its first failed copy's reason."""
        yield from self.db.execute(
            "SELECT source, error FROM failures f WHERE copy = "
            "(SELECT MIN(copy) FROM failures g WHERE g.source = f.source) ORDER BY source"
        )

    def counts(self) -> dict[str, int]:
        if self.handed_over:
            return dict(self._counts)  # as handed over
        outputs = self.db.execute("SELECT COUNT(*), COUNT(DISTINCT source) FROM outputs").fetchone()
        failed = self.db.execute("SELECT COUNT(DISTINCT source) FROM failures").fetchone()
        return {"outputs": outputs[0], "sources": outputs[1], "failed_inputs": failed[0]}

    def file_names(self) -> Iterator[str]:
        """Every file of every recorded output (a row's JSON read only when it has a feature file)."""
        for file_name, row in self.db.execute("SELECT file_name, row FROM outputs ORDER BY source, copy"):
            yield file_name
            if '"feature_file": null' not in row or '"stems": null' not in row:
                yield from ManifestRow.from_json(row).files[1:]

    def _change(self) -> None:
        """The records are changing: what the manifest was written from no longer holds (dropped in
        the same transaction as the change, so a run killed before its manifest leaves none)."""
        if not self._changed:
            self.db.execute("DELETE FROM meta WHERE key=?", (DESCRIBED,))
            self._changed = True

    @property
    def changed(self) -> bool:
        """Whether this run recorded or forgot anything."""
        return self._changed

    def described(self) -> str | None:
        """What the manifest and the files beside it were last written from, if the records have not
        changed since."""
        try:
            found = self.db.execute("SELECT value FROM meta WHERE key=?", (DESCRIBED,)).fetchone()
        except sqlite3.OperationalError:  # a state from a version without the table, read-only
            return None
        return found[0] if found else None

    def disown(self) -> None:
        """Another run holds OUTPUT_DIR now: write nothing more of this state there."""

    def describe(self, value: str) -> None:
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (DESCRIBED, value))
            self.commit()

    def _maybe_commit(self) -> None:
        if time.monotonic() - self._last_commit >= COMMIT_EVERY_SECONDS:
            self.commit()

    def commit(self) -> None:
        """Make what is recorded so far survive a kill. Called with the lock held, or at the end."""
        if not self.readonly:
            self.db.commit()
        self._last_commit = time.monotonic()

    def close(self) -> None:
        with self.lock:
            try:
                if not self.handed_over:  # (else its connection is closed already: the workers committed)
                    self.commit()
            finally:
                self.db.close()
                if not self.readonly:
                    self.free_reserve()
