"""Mixing as a run does it: the splits checked against the pools before any work, each copy's
interfering sources drawn by the plan (from the sources of the item's own split, never its own
source nor its speaker), and an interfering source's audio made in the worker."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audioaug_cli.config.model import Config
from audioaug_cli.errors import ItemError, UsageError, suggest
from audioaug_cli.io.manifest import Labels
from audioaug_cli.io.store import Store

if TYPE_CHECKING:
    import numpy as np

    from audioaug_cli.transforms.mix import Mixer, Partner
    from audioaug_cli.transforms.waveform import WaveformPipeline

POST_SALT = 0x706F7374  # what the mixture's post pipeline is seeded with beside the item's seed
PARTNER_SALT = "speakers"  # what a copy's partner draw is seeded with beside its seed
_TRIES = 64  # random picks before the draw walks the candidates in order


def check_pools(config: Config, labels: Labels, path: str | Path | None) -> None:
    """``pools:`` needs --labels with its columns, and every split named there needs a subfolder
    of each folder the config draws from, holding audio: said before anything is written."""
    pools = config.pools
    if pools is None:
        return
    from audioaug_cli.config.mixing import SPLIT_NAME

    for column in (pools.split_by, pools.speaker_by):
        if column is None or column in labels.columns:
            continue
        if path is None:
            raise UsageError(f"the config's pools are split by the label column {column!r}: give --labels CSV")
        raise UsageError(
            f"{path}: no column {column!r}, which the config's pools name; found columns: "
            f"{', '.join(labels.columns) or 'none'}{suggest(column, labels.columns)}"
        )
    if pools.split_by is None:
        return
    splits = sorted({v for v in (labels.value(rel, pools.split_by) for rel in labels.values) if v})
    for split in splits:
        if not SPLIT_NAME.match(split):
            raise UsageError(
                f"{path}: the split {split!r} cannot name a folder of the pools (letters, digits, '.', '_', '-')"
            )
    from audioaug_cli.io.sounds import SoundFolderError, sound_files, sound_path

    for folder in config.pool_folders():
        for split in splits:
            try:
                sound_files(sound_path(config.base_dir, folder.rstrip("/") + "/" + split))
            except SoundFolderError as exc:
                raise UsageError(f"pools: the {split} split: {exc.problems[0]}") from None


class PartnerPool:
    """Every source that may be mixed into another, by split: (source, speaker), sorted."""

    def __init__(self, config: Config, entries: Iterable[tuple[str, str | None, str | None]]):
        self.needed = config.mix.interferers if config.mix is not None else 0
        self.by_speaker = config.pools is not None and config.pools.speaker_by is not None
        self.by_split: dict[str | None, list[tuple[str, str | None]]] = {}
        for rel, split, speaker in entries:
            self.by_split.setdefault(split, []).append((rel, speaker or None))
        for found in self.by_split.values():
            found.sort()

    def draw(self, rel: str, split: str | None, speaker: str | None, seed: int) -> tuple[str, ...]:
        """``needed`` other sources of the same split, each of a speaker of its own (fewer when
        there are not enough: the item then fails alone, saying so). The same for the same seed."""
        candidates = self.by_split.get(split, [])
        rng = random.Random(f"{seed}:{PARTNER_SALT}")
        chosen: list[str] = []
        speakers = {speaker} if speaker else set()

        def takes(entry: tuple[str, str | None]) -> bool:
            other, who = entry
            if other == rel or other in chosen:
                return False
            return not (self.by_speaker and who is not None and who in speakers)

        def take(entry: tuple[str, str | None]) -> None:
            chosen.append(entry[0])
            if entry[1] is not None:
                speakers.add(entry[1])

        for _ in range(_TRIES * self.needed):
            if len(chosen) == self.needed or not candidates:
                break
            entry = candidates[rng.randrange(len(candidates))]
            if takes(entry):
                take(entry)
        if len(chosen) < self.needed and candidates:
            start = rng.randrange(len(candidates))
            for i in range(len(candidates)):
                entry = candidates[(start + i) % len(candidates)]
                if len(chosen) == self.needed:
                    break
                if takes(entry):
                    take(entry)
        return tuple(chosen)


def partner_reader(config: Config, augmenter: WaveformPipeline, inputs: Store, sample_rate: int, copy: int) -> Partner:
    """How a worker makes an interfering source: decoded, converted as the config says (and to
    the item's rate), then through the pipeline with its own seed."""
    from audioaug_cli.io.audio import convert

    def make(rel: str, seed: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
        try:
            samples, rate = inputs.read_audio(inputs.path(rel), rel)
        except ItemError as exc:
            raise ItemError(f"the interfering source {rel}: {exc}") from None
        samples, rate = convert(samples, rate, config.sample_rate, config.mono)
        samples, rate = convert(samples, rate, sample_rate, False)
        out, applied = augmenter.augment(samples, rate, seed, copy)
        return out, applied

    return make


@dataclass(frozen=True)
class MixDraw:
    """What an item mixes with, beside what it draws itself: its interfering sources (drawn by the
    plan, or read from the manifest by `replay`) and how to make one."""

    partners: tuple[str, ...]
    partner: Partner
    split: str | None = None


# One mixer and post pipeline per config in a process, shared by its threads.
_mixers: dict[tuple[str, str], tuple[Mixer, WaveformPipeline]] = {}
_mixers_lock = threading.Lock()


def mixer_for(config: Config) -> tuple[Mixer, WaveformPipeline]:
    """A config's mixer and its ``mix.post`` pipeline."""
    from audioaug_cli.transforms.mix import mixer_for as make_mixer
    from audioaug_cli.transforms.waveform import WaveformPipeline

    assert config.mix is not None
    key = (config.hash, config.base_dir)
    with _mixers_lock:
        if key not in _mixers:
            _mixers[key] = (make_mixer(config.mix, config.base_dir), WaveformPipeline(config.mix.post, config.base_dir))
        return _mixers[key]


def mix_item(
    config: Config,
    out: np.ndarray,
    applied: list[dict[str, Any]],
    rate: int,
    copy: int,
    seed: int,
    draw: MixDraw,
) -> tuple[np.ndarray, list[dict[str, Any]], dict[str, np.ndarray], list[Any]]:
    """The augmented source mixed (see :mod:`audioaug_cli.transforms.mix`), then ``mix.post`` on the
    mixture: the mixture, what was applied, the other stems and post's steps in time."""
    mixer, post = mixer_for(config)
    mixed = mixer.mix(out, rate, seed, draw.partners, draw.partner)
    entry = mixed.entry
    if draw.split is not None:
        entry["params"]["split"] = draw.split
    stems = dict(mixed.stems)
    mixture = stems.pop("mixture")
    applied = [*applied, entry]
    steps: list[Any] = []
    if config.mix is not None and config.mix.post:
        mixture, after = post.augment(mixture, rate, seed ^ POST_SALT, copy)
        applied, steps = [*applied, *after], post.timeline()
    return mixture, applied, stems, steps
