"""Hostile runs: files audioaug did not write, dry runs, exit codes and messages, Ctrl-C.

Each case that could hang runs under a timer, so that a hang fails the test instead of the suite.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioaug_cli.config.load import parse_config
from tests.helpers import AUDIOAUG, SIMPLE, ConfigWriter, cli, rows, tree, write_tone

# -- 1. links --------------------------------------------------------------------------------


def test_files_audioaug_did_not_write_are_never_replaced(
    corpus: Path, tmp_path: Path, write_config: ConfigWriter
) -> None:
    config = write_config(SIMPLE)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a__aug1.wav").write_bytes(b"the user's own")
    result = cli("run", config, corpus, out, "-j", "1")
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: OUTPUT_DIR {out} already holds a__aug1.wav, which no audioaug run wrote, "
        "where this run would write; audioaug never replaces a file it did not write: move it "
        "away, or choose another OUTPUT_DIR\n"
    )
    assert tree(out) == {"a__aug1.wav": b"the user's own"}
    (out / "a__aug1.wav").unlink()
    (out / "manifest.csv").write_text("file_name,label\nx.wav,dog\n")
    assert "already holds manifest.csv" in cli("run", config, corpus, out, "-j", "1", "--overwrite").stderr
    assert (out / "manifest.csv").read_text() == "file_name,label\nx.wav,dog\n"


def test_after_a_finished_run_a_new_input_cannot_replace_a_users_file(
    corpus: Path, tmp_path: Path, write_config: ConfigWriter
) -> None:
    config = write_config(SIMPLE)
    out = tmp_path / "out"
    assert cli("run", config, corpus, out, "-j", "1").exit_code == 0
    assert cli("run", config, corpus, out, "-j", "1").exit_code == 0  # its own files are its own
    (out / "new__aug2.wav").write_bytes(b"mine")
    write_tone(corpus / "new.wav")
    result = cli("run", config, corpus, out, "-j", "1")
    assert result.exit_code == 2 and "already holds new__aug2.wav" in result.stderr
    assert (out / "new__aug2.wav").read_bytes() == b"mine"


def test_a_dry_run_counts_what_the_run_does(tmp_path: Path, write_config: ConfigWriter) -> None:
    inputs = tmp_path / "in"
    for extension in ("aiff", "flac", "wav"):
        write_tone(inputs / f"hello.{extension}", seconds=1.0)
    write_tone(inputs / "other.wav", seconds=2.0)
    config = write_config(SIMPLE)
    dry = cli("run", config, inputs, tmp_path / "out", "--dry-run")
    assert dry.exit_code == 0
    assert "hello.flac -> fails: its outputs would have the same names as those of hello.aiff" in dry.stdout
    # 2 copies of hello.aiff (1 s) and other.wav (2 s) at 16 kHz mono PCM_16: 6 s, 192 kB of samples
    assert "dry run: 4 to write (6.0 s of audio, about 192.2 kB), 4 would fail, 0 skipped" in dry.stderr
    result = cli("run", config, inputs, tmp_path / "out", "-j", "1")
    assert "4 written" in result.stderr and len(rows(tmp_path / "out" / "errors.csv")) == 2
    assert sum(p.stat().st_size for p in (tmp_path / "out").glob("*.wav")) == 4 * 44 + 192_000


def test_a_read_only_output_dir_is_a_usage_error(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    mount = tmp_path / "ro"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here")
    try:
        result = cli("run", write_config(SIMPLE), corpus, mount / "out", "-j", "1")
    finally:
        subprocess.run(["umount", str(mount)], check=True)
    assert result.exit_code == 2
    assert (
        result.stderr == f"error: cannot write to OUTPUT_DIR {mount / 'out'}: Read-only file system; "
        "nothing was written\n"
    )


@pytest.mark.parametrize("backend,delay", [("local", 0.3), ("loky", 0.8), ("dask", 1.2)])  # (loky: local's old name)
def test_ctrl_c_at_any_moment_exits_130_without_a_traceback(
    tmp_path: Path, write_config: ConfigWriter, backend: str, delay: float
) -> None:
    for i in range(24):
        write_tone(tmp_path / "in" / f"t{i}.wav", seconds=8.0)
    config = write_config("version: 1\ncopies: 3\npipeline:\n  - PitchShift: {p: 1.0}\n  - TimeStretch: {p: 1.0}\n")
    process = subprocess.Popen(
        [AUDIOAUG, "run", str(config), str(tmp_path / "in"), str(tmp_path / "out"), "-j", "2", "--backend", backend],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err  # (the work takes many seconds: it cannot finish before the signal)
    assert "Traceback" not in err and "Aborted!" not in err


def test_labels_with_duplicate_rows_or_columns_are_refused(
    corpus: Path, tmp_path: Path, write_config: ConfigWriter
) -> None:
    config = write_config(SIMPLE)
    twice = tmp_path / "twice.csv"
    twice.write_text("file_name,label\na.wav,dog\nmusic/stereo.wav,cat\na.wav,bird\n")
    result = cli("run", config, corpus, tmp_path / "out", "--labels", twice)
    assert result.exit_code == 2
    assert result.stderr == f"error: {twice}: line 4: a.wav already has a row (line 2); give each file one row\n"
    column = tmp_path / "column.csv"
    column.write_text("file_name,label,label\na.wav,dog,cat\n")
    result = cli("run", config, corpus, tmp_path / "out", "--labels", column)
    assert result.exit_code == 2 and "line 1: the column 'label' appears more than once" in result.stderr
    assert not (tmp_path / "out").exists()


def test_label_rows_that_match_no_input_are_counted(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("file_name,label\na.wav,dog\nA.WAV,cat\nmissing/b.wav,cat\n")
    result = cli("run", write_config(SIMPLE), corpus, tmp_path / "out", "--labels", labels, "-j", "1")
    assert result.exit_code == 0
    assert (
        "warning: 2 row(s) of --labels name no input found in INPUT_DIR (first: A.WAV); file_name is relative "
        "to INPUT_DIR"
    ) in result.stderr


def test_verbose_names_each_ignored_file(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    (corpus / "notes.txt").write_text("not audio")
    result = cli("run", write_config(SIMPLE), corpus, tmp_path / "out", "-j", "1", "-v")
    assert "ignored: notes.txt: not an audio file" in result.stderr
    quiet = cli("run", write_config(SIMPLE), corpus, tmp_path / "out2", "-j", "1")
    assert "notes.txt" not in quiet.stderr and "1 ignored" in quiet.stderr


def test_the_augmenter_takes_what_soundfile_reads_and_refuses_the_rest(tmp_path: Path) -> None:
    from audioaug_cli import Augmenter

    augment = Augmenter(parse_config("version: 1\npipeline: [Reverse]\n"))
    path = write_tone(tmp_path / "a.wav")
    as_float, rate = sf.read(path, dtype="float32")
    as_int, _rate = sf.read(path, dtype="int16")
    assert np.array_equal(augment(as_int, rate)[0], augment(as_float, rate)[0])
    stereo = np.stack([as_float, as_float], axis=1)
    with pytest.raises(ValueError, match=r"shape \(2, 8000\): more channels than frames.*pass samples.T"):
        augment(stereo.T, rate)
    with pytest.raises(ValueError, match="sample_rate must be a positive integer"):
        augment(as_float, 0)
    with pytest.raises(TypeError, match="found uint8"):
        augment(as_int.astype(np.uint8), rate)


def test_prune_removes_the_folders_it_empties(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    config = write_config(SIMPLE)
    out = tmp_path / "out"
    (out / "kept_empty").mkdir(parents=True)  # the user's own empty folder stays
    assert cli("run", config, corpus, out, "-j", "1").exit_code == 0
    (corpus / "speech" / "deep" / "voice.flac").unlink()
    assert cli("run", config, corpus, out, "-j", "1", "--prune").exit_code == 0
    assert not (out / "speech").exists() and (out / "kept_empty").is_dir() and (out / "music").is_dir()


def test_a_garbage_mp3_fails_with_one_clear_line_and_nothing_else_on_stderr(
    tmp_path: Path, write_config: ConfigWriter
) -> None:
    write_tone(tmp_path / "in" / "a.wav")
    (tmp_path / "in" / "bad.mp3").write_bytes(np.random.default_rng(0).bytes(5000))
    result = subprocess.run(
        [AUDIOAUG, "run", str(write_config(SIMPLE)), str(tmp_path / "in"), str(tmp_path / "out"), "-j", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert rows(tmp_path / "out" / "errors.csv") == [
        {"source": "bad.mp3", "error": "cannot decode: not a valid MP3 file (no MPEG audio frames)"}
    ]
    assert result.stderr.splitlines()[0].startswith("done: 2 written")
    assert "MPEG" not in result.stderr


def test_the_first_numba_compile_is_announced(
    tmp_path: Path, write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audioaug_cli.transforms.registry import compiles_librosa_code, numba_cache_empty

    def compiles(text: str) -> bool:
        config = parse_config("version: 1\n" + text)
        return compiles_librosa_code(config.pipeline, config.spectrogram is not None)

    assert not compiles("pipeline: [Reverse, PitchShift, TimeStretch]\n")  # signalsmith: no librosa
    assert compiles("pipeline: [{OneOf: {transforms: [Reverse, Resample]}}]\n")
    assert compiles("pipeline: [{PitchShift: {method: librosa_phase_vocoder}}]\n")
    assert compiles("pipeline: []\nspectrogram: {}\n")
    cache = tmp_path / "numba-cache"
    cache.mkdir()
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))
    assert numba_cache_empty()
    (tmp_path / "in").mkdir()  # nothing to augment: the notice, without paying for the compile
    result = cli("run", write_config("version: 1\npipeline: [Trim]\n"), tmp_path / "in", tmp_path / "out")
    assert result.stderr.startswith("note: this config uses librosa code that numba compiles on its first use")
    quiet = cli("run", write_config("version: 1\npipeline: [Reverse]\n"), tmp_path / "in", tmp_path / "out2")
    assert "note:" not in quiet.stderr
    (cache / "librosa_core").mkdir()
    (cache / "librosa_core" / "audio.resample-1.py311.nbi").write_bytes(b"")
    assert not numba_cache_empty()


def test_a_transform_handed_a_view_or_panicking_fails_nothing_else(
    corpus: Path, tmp_path: Path, write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reverse gives a view; Limiter's compiled code panics on one (a BaseException from pyo3)
    unless handed C order. A panic that still happens is that item's failure, one line."""
    done = cli(
        "run",
        write_config("version: 1\npipeline: [{Reverse: {p: 1.0}}, {Limiter: {p: 1.0}}]\n"),
        corpus,
        tmp_path / "out",
        "-j",
        "1",
    )
    assert done.exit_code == 0, done.output
    assert len(rows(tmp_path / "out" / "manifest.csv")) == 3

    from audiomentations import Gain

    class PanicException(BaseException):  # what pyo3 raises for a Rust panic
        pass

    def panics(self: object, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        if samples.ndim > 1:
            raise PanicException("channel not contiguous")
        return samples

    monkeypatch.setattr(Gain, "apply", panics)
    ran = cli("run", write_config("version: 1\npipeline: [{Gain: {p: 1.0}}]\n"), corpus, tmp_path / "again", "-j", "1")
    assert ran.exit_code == 1 and "Traceback" not in ran.output
    assert rows(tmp_path / "again" / "errors.csv") == [
        {"source": "music/stereo.wav", "error": "PanicException: channel not contiguous"}
    ]
    assert len(rows(tmp_path / "again" / "manifest.csv")) == 2


def test_a_transform_that_left_the_audio_as_it_was_is_not_listed(tmp_path: Path, write_config: ConfigWriter) -> None:
    """Noise from a silent file and the loudness of a silent input: each transform gives up and
    hands its input back, and is not listed as applied (what it drew did not happen); the
    manifest holds only standard JSON."""
    noise, inputs = tmp_path / "noise", tmp_path / "in"
    for folder, name in ((noise, "silent.wav"), (inputs, "silence.wav")):
        folder.mkdir()
        sf.write(folder / name, np.zeros(8000, np.float32), 8000)
    write_tone(inputs / "tone.wav", 0.5, 8000)
    config = write_config(
        "version: 1\noutput: {subtype: FLOAT}\npipeline:\n  - LoudnessNormalization: {p: 1.0}\n"
        f"  - AddBackgroundNoise: {{sounds_path: {noise}, min_snr_db: 3, max_snr_db: 3, p: 1.0}}\n"
        "  - Gain: {min_gain_db: -3, max_gain_db: -1, p: 1.0}\n"
    )
    done = subprocess.run([AUDIOAUG, "run", config, inputs, tmp_path / "out", "-j", "1", "-q"], capture_output=True)
    assert done.returncode == 0, done.stderr  # (a process: the suite's filters make audiomentations' warning an error)
    listed = {
        row["source"]: [t["name"] for t in json.loads(row["transforms"], parse_constant=pytest.fail)]
        for row in rows(tmp_path / "out" / "manifest.csv")
    }
    assert listed == {"silence.wav": ["Gain"], "tone.wav": ["LoudnessNormalization", "Gain"]}
    assert subprocess.run([AUDIOAUG, "replay", tmp_path / "out", "-q"]).returncode == 0


def test_a_name_cannot_forge_a_line_or_drive_the_terminal(tmp_path: Path, write_config: ConfigWriter) -> None:
    """A file name may hold a newline or a terminal's escape sequence: every line about it is one
    line with those characters written as escapes (-v, --dry-run, replay, errors), while errors.csv
    and the manifest keep the name as it is (CSV quotes it)."""
    hostile = ("new\nline.wav", "esc\x1b[2Jred.wav", "sep\u2028ok.wav")
    inputs = tmp_path / "in"
    write_tone(inputs / "fine.wav")
    for name in hostile:
        (inputs / name).write_bytes(b"not audio")
    write_tone(inputs / "sound\x1b]0;title\x07.wav")
    config, out = write_config(SIMPLE), tmp_path / "out"
    labels = tmp_path / "labels.csv"
    labels.write_text('file_name,speaker\n"gone\x1b[8m\nx.wav",s1\n')  # names no input
    said = cli("run", config, inputs, out, "-j", "1", "-v", "--labels", labels).output
    planned = cli("run", config, inputs, tmp_path / "planned", "--dry-run").output
    replayed = cli("replay", out, "--input-dir", inputs).output
    refused = cli("validate", tmp_path / "no\x1bsuch.yaml").output
    for output in (said, planned, replayed, refused):
        assert "\x1b" not in output and "\u2028" not in output and "\x07" not in output
    lines = said.splitlines()
    for shown in ("new\\nline.wav", "esc\\x1b[2Jred.wav", "sep\\u2028ok.wav"):
        assert sum(line.startswith(f"failed: {shown} (copy ") for line in lines) == 2, shown
    assert not any(line.startswith("line.wav") for line in lines)
    assert "(first: gone\\x1b[8m\\nx.wav)" in said
    assert "sound\\x1b]0;title\\x07__aug1.wav" in replayed and "no\\x1bsuch.yaml: no such file" in refused
    assert sorted(row["source"] for row in rows(out / "errors.csv")) == sorted(hostile)
    assert "sound\x1b]0;title\x07.wav" in {row["source"] for row in rows(out / "manifest.csv")}
