"""Transform names -> audiomentations classes, with their parameters read from the signatures.

Nothing here is a hand-kept list of transforms: every ``BaseWaveformTransform`` subclass that
audiomentations exports is available under its class name, except those that would run code
named in the config (``Lambda``).
"""

from __future__ import annotations

import collections.abc
import importlib.util
import inspect
import pathlib
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, Union

import numpy as np

from . import lazy_import

COMPOSITIONS = ("Compose", "OneOf", "SomeOf")
REFUSED = {"Lambda": "it runs arbitrary code, which a config may never name"}

# Parameters renamed in audiomentations' history (0.31: *_in_db -> *_db; 0.33: Shift's fractions)
# that tutorials still show: old -> current.
RENAMED = {
    "Shift": {"min_fraction": "min_shift", "max_fraction": "max_shift"},
    "Gain": {"min_gain_in_db": "min_gain_db", "max_gain_in_db": "max_gain_db"},
    "AddGaussianSNR": {"min_SNR": "min_snr_db", "max_SNR": "max_snr_db",
                       "min_snr_in_db": "min_snr_db", "max_snr_in_db": "max_snr_db"},
    "AddBackgroundNoise": {"min_snr_in_db": "min_snr_db", "max_snr_in_db": "max_snr_db"},
    "AddShortNoises": {"min_snr_in_db": "min_snr_db", "max_snr_in_db": "max_snr_db"},
    "GainTransition": {"min_gain_in_db": "min_gain_db", "max_gain_in_db": "max_gain_db"},
}

# Optional backends: the module a transform imports for a given choice, and its pip package.
# audiomentations imports them lazily inside apply(); we check them when the config is loaded.
BACKENDS: dict[str, list[tuple[dict[str, Any], str]]] = {
    "Mp3Compression": [({"backend": "fast-mp3-augment"}, "fast_mp3_augment"),
                       ({"backend": "lameenc"}, "lameenc"),
                       ({"backend": "pydub"}, "pydub")],
    "RoomSimulator": [({}, "pyroomacoustics")],
    "LoudnessNormalization": [({}, "loudness")],
    "Limiter": [({}, "numpy_audio_limiter")],
}
EXTRA_HINT = "pip install 'audioaug[all]'"


@dataclass(frozen=True)
class Param:
    """One constructor parameter of a transform."""

    name: str
    annotation: Any  # a typing object, or inspect.Parameter.empty
    default: Any  # inspect.Parameter.empty when required

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty

    @property
    def takes_transform(self) -> bool:
        """True for parameters such as ``noise_transform`` that take a transform."""
        return takes_transform(self.annotation)


@cache
def transform_names() -> tuple[str, ...]:
    """The names of the waveform transforms a config may use (Lambda excluded), without importing them."""
    exports = lazy_import.exports()
    if not exports:
        return tuple(transform_classes())
    return tuple(sorted(name for name, module in exports.items()
                        if module.startswith("audiomentations.augmentations.")
                        and name[:1].isupper() and not name.isupper() and name not in REFUSED))


@cache
def transform_class(name: str) -> type:
    """One waveform transform's class, importing only its own module. KeyError for any other name."""
    if name not in transform_names():
        raise KeyError(name)
    found = lazy_import.quietly(lambda: getattr(lazy_import.load_audiomentations(), name))
    from audiomentations.core.transforms_interface import BaseWaveformTransform

    if not (isinstance(found, type) and issubclass(found, BaseWaveformTransform)):
        raise KeyError(name)
    cls: type = found
    return cls


@cache
def transform_classes() -> dict[str, type]:
    """Every waveform transform audiomentations exports, by class name (Lambda excluded): all imported."""
    audiomentations = lazy_import.load_audiomentations()
    names = lazy_import.quietly(lambda: dir(audiomentations))
    from audiomentations.core.transforms_interface import BaseWaveformTransform

    found = {}
    for name in names:
        obj = getattr(audiomentations, name)
        if isinstance(obj, type) and issubclass(obj, BaseWaveformTransform) and name not in REFUSED:
            found[name] = obj
    return dict(sorted(found.items()))


def composition_class(name: str) -> type:
    cls: type = lazy_import.quietly(lambda: getattr(lazy_import.load_audiomentations(), name))
    return cls


def spec_transform_classes() -> dict[str, type]:
    """The spectrogram transforms (audioaug's own), by class name."""
    from .spec_transforms import SPEC_TRANSFORMS

    return dict(SPEC_TRANSFORMS)


def class_of(name: str) -> type:
    """The class behind a name a config may use: a composition, a waveform or a spectrogram transform."""
    if name in COMPOSITIONS:
        return composition_class(name)
    spec = spec_transform_classes()
    return spec[name] if name in spec else transform_class(name)


