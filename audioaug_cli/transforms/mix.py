"""Mixtures and their stems: the speech at a drawn level, reverberated by a drawn impulse response,
with an excerpt of a drawn noise at a drawn SNR and other speakers at drawn SIRs.

Everything an item draws comes from its own generator (seeded by the item's seed), in a fixed
order, so the same item is the same mixture in any process. Pool files are never decoded whole
per item: a noise excerpt is read with a seek (its header and sha256 are remembered per process),
and an impulse response, being short, is decoded once per process.

The stems are made in float64 and the mixture is their sum; one scale factor keeps every stem
and the mixture within full scale, so the sum still holds on the files written.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audioaug_cli.config.model import MixSettings
from audioaug_cli.errors import ItemError

EARLY_SECONDS = 0.05  # the early part of a reverb: the direct path and what follows within 50 ms
HEADROOM = 10 ** (-0.1 / 20)  # a mixture that would clip is scaled to this peak (-0.1 dBFS)
MIX_SALT = 0x6D6978  # what an item's mixing generator is seeded with beside its seed ("mix")

# An interfering speaker: (its source, the seed its pipeline draws with) -> its audio, channels
# first, at the item's rate, and the transforms applied to it.
Partner = Callable[[str, int], tuple[np.ndarray, list[dict[str, Any]]]]


@dataclass(frozen=True)
class Mixed:
    stems: dict[str, np.ndarray]  # every stem written, by folder name, mixture included (float32)
    entry: dict[str, Any]  # the manifest's Mix entry: what was drawn


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0


def sha256_of(path: str) -> str:
    return _file_facts(path)[2]


@functools.lru_cache(maxsize=4096)
def _file_facts(path: str) -> tuple[int, int, str]:
    """A pool file's frames, rate and sha256, read once per process."""
    import soundfile

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    info = soundfile.info(path)
    return int(info.frames), int(info.samplerate), digest.hexdigest()


@functools.lru_cache(maxsize=64)
def _impulse_response(path: str, sample_rate: int) -> np.ndarray:
    """A mono impulse response at ``sample_rate`` (decoded once per process and rate)."""
    import soundfile

    data, rate = soundfile.read(path, dtype="float64", always_2d=True)
    ir = data.mean(axis=1)
    if rate != sample_rate:
        import soxr

        ir = soxr.resample(ir, rate, sample_rate, quality="HQ")
    if not np.any(ir):
        raise ItemError(f"the impulse response {path} is silent")
    return np.asarray(ir, dtype=np.float64)


