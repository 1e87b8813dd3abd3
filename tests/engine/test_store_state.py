"""engine/store_state.py alone, on fsspec's memory:// store: a journal part per commit, the
workers' parts read after the parent's, and one snapshot that makes every part redundant."""

from __future__ import annotations

import uuid

import pytest

from audioaug_cli.engine.store_state import JOURNAL, StoreState, output_op
from audioaug_cli.io.store import ObjectStore, open_store
from tests.engine.test_state import row

pytest.importorskip("fsspec")


@pytest.fixture
def out() -> ObjectStore:
    found = open_store(f"memory://state-{uuid.uuid4().hex[:10]}/out")
    assert isinstance(found, ObjectStore)
    return found


def test_each_commit_is_a_part_and_a_new_state_reads_them_all(out: ObjectStore) -> None:
    state = StoreState(out)
    state.record_output(row("a.wav", 1), "1:1")
    state.commit()
    state.record_output(row("b.wav", 1), "2:1")
    state.commit()
    assert sorted(out.listing(JOURNAL)) == [
        f"{JOURNAL}/g00000001-00000000.jsonl",
        f"{JOURNAL}/g00000001-00000001.jsonl",
    ]
    reader = StoreState(out, readonly=True)  # (a run killed here: no snapshot)
    assert reader.done_copies("a.wav", "1:1") == {1} and reader.done_copies("b.wav", "2:1") == {1}
    assert reader.generation == 2
    reader.close()
    state.close()


def test_a_workers_parts_come_after_the_parents_and_the_snapshot_retires_them(out: ObjectStore) -> None:
    state = StoreState(out)
    prefix = state.worker_parts()
    assert prefix == f"{JOURNAL}/g00000001-w"
    state.forget_source("a.wav", keep_outputs=False)  # the parent forgets a changed input first...
    state.commit()
    line = output_op(row("a.wav", 1).to_json(), "9:9") + "\n"
    out.write_bytes(f"{prefix}123-abcd0123-00000000.jsonl", line.encode())
    # ...and its worker's record of the new output, read after it, stands.
    reader = StoreState(out, readonly=True)
    assert reader.done_copies("a.wav", "9:9") == {1}
    reader.close()
    state.record_output(row("a.wav", 1), "9:9")
    state.close()  # the snapshot: every part before it goes, the worker's too
    assert sorted(out.listing(JOURNAL)) == [f"{JOURNAL}/g00000001-snapshot.jsonl"]
    final = StoreState(out, readonly=True)
    assert final.done_copies("a.wav", "9:9") == {1}
    final.close()
