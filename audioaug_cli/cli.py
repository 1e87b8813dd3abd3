"""The command line. Each command parses, calls one core function, and maps errors to exit codes:
0 all done, 1 some inputs failed, 2 usage or config error (nothing written), 130 interrupted."""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from . import __version__
from .errors import AudioaugError, ConfigError, UsageError

EXIT_FAILED, EXIT_USAGE = 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
MAX_COPIES = 10_000  # as the config check allows


def option(*decls: str, **kwargs: Any) -> Callable[[Any], Any]:
    """A click option that also reads AUDIOAUG_<NAME> from the environment (e.g. AUDIOAUG_JOBS)."""
    long = next(d for d in decls if d.startswith("--")).split("/")[0]
    kwargs.setdefault("envvar", "AUDIOAUG_" + long.lstrip("-").replace("-", "_").upper())
    kwargs.setdefault("show_envvar", True)
    return click.option(*decls, **kwargs)


_IMPORTED = time.monotonic()


def seconds_since_start() -> float:
    """How long this process has run: from the kernel's record of its start on Linux, so that
    interpreter start-up and imports count; elsewhere from when this module was imported."""
    try:
        with open("/proc/self/stat") as stat, open("/proc/uptime") as uptime:
            started_ticks = int(stat.read().rpartition(")")[2].split()[19])  # field 22, starttime
            return float(uptime.read().split()[0]) - started_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _IMPORTED