@cache
def params_of(name: str) -> dict[str, Param]:
    """The constructor parameters of a transform or composition, in signature order."""
    cls = class_of(name)
    init = cls.__init__  # type: ignore[misc]
    signature = inspect.signature(init)
    try:
        hints = typing.get_type_hints(init)
    except Exception:  # an annotation that does not evaluate: fall back to no type checks
        hints = {}
    params = {}
    for pname, p in signature.parameters.items():
        if pname == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        annotation = hints.get(pname, p.annotation)
        if annotation is inspect.Parameter.empty and type(p.default) in (bool, int, float, str):
            annotation = float if type(p.default) in (int, float) else type(p.default)  # Compose's p, shuffle
        params[pname] = Param(pname, annotation, p.default)
    if name == "SomeOf":  # annotated `int or tuple`, which evaluates to just `int`
        params["num_transforms"] = Param("num_transforms", int | tuple[int, int | None],
                                         inspect.Parameter.empty)
    return params


def summary(name: str) -> str:
    """The first sentence of a transform's docstring."""
    cls = class_of(name)
    doc = inspect.getdoc(cls) or ""
    import re

    first = " ".join(doc.split("\n\n")[0].split())
    sentence = re.split(r"(?<!\be\.g)(?<!\bi\.e)\.\s+(?=[A-Z])", first)[0]
    return sentence.rstrip(".") + "." if sentence else ""


def missing_backend(name: str, params: dict[str, Any]) -> str | None:
    """The pip package a transform needs for these params and that is not installed, if any."""
    for condition, module in BACKENDS.get(name, []):
        if all(params.get(k, params_of(name)[k].default) == v for k, v in condition.items()):
            if importlib.util.find_spec(module) is None:
                return module.replace("_", "-")
    return None


def takes_transform(annotation: Any) -> bool:
    """Whether an annotation is a callable: in audiomentations, a parameter taking a transform."""
    if annotation is collections.abc.Callable or typing.get_origin(annotation) is collections.abc.Callable:
        return True
    return any(takes_transform(a) for a in _union_members(annotation))


def _union_members(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return typing.get_args(annotation)
    return ()


def check_value(value: Any, annotation: Any) -> bool:
    """Whether a YAML value fits a parameter's annotation. Unknown annotations accept anything."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return True
    members = _union_members(annotation)
    if members:
        return any(check_value(value, m) for m in members)
    origin = typing.get_origin(annotation)
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation in (str, pathlib.Path):
        return isinstance(value, str)
    if origin is Literal:
        return value in typing.get_args(annotation)
    if annotation is dict or origin is dict:
        return isinstance(value, dict)
    if origin is tuple:
        args = typing.get_args(annotation)
        return (isinstance(value, (list, tuple)) and len(value) == len(args)
                and all(check_value(v, a) for v, a in zip(value, args, strict=True)))
    if origin in (list, collections.abc.Sequence) or annotation in (list, tuple):
        args = typing.get_args(annotation)
        return isinstance(value, (list, tuple)) and all(check_value(v, args[0]) for v in value) if args \
            else isinstance(value, (list, tuple))
    return True


def describe(annotation: Any) -> str:
    """A reader's name for what an annotation accepts: 'a number', "one of 'a', 'b'", ..."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return "any value"
    members = _union_members(annotation)
    if members:
        if float in members:  # an int is a number too
            members = tuple(m for m in members if m is not int)
        return " or ".join(dict.fromkeys(describe(m) for m in members))
    origin = typing.get_origin(annotation)
    if annotation is type(None):
        return "null"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if origin is tuple:
        return "a list [" + ", ".join(describe(a) for a in typing.get_args(annotation)) + "]"
    if takes_transform(annotation):
        return "a transform"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
             pathlib.Path: "a path", dict: "a mapping"}
    if annotation in names:
        return names[annotation]
    if origin in (list, collections.abc.Sequence) or annotation in (list, tuple):
        args = typing.get_args(annotation)
        item = describe(args[0]) if args else ""
        plural = {"a number": "numbers", "an integer": "integers", "a string": "strings", "a path": "paths"}
        return f"a list of {plural.get(item, item)}" if args else "a list"
    if annotation is np.ndarray or typing.get_origin(annotation) is np.ndarray:
        return "a list of numbers"
    return getattr(annotation, "__name__", str(annotation))


@cache
def param_docs(name: str) -> dict[str, str]:
    """Each parameter's description, from the ':param x:' lines of the class's docstrings."""
    import re

    cls = class_of(name)
    docs = {}
    for text in (inspect.getdoc(cls) or "", inspect.getdoc(cls.__init__) or ""):  # type: ignore[misc]
        for match in re.finditer(r":param (\w+):(.*?)(?=\n\s*:(?:param|return|rtype)\b|\Z)", text, re.S):
            docs[match.group(1)] = " ".join(match.group(2).split())
    return docs


