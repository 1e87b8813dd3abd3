"""The resume state as the worker processes of a first run record their own units in it, so that
the parent, handing out work for dozens of them, records nothing per item: when that is safe
(:func:`handed_over`), and how a worker records (:class:`Ledger`)."""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from audioaug_cli.engine.state import RunState
from audioaug_cli.engine.tasks import Finished
from audioaug_cli.io.store import Store

# Filesystems whose locks between processes sqlite's docs do not trust (network and FUSE ones):
# there the parent alone writes the state, as it did before workers recorded their own units.
NETWORK_FILESYSTEMS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "ceph", "glusterfs", "9p", "afs")


def filesystem_type(folder: Path, mounts: str = "/proc/self/mountinfo") -> str | None:
    """The type of the filesystem a folder is on, from the kernel's table of mounts (Linux); None
    where there is none to read."""
    try:
        with open(mounts, encoding="utf-8", errors="surrogateescape") as handle:
            table = handle.read().splitlines()
    except OSError:
        return None
    real = os.path.realpath(folder)
    found, longest = None, -1
    for line in table:
        fields, _dash, after = line.partition(" - ")
        parts = fields.split(" ")
        if len(parts) < 5 or not after:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), parts[4])
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= longest:  # (a later mount over the same point hides the earlier)
            found, longest = after.split(" ")[0], len(point)
    return found


def shares_writes(folder: Path) -> bool:
    """Whether several processes of this machine may write a state in ``folder`` at once."""
    kind = filesystem_type(folder)
    return kind is not None and kind not in NETWORK_FILESYSTEMS and not kind.startswith("fuse")


WORKER_WAIT_SECONDS = 600.0  # how long a worker waits for the others' transactions (each takes ms)
# Workers copy the write-ahead log into the database as it grows past this many pages, so that
# the parent, opening the state again at the end, does not read a whole run's log back first.
WORKER_CHECKPOINT_PAGES = 64


@dataclass(frozen=True)
class Ledger:
    """Where the worker processes record their own units (see :func:`handed_over`): what a worker
    sends back to the parent is then a few counts. Each
    worker opens its own connection, after it was forked, and keeps it for the run (a worker that
    serves several runs, as loky's may, opens one for each)."""

    output_dir: str
    run: str  # which hand-over

    def record(self, done: Finished, output: Store) -> None:
        """Record a unit in the state; if that fails (a full disk), leave it in ``done`` for the
        parent, which records it once the workers are done."""
        if not done.made and not done.failed:
            done.recorded = True
            return
        try:
            stale = self._state().record_unit(done.made, done.failed)
        except sqlite3.Error:
            return
        for name in stale:
            output.remove(name)
        done.made, done.recorded = [], True

    def _state(self) -> RunState:
        global _ledger
        if _ledger is not None and _ledger[0] == self:
            return _ledger[1]
        if _ledger is not None:
            _ledger[1].db.close()  # an earlier run's
            _ledger = None
        state = RunState(Path(self.output_dir), reserve=False, timeout=WORKER_WAIT_SECONDS)
        state.db.execute(f"PRAGMA wal_autocheckpoint={WORKER_CHECKPOINT_PAGES}")
        _ledger = (self, state)
        return state


_ledger: tuple[Ledger, RunState] | None = None  # a worker process's connection, for the run it serves


def handed_over(state: RunState, output_dir: Path) -> Ledger | None:
    """Before local workers start: the state handed to them (:meth:`RunState.hand_over`), on a
    first run (a state with no record: the plan compares nothing with it) in a folder on a local
    filesystem (sqlite's locks between processes are not to be trusted on a network one)."""
    if state.tracks_seen or not shares_writes(output_dir):
        return None
    state.hand_over()
    return Ledger(str(output_dir), os.urandom(8).hex())
