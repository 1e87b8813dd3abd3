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
from .config import FORMATS

TRANSFORM_VALUE = {"$ref": "#/$defs/transform_or_list"}


def config_schema() -> dict[str, Any]:
    names = [*registry.transform_classes(), *registry.COMPOSITIONS]
    defs: dict[str, Any] = {name: _entry_schema(name) for name in names}
    defs["entry"] = {"anyOf": [{"enum": names}, *({"$ref": f"#/$defs/{n}"} for n in names)]}
    defs["transform_or_list"] = {"anyOf": [{"$ref": "#/$defs/entry"},
                                           {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/entry"}}]}
    properties: dict[str, Any] = {
        "version": {"const": 1, "description": "The config format version."},
        "seed": {"type": "integer", "minimum": 0, "default": 0, "description": "The run seed."},
        "copies": {"type": "integer", "minimum": 1, "default": 1,
                   "description": "Augmented variants per input file."},
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


def _entry_schema(name: str) -> dict[str, Any]:
    """``{Name: {params}}``, where the params object may be null (all defaults)."""
    docs = registry.param_docs(name)
    props: dict[str, Any] = {}
    for param in registry.params_of(name).values():
        schema = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/entry"}} \
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
