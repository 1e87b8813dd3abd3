"""Levels and clipping: every output's peak and what its format cut off, and output.clip."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.helpers import ConfigWriter, cli, rows

LOUD = """\
version: 1
seed: 5
copies: 2
output: {{subtype: {subtype}{clip}}}
pipeline:
  - Gain: {{min_gain_db: 12, max_gain_db: 12, p: 1.0}}
"""


def corpus(root: Path) -> Path:
    t = np.arange(16000) / 16000
    (root / "in").mkdir(parents=True)
    sf.write(root / "in" / "loud.wav", 0.8 * np.sin(2 * np.pi * 300 * t), 16000, subtype="FLOAT")
    sf.write(root / "in" / "quiet.wav", 0.01 * np.sin(2 * np.pi * 300 * t), 16000, subtype="FLOAT")
    return root / "in"


def run(tmp_path: Path, write_config: ConfigWriter, name: str, subtype: str, clip: str = "") -> tuple[int, Path, str]:
    config = write_config(LOUD.format(subtype=subtype, clip=f", clip: {clip}" if clip else ""), f"{name}.yaml")
    out = tmp_path / name
    result = cli("run", config, tmp_path / "in", out, "-j", "1", "--summary-json", tmp_path / f"{name}.json")
    return result.exit_code, out, result.stderr


def test_the_manifest_records_the_peak_before_quantisation_and_what_was_cut_off(
    tmp_path: Path, write_config: ConfigWriter
) -> None:
    corpus(tmp_path)
    code, floats, _ = run(tmp_path, write_config, "float", "FLOAT")
    assert code == 0
    code, ints, stderr = run(tmp_path, write_config, "pcm", "PCM_16")
    assert code == 0
    by_name = {r["file_name"]: r for r in rows(ints / "manifest.csv")}
    for row in rows(floats / "manifest.csv"):
        unquantised, _ = sf.read(floats / row["file_name"], dtype="float64")  # FLOAT holds the samples as made
        peak = np.max(np.abs(unquantised))
        assert float(row["peak_db"]) == round(20 * math.log10(peak), 2)
        assert row["clipped"] == "0"  # a float file cuts nothing off
        written = by_name[row["file_name"]]
        assert written["peak_db"] == row["peak_db"]
        assert int(written["clipped"]) == np.count_nonzero(np.abs(unquantised.astype(np.float32)) > 1.0)
    assert {r["source"]: int(r["clipped"]) > 0 for r in by_name.values()} == {"loud.wav": True, "quiet.wav": False}
    pcm, _ = sf.read(ints / "loud__aug1.wav")
    assert np.max(np.abs(pcm)) >= 0.9999  # libsndfile did clip it: the columns are what says so
    assert "done: 4 written (2 clipped)" in stderr and "warning: 2 output(s) clipped" in stderr
    assert json.loads((tmp_path / "pcm.json").read_text())["clipped"] == 2


def test_normalize_scales_an_item_that_would_clip_to_minus_0_1_dbfs(tmp_path: Path, write_config: ConfigWriter) -> None:
    corpus(tmp_path)
    code, out, stderr = run(tmp_path, write_config, "norm", "PCM_24", "normalize")
    assert code == 0 and "clipped" not in stderr
    found = {r["file_name"]: r for r in rows(out / "manifest.csv")}
    loud, quiet = found["loud__aug1.wav"], found["quiet__aug1.wav"]
    audio, _ = sf.read(out / "loud__aug1.wav")
    assert abs(20 * math.log10(np.max(np.abs(audio))) - (-0.1)) < 0.001
    assert (loud["peak_db"], loud["clipped"]) == ("-0.1", "0")
    last = json.loads(loud["transforms"])[-1]
    assert (
        last["name"] == "Normalize" and abs(last["params"]["gain_db"] - (-0.1 - 20 * math.log10(0.8 * 10**0.6))) < 0.01
    )
    assert [t["name"] for t in json.loads(quiet["transforms"])] == ["Gain"]  # nothing to scale down
    assert cli("replay", out).exit_code == 0  # the scaled bytes are made again exactly


def test_fail_fails_the_clipping_item_alone(tmp_path: Path, write_config: ConfigWriter) -> None:
    corpus(tmp_path)
    code, out, _ = run(tmp_path, write_config, "fail", "PCM_16", "fail")
    assert code == 1
    assert sorted(r["file_name"] for r in rows(out / "manifest.csv")) == ["quiet__aug1.wav", "quiet__aug2.wav"]
    with (out / "errors.csv").open(newline="") as handle:
        (error,) = list(csv.DictReader(handle))
    peak = 20 * math.log10(0.8 * 10**0.6)
    assert error["source"] == "loud.wav"
    beyond = np.count_nonzero(np.abs(0.8 * 10**0.6 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000)) > 1.0)
    assert error["error"] == (
        f"clipped: its peak is {peak:+.2f} dBFS and {beyond} sample(s) lie beyond full scale, "
        "which PCM_16 cannot hold; lower the gain, or set output.clip: normalize"
    )


def test_output_clip_is_checked(write_config: ConfigWriter) -> None:
    result = cli("validate", write_config("version: 1\noutput: {clip: soft}\npipeline: []\n"))
    assert result.exit_code == 2
    assert "line 2: output.clip: expected keep or normalize or fail, found 'soft'" in result.stderr
