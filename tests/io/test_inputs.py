"""Hostile input trees: links, names that are not UTF-8, FIFOs, noise folders and long names.

Each case that could hang runs under a timer, so that a hang fails the test instead of the suite.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import soundfile as sf

from audioaug_cli.io.atomic import make_folders
from tests.helpers import AUDIOAUG, SIMPLE, ConfigWriter, cli, rows, tone, within, write_tone

# -- 1. links --------------------------------------------------------------------------------

NOISE = "version: 1\npipeline:\n  - AddBackgroundNoise: {{sounds_path: {path}, p: 1.0}}\n"


def test_a_link_to_a_folder_holding_output_dir_never_reaugments_outputs(
    tmp_path: Path, write_config: ConfigWriter
) -> None:
    work = tmp_path / "work"
    write_tone(work / "a.wav")
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "shared").symlink_to(work)
    (inputs / "up").symlink_to("..")  # the whole parent folder, this run's outputs among it
    config = write_config(SIMPLE)
    out = work / "out"
    for _rerun in range(3):
        result = cli("run", config, inputs, out, "-j", "1")
        assert result.exit_code == 0, result.output
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.wav"))
    assert written == ["shared/a__aug1.wav", "shared/a__aug2.wav"]


def test_a_file_link_into_output_dir_is_not_an_input(tmp_path: Path, write_config: ConfigWriter) -> None:
    write_tone(tmp_path / "in" / "a.wav")
    out = tmp_path / "out"
    assert cli("run", write_config(SIMPLE), tmp_path / "in", out, "-j", "1").exit_code == 0
    (tmp_path / "in" / "b.wav").symlink_to(out / "a__aug1.wav")
    result = cli("run", write_config(SIMPLE), tmp_path / "in", out, "-j", "1", "-v")
    assert result.exit_code == 0
    assert "ignored: b.wav: a link into OUTPUT_DIR" in result.stderr
    assert not (out / "b__aug1.wav").exists()


def test_the_walk_visits_each_real_file_once_whatever_the_links(tmp_path: Path) -> None:
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    from audioaug_cli.io.inputs import walk_inputs

    folders = st.lists(st.sampled_from(["a", "b", "a/c", "b/d", "a/c/e", "Ü ñ", "sp ace"]), unique=True)
    link_targets = st.sampled_from(["..", ".", "../..", "ROOT", "OUT", "OUT/sub", "a", "self", "nowhere"])
    links = st.lists(st.tuples(st.sampled_from(["", "a", "b", "a/c"]), link_targets), max_size=6)
    counter = iter(range(10**6))

    @hypothesis.settings(max_examples=60, deadline=None)  # type: ignore[untyped-decorator]
    @hypothesis.given(folders=folders, links=links, out_inside=st.booleans())  # type: ignore[untyped-decorator]
    def check(folders: list[str], links: list[tuple[str, str]], out_inside: bool) -> None:
        base = tmp_path / f"case{next(counter)}"
        root = base / "in"
        out = root / "out" if out_inside else base / "out"
        (out / "sub").mkdir(parents=True)
        sf.write(out / "sub" / "made__aug1.wav", tone(0.01), 16000)
        real = set()
        for folder in ["", *folders]:
            (root / folder).mkdir(parents=True, exist_ok=True)
            name = f"{folder}/x.wav".lstrip("/")
            sf.write(root / name, tone(0.01), 16000)
            real.add(name)
        for i, (where, target) in enumerate(links):
            (root / where).mkdir(parents=True, exist_ok=True)
            link = root / where / f"link{i}"
            goal = {"ROOT": root, "OUT": out, "OUT/sub": out / "sub", "self": link, "nowhere": base / "missing"}.get(
                target, target
            )
            link.symlink_to(goal)
        with within(20):
            found = [s.rel for s in walk_inputs(root, out)]
        assert len(found) == len(set(found))
        for rel in found:
            assert not os.path.realpath(root / rel).startswith(str(out.resolve()) + os.sep)
        # every real file is found once along real folders, or once through a link to its folder
        reached = {os.path.realpath(root / rel) for rel in found}
        assert {os.path.realpath(root / rel) for rel in real} <= reached
        assert len(reached) == len(found)

    check()


def test_a_name_that_is_not_utf8_fails_alone(tmp_path: Path, write_config: ConfigWriter) -> None:
    inputs = tmp_path / "in"
    write_tone(inputs / "good.wav")
    sf.write(os.path.join(os.fsencode(inputs), b"caf\xe9.wav"), tone(), 16000)
    out = tmp_path / "out"
    config = write_config(SIMPLE)
    for _rerun in range(2):
        result = cli("run", config, inputs, out, "-j", "1")
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert [r["source"] for r in rows(out / "errors.csv")] == ["caf\\xe9.wav"]
        assert "not valid UTF-8" in rows(out / "errors.csv")[0]["error"]
        assert sorted(r["file_name"] for r in rows(out / "manifest.csv")) == ["good__aug1.wav", "good__aug2.wav"]
    assert '"status": "complete"' in (out / "audioaug.json").read_text()
    preview = subprocess.run(
        [
            AUDIOAUG,
            "preview",
            str(config),
            os.path.join(os.fsencode(inputs), b"caf\xe9.wav"),
            "-o",
            str(tmp_path / "p"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert preview.returncode == 1 and "Traceback" not in preview.stderr
    assert preview.stderr.strip().splitlines()[-1].endswith("rename it (e.g. `convmv -f latin1 -t utf8`)")


def test_long_names_get_short_temporary_names_and_too_long_ones_fail_alone(
    tmp_path: Path, write_config: ConfigWriter
) -> None:
    inputs = tmp_path / "in"
    write_tone(inputs / ("s" * 236 + ".wav"))  # its output name is 246 bytes: allowed
    write_tone(inputs / ("t" * 248 + ".wav"))  # its output name would be 258 bytes
    out = tmp_path / "out"
    result = cli("run", write_config(SIMPLE), inputs, out, "-j", "1")
    assert result.exit_code == 1
    assert (out / ("s" * 236 + "__aug2.wav")).is_file()
    (error,) = rows(out / "errors.csv")
    assert error["source"] == "t" * 248 + ".wav"
    assert error["error"].startswith("its output name (258 bytes, tttt") and "255 bytes" in error["error"]


def test_noise_folders_are_read_once_by_the_walks_rules(tmp_path: Path, write_config: ConfigWriter) -> None:
    noises = tmp_path / "noises"
    write_tone(noises / "hum.wav", freq=50)
    (noises / "up").symlink_to("..")  # audiomentations' own walk follows this for ever
    (noises / "loop").symlink_to(noises)
    config = write_config(NOISE.format(path="noises"))
    with within(20):
        assert cli("validate", config).exit_code == 0
        write_tone(tmp_path / "in" / "a.wav")
        result = cli("run", config, tmp_path / "in", tmp_path / "out", "-j", "1")
    assert result.exit_code == 0
    (row,) = [r for r in rows(tmp_path / "out" / "manifest.csv") if r["copy"] == "1"]
    assert '"noise_file_path": "noises/hum.wav"' in row["transforms"]


def test_a_fifo_in_input_dir_is_ignored(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    os.mkfifo(corpus / "pipe.wav")
    with within(30):
        result = cli("run", write_config(SIMPLE), corpus, tmp_path / "out", "-j", "1", "-v")
    assert result.exit_code == 0
    assert "ignored: pipe.wav: not a regular file (a FIFO, socket or device)" in result.stderr
    assert "1 ignored" in result.stderr


def test_a_tree_thousands_of_folders_deep_is_walked_without_recursion(
    tmp_path: Path, write_config: ConfigWriter
) -> None:
    inputs = tmp_path / "in"
    write_tone(inputs / "top.wav", 0.1)
    folder = inputs
    for _level in range(1100):  # deeper than Python's recursion limit
        folder = folder / "d"
    make_folders(str(folder))  # (os.makedirs recurses, one call per level)
    (folder / "deep.wav").write_bytes((inputs / "top.wav").read_bytes())  # (libsndfile cannot open such a path)
    try:
        walk_deep_tree(inputs, tmp_path, write_config)
    finally:
        subprocess.run(["rm", "-rf", str(inputs / "d")], check=True)  # (shutil.rmtree, pytest's, recurses)


def walk_deep_tree(inputs: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    dry = cli("run", write_config(SIMPLE), inputs, tmp_path / "out", "--dry-run")
    assert dry.exit_code == 0 and "4 to write" in dry.stderr, dry.output  # two files, two copies each
    done = cli("run", write_config(SIMPLE), inputs, tmp_path / "out", "-j", "1")
    assert "Traceback" not in done.output and "RecursionError" not in done.output
    assert (tmp_path / "out" / "top__aug1.wav").is_file()
    assert done.exit_code in (0, 1)  # the deep one is read, or fails alone with its reason (libsndfile's name limit)
    if done.exit_code == 1:
        assert rows(tmp_path / "out" / "errors.csv")[0]["error"] == "cannot decode: Error : Supplied filename too long"