def extra_for(name: str) -> str | None:
    """The optional packages a transform may need, as a phrase, or None."""
    packages = sorted({module.replace("_", "-") for _condition, module in BACKENDS.get(name, [])})
    return f"{', '.join(packages)} ({EXTRA_HINT})" if packages else None


def default_repr(value: Any) -> Any:
    """A parameter default as JSON can hold it (None for 'required')."""
    if value is inspect.Parameter.empty:
        return None
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (tuple, list)):
        return [default_repr(v) for v in value]
    return repr(value)


def describe_transform(name: str) -> dict[str, Any]:
    """Everything `audioaug transforms NAME` shows, introspected from audiomentations."""
    docs = param_docs(name)
    cls = class_of(name)
    docs.setdefault("transforms", "The transforms to apply (Compose) or to choose from (OneOf, SomeOf).")
    params = [{"name": p.name, "type": "a list of transforms" if p.name == "transforms" else describe(p.annotation),
               "required": p.required, "default": default_repr(p.default), "description": docs.get(p.name, "")}
              for p in params_of(name).values()]
    return {
        "name": name,
        "summary": summary(name),
        "multichannel": bool(getattr(cls, "supports_multichannel", True)),
        "extra": extra_for(name),
        "params": params,
    }


def transforms_markdown() -> str:
    """docs/transforms.md: every transform a config can name, with its parameters."""
    waveform, spectral = list(transform_classes()), list(spec_transform_classes())
    lines = ["# Transforms", "",
             "Generated by `audioaug transforms --markdown` from the installed audiomentations "
             f"({lazy_import.load_audiomentations().__version__}); a test keeps it up to date.", "",
             "Waveform transforms go in `pipeline:`, spectrogram transforms in `spectrogram.pipeline:`; "
             "`Compose`, `OneOf` and `SomeOf` nest in both.", ""]
    for title, names in (("Waveform transforms", waveform), ("Compositions", list(COMPOSITIONS)),
                         ("Spectrogram transforms", spectral)):
        lines += [f"## {title}", "", "| transform | what it does |", "| --- | --- |"]
        lines += [f"| [{name}](#{name.lower()}) | {summary(name)} |" for name in names]
        lines.append("")
        for name in names:
            info = describe_transform(name)
            lines += [f"### {name}", "", info["summary"], ""]
            notes = [] if info["multichannel"] else ["mono only"]
            if info["extra"]:
                notes.append(f"needs {info['extra']}")
            if notes:
                lines += [f"*{'; '.join(notes)}*", ""]
            lines += ["| parameter | type | default | description |", "| --- | --- | --- | --- |"]
            for param in info["params"]:
                default = "required" if param["required"] else f"`{param['default']!r}`"
                description = param["description"].replace("|", "\\|")
                lines.append(f"| `{param['name']}` | {param['type']} | {default} | {description} |")
            lines.append("")
    return "\n".join(lines)


# What runs librosa code that numba compiles on its first use on a machine (about 20 s here, then
# cached): measured by running each transform with an empty NUMBA_CACHE_DIR. name -> parameters
# that must hold (empty: always).
NUMBA_COMPILED: dict[str, dict[str, Any]] = {
    "AddBackgroundNoise": {}, "AddShortNoises": {}, "ApplyImpulseResponse": {},  # librosa.load
    "AirAbsorption": {}, "Resample": {}, "Trim": {},
    "PitchShift": {"method": "librosa_phase_vocoder"}, "TimeStretch": {"method": "librosa_phase_vocoder"},
}
NUMBA_NOTICE = ("note: {what} librosa code that numba compiles on its first use on a machine (about 20 s, "
                "once; the compiled code is cached beside librosa, or in NUMBA_CACHE_DIR)")


def compiles_librosa_code(nodes: Any, spectrogram: bool) -> bool:
    """Whether a pipeline (its nodes, nested ones included) or a spectrogram: section runs librosa
    code that numba compiles on first use."""
    if spectrogram:
        return True
    for node in nodes:
        condition = NUMBA_COMPILED.get(node.name)
        if condition is not None and all(node.params.get(k) == v for k, v in condition.items()):
            return True
        if compiles_librosa_code(list(node.transforms or ()) + [n for v in node.nested.values() for n in v], False):
            return True
    return False


def numba_cache_empty() -> bool:
    """Whether numba has compiled nothing of librosa's here yet: no index file (``*.nbi``) in
    NUMBA_CACHE_DIR when it is set, else beside librosa's modules or in numba's user cache."""
    import os

    found = importlib.util.find_spec("librosa")
    places = [os.environ["NUMBA_CACHE_DIR"]] if os.environ.get("NUMBA_CACHE_DIR") else [
        *(found.submodule_search_locations or [] if found else []), os.path.expanduser("~/.cache/numba")]
    return not any(next(pathlib.Path(place).rglob("*.nbi"), None) for place in places if os.path.isdir(place))
