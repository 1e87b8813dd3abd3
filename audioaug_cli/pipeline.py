"""Builds the audiomentations pipeline and augments one array with one seed.

``Augmenter.augment`` returns the augmented audio together with the transforms that were actually
applied, in order, each with the parameters it drew: the manifest's ``transforms`` column.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from . import registry, rng
from .config import Config, location

Node = dict[str, Any]


class ConstructionError(Exception):
    """audiomentations refused a transform's parameters; ``path`` says which entry."""

    def __init__(self, path: tuple[str | int, ...], message: str):
        super().__init__(f"{location(path)}: {message}")
        self.path = path
        self.message = message


_recording_compose: type | None = None


def recording_compose_class() -> type:
    """audiomentations' Compose, remembering which children it ran (it does not keep that)."""
    global _recording_compose
    if _recording_compose is None:
        from audiomentations import Compose

        class RecordingCompose(Compose):  # type: ignore[misc]
            applied_children: list[Any] = []

            def __call__(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
                # The same draws, in the same order, as Compose.__call__.
                draw = rng.current_random()
                transforms = list(self.transforms)
                self.applied_children = []
                if draw.random() < self.p:
                    if self.shuffle:
                        draw.shuffle(transforms)
                    for transform in transforms:
                        samples = transform(samples, sample_rate)
                    self.applied_children = transforms
                return samples

        _recording_compose = RecordingCompose
    return _recording_compose


def build_pipeline(config: Config) -> Any:
    """The root transform for a config: a Compose of its pipeline (p=1)."""
    children = [build_node(n, ("pipeline", i), Path(config.base_dir)) for i, n in enumerate(config.pipeline)]
    return recording_compose_class()(children, p=1.0)


def build_node(node: Node, path: tuple[str | int, ...], base_dir: Path) -> Any:
    """One normalised node -> an audiomentations object. Raises ConstructionError, located."""
    import audiomentations

    name, here = node["name"], (*path, node["name"])
    kwargs = dict(node["params"])
    for key, value in node["params"].items():
        if key.endswith("_path"):
            kwargs[key] = [str(base_dir / v) for v in value] if isinstance(value, list) else str(base_dir / value)
        elif isinstance(value, dict) and "name" in value:
            kwargs[key] = build_node(value, (*here, key), base_dir)
        elif isinstance(value, list) and value and all(isinstance(v, dict) and "name" in v for v in value):
            kwargs[key] = recording_compose_class()(
                [build_node(v, (*here, key, i), base_dir) for i, v in enumerate(value)], p=1.0)
    if name in registry.COMPOSITIONS:
        children = [build_node(c, (*here, "transforms", i), base_dir) for i, c in enumerate(node["transforms"])]
        if isinstance(kwargs.get("num_transforms"), list):
            kwargs["num_transforms"] = tuple(kwargs["num_transforms"])
        cls = recording_compose_class() if name == "Compose" else getattr(audiomentations, name)
        if name == "SomeOf":
            return cls(kwargs.pop("num_transforms"), children, **kwargs)
        return cls(children, **kwargs)
    missing = registry.missing_backend(name, node["params"])
    if missing:
        raise ConstructionError(path, f"{name} needs the optional package {missing}, which is not installed: "
                                f"{registry.EXTRA_HINT}")
    try:
        return registry.transform_classes()[name](**kwargs)
    except Exception as exc:  # whatever the constructor raises, these parameters are the cause
        detail = " ".join(str(exc).split()) or "a parameter is out of range"
        raise ConstructionError(path, f"audiomentations rejected {name}'s parameters: {detail}") from None


_item_warnings = threading.local()
_print_warning = warnings.showwarning


@contextmanager
def captured_warnings() -> Iterator[list[str]]:
    """Collect, as one-line messages, the warnings this thread raises within the block (e.g.
    audiomentations' "had to be resampled") instead of printing them with a source line. Other
    threads, and this one outside the block, print as usual. Python's filters still apply: a
    warning is shown once per place in the code, per process."""
    global _print_warning
    if warnings.showwarning is not _show_warning:
        _print_warning, warnings.showwarning = warnings.showwarning, _show_warning
    found: list[str] = []
    previous = getattr(_item_warnings, "found", None)
    _item_warnings.found = found
    try:
        yield found
    finally:
        _item_warnings.found = previous


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    found = getattr(_item_warnings, "found", None)
    if found is None:
        _print_warning(message, category, filename, lineno, file, line)
    else:
        found.append(" ".join(str(message).split()))


class Augmenter:
    """A built pipeline that augments one array at a time, each with its own seed."""

    def __init__(self, config: Config):
        self.config = config
        self.root = build_pipeline(config) if config.pipeline else None
        self.base_dir = Path(config.base_dir)
        # RoomSimulator's ray tracer draws from pyroomacoustics' process-wide generators: loaded
        # now, they are seeded per item, and items run one at a time in a threaded process.
        self.exclusive = self.root is not None and any(
            type(t).__name__ == "RoomSimulator" for t in _walk(self.root))
        if self.exclusive:
            import pyroomacoustics  # noqa: F401

    def augment(self, samples: np.ndarray, sample_rate: int, seed: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Augment ``samples`` (channels-first when multichannel); return audio and applied transforms."""
        if self.root is None:  # `pipeline: []` converts and copies
            return samples, []
        with rng.item_rng(seed, self.exclusive):
            _reset(self.root)
            out = self.root(samples, sample_rate)
        return out, applied_transforms(self.root, self.base_dir)


def _children(transform: Any) -> list[Any]:
    """Transforms held by a transform: a composition's children and sub-transform attributes."""
    from audiomentations.core.composition import BaseCompose

    found: list[Any] = list(getattr(transform, "transforms", [])) if isinstance(transform, BaseCompose) else []
    for _attr, held in _held_transforms(transform):
        found.extend(held)
    return found


def _held_transforms(transform: Any) -> Iterator[tuple[str, list[Any]]]:
    """(attribute, transforms) for sub-transforms held as attributes: SevenBandParametricEQ's
    filters, AddShortNoises' noise_transform, ... (a composition's ``transforms`` are not these)."""
    from audiomentations.core.composition import BaseCompose
    from audiomentations.core.transforms_interface import BaseTransform

    for attr, value in vars(transform).items():
        if attr == "transforms":
            continue
        if isinstance(value, (BaseTransform, BaseCompose)):
            yield attr, [value]
        elif isinstance(value, list) and value and all(isinstance(v, BaseTransform) for v in value):
            yield attr, value


def _walk(transform: Any) -> Iterator[Any]:
    """A transform and everything it holds, depth first."""
    yield transform
    for child in _children(transform):
        yield from _walk(child)


def _reset(transform: Any) -> None:
    """Forget what the previous item drew, so that only this item's choices are recorded."""
    from audiomentations.core.composition import BaseCompose

    if isinstance(transform, BaseCompose):
        transform.should_apply = False
        transform.applied_children = []
        transform.transform_indexes = []
    else:
        transform.parameters = {"should_apply": None}
    for child in _children(transform):
        _reset(child)


def applied_transforms(transform: Any, base_dir: Path | None = None) -> list[dict[str, Any]]:
    """What ``transform`` applied in its last call: a list of {"name", "params"}, in order."""
    from audiomentations import OneOf, SomeOf
    from audiomentations.core.composition import BaseCompose

    if isinstance(transform, OneOf):
        ran = [transform.transforms[transform.transform_index]] if transform.should_apply else []
    elif isinstance(transform, SomeOf):
        ran = [transform.transforms[i] for i in transform.transform_indexes] if transform.should_apply else []
    elif isinstance(transform, BaseCompose):
        ran = list(getattr(transform, "applied_children", []))
    elif transform.parameters.get("should_apply"):
        return [{"name": type(transform).__name__, "params": leaf_params(transform, base_dir)}]
    else:
        return []
    return [entry for child in ran for entry in applied_transforms(child, base_dir)]


def leaf_params(transform: Any, base_dir: Path | None = None) -> dict[str, Any]:
    """The parameters a transform drew, as JSON values; sub-transforms' under their attribute."""
    params = {k: _jsonable(v, base_dir) for k, v in transform.parameters.items() if k != "should_apply"}
    for attr, held in _held_transforms(transform):
        params[attr] = [entry for t in held for entry in applied_transforms(t, base_dir)]
    return params


def apply_with_params(transform: Any, params: dict[str, Any], samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Apply a leaf transform with recorded parameters instead of drawing new ones (the inverse of
    :func:`leaf_params` for transforms whose output the parameters fix)."""
    transform.parameters = {"should_apply": True, **params}
    transform.freeze_parameters()
    try:
        out: np.ndarray = transform(samples, sample_rate)
    finally:
        transform.unfreeze_parameters()
    return out


def _jsonable(value: Any, base_dir: Path | None) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, base_dir) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, base_dir) for k, v in value.items()}
    if isinstance(value, Path) or (isinstance(value, str) and base_dir and value.startswith(str(base_dir))):
        path = Path(value)
        if base_dir is not None and path.is_absolute() and path.is_relative_to(base_dir):
            return path.relative_to(base_dir).as_posix()
        return str(value)
    return value
