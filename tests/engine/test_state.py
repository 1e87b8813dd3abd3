"""engine/state.py alone: the resume state's records survive a close, a changed input is not
done, a failure removes a stale output, and the lock refuses a second holder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from audioaug_cli.engine.state import DESCRIBED, OutputLock, RunState
from audioaug_cli.errors import UsageError
from audioaug_cli.io.manifest import ManifestRow


def row(source: str, copy: int) -> ManifestRow:
    name = source.rpartition(".")[0] + f"__aug{copy}.wav"
    return ManifestRow.make(
        file_name=name, source=source, copy=copy, seed=1, sample_rate=8000, channels=1, frames=80, transforms=[]
    )


def test_records_survive_a_close_and_answer_by_fingerprint(tmp_path: Path) -> None:
    state = RunState(tmp_path)
    state.record_outputs([(row("a.wav", 1), "10:1"), (row("a.wav", 2), "10:1"), (row("b.wav", 1), "20:1")])
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
    state.record_outputs([(row("a.wav", 1), "1:1")])
    assert state.described() is None and state.changed
    state.close()
    assert RunState(tmp_path, readonly=True).described() is None, DESCRIBED


def test_the_lock_refuses_a_second_holder_naming_the_first(tmp_path: Path) -> None:
    first, second = OutputLock(tmp_path), OutputLock(tmp_path)
    first.acquire()
    with pytest.raises(UsageError, match=f"another audioaug run \\(pid {os.getpid()}\\) is writing to OUTPUT_DIR"):
        second.acquire()
    first.release()
    second.acquire()  # released: taken
    second.release()
