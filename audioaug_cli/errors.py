"""The few exceptions audioaug raises. The CLI maps each to an exit code."""

from __future__ import annotations

from dataclasses import dataclass


class AudioaugError(Exception):
    """A problem the user can fix. Its message is meant to be shown as it is."""


def location(path: tuple[str | int, ...]) -> str:
    """'pipeline[2].OneOf.transforms[0]' for ('pipeline', 2, 'OneOf', 'transforms', 0)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


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

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        lines = [f"{source}: {p}" for p in problems]
        super().__init__("\n".join(lines))


class UsageError(AudioaugError):
    """The command line or the OUTPUT_DIR does not fit the request (exit 2)."""


class ItemError(AudioaugError):
    """One input could not be augmented. Fails that input only."""


class DiskFullError(AudioaugError):
    """OUTPUT_DIR's filesystem has no room left: the run stops, keeping what finished (exit 1)."""
