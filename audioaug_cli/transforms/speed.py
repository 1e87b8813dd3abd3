"""SpeedPerturb: the audio played faster or slower, tempo and pitch together, as Kaldi's and ESPnet's
speed perturbation (``sox speed``), which audiomentations lacks: ``TimeStretch`` keeps the pitch,
``PitchShift`` the tempo.

The audio is resampled from ``sample_rate`` to ``sample_rate / rate`` with soxr (librosa's own
resampler) and then read at ``sample_rate``: ``round(frames / rate)`` frames, every frequency times
``rate``. An audiomentations waveform transform like the others: ``randomize_parameters`` draws
from the item's generator, ``apply`` is pure math on what was drawn, and ``{"rate": r}`` is what
the manifest records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from audioaug_cli.transforms import compat

compat.load_audiomentations()  # the base class's package, without importing every transform
from audiomentations.core.transforms_interface import BaseWaveformTransform  # noqa: E402

MIN_RATE, MAX_RATE = 0.1, 10.0  # beyond these a "speed" is another recording altogether


class SpeedPerturb(BaseWaveformTransform):  # type: ignore[misc]
    """Change the speed, and with it tempo and pitch, by resampling: Kaldi's speed perturbation.

    With ``choice: by_copy``, copy k gets ``rates[(k - 1) mod len(rates)]``, so ``copies: 3`` with
    the default rates is Kaldi's 3-way perturbation (perturb_data_dir_speed_3way.sh).

    :param rates: The speeds to choose from; above 1 is faster (shorter, higher).
    :param choice: random: one rate drawn per item; by_copy: the rate follows the copy number.
    :param p: The probability of applying this transform.
    """

    supports_multichannel = True

    def __init__(
        self,
        rates: Sequence[float] = (0.9, 1.0, 1.1),
        choice: Literal["random", "by_copy"] = "random",
        p: float = 1.0,
    ):
        super().__init__(p)
        rates = list(rates)
        if not rates:
            raise ValueError("rates must hold at least one speed")
        for rate in rates:
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not MIN_RATE <= rate <= MAX_RATE:
                raise ValueError(f"each rate must be a number from {MIN_RATE} to {MAX_RATE}, found {rate!r}")
        if choice not in ("random", "by_copy"):
            raise ValueError(f"choice must be random or by_copy, found {choice!r}")
        self.rates, self.choice = [float(r) for r in rates], choice

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int) -> None:
        super().randomize_parameters(samples, sample_rate)
        if not self.parameters["should_apply"]:
            return
        if self.choice == "random":
            self.parameters["rate"] = compat.current_random().choice(self.rates)
            return
        copy = compat.current_copy()
        if copy is None:
            raise ValueError("SpeedPerturb with choice: by_copy takes the rate from the copy number: give copy=")
        self.parameters["rate"] = self.rates[(copy - 1) % len(self.rates)]

    def apply(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        return speed_changed(samples, sample_rate, self.parameters["rate"])


def speed_changed(samples: np.ndarray, sample_rate: int, rate: float) -> np.ndarray:
    """Channels-first (or mono) audio at ``rate`` times the speed: ``round(frames / rate)`` frames."""
    import soxr

    if rate == 1.0:
        return samples
    frames = samples.shape[-1]
    target = round(frames / rate)
    frames_first = samples.T if samples.ndim == 2 else samples
    out: Any = soxr.resample(np.ascontiguousarray(frames_first), sample_rate, sample_rate / rate)
    out = out.T if samples.ndim == 2 else out
    if out.shape[-1] > target:  # soxr's length is within a frame of frames / rate
        out = out[..., :target]
    elif out.shape[-1] < target:
        out = np.pad(out, [(0, 0)] * (out.ndim - 1) + [(0, target - out.shape[-1])])
    return np.ascontiguousarray(out, dtype=np.float32)
