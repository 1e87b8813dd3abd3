"""SPEC guarantees 3 and 4: atomic outputs, resume after a kill, bad files that fail alone."""

from __future__ import annotations

import csv
import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioaug_cli.errors import ItemError
from audioaug_cli.io import atomic
from audioaug_cli.io.atomic import TEMP_MARK, atomic_file
from audioaug_cli.io.audio import encode_audio, read_audio, write_audio
from audioaug_cli.io.store import LocalStore
from tests.helpers import ROOT, SIMPLE, cli, finish, start, tree, write_tone

ConfigWriter = Callable[..., Path]

WORKLOAD = """\
version: 1
seed: 5
copies: 2
pipeline:
  - PitchShift: {method: librosa_phase_vocoder, p: 1.0}
  - AddGaussianNoise: {p: 0.5}
  - Shift: {p: 0.5}
"""


def errors_of(out: Path) -> dict[str, str]:
    with (out / "errors.csv").open(newline="") as handle:
        return {row["source"]: row["error"] for row in csv.DictReader(handle)}


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


# -- bad inputs ------------------------------------------------------------------------------
def make_bad_corpus(root: Path) -> dict[str, str]:
    """Every kind of broken input, beside good ones; returns source -> expected error start."""
    write_tone(root / "good1.wav")
    write_tone(root / "sub" / "good2.flac", channels=2)
    (root / "empty.wav").write_bytes(b"")
    (root / "cut_header.wav").write_bytes((root / "good1.wav").read_bytes()[:30])
    (root / "cut_data.wav").write_bytes((root / "good1.wav").read_bytes()[:5000])
    (root / "text.wav").write_text("hello, I am not audio\n")
    (root / "random.flac").write_bytes(np.random.default_rng(0).bytes(5000))
    nan = np.zeros(800, np.float32)
    nan[10] = np.nan
    sf.write(root / "nan.wav", nan, 16000, subtype="FLOAT")
    inf = np.zeros(800, np.float32)
    inf[3] = -np.inf
    sf.write(root / "inf.wav", inf, 16000, subtype="FLOAT")
    os.symlink(root / "missing-target.wav", root / "broken_link.wav")
    fmt = struct.pack("<HHIIHH", 0x2000, 1, 16000, 32000, 2, 16)  # a codec libsndfile has no decoder for
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", 400) + bytes(400)
    (root / "odd_codec.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return {
        "empty.wav": "empty file (0 bytes)",
        "cut_header.wav": "cannot decode: ",
        "cut_data.wav": "truncated: the header announces 16000 bytes of audio, the file holds 4956",
        "text.wav": "cannot decode: Format not recognised",
        "random.flac": "cannot decode: ",
        "nan.wav": "the file holds NaN or infinite samples",
        "inf.wav": "the file holds NaN or infinite samples",
        "broken_link.wav": f"broken symlink to {root / 'missing-target.wav'}",
        "odd_codec.wav": "cannot decode: ",
    }


def test_bad_inputs_fail_alone(tmp_path: Path, write_config: ConfigWriter) -> None:
    expected = make_bad_corpus(tmp_path / "in")
    out = tmp_path / "out"
    result = cli("run", write_config(SIMPLE), tmp_path / "in", out, "-j", "1", "-v")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.wav")) == [
        "good1__aug1.wav",
        "good1__aug2.wav",
        "sub/good2__aug1.wav",
        "sub/good2__aug2.wav",
    ]
    errors = errors_of(out)
    assert set(errors) == set(expected)
    for source, prefix in expected.items():
        assert errors[source].startswith(prefix), (source, errors[source])
        assert "\n" not in errors[source]
        assert f"failed: {source} (copy 1): {errors[source]}" in result.stderr  # -v reports as it goes
    assert f"done: 4 written, 0 skipped (already done), {len(expected)} failed" in result.stderr


def test_bad_inputs_fail_alone_with_parallel_workers(tmp_path: Path, write_config: ConfigWriter) -> None:
    expected = make_bad_corpus(tmp_path / "in")
    result = cli("run", write_config(SIMPLE), tmp_path / "in", tmp_path / "out", "-j", "2")
    assert result.exit_code == 1
    assert set(errors_of(tmp_path / "out")) == set(expected)


def test_unreadable_file_message(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "locked.wav")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: permissions do not stop reads")
        with pytest.raises(ItemError, match="^cannot read: permission denied$"):
            read_audio(path)
    finally:
        path.chmod(0o644)


