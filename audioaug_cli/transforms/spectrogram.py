"""The spectrogram side: a feature per output item, optionally augmented.

The clean feature of audio ``x`` (channels, samples) is librosa's
``power_to_db(melspectrogram(y=x, ...))`` with the config's settings (``n_mels: null``: the STFT's
magnitude to ``power``; ``db: null``: linear values). The spectrogram pipeline works on it in two
stages: ``SpecTimeStretch`` replaces the STFT before the magnitude, mel and dB steps (a phase
vocoder, of which only the magnitudes are kept), and the masks work on the feature after them.
Its draws come from ``numpy.random.default_rng(item_seed)``, which belongs to the item, so
features are as reproducible as the audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from audioaug_cli.config.model import FeatureSettings, Node
from audioaug_cli.errors import ItemError
from audioaug_cli.transforms.spectrogram_transforms import SPEC_TRANSFORMS, SpecTimeStretch, SpecTransform
from audioaug_cli.transforms.waveform import ConstructionError


# -- the clean feature ------------------------------------------------------------------------
def stft(x: np.ndarray, settings: FeatureSettings) -> np.ndarray:
    """The complex STFT of (channels, samples) or (samples,) audio: (channels, bins, frames).

    ``librosa.stft(x, n_fft, hop_length, win_length, window, center, pad_mode)``, computed in one
    call of scipy's FFT over all frames: librosa's own, with numpy's FFT in blocks, took twice as
    long (1.5 ms of a 4 s clip), a fifth of an item's time.
    """
    import scipy.fft

    audio = x[np.newaxis] if x.ndim == 1 else x
    n_fft = settings.n_fft
    if settings.center:
        audio = np.pad(audio, [(0, 0), (n_fft // 2, n_fft // 2)], mode=settings.pad_mode)
    if audio.shape[-1] < n_fft:
        raise ItemError(
            f"too short for the spectrogram: {x.shape[-1]} samples, fewer than n_fft "
            f"({n_fft}); with center: false each frame needs n_fft samples"
        )
    frames = np.lib.stride_tricks.sliding_window_view(audio, n_fft, axis=-1)[:, :: settings.hop]
    spectrum: np.ndarray = scipy.fft.rfft(
        frames * _window(settings.window, settings.win_length or n_fft, n_fft), axis=-1
    )
    return spectrum.astype(np.complex64, copy=False).swapaxes(-1, -2)


@lru_cache(maxsize=16)
def _window(window: str, win_length: int, n_fft: int) -> np.ndarray:
    """librosa's analysis window: scipy's periodic window of win_length, centred in n_fft."""
    import librosa

    window_array: np.ndarray = librosa.util.pad_center(
        librosa.filters.get_window(window, win_length, fftbins=True), size=n_fft
    ).astype(np.float32)
    return window_array


def feature_of_stft(spectrum: np.ndarray, sample_rate: int, settings: FeatureSettings) -> np.ndarray:
    """Magnitude to ``power``, mel projection, decibels: the float32 (channels, bins, frames) feature."""
    values = np.abs(spectrum)
    if settings.power != 1.0:
        values = values**settings.power
    if settings.n_mels is not None:
        basis = _mel_basis(
            sample_rate, settings.n_fft, settings.n_mels, settings.fmin, settings.fmax, settings.htk, settings.norm
        )
        # librosa.feature.melspectrogram's product, with the filters as a sparse matrix: the same sums,
        # in an order that does not depend on BLAS's thread count (features stay byte-identical
        # whatever -j), and faster, as each band holds only a few bins.
        values = np.stack([basis @ channel for channel in values])
    if settings.db is not None:
        import librosa

        values = librosa.power_to_db(values, ref=settings.db.ref, amin=settings.db.amin, top_db=settings.db.top_db)
    return np.asarray(values, dtype=np.float32)


@lru_cache(maxsize=16)
def _mel_basis(
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    fmin: float,
    fmax: float | None,
    htk: bool,
    norm: Literal["slaney"] | None,
) -> Any:
    """librosa's mel filters as a sparse matrix, made once per sample rate in a process (and so is
    librosa's warning about empty mel bands)."""
    import librosa
    from scipy.sparse import csr_array

    return csr_array(
        librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm)
    )


def clean_feature(x: np.ndarray, sample_rate: int, settings: FeatureSettings) -> np.ndarray:
    """The feature before any spectrogram transform, in the settings' layout."""
    return in_layout(feature_of_stft(stft(x, settings), sample_rate, settings), settings.layout)


def in_layout(feature: np.ndarray, layout: str) -> np.ndarray:
    """(channels, bins, frames) as is, or as (frames, bins, channels) for channels_last (kapre's)."""
    return feature if layout == "channels_first" else np.ascontiguousarray(feature.transpose(2, 1, 0))


# -- the spectrogram pipeline -----------------------------------------------------------------
@dataclass(frozen=True)
class _Composition:
    """Compose, OneOf or SomeOf over spectrogram transforms, with audiomentations' meaning."""

    name: str
    children: tuple[Any, ...]
    p: float = 1.0
    shuffle: bool = False
    weights: tuple[float, ...] | None = None
    num_transforms: int | tuple[int, int | None] = 1

    def choose(self, rng: np.random.Generator) -> list[Any]:
        count = len(self.children)
        if self.name == "Compose":
            return [self.children[i] for i in (rng.permutation(count) if self.shuffle else range(count))]
        if self.name == "OneOf":
            weights = np.asarray(self.weights if self.weights else [1.0] * count, dtype=np.float64)
            return [self.children[int(rng.choice(count, p=weights / weights.sum()))]]
        if isinstance(self.num_transforms, int):
            k = self.num_transforms
        else:
            low, high = self.num_transforms
            k = int(rng.integers(low, (count if high is None else high) + 1))
        return [self.children[i] for i in sorted(rng.choice(count, size=k, replace=False))]


