"""Builds the audiomentations pipeline and augments one array with one seed.

``WaveformPipeline.augment`` returns the augmented audio together with the transforms that were actually
applied, in order, each with the parameters it drew: the manifest's ``transforms`` column.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audioaug_cli.config.model import Node, holds_nodes
from audioaug_cli.errors import location
from audioaug_cli.transforms import compat, registry
from audioaug_cli.transforms.warning_capture import warning_filters_kept


class ConstructionError(Exception):
    """audiomentations refused a transform's parameters; ``path`` says which entry."""

    def __init__(self, path: tuple[str | int, ...], message: str):
        super().__init__(f"{location(path)}: {message}")
        self.path = path
        self.message = message


def build_pipeline(
    nodes: tuple[Node, ...] | list[Node], base_dir: str | Path, place: tuple[str | int, ...] = ("pipeline",)
) -> Any:
    """The root transform for a pipeline: a Compose of its nodes (p=1). ``place``: where the
    config holds the list (what a ConstructionError names)."""
    children = [build_node(n, (*place, i), Path(base_dir)) for i, n in enumerate(nodes)]
    return compat.recording_compose_class()(children, p=1.0)


def build_node(node: Node, path: tuple[str | int, ...], base_dir: Path) -> Any:
    """One node -> a new audiomentations object. Raises ConstructionError, located."""
    name, here = node.name, (*path, node.name)
    kwargs = dict(node.params)
    for key, value in node.params.items():
        if key.endswith("_path"):  # the files the config check read, not a walk of audiomentations' own
            from audioaug_cli.io.sounds import sound_files, sound_path

            kwargs[key] = [
                file
                for v in (value if isinstance(value, list) else [value])
                for file in sound_files(sound_path(base_dir, v))
            ]
        elif isinstance(value, Node):
            kwargs[key] = build_node(value, (*here, key), base_dir)
        elif holds_nodes(value):
            kwargs[key] = compat.recording_compose_class()(
                [build_node(v, (*here, key, i), base_dir) for i, v in enumerate(value)], p=1.0
            )
    if node.transforms is not None:
        children = [build_node(c, (*here, "transforms", i), base_dir) for i, c in enumerate(node.transforms)]
        if isinstance(kwargs.get("num_transforms"), list):
            kwargs["num_transforms"] = tuple(kwargs["num_transforms"])
        cls = compat.recording_compose_class() if name == "Compose" else registry.composition_class(name)
        if name == "SomeOf":
            return cls(kwargs.pop("num_transforms"), children, **kwargs)
        return cls(children, **kwargs)
    missing = registry.missing_backend(name, node.params)
    if missing:
        raise ConstructionError(
            path, f"{name} needs the optional package {missing}, which is not installed: {registry.EXTRA_HINT}"
        )
    try:
        return registry.transform_class(name)(**kwargs)
    except Exception as exc:  # whatever the constructor raises, these parameters are the cause
        detail = " ".join(str(exc).split()) or "a parameter is out of range"
        who = "" if name in registry.OWN_WAVEFORM else "audiomentations rejected "
        raise ConstructionError(path, f"{who}{name}'s parameters: {detail}") from None


class WaveformPipeline:
    """A pipeline that augments one array at a time, each with its own seed.

    Safe to call from several threads at once: audiomentations keeps what a transform drew on the
    transform object, so every thread builds its own copy of the pipeline (on its first call) and
    draws from its own item generators (:mod:`audioaug_cli.transforms.compat`). The caller's global ``random`` and
    ``np.random`` are never touched.
    """

    def __init__(self, nodes: tuple[Node, ...] | list[Node], base_dir: str | Path):
        self.nodes = tuple(nodes)
        self.base_dir = Path(base_dir)
        self._local = threading.local()
        root = self._root()  # built now: construction errors surface here, not in an item
        # RoomSimulator's ray tracer draws from pyroomacoustics' process-wide generators, which
        # are seeded per item, so such items run one at a time in the process.
        self.exclusive = root is not None and any(type(t).__name__ == "RoomSimulator" for t in _walk(root))

    def _root(self) -> Any:
        """This thread's own copy of the pipeline."""
        try:
            return self._local.root
        except AttributeError:
            root = build_pipeline(self.nodes, self.base_dir) if self.nodes else None
            for leaf in _main_leaves(root) if root is not None else []:
                compat.observe_time(leaf)
            self._local.root = root
            self._local.tree = _tree(root) if root is not None else []
            return root

    def augment(
        self, samples: np.ndarray, sample_rate: int, seed: int, copy: int | None = None
    ) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Augment ``samples`` (channels-first when multichannel); return audio and applied transforms.
        ``copy``: the item's copy number, which ``SpeedPerturb: {choice: by_copy}`` reads."""
        root = self._root()
        if root is None:  # `pipeline: []` converts and copies
            return samples, []
        with warning_filters_kept(), compat.item_rng(seed, self.exclusive, copy):
            _reset(self._local.tree)
            out = root(samples, sample_rate)
        leaves = [leaf for leaf in applied_leaves(root) if not getattr(leaf, "unchanged", False)]
        self._local.timeline = [Step(type(t).__name__, t, t.parameters, *(t.observed or (0, 0, 0))) for t in leaves]
        return out, [entry for leaf in leaves for entry in _leaf_entry(leaf, self.base_dir)]

    def timeline(self) -> list[Step]:
        """What each transform this thread's last item applied did to time, in order."""
        found: list[Step] = getattr(self._local, "timeline", [])
        return found

    def drawn(self) -> list[dict[str, Any]]:
        """What this thread's pipeline drew for its last item, applied or not yet (when it failed)."""
        root = self._root()
        if root is None:
            return []
        return [
            {"name": type(t).__name__, "params": t.parameters}
            for t in _walk(root)
            if isinstance(getattr(t, "parameters", None), dict) and t.parameters.get("should_apply")
        ]


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


