"""Real processes: parallel workers give byte-identical results (SPEC guarantee 1)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from audioaug_cli.config.load import parse_config
from audioaug_cli.io.store import LocalStore
from tests.helpers import PIPELINE, audioaug, rows, tree, write_tone


def test_jobs_1_and_jobs_2_write_identical_trees(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    for i in range(12):  # uneven lengths, so workers finish out of order
        write_tone(
            inputs / f"d{i % 3}" / f"clip{i:02d}.wav", 0.2 + 0.15 * (i % 5), 16000, 1 + (i % 4 == 0), 200 + 37 * i
        )
    config = tmp_path / "c.yaml"
    config.write_text(PIPELINE)
    one, two = (
        audioaug("run", config, inputs, tmp_path / "one", "-j", "1"),
        audioaug("run", config, inputs, tmp_path / "two", "-j", "2"),
    )
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    first, second = tree(tmp_path / "one"), tree(tmp_path / "two")
    assert len([n for n in first if n.endswith(".wav")]) == 36
    assert first == second


def test_a_unit_reaches_its_worker_whole() -> None:
    """What a worker is handed is every field of every task the plan made (a unit is pickled in
    a compact form of its own)."""
    import pickle

    from audioaug_cli.engine.tasks import Task, Unit
    from audioaug_cli.io.audio import Excerpt
    from audioaug_cli.io.inputs import Source

    plain = Task(Source("a.wav", "/in/a.wav", "10:5", size=10), (1, 2))
    full = Task(
        Source("b/c.wav", "/in/b/c.wav", "7:3", "a name clash", 7, Excerpt(0.5, 1.5)),
        (0, 3),
        ((0.1, 0.2),),
        "train",
        (("x.wav",), ("y.wav", "z.wav")),
    )
    sent = Unit([plain, full])
    received = pickle.loads(pickle.dumps(sent, protocol=pickle.HIGHEST_PROTOCOL))
    assert type(received) is Unit
    assert received == [plain, full]
    assert received[1].source.excerpt == Excerpt(0.5, 1.5)


def test_units_hold_every_item_once_in_order_and_stay_bounded() -> None:
    from audioaug_cli.engine.tasks import Task
    from audioaug_cli.engine.workers import UNIT_BYTES, UNIT_ITEMS
    from audioaug_cli.engine.workers import units as _units
    from audioaug_cli.io.inputs import Source

    small = [Task(Source(f"s{i}.wav", "", "1:1", size=50_000), (1, 2, 3)) for i in range(10)]
    big = Task(Source("big.wav", "", "1:1", size=5 * UNIT_BYTES), (1, 2, 3, 4))
    units = list(_units([*small[:5], big, *small[5:]]))
    items = [(t.source.rel, c) for unit in units for t in unit for c in t.copies]
    expected = [(t.source.rel, c) for t in [*small[:5], big, *small[5:]] for c in t.copies]
    assert items == expected
    for unit in units:
        count = sum(len(t.copies) for t in unit)
        load = sum(t.source.size * len(t.copies) for t in unit)
        assert count <= UNIT_ITEMS
        assert load < UNIT_BYTES + max(t.source.size for t in unit)  # may close one part over
    assert [len(t.copies) for unit in units for t in unit if t.source.rel == "big.wav"] == [1, 1, 1, 1]


@pytest.mark.parametrize(
    "sizes,copies,in_workers",
    [
        ((10 << 20,), (1, 2), True),  # one long file, 2 copies
        ((50_000,) * 3, (1,), False),
    ],
)  # a few short clips
def test_a_long_files_copies_are_shared_by_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sizes: tuple[int, ...], copies: tuple[int, ...], in_workers: bool
) -> None:
    from audioaug_cli.config.load import parse_config
    from audioaug_cli.engine import item, workers
    from audioaug_cli.engine.tasks import Outcome, Task
    from audioaug_cli.io.inputs import Source

    pools: list[int] = []

    def started(
        _config: object, _units: object, _output_dir: object, jobs: int, _worker_lost: object
    ) -> Iterator[list[Outcome]]:
        pools.append(jobs)
        return iter([])

    monkeypatch.setattr(workers, "_in_local_workers", started)
    monkeypatch.setattr(
        item,
        "augment_stream",
        lambda _c, tasks, _i, _o, _p: ([Outcome(t.source.rel, c, "1:1") for c in t.copies] for t in tasks),
    )
    tasks = [Task(Source(f"f{i}.wav", "", "1:1", size=size), copies) for i, size in enumerate(sizes)]
    list(workers.execute(parse_config("version: 1\npipeline: []\n"), tasks, _stores(tmp_path), jobs=2))
    assert pools == ([2] if in_workers else [])


def test_a_config_error_with_workers_asked_for_is_one_line(tmp_path: Path) -> None:
    """With -j 2, the config is checked before any worker starts: one line, exit 2, nothing written."""
    write_tone(tmp_path / "in" / "a.wav")
    config = tmp_path / "c.yaml"
    config.write_text("version: 1\npipeline: [AddGaussianNoise, Nope]\n")
    done = audioaug("run", config, tmp_path / "in", tmp_path / "out", "-j", "2")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"error: {config}: line 2: pipeline[1]: unknown transform 'Nope' (`audioaug transforms` lists them)"
    ]
    assert not (tmp_path / "out").exists()


def counted_pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of workers of each pool of workers the run starts, as it starts them."""
    from audioaug_cli.engine import workers

    pools: list[int] = []
    real_pool = workers._pool

    def counted(jobs: int) -> object:
        pools.append(jobs)
        return real_pool(jobs)

    monkeypatch.setattr(workers, "_pool", counted)
    return pools


