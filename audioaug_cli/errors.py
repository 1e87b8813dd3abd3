"""The few exceptions audioaug raises, each with the exit code the command ends with: the only
place exit codes are written (:func:`exit_code_table` is the documentation's table of them)."""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from typing import Any

DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class AudioaugError(Exception):
    """A problem the user can fix. Its message is meant to be shown as it is; ``exit_code`` is the
    command's when it ends with it."""

    exit_code = 1


_USERINFO = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s'\"]*@")
_secrets: set[str] = set()


def keep_secret(value: str) -> None:
    """A value (a storage option's secret) that :func:`scrubbed` takes out of every message."""
    if len(value) >= 4:
        _secrets.add(value)


# Control characters, which a file name may hold (a newline, a terminal's escape sequence): written
# as escapes wherever a message is printed, so that a hostile name can neither forge a line of the
# output nor drive the terminal. A tab is left as it is.
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0)) if c != 0x09} | {
    0x0A: "\\n",
    0x0D: "\\r",
    0x2028: "\\u2028",  # the line and paragraph separators, which str.splitlines() splits at too
    0x2029: "\\u2029",
}
_ESCAPES_BUT_NEWLINES = {c: text for c, text in _ESCAPES.items() if c != 0x0A}


def scrubbed(text: str, one_line: bool = False) -> str:
    """A message as it may leave the program: the ``user:password@`` of every URL in it, and every
    secret given as a storage option, taken out; control characters written as escapes (newlines
    too with ``one_line``: a line about one file, whatever its name)."""
    text = _USERINFO.sub(r"\1", text)
    for secret in _secrets:
        text = text.replace(secret, "***")
    return text.translate(_ESCAPES if one_line else _ESCAPES_BUT_NEWLINES)


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
    """The config is invalid (every problem found is reported, each with its place and line);
    nothing was written."""

    exit_code = 2

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        lines = [f"{source}: {p}" for p in problems]
        super().__init__("\n".join(lines))


class UsageError(AudioaugError):
    """The command line does not fit the request: a bad option or table, an OUTPUT_DIR or DEST it
    cannot write or that holds a file audioaug did not write, another run or export writing
    there, an unsupported audiomentations; nothing was written."""

    exit_code = 2


class ItemError(AudioaugError):
    """One input could not be augmented: it fails alone (errors.csv names it), everything else is
    written, and the run ends with this exit code."""

    exit_code = 1


class MissingInput(ItemError):
    """An input that is not there (deleted during the run, or since)."""


class WriteError(AudioaugError):
    """A file could not be written (OUTPUT_DIR's filesystem, the resume state, --summary-json):
    what finished is kept and recorded, and a rerun does only the rest."""

    exit_code = 1


class DiskFullError(WriteError):
    """OUTPUT_DIR's filesystem has no room left: the run stops, keeping what finished."""


class Interrupted(AudioaugError):
    """Stopped by Ctrl-C (130) or SIGTERM (143, a CI cancel or a scheduler): 128 + the signal.
    What finished is kept, and rerunning the same command resumes."""

    exit_code = 130

    def __init__(self, signum: int = 2):
        super().__init__("stopped")
        self.exit_code = 128 + signum


class Mismatch(AudioaugError):
    """`replay`: some outputs are not the bytes their manifest rows make (each is named); `audit`:
    a drawn file or a source is shared by two splits (each is named)."""

    exit_code = 1


EXIT_CODES = (ItemError, WriteError, Mismatch, UsageError, ConfigError, Interrupted)  # as documented


def exit_code_table() -> str:
    """The documentation's table of exit codes, from the classes above (docs/reference/exit-codes.md)."""
    rows = ["| exit code | when | exception |", "| --- | --- | --- |", "| 0 | everything asked for was done | |"]
    for cls in EXIT_CODES:
        code = "130, 143" if cls is Interrupted else str(cls.exit_code)
        when = " ".join((cls.__doc__ or "").split())
        rows.append(f"| {code} | {when} | `{cls.__name__}` |")
    return (
        "# Exit codes\n\nEvery command ends with one of these (a script can rely on them):\n\n" + "\n".join(rows) + "\n"
    )


def is_disk_full(exc: BaseException) -> bool:
    """An error that says the filesystem (or the user's quota) has no room left: OSError's, or
    sqlite's "database or disk is full"."""
    if isinstance(exc, OSError):
        return exc.errno in DISK_FULL_ERRNOS
    import sqlite3

    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)
