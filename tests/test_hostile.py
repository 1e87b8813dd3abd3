"""Hostile and odd input: nothing hangs, nothing crashes the run, nothing of the user's is replaced.

Each case that could hang runs under a timer, so that a hang fails the test instead of the suite.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioaug_cli.config import parse_config
from audioaug_cli.errors import ConfigError

from .conftest import ROOT, SIMPLE, cli, tone, tree, write_tone

ConfigWriter = Callable[..., Path]
AUDIOAUG = str(Path(sys.executable).with_name("audioaug"))


@contextmanager
def within(seconds: int) -> Iterator[None]:
    """Fail, instead of hanging, if the block takes longer than ``seconds``."""
    def expire(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


# -- 1. links --------------------------------------------------------------------------------
def test_a_link_to_a_folder_holding_output_dir_never_reaugments_outputs(tmp_path: Path,
                                                                       write_config: ConfigWriter) -> None:
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

    from audioaug_cli.inputs import walk_inputs

    folders = st.lists(st.sampled_from(["a", "b", "a/c", "b/d", "a/c/e", "Ü ñ", "sp ace"]), unique=True)
    link_targets = st.sampled_from(["..", ".", "../..", "ROOT", "OUT", "OUT/sub", "a", "self", "nowhere"])
    links = st.lists(st.tuples(st.sampled_from(["", "a", "b", "a/c"]), link_targets), max_size=6)
    counter = iter(range(10**6))

    @hypothesis.settings(max_examples=60, deadline=None)
    @hypothesis.given(folders=folders, links=links, out_inside=st.booleans())
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
            goal = {"ROOT": root, "OUT": out, "OUT/sub": out / "sub", "self": link,
                    "nowhere": base / "missing"}.get(target, target)
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


# -- 2. names that are not UTF-8 ----------------------------------------------------------------
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
    preview = subprocess.run([AUDIOAUG, "preview", str(config), os.path.join(os.fsencode(inputs), b"caf\xe9.wav"),
                              "-o", str(tmp_path / "p")],
                             capture_output=True, text=True, timeout=60)
    assert preview.returncode == 1 and "Traceback" not in preview.stderr
    assert preview.stderr.strip().splitlines()[-1].endswith("rename it (e.g. `convmv -f latin1 -t utf8`)")


# -- 3, 7. YAML bombs, deep nesting ------------------------------------------------------------------
def bomb(levels: int, width: int) -> str:
    lines = ["a0: &a0 [Reverse]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(["x:", *("  " + line for line in lines), "version: 1", f"pipeline: *a{levels - 1}"]) + "\n"


def test_a_yaml_alias_bomb_is_refused_at_once(write_config: ConfigWriter) -> None:
    with within(10):
        result = cli("validate", write_config(bomb(9, 9)))
    assert result.exit_code == 2
    assert "expands to more than 10,000 values once its aliases (*name) are expanded" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_recursive_alias_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="refers to a node that contains it"), within(10):
        parse_config("version: 1\npipeline: &p [Reverse, *p]\n")


def nested(depth: int) -> str:
    text = "Reverse"
    for _level in range(depth - 1):
        text = f"{{OneOf: {{transforms: [{text}]}}}}"
    return f"version: 1\npipeline: [{text}]\n"


def test_nesting_is_limited_to_32_levels(write_config: ConfigWriter) -> None:
    assert cli("validate", write_config(nested(32))).exit_code == 0
    deep = cli("validate", write_config(nested(33)))
    assert deep.exit_code == 2
    assert "transforms are nested more than 32 levels deep here" in deep.stderr
    with within(10):
        very = cli("validate", write_config(nested(200)))
    assert very.exit_code == 2 and "Traceback" not in very.output and len(very.stderr.splitlines()) == 1


# -- 4. copies --------------------------------------------------------------------------------
def test_absurd_copies_are_refused(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    result = cli("run", write_config(SIMPLE), corpus, tmp_path / "out", "--copies", "1000000000", "--dry-run")
    assert result.exit_code == 2 and "1000000000 is not in the range 1<=x<=10000" in result.stderr
    config = write_config(SIMPLE.replace("copies: 2", "copies: 1000000000"))
    refused = cli("validate", config)
    assert refused.exit_code == 2 and "copies: must be at most 10,000, found 1,000,000,000" in refused.stderr
    by_label = write_config("version: 1\ncopies: {by: label, default: 20000}\npipeline: []\n")
    assert "must be at most 10,000, found 20,000" in cli("validate", by_label).stderr


# -- 5. files audioaug did not write ----------------------------------------------------------------
def test_files_audioaug_did_not_write_are_never_replaced(corpus: Path, tmp_path: Path,
                                                        write_config: ConfigWriter) -> None:
    config = write_config(SIMPLE)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a__aug1.wav").write_bytes(b"the user's own")
    result = cli("run", config, corpus, out, "-j", "1")
    assert result.exit_code == 2
    assert result.stderr == (f"error: OUTPUT_DIR {out} already holds a__aug1.wav, which no audioaug run wrote, "
                             "where this run would write; audioaug never replaces a file it did not write: move it "
                             "away, or choose another OUTPUT_DIR\n")
    assert tree(out) == {"a__aug1.wav": b"the user's own"}
    (out / "a__aug1.wav").unlink()
    (out / "manifest.csv").write_text("file_name,label\nx.wav,dog\n")
    assert "already holds manifest.csv" in cli("run", config, corpus, out, "-j", "1", "--overwrite").stderr
    assert (out / "manifest.csv").read_text() == "file_name,label\nx.wav,dog\n"


def test_after_a_finished_run_a_new_input_cannot_replace_a_users_file(corpus: Path, tmp_path: Path,
                                                                      write_config: ConfigWriter) -> None:
    config = write_config(SIMPLE)
    out = tmp_path / "out"
    assert cli("run", config, corpus, out, "-j", "1").exit_code == 0
    assert cli("run", config, corpus, out, "-j", "1").exit_code == 0  # its own files are its own
    (out / "new__aug2.wav").write_bytes(b"mine")
    write_tone(corpus / "new.wav")
    result = cli("run", config, corpus, out, "-j", "1")
    assert result.exit_code == 2 and "already holds new__aug2.wav" in result.stderr
    assert (out / "new__aug2.wav").read_bytes() == b"mine"


# -- 6. long names -------------------------------------------------------------------------------
def test_long_names_get_short_temporary_names_and_too_long_ones_fail_alone(tmp_path: Path,
                                                                          write_config: ConfigWriter) -> None:
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


# -- 8. noise folders -------------------------------------------------------------------------------
NOISE = "version: 1\npipeline:\n  - AddBackgroundNoise: {{sounds_path: {path}, p: 1.0}}\n"


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


def test_unusable_noise_paths_are_named_at_the_check(tmp_path: Path, write_config: ConfigWriter,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    noises = tmp_path / "noises"
    write_tone(noises / "good.wav")
    (noises / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    result = cli("validate", write_config(NOISE.format(path="noises")))
    assert result.exit_code == 2
    assert f"sounds_path: {noises / 'broken.wav'}: cannot decode: " in result.stderr
    assert "good.wav" not in result.stderr
    passwd = cli("validate", write_config(NOISE.format(path="/etc/passwd")))
    assert "sounds_path: /etc/passwd is not an audio file" in passwd.stderr
    import audioaug_cli.inputs as inputs

    monkeypatch.setattr(inputs, "MAX_SOUND_ENTRIES", 50)
    for i in range(60):
        (tmp_path / "big" / str(i)).mkdir(parents=True)
    with within(20):
        big = cli("validate", write_config(NOISE.format(path="big")))
    assert "holds more than 50 files and folders: point it at a folder of sounds" in big.stderr


# -- 9. FIFOs --------------------------------------------------------------------------------------
def test_a_fifo_in_input_dir_is_ignored(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    os.mkfifo(corpus / "pipe.wav")
    with within(30):
        result = cli("run", write_config(SIMPLE), corpus, tmp_path / "out", "-j", "1", "-v")
    assert result.exit_code == 0
    assert "ignored: pipe.wav: not a regular file (a FIFO, socket or device)" in result.stderr
    assert "1 ignored" in result.stderr


def test_a_fifo_as_config_or_labels_is_refused(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    os.mkfifo(tmp_path / "labels.csv")
    with within(20):
        config = cli("validate", tmp_path / "pipe.yaml")
        labels = cli("run", write_config(SIMPLE), corpus, tmp_path / "out", "--labels", tmp_path / "labels.csv")
    assert config.exit_code == 2
    assert config.stderr == f"error: {tmp_path / 'pipe.yaml'}: not a regular file (a FIFO, socket or device)\n"
    assert labels.exit_code == 2
    assert labels.stderr == (f"error: {tmp_path / 'labels.csv'}: the labels CSV is not a regular file (a FIFO, "
                             "socket or device)\n")


# -- 10. dry runs ----------------------------------------------------------------------------------
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


# -- 11. parameters --------------------------------------------------------------------------------
def test_validate_refuses_parameters_no_transform_can_use(write_config: ConfigWriter) -> None:
    config = write_config("version: 1\npipeline:\n"
                          "  - Gain: {min_gain_db: .nan, max_gain_db: .inf}\n"
                          "  - LowPassFilter: {min_cutoff_freq: -100, max_cutoff_freq: 1.0e12}\n"
                          "  - AddGaussianNoise: {min_amplitude: -0.1}\n"
                          "  - Shift: {min_shift: .nan}\n")
    result = cli("validate", config)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {config}: line 3: pipeline[0].Gain.min_gain_db: must be a finite number, found .nan",
        f"error: {config}: line 3: pipeline[0].Gain.max_gain_db: must be a finite number, found .inf",
        f"error: {config}: line 4: pipeline[1].LowPassFilter.min_cutoff_freq: must be at least 1 Hz and at most "
        "96,000 Hz, found -100",
        f"error: {config}: line 4: pipeline[1].LowPassFilter.max_cutoff_freq: must be at least 1 Hz and at most "
        "96,000 Hz, found 1,000,000,000,000",
        f"error: {config}: line 5: pipeline[2].AddGaussianNoise.min_amplitude: must be at least 0, found -0.1",
        f"error: {config}: line 6: pipeline[3].Shift.min_shift: must be a finite number, found .nan"]


def _hostile_values(name: str, key: str, annotation: str) -> list[object]:
    from audioaug_cli.limits import limit_of

    if annotation.startswith("an integer"):
        values: list[object] = [-1, 0, 10**12, -(10**12)]
    elif "number" in annotation:
        values = [float("nan"), float("inf"), float("-inf"), -1.0, 0.0, 1e-12, 1e12, -1e12]
    else:
        return []
    limit = limit_of(name, key, {})
    if limit is not None:  # the edges of what is allowed must work too; a frequency above the clip's
        # Nyquist frequency is a matter of the input (test_frequencies_above_an_inputs_nyquist_frequency),
        # and the top of a duration's range only makes a longer item: a minute stands for it here
        high = min(limit.high, 7_000.0) if key.endswith("_freq") else limit.high
        if limit.unit == " s" or key.endswith("_samples"):
            high = min(high, 60.0 if limit.unit == " s" else 60 * 16_000)
        values += [v for v in (limit.low, high) if np.isfinite(v)]
    return values


def _transform_names() -> list[str]:
    from audioaug_cli import registry

    return list(registry.transform_names())


@pytest.mark.parametrize("name", _transform_names())
def test_every_hostile_parameter_value_is_refused_or_works(name: str) -> None:
    """For each number a transform takes: NaN, infinities, negative, zero, tiny and huge values (and
    the edges of the allowed range): the config check refuses it, or an item made with it is finite
    audio. Never an exception in the item."""
    import warnings

    import yaml

    from audioaug_cli import Augmenter, registry

    params = registry.params_of(name)
    extra = {"AddBackgroundNoise": {"sounds_path": "noises"}, "AddShortNoises": {"sounds_path": "noises"},
             "ApplyImpulseResponse": {"ir_path": "irs"}, "AdjustDuration": {"duration_samples": 8000},
             # the room's geometry is what is checked; its ray tracer (a second per room here) is not
             "RoomSimulator": {"use_ray_tracing": False}}
    samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(8000) / 16000)).astype(np.float32)
    tried = 0  # values checked: refused by the config check, or made into an item
    for key, param in params.items():
        if key == "p" or key.endswith("_path") or param.takes_transform:
            continue
        for value in _hostile_values(name, key, registry.describe(param.annotation)):
            body = {**extra.get(name, {}), "p": 1.0, key: value}
            if name == "AdjustDuration" and key.startswith("duration"):
                body = {"p": 1.0, key: value}
            other = ("max_" if key.startswith("min_") else "min_") + key[4:]
            if key[:4] in ("min_", "max_") and other in params:
                body[other] = value  # past the ordering check
            text = yaml.safe_dump({"version": 1, "pipeline": [{name: body}]})
            tried += 1
            try:
                config = parse_config(text, "fuzz", base_dir=ROOT / "configs")
            except ConfigError:
                continue
            with warnings.catch_warnings(), np.errstate(all="ignore"), within(30):
                warnings.simplefilter("ignore")
                out, _applied = Augmenter(config)(samples, 16000, seed=7)
            assert out.size and np.isfinite(out).all(), (key, value)
    assert tried or name in ("Normalize", "PolarityInversion", "Reverse")  # the three that take no number


def test_frequencies_above_an_inputs_nyquist_frequency(tmp_path: Path, write_config: ConfigWriter) -> None:
    """Moved just below it where audiomentations' filters do that (Butterworth cutoffs, shelves); a
    band or a peak wholly above it fails that input alone, saying so."""
    write_tone(tmp_path / "in" / "phone.wav", sample_rate=8000)
    low = write_config("version: 1\npipeline:\n  - LowPassFilter: {min_cutoff_freq: 7000, max_cutoff_freq: 7500, "
                       "p: 1.0}\n  - HighShelfFilter: {min_center_freq: 7000, max_center_freq: 7500, p: 1.0}\n")
    assert cli("run", low, tmp_path / "in", tmp_path / "low", "-j", "1").exit_code == 0
    for name, more in (("BandPassFilter", "min_bandwidth_fraction: 0.1, max_bandwidth_fraction: 0.2, "),
                       ("PeakingFilter", "")):
        config = write_config(f"version: 1\npipeline:\n  - {name}: {{min_center_freq: 7000, max_center_freq: 7500, "
                              f"{more}p: 1.0}}\n")
        out = tmp_path / name
        assert cli("run", config, tmp_path / "in", out, "-j", "1").exit_code == 1
        (error,) = rows(out / "errors.csv")
        assert error["error"].startswith(f"{name}: its frequencies lie above this input's Nyquist frequency (4000 Hz)")


# -- 12. exit codes and messages --------------------------------------------------------------------
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
    assert result.stderr == f"error: cannot write to OUTPUT_DIR {mount / 'out'}: Read-only file system; " \
                            "nothing was written\n"


@pytest.mark.parametrize("backend,delay", [("loky", 0.3), ("loky", 0.8), ("dask", 1.2)])
def test_ctrl_c_at_any_moment_exits_130_without_a_traceback(tmp_path: Path, write_config: ConfigWriter,
                                                            backend: str, delay: float) -> None:
    for i in range(16):
        write_tone(tmp_path / "in" / f"t{i}.wav", seconds=4.0)
    config = write_config("version: 1\npipeline:\n  - PitchShift: {p: 1.0}\n  - TimeStretch: {p: 1.0}\n")
    process = subprocess.Popen([AUDIOAUG, "run", str(config), str(tmp_path / "in"), str(tmp_path / "out"),
                                "-j", "2", "--backend", backend], stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    if process.returncode == 0:
        pytest.skip("the run finished before the signal")  # a fast machine; the other delays still test
    assert process.returncode == 130, err
    assert "Traceback" not in err and "Aborted!" not in err


def test_labels_with_duplicate_rows_or_columns_are_refused(corpus: Path, tmp_path: Path,
                                                           write_config: ConfigWriter) -> None:
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
    assert ("warning: 2 row(s) of --labels name no input found in INPUT_DIR (first: A.WAV); file_name is relative "
            "to INPUT_DIR") in result.stderr


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


def test_a_garbage_mp3_fails_with_one_clear_line_and_nothing_else_on_stderr(tmp_path: Path,
                                                                             write_config: ConfigWriter) -> None:
    write_tone(tmp_path / "in" / "a.wav")
    (tmp_path / "in" / "bad.mp3").write_bytes(np.random.default_rng(0).bytes(5000))
    result = subprocess.run([AUDIOAUG, "run", str(write_config(SIMPLE)), str(tmp_path / "in"),
                             str(tmp_path / "out"), "-j", "1"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert rows(tmp_path / "out" / "errors.csv") == [
        {"source": "bad.mp3", "error": "cannot decode: not a valid MP3 file (no MPEG audio frames)"}]
    assert result.stderr.splitlines()[0].startswith("done: 2 written")
    assert "MPEG" not in result.stderr


# -- the first numba compile ---------------------------------------------------------------------
def test_the_first_numba_compile_is_announced(tmp_path: Path, write_config: ConfigWriter,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from audioaug_cli.registry import compiles_librosa_code, numba_cache_empty

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
