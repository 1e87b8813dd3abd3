"""The few exceptions audioaug raises, each with the exit code the command ends with."""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from typing import Any

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
EXIT_FAILED, EXIT_USAGE = 1, 2  # the command's exit codes: some work failed; nothing could start


class AudioaugError(Exception):
    """A problem the user can fix. Its message is meant to be shown as it is; ``exit_code`` is the
    command's when it ends with it."""

    exit_code = EXIT_FAILED


_USERINFO = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s'\"]*@")
_secrets: set[str] = set()


def keep_secret(value: str) -> None:
    """A value (a storage option's secret) that :func:`scrubbed` takes out of every message."""
    if len(value) >= 4:
        _secrets.add(value)


def scrubbed(text: str) -> str:
    """A message as it may leave the program: the ``user:password@`` of every URL in it, and every
    secret given as a storage option, taken out."""
    text = _USERINFO.sub(r"\1", text)
    for secret in _secrets:
        text = text.replace(secret, "***")
    return text


def location(path: tuple[str | int, ...]) -> str:
    """'pipeline[2].OneOf.transforms[0]' for ('pipeline', 2, 'OneOf', 'transforms', 0)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def suggest(name: str, valid: list[str] | tuple[str, ...]) -> str:
    import difflib  # only for mistakes: not part of every start-up

    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def kind(value: Any) -> str:
    """How a found value is named in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return repr(value)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config: where (path and line) and what."""

    location: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        place = f"{self.location}: " if self.location else ""
        return f"{where}{place}{self.message}"


class ConfigError(AudioaugError):
    """The config is invalid. Carries every problem found, so all are reported at once."""

    exit_code = EXIT_USAGE

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        lines = [f"{source}: {p}" for p in problems]
        super().__init__("\n".join(lines))


class UsageError(AudioaugError):
    """The command line or the OUTPUT_DIR does not fit the request."""

    exit_code = EXIT_USAGE


class ItemError(AudioaugError):
    """One input could not be augmented. Fails that input only."""


class DiskFullError(AudioaugError):
    """OUTPUT_DIR's filesystem has no room left: the run stops, keeping what finished (exit 1)."""


def is_disk_full(exc: BaseException) -> bool:
    """An error that says the filesystem (or the user's quota) has no room left: OSError's, or
    sqlite's "database or disk is full"."""
    if isinstance(exc, OSError):
        return exc.errno in DISK_FULL
    import sqlite3

    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)
