"""The storage layer on fsspec's memory:// filesystem: fast, in this process, no server. The
same code paths as s3:// (tests/engine/test_object_storage.py runs them against a real S3)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from audioaug_cli.engine.run import RunOptions, run
from audioaug_cli.engine.store_state import JOURNAL, LOCK_OBJECT, LeaseLock, StoreState
from audioaug_cli.errors import UsageError
from audioaug_cli.io.filesystems import parse_storage_options, without_credentials
from audioaug_cli.io.inputs import WalkCounts, walk_inputs, walk_store
from audioaug_cli.io.manifest import ManifestRow
from audioaug_cli.io.store import LocalStore, ObjectStore, open_store
from tests.helpers import PIPELINE, make_corpus, tree, write_tone

pytest.importorskip("fsspec")


@pytest.fixture
def root() -> str:
    """A fresh folder on the memory filesystem (shared by this process)."""
    return f"memory://t-{uuid.uuid4().hex[:10]}"


def store(url: str) -> ObjectStore:
    found = open_store(url)
    assert isinstance(found, ObjectStore)
    return found


def row(source: str, copy: int) -> ManifestRow:
    name = source.rpartition(".")[0] + f"__aug{copy}.wav"
    return ManifestRow.make(
        file_name=name, source=source, copy=copy, seed=7, sample_rate=16000, channels=1, frames=160, transforms=[]
    )


def put_tree(local: Path, target: ObjectStore) -> None:
    for path in sorted(local.rglob("*")):
        if path.is_file():
            target.write_bytes(path.relative_to(local).as_posix(), path.read_bytes())


def test_paths_and_urls_open_the_right_store(tmp_path: Path, root: str) -> None:
    assert open_store(tmp_path) == LocalStore(tmp_path)
    assert open_store(f"file://{tmp_path}") == LocalStore(tmp_path)
    memory = store(root + "/out/")
    assert memory.url == root + "/out" and memory.root == "/" + root.split("://")[1] + "/out"
    with pytest.raises(UsageError, match=r"unknown protocol ftpx://"):
        open_store("ftpx://host/x")


def test_a_protocol_whose_package_is_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gcsfs" else real(name, *a))
    with pytest.raises(UsageError) as raised:
        open_store("gs://bucket/in", what="INPUT_DIR gs://bucket/in")
    assert str(raised.value) == (
        "INPUT_DIR gs://bucket/in: gs:// needs gcsfs, which is not installed: pip install 'audioaug[gcs]'"
    )


def test_storage_options_and_credentials_in_urls() -> None:
    assert parse_storage_options(("anon=true", "endpoint_url=http://h:9000", 'config_kwargs={"a": 1}')) == {
        "anon": True,
        "endpoint_url": "http://h:9000",
        "config_kwargs": {"a": 1},
    }
    with pytest.raises(UsageError, match="expected KEY=VALUE"):
        parse_storage_options(("anon",))
    assert without_credentials("https://user:hunter2@host/data") == "https://host/data"
    secret = store("memory://b/x")
    hidden = ObjectStore(secret.url, secret.protocol, secret.root, (("secret", "hunter2"),))
    assert "hunter2" not in repr(hidden) and "hunter2" not in str(hidden)


def test_writes_are_whole_and_unchanged_text_is_not_written_again(root: str) -> None:
    out = store(root)
    with pytest.raises(RuntimeError), out.open_write("a.bin") as handle:
        handle.write(b"half")
        raise RuntimeError("killed midway")
    assert not out.is_file("a.bin"), "a failed write leaves nothing under the final name"
    assert out.write_text("m.csv", lambda h: print("x,y", file=h)) is True
    assert out.write_text("m.csv", lambda h: print("x,y", file=h)) is False
    assert out.read_text("m.csv") == "x,y\n"
    assert out.create("lock", b"1") is True and out.create("lock", b"2") is False
    tag = out.info("lock")
    assert out.read_bytes("lock") == b"1" and tag
    assert out.remove("m.csv") is True and out.remove("m.csv") is False


def test_the_walk_of_a_store_follows_the_local_rules_and_order(tmp_path: Path, root: str) -> None:
    local = tmp_path / "in"
    for name in ("b.wav", "a.flac", "z/c.wav", "z/y/d.wav", "a/e.wav", ".hidden/f.wav", "g.txt", "a/e.flac"):
        write_tone(local / name) if name.endswith((".wav", ".flac")) else (local / name).write_text("x")
    (local / "out").mkdir()
    write_tone(local / "out" / "old__aug1.wav")
    inputs = store(root + "/in")
    put_tree(local, inputs)
    counts, mine = WalkCounts(), WalkCounts()
    skipped = inputs.inside(store(root + "/in/out"))
    there = [(s.rel, s.problem is None) for s in walk_store(inputs, skipped, counts=counts)]
    here = [(s.rel, s.problem is None) for s in walk_inputs(local, local / "out", counts=mine)]
    assert there == here
    assert there[:2] == [("a.flac", True), ("b.wav", True)] and ("a/e.wav", False) in there, "files first; a clash"
    assert (counts.audio, counts.ignored) == (mine.audio, mine.ignored) == (6, 1)


def test_the_journal_resumes_after_a_kill_and_compacts_at_the_end(root: str) -> None:
    out = store(root)
    first = StoreState(out)
    first.record_output(row("a.wav", 1), "1:a")
    first.record_failure("b.wav", 1, "1:b", "cannot decode: junk")
    first.commit()
    first.record_output(row("c.wav", 1), "1:c")  # never committed: the kill takes it
    del first  # killed: no close, no snapshot
    journal = sorted(out.listing(JOURNAL))
    assert journal == [f"{JOURNAL}/g00000001-00000000.jsonl"]

    second = StoreState(out)
    assert [r.source for r in second.rows()] == ["a.wav"]
    assert list(second.errors()) == [("b.wav", "cannot decode: junk")]
    assert second.done_copies("a.wav", "1:a") == {1}
    assert second.done_copies("a.wav", "1:changed") == set(), "another fingerprint is redone"
    second.record_output(row("b.wav", 1), "1:b")
    second.forget_source("a.wav", keep_outputs=False)
    second.close()
    assert sorted(out.listing(JOURNAL)) == [f"{JOURNAL}/g00000002-snapshot.jsonl"]

    third = StoreState(out, readonly=True)
    assert [(r.source, r.copy) for r in third.rows()] == [("b.wav", 1)] and list(third.errors()) == []
    third.close()
    assert sorted(out.listing(JOURNAL)) == [f"{JOURNAL}/g00000002-snapshot.jsonl"], "a reader writes nothing"


def test_a_snapshot_makes_older_objects_redundant_even_if_they_were_not_deleted(root: str) -> None:
    """Killed between its snapshot and the deletions, a run leaves objects the next one ignores."""
    out = store(root)
    state = StoreState(out)
    state.record_output(row("a.wav", 1), "1:a")
    state.commit()
    stale = out.read_bytes(f"{JOURNAL}/g00000001-00000000.jsonl")
    state.close()
    out.write_bytes(f"{JOURNAL}/g00000001-00000000.jsonl", stale)  # as if the deletion never happened
    out.write_bytes(f"{JOURNAL}/g00000000-00000000.jsonl", json.dumps(["forget", "a.wav", False]).encode())
    again = StoreState(out)
    assert [r.source for r in again.rows()] == ["a.wav"]
    assert again.generation == 2
    again.close()


def test_the_lease_lock(root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    out = store(root)
    first = LeaseLock(out)
    first.acquire()
    holder = json.loads(out.read_bytes(LOCK_OBJECT))
    assert holder["pid"] == os.getpid()
    with pytest.raises(UsageError, match=rf"another audioaug run \(pid {os.getpid()} on "):
        LeaseLock(out).acquire()
    first.release()
    assert not out.is_file(LOCK_OBJECT)

    dead = {"host": holder["host"], "pid": _a_dead_pid(), "renewed": 0}
    out.write_bytes(LOCK_OBJECT, json.dumps(dead).encode())
    taker = LeaseLock(out)
    taker.acquire()  # its holder is a dead process on this host: taken over at once
    assert json.loads(out.read_bytes(LOCK_OBJECT))["pid"] == os.getpid()
    taker.release()


def test_a_whole_run_from_memory_to_memory_matches_a_local_one(tmp_path: Path, root: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(PIPELINE)
    corpus = make_corpus(tmp_path / "in", 4)
    local = run(config, corpus, tmp_path / "out", RunOptions(jobs=1))
    put_tree(corpus, store(root + "/in"))
    remote = run(config, root + "/in", root + "/out", RunOptions(jobs=1))
    assert (remote.written, remote.failed) == (local.written, local.failed) == (12, 0)
    out = store(root + "/out")
    written = {name: out.read_bytes(name) for name in out.listing() if not name.startswith(".audioaug/")}
    expected = tree(tmp_path / "out")
    for found in (written, expected):
        record: dict[str, Any] = json.loads(found.pop("audioaug.json"))
        assert record.pop("input_dir") in (str(corpus), root + "/in")
    assert written == expected
    again = run(config, root + "/in", root + "/out", RunOptions(jobs=1))
    assert (again.written, again.skipped) == (0, 12)


def _a_dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_dry_run_prune_and_overwrite_on_a_store(tmp_path: Path, root: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("version: 1\nseed: 3\ncopies: 2\npipeline:\n  - Gain: {p: 1.0}\n")
    inputs, out = store(root + "/in"), store(root + "/out")
    put_tree(make_corpus(tmp_path / "in", 3), inputs)
    planned = run(config, inputs.url, out.url, RunOptions(jobs=1, dry_run=True))
    assert planned.planned_items == 6 and planned.planned_size is not None and planned.planned_size.bytes > 0
    assert out.listing() == {}, "a dry run writes nothing"
    assert run(config, inputs.url, out.url, RunOptions(jobs=1)).written == 6
    inputs.remove("d0/c0.wav")
    kept = run(config, inputs.url, out.url, RunOptions(jobs=1))
    assert (kept.vanished, out.is_file("d0/c0__aug1.wav")) == (1, True)
    pruned = run(config, inputs.url, out.url, RunOptions(jobs=1, prune=True))
    assert pruned.pruned == 2 and not out.is_file("d0/c0__aug1.wav") and not out.is_file("d0/c0__aug2.wav")
    out.write_bytes("notes.txt", b"a user's file")
    config.write_text("version: 1\nseed: 4\ncopies: 1\npipeline:\n  - Gain: {p: 1.0}\n")
    with pytest.raises(UsageError, match="was made with a different config"):
        run(config, inputs.url, out.url, RunOptions(jobs=1))
    again = run(config, inputs.url, out.url, RunOptions(jobs=1, overwrite=True))
    assert again.written == 2
    names = sorted(n for n in out.listing() if not n.startswith(".audioaug/"))
    assert names == ["audioaug.json", "d0/c2__aug1.wav", "d1/c1__aug1.wav", "manifest.csv", "notes.txt"]


def test_labels_and_segments_as_urls_and_a_segment_past_the_end_fails_that_input_alone(
    tmp_path: Path, root: str
) -> None:
    config = tmp_path / "c.yaml"
    shift = "Shift: {min_shift: 0.1, max_shift: 0.1, p: 1.0}"  # by a tenth of the length
    config.write_text(f"version: 1\nseed: 3\ncopies: 1\npipeline:\n  - {shift}\n")
    inputs, out = store(root + "/in"), store(root + "/out")
    put_tree(make_corpus(tmp_path / "in", 2), inputs)  # d0/c0.wav lasts 0.2 s, d1/c1.wav 0.3 s
    tables = store(root + "/tables")
    tables.write_bytes("labels.csv", b"file_name,label\nd0/c0.wav,dog\nd1/c1.wav,cat\n")
    tables.write_bytes("segments.csv", b"file_name,start,end,word\nd0/c0.wav,0.0,0.1,yes\nd1/c1.wav,0.1,0.9,no\n")
    done = run(
        config,
        inputs.url,
        out.url,
        RunOptions(jobs=1, labels=tables.url + "/labels.csv", segments=tables.url + "/segments.csv"),
    )
    assert (done.written, done.failed) == (1, 1)
    assert "label" in out.read_text("manifest.csv").splitlines()[0]
    assert out.read_text("segments.csv") == "file_name,start,end,word\nd0/c0__aug1.wav,0.020000,0.120000,yes\n"
    assert out.read_text("errors.csv").splitlines()[1] == (
        'd1/c1.wav,"--segments: the segment 0.1-0.9 s ends after this file, which lasts 0.300000 s"'
    )


def test_a_state_read_before_another_run_finished_is_read_again(root: str) -> None:
    """Between reading the journal and taking the lock, another run may finish: the state is
    then read again, so that nothing it recorded is lost or done twice."""
    out = store(root)
    mine = StoreState(out)
    assert mine.refresh() is False, "nothing changed: no second read"
    other = StoreState(out)
    other.record_output(row("a.wav", 1), "1:a")
    other.close()
    assert mine.refresh() is True
    assert [r.source for r in mine.rows()] == ["a.wav"] and mine.generation == 2
    assert mine.done_copies("a.wav", "1:a") == {1}
    mine.record_output(row("b.wav", 1), "1:b")
    mine.close()
    assert [r.source for r in StoreState(out, readonly=True).rows()] == ["a.wav", "b.wav"]


def test_a_run_on_a_store_never_stats_its_objects_as_local_files(
    tmp_path: Path, root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a finished run's files were written from is compared on a store by writing them again
    (a store has no inode or mtime of this machine's); a local os.stat of a bucket path would
    find nothing, or a local file of that name."""
    config = tmp_path / "c.yaml"
    config.write_text(PIPELINE)
    stat = os.stat
    asked: list[str] = []

    def watched(path: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(str(path))
        return stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", watched)
    out = root + "/out"
    for _ in range(2):  # a run, then a finished rerun
        summary = run(config, make_corpus(tmp_path / "in", 2), out, RunOptions(jobs=1))
        assert summary.failed == 0
    bucket_path = store(out).root
    assert not [p for p in asked if p.startswith(bucket_path)], "os.stat of a store's objects"
