"""engine/state.py alone: the resume state's records survive a close, a changed input is not
done, a failure removes a stale output, and the lock refuses a second holder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from audioaug_cli.engine.state import _SCHEMA, DESCRIBED, PAGE_SIZE, RESERVE, STATE_DIR, OutputLock, RunState
from audioaug_cli.engine.tasks import record_of
from audioaug_cli.errors import UsageError
from audioaug_cli.io.manifest import COLUMNS, Labels, ManifestRow, write_manifest
from audioaug_cli.io.store import open_store


def row(source: str, copy: int) -> ManifestRow:
    name = source.rpartition(".")[0] + f"__aug{copy}.wav"
    return ManifestRow.make(
        file_name=name, source=source, copy=copy, seed=1, sample_rate=8000, channels=1, frames=80, transforms=[]
    )


def test_records_survive_a_close_and_answer_by_fingerprint(tmp_path: Path) -> None:
    state = RunState(tmp_path)
    state.record_outputs([record_of(row("a.wav", 1), "10:1"), record_of(row("a.wav", 2), "10:1")])
    state.record_output(row("b.wav", 1), "20:1")
    state.close()
    again = RunState(tmp_path, readonly=True)
    assert again.done_copies("a.wav", "10:1") == {1, 2}
    assert again.done_copies("a.wav", "11:9") == set(), "a changed input is not done"
    assert again.done_copies_of([("a.wav", "10:1"), ("b.wav", "20:1"), ("c.wav", "1:1")]) == {
        "a.wav": {1, 2},
        "b.wav": {1},
    }
    assert list(again.file_names()) == ["a__aug1.wav", "a__aug2.wav", "b__aug1.wav"]
    again.close()


def test_a_failure_replaces_the_items_record_and_names_its_stale_output(tmp_path: Path) -> None:
    state = RunState(tmp_path)
    state.record_output(row("a.wav", 1), "10:1")
    assert state.record_failure("a.wav", 1, "12:2", "cannot decode") == ("a__aug1.wav",)
    assert state.done_copies("a.wav", "10:1") == set()
    assert list(state.errors()) == [("a.wav", "cannot decode")]
    state.close()


def test_what_the_manifest_was_written_from_is_forgotten_with_the_first_change(tmp_path: Path) -> None:
    state = RunState(tmp_path)
    state.describe("written from X")
    assert state.described() == "written from X"
    state.close()
    state = RunState(tmp_path)
    assert state.described() == "written from X" and not state.changed
    state.record_outputs([record_of(row("a.wav", 1), "1:1")])
    assert state.described() is None and state.changed
    state.close()
    assert RunState(tmp_path, readonly=True).described() is None, DESCRIBED


def test_a_state_whose_records_have_no_manifest_line_writes_the_same_manifest(tmp_path: Path) -> None:
    """Records made by the workers carry their manifest line; those of an older version's state (or
    replayed from a store's journal) have none, and the manifest is made from their rows: the same
    bytes either way, label cells included (a lone empty label is an empty cell, not "")."""
    import sqlite3

    rows = [row("a.wav", 1), row("a.wav", 2), row('b,"q".wav', 1)]
    labels = Labels(("speaker",), {"a.wav": ("",), 'b,"q".wav': ("s1",)})
    state = RunState(tmp_path / "new")
    state.record_outputs([record_of(r, "1:1", COLUMNS) for r in rows])
    state.close()
    old = tmp_path / "old" / ".audioaug"
    old.mkdir(parents=True)
    with sqlite3.connect(old / "state.sqlite") as db:  # the schema before records kept their line
        db.executescript(_SCHEMA.replace(" line TEXT,", ""))
        db.executemany("INSERT INTO outputs VALUES (?, ?, ?, ?, ?)", [record_of(r, "1:1")[:5] for r in rows])
    written = {}
    for name, readonly in (("new", False), ("old", True), ("old", False)):
        found = RunState(tmp_path / name, readonly=readonly)
        store = open_store(tmp_path / f"m-{name}-{readonly}", None, "m")
        write_manifest(store, "manifest.csv", found.manifest_lines(COLUMNS), labels, COLUMNS)
        written[name, readonly] = (tmp_path / f"m-{name}-{readonly}" / "manifest.csv").read_text()
        found.close()
    assert len(set(written.values())) == 1
    for name, pages in (("new", PAGE_SIZE), ("old", 4096)):  # an older state keeps its pages, and works
        with sqlite3.connect(tmp_path / name / ".audioaug" / "state.sqlite") as db:
            assert db.execute("PRAGMA page_size").fetchone() == (pages,)
    lines = written["new", False].splitlines()
    assert lines[0] == ",".join((*COLUMNS, "speaker"))
    assert lines[1].startswith("a__aug1.wav,a.wav,1,") and lines[1].endswith(",")
    assert lines[3].startswith('"b,""q""__aug1.wav","b,""q"".wav",1,') and lines[3].endswith(",s1")


def test_the_lock_refuses_a_second_holder_naming_the_first(tmp_path: Path) -> None:
    first, second = OutputLock(tmp_path), OutputLock(tmp_path)
    first.acquire()
    with pytest.raises(UsageError, match=f"another audioaug run \\(pid {os.getpid()}\\) is writing to OUTPUT_DIR"):
        second.acquire()
    first.release()
    second.acquire()  # released: taken
    second.release()


def test_the_filesystem_of_a_folder_is_that_of_its_innermost_mount(tmp_path: Path) -> None:
    from audioaug_cli.engine.ledger import filesystem_type

    table = tmp_path / "mountinfo"
    table.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        "30 22 0:40 / /mnt/lab\\040data rw,relatime shared:9 - nfs4 server:/export rw,vers=4.2\n"
        "31 30 8:2 / /mnt/lab\\040data/scratch rw shared:10 - xfs /dev/sdb1 rw\n"
        "32 22 0:41 / /mnt/lab rw shared:11 - fuse.sshfs host:/ rw\n"
    )
    kinds = {
        where: filesystem_type(Path(where), str(table))
        for where in ("/home/me", "/mnt/lab data/in", "/mnt/lab data/scratch/out", "/mnt/lab/x", "/mnt/labs")
    }
    assert kinds == {
        "/home/me": "ext4",
        "/mnt/lab data/in": "nfs4",
        "/mnt/lab data/scratch/out": "xfs",
        "/mnt/lab/x": "fuse.sshfs",
        "/mnt/labs": "ext4",
    }
    assert filesystem_type(tmp_path, str(tmp_path / "none")) is None


def test_a_state_handed_to_the_workers_and_never_taken_back_still_closes(tmp_path: Path) -> None:
    """A run whose state could not be taken back (an error while its workers worked) still closes
    it on the way out, rather than trip over the connection it closed for them."""
    from audioaug_cli.engine.ledger import handed_over

    state = RunState(tmp_path)
    ledger = handed_over(state, tmp_path)
    assert ledger is not None and ledger.output_dir == str(tmp_path)
    state.close()
    assert not (tmp_path / STATE_DIR / RESERVE).exists()
