"""`from audioaug_cli import Augmenter`: the same YAML online reproduces every manifest row."""

from __future__ import annotations

import csv
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioaug_cli import Augmenter
from tests.helpers import PIPELINE, ROOT, cli


def manifest(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def float_run(corpus: Path, tmp_path: Path) -> tuple[Augmenter, Path, Path, list[dict[str, str]]]:
    config = tmp_path / "c.yaml"
    config.write_text(PIPELINE + "output: {subtype: FLOAT}\n")
    result = cli("run", config, corpus, tmp_path / "out", "-j", "1")
    assert result.exit_code == 0, result.stderr
    return Augmenter.from_yaml(config), corpus, tmp_path / "out", manifest(tmp_path / "out")


def test_every_manifest_row_is_reproduced_from_its_seed(
    float_run: tuple[Augmenter, Path, Path, list[dict[str, str]]],
) -> None:
    augment, inputs, out, rows = float_run
    assert len(rows) == 9 and any("AddGaussianNoise" in r["transforms"] for r in rows)
    for row in rows:
        samples, rate = sf.read(inputs / row["source"])  # float64, as soundfile reads by default
        audio, applied = augment(samples, rate, seed=int(row["seed"]))
        written, _ = sf.read(out / row["file_name"], dtype="float32")
        assert audio.shape == written.shape  # soundfile's layout: (frames,) or (frames, channels)
        assert np.array_equal(audio, written)
        assert applied == json.loads(row["transforms"])
        assert augment.item_seed(row["source"], int(row["copy"])) == int(row["seed"])


def test_eight_threads_reproduce_the_rows_too(float_run: tuple[Augmenter, Path, Path, list[dict[str, str]]]) -> None:
    augment, inputs, out, rows = float_run
    sources = {row["source"]: sf.read(inputs / row["source"]) for row in rows}

    def one(row: dict[str, str]) -> bool:
        samples, rate = sources[row["source"]]
        audio, applied = augment(samples, rate, seed=int(row["seed"]))
        return bool(
            np.array_equal(audio, sf.read(out / row["file_name"], dtype="float32")[0])
        ) and applied == json.loads(row["transforms"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(one, rows * 6))


@pytest.mark.filterwarnings("ignore:Empty filters detected in mel frequency basis")
def test_features_give_the_npy_and_the_manifests_transforms(corpus: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text((ROOT / "configs" / "article.yaml").read_text())
    assert cli("run", config, corpus, tmp_path / "out", "-j", "1").exit_code == 0
    augment = Augmenter.from_yaml(config)
    for row in manifest(tmp_path / "out"):
        samples, rate = sf.read(corpus / row["source"], dtype="float32")
        feature, applied = augment.features(samples, rate, seed=int(row["seed"]))
        assert np.array_equal(feature, np.load(tmp_path / "out" / row["feature_file"]))
        assert applied == json.loads(row["transforms"])
    with pytest.raises(ValueError, match="no spectrogram: section"):
        Augmenter.from_yaml(ROOT / "configs" / "example.yaml").features(samples, rate)


def test_an_augmenter_pickles_as_its_config(float_run: tuple[Augmenter, Path, Path, list[dict[str, str]]]) -> None:
    """What a DataLoader with spawned workers does to a Dataset that holds one."""
    import pickle

    augment, inputs, out, rows = float_run
    copy = pickle.loads(pickle.dumps(augment))
    samples, rate = sf.read(inputs / rows[0]["source"])
    assert np.array_equal(
        copy(samples, rate, seed=int(rows[0]["seed"]))[0], sf.read(out / rows[0]["file_name"], dtype="float32")[0]
    )
