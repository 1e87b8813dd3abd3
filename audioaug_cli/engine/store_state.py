"""The resume state and the lock of an OUTPUT_DIR in object storage (the local ones are in
:mod:`audioaug_cli.engine.state`; :mod:`audioaug_cli.engine.output_dir` chooses).

There is no rename and no file lock on an object store, and SQLite cannot live there. The state
is a journal of objects under .audioaug/journal/, each written whole by one PUT and never
changed: a run of generation G writes what it records as parts gG-00000000.jsonl, gG-00000001...
(one per commit, at most one a second), and when it ends a snapshot gG-snapshot.jsonl of the
whole state, after which the older objects are deleted. A reader takes the newest snapshot and
every part of a later generation, in order. A run killed at any moment leaves parts that the
next run reads; a run killed between its snapshot and the deletions leaves objects that the
newest snapshot makes redundant, and the next run that writes deletes them. Each run works on a
copy of the state in a local SQLite file of its own, so nothing needs to be cached between runs.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from audioaug_cli.engine.state import STATE_DIR, RunState
from audioaug_cli.engine.tasks import Outcome, Record
from audioaug_cli.errors import UsageError
from audioaug_cli.io.filesystems import modified_at, version_tag
from audioaug_cli.io.manifest import ManifestRow
from audioaug_cli.io.store import ObjectStore, Store

JOURNAL = f"{STATE_DIR}/journal"
# gG-NNNNNNNN (the parent's parts), gG-snapshot, gG-wPID-TOKEN-NNNNNNNN (a worker's, see
# WorkerRecords: read after the parent's parts of their generation)
_JOURNAL_NAME = re.compile(r"g(\d{8})-(\d{8}|snapshot|w\d+-[0-9a-f]+-\d{8})\.jsonl$")


class StoreState(RunState):
    """:class:`RunState` for an OUTPUT_DIR in object storage: the journal read into a local
    SQLite file when made, each commit written as one part, a snapshot at the end."""

    def __init__(self, store: ObjectStore, readonly: bool = False, listing: set[str] | None = None):
        self.store = store
        self.scratch = tempfile.mkdtemp(prefix="audioaug-state-")
        super().__init__(Path(self.scratch), readonly=False, reserve=False)  # a local copy: always writable
        self.writes = not readonly
        self.holds_lock = False  # set when the run takes OUTPUT_DIR's lock: it may compact the journal
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

    def record_outputs(self, made: list[Record]) -> None:
        super().record_outputs(made)
        if not self._replaying:
            self.pending.extend(output_op(record[4], record[2]) for record in made)

    def worker_parts(self) -> str | None:
        """Where this run's workers record what they write while a unit runs (None: read-only)."""
        return f"{JOURNAL}/g{self.generation:08d}-w" if self.writes else None

    def record_failure(self, source: str, copy: int, fingerprint: str, error: str) -> tuple[str, ...]:
        stale = super().record_failure(source, copy, fingerprint, error)
        self._note(["failure", source, copy, fingerprint, error])
        return stale

    def forget_source(self, source: str, keep_outputs: bool) -> list[str]:
        names = super().forget_source(source, keep_outputs)
        self._note(["forget", source, keep_outputs])
        return names

    def disown(self) -> None:
        self.writes = False

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
                # A run killed after recording its last outputs leaves parts and no snapshot; a rerun
                # that writes (its descriptions, say) compacts them though it records nothing.
                uncompacted = any(not name.endswith("-snapshot.jsonl") for name in self.loaded)
                if self.writes and (self.parts_written or (self.holds_lock and uncompacted)):
                    self._snapshot()
        finally:
            self.db.close()
            shutil.rmtree(self.scratch, ignore_errors=True)

    def _snapshot(self) -> None:
        lines = [
            json.dumps(["output", fp, row], ensure_ascii=False)
            for fp, row in self.db.execute("SELECT fingerprint, row FROM outputs ORDER BY source, copy")
        ]
        workers = [name for name in self._journal() if "-w" in name]  # its workers' parts: redundant now
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
        self.store.remove_many(sorted({*self.loaded, *self.parts_written, *workers}))


def output_op(row: str, fingerprint: str) -> str:
    """A journal line that records one output (its ManifestRow as JSON): the parent's and the
    workers' alike."""
    return json.dumps(["output", fingerprint, row], ensure_ascii=False)


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

    def __init__(self, store: ObjectStore, name: str = LOCK_OBJECT, held_by: str = "run", place: str = "OUTPUT_DIR"):
        self.store = store
        self.name = name  # the lock object, relative to the store's root
        self.held_by, self.place = held_by, place  # how messages name the holder and the folder
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
        if not self.store.create(self.name, self._body()):
            self._take_over()
        self.tag = version_tag(self.store.info(self.name))
        self.held = True
        self._thread = threading.Thread(target=self._renew, name="audioaug-lock", daemon=True)
        self._thread.start()

    def _take_over(self) -> None:
        info = self.store.info(self.name)
        try:
            holder = json.loads(self.store.read_bytes(self.name))
            host, pid = str(holder["host"]), int(holder["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            host, pid = "an unknown host", 0
        modified = modified_at(info)
        age = time.time() - modified if modified is not None else float("inf")
        import socket

        dead = host == socket.gethostname() and pid > 0 and not _alive(pid)
        if not (dead or age > self.lease) or not self.store.replace_if(self.name, self._body(), version_tag(info)):
            raise UsageError(
                f"another audioaug {self.held_by} (pid {pid} on {host}) is writing to {self.place} {self.store}: its "
                f"lock ({self.store.shown(self.name)}) was renewed {max(age, 0):.0f} s ago; wait for it to finish, or "
                f"choose another {self.place} (a lock not renewed for {self.lease:.0f} s is taken over)"
            )

    def _renew(self) -> None:
        while not self._stop.wait(self.lease / 4):
            try:
                if self.store.replace_if(self.name, self._body(), self.tag):
                    self.tag = version_tag(self.store.info(self.name))
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
                if version_tag(self.store.info(self.name)) == self.tag:
                    self.store.remove(self.name)
        self.held = False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True


PROGRESS_SECONDS = 1.0  # a unit still running after this long records what it wrote so far


class WorkerRecords:
    """The outputs a worker wrote on a store, recorded in the store's journal by the worker itself
    (one part object at most every PROGRESS_SECONDS) while its unit is still running, so that a run
    killed mid-unit does not redo them: a unit of a store's inputs keeps every copy of a file
    together (one GET each), and with slow PUTs it runs for seconds. A unit done within a second is
    recorded by the parent alone, as every unit is locally."""

    def __init__(self, output: Store, prefix: str):
        self.output, self.name = output, f"{prefix}{os.getpid()}-{secrets.token_hex(4)}-"
        self.pending: list[str] = []
        self.since = time.monotonic()
        self.parts = 0

    def note(self, outcome: Outcome) -> None:
        if outcome.row is not None:
            self.pending.append(output_op(outcome.row.to_json(), outcome.fingerprint))
        if self.pending and time.monotonic() - self.since >= PROGRESS_SECONDS:
            data = ("\n".join(self.pending) + "\n").encode("utf-8")
            try:
                self.output.write_bytes(f"{self.name}{self.parts:08d}.jsonl", data)
            except OSError:
                return  # not recorded yet: the parent records the unit when it returns
            self.parts += 1
            self.pending = []
            self.since = time.monotonic()