@pytest.mark.parametrize("files,forked", [(6, False), (16, False), (40, True)])
def test_workers_are_started_only_for_a_plan_that_gains_from_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: int, forked: bool
) -> None:
    """Up to two units of work (16 small files) for two workers: starting them would cost more than they save."""
    from audioaug_cli.engine import workers
    from audioaug_cli.engine.tasks import Task
    from audioaug_cli.io.inputs import walk_inputs

    for i in range(files):
        write_tone(tmp_path / "in" / f"f{i:02d}.wav", 0.1, 16000)
    pools = counted_pools(monkeypatch)
    config = parse_config("version: 1\ncopies: 1\npipeline: [Reverse]\n")
    tasks = [Task(s, (1,)) for s in walk_inputs(tmp_path / "in")]
    rows = [row for done in workers.execute(config, tasks, _stores(tmp_path / "out"), 2) for row in done.rows]
    assert sorted(row.source for row in rows) == sorted(t.source.rel for t in tasks)
    assert all((tmp_path / "out" / row.file_name).is_file() for row in rows)
    assert pools == ([2] if forked else [])


def test_a_transform_warning_is_one_line_naming_the_input(tmp_path: Path) -> None:
    """Python would print the warning with its file, line and source; users see one line, once."""
    for name in ("a.wav", "b.wav"):
        write_tone(tmp_path / "in" / name, 0.5, 16000)
    write_tone(tmp_path / "sounds" / "n.wav", 0.5, 22050)
    config = tmp_path / "c.yaml"
    config.write_text("version: 1\npipeline:\n  - AddBackgroundNoise: {sounds_path: sounds, p: 1.0}\n")
    done = audioaug("run", config, tmp_path / "in", tmp_path / "out", "-j", "1")
    assert done.returncode == 0, done.stderr
    warned, summary = done.stderr.splitlines()
    assert warned.startswith("warning: a.wav: ") and "had to be resampled from 22050 Hz to 16000 Hz" in warned
    assert summary.startswith("done: 2 written")
    quiet = audioaug("run", config, tmp_path / "in", tmp_path / "quiet", "-j", "1", "-q")
    assert (quiet.returncode, quiet.stderr) == (0, "")


def test_where_fork_is_not_used_loky_workers_give_the_same_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """macOS and Windows get loky's spawned workers: the same outcomes as forked ones."""
    from audioaug_cli.engine import workers
    from audioaug_cli.engine.tasks import Task
    from audioaug_cli.io.inputs import walk_inputs

    for i in range(40):
        write_tone(tmp_path / "in" / f"f{i:02d}.wav", 0.1, 16000, 1, 200 + 9 * i)
    config = parse_config(PIPELINE)
    tasks = [Task(s, (1, 2)) for s in walk_inputs(tmp_path / "in")]
    forked = sorted(made for done in workers.execute(config, tasks, _stores(tmp_path / "a"), 2) for made in done.made)
    __import__("psutil")  # (loky imports it, and psutil picks its platform module from sys.platform once)
    monkeypatch.setattr(sys, "platform", "darwin")
    spawned = sorted(made for done in workers.execute(config, tasks, _stores(tmp_path / "b"), 2) for made in done.made)
    assert len(forked) == 80
    assert spawned == forked
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


