"""What each transform's parameters can be: the values with which it runs, checked before any work.

audiomentations checks some parameters in its constructors and leaves the rest to fail, or to
write NaN, or to ask for petabytes, on the first item. Every number here must be finite, and a
parameter named for what it measures stays in the range where that measure means something:

| parameter (by name)                      | range                                  |
| ---------------------------------------- | -------------------------------------- |
| any number                               | finite (not NaN, not infinite)         |
| ``*_freq`` (cutoffs, centre frequencies)  | 1 Hz to 96,000 Hz                      |
| ``*_db`` and ``*_db_*`` (gains, SNRs, ...)| -120 dB to 120 dB                      |
| ``*_lufs``                               | -70 to 0 LUFS                          |
| ``*_amplitude``                          | at least 0                             |
| ``*_sample_rate``                        | 1,000 Hz to 192,000 Hz                 |
| durations in seconds (``*_duration``, ``*_time``, ``*_time_between_sounds``) | 0 s to 3,600 s |
| ``*_q`` (filter Q)                       | above 0, at most 100                   |

plus the few below that only one transform has. A cutoff above an input's Nyquist frequency
cannot be checked here (the input's rate is not known yet): see docs/guide/config.md.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, TypeGuard

MAX_SECONDS = 3600.0  # an hour: the longest duration a transform parameter may ask for
MAX_SAMPLES = int(MAX_SECONDS * 192_000)


@dataclass(frozen=True)
class Limit:
    low: float
    high: float
    low_open: bool = False  # the low end itself is excluded
    high_open: bool = False
    unit: str = ""

    def admits(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def describe(self) -> str:
        low = f"{'above' if self.low_open else 'at least'} {_number(self.low)}{self.unit}"
        if math.isinf(self.high):
            return f"must be {low}"
        high = f"{'below' if self.high_open else 'at most'} {_number(self.high)}{self.unit}"
        return f"must be {low} and {high}"


SECONDS = Limit(0.0, MAX_SECONDS, unit=" s")
_BY_NAME: tuple[tuple[re.Pattern[str], Limit], ...] = tuple(
    (re.compile(pattern), limit)
    for pattern, limit in (
        (r"_freq$", Limit(1.0, 96_000.0, unit=" Hz")),
        (r"_db$|_db_", Limit(-120.0, 120.0, unit=" dB")),
        (r"_lufs$", Limit(-70.0, 0.0, unit=" LUFS")),
        (r"amplitude$", Limit(0.0, math.inf)),
        (r"_sample_rate$", Limit(1000.0, 192_000.0, unit=" Hz")),
        (r"(^|_)(fade|crossfade|part)_duration$|_time$|_time_between_sounds$", SECONDS),
        (r"_q$", Limit(0.0, 100.0, low_open=True)),
    )
)

# Parameters of one transform: (transform, parameter) -> limit.
_BY_TRANSFORM: dict[tuple[str, str], Limit] = {
    ("Trim", "top_db"): Limit(0.0, 120.0, low_open=True, unit=" dB"),
    ("AdjustDuration", "duration_seconds"): Limit(0.001, MAX_SECONDS, unit=" s"),
    ("AdjustDuration", "duration_samples"): Limit(1, MAX_SAMPLES),
    ("AddColorNoise", "n_fft"): Limit(2, 65_536),
    ("AddColorNoise", "min_f_decay"): Limit(-24.0, 24.0, unit=" dB/octave"),
    ("AddColorNoise", "max_f_decay"): Limit(-24.0, 24.0, unit=" dB/octave"),
    ("Limiter", "min_attack"): Limit(0.0, 10.0, unit=" s"),
    ("Limiter", "max_attack"): Limit(0.0, 10.0, unit=" s"),
    ("Limiter", "min_release"): Limit(0.0, 10.0, unit=" s"),
    ("Limiter", "max_release"): Limit(0.0, 10.0, unit=" s"),
    ("Mp3Compression", "quality"): Limit(0, 9),
    ("RoomSimulator", "min_mic_distance"): Limit(0.01, 100.0, unit=" m"),
    ("RoomSimulator", "max_mic_distance"): Limit(0.01, 100.0, unit=" m"),
    ("RoomSimulator", "max_order"): Limit(0, 10),
    ("RoomSimulator", "padding"): Limit(0.01, 10.0, unit=" m"),
    **{
        ("RoomSimulator", f"{end}_size_{axis}"): Limit(1.0, 50.0, unit=" m") for end in ("min", "max") for axis in "xyz"
    },
    **{
        ("RoomSimulator", f"{end}_source_{axis}"): Limit(0.0, 50.0, unit=" m")
        for end in ("min", "max")
        for axis in "xyz"
    },
    **{("RoomSimulator", f"{end}_absorption_value"): Limit(0.0, 1.0, low_open=True) for end in ("min", "max")},
    **{("RoomSimulator", f"{end}_target_rt60"): Limit(0.0, 10.0, low_open=True, unit=" s") for end in ("min", "max")},
}

# Parameters whose range depends on the unit another parameter names.
_BY_UNIT: dict[tuple[str, str], tuple[str, dict[str, Limit]]] = {
    **{
        ("Shift", key): (
            "shift_unit",
            {
                "fraction": Limit(-1.0, 1.0, low_open=True, high_open=True),
                "seconds": Limit(-MAX_SECONDS, MAX_SECONDS, unit=" s"),
                "samples": Limit(-MAX_SAMPLES, MAX_SAMPLES),
            },
        )
        for key in ("min_shift", "max_shift")
    },
    **{
        ("GainTransition", key): (
            "duration_unit",
            {"fraction": Limit(0.0, 1.0), "seconds": SECONDS, "samples": Limit(0, MAX_SAMPLES)},
        )
        for key in ("min_duration", "max_duration")
    },
}


def value_problem(transform: str, key: str, value: Any, params: dict[str, Any], defaults: dict[str, Any]) -> str | None:
    """Why ``value`` cannot be ``transform``'s ``key`` (``params`` the entry's, ``defaults`` the
    signature's, for units and neighbours), or None."""
    numbers = list(_numbers(value))
    if any(not math.isfinite(n) for n in numbers):
        return f"must be a finite number, found {_shown(value)}"
    limit = limit_of(transform, key, {**defaults, **params})
    if limit is not None:
        for number in numbers:
            if not limit.admits(number):
                return f"{limit.describe()}, found {_number(number)}"
    return None