def test_a_streamed_wav_with_a_placeholder_size_is_read(tmp_path: Path) -> None:
    """Writers streaming to a pipe put 0xFFFFFFFF in the header: that is not truncation."""
    path = write_tone(tmp_path / "streamed.wav", 0.5)
    raw = bytearray(path.read_bytes())
    raw[4:8] = raw[40:44] = struct.pack("<I", 0xFFFFFFFF)
    path.write_bytes(bytes(raw))
    samples, rate = read_audio(path)
    assert (len(samples), rate) == (8000, 16000)


def test_permission_denied_is_reported_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same path as above for root, who can read anything: libsndfile's open fails as it does
    without permission ("System error"), and access is refused."""
    path = write_tone(tmp_path / "locked.wav")

    def refused(*_args: object, **_kwargs: object) -> None:
        raise sf.LibsndfileError(2, f"Error opening {str(path)!r}: ")  # 2: SF_ERR_SYSTEM

    monkeypatch.setattr(sf, "SoundFile", refused)
    monkeypatch.setattr(os, "access", lambda *_args, **_kwargs: False)
    with pytest.raises(ItemError, match="^cannot read: permission denied$"):
        read_audio(path)


def test_a_transform_that_makes_non_finite_audio_fails_that_item(tmp_path: Path, write_config: ConfigWriter) -> None:
    write_tone(tmp_path / "in" / "tone.wav")
    sf.write(tmp_path / "in" / "silence.wav", np.zeros(800, np.float32), 16000)
    loud = "  - Gain: {min_gain_db: 120, max_gain_db: 120, p: 1.0}\n"  # 8 x 120 dB overflows float32
    config = write_config("version: 1\npipeline:\n" + loud * 8)
    result = cli("run", config, tmp_path / "in", tmp_path / "out", "-j", "1")
    assert result.exit_code == 1
    assert errors_of(tmp_path / "out") == {"tone.wav": "the augmented audio holds NaN or infinite samples"}
    assert (tmp_path / "out" / "silence__aug1.wav").exists()


def test_fail_fast_stops_at_the_first_failure(tmp_path: Path, write_config: ConfigWriter) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a_bad.wav").write_text("not audio")
    for i in range(5):
        write_tone(tmp_path / "in" / f"b{i}.wav")
    result = cli("run", write_config(SIMPLE), tmp_path / "in", tmp_path / "out", "-j", "1", "--fail-fast")
    assert result.exit_code == 1
    assert list((tmp_path / "out").rglob("*.wav")) == []
    assert set(errors_of(tmp_path / "out")) == {"a_bad.wav"}


def test_a_run_stopped_by_fail_fast_resumes_once_its_input_is_fixed(tmp_path: Path, write_config: ConfigWriter) -> None:
    """--fail-fast stops workers mid-unit: what they wrote is not recorded, so the run is not
    'complete'; the rerun writes those files again and gives the tree of an uninterrupted run."""
    for i in range(120):
        write_tone(tmp_path / "in" / f"f{i:03d}.wav", 0.05, 16000, 1, 200 + 7 * i)
    bad = tmp_path / "in" / "f060.wav"
    bad.write_text("not audio")
    config = write_config(SIMPLE)
    stopped = cli("run", config, tmp_path / "in", tmp_path / "out", "-j", "2", "--fail-fast")
    assert stopped.exit_code == 1
    assert '"status": "stopped"' in (tmp_path / "out" / "audioaug.json").read_text()
    exported = cli("export", tmp_path / "out", "--to", "nemo", tmp_path / "nemo")
    assert exported.exit_code == 2 and "--fail-fast stopped it at its first failure" in exported.stderr
    write_tone(bad, 0.05, 16000, 1, 200 + 7 * 60)
    rerun = cli("run", config, tmp_path / "in", tmp_path / "out", "-j", "2")
    assert rerun.exit_code == 0, rerun.stderr
    assert cli("run", config, tmp_path / "in", tmp_path / "ref", "-j", "1").exit_code == 0
    assert tree(tmp_path / "out") == tree(tmp_path / "ref")


# -- resume ------------------------------------------------------------------------------------
def test_changed_new_and_vanished_inputs(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    out, config = tmp_path / "out", write_config(SIMPLE)
    assert cli("run", config, corpus, out, "-j", "1").exit_code == 0
    before = (out / "a__aug1.wav").read_bytes()
    time.sleep(0.01)
    write_tone(corpus / "a.wav", 0.7, 16000, 1, 880)  # changed content
    write_tone(corpus / "new.wav")
    (corpus / "music" / "stereo.wav").unlink()
    result = cli("run", config, corpus, out, "-j", "1")
    assert result.exit_code == 0
    assert "4 written, 2 skipped" in result.stderr
    assert (out / "a__aug1.wav").read_bytes() != before
    assert "1 input(s) no longer in INPUT_DIR still have outputs here; --prune removes them" in result.stderr
    assert (out / "music" / "stereo__aug1.wav").exists()
    pruned = cli("run", config, corpus, out, "-j", "1", "--prune")
    assert pruned.exit_code == 0 and "pruned 2 output(s)" in pruned.stderr
    assert not (out / "music" / "stereo__aug1.wav").exists()
    sources = {line.split(",")[1] for line in (out / "manifest.csv").read_text().splitlines()[1:]}
    assert sources == {"a.wav", "new.wav", "speech/deep/voice.flac"}


def test_excluded_inputs_are_not_taken_for_vanished(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    out, config = tmp_path / "out", write_config(SIMPLE)
    assert cli("run", config, corpus, out, "-j", "1").exit_code == 0
    result = cli("run", config, corpus, out, "-j", "1", "--exclude", "music/*", "--prune")
    assert result.exit_code == 0 and "pruned" not in result.stderr
    assert (out / "music" / "stereo__aug1.wav").exists()


def test_a_fixed_input_is_retried_and_leaves_errors_csv(tmp_path: Path, write_config: ConfigWriter) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.wav").write_text("not yet audio")
    out, config = tmp_path / "out", write_config(SIMPLE)
    assert cli("run", config, tmp_path / "in", out, "-j", "1").exit_code == 1
    write_tone(tmp_path / "in" / "x.wav")
    assert cli("run", config, tmp_path / "in", out, "-j", "1").exit_code == 0
    assert not (out / "errors.csv").exists()


def test_leftover_temporaries_are_removed(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    out = tmp_path / "out"
    (out / "music").mkdir(parents=True)
    leftover = out / "music" / f".stereo__aug1.wav.abc{TEMP_MARK}"
    leftover.write_bytes(b"half a file")
    assert cli("run", write_config(SIMPLE), corpus, out, "-j", "1").exit_code == 0
    assert not leftover.exists()
    assert TEMP_MARK not in (out / "manifest.csv").read_text()


def test_a_worker_that_dies_mid_write_leaves_no_temporary(
    tmp_path: Path, write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed while writing (the OOM killer) leaves its temporary: the run removes it, and
    redoes the item elsewhere. (The forked workers inherit the patch below.)"""
    from audioaug_cli.engine import item

    for i in range(40):
        write_tone(tmp_path / "in" / f"f{i:02d}.wav", 0.05)
    out, died, config = tmp_path / "out", tmp_path / "died", write_config(SIMPLE)
    assert cli("run", config, tmp_path / "in", tmp_path / "reference", "-j", "1").exit_code == 0
    augment = item._augment_source

    def dies_once_mid_write(config, task, inputs, output, records=None):  # type: ignore[no-untyped-def]
        if task.source.rel == "f25.wav" and not died.exists():
            died.touch()
            (out / f".f25__aug1.wav.{os.getpid()}-1{TEMP_MARK}").write_bytes(b"half a file")
            os._exit(9)
        return augment(config, task, inputs, output, records)

    monkeypatch.setattr(item, "_augment_source", dies_once_mid_write)
    assert cli("run", config, tmp_path / "in", out, "-j", "2").exit_code == 0
    assert died.exists(), "the worker never died"
    assert tree(out) == tree(tmp_path / "reference")  # no temporary, every item written


