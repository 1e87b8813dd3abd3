"""engine/places.py, output_dir.py and input_dir.py alone: the checks of INPUT_DIR and OUTPUT_DIR before
any work, the refusal of a user's file where a run would write, and --prune's removals."""

from __future__ import annotations

from pathlib import Path

import pytest

from audioaug_cli.engine.output_dir import LocalOutput
from audioaug_cli.engine.places import open_places
from audioaug_cli.errors import UsageError
from audioaug_cli.io.store import LocalStore, open_store


def test_input_and_output_must_be_two_folders_neither_inside_the_other(tmp_path: Path) -> None:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "file").write_text("x")
    cases = {
        (tmp_path / "in", tmp_path / "in"): "OUTPUT_DIR must differ from INPUT_DIR",
        (tmp_path / "in" / "sub", tmp_path / "in"): "lies inside OUTPUT_DIR",
        (tmp_path / "file", tmp_path / "out"): "is not a folder",
        (tmp_path / "in", tmp_path / "file"): "exists and is not a folder",
    }
    for (inputs, output), message in cases.items():
        with pytest.raises(UsageError, match=message):
            open_places(LocalStore(inputs), LocalStore(output))
    open_places(LocalStore(tmp_path / "in"), LocalStore(tmp_path / "in" / "out"))  # output inside input: fine
    with pytest.raises(UsageError, match="read only"):
        open_places(LocalStore(tmp_path / "in"), open_store("https://example.org/out"))


def test_a_file_no_run_wrote_where_a_run_would_write_is_refused(tmp_path: Path) -> None:
    out = LocalOutput(LocalStore(tmp_path / "out"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a__aug1.wav").write_bytes(b"mine")
    (tmp_path / "out" / "unrelated.txt").write_text("mine too")
    with pytest.raises(UsageError, match="a__aug1.wav"):
        out.refuse_foreign_files("manifest.csv", lambda: ["a__aug1.wav", "a__aug2.wav"], False)
    out.refuse_foreign_files("manifest.csv", lambda: ["b__aug1.wav"], False)  # not where this run writes
    (tmp_path / "out" / "manifest.csv").write_text("file_name\n")
    with pytest.raises(UsageError, match="manifest.csv"):
        out.refuse_foreign_files("manifest.csv", lambda: [], False)


def test_prune_removes_the_files_and_the_folders_it_empties(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for name in ("x/y/a__aug1.wav", "x/keep.txt", "z/b__aug1.wav"):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(b"1")
    (out / "empty").mkdir()
    assert LocalOutput(LocalStore(out)).removed(["x/y/a__aug1.wav", "z/b__aug1.wav", "gone.wav"]) == 2
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["empty", "x", "x/keep.txt"]
