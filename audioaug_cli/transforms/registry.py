"""Transform names -> audiomentations classes, with their parameters read from the signatures.

Nothing here is a hand-kept list of transforms: every ``BaseWaveformTransform`` subclass that
audiomentations exports is available under its class name, except those that would run code
named in the config (``Lambda``).
"""

from __future__ import annotations

import importlib.util
import inspect
import pathlib
import typing
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from audioaug_cli.transforms import compat
from audioaug_cli.transforms.annotations import Shape, shape_of, takes_transform

COMPOSITIONS = ("Compose", "OneOf", "SomeOf")
OWN_WAVEFORM = ("SpeedPerturb", "Codec", "Telephone")  # audioaug's own (transforms/speed.py, codecs.py)
REFUSED = {"Lambda": "it runs arbitrary code, which a config may never name"}

# Parameters renamed in audiomentations' history (0.31: *_in_db -> *_db; 0.33: Shift's fractions)
# that tutorials still show: old -> current.
RENAMED = {
    "Shift": {"min_fraction": "min_shift", "max_fraction": "max_shift"},
    "Gain": {"min_gain_in_db": "min_gain_db", "max_gain_in_db": "max_gain_db"},
    "AddGaussianSNR": {
        "min_SNR": "min_snr_db",
        "max_SNR": "max_snr_db",
        "min_snr_in_db": "min_snr_db",
        "max_snr_in_db": "max_snr_db",
    },
    "AddBackgroundNoise": {"min_snr_in_db": "min_snr_db", "max_snr_in_db": "max_snr_db"},
    "AddShortNoises": {"min_snr_in_db": "min_snr_db", "max_snr_in_db": "max_snr_db"},
    "GainTransition": {"min_gain_in_db": "min_gain_db", "max_gain_in_db": "max_gain_db"},
}

# Optional backends: the module a transform imports for a given choice, and its pip package.
# audiomentations imports them lazily inside apply(); we check them when the config is loaded.
BACKENDS: dict[str, list[tuple[dict[str, Any], str]]] = {
    "Mp3Compression": [
        ({"backend": "fast-mp3-augment"}, "fast_mp3_augment"),
        ({"backend": "lameenc"}, "lameenc"),
        ({"backend": "pydub"}, "pydub"),
    ],
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

    @cached_property
    def shape(self) -> Shape:
        """What the parameter accepts, read from its annotation."""
        return shape_of(self.annotation)

    @property
    def takes_transform(self) -> bool:
        """True for parameters such as ``noise_transform`` that take a transform."""
        return takes_transform(self.shape)


@cache
def transform_names() -> tuple[str, ...]:
    """The names of the waveform transforms a config may use (Lambda excluded), without importing them."""
    exports = compat.exports()
    if not exports:
        return tuple(transform_classes())
    return tuple(
        sorted(
            [
                *(
                    name
                    for name, module in exports.items()
                    if module.startswith("audiomentations.augmentations.")
                    and name[:1].isupper()
                    and not name.isupper()
                    and name not in REFUSED
                ),
                *OWN_WAVEFORM,
            ]
        )
    )


@cache
def transform_class(name: str) -> type:
    """One waveform transform's class, importing only its own module. KeyError for any other name."""
    if name not in transform_names():
        raise KeyError(name)
    if name in OWN_WAVEFORM:
        return _own_class(name)
    found = compat.quietly(lambda: getattr(compat.load_audiomentations(), name))
    from audiomentations.core.transforms_interface import BaseWaveformTransform

    if not (isinstance(found, type) and issubclass(found, BaseWaveformTransform)):
        raise KeyError(name)
    cls: type = found
    return cls


def _own_class(name: str) -> type:
    if name == "SpeedPerturb":
        from audioaug_cli.transforms.speed import SpeedPerturb

        return SpeedPerturb
    from audioaug_cli.transforms import codecs

    own: dict[str, type] = {"Codec": codecs.Codec, "Telephone": codecs.Telephone}
    return own[name]


@cache
def transform_classes() -> dict[str, type]:
    """Every waveform transform audiomentations exports, by class name (Lambda excluded): all imported."""
    audiomentations = compat.load_audiomentations()
    names = compat.quietly(lambda: dir(audiomentations))
    from audiomentations.core.transforms_interface import BaseWaveformTransform

    found = {}
    for name in names:
        obj = getattr(audiomentations, name)
        if isinstance(obj, type) and issubclass(obj, BaseWaveformTransform) and name not in REFUSED:
            found[name] = obj
    found.update((name, _own_class(name)) for name in OWN_WAVEFORM)
    return dict(sorted(found.items()))


def composition_class(name: str) -> type:
    cls: type = compat.quietly(lambda: getattr(compat.load_audiomentations(), name))
    return cls


def spec_transform_classes() -> dict[str, type]:
    """The spectrogram transforms (audioaug's own), by class name."""
    from audioaug_cli.transforms.spectrogram_transforms import SPEC_TRANSFORMS

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
        params["num_transforms"] = Param("num_transforms", int | tuple[int, int | None], inspect.Parameter.empty)
    return params


def missing_backend(name: str, params: dict[str, Any]) -> str | None:
    """The pip package a transform needs for these params and that is not installed, if any."""
    for condition, module in BACKENDS.get(name, []):
        if all(params.get(k, params_of(name)[k].default) == v for k, v in condition.items()):
            if importlib.util.find_spec(module) is None:
                return module.replace("_", "-")
    return None


# What runs librosa code that numba compiles on its first use on a machine (about 20 s here, then
# cached): measured by running each transform with an empty NUMBA_CACHE_DIR. name -> parameters
# that must hold (empty: always).
NUMBA_COMPILED: dict[str, dict[str, Any]] = {
    "AddBackgroundNoise": {},
    "AddShortNoises": {},
    "ApplyImpulseResponse": {},  # librosa.load
    "AirAbsorption": {},
    "Resample": {},
    "Trim": {},
    "PitchShift": {"method": "librosa_phase_vocoder"},
    "TimeStretch": {"method": "librosa_phase_vocoder"},
}
NUMBA_NOTICE = (
    "note: {what} librosa code that numba compiles on its first use on a machine (about 20 s, "
    "once; the compiled code is cached beside librosa, or in NUMBA_CACHE_DIR)"
)


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
    places = (
        [os.environ["NUMBA_CACHE_DIR"]]
        if os.environ.get("NUMBA_CACHE_DIR")
        else [*(found.submodule_search_locations or [] if found else []), os.path.expanduser("~/.cache/numba")]
    )
    return not any(next(pathlib.Path(place).rglob("*.nbi"), None) for place in places if os.path.isdir(place))
