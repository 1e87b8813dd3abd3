"""--segments end to end: what a bad table says, and segments.csv through reruns, originals,
replay and the online Augmenter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from audioaug_cli import Augmenter
from audioaug_cli.config.load import parse_config
from tests.helpers import ConfigWriter, cli, write_tone

SPEED = "version: 1\ncopies: 2\npipeline:\n  - SpeedPerturb: {rates: [0.8, 1.25], choice: by_copy}\n"


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    write_tone(tmp_path / "in" / "a.wav", seconds=1.0)
    write_tone(tmp_path / "in" / "sub" / "b.wav", seconds=0.5)
    return tmp_path / "in"


def table(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "segments.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize(
    "text,message",
    [
        (
            "file_name,start\na.wav,0.1\n",
            "line 1: the segments CSV needs the column(s) end (file_name relative to "
            "INPUT_DIR, start and end in seconds); found: file_name, start",
        ),
        (
            "file_name,start,end\na.wav,0.1,0.2\na.wav,0.5,0.3\n",
            "line 3: end (0.3) is not after start (0.5); a segment lasts longer than nothing (lhotse and Kaldi "
            "refuse empty ones)",
        ),
        (
            "file_name,start,end\nsub/b.wav,0.1,0.7\n",
            "line 2: the segment 0.1-0.7 s ends after sub/b.wav, which lasts 0.500000 s",
        ),
        ("file_name,start,end\na.wav,soon,0.2\n", "line 2: start must be a time in seconds, found 'soon'"),
        ("file_name,start,end\na.wav,-1,0.2\n", "line 2: start must be a time in seconds from 0, found '-1'"),
        (b"file_name,start,end,label\na.wav,0.1,0.2,caf\xe9\n", "cannot read the segments CSV: not UTF-8 text"),
        (
            "file_name,start,end,end\na.wav,0.1,0.2,0.3\n",
            "line 1: the column 'end' appears more than once; give each its own name",
        ),
    ],
)
def test_a_bad_segments_table_is_one_line_and_exit_2_before_anything_is_written(
    text: str, message: str, inputs: Path, tmp_path: Path, write_config: ConfigWriter
) -> None:
    path = table(tmp_path, text)
    result = cli("run", write_config(SPEED), inputs, tmp_path / "out", "--segments", path)
    assert result.exit_code == 2
    assert result.stderr == f"error: {path}: {message}\n"
    assert not (tmp_path / "out").exists()


def test_segments_follow_originals_and_reruns_and_replay(
    inputs: Path, tmp_path: Path, write_config: ConfigWriter
) -> None:
    path = table(
        tmp_path, 'file_name,start,end,text\na.wav,0.2,0.6,hello\nmissing.wav,0,1,x\nsub/b.wav,0.0,0.5,"hi, there"\n'
    )
    config, out = write_config(SPEED), tmp_path / "out"
    args = ("run", config, inputs, out, "-j", "1", "--segments", path, "--include-original")
    assert cli(*args).exit_code == 0
    written = (out / "segments.csv").read_text()
    assert written == (
        "file_name,start,end,text\n"
        "a__aug0.wav,0.200000,0.600000,hello\n"
        "a__aug1.wav,0.250000,0.750000,hello\n"  # copy 1: 0.8 times the speed
        "a__aug2.wav,0.160000,0.480000,hello\n"  # copy 2: 1.25 times
        'sub/b__aug0.wav,0.000000,0.500000,"hi, there"\n'
        'sub/b__aug1.wav,0.000000,0.625000,"hi, there"\n'
        'sub/b__aug2.wav,0.000000,0.400000,"hi, there"\n'
    )
    again = cli(*args)
    assert again.exit_code == 0 and "0 written, 6 skipped" in again.stderr
    assert (out / "segments.csv").read_text() == written
    replayed = cli("replay", out)
    assert replayed.exit_code == 0 and "replayed 12: 12 match" in replayed.stderr
    path.write_text("file_name,start,end,text\na.wav,0.1,0.6,hello\n")  # another table: another run
    changed = cli(*args)
    assert changed.exit_code == 2 and "segments differs" in changed.stderr


def test_the_augmenter_returns_the_segments_moved(tmp_path: Path) -> None:
    augment = Augmenter(
        parse_config("version: 1\npipeline:\n  - Reverse: {p: 1.0}\n  - SpeedPerturb: {rates: [2.0]}\n")
    )
    audio, applied, segments = augment.with_segments(np.zeros(16000, np.float32), 16000, [(0.1, 0.3), (0.9, 1.0)])
    assert len(audio) == 8000 and [t["name"] for t in applied] == ["Reverse", "SpeedPerturb"]
    assert segments == [(0.35, 0.45, 0), (0.0, 0.05, 1)]
