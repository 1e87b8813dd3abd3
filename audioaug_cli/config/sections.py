"""Checking the config document section by section: the top level, ``audio:``, ``output:``, copies
by label and ``spectrogram:``. The pipeline's entries are checked in :mod:`audioaug_cli.config.entries`."""

from __future__ import annotations

import types
import typing
from dataclasses import fields, replace
from typing import Any, Literal

from audioaug_cli.config import entries, mixing
from audioaug_cli.config.checks import Checker
from audioaug_cli.config.model import (
    AUDIO_FORMATS,
    CLIP_MODES,
    DEFAULT_SUBTYPES,
    MAX_COPIES,
    ClassCopies,
    Config,
    DbScale,
    FeatureSettings,
    Place,
    default_of,
)
from audioaug_cli.errors import kind, suggest
from audioaug_cli.io.formats import OPUS_RATES

TOP_KEYS = ("version", "seed", "copies", "audio", "output", "pipeline", "spectrogram", "mix", "stems", "pools")
AUDIO_KEYS = ("sample_rate", "mono")
OUTPUT_KEYS = ("format", "subtype", "manifest", "clip")
SPECTROGRAM_KEYS = tuple(f.name for f in fields(FeatureSettings))
DB_KEYS = tuple(f.name for f in fields(DbScale))


def document(check: Checker, data: Any) -> Config:
    """The whole document -> a Config (with defaults where problems were found)."""
    if not isinstance(data, dict):
        found = "an empty file" if data is None else kind(data)
        check.problem((), f"expected a mapping with version, pipeline, ..., found {found}")
        return Config()
    check.unknown_keys(data, (), TOP_KEYS)
    if "version" not in data:
        check.problem((), "missing 'version: 1' (the config format version)")
    elif data["version"] != 1 or isinstance(data["version"], bool):  # true == 1 in Python, not in YAML
        check.problem(("version",), f"unsupported version {kind(data['version'])}; this audioaug reads version 1")
    seed = check.integer(data, (), "seed", 0, minimum=0)
    copies = (
        class_copies(check, data["copies"])
        if isinstance(data.get("copies"), dict)
        else check.integer(data, (), "copies", 1, minimum=1, maximum=MAX_COPIES)
    )
    audio = section(check, data, "audio", AUDIO_KEYS)
    sample_rate = audio.get("sample_rate")
    if sample_rate is not None:
        sample_rate = check.integer(audio, ("audio",), "sample_rate", None, minimum=1)
    mono = audio.get("mono", False)
    if not isinstance(mono, bool):
        check.problem(("audio", "mono"), f"expected true or false, found {kind(mono)}")
    written = section(check, data, "output", OUTPUT_KEYS)
    fmt, subtype, manifest = output(check, written)
    clip = check.choice(written, ("output",), "clip", "keep", CLIP_MODES)
    if subtype == "OPUS" and sample_rate is not None and sample_rate not in OPUS_RATES:
        check.problem(
            ("audio", "sample_rate"),
            f"Opus (output.subtype) holds only {', '.join(str(r) for r in OPUS_RATES)} Hz audio, found {sample_rate}",
        )
    if "pipeline" not in data:
        check.problem((), "missing 'pipeline' (a list of transforms; [] copies the audio unchanged)")
    pipeline = entries.node_list(check, data.get("pipeline"), ("pipeline",))
    features = spectrogram(check, data.get("spectrogram"))
    mix = mixing.mix_section(check, data.get("mix"), data.get("stems"))
    if mix is not None and features is not None:
        check.problem(("spectrogram",), "features of mixtures are not made yet: a config has mix: or spectrogram:")
    if not check.problems:
        entries.try_construct(check, pipeline, list(features.pipeline) if features else None, mix.post if mix else ())
    config = Config(
        seed=seed,
        copies=copies,
        sample_rate=sample_rate,
        mono=bool(mono),
        format=fmt,
        subtype=subtype,
        manifest=manifest,
        clip=clip,
        pipeline=tuple(pipeline),
        base_dir=str(check.base_dir),
        spectrogram=features,
        mix=mix,
    )
    pools = mixing.pools_section(check, data.get("pools"), config.pool_folders())
    return replace(config, pools=pools) if pools is not None else config


def section(check: Checker, data: dict[str, Any], key: str, valid: tuple[str, ...]) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        check.problem((key,), f"expected a mapping with {', '.join(valid)}, found {kind(value)}")
        return {}
    check.unknown_keys(value, (key,), valid)
    return value


def _subtypes(fmt: str) -> dict[str, str]:
    """What libsndfile writes in this format (imported only for a subtype other than the default)."""
    import soundfile

    return dict(soundfile.available_subtypes(AUDIO_FORMATS[fmt]))


