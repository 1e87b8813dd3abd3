"""What a run has finished, kept in OUTPUT_DIR/.audioaug/state.sqlite so that a rerun resumes.

Only the parent process writes it (joblib reads the plan from its dispatch thread, hence the
lock). sqlite's journal makes every commit all-or-nothing, so a
kill at any moment leaves the state as of the last commit; items done after that are simply done
again, with the same bytes.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

from audioaug_cli.errors import DISK_FULL, DiskFullError, UsageError
from audioaug_cli.io.manifest import ManifestRow
from audioaug_cli.io.store import LocalStore, ObjectStore, Store, modified_at, version_tag

STATE_DIR = ".audioaug"
COMMIT_EVERY_SECONDS = 1.0
LOCK = "lock"
RESERVE = "reserve"
RESERVE_BYTES = 1 << 20  # freed when the disk fills up, so that what finished can still be recorded

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outputs (
    source TEXT NOT NULL, copy INTEGER NOT NULL, fingerprint TEXT NOT NULL,
    file_name TEXT NOT NULL, row TEXT NOT NULL, PRIMARY KEY (source, copy));
CREATE TABLE IF NOT EXISTS failures (
    source TEXT NOT NULL, copy INTEGER NOT NULL, fingerprint TEXT NOT NULL,
    error TEXT NOT NULL, PRIMARY KEY (source, copy));
"""


