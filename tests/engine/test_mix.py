"""Mixtures and their stems (`mix:`), and pools split by set (`pools:`): every number the manifest
records is measured again on the files written, and the split rules are checked item by item."""

from __future__ import annotations

import csv
import gc
import json
import os
import signal
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from tests.helpers import audioaug, cli, finish, start, tree, write_tone

SPLITS = ("train", "test")

ENHANCEMENT = """\
version: 1
seed: 7
copies: 2
output: {format: wav, subtype: FLOAT}
pipeline:
  - Gain: {min_gain_db: -3, max_gain_db: 3, p: 0.5}
mix:
  level_db: [-30, -20]
  reverb: {ir_path: irs/, p: 0.5, target: early}
  noise: {sounds_path: noises/, snr_db: [-5, 15]}
  speakers: {count: 2, sir_db: [-5, 5]}
stems: [mixture, target, speech, noise, interference]
pools: {split_by: split, speaker_by: speaker}
"""


def _noise(path: Path, seconds: float, seed: int, rate: int = 16000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sf.write(path, (0.2 * rng.standard_normal(int(seconds * rate))).astype(np.float32), rate, subtype="FLOAT")


def _ir(path: Path, seed: int, rate: int = 16000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ir = np.zeros(rate // 4)
    ir[40] = 1.0
    ir[41:] = 0.4 * rng.standard_normal(len(ir) - 41) * np.exp(-np.arange(len(ir) - 41) / 600)
    sf.write(path, ir.astype(np.float32), rate, subtype="FLOAT")


def make_world(root: Path, speakers: int = 4, per_speaker: int = 3) -> Path:
    """Speech (tones) of several speakers in two splits, noise and impulse responses per split
    (a noise shorter than an item, to be looped; one at another rate), and the labels CSV."""
    rows = ["file_name,split,speaker"]
    for s in range(speakers):
        for u in range(per_speaker):
            rel = f"s{s}/u{u}.wav"
            write_tone(root / "in" / rel, 0.6 + 0.1 * u, 16000, 1, 180 + 60 * s + 17 * u)
            rows.append(f"{rel},{SPLITS[s % 2]},spk{s}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    for k, split in enumerate(SPLITS):
        _noise(root / "noises" / split / "long.wav", 3.0, 10 + k)
        _noise(root / "noises" / split / "short.wav", 0.25, 20 + k, rate=22050 if k == 0 else 16000)
        _ir(root / "irs" / split / "room.wav", 30 + k)
    (root / "c.yaml").write_text(ENHANCEMENT)
    return root


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_world(tmp_path_factory.mktemp("mix"))
    done = audioaug("run", root / "c.yaml", root / "in", root / "out", "--labels", root / "labels.csv", "-j", "2")
    assert done.returncode == 0, done.stderr
    return root


def manifest(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def mix_entry(row: dict[str, str]) -> dict[str, Any]:
    found = [e["params"] for e in json.loads(row["transforms"]) if e["name"] == "Mix"]
    assert len(found) == 1
    entry: dict[str, Any] = found[0]
    return entry


def rms_db(samples: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))))


def read(out: Path, name: str) -> np.ndarray:
    data, _rate = sf.read(out / name, dtype="float64")
    return np.asarray(data)


def test_the_mixture_is_the_sum_of_its_stems_and_every_level_is_as_recorded(world: Path) -> None:
    out = world / "out"
    rows = manifest(out)
    assert len(rows) == 24
    reverbs = noises_looped = 0
    for row in rows:
        entry = mix_entry(row)
        mixture, speech = read(out, row["file_name"]), read(out, row["speech_file"])
        noise, other = read(out, row["noise_file"]), read(out, row["interference_file"])
        assert np.max(np.abs(mixture - (speech + noise + other))) < 1e-6
        scale_db = 20 * np.log10(entry["scale"])
        assert abs(rms_db(speech) - (entry["level_db"] + scale_db)) < 0.05
        assert abs(rms_db(speech) - rms_db(noise) - entry["noise"]["snr_db"]) < 0.05
        assert abs(rms_db(speech) - rms_db(other) - entry["interference"][0]["sir_db"]) < 0.05
        assert np.max(np.abs(mixture)) <= 1.0
        target = read(out, row["target_file"])
        if entry["reverb"] is None:
            assert np.array_equal(target, speech)  # no reverb: the target is the speech
        else:
            reverbs += 1
            assert not np.allclose(target, speech)  # the early part only: less than the whole reverb
            assert entry["reverb"]["file"].startswith("irs/")
        noises_looped += entry["noise"]["looped"]
        for key in ("target_file", "speech_file", "noise_file", "interference_file"):
            assert row[key].split("/", 1)[1] == row["file_name"].split("/", 1)[1]  # same name in every stem folder
    assert 0 < reverbs < len(rows) and noises_looped > 0


def test_a_mixture_that_would_clip_scales_every_stem_by_one_factor(tmp_path: Path) -> None:
    root = make_world(tmp_path, speakers=4, per_speaker=1)
    config = root / "c.yaml"
    config.write_text(
        ENHANCEMENT.replace("level_db: [-30, -20]", "level_db: [-3, -1]").replace(
            "snr_db: [-5, 15]", "snr_db: [-10, -5]"
        )
    )
    assert cli("run", config, root / "in", root / "out", "--labels", root / "labels.csv", "-j", "1").exit_code == 0
    for row in manifest(root / "out"):
        entry = mix_entry(row)
        assert entry["scale"] < 1
        mixture = read(root / "out", row["file_name"])
        parts = [read(root / "out", row[k]) for k in ("speech_file", "noise_file", "interference_file")]
        assert np.max(np.abs(mixture)) <= 10 ** (-0.1 / 20) + 1e-6
        assert np.max(np.abs(mixture - sum(parts))) < 1e-6
        assert abs(rms_db(parts[0]) - rms_db(parts[1]) - entry["noise"]["snr_db"]) < 0.05
        assert row["clipped"] == "0"


def test_each_item_draws_only_from_its_own_split_and_never_its_own_speaker(world: Path) -> None:
    with (world / "labels.csv").open(newline="") as handle:
        labels = {r["file_name"]: r for r in csv.DictReader(handle)}
    for row in manifest(world / "out"):
        split, speaker = row["split"], row["speaker"]
        entry = mix_entry(row)
        assert entry["split"] == split == labels[row["source"]]["split"]
        assert entry["noise"]["file"].startswith(f"noises/{split}/")
        if entry["reverb"] is not None:
            assert entry["reverb"]["file"].startswith(f"irs/{split}/")
        (other,) = entry["interference"]
        assert other["source"] != row["source"]
        assert labels[other["source"]]["split"] == split
        assert labels[other["source"]]["speaker"] != speaker


def test_replay_regenerates_every_stem_and_a_flipped_byte_fails(world: Path, tmp_path: Path) -> None:
    done = audioaug("replay", world / "out", "-j", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "replayed 120: 120 match" in done.stderr  # 24 items, 5 stems each
    import shutil

    copy = tmp_path / "out"
    shutil.copytree(world / "out", copy)
    noise = copy / manifest(copy)[3]["noise_file"]
    data = bytearray(noise.read_bytes())
    data[-3] ^= 0x01
    noise.write_bytes(bytes(data))
    flipped = audioaug("replay", copy)
    assert flipped.returncode == 1
    assert f"differs: {noise.relative_to(copy).as_posix()}" in flipped.stdout
    assert "replayed 120: 119 match, 1 do not" in flipped.stderr


def test_every_parallelism_writes_the_same_stems(world: Path, tmp_path: Path) -> None:
    one = audioaug("run", world / "c.yaml", world / "in", tmp_path / "one", "--labels", world / "labels.csv", "-j", "1")
    assert one.returncode == 0, one.stderr
    assert tree(tmp_path / "one") == tree(world / "out")


def test_a_finished_rerun_writes_nothing_and_a_killed_run_resumes_to_the_same_tree(world: Path, tmp_path: Path) -> None:
    again = audioaug("run", world / "c.yaml", world / "in", world / "out", "--labels", world / "labels.csv")
    assert again.returncode == 0 and "done: 0 written, 24 skipped" in again.stderr
    out = tmp_path / "out"
    process = start(world / "c.yaml", world / "in", out, "--labels", str(world / "labels.csv"), "-j", "1")
    deadline = 0
    while process.poll() is None and deadline < 20000:
        if len(list(out.glob("mixture/*/*.wav"))) >= 3:
            break
        deadline += 1
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    finish(process, -signal.SIGKILL)
    for path in out.rglob("*.wav"):  # whatever is under a final name is whole
        assert path.read_bytes() == (world / "out" / path.relative_to(out)).read_bytes()
    assert finish(start(world / "c.yaml", world / "in", out, "--labels", str(world / "labels.csv"))) == 0
    assert tree(out) == tree(world / "out")


def test_audit_finds_a_noise_copied_under_another_name_into_another_split(tmp_path: Path) -> None:
    root = make_world(tmp_path, speakers=6, per_speaker=1)
    labels = root / "labels.csv"
    clean = audioaug("run", root / "c.yaml", root / "in", root / "clean", "--labels", labels)
    assert clean.returncode == 0, clean.stderr
    audited = audioaug("audit", root / "clean")
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert audited.stdout == "" and "none shared across splits" in audited.stderr
    # the test split's noise is now the train split's long noise, under another name
    for path in (root / "noises" / "test").iterdir():
        path.unlink()
    (root / "noises" / "test" / "renamed.wav").write_bytes((root / "noises" / "train" / "long.wav").read_bytes())
    for path in (root / "noises" / "train").iterdir():
        if path.name != "long.wav":
            path.unlink()
    leaky = audioaug("run", root / "c.yaml", root / "in", root / "leaky", "--labels", labels)
    assert leaky.returncode == 0, leaky.stderr
    found = audioaug("audit", root / "leaky")
    assert found.returncode == 1
    assert "drawn file in splits test, train: noises/test/renamed.wav, noises/train/long.wav" in found.stdout
    # a source in two splits: an input relabelled after the run, whose items (kept: its audio did
    # not change) and those of the train split it was mixed into now sit in different splits
    moved = labels.read_text().replace("s0/u0.wav,train", "s0/u0.wav,test")
    (root / "moved.csv").write_text(moved)
    mixed = audioaug("run", root / "c.yaml", root / "in", root / "clean", "--labels", root / "moved.csv")
    assert mixed.returncode == 0 and "0 written" in mixed.stderr, mixed.stderr
    sources = audioaug("audit", root / "clean")
    assert sources.returncode == 1 and "source in splits test, train: s0/u0.wav" in sources.stdout


def test_exports_hand_the_stems_to_nemo_lhotse_and_webdataset_and_kaldi_refuses(world: Path, tmp_path: Path) -> None:
    out = world / "out"
    rows = manifest(out)
    assert cli("export", out, "--to", "nemo", tmp_path / "nemo").exit_code == 0
    lines = [json.loads(line) for line in (tmp_path / "nemo" / "manifest.json").read_text().splitlines()]
    assert len(lines) == len(rows)
    for line, row in zip(lines, rows, strict=True):
        assert line["audio_filepath"] == str(out / row["file_name"])
        assert line["target_filepath"] == str(out / row["target_file"])
        assert line["noise_filepath"] == str(out / row["noise_file"])
        assert sf.info(line["target_filepath"]).duration == pytest.approx(line["duration"])
    import lhotse

    assert cli("export", out, "--to", "lhotse", tmp_path / "lhotse").exit_code == 0
    cuts = lhotse.load_manifest(tmp_path / "lhotse" / "cuts.jsonl.gz")
    assert len(cuts) == len(rows)
    cut = cuts[0]
    target = cut.load_target_recording()  # as NeMo's audio collection loads it
    assert np.allclose(target[0], read(out, rows[0]["target_file"]), atol=1e-7)
    assert np.allclose(cut.load_audio()[0], read(out, rows[0]["file_name"]), atol=1e-7)
    import webdataset as wds

    assert cli("export", out, "--to", "webdataset", tmp_path / "wds").exit_code == 0
    with warnings.catch_warnings():  # webdataset leaves each shard's file for the collector to close
        warnings.simplefilter("ignore", ResourceWarning)
        samples = list(wds.WebDataset(str(next((tmp_path / "wds").glob("*.tar"))), shardshuffle=False))
        gc.collect()
    assert {"wav", "target.wav", "noise.wav", "speech.wav", "interference.wav", "json"} <= set(samples[0])
    kaldi = cli("export", out, "--to", "kaldi", tmp_path / "kaldi")
    assert kaldi.exit_code == 2 and "stems" in kaldi.output and not (tmp_path / "kaldi").exists()


def test_three_speakers_write_one_interference_folder_each(tmp_path: Path) -> None:
    root = make_world(tmp_path, speakers=4, per_speaker=1)
    config = root / "c.yaml"
    config.write_text(
        """\
version: 1
copies: 1
output: {subtype: FLOAT}
pipeline: []
mix:
  level_db: [-25, -25]
  speakers: {count: 3, sir_db: [0, 3]}
stems: [mixture, speech, interference]
"""
    )
    assert cli("run", config, root / "in", root / "out", "-j", "1").exit_code == 0
    for row in manifest(root / "out"):
        parts = [read(root / "out", row[k]) for k in ("speech_file", "interference1_file", "interference2_file")]
        assert np.max(np.abs(read(root / "out", row["file_name"]) - sum(parts))) < 1e-6
        others = mix_entry(row)["interference"]
        assert len({o["source"] for o in others} | {row["source"]}) == 3
        for part, other in zip(parts[1:], others, strict=True):
            assert abs(rms_db(parts[0]) - rms_db(part) - other["sir_db"]) < 0.05


@pytest.mark.parametrize(
    ("change", "place", "said"),
    [
        ("snr_db: [-5, 15]", "snr_db: [15, -5]", "line 10: mix.noise.snr_db: low (15) is greater than high (-5)"),
        ("stems: [mixture, target, speech, noise, interference]", "stems: [mixture, targte]", "did you mean target"),
        ("speakers: {count: 2, sir_db: [-5, 5]}", "speakers: {count: 0}", "mix.speakers.count: must be at least 2"),
        ("level_db: [-30, -20]", "level_db: [-30, -20]\n  reverb_typo: 1", "mix.reverb_typo: unknown key"),
    ],
    ids=["min-above-max", "unknown-stem", "count-0", "unknown-key"],
)
def test_mix_config_errors_are_one_located_line_before_any_work(
    world: Path, change: str, place: str, said: str
) -> None:
    config = world / "bad.yaml"
    config.write_text(ENHANCEMENT.replace(change, place))
    done = cli("validate", config)
    assert done.exit_code == 2
    assert said in done.output, done.output
    assert "Traceback" not in done.output


def test_pool_errors_name_the_folder_and_the_split(tmp_path: Path) -> None:
    root = make_world(tmp_path, speakers=2, per_speaker=1)
    (root / "irs" / "test" / "room.wav").unlink()
    (root / "irs" / "test").rmdir()
    done = cli("validate", root / "c.yaml")
    assert done.exit_code == 2 and "irs/ has no test/ subfolder" in done.output
    _ir(root / "irs" / "test" / "room.wav", 1)
    (root / "noises" / "test" / "long.wav").write_bytes(b"RIFF not audio")
    broken = audioaug("validate", root / "c.yaml")  # a new process: a pool is read once per process
    assert broken.returncode == 2 and "noises/test/long.wav: cannot decode" in broken.stderr
    (root / "noises" / "test" / "long.wav").unlink()
    (root / "noises" / "test" / "short.wav").unlink()
    empty = audioaug("run", root / "c.yaml", root / "in", root / "out", "--labels", root / "labels.csv")
    assert empty.returncode == 2 and "noises/test" in empty.stderr and not (root / "out").exists()
    (root / "labels.csv").write_text("file_name,split,speaker\ns0/u0.wav,dev,spk0\n")
    _noise(root / "noises" / "test" / "n.wav", 1.0, 3)
    missing = audioaug("run", root / "c.yaml", root / "in", root / "out", "--labels", root / "labels.csv")
    assert missing.returncode == 2 and "the dev split" in missing.stderr and not (root / "out").exists()


def test_an_unreadable_partner_or_an_unlabelled_input_fails_alone(tmp_path: Path) -> None:
    root = make_world(tmp_path, speakers=4, per_speaker=2)
    (root / "in" / "s1" / "u0.wav").write_bytes(b"RIFF broken")
    labels = root / "labels.csv"
    labels.write_text(labels.read_text().replace("s1/u1.wav,test,spk1\n", ""))
    done = audioaug("run", root / "c.yaml", root / "in", root / "out", "--labels", labels)
    assert done.returncode == 1, done.stderr
    errors = (root / "out" / "errors.csv").read_text()
    assert "s1/u1.wav" in errors and "no 'split' value" in errors
    assert len(manifest(root / "out")) >= 4  # the train split's items are all written


def test_segments_map_for_the_speech_through_the_pipeline_and_post(tmp_path: Path) -> None:
    root = make_world(tmp_path, speakers=2, per_speaker=1)
    config = root / "c.yaml"
    config.write_text(
        """\
version: 1
copies: 1
output: {subtype: FLOAT}
pipeline: []
mix:
  level_db: [-20, -20]
  noise: {sounds_path: noises/, snr_db: [30, 30]}
  post:
    - Shift: {min_shift: 0.25, max_shift: 0.25, shift_unit: seconds, rollover: false, p: 1.0}
stems: [mixture, target]
"""
    )
    table = root / "segments.csv"
    table.write_text("file_name,start,end\ns0/u0.wav,0.1,0.2\n")
    assert cli("run", config, root / "in", root / "out", "--segments", table, "-j", "1").exit_code == 0
    with (root / "out" / "segments.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    (segment,) = [r for r in rows if r["file_name"].startswith("mixture/s0/u0")]
    assert (float(segment["start"]), float(segment["end"])) == pytest.approx((0.35, 0.45), abs=1e-6)
    replayed = cli("replay", root / "out")  # post is rebuilt from audioaug.json's record too
    assert replayed.exit_code == 0, replayed.output


def test_the_augmenter_returns_the_stems_online(world: Path) -> None:
    from audioaug_cli import Augmenter

    augment = Augmenter.from_yaml(world / "c.yaml")
    row = manifest(world / "out")[0]
    other = mix_entry(row)["interference"][0]["source"]
    samples, rate = sf.read(world / "in" / row["source"], dtype="float32")
    partner, partner_rate = sf.read(world / "in" / other, dtype="float32")
    seed, copy = int(row["seed"]), int(row["copy"])
    stems, applied = augment.mix(samples, rate, seed, copy, others={other: (partner, partner_rate)}, split=row["split"])
    assert json.loads(row["transforms"]) == json.loads(json.dumps(applied))
    assert np.array_equal(stems["mixture"], read(world / "out", row["file_name"]).astype(np.float32))
    assert np.array_equal(stems["target"], read(world / "out", row["target_file"]).astype(np.float32))


def test_the_pipelines_own_noise_folders_are_split_too_and_audited(tmp_path: Path) -> None:
    """pools: also splits AddBackgroundNoise's sounds_path; audit hashes the files it names."""
    root = make_world(tmp_path, speakers=2, per_speaker=2)
    config = root / "bg.yaml"
    config.write_text(
        "version: 1\ncopies: 2\npipeline:\n"
        "  - AddBackgroundNoise: {sounds_path: noises/, min_snr_db: 5, max_snr_db: 10, p: 1.0}\n"
        "pools: {split_by: split}\n"
    )
    done = audioaug("run", config, root / "in", root / "out", "--labels", root / "labels.csv")
    assert done.returncode == 0, done.stderr
    for row in manifest(root / "out"):
        (entry,) = json.loads(row["transforms"])
        assert entry["params"]["noise_file_path"].startswith(f"noises/{row['split']}/")
    assert audioaug("audit", root / "out").returncode == 0
    for split in SPLITS:  # one noise per split, the same bytes under two names
        for path in (root / "noises" / split).iterdir():
            path.unlink()
    _noise(root / "noises" / "train" / "a.wav", 1.0, 5)
    (root / "noises" / "test" / "b.wav").write_bytes((root / "noises" / "train" / "a.wav").read_bytes())
    again = audioaug("run", config, root / "in", root / "again", "--labels", root / "labels.csv")
    assert again.returncode == 0, again.stderr
    found = audioaug("audit", root / "again")
    assert found.returncode == 1 and "noises/test/b.wav, noises/train/a.wav" in found.stdout


def test_audit_needs_a_split_column_and_reads_one_given(tmp_path: Path) -> None:
    root = make_world(tmp_path, speakers=4, per_speaker=1)
    config = root / "plain.yaml"
    config.write_text("version: 1\npipeline: []\nmix: {speakers: {count: 2}}\n")
    assert cli("run", config, root / "in", root / "out", "--labels", root / "labels.csv", "-j", "1").exit_code == 0
    refused = cli("audit", root / "out")
    assert refused.exit_code == 2 and "--split-by COLUMN" in refused.output
    typo = cli("audit", root / "out", "--split-by", "splitt")
    assert typo.exit_code == 2 and "did you mean split" in typo.output
    found = cli("audit", root / "out", "--split-by", "split")  # no pools: other speakers from any split
    shared = [line for line in found.output.splitlines() if line.startswith("source in splits test, train")]
    assert found.exit_code == 1 and shared and "outputs by 'split'" in found.output
