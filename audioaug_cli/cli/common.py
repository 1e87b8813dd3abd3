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
from audioaug_cli.errors import AudioaugError, WriteError, scrubbed


def option(*decls: str, **kwargs: Any) -> Callable[[Any], Any]:
    """A click option that also reads AUDIOAUG_<NAME> from the environment (e.g. AUDIOAUG_JOBS)."""
    long = next(d for d in decls if d.startswith("--")).split("/")[0]
    kwargs.setdefault("envvar", "AUDIOAUG_" + long.lstrip("-").replace("-", "_").upper())
    kwargs.setdefault("show_envvar", True)
    return click.option(*decls, **kwargs)


class Location(click.ParamType):  # type: ignore[type-arg]
    """A local path (checked as click.Path checks it) or an fsspec URL (s3://bucket/prefix, ...),
    which is checked when the run opens it."""

    name = "path"

    def __init__(self, exists: bool = False, file_okay: bool = True, dir_okay: bool = True):
        self.as_path = click.Path(exists=exists, file_okay=file_okay, dir_okay=dir_okay, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from audioaug_cli.io.filesystems import is_url

        if isinstance(value, str) and is_url(value):
            return value
        return self.as_path.convert(value, param, ctx)


def run_option(name: str, help: str | None = None) -> Callable[[Any], Any]:
    """The click option of one field of :class:`~audioaug_cli.engine.options.RunOptions`, as that
    field describes it (its flags, kind and help; ``help`` for another command's wording)."""
    from dataclasses import MISSING, fields

    from audioaug_cli.engine.options import Flag, RunOptions

    found = {f.name: f for f in fields(RunOptions)}[name]
    flag: Flag = found.metadata["flag"]
    kwargs: dict[str, Any] = {"help": help or flag.help}
    decls: tuple[str, ...] = flag.names
    if flag.kind == "flag":
        kwargs.update(is_flag=True, default=False)
    elif flag.kind in ("count", "seed", "copies"):
        low, high = {"count": (1, None), "seed": (0, None), "copies": (1, MAX_COPIES)}[flag.kind]
        kwargs.update(type=click.IntRange(min=low, max=high), default=None)
    elif flag.kind == "globs":
        kwargs.update(multiple=True, metavar="GLOB")
    elif flag.kind == "table":
        kwargs.update(type=Location(exists=True, dir_okay=False), default=None)
    elif flag.kind == "choice":
        aliases = dict(flag.aliases)
        kwargs.update(
            type=click.Choice([*flag.choices, *aliases]),
            default=found.default,
            show_default=True,
            callback=lambda _ctx, _param, value: aliases.get(value, value),
        )
    elif flag.kind == "storage":
        decls = (*flag.names, name)
        kwargs.update(
            multiple=True, metavar="KEY=VALUE", envvar=None, callback=lambda _ctx, _param, pairs: storage_options(pairs)
        )
    else:
        kwargs["default"] = None if found.default is MISSING else found.default
    if flag.metavar:
        kwargs["metavar"] = flag.metavar
    if flag.envvar:
        kwargs["envvar"] = list(flag.envvar)
    return option(*decls, **kwargs)


def run_options(command: Any) -> Any:
    """Every option of `audioaug run` that RunOptions defines, in its order."""
    from dataclasses import fields

    from audioaug_cli.engine.options import RunOptions

    for found in reversed(fields(RunOptions)):
        command = run_option(found.name)(command)
    return command


def storage_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """The options, each secret among them kept out of every message."""
    from audioaug_cli.errors import keep_secret
    from audioaug_cli.io.filesystems import parse_storage_options

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


def say(message: str) -> None:
    """A line on stderr (a notice, a warning, a summary), as every message leaves the program: no
    credential in it, and no control character a file name brought (see :func:`scrubbed`)."""
    click.echo(scrubbed(message, one_line=True), err=True)


def show(line: str) -> None:
    """A line of a listing on stdout (one per file): as :func:`say`'s, on one line whatever the name."""
    click.echo(scrubbed(line, one_line=True))


def fail(message: str, code: int) -> NoReturn:
    """Print each line of the message as an error, without any credential, and exit with ``code``."""
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
