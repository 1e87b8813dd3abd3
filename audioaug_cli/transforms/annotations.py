"""What a transform's parameter annotation accepts, read once into a :class:`Shape`: the config
check (:func:`accepts`), the messages (:func:`describe`) and the JSON Schema (:func:`schema`) all
walk that one reading, so they cannot disagree."""

from __future__ import annotations

import collections.abc
import inspect
import pathlib
import sys
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, Union

TRANSFORM_SCHEMA = {"$ref": "#/$defs/transform_or_list"}
_SIMPLE = {
    bool: "bool",
    int: "int",
    float: "number",
    str: "string",
    pathlib.Path: "path",
    dict: "mapping",
    type(None): "null",
}
_NAMES = {
    "bool": "true or false",
    "int": "an integer",
    "number": "a number",
    "string": "a string",
    "path": "a path",
    "mapping": "a mapping",
    "null": "null",
    "any": "any value",
    "transform": "a transform",
    "numbers": "a list of numbers",
}
_TYPES = {
    "bool": "boolean",
    "int": "integer",
    "number": "number",
    "string": "string",
    "path": "string",
    "mapping": "object",
    "null": "null",
}
_PLURAL = {"a number": "numbers", "an integer": "integers", "a string": "strings", "a path": "paths"}


@dataclass(frozen=True)
class Shape:
    """An annotation as the config sees it. ``kind`` is one of: any, null, bool, int, number, string,
    path, mapping, enum (``values``), tuple and union (``parts``), list (``parts``: the item, or
    none), transform (a callable: a parameter taking a transform), numbers (an array) or other
    (``values``: its name), which accepts anything."""

    kind: str
    parts: tuple[Shape, ...] = ()
    values: tuple[Any, ...] = ()


def shape_of(annotation: Any) -> Shape:
    if annotation is inspect.Parameter.empty or annotation is Any:
        return Shape("any")
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return Shape("union", tuple(shape_of(a) for a in typing.get_args(annotation)))
    if annotation in _SIMPLE:
        return Shape(_SIMPLE[annotation])
    if origin is Literal:
        return Shape("enum", values=typing.get_args(annotation))
    if origin is dict:
        return Shape("mapping")
    if origin is tuple:
        return Shape("tuple", tuple(shape_of(a) for a in typing.get_args(annotation)))
    if annotation is collections.abc.Callable or origin is collections.abc.Callable:
        return Shape("transform")
    if origin in (list, collections.abc.Sequence) or annotation in (list, tuple):
        args = typing.get_args(annotation)
        return Shape("list", (shape_of(args[0]),) if args else ())
    np = sys.modules.get("numpy")  # an annotation that is numpy's array came from a loaded numpy
    if np is not None and (annotation is np.ndarray or origin is np.ndarray):
        return Shape("numbers")
    return Shape("other", values=(getattr(annotation, "__name__", str(annotation)),))


def takes_transform(shape: Shape) -> bool:
    """Whether a parameter takes a transform (audiomentations annotates such parameters as callables)."""
    return shape.kind == "transform" or any(takes_transform(p) for p in shape.parts if shape.kind == "union")


def accepts(shape: Shape, value: Any) -> bool:
    """Whether a YAML value fits. A shape this cannot judge (any, other, numbers, transform) accepts it."""
    kind = shape.kind
    if kind == "union":
        return any(accepts(p, value) for p in shape.parts)
    if kind == "null":
        return value is None
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("int", "number"):
        return isinstance(value, int if kind == "int" else (int, float)) and not isinstance(value, bool)
    if kind in ("string", "path"):
        return isinstance(value, str)
    if kind == "enum":
        return value in shape.values
    if kind == "mapping":
        return isinstance(value, dict)
    if kind == "tuple":
        return (
            isinstance(value, (list, tuple))
            and len(value) == len(shape.parts)
            and all(accepts(p, v) for p, v in zip(shape.parts, value, strict=True))
        )
    if kind == "list":
        return (
            isinstance(value, (list, tuple)) and all(accepts(shape.parts[0], v) for v in value)
            if shape.parts
            else isinstance(value, (list, tuple))
        )
    return True


def describe(shape: Shape) -> str:
    """A reader's name for what a shape accepts: 'a number', "one of 'a', 'b'", ..."""
    kind = shape.kind
    if kind == "union":
        parts = shape.parts
        if any(p.kind == "number" for p in parts):  # an int is a number too
            parts = tuple(p for p in parts if p.kind != "int")
        return " or ".join(dict.fromkeys(describe(p) for p in parts))
    if kind == "enum":
        return "one of " + ", ".join(repr(v) for v in shape.values)
    if kind == "tuple":
        return "a list [" + ", ".join(describe(p) for p in shape.parts) + "]"
    if kind == "list":
        item = describe(shape.parts[0]) if shape.parts else ""
        return f"a list of {_PLURAL.get(item, item)}" if shape.parts else "a list"
    if kind == "other":
        return str(shape.values[0])
    return _NAMES[kind]


def schema(shape: Shape) -> dict[str, Any]:
    """The JSON Schema of what a shape accepts."""
    kind = shape.kind
    if kind == "union":
        return {"anyOf": [schema(p) for p in shape.parts]}
    if kind in _TYPES:
        return {"type": _TYPES[kind]}
    if kind == "enum":
        return {"enum": list(shape.values)}
    if kind == "tuple":
        items = [schema(p) for p in shape.parts]
        return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}
    if kind == "transform":
        return dict(TRANSFORM_SCHEMA)
    if kind == "list":
        return {"type": "array", "items": schema(shape.parts[0])} if shape.parts else {"type": "array"}
    if kind == "numbers":
        return {"type": "array", "items": {"type": "number"}}
    return {}