def relation_problems(transform: str, params: dict[str, Any], defaults: dict[str, Any]) -> list[tuple[str, str]]:
    """(parameter, problem) for values that each pass but do not fit together."""
    found = []
    if transform == "RoomSimulator":
        merged = {**defaults, **params}
        padding = merged.get("padding")
        for axis in "xyz":
            low, high, size = (merged.get(f"{k}_{axis}") for k in ("min_source", "max_source", "min_size"))
            if not (_is_number(low) and _is_number(high) and _is_number(size) and _is_number(padding)):
                continue
            # audiomentations draws the source between these, in every room it may draw
            if max(low, padding) > min(high, size - padding):
                key = next(
                    (
                        k
                        for k in (f"max_source_{axis}", f"min_source_{axis}", f"min_size_{axis}", "padding")
                        if k in params
                    ),
                    "padding",
                )
                found.append(
                    (
                        key,
                        f"the source cannot be placed inside every room: with padding {_number(padding)} "
                        f"m, min_source_{axis} ({_number(low)}) to max_source_{axis} ({_number(high)}) must "
                        f"overlap padding to min_size_{axis} ({_number(size)}) minus padding",
                    )
                )
    return found


def limit_of(transform: str, key: str, merged: dict[str, Any]) -> Limit | None:
    if (transform, key) in _BY_TRANSFORM:
        return _BY_TRANSFORM[(transform, key)]
    if (transform, key) in _BY_UNIT:
        unit_key, limits = _BY_UNIT[(transform, key)]
        return limits.get(str(merged.get(unit_key)))
    for pattern, limit in _BY_NAME:
        if pattern.search(key):
            return limit
    return None


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers(value: Any) -> list[float]:
    if _is_number(value):
        return [value]
    if isinstance(value, (list, tuple)):
        return [n for v in value for n in _numbers(v)]
    return []


def _shown(value: Any) -> str:
    if _is_number(value):
        return _number(value)
    return "[" + ", ".join(_shown(v) for v in value) + "]" if isinstance(value, (list, tuple)) else repr(value)


def _number(value: float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"
