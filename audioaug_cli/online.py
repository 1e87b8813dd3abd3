"""The same YAML online, in a training loop: :class:`Augmenter` augments one array at a time.

    from audioaug_cli import Augmenter
    augment = Augmenter.from_yaml("config.yaml")
    audio, applied = augment(samples, sample_rate, seed=1234)

It runs the run's own steps (the config's ``audio:`` conversion, the pipeline with the item's own
generators), so a manifest row's ``seed`` and its source's samples give that row's output again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from audioaug_cli.config.load import load_config
from audioaug_cli.config.model import Config
from audioaug_cli.engine.item import augmenters_for, render_item
from audioaug_cli.engine.mixing import MixDraw
from audioaug_cli.engine.tasks import item_seed
from audioaug_cli.io.audio import convert


class Augmenter:
    """A config's augmentation as a function of (samples, sample_rate, seed).

    Safe to call from many threads at once (each thread gets its own copy of the pipeline), and
    it leaves the caller's global ``random`` and ``np.random`` states, ``warnings.filters`` and
    ``warnings.showwarning`` as they were.
    """

    def __init__(self, config: Config):
        from audioaug_cli.transforms.spectrogram import FeatureAugmenter
        from audioaug_cli.transforms.waveform import WaveformPipeline

        self.config = config
        self._waveform = WaveformPipeline(config.pipeline, config.base_dir)
        self._features = FeatureAugmenter(config.spectrogram) if config.spectrogram is not None else None

    def __reduce__(self) -> tuple[type[Augmenter], tuple[Config]]:
        """Pickled as its config (a DataLoader's spawned workers, a multiprocessing pool): each copy
        builds its own pipeline."""
        return (Augmenter, (self.config,))

    @classmethod
    def from_yaml(cls, path: str | Path) -> Augmenter:
        """Load and check a config file (raises :class:`audioaug_cli.ConfigError`)."""
        return cls(load_config(path))

    @property
    def sample_rate(self) -> int | None:
        """The rate outputs have when the config's ``audio.sample_rate`` sets one."""
        return self.config.sample_rate

    def __call__(
        self, samples: np.ndarray, sample_rate: int, seed: int = 0, copy: int | None = None
    ) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Augment ``samples`` as soundfile reads them, (frames,) or (frames, channels), with the
        item seed ``seed``; return the audio in the same layout (float32, at the config's rate and
        channels) and the waveform transforms applied, each ``{"name", "params"}``.

        With a manifest row's ``seed`` and its source's samples, the result is that row's audio
        before it was written (bit-exact when ``output.subtype`` is ``FLOAT``; otherwise the file
        holds it quantised to the subtype; ``output.clip`` is about files and does not apply here).
        ``copy`` is the row's copy number, which ``SpeedPerturb: {choice: by_copy}`` needs.
        """
        channels_first, rate = self._prepared(samples, sample_rate)
        with np.errstate(all="ignore"):
            out, applied = self._waveform.augment(channels_first, rate, seed, copy)
        return (out.T if out.ndim == 2 else out), applied

    def with_segments(
        self,
        samples: np.ndarray,
        sample_rate: int,
        segments: list[tuple[float, float]],
        seed: int = 0,
        copy: int | None = None,
    ) -> tuple[np.ndarray, list[dict[str, Any]], list[tuple[float, float, int]]]:
        """As calling the Augmenter, and the time-aligned ``segments`` ((start, end) in seconds) moved
        as the audio moved: (start, end, index into ``segments``), as segments.csv holds them; a
        segment moved out of the audio is gone, one a rolled Shift wraps is two."""
        from audioaug_cli.transforms.timing import check_time_mapping, in_seconds, map_spans, spans_of

        check_time_mapping(self.config)
        audio, applied = self(samples, sample_rate, seed, copy)
        rate = self.config.sample_rate or sample_rate
        steps = self._waveform.timeline() if self.config.pipeline else []
        return audio, applied, in_seconds(map_spans(spans_of(segments, rate), steps, rate, audio.shape[0]), rate)

    def features(
        self, samples: np.ndarray, sample_rate: int, seed: int = 0, copy: int = 1
    ) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """The item's feature, as its ``.npy`` holds it, and every transform applied (waveform, then
        spectrogram), as its manifest row's ``transforms`` lists them. Needs a ``spectrogram:`` section."""
        if self._features is None:
            raise ValueError("this config has no spectrogram: section, so its items have no feature")
        channels_first, rate = self._prepared(samples, sample_rate)
        from audioaug_cli.transforms.warning_capture import warning_filters_kept

        # the run's own item, in memory
        with np.errstate(all="ignore"), warning_filters_kept():
            item = render_item(self.config, self._waveform, self._features, channels_first, rate, copy, seed)
        return cast(np.ndarray, item.feature), item.applied  # a spectrogram: section always gives one

    def mix(
        self,
        samples: np.ndarray,
        sample_rate: int,
        seed: int = 0,
        copy: int = 1,
        others: Mapping[str, tuple[np.ndarray, int]] | Sequence[tuple[np.ndarray, int]] = (),
        split: str | None = None,
    ) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
        """With a ``mix:`` section: the item's mixture and stems, by stem folder name ("mixture",
        "target", "noise", ...; each in the layout soundfile reads), and every transform applied.
        ``others``: the interfering speakers' (samples, sample_rate), ``mix.speakers.count - 1`` of
        them, by name (their source, as the manifest records it) or in a list; ``split``: the
        ``pools.split_by`` value whose subfolders noise and reverb come from.
        The mixture is the sum of the speech, noise and interference stems (without ``mix.post``)."""
        if self.config.mix is None:
            raise ValueError("this config has no mix: section, so its items have no stems")
        config = self.config.for_split(split)
        waveform, _features = augmenters_for(config)
        channels_first, rate = self._prepared(samples, sample_rate)
        given = dict(others) if isinstance(others, Mapping) else {f"others[{i}]": o for i, o in enumerate(others)}
        names = tuple(given)

        def partner(name: str, partner_seed: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
            audio, audio_rate = given[name]
            prepared, prepared_rate = self._prepared(audio, audio_rate)
            prepared, _rate = convert(prepared, prepared_rate, rate, False)
            return waveform.augment(prepared, rate, partner_seed, copy)

        from audioaug_cli.transforms.warning_capture import warning_filters_kept

        with np.errstate(all="ignore"), warning_filters_kept():
            item = render_item(
                config, waveform, None, channels_first, rate, copy, seed, None, MixDraw(names, partner, split)
            )
        stems = {"mixture": item.samples, **(item.stems or {})}
        return {name: (audio.T if audio.ndim == 2 else audio) for name, audio in stems.items()}, item.applied

    def item_seed(self, source: str, copy: int) -> int:
        """The seed `run` gives copy ``copy`` of ``source`` (its path relative to INPUT_DIR)."""
        return item_seed(self.config.seed, source, copy)

    def _prepared(self, samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
        """As `run` reads a file: float32, channels first, then the config's audio: section.

        Integer samples are scaled as soundfile scales them (int16 by 2**15, int32 by 2**31), so
        ``sf.read(path, dtype="int16")`` gives what ``sf.read(path)`` gives."""
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate < 1:
            raise ValueError(f"sample_rate must be a positive integer (Hz), found {sample_rate!r}")
        raw = np.asarray(samples)
        if raw.dtype in (np.int16, np.int32):
            array = (raw / float(np.iinfo(raw.dtype).max + 1)).astype(np.float32)
        elif raw.dtype.kind in "f":
            array = raw.astype(np.float32, copy=False)
        else:
            raise TypeError(f"samples must be float or int16/int32 audio, as soundfile reads it; found {raw.dtype}")
        if array.ndim not in (1, 2) or array.size == 0:
            raise ValueError(f"samples must be (frames,) or (frames, channels), found shape {array.shape}")
        if array.ndim == 2 and array.shape[1] > array.shape[0]:
            raise ValueError(
                f"samples has shape {array.shape}: more channels than frames. The Augmenter takes "
                "soundfile's layout, (frames, channels), as sf.read returns it; pass samples.T"
            )
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        channels_first = np.ascontiguousarray(array.T) if array.ndim == 2 else array.copy()
        return convert(channels_first, sample_rate, self.config.sample_rate, self.config.mono)
