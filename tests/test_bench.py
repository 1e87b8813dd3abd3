"""The benchmark script runs (tiny mode) and reports every figure; no timing is asserted."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT


def test_benchmark_runs_in_tiny_mode(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--tiny", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "bench.json").read_text())
    assert set(results["targets"]) == {
        "-j 2 speed-up, 200 x 4 s mono (>= 1.45)",
        "-j 2 speed-up, 20 x 30 s stereo, 4 copies (>= 1.75)",
        "default -j vs -j 1, slowest corpus (>= 0.98)",
        "feature share of an item, article config (<= 0.25)",
        "-j 1 vs plain loop (<= 1.05)",
        "empty pipeline vs floor (>= 0.90)",
        "-j 2 speed-up, ~30 single-core s (>= 1.75)",
        "--help vs import click (<= 2.0)",
        "memory 20 vs 5 files (<= 1.10)",
        "tiny clips: -j 1 vs a bare read-gain-write loop (<= 1.20)",
        "tiny clips: -j 2 speed-up (>= 1.85)",
        "tiny clips: dask 2 x 1 speed-up (>= 1.50)",
        "tiny clips: dask 2 x 1 CPU vs -j 2, all processes (<= 1.10)",
        "tiny clips: parent CPU per item at -j 2, us (<= 15)",
        "tiny clips: workers one parent keeps busy (>= 64)",
        "tiny clips: finished rerun vs a stat walk (<= 1.50)",
        "tiny clips: peak memory, 10x the clips (<= 1.10)",
        "tiny clips: dask 2 x 1 wall vs -j 2's (<= 1.11)",
        "200 x 4 s: dask 2 x 1 CPU vs -j 2, all processes (<= 1.10)",
        "200 x 4 s: dask 2 x 1 wall vs -j 2's (<= 1.11)",
    }
    storage = results["object storage (a local S3 server)"]
    assert set(storage["requests per item"]) == {"first run", "finished rerun"}
    assert not {"PUT", "DELETE", "POST"} & set(storage["requests per item"]["finished rerun"])
    assert results["small clips"]["clips"] == 50 and results["small clips"]["memory ratio"] > 0
    # (a difference of the parent's CPU between 500 and 50 clips can be below the noise: then no figure)
    noisy = {"tiny clips: workers one parent keeps busy (>= 64)"}
    assert all(
        isinstance(t["measured"], float) and (t["measured"] > 0 or (name in noisy and math.isnan(t["measured"])))
        for name, t in results["targets"].items()
    )
    assert len(results["peak memory MiB"]) == 3
    assert set(results["codecs (audio-s per CPU-s)"]) > {
        "Codec gsm",
        "Codec opus",
        "Telephone (ulaw, 5 % loss)",
    }
    assert results["mixing (DNS-style, 200 x 4 s)"]["mix -j 2 speed-up"] > 0
    assert set(results["parallel speed-up over -j 1 (whole command)"]) == {
        "10 x 1 s mono 16 kHz",
        "200 x 4 s mono 16 kHz",
        "20 x 30 s stereo 44.1 kHz",
        "20 x 30 s stereo 44.1 kHz, 4 copies",
    }
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "benchmarks.md").read_text()  # (the docs page, written by a full run)
    assert f"usable cores {results['machine']['usable cores']}" in page
    assert all(f"| {name} |" in page for name in results["targets"])
    assert "targets (ratios measured in this run):" in done.stdout
