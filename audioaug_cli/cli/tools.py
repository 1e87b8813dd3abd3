"""`audioaug preview` and `audioaug replay`: what a config does to one file, and whether outputs
can be made again byte for byte."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from audioaug_cli.cli.common import Location, exits_on_error, run_option, say, show
from audioaug_cli.errors import Mismatch


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("audio_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the variants and the picture go. [default: preview/<file's stem>]",
)
@run_option("copies", "Variants to make. [default: the config's]")
@run_option("seed", "Override the config's seed (as run's --seed).")
@click.option(
    "--start",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="Preview only a part of AUDIO_FILE, from this time. [default: its start]",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Preview only this long a part of AUDIO_FILE. [default: to its end]",
)
@click.option(
    "--input-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="The INPUT_DIR that `run` would be given: the variants are then exactly the files `run` writes for "
    "AUDIO_FILE there (seeds and names depend on its path in it). [default: AUDIO_FILE's folder]",
)
@click.option(
    "--segments",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A --segments CSV: AUDIO_FILE's rows are drawn as spans on each waveform, where each variant moved them.",
)
def preview(
    config: Path,
    audio_file: Path,
    output_dir: Path | None,
    copies: int | None,
    seed: int | None,
    start: float | None,
    duration: float | None,
    input_dir: Path | None,
    segments: Path | None,
) -> None:
    """Make a few variants of AUDIO_FILE exactly as `run` would, and a picture of them.

    The picture (<stem>.png) shows the original and each variant as waveform and log-mel
    spectrogram (and the augmented feature, with a spectrogram: section), each titled with the
    transforms applied and the parameters they drew. The variants are the files `run` would write
    for AUDIO_FILE in --input-dir (by default, at the top of INPUT_DIR), with the same seeds; with
    --start/--duration, they are of that part of the file only (a quick look at a long recording).

    \b
    Example:
        audioaug preview configs/example.yaml sample_data/speech/vowels_16k.wav --input-dir sample_data
        audioaug preview configs/example.yaml long_recording.flac --start 60 --duration 5
        audioaug preview configs/kaldi_asr.yaml corpus/utt1.wav --segments segments.csv
    """
    from audioaug_cli.config.load import load_config
    from audioaug_cli.io.audio import Excerpt
    from audioaug_cli.preview import default_output_dir, make_preview, source_name

    excerpt = Excerpt(start or 0.0, duration) if start is not None or duration is not None else None
    with exits_on_error("the preview"):
        loaded = load_config(config, seed=seed, copies=copies)
        from audioaug_cli.transforms.registry import NUMBA_NOTICE, numba_cache_empty

        if numba_cache_empty():  # preview draws log-mel spectrograms with librosa, whatever the config
            say(NUMBA_NOTICE.format(what="preview draws with"))
        spans = None
        if segments is not None:
            from audioaug_cli.io.segments import Segments

            table = Segments.read(segments)
            if input_dir is not None:
                named = [source_name(audio_file, input_dir)]
            else:
                named = [n for n in table.times if n == audio_file.name or audio_file.as_posix().endswith("/" + n)]
            spans = table.times.get(named[0], []) if named else []
        made = make_preview(loaded, audio_file, output_dir or default_output_dir(audio_file), excerpt, spans, input_dir)
    for outcome in made.outcomes:
        if outcome.row is not None:
            show(f"{outcome.row.file_name}: {_applied(outcome.row.transforms)}")
    show(f"picture: {made.picture}")


def _applied(transforms: str) -> str:
    import json

    from audioaug_cli.preview import describe

    return describe(json.loads(transforms))


@click.command()
@click.argument("output_dir", type=Location(exists=True, file_okay=False))
@click.argument("file_names", nargs=-1, metavar="[FILE_NAME]...")
@click.option(
    "--input-dir",
    type=Location(exists=True, file_okay=False),
    default=None,
    help="Where the sources are now (a path or a URL). [default: the INPUT_DIR audioaug.json records]",
)
@run_option("jobs")
@run_option("storage_options")
@click.option("-q", "--quiet", is_flag=True, help="Print only the outputs that do not match.")
def replay(
    output_dir: Path | str,
    file_names: tuple[str, ...],
    input_dir: Path | str | None,
    jobs: int | None,
    storage_options: dict[str, Any],
    quiet: bool,
) -> None:
    """Make outputs again from their manifest rows and say whether each matches its file, byte for byte.

    Reads the config and INPUT_DIR recorded in OUTPUT_DIR/audioaug.json, and each output's source,
    copy and seed from the resume state; FILE_NAMEs (as in the manifest's file_name or feature_file
    columns) pick outputs, none means all. Exit code 0 when every one matches, 1 otherwise.

    \b
    Example:
        audioaug replay out/ speech/vowels_16k__aug1.wav
        audioaug replay out/ -j 4 -q
    """
    from audioaug_cli.replay import replay as replay_outputs

    matched = total = 0
    with exits_on_error("the replay"):
        for result in replay_outputs(output_dir, file_names, input_dir, jobs, storage_options):
            total += 1
            matched += result.matches
            if not (quiet and result.matches):
                show(f"{result.outcome}: {result.file_name}")
    say(f"replayed {total}: {matched} match, {total - matched} do not")
    if matched < total:
        sys.exit(Mismatch.exit_code)


@click.command()
@click.argument("output_dir", type=Location(exists=True, file_okay=False))
@click.option(
    "--split-by",
    default=None,
    metavar="COLUMN",
    help="The --labels column that holds each item's split. [default: the config's pools.split_by]",
)
@run_option("storage_options")
def audit(output_dir: Path | str, split_by: str | None, storage_options: dict[str, Any]) -> None:
    """Find drawn files (noise, impulse responses: by content, whatever their names) and sources used
    in more than one split of a finished OUTPUT_DIR.

    Prints one line per file or source shared by two splits. Exit code 1 when there is any, 0 when
    none (a line on stderr says how many files and sources were checked).

    \b
    Example:
        audioaug audit out/
        audioaug audit out/ --split-by subset
    """
    from audioaug_cli.audit import audit as audit_outputs

    with exits_on_error("the audit"):
        found = audit_outputs(output_dir, storage_options, split_by)
        shared = list(found.shared())
    for line in shared:
        show(line)
    say(found.summary(len(shared)))
    if shared:
        sys.exit(Mismatch.exit_code)
