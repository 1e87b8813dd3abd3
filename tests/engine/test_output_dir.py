"""OUTPUT_DIR under pressure: a filesystem that fills up, and two runs started on one OUTPUT_DIR."""

from __future__ import annotations

import csv
import errno
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from audioaug_cli.engine import item as items
from audioaug_cli.io.atomic import TEMP_MARK
from tests.helpers import ROOT, SIMPLE, audioaug, cli, tree, write_tone

FULL = "error: no space left on the filesystem of OUTPUT_DIR "


def manifest_sources(out: Path) -> list[str]:
    with (out / "manifest.csv").open(newline="") as handle:
        return [row["file_name"] for row in csv.DictReader(handle)]


def test_a_full_disk_stops_the_run_with_one_line_and_the_rerun_does_only_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(12):
        write_tone(tmp_path / "in" / f"f{i:02d}.wav", 0.2, 16000, 1, 200 + 30 * i)
    config = tmp_path / "c.yaml"
    config.write_text(SIMPLE)  # 2 copies: 24 items
    real_write = items.write_audio  # type: ignore[attr-defined]
    written: list[str] = []

    def fills_up(path: str, *args: object, **kwargs: object) -> None:
        if len(written) == 9:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        real_write(path, *args, **kwargs)  # type: ignore[arg-type]
        written.append(path)

    monkeypatch.setattr(items, "write_audio", fills_up)
    full = cli("run", config, tmp_path / "in", tmp_path / "out", "-j", "1")
    assert full.exit_code == 1
    assert full.stderr.splitlines() == [
        f"{FULL}{tmp_path / 'out'}: 9 file(s) written by this run are kept and recorded; "
        "free some space and rerun the same command to do the rest"
    ]
    assert len(manifest_sources(tmp_path / "out")) == 9
    assert not (tmp_path / "out" / "errors.csv").exists()  # a full disk is no input's fault
    monkeypatch.setattr(items, "write_audio", real_write)
    rerun = cli("run", config, tmp_path / "in", tmp_path / "out", "-j", "1")
    assert rerun.exit_code == 0, rerun.stderr
    assert rerun.stderr.startswith("done: 15 written, 9 skipped (already done), 0 failed")
    assert cli("run", config, tmp_path / "in", tmp_path / "ref", "-j", "1").exit_code == 0
    assert tree(tmp_path / "out") == tree(tmp_path / "ref")


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs (needs root and the right to mount, as in CI here)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def test_a_real_full_filesystem_is_one_line_and_loses_no_finished_work(tmp_path: Path, small_filesystem: Path) -> None:
    for i in range(150):
        write_tone(tmp_path / "in" / f"d{i % 3}" / f"f{i:03d}.wav", 0.25, 16000, 1, 200 + 3 * i)
    config = tmp_path / "c.yaml"
    config.write_text(SIMPLE)  # 300 outputs of 8 KiB: more than 2 MiB
    out = small_filesystem / "out"
    full = audioaug("run", config, tmp_path / "in", out, "-j", "2")
    assert full.returncode == 1
    assert len(full.stderr.splitlines()) == 1 and full.stderr.startswith(f"{FULL}{out}: "), full.stderr
    kept = manifest_sources(out)
    assert 50 < len(kept) < 300
    assert not [p for p in out.rglob("*") if p.name.endswith(TEMP_MARK)]
    subprocess.run(["mount", "-o", "remount,size=8m", str(small_filesystem)], check=True)  # space freed
    rerun = audioaug("run", config, tmp_path / "in", out, "-j", "2")
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stderr.startswith(f"done: {300 - len(kept)} written, {len(kept)} skipped (already done), 0 failed")
    assert audioaug("run", config, tmp_path / "in", tmp_path / "ref", "-j", "2").returncode == 0
    assert tree(out) == tree(tmp_path / "ref")


SLOW = """\
version: 1
copies: 2
pipeline:
  - PitchShift: {min_semitones: -3, max_semitones: 3, p: 1.0}
"""