def fail(message: str, code: int) -> NoReturn:
    """Print each line of the message as an error and exit with ``code``."""
    for line in message.splitlines() or [""]:
        click.echo(f"error: {line}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="audioaug", message="%(prog)s %(version)s")
def main() -> None:
    """Augment a folder of audio with an audiomentations pipeline written in YAML.

    \b
    Example:
        audioaug run configs/example.yaml sample_data/ out/
    """


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("input_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("output_dir", type=click.Path(path_type=Path))
@option("-j", "--jobs", type=click.IntRange(min=1), default=None,
        help="Worker processes. [default: usable CPUs; 1 runs in-process]")
@option("--seed", type=click.IntRange(min=0), default=None, help="Override the config's seed.")
@option("--copies", type=click.IntRange(min=1, max=MAX_COPIES), default=None,
        help="Override the config's copies per input.")
@option("--overwrite", is_flag=True, help="Start over: delete what audioaug wrote in OUTPUT_DIR before (only that).")
@option("--fail-fast", is_flag=True, help="Stop at the first input that fails.")
@option("--dry-run", is_flag=True, help="Print what would be written, write nothing.")
@option("--include", multiple=True, metavar="GLOB",
        help="Only inputs whose path relative to INPUT_DIR matches (repeatable; * also crosses /).")
@option("--exclude", multiple=True, metavar="GLOB", help="Leave out inputs whose relative path matches (repeatable).")
@option("--include-original", is_flag=True,
        help="Also write each input, converted to the output format, as copy 0 (b__aug0.wav, no transforms).")
@option("--prune", is_flag=True, help="Remove outputs whose input no longer exists in INPUT_DIR.")
@option("--labels", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
        help="CSV with a file_name column (relative to INPUT_DIR); its other columns go into the manifest.")
@option("--backend", type=click.Choice(["loky", "dask"]), default="loky", show_default=True,
        help="Where workers run: processes on this machine, or a dask.distributed cluster "
             "(pip install 'audioaug[dask]').")
@option("--scheduler", metavar="ADDRESS", default=None, envvar=["AUDIOAUG_SCHEDULER", "DASK_SCHEDULER_ADDRESS"],
        help="With --backend dask: an existing scheduler (e.g. tcp://10.0.0.5:8786). [default: start a local "
             "cluster of -j workers]")
@option("--summary-json", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="PATH",
        help="Also write the run's counts, time and exit code as JSON to PATH (for CI).")
@option("--progress/--no-progress", default=None,
        help="Show a progress bar on stderr. [default: when stderr is a terminal]")
@option("-q", "--quiet", is_flag=True, help="No progress bar and no summary line; errors only.")
@option("-v", "--verbose", is_flag=True, help="Print each failure as it happens, and each file the walk ignores.")
def run(config: Path, input_dir: Path, output_dir: Path, jobs: int | None, seed: int | None, copies: int | None,
        overwrite: bool, fail_fast: bool, dry_run: bool, include: tuple[str, ...], exclude: tuple[str, ...],
        include_original: bool, prune: bool, labels: Path | None, backend: str, scheduler: str | None,
        summary_json: Path | None, progress: bool | None, quiet: bool, verbose: bool) -> None:
    """Augment every audio file under INPUT_DIR into OUTPUT_DIR, with a manifest.

    OUTPUT_DIR mirrors INPUT_DIR: in/a/b.flac with 3 copies gives out/a/b__aug1.wav ..
    b__aug3.wav, plus manifest.csv (what was applied to each file), errors.csv (inputs that
    failed, if any) and audioaug.json (provenance). Rerunning the same command resumes.

    \b
    Example:
        audioaug run configs/example.yaml sample_data/ out/ -j 4 --copies 3
    """
    from .progress import ProgressBar
    from .runner import RunOptions
    from .runner import run as run_pipeline

    show_bar = (sys.stderr.isatty() if progress is None else progress) and not quiet and not dry_run
    bar = ProgressBar(show_bar, verbose=verbose, quiet=quiet)
    options = RunOptions(jobs=jobs, seed=seed, copies=copies, include_original=include_original, overwrite=overwrite,
                         fail_fast=fail_fast, dry_run=dry_run, include=include, exclude=exclude, labels=labels,
                         prune=prune, backend=backend, scheduler=scheduler)
    try:
        summary = run_pipeline(config, input_dir, output_dir, options, bar)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    except UsageError as exc:
        fail(str(exc), EXIT_USAGE)
    except AudioaugError as exc:
        fail(str(exc), EXIT_FAILED)
    except OSError as exc:  # OUTPUT_DIR not writable, disk full, ...: what finished is kept
        where = f": {exc.filename}" if exc.filename else ""
        fail(f"cannot write the output: {exc.strerror or exc}{where}", EXIT_FAILED)
    except sqlite3.Error as exc:
        fail(f"cannot keep the resume state in {output_dir / '.audioaug'}: {exc}", EXIT_FAILED)
    except KeyboardInterrupt:  # before the run's own handling began (loading, a cluster starting) or after
        bar.close()
        click.echo("stopped: what finished is kept; rerun the same command to resume", err=True)
        # What was interrupted half made (a dask client or cluster) complains again as the process
        # exits, from __del__ and atexit hooks, with tracebacks that say nothing more: the process
        # is ending, so those reports are dropped.
        sys.unraisablehook = lambda _unraisable: None
        sys.exit(EXIT_INTERRUPTED)
    finally:
        bar.close()
    summary.seconds = max(summary.seconds, seconds_since_start())  # what a user's `time` says
    if summary_json is not None:
        _write_summary(summary_json, summary)
    if dry_run:
        for line in summary.planned:
            click.echo(line)
        if not quiet:
            size = summary.planned_size.describe() if summary.planned_size else ""
            click.echo(f"dry run: {summary.planned_items} to write ({size}), "
                       f"{summary.planned_failures} would fail, {summary.skipped} skipped (already done), "
                       f"{summary.ignored} ignored", err=True)
            _warn_unmatched(summary)
        return
    if not quiet:
        _report(summary, input_dir, output_dir)
    if summary.exit_code:
        sys.exit(summary.exit_code)


def _report(summary: Any, input_dir: Path, output_dir: Path) -> None:
    click.echo(summary.line(), err=True)
    if not summary.inputs and not summary.interrupted:
        from .audio_io import AUDIO_EXTENSIONS

        ignored = (f" ({summary.ignored} file(s) ignored: not audio, or left out by --include/--exclude)"
                   if summary.ignored else "")
        click.echo(f"warning: no audio files in {input_dir}{ignored}; audioaug reads "
                   f"{' '.join(AUDIO_EXTENSIONS)} files, in subfolders too", err=True)
    _warn_unmatched(summary)
    if summary.failed:
        click.echo(f"{summary.failed} input(s) failed: see {output_dir / 'errors.csv'}", err=True)
    if summary.vanished:
        click.echo(f"{summary.vanished} input(s) no longer in INPUT_DIR still have outputs here; "
                   "--prune removes them", err=True)
    if summary.pruned:
        click.echo(f"pruned {summary.pruned} output(s) of inputs no longer in INPUT_DIR", err=True)
    if summary.interrupted:
        click.echo("stopped: what finished is kept; rerun the same command to resume", err=True)


def _warn_unmatched(summary: Any) -> None:
    unmatched = summary.unmatched_labels
    if unmatched:
        click.echo(f"warning: {len(unmatched)} row(s) of --labels name no input found in INPUT_DIR "
                   f"(first: {unmatched[0]}); file_name is relative to INPUT_DIR", err=True)


def _write_summary(path: Path, summary: Any) -> None:
    import json

    from .audio_io import write_text

    text = json.dumps(summary.to_dict(), indent=2) + "\n"
    try:
        write_text(path, lambda handle: print(text, end="", file=handle))
    except OSError as exc:
        fail(f"cannot write --summary-json {path}: {exc.strerror or exc}", EXIT_FAILED)


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("audio_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the variants and the picture go. [default: preview/<file's stem>]")
@option("--copies", type=click.IntRange(min=1, max=MAX_COPIES), default=None,
        help="Variants to make. [default: the config's]")
@option("--seed", type=click.IntRange(min=0), default=None, help="Override the config's seed (as run's --seed).")
@click.option("--start", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="Preview only a part of AUDIO_FILE, from this time. [default: its start]")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Preview only this long a part of AUDIO_FILE. [default: to its end]")
def preview(config: Path, audio_file: Path, output_dir: Path | None, copies: int | None, seed: int | None,
            start: float | None, duration: float | None) -> None:
    """Make a few variants of AUDIO_FILE exactly as `run` would, and a picture of them.

    The picture (<stem>.png) shows the original and each variant as waveform and log-mel
    spectrogram (and the augmented feature, with a spectrogram: section), each titled with the
    transforms applied and the parameters they drew. The variants are the files `run` would write
    for AUDIO_FILE at the top of INPUT_DIR, with the same seeds; with --start/--duration, they
    are of that part of the file only (a quick look at a long recording).

    \b
    Example:
        audioaug preview configs/example.yaml sample_data/speech/vowels_16k.wav --copies 4
        audioaug preview configs/example.yaml long_recording.flac --start 60 --duration 5
    """
    from .audio_io import Excerpt
    from .config import load_config
    from .preview import default_output_dir, make_preview

    excerpt = Excerpt(start or 0.0, duration) if start is not None or duration is not None else None
    try:
        loaded = load_config(config, seed=seed, copies=copies)
        from .registry import NUMBA_NOTICE, numba_cache_empty

        if numba_cache_empty():  # preview draws log-mel spectrograms with librosa, whatever the config
            click.echo(NUMBA_NOTICE.format(what="preview draws with"), err=True)
        made = make_preview(loaded, audio_file, output_dir or default_output_dir(audio_file), excerpt)
    except (ConfigError, UsageError) as exc:
        fail(str(exc), EXIT_USAGE)
    except AudioaugError as exc:
        fail(str(exc), EXIT_FAILED)
    except OSError as exc:
        fail(f"cannot write the preview: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}",
             EXIT_FAILED)
    for outcome in made.outcomes:
        if outcome.row is not None:
            click.echo(f"{outcome.row.file_name}: {_applied(outcome.row.transforms)}")
    click.echo(f"picture: {made.picture}")


def _applied(transforms: str) -> str:
    import json

    from .preview import describe

    return describe(json.loads(transforms))


@main.command()
@click.argument("output_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("file_names", nargs=-1, metavar="[FILE_NAME]...")
@click.option("--input-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Where the sources are now. [default: the INPUT_DIR audioaug.json records]")
@option("-j", "--jobs", type=click.IntRange(min=1), default=None,
        help="Worker processes. [default: usable CPUs; 1 runs in-process]")
@click.option("-q", "--quiet", is_flag=True, help="Print only the outputs that do not match.")
def replay(output_dir: Path, file_names: tuple[str, ...], input_dir: Path | None, jobs: int | None,
           quiet: bool) -> None:
    """Make outputs again from their manifest rows and say whether each matches its file, byte for byte.

    Reads the config and INPUT_DIR recorded in OUTPUT_DIR/audioaug.json, and each output's source,
    copy and seed from the resume state; FILE_NAMEs (as in the manifest's file_name or feature_file
    columns) pick outputs, none means all. Exit code 0 when every one matches, 1 otherwise.

    \b
    Example:
        audioaug replay out/ speech/vowels_16k__aug1.wav
        audioaug replay out/ -j 4 -q
    """
    from .replay import replay as replay_outputs

    matched = total = 0
    try:
        for result in replay_outputs(output_dir, file_names, input_dir, jobs):
            total += 1
            matched += result.matches
            if not (quiet and result.matches):
                click.echo(f"{result.outcome}: {result.file_name}")
    except (ConfigError, UsageError) as exc:
        fail(str(exc), EXIT_USAGE)
    except AudioaugError as exc:
        fail(str(exc), EXIT_FAILED)
    click.echo(f"replayed {total}: {matched} match, {total - matched} do not", err=True)
    if matched < total:
        sys.exit(EXIT_FAILED)


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
def validate(config: Path) -> None:
    """Check CONFIG as `run` would, without touching any audio, and print its pipeline.

    Checks names, types and ranges of every parameter, builds every transform once, checks that
    sounds_path / ir_path exist and hold audio, and that optional backends are installed.
    Exit code 0 when valid, 2 with every problem found otherwise.

    \b
    Example:
        audioaug validate configs/speech_asr.yaml
    """
    from .config import load_config, pipeline_tree

    try:
        loaded = load_config(config)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    rate = f"{loaded.sample_rate} Hz" if loaded.sample_rate else "each file's rate"
    channels = "mono" if loaded.mono else "each file's channels"
    click.echo(f"{config}: valid (version {loaded.version}, seed {loaded.seed}, {loaded.describe_copies()}, "
               f"{rate}, {channels}, "
               f"{loaded.format} {loaded.subtype}, manifest {loaded.manifest})")
    click.echo(pipeline_tree(loaded))


@main.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--markdown", is_flag=True, help="Print every transform's parameters as Markdown (docs/transforms.md).")
def transforms(name: str | None, as_json: bool, markdown: bool) -> None:
    """List the transforms a pipeline can use, or describe NAME's parameters.

    Waveform transforms are read from the installed audiomentations, so they always match what
    `run` uses; the Spec* transforms (audioaug's own) go in the `spectrogram:` section's pipeline.

    \b
    Example:
        audioaug transforms
        audioaug transforms PitchShift
    """
    import json

    from . import registry
    from .errors import suggest

    names = [*registry.transform_classes(), *registry.COMPOSITIONS, *registry.spec_transform_classes()]
    if markdown:
        click.echo(registry.transforms_markdown())
        return
    if name is None:
        if as_json:
            click.echo(json.dumps([{"name": n, "summary": registry.summary(n)} for n in names], indent=2))
            return
        width = max(map(len, names))
        for n in names:
            click.echo(f"{n:<{width}}  {registry.summary(n)}")
        return
    if name not in names:
        hint = suggest(name, names) or " (`audioaug transforms` lists them)"
        reason = f": {registry.REFUSED[name]}" if name in registry.REFUSED else hint
        fail(f"{'not available' if name in registry.REFUSED else 'unknown transform'} {name!r}{reason}", EXIT_USAGE)
    info = registry.describe_transform(name)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"{name}: {info['summary']}")
    click.echo(f"multichannel: {'yes' if info['multichannel'] else 'no (mono only)'}")
    if info["extra"]:
        click.echo(f"needs: {info['extra']}")
    click.echo("parameters:")
    for param in info["params"]:
        default = "required" if param["required"] else f"default {json.dumps(param['default'])}"
        click.echo(f"  {param['name']}: {param['type']}; {default}")
        if param["description"]:
            click.echo(click.wrap_text(param["description"], width=96, initial_indent="      ",
                                       subsequent_indent="      "))


@main.command()
def schema() -> None:
    """Print a JSON Schema of the config, for editor completion and checking.

    \b
    Example:
        audioaug schema > audioaug.schema.json
    """
    import json

    from .schema import config_schema

    click.echo(json.dumps(config_schema(), indent=2))


def entry() -> None:
    """The `audioaug` command. Once a command is done, the objects it made are kept from the
    garbage collector's last pass at interpreter exit, which on the heap that numpy, scipy and
    audiomentations leave behind takes ~75 ms and frees nothing an exiting process needs."""
    import gc

    try:
        code = main.main(standalone_mode=False)
    except click.exceptions.Abort:  # Ctrl-C before the command could take it (click turns it into Abort)
        click.echo("stopped", err=True)
        code = EXIT_INTERRUPTED
    except click.ClickException as exc:  # a usage error: click's own message and exit code
        exc.show()
        code = exc.exit_code
    finally:
        gc.freeze()
    sys.exit(code if isinstance(code, int) else 0)