def _killing_source(_config: object, task: Any, _inputs: object, output: Any, _progress: object = None) -> list[Any]:
    """An item function whose one input kills the worker process it runs in (as the OOM killer
    would); every attempt at an item is noted in OUTPUT_DIR/attempts."""
    from audioaug_cli.engine.tasks import Outcome

    attempts = Path(output.path("attempts"))
    attempts.mkdir(parents=True, exist_ok=True)
    for copy in task.copies:
        with open(attempts / f"{task.source.rel}-{copy}", "a") as note:
            note.write("x")
    if task.source.rel == "killer.wav":
        os.kill(os.getpid(), signal.SIGKILL)
    return [Outcome(task.source.rel, c, "1:1", error="made") for c in task.copies]


def _killing_unit(
    config: object, unit: list[Any], inputs: object, output: object, progress: object, hand_back_over: object = None
) -> Any:
    from audioaug_cli.engine.tasks import Finished

    return Finished.of((o for task in unit for o in _killing_source(config, task, inputs, output, progress)), ())


def test_an_input_that_kills_its_worker_fails_alone_and_the_rest_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audioaug_cli.config.load import parse_config
    from audioaug_cli.engine import item, workers
    from audioaug_cli.engine.tasks import Task
    from audioaug_cli.io.inputs import Source

    monkeypatch.setattr(item, "augment_unit", _killing_unit)  # workers are forked: they see these too
    monkeypatch.setattr(item, "augment_source", _killing_source)
    names = [f"f{i:02d}.wav" for i in range(60)]
    names.insert(29, "killer.wav")
    tasks = [Task(Source(name, "", "1:1", size=10), (1, 2)) for name in names]
    results = list(workers.execute(parse_config("version: 1\npipeline: []\n"), tasks, _stores(tmp_path / "o"), 2))
    made = {(source, copy): error for done in results for source, copy, _fingerprint, error in done.failed}
    assert len(made) == 2 * len(names)  # every item once: none lost, none twice in the results
    assert made.pop(("killer.wav", 1)) == made.pop(("killer.wav", 2)) == workers.WORKER_DIED
    assert set(made.values()) == {"made"}
    # What is done again is what was in flight when the worker died (two units a worker, of the
    # pool's), never what had come back before.
    again = [note.name for note in (tmp_path / "o" / "attempts").iterdir() if len(note.read_text()) > 1]
    assert 0 < len(again) <= 2 * 2 * workers.FIRST_UNIT_ITEMS
    first_unit = {f"f{i:02d}.wav-{c}" for i in range(4) for c in (1, 2)}  # back long before the killer
    assert not first_unit & set(again)


def _stores(output_dir: Path) -> tuple[LocalStore, LocalStore, None]:
    """Inputs read by their own paths, outputs into output_dir (the parent records every outcome)."""
    return LocalStore(output_dir.parent), LocalStore(output_dir), None


def test_files_the_walk_leaves_to_the_workers_are_split_by_size_all_the_same(tmp_path: Path) -> None:
    """On a first run the walk reads no file's size (its worker does): a large file's copies are
    still shared by the workers, as when the plan knew its size, and recorded by its fingerprint."""
    from audioaug_cli.engine import workers
    from audioaug_cli.engine.tasks import Task
    from audioaug_cli.io.inputs import UNDESCRIBED, walk_inputs

    for i in range(30):  # more than the first units, which the parent describes itself
        write_tone(tmp_path / "in" / f"a{i:02d}.wav", 0.05)
    big = write_tone(tmp_path / "in" / "big.wav", 70.0)  # 2.2 MB a copy: one copy a unit
    sources = list(walk_inputs(tmp_path / "in", describe=False))
    assert {source.fingerprint for source in sources} == {UNDESCRIBED}
    config = parse_config("version: 1\npipeline: [Reverse]\n")
    results = list(workers.execute(config, [Task(s, (1, 2, 3)) for s in sources], _stores(tmp_path / "out"), 2))
    made = [record for done in results for record in done.made]
    assert sorted((record[0], record[1]) for record in made) == sorted((s.rel, c) for s in sources for c in (1, 2, 3))
    per_unit = [sum(record[0] == "big.wav" for record in done.made) for done in results]
    assert sorted(per_unit)[-3:] == [1, 1, 1]
    st = big.stat()
    assert {record[2] for record in made if record[0] == "big.wav"} == {f"{st.st_size}:{st.st_mtime_ns}"}


