"""Where a time in the input is in the output: segments mapped through the transforms an item
applied, from what each drew and what it did to the frames (a :class:`~.waveform.Step`).

Every transform a config can name is classified here. Those that keep time leave a segment where
it is; those that move samples map it (Shift, TimeStretch, SpeedPerturb, Reverse, Trim,
AdjustDuration, RepeatPart, Resample). A transform that is in neither set is refused by the
config check when ``--segments`` is given, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from audioaug_cli.config.model import Config, Node, Place
from audioaug_cli.errors import ConfigError, Problem, location
from audioaug_cli.transforms.waveform import Step

KEEPS_TIME = frozenset(
    {
        "AddBackgroundNoise",
        "AddColorNoise",
        "AddGaussianNoise",
        "AddGaussianSNR",
        "AddShortNoises",
        "AirAbsorption",
        "Aliasing",
        "ApplyImpulseResponse",
        "BandPassFilter",
        "BandStopFilter",
        "BitCrush",
        "Clip",
        "ClippingDistortion",
        "Codec",
        "Gain",
        "GainTransition",
        "HighPassFilter",
        "HighShelfFilter",
        "Limiter",
        "LoudnessNormalization",
        "LowPassFilter",
        "LowShelfFilter",
        "Mp3Compression",
        "Normalize",
        "Padding",
        "PeakingFilter",
        "PitchShift",
        "PolarityInversion",
        "RoomSimulator",
        "SevenBandParametricEQ",
        "TanhDistortion",
        "Telephone",
        "TimeMask",
    }
)  # a reverb's tail, when its length is not kept, is added after the end: times stay
MOVES_TIME = frozenset(
    {"Shift", "TimeStretch", "SpeedPerturb", "Reverse", "Trim", "AdjustDuration", "RepeatPart", "Resample"}
)
COMPOSITIONS = frozenset({"Compose", "OneOf", "SomeOf"})

Span = tuple[float, float, int]  # start and end in frames, and the index of the source's segment


def time_problems(nodes: Iterable[Node], here: Place = ("pipeline",)) -> list[Problem]:
    """Why segments cannot be mapped through this pipeline: one problem per transform whose effect
    on time cannot be stated."""
    problems = []
    for i, node in enumerate(nodes):
        place = (*here, i, node.name)
        if node.name in COMPOSITIONS:
            problems += time_problems(node.transforms or (), (*place, "transforms"))
        elif node.name not in KEEPS_TIME | MOVES_TIME:
            problems.append(
                Problem(
                    location(place),
                    f"{node.name}'s effect on time is not known to audioaug, so "
                    "--segments cannot be mapped through it; leave it out, or run without --segments",
                )
            )
        elif node.name == "RepeatPart" and node.nested.get("part_transform"):
            moving = [n.name for n in node.nested["part_transform"] if n.name not in KEEPS_TIME]
            if moving:
                problems.append(
                    Problem(
                        location((*place, "part_transform")),
                        f"{', '.join(moving)} changes the "
                        "repeated part's length, which --segments cannot follow; use a "
                        "part_transform that keeps time",
                    )
                )
    return problems


def check_time_mapping(config: Config) -> None:
    """Refuse (ConfigError, exit 2) a pipeline with a transform whose effect on time cannot be
    stated, when segments are to be mapped through it (`run --segments`, `preview --segments`,
    ``Augmenter.with_segments``)."""
    problems = time_problems(config.pipeline)
    if config.mix is not None:
        problems += time_problems(config.mix.post, ("mix", "post"))
    if problems:
        raise ConfigError("the config (with --segments)", problems)


def map_spans(spans: list[Span], steps: list[Step], sample_rate: int, frames: int) -> list[Span]:
    """The spans, in frames of the output (``frames`` long), after every step in order: clipped to
    the audio, dropped when moved wholly out of it, split in two when a rolled Shift wraps one."""
    for step in [*steps, Step("Gain", None, {}, frames, frames, 0)]:  # the last: clipped to the output
        frames = step.frames_out or step.frames_in
        spans = [kept for span in spans for kept in _step(span, step, sample_rate) if kept[1] > kept[0]]
    return spans


def _step(span: Span, step: Step, sample_rate: int) -> list[Span]:
    start, end, index = span
    n_in, n_out, params, name = step.frames_in, step.frames_out, step.params, step.name
    if n_in == 0 or name in KEEPS_TIME:
        return [_clip(start, end, index, n_out or n_in)]
    if name == "Shift":
        return _shifted(
            span,
            _shift_frames(step.transform, params["shift_amount"], n_in, sample_rate),
            n_in,
            bool(step.transform.rollover),
        )
    if name in ("TimeStretch", "SpeedPerturb"):
        rate = params["rate"]
        return [_clip(start / rate, end / rate, index, n_out)]
    if name == "Resample":
        scale = n_out / n_in
        return [_clip(start * scale, end * scale, index, n_out)]
    if name == "Reverse":
        return [(n_in - end, n_in - start, index)]
    if name in ("Trim", "AdjustDuration"):
        return [_clip(start - step.offset, end - step.offset, index, n_out)]
    if name == "RepeatPart":  # the repeats go in at the part's end: what follows moves by their length
        at, added = params["part_start_index"] + params["part_num_samples"], n_out - n_in
        if end <= at:
            return [_clip(start, end, index, n_out)]
        if start >= at:
            return [_clip(start + added, end + added, index, n_out)]
        return [_clip(start, at, index, n_out), _clip(at + added, end + added, index, n_out)]  # split by them
    raise ValueError(f"{name}: no time mapping")  # time_problems refuses such a config first


def _clip(start: float, end: float, index: int, frames: int) -> Span:
    return (min(max(start, 0.0), frames), min(max(end, 0.0), frames), index)


def _shift_frames(shift: Any, amount: float, frames: int, sample_rate: int) -> int:
    """The frames audiomentations' Shift moves by, as its apply() computes them."""
    if shift.shift_unit == "samples":
        return int(amount)
    return int(round(amount * (frames if shift.shift_unit == "fraction" else sample_rate)))


def _shifted(span: Span, by: int, frames: int, rollover: bool) -> list[Span]:
    start, end, index = span
    start, end = start + by, end + by
    if not rollover:
        return [_clip(start, end, index, frames)]
    if end - start >= frames:
        return [(0.0, float(frames), index)]
    wraps = start // frames
    start, end = start - wraps * frames, end - wraps * frames  # start in [0, frames)
    if end <= frames:
        return [(start, end, index)]
    return [(start, float(frames), index), (0.0, end - frames, index)]


def spans_of(segments: Iterable[tuple[float, float]], sample_rate: int) -> list[Span]:
    """Segments in seconds as spans in frames at ``sample_rate``."""
    return [(start * sample_rate, end * sample_rate, i) for i, (start, end) in enumerate(segments)]


def in_seconds(spans: list[Span], sample_rate: int) -> list[tuple[float, float, int]]:
    """Spans as (start, end) seconds to 6 decimals, each end exact to one frame of the output. A
    span shorter than a frame once rounded to frames (a 20 µs segment sped up) is dropped: no
    audio holds it, and lhotse and Kaldi refuse a segment that lasts nothing."""
    frames = [(round(s), round(e), i) for s, e, i in spans]
    return [(round(s / sample_rate, 6), round(e / sample_rate, 6), i) for s, e, i in frames if e > s]
