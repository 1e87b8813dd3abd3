"""`audioaug export`: a finished OUTPUT_DIR as lhotse manifests, a NeMo manifest, a Kaldi data
directory or WebDataset shards."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from audioaug_cli.cli.common import Location, exits_on_error, option, run_option, say
from audioaug_cli.exports import FORMATS, SHARD_SIZE


@click.command()
@click.argument("output_dir", type=Location(exists=True, file_okay=False))
@click.option("--to", "to", type=click.Choice(list(FORMATS)), required=True, help="The toolkit's format.")
@click.argument("dest", type=Location())
@option(
    "--shard-size",
    type=click.IntRange(min=1),
    default=SHARD_SIZE,
    show_default=True,
    help="webdataset: samples per tar shard.",
)
@option(
    "--overwrite",
    is_flag=True,
    help="Replace files in DEST of the names the export writes even when no export wrote them.",
)
@run_option("storage_options")
@option(
    "--progress/--no-progress", default=None, help="Show a progress bar on stderr. [default: when stderr is a terminal]"
)
@option("-q", "--quiet", is_flag=True, help="No progress bar and no summary line; errors only.")
def export(
    output_dir: Path | str,
    to: str,
    dest: Path | str,
    shard_size: int,
    overwrite: bool,
    storage_options: dict[str, Any],
    progress: bool | None,
    quiet: bool,
) -> None:
    """Write what a finished OUTPUT_DIR holds as a toolkit loads it, into the folder DEST (made if
    missing; a URL like OUTPUT_DIR). Read from the manifest and segments.csv; audio is copied only
    into WebDataset's shards. The same OUTPUT_DIR gives the same bytes; rerun after a kill. A file
    in DEST that no export wrote is never replaced or removed (exit 2) unless --overwrite.

    \b
    lhotse      recordings.jsonl.gz, supervisions.jsonl.gz  (lhotse.load_manifest, CutSet.from_manifests)
    nemo        manifest.json                               (NeMo's audio_filepath/duration/text lines)
    kaldi       wav.scp utt2spk spk2utt utt2dur reco2dur utt2uniq [segments text spk2gender utt2lang]
    webdataset  shard-000000.tar, ...                       (webdataset.WebDataset)

    \b
    Example:
        audioaug export out/ --to lhotse out-lhotse/
        audioaug export out/ --to webdataset s3://bucket/shards --shard-size 500
    """
    from audioaug_cli.exports import export as export_to

    show_bar = (sys.stderr.isatty() if progress is None else progress) and not quiet
    bars: list[Any] = []

    def started(total: int) -> Callable[[int], None]:
        if not show_bar:
            return lambda _n: None
        from tqdm import tqdm

        bars.append(tqdm(total=total, unit="output", file=sys.stderr, dynamic_ncols=True, desc=to))
        update: Callable[[int], None] = bars[-1].update
        return update

    options = storage_options
    try:
        with exits_on_error(f"the export into {dest}"):
            done = export_to(output_dir, to, dest, options, shard_size, started, overwrite)
    finally:
        for bar in bars:
            bar.close()
    if not quiet:
        files = ", ".join(done.files[:3]) + (f" and {len(done.files) - 3} more" if len(done.files) > 3 else "")
        shown = _shown(dest)
        say(f"exported {done.outputs} output(s), {done.items} {FORMATS[to].unit} to {shown}: {files}")


def _shown(where: Path | str) -> str:
    from audioaug_cli.io.filesystems import without_credentials

    return without_credentials(str(where))
