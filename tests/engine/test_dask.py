"""`--backend dask` on a real dask.distributed cluster writes the same bytes as loky."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import PIPELINE, audioaug, cli, make_corpus, tree, write_tone


@pytest.fixture(scope="module")
def cluster_address() -> Iterator[str]:
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_dask_on_an_existing_cluster_matches_loky(tmp_path: Path, cluster_address: str) -> None:
    inputs = make_corpus(tmp_path / "in")
    config = tmp_path / "c.yaml"
    config.write_text(PIPELINE)
    loky = audioaug("run", config, inputs, tmp_path / "loky", "-j", "2")
    dask = audioaug("run", config, inputs, tmp_path / "dask", "--backend", "dask", "--scheduler", cluster_address)
    assert loky.returncode == 0, loky.stderr
    assert dask.returncode == 0, dask.stderr
    assert "done: 30 written" in dask.stderr
    assert tree(tmp_path / "dask") == tree(tmp_path / "loky")


@pytest.fixture(scope="module")
def loky_reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, bytes]]:
    """A 20-file corpus, its config, and what loky writes for it."""
    root = tmp_path_factory.mktemp("threads")
    inputs = make_corpus(root / "in", files=20)
    config = root / "c.yaml"
    config.write_text(PIPELINE)
    loky = audioaug("run", config, inputs, root / "loky", "-j", "2")
    assert loky.returncode == 0, loky.stderr
    return config, inputs, tree(root / "loky")


@pytest.mark.parametrize("workers,threads", [(1, 2), (2, 2)])
def test_dask_workers_with_several_threads_match_loky(
    workers: int, threads: int, tmp_path: Path, loky_reference: tuple[Path, Path, dict[str, bytes]]
) -> None:
    """`dask worker` runs a thread per core by default: items in threads must not share state."""
    from dask.distributed import LocalCluster

    config, inputs, expected = loky_reference
    with LocalCluster(
        n_workers=workers, threads_per_worker=threads, processes=True, host="127.0.0.1", dashboard_address=":0"
    ) as cluster:  # another test's cluster may hold the default port
        dask = audioaug(
            "run", config, inputs, tmp_path / "dask", "--backend", "dask", "--scheduler", cluster.scheduler_address
        )
    assert dask.returncode == 0, dask.stderr
    assert "done: 60 written" in dask.stderr
    assert tree(tmp_path / "dask") == expected


def test_dask_starts_a_local_cluster_without_an_address(tmp_path: Path) -> None:
    inputs = make_corpus(tmp_path / "in")
    config = tmp_path / "c.yaml"
    config.write_text(PIPELINE)
    one = audioaug("run", config, inputs, tmp_path / "one", "-j", "1")
    dask = audioaug("run", config, inputs, tmp_path / "dask", "--backend", "dask", "-j", "2")
    assert one.returncode == 0, one.stderr
    assert dask.returncode == 0, dask.stderr
    assert tree(tmp_path / "dask") == tree(tmp_path / "one")


def test_dask_missing_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tone(tmp_path / "in" / "a.wav")
    config = tmp_path / "c.yaml"
    config.write_text("version: 1\npipeline: [Reverse]\n")
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails as if not installed
    result = cli("run", config, tmp_path / "in", tmp_path / "out", "--backend", "dask")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --backend dask needs dask.distributed, which is not installed: pip install 'audioaug[dask]'\n"
    )
    assert not (tmp_path / "out").exists()


def test_unreachable_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    write_tone(tmp_path / "in" / "a.wav")
    config = tmp_path / "c.yaml"
    config.write_text("version: 1\npipeline: [Reverse]\n")
    result = audioaug(
        "run", config, tmp_path / "in", tmp_path / "out", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9"
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot reach the dask scheduler at tcp://127.0.0.1:9: ")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # refused before anything was written
    for address in ("tcp://127.0.0.1:notaport", "nonsense"):
        malformed = audioaug(
            "run", config, tmp_path / "in", tmp_path / "out", "--backend", "dask", "--scheduler", address
        )
        assert malformed.returncode == 2, malformed.stderr
        assert malformed.stderr.startswith(f"error: --scheduler '{address}' is not a dask scheduler address")
        assert len(malformed.stderr.splitlines()) == 1 and not (tmp_path / "out").exists()


MOVING = """\
version: 1
seed: 21
copies: 3
pipeline:
  - Shift: {min_shift: -0.3, max_shift: 0.3, rollover: true, p: 0.8}
  - SpeedPerturb: {rates: [0.9, 1.0, 1.1]}
  - AdjustDuration: {duration_seconds: 0.35, p: 0.5}
  - OneOf: {transforms: [Reverse, {TimeStretch: {leave_length_unchanged: false, p: 1.0}}]}
"""


def test_segments_are_the_same_whatever_the_parallelism(tmp_path: Path, cluster_address: str) -> None:
    """The drawn crops and shifts that move segments belong to each item: -j 1, -j 2 and dask
    threads write the same segments.csv (and the same everything else)."""
    inputs = make_corpus(tmp_path / "in", files=8)
    table = tmp_path / "segments.csv"
    table.write_text(
        "file_name,start,end,label\n"
        + "".join(
            f"{p.relative_to(inputs).as_posix()},0.05,0.15,e{i}\n" for i, p in enumerate(sorted(inputs.rglob("*.wav")))
        )
    )
    config = tmp_path / "c.yaml"
    config.write_text(MOVING)
    outs = {}
    for name, extra in (
        ("one", ["-j", "1"]),
        ("two", ["-j", "2"]),
        ("dask", ["--backend", "dask", "--scheduler", cluster_address]),
    ):
        done = audioaug("run", config, inputs, tmp_path / name, "--segments", table, *extra)
        assert done.returncode == 0, done.stderr
        outs[name] = tree(tmp_path / name)
    assert outs["one"] == outs["two"] == outs["dask"]
    assert outs["one"]["segments.csv"].count(b"\n") > 8  # every output has its segment, or a wrapped one two


def test_mixtures_and_their_stems_are_the_same_on_dask(tmp_path: Path, cluster_address: str) -> None:
    """A mixture draws its noise, reverb and other speakers from its own generator: dask writes
    the stems -j 2 writes."""
    from tests.engine.test_mix import make_world

    root = make_world(tmp_path, speakers=4, per_speaker=2)
    labels = root / "labels.csv"
    local = audioaug("run", root / "c.yaml", root / "in", root / "local", "--labels", labels, "-j", "2")
    assert local.returncode == 0, local.stderr
    dask = audioaug(
        "run", root / "c.yaml", root / "in", root / "dask", "--labels", labels, "--backend", "dask",
        "--scheduler", cluster_address,
    )  # fmt: skip
    assert dask.returncode == 0, dask.stderr
    assert tree(root / "dask") == tree(root / "local")
    assert len([name for name in tree(root / "local") if name.startswith("noise/")]) == 16
