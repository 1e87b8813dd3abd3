"""Class balancing (copies by a label column), originals as copy 0, and the audiofolder load."""

from __future__ import annotations

import collections
import csv
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.helpers import cli, write_tone

BALANCED = """\
version: 1
seed: 5
copies: {by: label, default: 1, values: {siren: 4, dog_bark: 2, silence: 0}}
output: {manifest: metadata.csv}
pipeline:
  - Gain: {min_gain_db: -6, max_gain_db: 6, p: 1.0}
"""


@pytest.fixture
def labelled(tmp_path: Path) -> tuple[Path, Path, Path]:
    for name in ("siren/s0.wav", "siren/s1.wav", "dog/d0.wav", "rain/r0.wav", "rain/r1.wav", "quiet/q0.wav"):
        write_tone(tmp_path / "in" / name, 0.3, 16000, 2 if name.startswith("dog") else 1, 300 + len(name))
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "file_name,label,split\nsiren/s0.wav,siren,train\nsiren/s1.wav,siren,test\n"
        "dog/d0.wav,dog_bark,train\nrain/r0.wav,rain,train\nquiet/q0.wav,silence,train\n"
    )
    config = tmp_path / "c.yaml"
    config.write_text(BALANCED)
    return config, tmp_path / "in", labels


def rows(out: Path) -> list[dict[str, str]]:
    with (out / "metadata.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_copies_follow_the_label_and_the_default_and_originals_are_copy_0(
    labelled: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    config, inputs, labels = labelled
    done = cli("run", config, inputs, tmp_path / "out", "--labels", labels, "--include-original", "-j", "1")
    assert done.exit_code == 0, done.stderr
    found = rows(tmp_path / "out")
    per_source = collections.Counter(r["source"] for r in found if r["copy"] != "0")
    # siren 4, dog_bark 2, rain (not listed) and r1 (no label row) the default 1, silence 0
    assert per_source == {"siren/s0.wav": 4, "siren/s1.wav": 4, "dog/d0.wav": 2, "rain/r0.wav": 1, "rain/r1.wav": 1}
    originals = [r for r in found if r["copy"] == "0"]
    assert sorted(r["source"] for r in originals) == sorted(str(p.relative_to(inputs)) for p in inputs.rglob("*.wav"))
    for row in originals:
        assert row["transforms"] == "[]" and row["file_name"].endswith("__aug0.wav")
        source, _ = sf.read(inputs / row["source"], dtype="int16")
        written, _ = sf.read(tmp_path / "out" / row["file_name"], dtype="int16")
        assert np.array_equal(source, written)  # the source, converted to the output format: PCM_16 to PCM_16
    assert {r["source"]: r["label"] for r in found}["rain/r1.wav"] == ""
    again = cli("run", config, inputs, tmp_path / "out", "--labels", labels, "--include-original", "-j", "1")
    assert again.stderr.startswith("done: 0 written, 18 skipped (already done)")
    dry = cli("run", config, inputs, tmp_path / "fresh", "--labels", labels, "--dry-run")
    assert len(dry.stdout.splitlines()) == 12 and not (tmp_path / "fresh").exists()


def test_a_label_column_that_is_not_there_is_a_usage_error(labelled: tuple[Path, Path, Path], tmp_path: Path) -> None:
    config, inputs, labels = labelled
    without = cli("run", config, inputs, tmp_path / "out")
    assert without.exit_code == 2
    assert without.stderr == "error: the config's copies are by the label column 'label': give --labels CSV\n"
    other = tmp_path / "other.csv"
    other.write_text("file_name,labels\nsiren/s0.wav,siren\n")
    wrong = cli("run", config, inputs, tmp_path / "out", "--labels", other)
    assert wrong.exit_code == 2
    assert wrong.stderr == (
        f"error: {other}: no column 'label', which the config's copies are by; found columns: "
        "labels; did you mean labels?\n"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")  # datasets'
def test_an_output_dir_loads_as_a_hugging_face_audiofolder(
    labelled: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With output.manifest: metadata.csv; datasets 3.x decodes with soundfile."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    datasets = pytest.importorskip("datasets")
    config, inputs, labels = labelled
    assert cli("run", config, inputs, tmp_path / "out", "--labels", labels, "-j", "1").exit_code == 0
    loaded = datasets.load_dataset("audiofolder", data_dir=str(tmp_path / "out"), split="train")
    assert len(loaded) == 12
    assert {"audio", "source", "copy", "seed", "transforms", "label", "split"} <= set(loaded.column_names)
    by_name = {os.path.basename(item["audio"]["path"]): item for item in loaded}
    siren = by_name["s0__aug3.wav"]
    assert siren["label"] == "siren" and siren["split"] == "train" and siren["audio"]["sampling_rate"] == 16000
    written, _ = sf.read(tmp_path / "out" / "siren" / "s0__aug3.wav")
    np.testing.assert_allclose(siren["audio"]["array"], written, atol=1e-6)


def test_label_values_are_the_text_written_in_the_config_never_yaml_booleans(tmp_path: Path) -> None:
    """`on`, `off`, `yes`, `no` and `1` are labels as written (YAML 1.1 would read the first four as
    booleans, which no label from --labels could ever match); a key written twice is an error."""
    labels = tmp_path / "labels.csv"
    lines = ["file_name,answer"]
    for index, value in enumerate(("on", "off", "yes", "no", "1", "maybe")):
        write_tone(tmp_path / "in" / f"a{index}.wav", 0.1, 8000, 1, 300 + 20 * index)
        lines.append(f"a{index}.wav,{value}")
    labels.write_text("\n".join(lines) + "\n")
    config = tmp_path / "c.yaml"
    config.write_text(
        "version: 1\ncopies: {by: answer, default: 1, values: {on: 3, off: 5, yes: 2, no: 4, 1: 6}}\npipeline: []\n"
    )
    done = cli("run", config, tmp_path / "in", tmp_path / "out", "--labels", labels, "-j", "1", "-q")
    assert done.exit_code == 0, done.stderr
    with (tmp_path / "out" / "manifest.csv").open(newline="") as handle:
        found = collections.Counter(row["answer"] for row in csv.DictReader(handle))
    assert found == {"on": 3, "off": 5, "yes": 2, "no": 4, "1": 6, "maybe": 1}
    config.write_text("version: 1\ncopies: {by: answer, values: {on: 3, on: 5}}\npipeline: []\n")
    twice = cli("validate", config)
    assert twice.exit_code == 2
    assert twice.stderr == f"error: {config}: line 2: copies.values.on: duplicate key; each key may appear once\n"
