"""A JSON Schema of the config, generated from the transform registry, for editors.

VS Code (YAML extension): put ``# yaml-language-server: $schema=audioaug.schema.json`` on the first
line of a config, or map it in settings (see README).
"""

from __future__ import annotations

import collections.abc
import inspect
import pathlib
import types
import typing
from typing import Any, Literal, Union

import numpy as np

from . import registry
from .config import FORMATS, MAX_COPIES
from .features import LAYOUTS, PAD_MODES

TRANSFORM_VALUE = {"$ref": "#/$defs/transform_or_list"}


def config_schema() -> dict[str, Any]:
    names = [*registry.transform_classes(), *registry.COMPOSITIONS]
    spec_names = list(registry.spec_transform_classes())
    defs: dict[str, Any] = {name: _entry_schema(name) for name in names}
    defs["entry"] = {"anyOf": [{"enum": names}, *({"$ref": f"#/$defs/{n}"} for n in names)]}
    for name in spec_names:
        defs[name] = _entry_schema(name)
    for name in registry.COMPOSITIONS:  # the same compositions, over spectrogram transforms
        defs[f"spec_{name}"] = _entry_schema(name, entry="spec_entry")
    spec_entries = [*spec_names, *registry.COMPOSITIONS]
    defs["spec_entry"] = {"anyOf": [{"enum": spec_entries}, *({"$ref": f"#/$defs/{n}"} for n in spec_names),
                                    *({"$ref": f"#/$defs/spec_{n}"} for n in registry.COMPOSITIONS)]}
    defs["transform_or_list"] = {"anyOf": [{"$ref": "#/$defs/entry"},
                                           {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/entry"}}]}
    properties: dict[str, Any] = {
        "version": {"const": 1, "description": "The config format version."},
        "seed": {"type": "integer", "minimum": 0, "default": 0, "description": "The run seed."},
        "copies": {"anyOf": [
            {"type": "integer", "minimum": 1, "maximum": MAX_COPIES},
            {"type": "object", "additionalProperties": False, "required": ["by"], "properties": {
                "by": {"type": "string", "minLength": 1, "description": "The --labels column to read."},
                "default": {"type": "integer", "minimum": 0, "maximum": MAX_COPIES, "default": 1,
                            "description": "Copies for an input with no label row, or a value not listed."},
                "values": {"type": "object", "additionalProperties": {
                    "type": "integer", "minimum": 0, "maximum": MAX_COPIES}},
            }}],
            "default": 1,
            "description": "Augmented variants per input file, or per label: {by: COLUMN, default: N, "
                           "values: {label: N}}."},
        "audio": {"type": ["object", "null"], "additionalProperties": False, "properties": {
            "sample_rate": {"type": ["integer", "null"], "minimum": 1,
                            "description": "null keeps each file's rate; an integer resamples on load."},
            "mono": {"type": "boolean", "default": False, "description": "Mix down to mono on load."},
        }},
        "output": {"type": ["object", "null"], "additionalProperties": False, "properties": {
            "format": {"enum": list(FORMATS), "default": "wav"},
            "subtype": {"type": "string", "description": "A soundfile subtype valid for the format, e.g. PCM_16."},
            "manifest": {"type": "string", "pattern": r"^[^/\\.][^/\\]*\.csv$", "default": "manifest.csv"},
        }},
        "pipeline": {"type": ["array", "null"], "items": {"$ref": "#/$defs/entry"},
                     "description": "The transforms, applied in order (a Compose)."},
        "spectrogram": _spectrogram_schema(),
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "audioaug config",
        "type": "object",
        "required": ["version", "pipeline"],
        "additionalProperties": False,
        "properties": properties,
        "$defs": defs,
    }


def _spectrogram_schema() -> dict[str, Any]:
    nullable_int = {"type": ["integer", "null"], "minimum": 1}
    number = {"type": "number", "minimum": 0}
    return {"type": ["object", "null"], "additionalProperties": False,
            "description": "Also write a float32 .npy feature per output: log-mel (or STFT) with SpecAugment.",
            "properties": {
                "n_fft": {"type": "integer", "minimum": 2, "default": 1024},
                "hop_length": {**nullable_int, "description": "null: n_fft // 4"},
                "win_length": {**nullable_int, "description": "null: n_fft"},
                "window": {"type": "string", "default": "hann"},
                "center": {"type": "boolean", "default": False},
                "n_mels": {**nullable_int, "default": 256, "description": "null: the STFT itself, no mel projection"},
                "fmin": {**number, "default": 0.0},
                "fmax": {"type": ["number", "null"], "minimum": 0, "description": "null: sample_rate / 2"},
                "htk": {"type": "boolean", "default": False},
                "norm": {"enum": ["slaney", None], "default": "slaney"},
                "pad_mode": {"enum": list(PAD_MODES), "default": "constant"},
                "power": {"type": "number", "exclusiveMinimum": 0, "default": 1.0},
                "db": {"type": ["object", "null"], "additionalProperties": False,
                       "description": "librosa.power_to_db's arguments; null: linear values",
                       "properties": {"ref": {"type": "number", "exclusiveMinimum": 0, "default": 1.0},
                                      "amin": {"type": "number", "exclusiveMinimum": 0, "default": 1e-5},
                                      "top_db": {"type": ["number", "null"], "minimum": 0, "default": 80.0}}},
                "layout": {"enum": list(LAYOUTS), "default": "channels_first"},
                "write_audio": {"type": "boolean", "default": True},
                "pipeline": {"type": ["array", "null"], "items": {"$ref": "#/$defs/spec_entry"},
                             "description": "Spectrogram transforms, applied in order (a Compose)."},
            }}


def _entry_schema(name: str, entry: str = "entry") -> dict[str, Any]:
    """``{Name: {params}}``, where the params object may be null (all defaults)."""
    docs = registry.param_docs(name)
    props: dict[str, Any] = {}
    for param in registry.params_of(name).values():
        schema = {"type": "array", "minItems": 1, "items": {"$ref": f"#/$defs/{entry}"}} \
            if param.name == "transforms" else _annotation_schema(param.annotation)
        if param.name == "p":
            schema = {"type": "number", "minimum": 0, "maximum": 1}
        if not param.required and registry.default_repr(param.default) == param.default:
            schema["default"] = param.default
        if docs.get(param.name):
            schema["description"] = docs[param.name]
        props[param.name] = schema
    required = [p.name for p in registry.params_of(name).values() if p.required]
    body: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        body["required"] = required
    else:
        body = {"anyOf": [body, {"type": "null"}]}
    return {"type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
            "properties": {name: body}, "required": [name], "description": registry.summary(name)}


def _annotation_schema(annotation: Any) -> dict[str, Any]:
    if annotation is inspect.Parameter.empty or annotation is Any:
        return {}
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return {"anyOf": [_annotation_schema(a) for a in typing.get_args(annotation)]}
    if annotation is type(None):
        return {"type": "null"}
    simple = {bool: "boolean", int: "integer", float: "number", str: "string", pathlib.Path: "string",
              dict: "object"}
    if annotation in simple:
        return {"type": simple[annotation]}
    if origin is Literal:
        return {"enum": list(typing.get_args(annotation))}
    if origin is tuple:
        items = [_annotation_schema(a) for a in typing.get_args(annotation)]
        return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}
    if registry.takes_transform(annotation):
        return dict(TRANSFORM_VALUE)
    if origin in (list, collections.abc.Sequence) or annotation in (list, tuple):
        args = typing.get_args(annotation)
        return {"type": "array", "items": _annotation_schema(args[0])} if args else {"type": "array"}
    if annotation is np.ndarray or origin is np.ndarray:
        return {"type": "array", "items": {"type": "number"}}
    if origin is dict:
        return {"type": "object"}
    return {}