def test_a_rerun_after_a_finished_run_does_not_walk_the_output_tree(
    corpus: Path, tmp_path: Path, write_config: ConfigWriter
) -> None:
    """A finished run removed what its workers left: its rerun looks for temporaries only beside the
    manifest (which a rerun may have been killed rewriting), not through the whole output tree."""
    out, config = tmp_path / "out", write_config(SIMPLE)
    assert cli("run", config, corpus, out, "-j", "1").exit_code == 0
    beside, below = out / f".manifest.csv.1-1{TEMP_MARK}", out / "music" / f".x.wav.1-1{TEMP_MARK}"
    beside.write_bytes(b"")
    below.write_bytes(b"")
    assert cli("run", config, corpus, out, "-j", "1").exit_code == 0
    assert not beside.exists() and below.exists()
    status = out / "audioaug.json"
    status.write_text(status.read_text().replace('"status": "complete"', '"status": "running"'))  # a killed run
    assert cli("run", config, corpus, out, "-j", "1").exit_code == 0
    assert not below.exists()


def test_the_run_writes_only_in_output_dir_and_never_changes_input(
    corpus: Path, tmp_path: Path, write_config: ConfigWriter
) -> None:
    config = write_config(SIMPLE)
    inputs_before = snapshot(corpus)
    around_before = set(os.listdir(tmp_path))
    assert cli("run", config, corpus, tmp_path / "out", "-j", "2").exit_code == 0
    assert snapshot(corpus) == inputs_before
    assert set(os.listdir(tmp_path)) == around_before | {"out"}