def test_a_plan_of_a_few_long_files_the_walk_did_not_describe_goes_to_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audioaug_cli.engine import workers
    from audioaug_cli.engine.tasks import Task
    from audioaug_cli.io.inputs import walk_inputs

    for name in ("a.wav", "b.wav"):
        write_tone(tmp_path / "in" / name, 70.0)
    pools = counted_pools(monkeypatch)
    tasks = [Task(s, (1, 2, 3)) for s in walk_inputs(tmp_path / "in", describe=False)]
    config = parse_config("version: 1\npipeline: [Reverse]\n")
    results = list(workers.execute(config, tasks, _stores(tmp_path / "out"), 2))
    assert pools == [2]
    assert sorted(len(done.made) for done in results if done.made) == [1] * 6


def _first_run(tmp_path: Path, jobs: int = 2) -> Any:
    from audioaug_cli.engine.run import RunOptions, run

    for i in range(40):
        write_tone(tmp_path / "in" / f"d{i % 4}" / f"f{i:02d}.wav", 0.05 + 0.01 * (i % 3))
    (tmp_path / "in" / "broken.wav").write_bytes(b"RIFF....WAVEfmt nothing")
    config = parse_config("version: 1\ncopies: 2\npipeline: [Reverse]\n")
    return run(config, tmp_path / "in", tmp_path / "out", RunOptions(jobs=jobs))


def _refused(*_args: object) -> None:
    raise AssertionError("the parent recorded an item")


def test_on_a_first_run_the_workers_record_their_units_and_the_parent_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Handing out work for dozens of workers, the parent records nothing per item on a first run:
    each worker records its own units in the resume state, which a rerun then finds complete."""
    from audioaug_cli.engine.state import RunState

    with monkeypatch.context() as patched:
        patched.setattr(RunState, "record_outputs", _refused)
        patched.setattr(RunState, "record_failure", _refused)
        summary = _first_run(tmp_path)
    _all_recorded(tmp_path, summary)


def test_what_a_worker_could_not_record_the_parent_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker whose records do not go in (a full disk) hands them to the parent, which records
    them once the workers are done: nothing finished is done again."""
    import sqlite3

    from audioaug_cli.engine.state import RunState

    def full(*_args: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    with monkeypatch.context() as patched:
        patched.setattr(RunState, "record_unit", full)
        summary = _first_run(tmp_path)
    _all_recorded(tmp_path, summary)


def _all_recorded(tmp_path: Path, summary: Any) -> None:
    """What _first_run made is in the manifest and errors.csv, and recorded: a rerun skips it all."""
    assert (summary.written, summary.failed) == (80, 1)
    assert len(rows(tmp_path / "out" / "manifest.csv")) == 80
    assert "broken.wav" in (tmp_path / "out" / "errors.csv").read_text()
    again = audioaug("run", _config(tmp_path), tmp_path / "in", tmp_path / "out")
    assert again.returncode == 1 and "0 written, 80 skipped" in again.stderr, again.stderr


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text("version: 1\ncopies: 2\npipeline: [Reverse]\n")
    return path


def test_reused_workers_record_each_run_in_its_own_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """loky's spawned workers (those of macOS and Windows, here on Linux) record their units too,
    run after run: the second, after --overwrite made a new state in OUTPUT_DIR, in that one."""
    from audioaug_cli.engine.run import RunOptions, run
    from audioaug_cli.engine.state import RunState

    for i in range(40):
        write_tone(tmp_path / "in" / f"f{i:02d}.wav", 0.05)
    config = parse_config("version: 1\npipeline: [Reverse]\n")
    __import__("psutil")  # (loky imports it, and psutil picks its platform module from sys.platform once)
    __import__("joblib.externals.loky")  # (as on Linux: it reads the platform's build settings once)
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(RunState, "record_outputs", _refused)  # (in this process: the workers are spawned)
    for overwrite in (False, True):
        summary = run(config, tmp_path / "in", tmp_path / "out", RunOptions(jobs=2, overwrite=overwrite))
        assert summary.written == 40
        assert len(rows(tmp_path / "out" / "manifest.csv")) == 40


def test_on_a_network_filesystem_the_parent_alone_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sqlite's locks between processes are not to be trusted on NFS or a FUSE mount: there the
    workers hand their records back, and the parent records them, as on a resume."""
    from audioaug_cli.engine import ledger
    from audioaug_cli.engine.state import RunState

    monkeypatch.setattr(ledger, "filesystem_type", lambda _folder: "nfs4")
    monkeypatch.setattr(RunState, "hand_over", _refused)
    summary = _first_run(tmp_path)
    assert (summary.written, summary.failed) == (80, 1)
    assert len(rows(tmp_path / "out" / "manifest.csv")) == 80
