"""`audioaug run` end to end through the CLI: outputs, manifest, exit codes, walking, resuming."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioaug_cli.engine.tasks import item_seed
from audioaug_cli.io.manifest import COLUMNS
from audioaug_cli.version import installed_version
from tests.helpers import SIMPLE, cli, tree, write_tone

ConfigWriter = Callable[..., Path]


def read_manifest(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_happy_path_writes_mirrored_outputs_and_a_manifest(
    corpus: Path, tmp_path: Path, write_config: ConfigWriter
) -> None:
    out = tmp_path / "out"
    result = cli("run", write_config(SIMPLE), corpus, out, "-j", "1")
    assert result.exit_code == 0, result.output
    assert "done: 6 written, 0 skipped (already done), 0 failed, 0 ignored in" in result.stderr
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.wav"))
    assert names == [
        "a__aug1.wav",
        "a__aug2.wav",
        "music/stereo__aug1.wav",
        "music/stereo__aug2.wav",
        "speech/deep/voice__aug1.wav",
        "speech/deep/voice__aug2.wav",
    ]
    with (out / "manifest.csv").open(newline="") as handle:
        header = next(csv.reader(handle))
    assert tuple(header) == COLUMNS
    rows = read_manifest(out / "manifest.csv")
    assert [(r["source"], r["copy"]) for r in rows] == sorted((r["source"], r["copy"]) for r in rows)
    assert [r["file_name"] for r in rows] == sorted(names, key=lambda n: (n.replace("__aug", "."), n))
    for row in rows:
        info = sf.info(out / row["file_name"])
        assert (int(row["sample_rate"]), int(row["channels"]), int(row["frames"])) == (
            info.samplerate,
            info.channels,
            info.frames,
        )
        assert float(row["duration"]) == pytest.approx(info.frames / info.samplerate, abs=1e-6)
        assert int(row["seed"]) == item_seed(3, row["source"], int(row["copy"]))
        applied = json.loads(row["transforms"])
        assert applied[0]["name"] == "Gain" and set(applied[0]["params"]) == {"amplitude_ratio"}
    assert not (out / "errors.csv").exists()
    provenance = json.loads((out / "audioaug.json").read_text())
    assert provenance["seed"] == 3 and provenance["copies"] == 2 and provenance["status"] == "complete"
    assert provenance["versions"] == {name: version(name) for name in provenance["versions"]}
    assert set(provenance["versions"]) == {"audioaug", "audiomentations", "librosa", "numpy", "soundfile"}
    assert provenance["counts"] == {"outputs": 6, "sources": 3, "failed_inputs": 0}


def test_installed_versions_match_the_package_metadata() -> None:
    """Read from the dist-info folder's name, not importlib.metadata (slow to import)."""
    for name in ("librosa", "audiomentations", "PyYAML", "typing-extensions"):
        assert installed_version(name) == version(name)
    assert installed_version("no-such-package-here") == "not installed"