# -- real processes: kills and signals --------------------------------------------------------
@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, bytes]]:
    """Enough work to be mid-run when killed, and its uninterrupted result."""
    root = tmp_path_factory.mktemp("workload")
    for i in range(60):
        write_tone(root / "in" / f"d{i % 3}" / f"f{i:03d}.wav", 1.5, 16000, 1 + (i % 7 == 0), 150 + 11 * i)
    config = root / "c.yaml"
    config.write_text(WORKLOAD)
    assert finish(start(config, root / "in", root / "reference")) == 0
    return config, root / "in", tree(root / "reference")


def wait_for_outputs(out: Path, count: int, process: subprocess.Popen[bytes]) -> None:
    """Until the run has written ``count`` outputs (0: has started writing), the run still going;
    fails if it ends first, or never gets there."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if count == 0 and (out / ".audioaug").exists():
            return
        if count and sum(1 for _ in out.rglob("*.wav")) >= count:
            assert process.poll() is None, f"the run ended before it could be stopped at {count} outputs"
            return
        time.sleep(0.005)
    raise AssertionError(f"the run {'ended' if process.poll() is not None else 'took too long'} before {count} outputs")


@pytest.mark.parametrize("after_outputs", [0, 30, 80, 119], ids=["early", "a-quarter", "mid", "at-the-end"])
def test_sigkill_at_any_moment_then_rerun_gives_the_uninterrupted_result(
    workload: tuple[Path, Path, dict[str, bytes]], tmp_path: Path, after_outputs: int
) -> None:
    config, inputs, reference = workload
    out = tmp_path / "out"
    process = start(config, inputs, out)
    wait_for_outputs(out, after_outputs, process)
    os.killpg(process.pid, signal.SIGKILL)
    assert finish(process, -signal.SIGKILL) == -signal.SIGKILL, "killed before the end (120 outputs)"
    for path in out.rglob("*.wav"):  # whatever is there under a final name is complete
        data, _ = sf.read(path)
        assert len(data) == sf.info(path).frames > 0
        assert path.read_bytes() == reference[path.relative_to(out).as_posix()]
    assert finish(start(config, inputs, out)) == 0
    assert tree(out) == reference
    again = subprocess.run(
        [sys.executable, "-m", "audioaug_cli", "run", str(config), str(inputs), str(out), "-j", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0 and "done: 0 written, 120 skipped" in again.stderr


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_keeps_finished_work_and_resumes(
    workload: tuple[Path, Path, dict[str, bytes]], tmp_path: Path, signum: int, code: int
) -> None:
    config, inputs, reference = workload
    out = tmp_path / "out"
    process = start(config, inputs, out)
    wait_for_outputs(out, 40, process)
    os.killpg(process.pid, signum)
    assert finish(process, code) == code
    manifest = (out / "manifest.csv").read_text().splitlines()
    assert 1 < len(manifest) < 121  # the finished items, recorded
    assert '"status": "interrupted"' in (out / "audioaug.json").read_text()
    assert list(out.rglob(f"*{TEMP_MARK}")) == []
    assert finish(start(config, inputs, out)) == 0
    assert tree(out) == reference


def test_a_worker_killed_mid_run_loses_nothing(workload: tuple[Path, Path, dict[str, bytes]], tmp_path: Path) -> None:
    config, inputs, reference = workload
    out = tmp_path / "out"
    process = start(config, inputs, out)
    wait_for_outputs(out, 20, process)
    workers = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True)  # forked workers
    victims = [int(p) for p in workers.stdout.split()]
    assert victims, "no worker process found"
    os.kill(victims[0], signal.SIGKILL)  # what the OOM killer does
    assert finish(process) == 0
    assert tree(out) == reference


def test_atomic_write_killed_midway_leaves_no_final_file(tmp_path: Path) -> None:
    target = tmp_path / "big.bin"
    code = (
        "import sys, time; from pathlib import Path; from audioaug_cli.io.atomic import atomic_file\n"
        f"with atomic_file(Path({str(target)!r})) as h:\n"
        "    h.write(b'x' * 1000); h.flush(); print('writing', flush=True); time.sleep(60)\n"
    )
    # (LocalStore.open_write, which writes every output, goes through the same atomic_file)
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline() == b"writing\n"
    child.kill()
    child.communicate()
    assert not target.exists()
    [temp] = list(tmp_path.iterdir())
    assert temp.name.startswith(".big.bin.") and temp.name.endswith(TEMP_MARK)


def test_atomic_write_makes_its_folder_and_respects_the_umask(tmp_path: Path) -> None:
    """Outputs get the permissions any new file would (0o666 less the umask), not a temp file's 0600."""
    encoded = encode_audio(np.zeros(160, np.float32), 16000, "WAV", "PCM_16")
    previous = os.umask(0o027)
    try:
        LocalStore(tmp_path).write_bytes("new/folder/a.wav", encoded)
    finally:
        os.umask(previous)
    written = tmp_path / "new" / "folder" / "a.wav"
    assert written.stat().st_mode & 0o777 == 0o640
    assert sf.info(str(written)).frames == 160
    assert os.listdir(written.parent) == ["a.wav"]


