"""`audioaug replay`: outputs made again from the manifest and compared byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import PIPELINE, cli, write_tone


def test_replay_matches_untouched_outputs_and_names_a_changed_one(corpus: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(PIPELINE)  # noise included: every item is reproduced from its seed
    assert cli("run", config, corpus, tmp_path / "out", "-j", "1", "--include-original").exit_code == 0
    every = cli("replay", tmp_path / "out")
    assert every.exit_code == 0, every.output
    assert every.stdout.count("match: ") == 12  # 3 inputs x (3 copies + the original)
    assert every.stderr == "replayed 12: 12 match, 0 do not\n"
    changed = tmp_path / "out" / "music" / "stereo__aug2.wav"
    data = bytearray(changed.read_bytes())
    data[-3] ^= 0xFF
    changed.write_bytes(bytes(data))
    (tmp_path / "out" / "a__aug1.wav").unlink()
    some = cli("replay", tmp_path / "out", "music/stereo__aug2.wav", "a__aug1.wav", "a__aug3.wav", "zzz.wav")
    assert some.exit_code == 1
    assert some.stdout.splitlines() == [
        "not in the manifest: zzz.wav",
        "missing from OUTPUT_DIR: a__aug1.wav",
        "match: a__aug3.wav",
        "differs: music/stereo__aug2.wav",
    ]
    quiet = cli("replay", tmp_path / "out", "-q")
    assert quiet.exit_code == 1 and quiet.stdout.splitlines() == [
        "missing from OUTPUT_DIR: a__aug1.wav",
        "differs: music/stereo__aug2.wav",
    ]


def test_replay_reads_the_sources_from_where_they_are_now(tmp_path: Path) -> None:
    write_tone(tmp_path / "in" / "a.wav")
    config = tmp_path / "c.yaml"
    config.write_text(PIPELINE)
    assert cli("run", config, tmp_path / "in", tmp_path / "out", "-j", "1").exit_code == 0
    assert json.loads((tmp_path / "out" / "audioaug.json").read_text())["input_dir"] == str(tmp_path / "in")
    (tmp_path / "in").rename(tmp_path / "moved")
    lost = cli("replay", tmp_path / "out")
    assert lost.exit_code == 1
    assert lost.stdout.splitlines()[0] == "cannot replay (a.wav: no such file in INPUT_DIR): a__aug1.wav"
    found = cli("replay", tmp_path / "out", "--input-dir", tmp_path / "moved")
    assert found.exit_code == 0 and found.stdout.count("match: ") == 3


def test_replay_of_a_folder_audioaug_did_not_write_is_a_usage_error(tmp_path: Path) -> None:
    result = cli("replay", tmp_path)
    assert result.exit_code == 2
    assert result.stderr == f"error: {tmp_path} holds no audioaug run (no audioaug.json and resume state)\n"


def test_replay_in_workers_says_what_replay_in_process_says(tmp_path: Path) -> None:
    for i in range(6):
        write_tone(tmp_path / "in" / f"t{i}.wav", freq=200 + 50 * i)
    config = tmp_path / "c.yaml"
    config.write_text(PIPELINE)
    assert cli("run", config, tmp_path / "in", tmp_path / "out", "-j", "1").exit_code == 0
    changed = tmp_path / "out" / "t4__aug2.wav"
    changed.write_bytes(changed.read_bytes()[:-2] + b"\x00\x01")
    alone, shared = (cli("replay", tmp_path / "out", "-j", jobs) for jobs in ("1", "2"))
    assert alone.exit_code == shared.exit_code == 1
    assert alone.stdout == shared.stdout and "differs: t4__aug2.wav" in shared.stdout
    assert shared.stderr == "replayed 18: 17 match, 1 do not\n"
