"""`audioaug preview`: the variants `run` would write, and a picture of them."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import soundfile as sf

from audioaug_cli.config.load import load_config
from audioaug_cli.config.model import Config
from audioaug_cli.preview import make_preview, preview_figure
from tests.helpers import ROOT, SIMPLE, cli, write_tone

matplotlib.use("Agg")


def test_preview_writes_the_variants_run_writes_and_a_png(tmp_path: Path, write_config: object) -> None:
    clip = write_tone(tmp_path / "in" / "clip.wav", 0.5, 16000, 2)
    config = tmp_path / "c.yaml"
    config.write_text(SIMPLE)
    shown = cli("preview", config, clip, "-o", tmp_path / "preview", "--copies", "3")
    assert shown.exit_code == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["clip__aug1.wav", "clip__aug2.wav", "clip__aug3.wav", "picture"]
    assert lines[-1] == f"picture: {tmp_path / 'preview' / 'clip.png'}"
    assert (tmp_path / "preview" / "clip.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ran = cli("run", config, tmp_path / "in", tmp_path / "out", "--copies", "3", "-j", "1")
    assert ran.exit_code == 0
    for copy in (1, 2, 3):  # exactly run's code path: the same bytes
        name = f"clip__aug{copy}.wav"
        assert (tmp_path / "preview" / name).read_bytes() == (tmp_path / "out" / name).read_bytes()


@pytest.mark.filterwarnings("ignore:Empty filters detected in mel frequency basis")
def test_the_figure_has_a_row_for_the_original_and_each_variant_titled_with_what_was_applied(tmp_path: Path) -> None:
    config = load_config(ROOT / "configs" / "article.yaml", copies=2)
    clip = ROOT / "sample_data" / "speech" / "vowels_16k.wav"
    made = make_preview(config, clip, tmp_path)
    figure = preview_figure(config, clip, tmp_path, made.outcomes)
    rows = figure.subfigs
    assert len(rows) == 3
    assert all(len(row.axes) >= 3 for row in rows)  # waveform, log-mel, feature (+ its colour bar)
    assert rows[0].get_suptitle() == "original: vowels_16k.wav"
    for row, outcome in zip(rows[1:], made.outcomes, strict=True):
        assert outcome.row is not None
        title = row.get_suptitle().replace("\n", " ")
        assert title.startswith(f"copy {outcome.row.copy}: ")
        assert all(entry["name"] in title for entry in json.loads(outcome.row.transforms))
        assert "SpecTimeMask" in title  # p: 1.0 in the article config
    matplotlib.pyplot.close(figure)


def test_preview_errors_are_one_line(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("version: 1\npipeline: [Nope]\n")
    clip = write_tone(tmp_path / "clip.wav")
    bad = cli("preview", config, clip, "-o", tmp_path / "p")
    assert bad.exit_code == 2 and bad.stderr.startswith(f"error: {config}: line 2: pipeline[0]: unknown transform")
    config.write_text(SIMPLE)
    (tmp_path / "broken.wav").write_bytes(b"RIFF....WAVEfmt nonsense")
    broken = cli("preview", config, tmp_path / "broken.wav", "-o", tmp_path / "p")
    assert broken.exit_code == 1
    assert broken.stderr.startswith(f"error: {tmp_path / 'broken.wav'}: cannot decode")
    assert broken.stderr.count("\n") == 1


def test_preview_of_a_part_of_a_long_file(tmp_path: Path) -> None:
    rate = 16000
    audio = np.zeros(10 * rate, np.float32)
    audio[4 * rate : 5 * rate] = 0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)  # a burst at 4-5 s
    sf.write(tmp_path / "long.wav", audio, rate, subtype="FLOAT")
    config = tmp_path / "c.yaml"
    config.write_text("version: 1\noutput: {subtype: FLOAT}\npipeline: []\n")
    shown = cli("preview", config, tmp_path / "long.wav", "-o", tmp_path / "p", "--start", "4", "--duration", "1")
    assert shown.exit_code == 0, shown.output
    variant, variant_rate = sf.read(tmp_path / "p" / "long__aug1.wav", dtype="float32")
    assert variant_rate == rate and np.array_equal(variant, audio[4 * rate : 5 * rate])
    assert (tmp_path / "p" / "long.png").is_file()
    late = cli("preview", config, tmp_path / "long.wav", "-o", tmp_path / "q", "--start", "11")
    assert late.exit_code == 1
    assert late.stderr.endswith("long.wav: the excerpt starts at 11 s, after the end of the audio (10 s)\n")


def test_preview_reads_audioaug_seed_and_copies_as_run_does(tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "clip.wav")
    config = tmp_path / "c.yaml"
    config.write_text(SIMPLE)
    by_option = cli("preview", config, clip, "-o", tmp_path / "a", "--seed", "7")
    by_env = cli("preview", config, clip, "-o", tmp_path / "b", env={"AUDIOAUG_SEED": "7", "AUDIOAUG_COPIES": "2"})
    plain = cli("preview", config, clip, "-o", tmp_path / "c")
    assert by_option.exit_code == by_env.exit_code == plain.exit_code == 0
    for name in ("clip__aug1.wav", "clip__aug2.wav"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "clip__aug1.wav").read_bytes() != (tmp_path / "c" / "clip__aug1.wav").read_bytes()


def test_preview_draws_the_segments_where_each_variant_moved_them(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    from audioaug_cli.config.load import parse_config

    write_tone(tmp_path / "a.wav", seconds=1.0)
    config = parse_config("version: 1\ncopies: 2\npipeline:\n  - Reverse: {p: 1.0}\n")
    made = make_preview(config, tmp_path / "a.wav", tmp_path / "p", segments=[(0.1, 0.3), (0.5, 0.6)])
    assert [o.row.segments for o in made.outcomes if o.row] == [((0.7, 0.9, 0), (0.4, 0.5, 1))] * 2
    figure = preview_figure(config, tmp_path / "a.wav", tmp_path / "p", made.outcomes, None, ((0.1, 0.3), (0.5, 0.6)))
    waveforms = [axis for axis in figure.axes if axis.get_title() == "waveform"]
    spans = [sorted(round(p.get_x(), 6) for p in axis.patches) for axis in waveforms]
    assert spans == [[0.1, 0.5], [0.4, 0.7], [0.4, 0.7]]
    plt.close(figure)


def test_preview_with_input_dir_writes_what_run_writes_for_a_file_in_a_subfolder(tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "in" / "speech" / "clip.wav", 0.4, 16000, 1, 330)
    config = tmp_path / "c.yaml"
    config.write_text(SIMPLE)
    assert cli("run", config, tmp_path / "in", tmp_path / "out", "-j", "1", "-q").exit_code == 0
    shown = cli("preview", config, clip, "-o", tmp_path / "p", "--input-dir", tmp_path / "in")
    assert shown.exit_code == 0, shown.output
    for copy in (1, 2):
        name = f"speech/clip__aug{copy}.wav"
        assert (tmp_path / "p" / name).read_bytes() == (tmp_path / "out" / name).read_bytes()
    outside = cli("preview", config, clip, "-o", tmp_path / "q", "--input-dir", tmp_path / "out")
    assert outside.exit_code == 2 and "is not inside --input-dir" in outside.stderr


def test_the_picture_is_bounded_stacks_channels_and_keeps_the_files_time(tmp_path: Path) -> None:
    """However long the file, each waveform is a bounded number of points; channels are drawn one
    above the other, not over each other; with --start, the time axis is the file's."""
    from audioaug_cli.io.audio import Excerpt
    from audioaug_cli.preview import WAVEFORM_POINTS

    write_tone(tmp_path / "stereo.wav", 30.0, 16000, 2)
    config = load_config_text(tmp_path, "version: 1\ncopies: 1\npipeline: []\n")
    made = make_preview(config, tmp_path / "stereo.wav", tmp_path / "p", Excerpt(12.0, 6.0))
    figure = preview_figure(config, tmp_path / "stereo.wav", tmp_path / "p", made.outcomes, Excerpt(12.0, 6.0))
    waveform = figure.subfigs[0].axes[0]
    assert waveform.get_xlim() == pytest.approx((12.0, 18.0))
    drawn = [collection.get_paths()[0].vertices for collection in waveform.collections]
    assert len(drawn) == 2 and all(len(v) <= 4 * WAVEFORM_POINTS + 8 for v in drawn)
    assert min(drawn[0][:, 1]) > max(drawn[1][:, 1]), "channel 1 is drawn above channel 2"
    assert [t.get_text() for t in waveform.get_yticklabels()] == ["ch 1", "ch 2"]
    spectrogram = figure.subfigs[0].axes[1]
    assert spectrogram.get_xlim()[0] == pytest.approx(12.0, abs=0.1)
    import matplotlib.pyplot as plt

    plt.close(figure)


def load_config_text(folder: Path, text: str) -> Config:
    (folder / "c.yaml").write_text(text)
    return load_config(folder / "c.yaml")
