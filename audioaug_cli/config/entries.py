"""Checking pipeline entries: transform names, their parameters' names, types and ranges, nested
compositions, and a trial construction of every transform, each problem with its place."""

from __future__ import annotations

from typing import Any

from audioaug_cli.config.checks import Checker
from audioaug_cli.config.limits import relation_problems, value_problem
from audioaug_cli.config.model import Node, Place
from audioaug_cli.errors import kind, suggest
from audioaug_cli.io.sounds import SoundFolderError, sound_files, sound_path
from audioaug_cli.transforms import registry
from audioaug_cli.transforms.annotations import accepts, describe

MAX_NESTING = 32  # levels of nested entries (OneOf in OneOf in ...)
MAX_NAMED = 20  # unusable sound files named one by one


def node_list(check: Checker, value: Any, here: Place, spec: bool = False) -> list[Node]:
    """A pipeline: a list of entries (null or absent: none)."""
    if value is None:
        return []
    if not isinstance(value, list):
        check.problem(here, f"expected a list of transforms, found {kind(value)}")
        return []
    nodes = [entry(check, e, (*here, i), spec) for i, e in enumerate(value)]
    return [n for n in nodes if n is not None]


def entry(check: Checker, value: Any, path: Place, spec: bool = False) -> Node | None:
    """One pipeline entry -> a normalised node, or None (with problems recorded). ``spec``: an
    entry of the spectrogram pipeline, whose transforms are audioaug's Spec* ones."""
    body: Any
    if isinstance(value, str):
        name, body = value, {}
    elif isinstance(value, dict) and len(value) == 1:
        name, body = next(iter(value.items()))
        body = {} if body is None else body
    else:
        check.problem(
            path,
            "expected a transform name, or a mapping of one transform name to its "
            f"parameters (e.g. PitchShift: {{p: 0.5}}), found {kind(value)}",
        )
        return None
    if not isinstance(name, str):
        check.problem(path, f"expected a transform name, found {kind(name)}")
        return None
    here = (*path, name)
    depth = 1 + sum(isinstance(part, str) and part[:1].isupper() for part in path)  # the entries above
    if depth > MAX_NESTING:
        check.problem(
            path, f"transforms are nested more than {MAX_NESTING} levels deep here; a pipeline never needs that many"
        )
        return None
    if name in registry.REFUSED:
        check.problem(path, f"{name} is not allowed: {registry.REFUSED[name]}")
        return None
    leaves, others = registry.transform_names(), tuple(registry.spec_transform_classes())
    if spec:
        leaves, others = others, leaves
    if name in others:
        where = "spectrogram.pipeline" if spec else "the waveform pipeline"
        check.problem(
            path,
            f"{name} is a {'waveform' if spec else 'spectrogram'} transform: it belongs in "
            f"{'the top-level pipeline' if spec else 'spectrogram.pipeline'}, not in {where}",
        )
        return None
    if name not in registry.COMPOSITIONS and name not in leaves:
        valid = [*leaves, *registry.COMPOSITIONS]
        check.problem(path, f"unknown transform {name!r}{suggest(name, valid)} (`audioaug transforms` lists them)")
        return None
    if not isinstance(body, dict):
        check.problem(here, f"expected a mapping of parameters, found {kind(body)}")
        return None
    if name in registry.COMPOSITIONS:
        return composition(check, name, body, here, spec)
    return leaf(check, name, body, here)


def composition(check: Checker, name: str, body: dict[str, Any], here: Place, spec: bool) -> Node | None:
    params = {k: v for k, v in body.items() if k != "transforms"}
    checked = parameters(check, name, params, here, skip=("transforms",))
    children = body.get("transforms")
    if not isinstance(children, list) or not children:
        check.problem(
            (*here, "transforms") if "transforms" in body else here,
            f"{name} needs 'transforms:', a non-empty list of transforms"
            + (f", found {kind(children)}" if "transforms" in body else ""),
        )
        return None
    nodes = [entry(check, c, (*here, "transforms", i), spec) for i, c in enumerate(children)]
    children_ok = [n for n in nodes if n is not None]
    if checked is None or len(children_ok) != len(nodes):
        return None
    weights = checked.get("weights")
    if weights is not None and len(weights) != len(nodes):
        check.problem((*here, "weights"), f"expected {len(nodes)} weights, one per transform, found {len(weights)}")
    count = checked.get("num_transforms")
    if count is not None:
        low, high = (count, count) if isinstance(count, int) else (count[0], count[1] or len(nodes))
        if not 0 <= low <= high <= len(nodes):
            check.problem(
                (*here, "num_transforms"),
                f"must pick between 0 and {len(nodes)} transforms with low <= high, found {kind(count)}",
            )
    return Node(name, checked, tuple(children_ok))


def leaf(check: Checker, name: str, body: dict[str, Any], here: Place) -> Node | None:
    checked = parameters(check, name, body, here)
    return None if checked is None else Node(name, checked)