def build_spec_pipeline(
    nodes: tuple[Node, ...], path: tuple[str | int, ...] = ("spectrogram", "pipeline")
) -> _Composition:
    """The spectrogram pipeline's root: a Compose of its nodes. Raises ConstructionError, located."""
    root = _Composition("Compose", tuple(_build(n, (*path, i)) for i, n in enumerate(nodes)))
    _check_order(root, path)
    return root


def _build(node: Node, path: tuple[str | int, ...]) -> Any:
    here = (*path, node.name)
    if node.transforms is not None:
        children = tuple(_build(c, (*here, "transforms", i)) for i, c in enumerate(node.transforms))
        params = dict(node.params)
        if isinstance(params.get("num_transforms"), list):
            params["num_transforms"] = tuple(params["num_transforms"])
        if params.get("weights") is not None:
            params["weights"] = tuple(params["weights"])
        return _Composition(node.name, children, **params)
    try:
        return SPEC_TRANSFORMS[node.name](**node.params)
    except (ValueError, TypeError) as exc:
        raise ConstructionError(path, f"{node.name}: {exc}") from None


def _leaves(transform: Any) -> list[SpecTransform]:
    if isinstance(transform, _Composition):
        return [leaf for child in transform.children for leaf in _leaves(child)]
    return [transform]


def _check_order(root: _Composition, path: tuple[str | int, ...]) -> None:
    """SpecTimeStretch works on the STFT, the masks on the feature: no stretch may follow a mask."""
    masked = False
    for leaf in _leaves(root):
        if isinstance(leaf, SpecTimeStretch) and masked:
            raise ConstructionError(
                path,
                "SpecTimeStretch works on the STFT, before the mel and dB steps, so it must come before every mask",
            )
        masked = masked or not isinstance(leaf, SpecTimeStretch)
    for composition in _compositions(root):
        kinds = {isinstance(leaf, SpecTimeStretch) for leaf in _leaves(composition)}
        if composition.shuffle and len(kinds) == 2:
            raise ConstructionError(
                path,
                "a Compose with shuffle: true may not hold both SpecTimeStretch and masks: the stretch must come first",
            )


def _compositions(transform: Any) -> list[_Composition]:
    if not isinstance(transform, _Composition):
        return []
    return [transform, *(c for child in transform.children for c in _compositions(child))]


class _Feature:
    """An item's spectrogram on its way: the complex STFT, then (at the first mask) the feature."""

    def __init__(self, x: np.ndarray, sample_rate: int, settings: FeatureSettings):
        self.settings, self.sample_rate = settings, sample_rate
        self.array = stft(x, settings)
        self.stage = "stft"

    def at(self, stage: str) -> np.ndarray:
        if stage == "feature" and self.stage == "stft":
            self.array = feature_of_stft(self.array, self.sample_rate, self.settings)
            self.stage = "feature"
        return self.array

    def apply(self, transform: SpecTransform | type[SpecTransform], params: dict[str, Any]) -> None:
        self.array = transform.apply(self.at(transform.stage), params, self.settings.hop)

    def result(self) -> np.ndarray:
        return in_layout(self.at("feature"), self.settings.layout)


class FeatureAugmenter:
    """Features for one config's items. Holds no per-item state, so threads may share it."""

    def __init__(self, settings: FeatureSettings):
        self.settings = settings
        self.root = build_spec_pipeline(settings.pipeline)

    def clean(self, x: np.ndarray, sample_rate: int) -> np.ndarray:
        return clean_feature(x, sample_rate, self.settings)

    def augment(self, x: np.ndarray, sample_rate: int, seed: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """The augmented feature of ``x`` and the spectrogram transforms applied, with their parameters."""
        rng = np.random.default_rng(seed)
        feature = _Feature(x, sample_rate, self.settings)
        applied: list[dict[str, Any]] = []
        self._run(self.root, feature, rng, applied)
        return feature.result(), applied

    def _run(self, transform: Any, feature: _Feature, rng: np.random.Generator, applied: list[dict[str, Any]]) -> None:
        if rng.random() >= transform.p:
            return
        if isinstance(transform, _Composition):
            for child in transform.choose(rng):
                self._run(child, feature, rng, applied)
            return
        params = transform.draw(rng, feature.at(transform.stage))
        feature.apply(transform, params)
        applied.append({"name": type(transform).__name__, "params": params})


def replay_features(
    x: np.ndarray, sample_rate: int, settings: FeatureSettings, applied: list[dict[str, Any]]
) -> np.ndarray:
    """The feature that spectrogram transforms with these recorded parameters give for ``x``: what
    a manifest row's feature_file holds, from its written audio and its ``transforms``."""
    feature = _Feature(x, sample_rate, settings)
    for entry in applied:
        if entry["name"] in SPEC_TRANSFORMS:
            feature.apply(SPEC_TRANSFORMS[entry["name"]], entry["params"])
    return feature.result()