def output(check: Checker, output: dict[str, Any]) -> tuple[str, str, str]:
    fmt = output.get("format", "wav")
    if fmt not in AUDIO_FORMATS:
        check.problem(
            ("output", "format"),
            f"expected one of {', '.join(AUDIO_FORMATS)}, found {kind(fmt)}" + suggest(str(fmt), list(AUDIO_FORMATS)),
        )
        fmt = "wav"
    subtype = output.get("subtype", DEFAULT_SUBTYPES[fmt])
    if subtype != DEFAULT_SUBTYPES[fmt] and (not isinstance(subtype, str) or subtype not in _subtypes(fmt)):
        valid = list(_subtypes(fmt))
        check.problem(
            ("output", "subtype"),
            f"{kind(subtype)} is not a subtype {fmt} files can hold "
            f"(valid: {', '.join(valid)}){suggest(str(subtype), valid)}",
        )
        subtype = DEFAULT_SUBTYPES[fmt]
    manifest = output.get("manifest", "manifest.csv")
    if (
        not isinstance(manifest, str)
        or not manifest.endswith(".csv")
        or "/" in manifest
        or "\\" in manifest
        or manifest.startswith(".")
        or manifest in ("errors.csv",)
    ):
        check.problem(
            ("output", "manifest"), f"expected a file name ending in .csv (e.g. metadata.csv), found {kind(manifest)}"
        )
        manifest = "manifest.csv"
    return fmt, subtype, manifest


def class_copies(check: Checker, value: dict[str, Any]) -> ClassCopies | int:
    """``copies: {by: label, default: 1, values: {siren: 10}}``."""
    here: Place = ("copies",)
    check.unknown_keys(value, here, ("by", "default", "values"))
    by = value.get("by")
    if not isinstance(by, str) or not by:
        check.problem(here, f"copies by label needs 'by:', the --labels column to read, found {kind(by)}")
    default = check.integer(value, here, "default", 1, minimum=0, maximum=MAX_COPIES)
    values = value.get("values", {})
    counts: dict[str, int] = {}
    if not isinstance(values, dict):
        check.problem((*here, "values"), f"expected a mapping of label to copies, found {kind(values)}")
    else:
        for label, count in values.items():
            if isinstance(count, int) and not isinstance(count, bool) and 0 <= count <= MAX_COPIES:
                counts[str(label)] = count
            else:
                check.problem(
                    (*here, "values", str(label)),
                    f"expected copies, an integer from 0 to {MAX_COPIES:,}, found {kind(count)}",
                )
    return ClassCopies(by, default, counts) if isinstance(by, str) and by else 1


def spectrogram(check: Checker, value: Any) -> FeatureSettings | None:
    """The ``spectrogram:`` section, or None when the config has none."""
    if value is None:
        return None
    here: Place = ("spectrogram",)
    if not isinstance(value, dict):
        check.problem(here, f"expected a mapping of spectrogram settings, found {kind(value)}")
        return None
    found = settings(check, value, here, FeatureSettings)
    n_fft, win, fmin, fmax = found["n_fft"], found["win_length"], found["fmin"], found["fmax"]
    if isinstance(win, int) and win > n_fft:
        check.problem((*here, "win_length"), f"must be at most n_fft ({n_fft}), found {win}")
    if fmax is not None and fmax <= fmin:
        check.problem((*here, "fmax"), f"must be greater than fmin ({fmin}), found {fmax}")
    return FeatureSettings(**found)


def settings(check: Checker, value: dict[str, Any], here: Place, record: type[Any]) -> dict[str, Any]:
    """Each field of a settings record (FeatureSettings, DbScale) checked by its type and limits."""
    check.unknown_keys(value, here, tuple(f.name for f in fields(record)))
    hints = typing.get_type_hints(record)
    found: dict[str, Any] = {}
    for f in fields(record):
        key, annotation, limits = f.name, hints[f.name], f.metadata
        default = default_of(f)
        members = (
            typing.get_args(annotation)
            if typing.get_origin(annotation) in (typing.Union, types.UnionType)
            else (annotation,)
        )
        nullable = type(None) in members
        kinds = [m for m in members if m is not type(None)]
        given = value.get(key, default)
        if nullable and given is None:
            found[key] = None
        elif key == "pipeline":
            found[key] = tuple(entries.node_list(check, value.get(key), (*here, key), spec=True))
        elif key == "window":
            found[key] = window(check, given, (*here, key))
        elif kinds == [DbScale]:
            found[key] = db_scale(check, given, (*here, key))
        elif kinds == [bool] or typing.get_origin(kinds[0]) is Literal:
            choices = (True, False) if kinds == [bool] else typing.get_args(kinds[0])
            found[key] = check.choice(value, here, key, default, (*choices, *((None,) if nullable else ())))
        elif kinds == [int]:
            found[key] = check.integer(value, here, key, default, minimum=int(limits["minimum"]))
        else:
            found[key] = check.number(value, here, key, default, minimum=limits["minimum"], above=limits["above"])
    return found


def db_scale(check: Checker, value: Any, here: Place) -> DbScale:
    if isinstance(value, DbScale):  # absent: the default
        return value
    if not isinstance(value, dict):
        check.problem(
            here, f"expected a mapping with {', '.join(DB_KEYS)}, or null for linear values, found {kind(value)}"
        )
        return DbScale()
    return DbScale(**settings(check, value, here, DbScale))


def window(check: Checker, value: Any, here: Place) -> str:
    from scipy.signal import get_window

    try:
        if not isinstance(value, str):
            raise ValueError
        get_window(value, 16)
    except (ValueError, TypeError):
        check.problem(
            here,
            f"expected a window name that scipy.signal.get_window knows (hann, hamming, "
            f"blackman, boxcar, ...), found {kind(value)}",
        )
        return "hann"
    return value