def _excerpt(path: str, offset: int, frames: int) -> np.ndarray:
    """``frames`` mono frames of a file from ``offset`` (a seek, not a whole-file decode); a file
    shorter than that is looped."""
    import soundfile

    total = _file_facts(path)[0]
    with soundfile.SoundFile(path) as handle:
        if total >= frames:
            handle.seek(offset)
            data = handle.read(frames, dtype="float64", always_2d=True)
        else:
            data = handle.read(dtype="float64", always_2d=True)
    mono: np.ndarray = data.mean(axis=1)
    if mono.shape[0] < frames:
        mono = np.tile(mono, -(-frames // max(mono.shape[0], 1)))[:frames]
    return mono


def _to_shape(samples: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Mono audio (or another channel count) spread over ``like``'s channels."""
    if like.ndim == 1:
        found: np.ndarray = samples if samples.ndim == 1 else samples.mean(axis=0)
        return found
    mono = samples if samples.ndim == 1 else samples.mean(axis=0)
    return np.broadcast_to(mono, like.shape).copy()


def _fit(samples: np.ndarray, frames: int, offset: int) -> np.ndarray:
    """``frames`` frames of ``samples`` from ``offset``, zero-padded at the end when shorter."""
    part = samples[..., offset : offset + frames]
    if part.shape[-1] < frames:
        pad = [(0, 0)] * (part.ndim - 1) + [(0, frames - part.shape[-1])]
        part = np.pad(part, pad)
    return part


class Mixer:
    """Makes an item's mixture and stems from its augmented source. ``pools``: each pool's files,
    (what :func:`audioaug_cli.io.sounds.sound_files` lists), relative to ``base_dir`` in the record."""

    def __init__(self, settings: MixSettings, base_dir: str | Path, noises: tuple[str, ...], irs: tuple[str, ...]):
        self.settings = settings
        self.base_dir = Path(base_dir)
        self.noises, self.irs = noises, irs

    def shown(self, path: str) -> str:
        """A pool file as the manifest names it: from the config's folder, or the URL it came from."""
        from audioaug_cli.io.sounds import shown_sound_path

        fetched = shown_sound_path(path)
        if fetched is not None:
            return fetched
        found = Path(path)
        return found.relative_to(self.base_dir).as_posix() if found.is_relative_to(self.base_dir) else path

    def mix(
        self, samples: np.ndarray, sample_rate: int, seed: int, partners: tuple[str, ...], partner: Partner
    ) -> Mixed:
        settings = self.settings
        rng = np.random.default_rng([seed, MIX_SALT])
        dry = samples.astype(np.float64)
        frames = dry.shape[-1]
        level = float(rng.uniform(*settings.level_db))
        entry: dict[str, Any] = {"level_db": level}
        speech, target = dry, dry
        reverb = settings.reverb
        if reverb is not None:
            entry["reverb"] = None
            if rng.random() < reverb.p:
                path = self.irs[int(rng.integers(len(self.irs)))]
                ir = _impulse_response(path, sample_rate)
                speech = _convolve(dry, ir)
                if reverb.target == "early":
                    direct = int(np.argmax(np.abs(ir)))
                    target = _convolve(dry, ir[: direct + int(EARLY_SECONDS * sample_rate) + 1])
                elif reverb.target == "reverberant":
                    target = speech
                entry["reverb"] = {"file": self.shown(path), "sha256": sha256_of(path), "target": reverb.target}
        loudness = rms(speech)
        if loudness == 0:
            raise ItemError("the speech is silent after the pipeline: it has no level to be set to")
        gain = 10 ** (level / 20) / loudness
        speech, target = speech * gain, target * gain
        loudness = rms(speech)
        parts: dict[str, np.ndarray] = {"speech": speech, "target": target}
        noise_settings = settings.noise
        noise = np.zeros_like(speech)
        if noise_settings is not None:
            entry["noise"] = None
            if rng.random() < noise_settings.p:
                path = self.noises[int(rng.integers(len(self.noises)))]
                snr = float(rng.uniform(*noise_settings.snr_db))
                noise, drawn = self._noise(path, rng, frames, sample_rate, speech, loudness, snr)
                entry["noise"] = {"file": self.shown(path), "sha256": sha256_of(path), **drawn}
        parts["noise"] = noise
        interference = self._interference(rng, seed, partners, partner, speech, loudness, entry)
        for k, other in enumerate(interference, start=1):
            parts[f"interference{k}"] = other
        mixture = speech + noise + sum(interference, np.zeros_like(speech))
        peak = max(float(np.max(np.abs(p))) if p.size else 0.0 for p in (mixture, *parts.values()))
        scale = HEADROOM / peak if peak > HEADROOM else 1.0
        entry["scale"] = scale
        parts["mixture"] = mixture
        if len(interference) == 1:
            parts["interference"] = parts["interference1"]
        stems = {name: (parts[name] * scale).astype(np.float32) for name in settings.stem_folders()}
        if "mixture" not in stems:
            stems["mixture"] = (mixture * scale).astype(np.float32)
        return Mixed(stems, {"name": "Mix", "params": entry})

    def _noise(
        self,
        path: str,
        rng: np.random.Generator,
        frames: int,
        sample_rate: int,
        speech: np.ndarray,
        loudness: float,
        snr: float,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        total, rate, _digest = _file_facts(path)
        needed = math.ceil(frames * rate / sample_rate) + (16 if rate != sample_rate else 0)
        offset = int(rng.integers(total - needed + 1)) if total >= needed else 0
        excerpt = _excerpt(path, offset, needed)
        if rate != sample_rate:
            import soxr

            excerpt = soxr.resample(excerpt, rate, sample_rate, quality="HQ")
        excerpt = _fit(excerpt, frames, 0)
        quiet = rms(excerpt)
        if quiet == 0:
            raise ItemError(f"the noise {self.shown(path)} is silent where it was drawn (from frame {offset})")
        noise = _to_shape(excerpt * (loudness / quiet / 10 ** (snr / 20)), speech)
        return noise, {"offset": offset, "looped": total < needed, "snr_db": snr}

    def _interference(
        self,
        rng: np.random.Generator,
        seed: int,
        partners: tuple[str, ...],
        partner: Partner,
        speech: np.ndarray,
        loudness: float,
        entry: dict[str, Any],
    ) -> list[np.ndarray]:
        speakers = self.settings.speakers
        if speakers is None:
            return []
        if len(partners) != speakers.count - 1:
            raise ItemError(
                f"mix.speakers.count is {speakers.count}, and only {len(partners)} other source(s) of this "
                "item's split and of other speakers were found to mix with"
            )
        found: list[np.ndarray] = []
        records: list[dict[str, Any]] = []
        for other in partners:
            sir = float(rng.uniform(*speakers.sir_db))
            partner_seed = int(rng.integers(2**63))
            audio, applied = partner(other, partner_seed)
            audio = np.asarray(audio, dtype=np.float64)
            longer = audio.shape[-1] - speech.shape[-1]
            offset = int(rng.integers(longer + 1)) if longer > 0 else 0
            part = _to_shape(_fit(audio, speech.shape[-1], offset), speech)
            quiet = rms(part)
            if quiet == 0:
                raise ItemError(f"the interfering source {other} is silent where it was drawn")
            found.append(part * (loudness / quiet / 10 ** (sir / 20)))
            records.append(
                {"source": other, "seed": partner_seed, "offset": offset, "sir_db": sir, "transforms": applied}
            )
        entry["interference"] = records
        return found


def _convolve(samples: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """``samples`` (mono or channels first) convolved with a mono impulse response, length kept
    (by FFT, with numpy's own: importing scipy.signal would cost a worker more than its items)."""
    frames = samples.shape[-1]
    size = 1 << (frames + len(ir) - 2).bit_length()
    spectrum = np.fft.rfft(samples, size, axis=-1) * np.fft.rfft(ir, size)
    found: np.ndarray = np.fft.irfft(spectrum, size, axis=-1)[..., :frames]
    return found


def pool_files(folder: str | None, base_dir: str | Path) -> tuple[str, ...]:
    """A pool folder's audio files (read once per process), or none when the mix has no such part."""
    if folder is None:
        return ()
    from audioaug_cli.io.sounds import sound_files, sound_path

    return sound_files(sound_path(base_dir, folder))


def mixer_for(settings: MixSettings, base_dir: str) -> Mixer:
    reverb, noise = settings.reverb, settings.noise
    return Mixer(
        settings,
        base_dir,
        pool_files(noise.sounds_path if noise else None, base_dir),
        pool_files(reverb.ir_path if reverb else None, base_dir),
    )