def _tree(root: Any) -> list[tuple[Any, bool]]:
    """Every transform of a pipeline, depth first, each with whether it is a composition: what
    :func:`_reset` goes through for every item (the pipeline's shape never changes once built)."""
    from audiomentations.core.composition import BaseCompose

    return [(transform, isinstance(transform, BaseCompose)) for transform in _walk(root)]


def _reset(tree: list[tuple[Any, bool]]) -> None:
    """Forget what the previous item drew, so that only this item's choices are recorded."""
    for transform, composition in tree:
        if composition:
            transform.should_apply = False
            transform.applied_children = []
            transform.transform_indexes = []
        else:
            transform.parameters = {"should_apply": None}
            transform.observed = None
            transform.unchanged = False


@dataclass(frozen=True)
class Step:
    """One applied transform and what it did to time: its input's and output's frames, and the
    input frame its output starts at (see :func:`~audioaug_cli.transforms.compat.observe_time`)."""

    name: str
    transform: Any  # the transform object: its settings (Shift's unit, rollover, ...)
    params: dict[str, Any]  # what it drew
    frames_in: int
    frames_out: int
    offset: int


def _main_leaves(transform: Any) -> list[Any]:
    """The leaf transforms of the pipeline's own chain (not those held as parameters)."""
    from audiomentations.core.composition import BaseCompose

    if isinstance(transform, BaseCompose):
        return [leaf for child in transform.transforms for leaf in _main_leaves(child)]
    return [transform]


def applied_transforms(transform: Any, base_dir: Path | None = None) -> list[dict[str, Any]]:
    """What ``transform`` applied in its last call: a list of {"name", "params"}, in order."""
    return [entry for leaf in applied_leaves(transform) for entry in _leaf_entry(leaf, base_dir)]


def _leaf_entry(leaf: Any, base_dir: Path | None) -> list[dict[str, Any]]:
    return [{"name": type(leaf).__name__, "params": leaf_params(leaf, base_dir)}]


def applied_leaves(transform: Any) -> list[Any]:
    """The leaf transforms ``transform`` applied in its last call, in order."""
    from audiomentations import OneOf, SomeOf
    from audiomentations.core.composition import BaseCompose

    if isinstance(transform, OneOf):
        ran = [transform.transforms[transform.transform_index]] if transform.should_apply else []
    elif isinstance(transform, SomeOf):
        ran = [transform.transforms[i] for i in transform.transform_indexes] if transform.should_apply else []
    elif isinstance(transform, BaseCompose):
        ran = list(getattr(transform, "applied_children", []))
    elif transform.parameters.get("should_apply"):
        return [transform]
    else:
        return []
    return [leaf for child in ran for leaf in applied_leaves(child)]


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
    if isinstance(value, (str, Path)):
        from audioaug_cli.io.sounds import shown_sound_path

        fetched = shown_sound_path(str(value))
        if fetched is not None:  # a local copy of a sounds_path URL: the URL is what the manifest says
            return fetched
    if isinstance(value, Path) or (isinstance(value, str) and base_dir and value.startswith(str(base_dir))):
        path = Path(value)
        if base_dir is not None and path.is_absolute() and path.is_relative_to(base_dir):
            return path.relative_to(base_dir).as_posix()
        return str(value)
    return value
