"""Checking the ``mix:``, ``stems:`` and ``pools:`` sections: mixtures, the stems written beside
them, and the label columns that keep what is drawn within each split."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

from audioaug_cli.config import entries
from audioaug_cli.config.checks import Checker
from audioaug_cli.config.model import (
    MAX_SPEAKERS,
    REVERB_TARGETS,
    STEMS,
    MixNoise,
    MixSettings,
    Place,
    Pools,
    Reverb,
    Span,
    Speakers,
)
from audioaug_cli.errors import kind, suggest
from audioaug_cli.io.filesystems import is_url

MIX_KEYS = ("level_db", "reverb", "noise", "speakers", "post")
SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # a split value is a folder name in every pool


def span(check: Checker, data: dict[str, Any], here: Place, key: str, default: Span) -> Span:
    """``[low, high]`` in dB (or one number for a fixed value), finite, low ≤ high."""
    value = data.get(key, list(default))
    values = [value, value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if (
        not isinstance(values, list)
        or len(values) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)
    ):
        check.problem((*here, key), f"expected [low, high] in dB (two numbers), found {kind(value)}")
        return default
    if values[0] > values[1]:
        check.problem((*here, key), f"low ({values[0]}) is greater than high ({values[1]})")
        return default
    return float(values[0]), float(values[1])


def probability(check: Checker, data: dict[str, Any], here: Place) -> float:
    p = check.number(data, here, "p", 1.0, minimum=0.0)
    if p > 1:
        check.problem((*here, "p"), f"a probability is at most 1, found {p}")
        return 1.0
    return float(p)


def mix_section(check: Checker, value: Any, stems: Any) -> MixSettings | None:
    """``mix:`` and ``stems:`` (which needs it)."""
    if value is None:
        if stems is not None:
            check.problem(("stems",), "stems are the parts of a mixture: add a mix: section")
        return None
    here: Place = ("mix",)
    if not isinstance(value, dict):
        check.problem(here, f"expected a mapping with {', '.join(MIX_KEYS)}, found {kind(value)}")
        return None
    check.unknown_keys(value, here, MIX_KEYS)
    level = span(check, value, here, "level_db", (-35.0, -15.0))
    if level[1] > 0:
        check.problem((*here, "level_db"), f"a level in dBFS is at most 0, found {level[1]}")
    reverb = _part(check, value, "reverb", ("ir_path", "p", "target"), "ir_path")
    noise = _part(check, value, "noise", ("sounds_path", "snr_db", "p"), "sounds_path")
    speakers = _speakers(check, value.get("speakers"))
    post = entries.node_list(check, value.get("post", []), (*here, "post"))
    settings = MixSettings(
        level_db=level,
        reverb=Reverb(reverb["ir_path"], probability(check, reverb, (*here, "reverb")), _target(check, reverb))
        if reverb
        else None,
        noise=MixNoise(
            noise["sounds_path"],
            span(check, noise, (*here, "noise"), "snr_db", (5.0, 20.0)),
            probability(check, noise, (*here, "noise")),
        )
        if noise
        else None,
        speakers=speakers,
        post=tuple(post),
    )
    return MixSettings(**{**settings.__dict__, "stems": _stems(check, stems, settings)})


def _part(check: Checker, mix: dict[str, Any], key: str, valid: tuple[str, ...], path_key: str) -> dict[str, Any]:
    """``mix.reverb`` / ``mix.noise``: a mapping with a folder to draw from, read now."""
    value = mix.get(key)
    if value is None:
        return {}
    here: Place = ("mix", key)
    if not isinstance(value, dict):
        check.problem(here, f"expected a mapping with {', '.join(valid)}, found {kind(value)}")
        return {}
    check.unknown_keys(value, here, valid)
    folder = value.get(path_key)
    if not isinstance(folder, str) or not folder:
        check.problem((*here, path_key), f"expected the folder to draw from, found {kind(folder)}")
        return {}
    entries.audio_paths(check, folder, (*here, path_key))
    return value


def _target(check: Checker, reverb: dict[str, Any]) -> str:
    return str(check.choice(reverb, ("mix", "reverb"), "target", "early", REVERB_TARGETS))


def _speakers(check: Checker, value: Any) -> Speakers | None:
    if value is None:
        return None
    here: Place = ("mix", "speakers")
    if not isinstance(value, dict):
        check.problem(here, f"expected a mapping with count, sir_db, found {kind(value)}")
        return None
    check.unknown_keys(value, here, ("count", "sir_db"))
    if "count" not in value:
        check.problem(here, "missing count: how many sources each mixture holds (2 or more)")
    count = check.integer(value, here, "count", 2, minimum=2, maximum=MAX_SPEAKERS)
    return Speakers(count, span(check, value, here, "sir_db", (0.0, 0.0)))


def _stems(check: Checker, value: Any, mix: MixSettings) -> tuple[str, ...]:
    """``stems:``: which parts are written; the mixture always (the manifest's file_name)."""
    if value is None:
        return ("mixture", "target")
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        check.problem(("stems",), f"expected a list of {', '.join(STEMS)}, found {kind(value)}")
        return ("mixture", "target")
    for i, stem in enumerate(value):
        if stem not in STEMS:
            hint = suggest(stem, STEMS) or " (expected " + ", ".join(STEMS) + ")"
            check.problem(("stems", i), f"unknown stem {stem!r}{hint}")
        elif value.index(stem) != i:
            check.problem(("stems", i), f"{stem} is listed twice")
    needs = {"noise": (mix.noise, "mix.noise"), "interference": (mix.speakers, "mix.speakers")}
    for stem, (part, section) in needs.items():
        if stem in value and part is None:
            check.problem(("stems", value.index(stem)), f"the {stem} stem needs a {section} section")
    if "mixture" not in value:
        check.problem(("stems",), "mixture must be one of them: the manifest's file_name names it")
    chosen = [s for s in STEMS if s in value]  # in a fixed order: the same folders whatever the list's
    return tuple(chosen) if "mixture" in chosen else ("mixture", *chosen)


def pools_section(check: Checker, value: Any, folders: list[str]) -> Pools | None:
    """``pools: {split_by, speaker_by}``; with split_by, every folder drawn from holds the same
    split subfolders (which splits a run has is said by --labels, checked when it starts)."""
    if value is None:
        return None
    here: Place = ("pools",)
    if not isinstance(value, dict):
        check.problem(here, f"expected a mapping with split_by, speaker_by, found {kind(value)}")
        return None
    check.unknown_keys(value, here, ("split_by", "speaker_by"))
    found: dict[str, str | None] = {}
    for key in ("split_by", "speaker_by"):
        column = value.get(key)
        if column is not None and (not isinstance(column, str) or not column):
            check.problem((*here, key), f"expected a --labels column name, found {kind(column)}")
            column = None
        found[key] = column
    pools = Pools(found["split_by"], found["speaker_by"])
    if pools.split_by is not None:
        _same_splits(check, folders)
    return pools


def split_folders(base_dir: Path, folder: str) -> set[str] | None:
    """The split subfolders of a local pool folder (None for a URL: checked when it is read)."""
    if is_url(folder):
        return None
    path = base_dir / folder
    try:
        return {e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith(".")}
    except OSError:
        return set()


def _same_splits(check: Checker, folders: list[str]) -> None:
    seen: dict[str, set[str]] = {}
    for folder in folders:
        found = split_folders(check.base_dir, folder)
        if found is None:
            continue
        if not found:
            check.problem(
                ("pools", "split_by"), f"{folder} has no split subfolders ({folder}/train/, {folder}/test/, ...)"
            )
        seen[folder] = found
    every = set().union(*seen.values()) if seen else set()
    for folder, found in seen.items():
        for split in sorted(every - found) if found else ():
            check.problem(("pools", "split_by"), f"{folder} has no {split}/ subfolder, which another pool has")