def test_atomic_write_steps_over_a_temporary_name_already_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another machine's process (same pid, shared folder) or a killed run's leftover holds the name."""
    monkeypatch.setattr(atomic, "_temp_names", iter(range(7, 100)))
    taken = tmp_path / f".a.txt.{os.getpid()}-7{TEMP_MARK}"
    taken.write_bytes(b"not ours")
    with atomic_file(tmp_path / "a.txt") as handle:
        handle.write(b"ours")
    assert (tmp_path / "a.txt").read_bytes() == b"ours"
    assert taken.read_bytes() == b"not ours"


@pytest.mark.parametrize("fmt", ["WAV", "FLAC"])
def test_audio_written_to_a_file_is_the_audio_encoded_in_memory(fmt: str, tmp_path: Path) -> None:
    """`run` streams items without a spectrogram into their files; `replay` and the feature step
    encode in memory: the bytes must be the same, for every subtype and channel count (or both
    refuse, as GSM610 does stereo)."""
    checked = 0
    for subtype in sf.available_subtypes(fmt):
        for channels in (1, 2):
            samples = np.random.default_rng(channels).uniform(-0.5, 0.5, (channels, 20000)).astype(np.float32)
            samples = samples[0] if channels == 1 else samples
            path = tmp_path / f"{subtype}{channels}.{fmt.lower()}"
            try:
                expected = bytes(encode_audio(samples, 16000, fmt, subtype))
            except ItemError as refused:
                assert str(refused).startswith(f"cannot write {fmt} {subtype}: ")
                with pytest.raises(ItemError, match=str(refused)):
                    write_audio(path, samples, 16000, fmt, subtype)
                continue
            write_audio(path, samples, 16000, fmt, subtype)
            assert path.read_bytes() == expected, (subtype, channels)
            checked += 1
    assert checked >= 6
    assert sorted(p.name for p in tmp_path.iterdir() if TEMP_MARK in p.name) == []


def ogg_crc_bitwise(page: bytes) -> int:
    """Ogg's page checksum as its specification states it, one bit at a time."""
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


@pytest.mark.parametrize("subtype", ["VORBIS", "OPUS"])
def test_an_ogg_file_is_the_same_bytes_every_time_and_still_valid(subtype: str) -> None:
    import io

    samples = np.random.default_rng(4).uniform(-0.5, 0.5, (2, 48000)).astype(np.float32)
    first, second = (bytes(encode_audio(samples, 48000, "OGG", subtype)) for _ in range(2))
    assert first == second
    drawn = io.BytesIO()
    sf.write(drawn, samples.T, 48000, format="OGG", subtype=subtype)  # libsndfile's own serial number
    assert drawn.getvalue()[14:18] != first[14:18]
    np.testing.assert_array_equal(sf.read(io.BytesIO(first))[0], sf.read(io.BytesIO(drawn.getvalue()))[0])
    position, pages = 0, 0
    while position < len(first):  # every page: the one serial number, and a checksum libogg accepts
        segments = first[position + 26]
        size = 27 + segments + sum(first[position + 27 : position + 27 + segments])
        page = bytearray(first[position : position + size])
        assert page[14:18] == first[14:18]
        stored = int.from_bytes(page[22:26], "little")
        page[22:26] = bytes(4)
        assert stored == ogg_crc_bitwise(bytes(page))
        position, pages = position + size, pages + 1
    assert pages >= 3
