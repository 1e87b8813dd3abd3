"""What every command shares: options that read AUDIOAUG_* variables, and the one error handler
that turns the core's exceptions into a message on stderr and the exception's exit code."""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from audioaug_cli.config.model import MAX_COPIES
from audioaug_cli.errors import AudioaugError, WriteError


def option(*decls: str, **kwargs: Any) -> Callable[[Any], Any]:
    """A click option that also reads AUDIOAUG_<NAME> from the environment (e.g. AUDIOAUG_JOBS)."""
    long = next(d for d in decls if d.startswith("--")).split("/")[0]
    kwargs.setdefault("envvar", "AUDIOAUG_" + long.lstrip("-").replace("-", "_").upper())
    kwargs.setdefault("show_envvar", True)
    return click.option(*decls, **kwargs)


jobs_option = option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes. [default: usable CPUs; 1 runs in-process]",
)


def seed_option(help: str) -> Callable[[Any], Any]:
    return option("--seed", type=click.IntRange(min=0), default=None, help=help)


def copies_option(help: str) -> Callable[[Any], Any]:
    return option("--copies", type=click.IntRange(min=1, max=MAX_COPIES), default=None, help=help)


class Location(click.ParamType):  # type: ignore[type-arg]
    """A local path (checked as click.Path checks it) or an fsspec URL (s3://bucket/prefix, ...),
    which is checked when the run opens it."""

    name = "path"

    def __init__(self, exists: bool = False, file_okay: bool = True, dir_okay: bool = True):
        self.as_path = click.Path(exists=exists, file_okay=file_okay, dir_okay=dir_okay, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from audioaug_cli.io.store import is_url

        if isinstance(value, str) and is_url(value):
            return value
        return self.as_path.convert(value, param, ctx)


storage_option = option(
    "--storage-option",
    "storage_options",
    multiple=True,
    metavar="KEY=VALUE",
    envvar=None,
    help="An fsspec storage option for the URLs (repeatable; JSON values allowed), e.g. "
    "endpoint_url=http://localhost:9000 or anon=true. Credentials come from the usual places (AWS_*, ~/.aws).",
)


def storage_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """The options, each secret among them kept out of every message."""
    from audioaug_cli.errors import keep_secret
    from audioaug_cli.io.store import parse_storage_options

    try:
        options = parse_storage_options(pairs)
    except AudioaugError as exc:
        fail(str(exc), exc.exit_code)
    for key, value in _flattened(options):
        if any(word in key.lower() for word in ("key", "secret", "token", "password", "credential", "sas")):
            keep_secret(str(value))
    return options


def _flattened(options: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, value in options.items():
        if isinstance(value, dict):
            yield from _flattened(value)
        elif isinstance(value, str):
            yield key, value


def fail(message: str, code: int) -> NoReturn:
    """Print each line of the message as an error, without any credential, and exit with ``code``."""
    from audioaug_cli.errors import scrubbed

    for line in scrubbed(message).splitlines() or [""]:
        click.echo(f"error: {line}", err=True)
    sys.exit(code)


@contextmanager
def exits_on_error(writing: str = "the output", state_dir: Path | None = None) -> Iterator[None]:
    """The one error handler: an :class:`AudioaugError` is its message and its ``exit_code`` (2 for
    config and usage errors, 1 otherwise); an OSError while ``writing`` and a broken resume state
    in ``state_dir`` are exit 1 with one line. Never a traceback."""
    try:
        yield
    except AudioaugError as exc:
        fail(str(exc), exc.exit_code)
    except OSError as exc:  # OUTPUT_DIR not writable, disk full, ...: what finished is kept
        where = f": {exc.filename}" if exc.filename else ""
        fail(f"cannot write {writing}: {exc.strerror or exc}{where}", WriteError.exit_code)
    except sqlite3.Error as exc:
        fail(f"cannot keep the resume state in {state_dir}: {exc}", WriteError.exit_code)


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
