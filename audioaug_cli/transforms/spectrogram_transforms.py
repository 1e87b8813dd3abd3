"""The spectrogram transforms: SpecAugment's masks (Park et al. 2019) and a phase-vocoder time
stretch (torchaudio's TimeStretch), in the manner of audiomentations: ``__init__`` checks and
names the field, ``draw`` picks the parameters from the item's generator, ``apply`` is pure math on
what was drawn. The drawn parameters are what the manifest records, and ``apply`` with them gives
the same array again.

Features are (channels, bins, frames) here; the layout asked for is made when they are written.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import numpy as np

MaskValue = float | Literal["mean"]


class SpecTransform:
    """What the three have in common: a probability, and the stage they work on."""

    stage: ClassVar[str]  # "stft": the STFT, before magnitude, mel and dB; "feature": after them
    supports_multichannel = True

    def __init__(self, p: float):
        if not 0 <= p <= 1:
            raise ValueError(f"p must be between 0 and 1, found {p}")
        self.p = p

    def draw(self, rng: np.random.Generator, array: np.ndarray) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def apply(cls, array: np.ndarray, params: dict[str, Any], hop_length: int) -> np.ndarray:
        """The transform with these drawn (or recorded) parameters: needs no instance."""
        raise NotImplementedError


class SpecTimeStretch(SpecTransform):
    """Stretch the time axis with a phase vocoder on the complex STFT, keeping the pitch.

    As torchaudio's TimeStretch: applied before the magnitude, mel and dB steps; a rate above 1
    makes the feature shorter (``ceil(frames / rate)`` frames). It comes before every mask.

    :param min_rate: The lowest rate drawn (uniformly).
    :param max_rate: The highest rate drawn.
    :param p: The probability of applying this transform.
    """

    stage = "stft"

    def __init__(self, min_rate: float = 0.9, max_rate: float = 1.2, p: float = 0.5):
        super().__init__(p)
        if min_rate <= 0:
            raise ValueError(f"min_rate must be greater than 0, found {min_rate}")
        if min_rate > max_rate:
            raise ValueError(f"min_rate ({min_rate}) must not be greater than max_rate ({max_rate})")
        self.min_rate, self.max_rate = min_rate, max_rate

    def draw(self, rng: np.random.Generator, array: np.ndarray) -> dict[str, Any]:
        return {"rate": float(rng.uniform(self.min_rate, self.max_rate))}

    @classmethod
    def apply(cls, array: np.ndarray, params: dict[str, Any], hop_length: int) -> np.ndarray:
        return phase_vocoder(array, params["rate"], hop_length)


def phase_vocoder(spectrum: np.ndarray, rate: float, hop_length: int) -> np.ndarray:
    """The magnitudes of ``librosa.phase_vocoder(spectrum, rate=rate, hop_length=hop_length)``:
    output frame ``t`` reads the input at ``t * rate``, its magnitude interpolated between the two
    frames around that point. A phase vocoder's phases never change a magnitude, and magnitudes are
    all a feature keeps (a second stretch included), so they are not computed: librosa's loop over
    frames in Python took 6 ms of a 4 s clip's 11 ms item, this takes a fraction of one."""
    magnitude = np.abs(spectrum)
    steps = np.arange(0, magnitude.shape[-1], rate, dtype=np.float64)
    magnitude = np.concatenate([magnitude, np.zeros_like(magnitude[..., :2])], axis=-1)  # librosa's padding
    left = steps.astype(np.int64)
    alpha = (steps - left).astype(magnitude.dtype)
    stretched: np.ndarray = magnitude[..., left] * (1 - alpha) + magnitude[..., left + 1] * alpha
    return stretched


class _Mask(SpecTransform):
    stage = "feature"
    axis: ClassVar[int]  # of a (channels, bins, frames) feature

    def __init__(self, max_width: int, count: int, mask_value: MaskValue, p: float):
        super().__init__(p)
        if max_width < 0:
            raise ValueError(f"max_width must be at least 0, found {max_width}")
        if count < 0:
            raise ValueError(f"count must be at least 0, found {count}")
        if isinstance(mask_value, str) and mask_value != "mean":
            raise ValueError(f"mask_value must be a number or 'mean', found {mask_value!r}")
        self.max_width, self.count, self.mask_value = max_width, count, mask_value

    def widest(self, length: int) -> int:
        return min(self.max_width, length)

    def draw(self, rng: np.random.Generator, array: np.ndarray) -> dict[str, Any]:
        length = array.shape[self.axis]
        widest = self.widest(length)
        masks = []
        for _ in range(self.count):
            width = int(rng.integers(0, widest + 1))
            masks.append([int(rng.integers(0, length - width + 1)), width])
        value = (
            float(array.mean(dtype=np.float64).astype(np.float32))
            if self.mask_value == "mean"
            else float(self.mask_value)
        )
        return {"masks": masks, "mask_value": value}

    @classmethod
    def apply(cls, array: np.ndarray, params: dict[str, Any], hop_length: int) -> np.ndarray:
        out = array.copy()
        view = np.moveaxis(out, cls.axis, 0)
        for start, width in params["masks"]:
            view[start : start + width] = params["mask_value"]
        return out


class SpecFrequencyMask(_Mask):
    """Set bands of adjacent frequency bins to one value, in every channel (SpecAugment's frequency masks).

    Each of ``count`` masks draws its width uniformly from the integers 0..max_width (at most the
    number of bins) and its first bin uniformly from those where it fits. Masks may overlap.

    :param max_width: The widest mask, in bins (SpecAugment's F).
    :param count: How many masks (SpecAugment's m_F).
    :param mask_value: The value of masked cells: a number, or 'mean' for the feature's mean just before this transform.
    :param p: The probability of applying this transform.
    """

    axis = 1

    def __init__(self, max_width: int = 27, count: int = 1, mask_value: MaskValue = -1.0, p: float = 1.0):
        super().__init__(max_width, count, mask_value, p)


class SpecTimeMask(_Mask):
    """Set runs of adjacent frames to one value, in every channel (SpecAugment's time masks).

    Each of ``count`` masks draws its width uniformly from the integers 0..max_width, at most
    ``floor(max_fraction * frames)`` and at most the number of frames, and its first frame
    uniformly from those where it fits. Masks may overlap.

    :param max_width: The widest mask, in frames (SpecAugment's T).
    :param count: How many masks (SpecAugment's m_T).
    :param max_fraction: The widest mask as a fraction of the frames (SpecAugment's p).
    :param mask_value: The value of masked cells: a number, or 'mean' for the feature's mean just before this transform.
    :param p: The probability of applying this transform.
    """

    axis = 2

    def __init__(
        self,
        max_width: int = 100,
        count: int = 2,
        max_fraction: float = 1.0,
        mask_value: MaskValue = -1.0,
        p: float = 1.0,
    ):
        super().__init__(max_width, count, mask_value, p)
        if not 0 <= max_fraction <= 1:
            raise ValueError(f"max_fraction must be between 0 and 1, found {max_fraction}")
        self.max_fraction = max_fraction

    def widest(self, length: int) -> int:
        return min(self.max_width, length, math.floor(self.max_fraction * length))


SPEC_TRANSFORMS: dict[str, type[SpecTransform]] = {
    cls.__name__: cls for cls in (SpecFrequencyMask, SpecTimeMask, SpecTimeStretch)
}