class OutputLock:
    """Held by a run for as long as it writes to OUTPUT_DIR, so that a second run started on the
    same OUTPUT_DIR is refused before it touches anything. The kernel releases it when the
    process ends, however it ends (SIGKILL included), so a rerun is never locked out."""

    def __init__(self, output_dir: Path):
        self.output_dir = output_dir
        self.fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        self.output_dir.mkdir(parents=True, exist_ok=True)
        folder = self.output_dir / STATE_DIR
        folder.mkdir(exist_ok=True)
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise UsageError(
                f"another audioaug run (pid {holder}) is writing to OUTPUT_DIR {self.output_dir}; "
                "wait for it to finish, or choose another OUTPUT_DIR"
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
    def __init__(self, output_dir: Path, readonly: bool = False, reserve: bool = True):
        path = output_dir / STATE_DIR / "state.sqlite"
        self.readonly = readonly
        self.lock = threading.Lock()
        self.reserve = output_dir / STATE_DIR / RESERVE
        if readonly:
            target, uri = (f"file:{path}?mode=ro", True) if path.exists() else (":memory:", False)
            self.db = sqlite3.connect(target, uri=uri, check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            if reserve:
                self._keep_reserve()
        if not readonly or not path.exists():
            self.db.executescript(_SCHEMA)
        self.db.execute("CREATE TEMP TABLE seen (source TEXT PRIMARY KEY)")
        self._seen: list[tuple[str]] = []  # marked, not yet inserted: a batch at a time
        self._last_commit = time.monotonic()
        self._refresh_flags()

    def _refresh_flags(self) -> None:
        """Whether any output or failure is recorded: a first run asks nothing of an empty table."""
        self.has_outputs = self.db.execute("SELECT 1 FROM outputs LIMIT 1").fetchone() is not None
        self.had_outputs = self.has_outputs
        self.has_failures = self.db.execute("SELECT 1 FROM failures LIMIT 1").fetchone() is not None

    def _keep_reserve(self) -> None:
        """Set aside room on OUTPUT_DIR's filesystem for the last records of a run that fills it."""
        fd = os.open(self.reserve, os.O_WRONLY | os.O_CREAT, 0o666)
        try:
            os.posix_fallocate(fd, 0, RESERVE_BYTES)
        except OSError as exc:
            if exc.errno in DISK_FULL:
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

    def record_output(self, row: ManifestRow, fingerprint: str) -> None:
        self.record_outputs([(row, fingerprint)])

    def record_outputs(self, made: list[tuple[ManifestRow, str]]) -> None:
        """Record finished items (a worker's unit at a time: one statement for all of them)."""
        with self.lock:
            self.db.executemany(
                "INSERT OR REPLACE INTO outputs VALUES (?, ?, ?, ?, ?)",
                [(row.source, row.copy, fingerprint, row.file_name, row.to_json()) for row, fingerprint in made],
            )
            if self.has_failures:
                self.db.executemany(
                    "DELETE FROM failures WHERE source=? AND copy=?", [(row.source, row.copy) for row, _fp in made]
                )
            self.has_outputs = True
            self._maybe_commit()

    def record_failure(self, source: str, copy: int, fingerprint: str, error: str) -> tuple[str, ...]:
        """Record a failed item; return the files of a stale output it had, to be removed."""
        with self.lock:
            old = self.db.execute("SELECT row FROM outputs WHERE source=? AND copy=?", (source, copy)).fetchone()
            self.db.execute("DELETE FROM outputs WHERE source=? AND copy=?", (source, copy))
            self.db.execute("INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?)", (source, copy, fingerprint, error))
            self.has_failures = True
            self._maybe_commit()
        return ManifestRow.from_json(old[0]).files if old else ()

    def mark_seen(self, source: str) -> None:
        """Note that the walk found this input in this run (see :meth:`unseen_sources`)."""
        self._seen.append((source,))
        if len(self._seen) >= 1000:
            self._flush_seen()

    def _flush_seen(self) -> None:
        with self.lock:
            self.db.executemany("INSERT OR IGNORE INTO seen VALUES (?)", self._seen)
            self._seen = []

    def unseen_sources(self) -> list[str]:
        """Inputs with recorded outputs or failures that this run's walk did not find."""
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
            return names

    def rows(self) -> Iterator[ManifestRow]:
        """Manifest rows of every output in OUTPUT_DIR, sorted by (source, copy)."""
        for (row,) in self.db.execute("SELECT row FROM outputs ORDER BY source, copy"):
            yield ManifestRow.from_json(row)

    def records(self) -> Iterator[dict[str, Any]]:
        """:meth:`rows` as plain mappings (what the manifest is written from: no record made)."""
        for (row,) in self.db.execute("SELECT row FROM outputs ORDER BY source, copy"):
            yield json.loads(row)

    def errors(self) -> Iterator[tuple[str, str]]:
        """(source, error) for every failed input: its first failed copy's reason."""
        yield from self.db.execute(
            "SELECT source, error FROM failures f WHERE copy = "
            "(SELECT MIN(copy) FROM failures g WHERE g.source = f.source) ORDER BY source"
        )

    def counts(self) -> dict[str, int]:
        outputs = self.db.execute("SELECT COUNT(*), COUNT(DISTINCT source) FROM outputs").fetchone()
        failed = self.db.execute("SELECT COUNT(DISTINCT source) FROM failures").fetchone()
        return {"outputs": outputs[0], "sources": outputs[1], "failed_inputs": failed[0]}

    def file_names(self) -> Iterator[str]:
        """Every file of every recorded output (a row's JSON read only when it has a feature file)."""
        for file_name, row in self.db.execute("SELECT file_name, row FROM outputs ORDER BY source, copy"):
            yield file_name
            if '"feature_file": null' not in row:
                yield from ManifestRow.from_json(row).files[1:]

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
                self.commit()
            finally:
                self.db.close()
                if not self.readonly:
                    self.free_reserve()


# -- OUTPUT_DIR in object storage ------------------------------------------------------------------
# There is no rename and no file lock on an object store, and SQLite cannot live there. The state
# is a journal of objects under .audioaug/journal/, each written whole by one PUT and never
# changed: a run of generation G writes what it records as parts gG-00000000.jsonl, gG-00000001...
# (one per commit, at most one a second), and when it ends a snapshot gG-snapshot.jsonl of the
# whole state, after which the older objects are deleted. A reader takes the newest snapshot and
# every part of a later generation, in order. A run killed at any moment leaves parts that the
# next run reads; a run killed between its snapshot and the deletions leaves objects that the
# newest snapshot makes redundant, and the next run that writes deletes them. Each run works on a
# copy of the state in a local SQLite file of its own, so nothing needs to be cached between runs.

JOURNAL = f"{STATE_DIR}/journal"
_JOURNAL_NAME = re.compile(r"g(\d{8})-(\d{8}|snapshot)\.jsonl$")


class StoreState(RunState):
    """:class:`RunState` for an OUTPUT_DIR in object storage: the journal read into a local
    SQLite file when made, each commit written as one part, a snapshot at the end."""

    def __init__(self, store: ObjectStore, readonly: bool = False, listing: set[str] | None = None):
        self.store = store
        self.scratch = tempfile.mkdtemp(prefix="audioaug-state-")
        super().__init__(Path(self.scratch), readonly=False, reserve=False)  # a local copy: always writable
        self.writes = not readonly
        self.pending: list[str] = []
        self.parts_written: list[str] = []
        self._replaying = False
        self.loaded: frozenset[str] = frozenset()
        self.generation = 1
        self._load(None if listing is None else sorted(n for n in listing if n.startswith(JOURNAL + "/")))
        self._refresh_flags()  # what the journal held

    def _journal(self) -> list[str]:
        return sorted(name for name in self.store.listing(JOURNAL) if _JOURNAL_NAME.search(name))

    def _load(self, names: list[str] | None = None) -> None:
        """Read the journal (``names``: its objects, when a listing of OUTPUT_DIR has them already)."""
        names = self._journal() if names is None else [n for n in names if _JOURNAL_NAME.search(n)]
        parsed = [(int(m.group(1)), m.group(2), name) for name in names if (m := _JOURNAL_NAME.search(name))]
        base = max((g for g, kind, _ in parsed if kind == "snapshot"), default=0)
        chosen = [n for g, kind, n in parsed if g == base and kind == "snapshot"]
        chosen += [n for g, kind, n in sorted(parsed) if g > base and kind != "snapshot"]
        data = self.store.fs.cat([self.store.path(n) for n in chosen], on_error="raise") if chosen else {}
        self._replaying = True
        try:
            for name in chosen:
                for line in data[self.store.path(name)].decode("utf-8").splitlines():
                    if line:
                        self._apply(json.loads(line))
        finally:
            self._replaying = False
        self.db.commit()
        self.loaded = frozenset(names)
        self.generation = max((g for g, _kind, _n in parsed), default=0) + 1

    def refresh(self) -> bool:
        """Read the journal again if another run wrote to it since this state was read (between
        reading it and taking the lock); True if it changed."""
        names = self._journal()
        if frozenset(names) == self.loaded:
            return False
        with self.lock:
            self.db.execute("DELETE FROM outputs")
            self.db.execute("DELETE FROM failures")
        self._load(names)  # (its records take the lock themselves)
        self._refresh_flags()
        return True

    def _apply(self, op: list[Any]) -> None:
        kind = op[0]
        if kind == "output":
            self.record_output(ManifestRow.from_json(op[2]), op[1])
        elif kind == "failure":
            self.record_failure(op[1], op[2], op[3], op[4])
        elif kind == "forget":
            self.forget_source(op[1], op[2])

    def _note(self, op: list[Any]) -> None:
        if not self._replaying:
            self.pending.append(json.dumps(op, ensure_ascii=False))

    def record_outputs(self, made: list[tuple[ManifestRow, str]]) -> None:
        super().record_outputs(made)
        for row, fingerprint in made:
            self._note(["output", fingerprint, row.to_json()])

    def record_failure(self, source: str, copy: int, fingerprint: str, error: str) -> tuple[str, ...]:
        stale = super().record_failure(source, copy, fingerprint, error)
        self._note(["failure", source, copy, fingerprint, error])
        return stale

    def forget_source(self, source: str, keep_outputs: bool) -> list[str]:
        names = super().forget_source(source, keep_outputs)
        self._note(["forget", source, keep_outputs])
        return names

    @property
    def changed(self) -> bool:
        """Whether this run recorded anything (so that closing it writes to the store)."""
        return bool(self.pending or self.parts_written)

    def commit(self) -> None:
        super().commit()
        if self.writes and self.pending:
            name = f"{JOURNAL}/g{self.generation:08d}-{len(self.parts_written):08d}.jsonl"
            self.store.write_bytes(name, ("\n".join(self.pending) + "\n").encode("utf-8"))
            self.parts_written.append(name)
            self.pending = []

    def close(self) -> None:
        import shutil

        try:
            with self.lock:
                self.commit()
                if self.writes and self.parts_written:
                    self._snapshot()
        finally:
            self.db.close()
            shutil.rmtree(self.scratch, ignore_errors=True)

    def _snapshot(self) -> None:
        lines = [
            json.dumps(["output", fp, row], ensure_ascii=False)
            for fp, row in self.db.execute("SELECT fingerprint, row FROM outputs ORDER BY source, copy")
        ]
        lines += [
            json.dumps(["failure", *failure], ensure_ascii=False)
            for failure in self.db.execute(
                "SELECT source, copy, fingerprint, error FROM failures ORDER BY source, copy"
            )
        ]
        self.store.write_bytes(
            f"{JOURNAL}/g{self.generation:08d}-snapshot.jsonl", "".join(line + "\n" for line in lines).encode("utf-8")
        )
        # Redundant now: everything older, and this run's own parts.
        self.store.remove_many(sorted({*self.loaded, *self.parts_written}))


def open_state(output: Store, readonly: bool = False, listing: set[str] | None = None) -> RunState:
    """The resume state of OUTPUT_DIR: SQLite in it, or the journal of a store (``listing``: the
    store's objects, when the caller has listed them already)."""
    if isinstance(output, ObjectStore):
        return StoreState(output, readonly, listing)
    assert isinstance(output, LocalStore)
    return RunState(output.root, readonly)


def has_state(output: Store, listing: set[str] | None = None) -> bool:
    if isinstance(output, ObjectStore):
        if listing is not None:
            return any(name.startswith(JOURNAL + "/") for name in listing)
        return bool(output.listing(JOURNAL))
    assert isinstance(output, LocalStore)
    return (output.root / STATE_DIR / "state.sqlite").exists()


LOCK_OBJECT = f"{STATE_DIR}/lock.json"
LEASE_SECONDS = 60.0  # a lock on a store not renewed for this long is a crashed run's


def lease_seconds() -> float:
    """The lease (AUDIOAUG_LOCK_LEASE, seconds): how long a lock on a store outlives its renewal."""
    try:
        return max(1.0, float(os.environ.get("AUDIOAUG_LOCK_LEASE", LEASE_SECONDS)))
    except ValueError:
        return LEASE_SECONDS


class LeaseLock:
    """The lock of an OUTPUT_DIR in object storage: an object, created only if there is none
    (S3's conditional PUT), naming its holder (host, pid) and renewed every quarter lease while
    the run lives. A lock whose holder is a dead process on this host, or whose renewal is older
    than the lease, is taken over (a conditional replace of that very version, so that of two
    runs taking over, one wins); any other is refused, naming its holder."""

    def __init__(self, store: ObjectStore):
        self.store = store
        self.lease = lease_seconds()
        self.held = False
        self.tag: str | None = None
        self.lost: str | None = None  # why the lock was lost while held (another run took it over)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _body(self) -> bytes:
        import socket

        return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "renewed": time.time()}).encode()

    def acquire(self) -> None:
        if self.held:
            return
        if not self.store.create(LOCK_OBJECT, self._body()):
            self._take_over()
        self.tag = version_tag(self.store.info(LOCK_OBJECT))
        self.held = True
        self._thread = threading.Thread(target=self._renew, name="audioaug-lock", daemon=True)
        self._thread.start()

    def _take_over(self) -> None:
        info = self.store.info(LOCK_OBJECT)
        try:
            holder = json.loads(self.store.read_bytes(LOCK_OBJECT))
            host, pid = str(holder["host"]), int(holder["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            host, pid = "an unknown host", 0
        modified = modified_at(info)
        age = time.time() - modified if modified is not None else float("inf")
        import socket

        dead = host == socket.gethostname() and pid > 0 and not _alive(pid)
        if not (dead or age > self.lease) or not self.store.replace_if(LOCK_OBJECT, self._body(), version_tag(info)):
            raise UsageError(
                f"another audioaug run (pid {pid} on {host}) is writing to OUTPUT_DIR {self.store}: its lock "
                f"({self.store.shown(LOCK_OBJECT)}) was renewed {max(age, 0):.0f} s ago; wait for it to finish, or "
                f"choose another OUTPUT_DIR (a lock not renewed for {self.lease:.0f} s is taken over)"
            )

    def _renew(self) -> None:
        while not self._stop.wait(self.lease / 4):
            try:
                if self.store.replace_if(LOCK_OBJECT, self._body(), self.tag):
                    self.tag = version_tag(self.store.info(LOCK_OBJECT))
                    continue
                self.lost = "another run took over this OUTPUT_DIR's lock"
                return
            except OSError:
                continue  # the store did not answer this time: the lease leaves room for a few tries

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.held and self.lost is None:
            with suppress(OSError):
                if version_tag(self.store.info(LOCK_OBJECT)) == self.tag:
                    self.store.remove(LOCK_OBJECT)
        self.held = False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True