def test_sample_rate_and_channels_are_preserved(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    out = tmp_path / "out"
    assert cli("run", write_config(SIMPLE), corpus, out, "-j", "1").exit_code == 0
    assert (sf.info(out / "a__aug1.wav").samplerate, sf.info(out / "a__aug1.wav").channels) == (16000, 1)
    stereo = sf.info(out / "music/stereo__aug1.wav")
    assert (stereo.samplerate, stereo.channels) == (44100, 2)
    assert sf.info(out / "speech/deep/voice__aug1.wav").samplerate == 22050
    # Gain with rollover-free shift keeps the two channels distinct (not mixed or duplicated)
    data, _ = sf.read(out / "music/stereo__aug1.wav")
    assert not np.allclose(data[:, 0], data[:, 1])


def test_audio_section_resamples_and_mixes_down(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    config = write_config("version: 1\naudio: {sample_rate: 8000, mono: true}\npipeline: []\n")
    out = tmp_path / "out"
    assert cli("run", config, corpus, out, "-j", "1").exit_code == 0
    for path in out.rglob("*.wav"):
        info = sf.info(path)
        assert (info.samplerate, info.channels) == (8000, 1)
    assert sf.info(out / "music/stereo__aug1.wav").frames == int(0.4 * 8000)


def test_empty_pipeline_copies_the_audio_within_quantisation(
    corpus: Path, tmp_path: Path, write_config: ConfigWriter
) -> None:
    out = tmp_path / "out"
    assert cli("run", write_config("version: 1\npipeline: []\n"), corpus, out, "-j", "1").exit_code == 0
    original, _ = sf.read(corpus / "music/stereo.wav", dtype="int16")
    copied, _ = sf.read(out / "music/stereo__aug1.wav", dtype="int16")
    np.testing.assert_array_equal(original, copied)
    assert read_manifest(out / "manifest.csv")[0]["transforms"] == "[]"


@pytest.mark.parametrize(
    ("fmt", "subtype", "suffix"),
    [("flac", "PCM_24", ".flac"), ("ogg", "VORBIS", ".ogg"), ("ogg", "OPUS", ".ogg"), ("wav", "FLOAT", ".wav")],
)
def test_output_format_and_subtype(
    corpus: Path, tmp_path: Path, write_config: ConfigWriter, fmt: str, subtype: str, suffix: str
) -> None:
    """In every format, the same bytes from any -j and any run (libsndfile draws each Ogg stream's
    serial number at random: audioaug fixes it), so `replay` matches."""
    audio = "audio: {sample_rate: 48000}\n" if subtype == "OPUS" else ""
    config = write_config(f"version: 1\n{audio}output: {{format: {fmt}, subtype: {subtype}}}\npipeline: [Reverse]\n")
    out = tmp_path / "out"
    assert cli("run", config, corpus, out, "-j", "1").exit_code == 0
    files = sorted(out.rglob(f"*{suffix}"))
    assert len(files) == 3
    assert all(sf.info(f).subtype == subtype for f in files)
    assert cli("run", config, corpus, tmp_path / "again", "-j", "2").exit_code == 0
    assert tree(tmp_path / "again") == tree(out)
    assert cli("replay", out).exit_code == 0


def test_copies_and_seed_options_override_the_config(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    out = tmp_path / "out"
    assert cli("run", write_config(SIMPLE), corpus, out, "-j", "1", "--copies", "3", "--seed", "9").exit_code == 0
    rows = read_manifest(out / "manifest.csv")
    assert len(rows) == 9 and {r["copy"] for r in rows} == {"1", "2", "3"}
    assert all(int(r["seed"]) == item_seed(9, r["source"], int(r["copy"])) for r in rows)


def test_environment_variables_set_options(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    out = tmp_path / "out"
    result = cli(
        "run",
        write_config(SIMPLE),
        corpus,
        out,
        env={"AUDIOAUG_JOBS": "1", "AUDIOAUG_COPIES": "1", "AUDIOAUG_SEED": "9"},
    )
    assert result.exit_code == 0
    rows = read_manifest(out / "manifest.csv")
    assert len(rows) == 3 and all(int(r["seed"]) == item_seed(9, r["source"], 1) for r in rows)
    refused = cli("run", write_config(SIMPLE), corpus, tmp_path / "other", env={"AUDIOAUG_JOBS": "0"})
    assert refused.exit_code == 2 and "0 is not in the range x>=1" in refused.stderr  # -j came from AUDIOAUG_JOBS


def test_labels_are_copied_to_every_output(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text('file_name,speaker,text\na.wav,s1,hello\nspeech/deep/voice.flac,s2,"hi, there"\n')
    out = tmp_path / "out"
    assert cli("run", write_config(SIMPLE), corpus, out, "-j", "1", "--labels", labels).exit_code == 0
    rows = read_manifest(out / "manifest.csv")
    assert list(rows[0]) == [*COLUMNS, "speaker", "text"]
    by_source = {(r["source"], r["copy"]): (r["speaker"], r["text"]) for r in rows}
    assert by_source[("a.wav", "2")] == ("s1", "hello")
    assert by_source[("speech/deep/voice.flac", "1")] == ("s2", "hi, there")
    assert by_source[("music/stereo.wav", "1")] == ("", "")


def test_labels_without_file_name_is_a_usage_error(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("path,speaker\na.wav,s1\n")
    result = cli("run", write_config(SIMPLE), corpus, tmp_path / "out", "--labels", labels)
    assert result.exit_code == 2
    assert "line 1: the labels CSV needs the column(s) file_name (paths relative to INPUT_DIR)" in result.stderr
    assert not (tmp_path / "out").exists()


def test_walk_skips_hidden_and_non_audio_and_matches_extensions_in_any_case(
    tmp_path: Path, write_config: ConfigWriter
) -> None:
    root = tmp_path / "in"
    write_tone(root / "LOUD.WAV")
    write_tone(root / ".hidden.wav")
    write_tone(root / ".cache" / "x.wav")
    write_tone(root / "sub" / "quiet.Flac")  # soundfile reads the format from any case
    (root / "notes.txt").write_text("not audio")
    out = tmp_path / "out"
    result = cli("run", write_config("version: 1\npipeline: []\n"), root, out, "-j", "1")
    assert result.exit_code == 0
    assert sorted(r["source"] for r in read_manifest(out / "manifest.csv")) == ["LOUD.WAV", "sub/quiet.Flac"]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.wav")) == [
        "LOUD__aug1.wav",
        "sub/quiet__aug1.wav",
    ]
    assert "1 ignored" in result.stderr
    assert "warning" not in result.stderr


def test_a_folder_without_audio_says_so(tmp_path: Path, write_config: ConfigWriter) -> None:
    """Exit 0 (an empty corpus is a corpus) with a warning a CI log shows: a wrong path or extension."""
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "sub" / "clip.m4a").write_bytes(b"not read")
    result = cli("run", write_config("version: 1\npipeline: []\n"), tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 0
    assert result.stderr.splitlines()[-1] == (
        f"warning: no audio files in {tmp_path / 'in'} (1 file(s) ignored: not audio, or left out by "
        "--include/--exclude); audioaug reads .wav .flac .ogg .oga .opus .mp3 .aif .aiff files, in subfolders too"
    )


def test_include_and_exclude_globs(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    out = tmp_path / "out"
    config = write_config("version: 1\npipeline: []\n")
    assert cli("run", config, corpus, out, "-j", "1", "--include", "*.wav", "--exclude", "music/*").exit_code == 0
    assert [r["source"] for r in read_manifest(out / "manifest.csv")] == ["a.wav"]


def test_output_inside_input_is_not_read_back(corpus: Path, write_config: ConfigWriter) -> None:
    out = corpus / "augmented"
    config = write_config("version: 1\npipeline: []\n")
    assert cli("run", config, corpus, out, "-j", "1").exit_code == 0
    assert cli("run", config, corpus, out, "-j", "1", "--copies", "1").exit_code == 0
    sources = [r["source"] for r in read_manifest(out / "manifest.csv")]
    assert sources == ["a.wav", "music/stereo.wav", "speech/deep/voice.flac"]


def test_symlinked_files_are_read_and_symlink_loops_end(
    corpus: Path, tmp_path: Path, write_config: ConfigWriter
) -> None:
    os.symlink(corpus / "a.wav", corpus / "link.wav")
    os.symlink(corpus, corpus / "music" / "loop")
    out = tmp_path / "out"
    assert cli("run", write_config("version: 1\npipeline: []\n"), corpus, out, "-j", "1").exit_code == 0
    sources = [r["source"] for r in read_manifest(out / "manifest.csv")]
    assert "link.wav" in sources and len(sources) == 4


def test_two_inputs_with_one_output_name_fail_the_second(tmp_path: Path, write_config: ConfigWriter) -> None:
    root = tmp_path / "in"
    write_tone(root / "x.wav")
    write_tone(root / "x.flac")
    out = tmp_path / "out"
    result = cli("run", write_config("version: 1\npipeline: []\n"), root, out, "-j", "1")
    assert result.exit_code == 1
    errors = read_manifest(out / "errors.csv")
    assert errors == [
        {"source": "x.wav", "error": "its outputs would have the same names as those of x.flac; rename one of the two"}
    ]


def test_a_bad_file_fails_alone_with_exit_1(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    (corpus / "broken.wav").write_text("this is not audio")
    out = tmp_path / "out"
    result = cli("run", write_config(SIMPLE), corpus, out, "-j", "1")
    assert result.exit_code == 1
    assert "1 failed" in result.stderr and "Traceback" not in result.output
    assert len(read_manifest(out / "manifest.csv")) == 6
    [error] = read_manifest(out / "errors.csv")
    assert error["source"] == "broken.wav" and error["error"].startswith("cannot decode: ")


def test_rerun_is_a_no_op_and_a_changed_config_is_refused(
    corpus: Path, tmp_path: Path, write_config: ConfigWriter
) -> None:
    out = tmp_path / "out"
    config = write_config(SIMPLE)
    assert cli("run", config, corpus, out, "-j", "1").exit_code == 0
    mtimes = {p: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()} | {
        p: p.stat().st_mtime_ns for p in out.rglob("*.wav")
    }
    again = cli("run", config, corpus, out, "-j", "1")
    assert again.exit_code == 0 and "0 written, 6 skipped" in again.stderr
    assert mtimes == {p: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()} | {
        p: p.stat().st_mtime_ns for p in out.rglob("*.wav")
    }  # not even the manifest is rewritten
    refused = cli("run", config, corpus, out, "-j", "1", "--seed", "4")
    assert refused.exit_code == 2
    assert "was made with a different config (seed 3 -> 4)" in refused.stderr and "--overwrite" in refused.stderr


def test_a_finished_rerun_writes_again_only_what_changed_or_went_missing(
    corpus: Path, tmp_path: Path, write_config: ConfigWriter
) -> None:
    """A finished rerun skips writing the manifest; it must still restore an edited or removed
    manifest, take a changed labels CSV, and describe records a killed run left behind."""
    out, config, labels = tmp_path / "out", write_config(SIMPLE), tmp_path / "labels.csv"
    labels.write_text("file_name,speaker\na.wav,s1\n")
    assert cli("run", config, corpus, out, "-j", "1", "--labels", labels).exit_code == 0
    written = (out / "manifest.csv").read_text()
    (out / "manifest.csv").write_text("edited by hand\n")
    assert cli("run", config, corpus, out, "-j", "1", "--labels", labels).exit_code == 0
    assert (out / "manifest.csv").read_text() == written
    (out / "manifest.csv").unlink()
    assert cli("run", config, corpus, out, "-j", "1", "--labels", labels).exit_code == 0
    assert (out / "manifest.csv").read_text() == written
    labels.write_text("file_name,speaker\na.wav,s9\n")
    assert cli("run", config, corpus, out, "-j", "1", "--labels", labels).exit_code == 0
    speakers = {row["source"]: row["speaker"] for row in read_manifest(out / "manifest.csv")}
    assert speakers["a.wav"] == "s9"
    # A run killed after recording an item, before writing its manifest: the next rerun writes it.
    from audioaug_cli.engine.state import RunState

    state = RunState(out, reserve=False)
    [row] = [r for r in state.rows() if r.source == "a.wav" and r.copy == 1]
    state.record_output(
        replace(row, duration=123.0),
        state.db.execute("SELECT fingerprint FROM outputs WHERE source='a.wav' AND copy=1").fetchone()[0],
    )
    state.commit()
    state.db.close()
    assert cli("run", config, corpus, out, "-j", "1", "--labels", labels).exit_code == 0
    durations = {(r["source"], r["copy"]): r["duration"] for r in read_manifest(out / "manifest.csv")}
    assert float(durations["a.wav", "1"]) == 123.0


def test_overwrite_keeps_foreign_files(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    out = tmp_path / "out"
    assert cli("run", write_config(SIMPLE), corpus, out, "-j", "1").exit_code == 0
    (out / "mine.txt").write_text("keep me")
    result = cli("run", write_config(SIMPLE), corpus, out, "-j", "1", "--overwrite", "--copies", "1")
    assert result.exit_code == 0
    assert (out / "mine.txt").read_text() == "keep me"
    assert not (out / "a__aug2.wav").exists() and (out / "a__aug1.wav").exists()


def test_dry_run_lists_and_writes_nothing(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    out = tmp_path / "out"
    result = cli("run", write_config(SIMPLE), corpus, out, "--dry-run")
    assert result.exit_code == 0
    assert "a.wav -> a__aug1.wav" in result.stdout and "dry run: 6 to write" in result.stderr
    assert not out.exists()


def test_input_dir_must_exist_and_differ_from_output(tmp_path: Path, corpus: Path, write_config: ConfigWriter) -> None:
    missing = cli("run", write_config(SIMPLE), tmp_path / "nope", tmp_path / "out")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    same = cli("run", write_config(SIMPLE), corpus, corpus)
    assert same.exit_code == 2 and "OUTPUT_DIR must differ from INPUT_DIR" in same.stderr


def test_bad_config_exits_2_and_writes_nothing(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    out = tmp_path / "out"
    result = cli("run", write_config("version: 1\npipeline:\n  - PitchShift: {min_semitone: 2}\n"), corpus, out)
    assert result.exit_code == 2
    assert (
        "line 3: pipeline[0].PitchShift.min_semitone: unknown parameter; did you mean min_semitones?" in result.stderr
    )
    assert not out.exists()


def test_an_unwritable_output_dir_is_a_clear_error(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = cli("run", write_config(SIMPLE), corpus, blocker / "out", "-j", "1")
    assert result.exit_code == 2  # nothing was written: a usage error
    assert result.stderr == (
        f"error: cannot write to OUTPUT_DIR {blocker / 'out'}: Not a directory; nothing was written\n"
    )


def test_version() -> None:
    from audioaug_cli import __version__

    assert cli("--version").output.strip() == f"audioaug {__version__}"


def test_summary_json_for_ci(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    (corpus / "broken.wav").write_bytes(b"RIFF0000WAVEnot audio")
    report = tmp_path / "reports" / "summary.json"
    report.parent.mkdir()
    result = cli("run", write_config(SIMPLE), corpus, tmp_path / "out", "-j", "1", "--summary-json", report)
    assert result.exit_code == 1
    found = json.loads(report.read_text())
    assert found["exit_code"] == 1 and found["written"] == 6 and found["failed"] == 1 and found["skipped"] == 0
    assert found["interrupted"] is False and found["seconds"] > 0
    again = cli("run", write_config(SIMPLE), corpus, tmp_path / "out", "-j", "1", "--summary-json", report)
    assert again.exit_code == 1 and json.loads(report.read_text())["skipped"] == 6


def test_every_format_and_subtype_writes_the_same_bytes_a_second_later(tmp_path: Path) -> None:
    """No time stamp in any header (libsndfile's PEAK chunk in float WAVs held the clock)."""
    import time

    import soundfile as sf

    from audioaug_cli.io.audio import decode_audio, encode_audio, write_audio

    audio = (0.1 * np.random.default_rng(0).standard_normal((2, 1000))).astype(np.float32)
    kinds = [(f, s) for f in ("WAV", "FLAC", "OGG") for s in sf.available_subtypes(f) if sf.check_format(f, s)]

    def encoded() -> dict[tuple[str, str], bytes | str]:
        found: dict[tuple[str, str], bytes | str] = {}
        for fmt, subtype in kinds:
            try:
                found[(fmt, subtype)] = bytes(encode_audio(audio, 48000, fmt, subtype))
            except Exception as exc:  # a subtype libsndfile cannot write in stereo: the same refusal twice
                found[(fmt, subtype)] = type(exc).__name__
        return found

    first = encoded()
    time.sleep(1.1)
    assert encoded() == first
    assert np.array_equal(decode_audio(memoryview(first[("WAV", "FLOAT")])), audio)  # type: ignore[arg-type]
    write_audio(tmp_path / "streamed.wav", audio, 48000, "WAV", "DOUBLE")  # the streamed write, too
    assert (tmp_path / "streamed.wav").read_bytes() == first[("WAV", "DOUBLE")]


def test_a_rerun_of_a_finished_run_remakes_exactly_the_outputs_deleted(
    corpus: Path, tmp_path: Path, write_config: ConfigWriter
) -> None:
    """A rerun of a finished OUTPUT_DIR learns which outputs are there from one listing of it
    (not a stat each): one deleted is made again, the same bytes, and nothing else is written."""
    out, config = tmp_path / "out", write_config(SIMPLE)
    assert cli("run", config, corpus, out, "-j", "1").exit_code == 0
    before = tree(out)
    [gone] = [name for name in before if name.endswith("__aug1.wav")][:1]
    (out / gone).unlink()
    result = cli("run", config, corpus, out, "-j", "1")
    assert result.exit_code == 0 and "done: 1 written, " in result.stderr, result.stderr
    assert tree(out) == before