def test_a_second_run_on_the_same_output_dir_is_refused_and_the_first_is_unaffected(tmp_path: Path) -> None:
    for i in range(60):
        write_tone(tmp_path / "in" / f"f{i:02d}.wav", 2.0, 16000, 1, 200 + 10 * i)
    config = tmp_path / "c.yaml"
    config.write_text(SLOW)
    out = tmp_path / "out"
    first = subprocess.Popen(
        [sys.executable, "-m", "audioaug_cli", "run", str(config), str(tmp_path / "in"), str(out), "-j", "1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = out / ".audioaug" / "lock"
    deadline = time.monotonic() + 60
    while first.poll() is None and time.monotonic() < deadline:
        if lock.exists() and lock.read_text().strip() == str(first.pid) and any(out.glob("*.wav")):
            break
        time.sleep(0.01)
    second = audioaug("run", config, tmp_path / "in", out, "-j", "1")
    still_running = first.poll() is None
    _, first_err = first.communicate(timeout=300)
    assert still_running  # the second run was tried while the first worked
    assert second.returncode == 2
    assert second.stderr.splitlines() == [
        f"error: another audioaug run (pid {first.pid}) is writing to OUTPUT_DIR "
        f"{out}; wait for it to finish, or choose another OUTPUT_DIR"
    ]
    assert first.returncode == 0, first_err
    assert first_err.startswith("done: 120 written, 0 skipped (already done), 0 failed")
    again = audioaug("run", config, tmp_path / "in", out, "-j", "1")  # the lock went with the first run
    assert again.returncode == 0 and again.stderr.startswith("done: 0 written, 120 skipped")


def test_a_damaged_record_is_refused_for_a_resume_and_replaced_by_overwrite(tmp_path: Path) -> None:
    """An audioaug.json that cannot be read (cut short by a full disk, edited by hand) stops a
    resume with a line that names --overwrite, and --overwrite then starts over, as it says; a file
    no run wrote is still never replaced, and without a resume state the file is not taken for ours."""
    for i in range(3):
        write_tone(tmp_path / "in" / f"f{i}.wav", 0.2, 16000, 1, 300 + 50 * i)
    config, out = tmp_path / "c.yaml", tmp_path / "out"
    config.write_text(SIMPLE)
    assert cli("run", config, tmp_path / "in", tmp_path / "fresh", "-j", "1").exit_code == 0
    assert cli("run", config, tmp_path / "in", out, "-j", "1").exit_code == 0
    (out / "audioaug.json").write_text('{"config": {"seed"')
    resumed = cli("run", config, tmp_path / "in", out, "-j", "1")
    assert resumed.exit_code == 2 and "unreadable" in resumed.output and "--overwrite starts over" in resumed.output
    assert cli("run", config, tmp_path / "in", out, "-j", "1", "--overwrite").exit_code == 0
    assert tree(out).keys() == tree(tmp_path / "fresh").keys()
    assert {k: v for k, v in tree(out).items() if k != "audioaug.json"} == {
        k: v for k, v in tree(tmp_path / "fresh").items() if k != "audioaug.json"
    }
    (out / "audioaug.json").write_text("{")
    (out / "f9__aug1.wav").write_bytes(b"someone's own file")  # output-like, recorded by no run
    write_tone(tmp_path / "in" / "f9.wav")
    refused = cli("run", config, tmp_path / "in", out, "-j", "1", "--overwrite")
    assert refused.exit_code == 2 and "f9__aug1.wav, which no audioaug run wrote" in refused.output
    assert (out / "f9__aug1.wav").read_bytes() == b"someone's own file"
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "audioaug.json").write_text("not ours")
    refused = cli("run", config, tmp_path / "in", alone, "-j", "1", "--overwrite")
    assert refused.exit_code == 2 and "audioaug.json, which no audioaug run wrote" in refused.output
    assert (alone / "audioaug.json").read_text() == "not ours"