def parameters(
    check: Checker, name: str, body: dict[str, Any], here: Place, skip: tuple[str, ...] = ()
) -> dict[str, Any] | None:
    known = registry.params_of(name)
    renamed = registry.RENAMED.get(name, {})
    ok = True
    out: dict[str, Any] = {}
    for key, value in body.items():
        spot = (*here, key)
        if key not in known:
            ok = False
            if key in renamed:
                check.problem(spot, f"unknown parameter; audiomentations renamed it to {renamed[key]}", key_line=True)
            else:
                hint = suggest(str(key), [*known, *skip]) or f" (valid: {', '.join(known)})"
                check.problem(spot, f"unknown parameter{hint}", key_line=True)
            continue
        param = known[key]
        if param.takes_transform and value is not None:
            nested = transform_value(check, value, spot)
            ok = ok and nested is not None
            out[key] = nested
        elif not accepts(param.shape, value):
            ok = False
            check.problem(spot, _mismatch(param.shape, value))
        else:
            out[key] = value
    for key, param in known.items():
        if param.required and key not in body and key not in skip:
            ok = False
            check.problem(here, f"missing required parameter {key}")
    if not ok:
        return None
    return out if ranges(check, name, out, here) else None


def transform_value(check: Checker, value: Any, spot: Place) -> Any:
    """A parameter that takes a transform: one entry, or a list of them (applied as a Compose)."""
    if isinstance(value, list):
        if not value:
            check.problem(spot, "expected a transform or a non-empty list of transforms, found []")
            return None
        nodes = [entry(check, e, (*spot, i)) for i, e in enumerate(value)]
        return None if any(n is None for n in nodes) else nodes
    return entry(check, value, spot)


def usable_values(check: Checker, name: str, params: dict[str, Any], here: Place) -> bool:
    """Every number finite, and each in the range its transform can use (see :mod:`audioaug_cli.config.limits`)."""

    defaults = {k: p.default for k, p in registry.params_of(name).items() if not p.required}
    ok = True
    for key, value in params.items():
        problem = value_problem(name, key, value, params, defaults)
        if problem is not None:
            check.problem((*here, key), problem)
            ok = False
    for key, problem in relation_problems(name, params, defaults) if ok else []:
        check.problem((*here, key), problem)
        ok = False
    return ok


def ranges(check: Checker, name: str, params: dict[str, Any], here: Place) -> bool:
    """p within [0, 1], min_X <= max_X, and paths that exist: what users get wrong most."""
    known = registry.params_of(name)
    ok = usable_values(check, name, params, here)
    if not ok:
        return False
    p = params.get("p")
    if isinstance(p, (int, float)) and not 0 <= p <= 1:
        check.problem((*here, "p"), f"is a probability and must be between 0 and 1, found {p}")
        ok = False
    for key in known:
        if not key.startswith("min_") or "max_" + key[4:] not in known:
            continue
        high_key = "max_" + key[4:]
        low = params.get(key, known[key].default)
        high = params.get(high_key, known[high_key].default)
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
        if numbers and low > high and (key in params or high_key in params):
            shown = key if key in params else high_key
            check.problem((*here, shown), f"{key} ({low}) is greater than {high_key} ({high})")
            ok = False
    for key, value in params.items():
        if key.endswith("_path"):
            ok = audio_paths(check, value, (*here, key)) and ok
    return ok


def _mismatch(shape: Any, value: Any) -> str:
    """What is wrong with a parameter's value; in a list of choices, the first item that is none."""
    if shape.kind == "list" and shape.parts and shape.parts[0].kind == "enum" and isinstance(value, list):
        choices = [str(v) for v in shape.parts[0].values]
        for item in value:
            if item not in shape.parts[0].values:
                hint = suggest(str(item), choices) or f" (valid: {', '.join(choices)})"
                return f"{item!r} is not one of the choices{hint}"
    return f"expected {describe(shape)}, found {kind(value)}"


def audio_paths(check: Checker, value: Any, spot: Place) -> bool:
    """Each sounds_path / ir_path read now, once: every file that cannot be used is named."""
    ok = True
    for i, item in enumerate(value if isinstance(value, list) else [value]):
        place = (*spot, i) if isinstance(value, list) else spot
        try:
            sound_files(sound_path(check.base_dir, item))
        except SoundFolderError as exc:
            shown = exc.problems[:MAX_NAMED]
            more = len(exc.problems) - len(shown)
            for problem in shown:
                check.problem(place, problem)
            if more:
                check.problem(place, f"... and {more} more such file(s)")
            ok = False
    return ok


def try_construct(
    check: Checker, nodes: list[Node], spec_nodes: list[Node] | None, post: tuple[Node, ...] = ()
) -> None:
    """Build every transform once, so that audiomentations' and our own checks run now, located."""
    from audioaug_cli.transforms.spectrogram import build_spec_pipeline
    from audioaug_cli.transforms.waveform import ConstructionError, build_pipeline

    try:
        if nodes:  # an empty pipeline never loads audiomentations
            build_pipeline(nodes, check.base_dir)
        if spec_nodes:
            build_spec_pipeline(tuple(spec_nodes))
        if post:
            build_pipeline(post, check.base_dir, ("mix", "post"))
    except ConstructionError as exc:
        check.problem(exc.path, exc.message)
