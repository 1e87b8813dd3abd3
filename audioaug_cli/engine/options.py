"""The options of a run: :class:`RunOptions`, the one place each of `audioaug run`'s options is
defined (its field, default, flags and help); the command line is built from it
(:func:`audioaug_cli.cli.run.run_options`), and the reference is generated from the command line."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Flag:
    """How an option of `audioaug run` is written on the command line (the CLI builds it from
    this; the reference documents what the CLI builds). ``kind``: flag, count (an integer from 1),
    seed (from 0), copies (1 to MAX_COPIES), globs (repeatable), table (a CSV's path or URL),
    choice, text, storage (repeatable KEY=VALUE pairs)."""

    names: tuple[str, ...]
    kind: str
    help: str
    metavar: str | None = None
    choices: tuple[str, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()  # choice: (old name, the name it stands for)
    envvar: tuple[str, ...] = ()  # besides AUDIOAUG_<NAME>


def _option(default: Any, *names: str, kind: str, help: str, **flag: Any) -> Any:
    value = {"default_factory": default} if callable(default) else {"default": default}
    return field(**value, metadata={"flag": Flag(names, kind, help, **flag)})


@dataclass(frozen=True)
class RunOptions:
    """What `audioaug run` takes besides CONFIG, INPUT_DIR and OUTPUT_DIR: each field is also the
    option of the same name (its flags and help here, once)."""

    jobs: int | None = _option(
        None, "-j", "--jobs", kind="count", help="Worker processes. [default: usable CPUs; 1 runs in-process]"
    )
    seed: int | None = _option(None, "--seed", kind="seed", help="Override the config's seed.")
    copies: int | None = _option(None, "--copies", kind="copies", help="Override the config's copies per input.")
    overwrite: bool = _option(
        False,
        "--overwrite",
        kind="flag",
        help="Start over: delete what audioaug wrote in OUTPUT_DIR before (only that).",
    )
    fail_fast: bool = _option(False, "--fail-fast", kind="flag", help="Stop at the first input that fails.")
    dry_run: bool = _option(False, "--dry-run", kind="flag", help="Print what would be written, write nothing.")
    include: tuple[str, ...] = _option(
        (),
        "--include",
        kind="globs",
        help="Only inputs whose path relative to INPUT_DIR matches (repeatable; * also crosses /).",
    )
    exclude: tuple[str, ...] = _option(
        (), "--exclude", kind="globs", help="Leave out inputs whose relative path matches (repeatable)."
    )
    include_original: bool = _option(
        False,
        "--include-original",
        kind="flag",
        help="Also write each input, converted to the output format, as copy 0 (b__aug0.wav, no transforms).",
    )
    prune: bool = _option(
        False, "--prune", kind="flag", help="Remove outputs whose input no longer exists in INPUT_DIR."
    )
    labels: str | Path | None = _option(
        None,
        "--labels",
        kind="table",
        help="CSV with a file_name column (relative to INPUT_DIR); its other columns go into the manifest.",
    )
    segments: str | Path | None = _option(
        None,
        "--segments",
        kind="table",
        help="CSV of time-aligned segments (file_name, start, end in seconds, any other columns): each output's, "
        "moved as its transforms moved the audio, go to OUTPUT_DIR/segments.csv.",
    )
    backend: str = _option(
        "local",
        "--backend",
        kind="choice",
        choices=("local", "dask"),
        aliases=(("loky", "local"),),
        help="Where workers run: processes on this machine (local; loky, its old name, is the same), or a "
        "dask.distributed cluster (pip install 'audioaug[dask]').",
    )
    scheduler: str | None = _option(
        None,
        "--scheduler",
        kind="text",
        metavar="ADDRESS",
        envvar=("AUDIOAUG_SCHEDULER", "DASK_SCHEDULER_ADDRESS"),
        help="With --backend dask: an existing scheduler (e.g. tcp://10.0.0.5:8786). [default: start a local "
        "cluster of -j workers]",
    )
    storage_options: dict[str, Any] = _option(
        dict,
        "--storage-option",
        kind="storage",
        help="An fsspec storage option for the URLs (repeatable; JSON values allowed), e.g. "
        "endpoint_url=http://localhost:9000 or anon=true. Credentials come from the usual places (AWS_*, ~/.aws).",
    )

    def __repr__(self) -> str:  # (storage options may hold secrets)
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.name != "storage_options")
        return f"RunOptions({shown})"
