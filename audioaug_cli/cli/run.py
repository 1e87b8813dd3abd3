"""`audioaug run`: the options, one call of :func:`audioaug_cli.engine.run.run`, and the report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from audioaug_cli.cli.common import Location, exits_on_error, fail, option, run_options, say, seconds_since_start, show
from audioaug_cli.errors import Interrupted, WriteError


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("input_dir", type=Location(exists=True, file_okay=False))
@click.argument("output_dir", type=Location())
@run_options
@option(
    "--summary-json",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="PATH",
    help="Also write the run's counts, time and exit code as JSON to PATH (for CI).",
)
@option(
    "--progress/--no-progress", default=None, help="Show a progress bar on stderr. [default: when stderr is a terminal]"
)
@option("-q", "--quiet", is_flag=True, help="No progress bar and no summary line; errors only.")
@option("-v", "--verbose", is_flag=True, help="Print each failure as it happens, and each file the walk ignores.")
def run(
    config: Path,
    input_dir: Path | str,
    output_dir: Path | str,
    summary_json: Path | None,
    progress: bool | None,
    quiet: bool,
    verbose: bool,
    **given: Any,
) -> None:
    """Augment every audio file under INPUT_DIR into OUTPUT_DIR, with a manifest.

    OUTPUT_DIR mirrors INPUT_DIR: in/a/b.flac with 3 copies gives out/a/b__aug1.wav ..
    b__aug3.wav, plus manifest.csv (what was applied to each file), errors.csv (inputs that
    failed, if any) and audioaug.json (provenance). Rerunning the same command resumes.
    Either folder may be a URL: s3://bucket/prefix (pip install 'audioaug[s3]'), gs://, az://.

    \b
    Example:
        audioaug run configs/example.yaml sample_data/ out/ -j 4 --copies 3
        audioaug run configs/example.yaml s3://corpus/raw s3://corpus/augmented --backend dask
    """
    from audioaug_cli.cli.progress import ProgressBar
    from audioaug_cli.engine.options import RunOptions
    from audioaug_cli.engine.run import run as run_pipeline

    options = RunOptions(**given)  # every option RunOptions defines, as the command line gave it
    dry_run = options.dry_run
    show_bar = (sys.stderr.isatty() if progress is None else progress) and not quiet and not dry_run
    bar = ProgressBar(show_bar, verbose=verbose, quiet=quiet)
    try:
        with exits_on_error("the output", Path(output_dir) / ".audioaug"):
            summary = run_pipeline(config, input_dir, output_dir, options, bar)
    except KeyboardInterrupt:  # before the run's own handling began (loading, a cluster starting) or after
        bar.close()
        say("stopped: what finished is kept; rerun the same command to resume")
        # What was interrupted half made (a dask client or cluster) complains again as the process
        # exits, from __del__ and atexit hooks, with tracebacks that say nothing more: the process
        # is ending, so those reports are dropped.
        sys.unraisablehook = lambda _unraisable: None
        sys.exit(Interrupted.exit_code)
    finally:
        bar.close()
    summary.seconds = max(summary.seconds, seconds_since_start())  # what a user's `time` says
    if summary_json is not None:
        _write_summary(summary_json, summary)
    if dry_run:
        for line in summary.planned:
            show(line)
        if not quiet:
            size = summary.planned_size.describe() if summary.planned_size else ""
            say(
                f"dry run: {summary.planned_items} to write ({size}), "
                f"{summary.planned_failures} would fail, {summary.skipped} skipped (already done), "
                f"{summary.ignored} ignored"
            )
            _warn_unmatched(summary)
        return
    if not quiet:
        _report(summary, input_dir, output_dir)
    if summary.exit_code:
        sys.exit(summary.exit_code)


def _report(summary: Any, input_dir: Path | str, output_dir: Path | str) -> None:
    say(summary.line())
    if not summary.inputs and not summary.interrupted:
        from audioaug_cli.io.formats import AUDIO_EXTENSIONS

        ignored = (
            f" ({summary.ignored} file(s) ignored: not audio, or left out by --include/--exclude)"
            if summary.ignored
            else ""
        )
        say(
            f"warning: no audio files in {_shown(input_dir)}{ignored}; audioaug reads "
            f"{' '.join(AUDIO_EXTENSIONS)} files, in subfolders too"
        )
    _warn_unmatched(summary)
    if summary.clipped:
        say(
            f"warning: {summary.clipped} output(s) clipped: their manifest rows say by how much (peak_db, clipped); "
            "output.clip: normalize scales such items down instead"
        )
    if summary.failed:
        say(f"{summary.failed} input(s) failed: see {_shown(output_dir)}/errors.csv")
    if summary.vanished:
        say(f"{summary.vanished} input(s) no longer in INPUT_DIR still have outputs here; --prune removes them")
    if summary.pruned:
        say(f"pruned {summary.pruned} output(s) of inputs no longer in INPUT_DIR")
    if summary.interrupted:
        say("stopped: what finished is kept; rerun the same command to resume")


def _shown(where: Path | str) -> str:
    from audioaug_cli.io.filesystems import without_credentials

    return without_credentials(str(where)).rstrip("/") if isinstance(where, str) else str(where)


def _warn_unmatched(summary: Any) -> None:
    for flag, unmatched, rows in (
        ("--labels", summary.unmatched_labels, len(summary.unmatched_labels)),
        ("--segments", summary.unmatched_segments, summary.unmatched_segment_rows),
    ):
        if unmatched:
            say(
                f"warning: {rows} row(s) of {flag} name no input found in INPUT_DIR "
                f"(first: {unmatched[0]}); file_name is relative to INPUT_DIR"
            )


def _write_summary(path: Path, summary: Any) -> None:
    import json

    from audioaug_cli.io.atomic import write_text

    text = json.dumps(summary.to_dict(), indent=2) + "\n"
    try:
        write_text(path, lambda handle: print(text, end="", file=handle))
    except OSError as exc:
        fail(f"cannot write --summary-json {path}: {exc.strerror or exc}", WriteError.exit_code)
