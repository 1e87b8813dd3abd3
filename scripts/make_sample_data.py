"""Rebuild the small synthetic clips in sample_data/ and the noises/IRs the recipes in configs/ use.

    python scripts/make_sample_data.py sample_data

Everything is synthesised from a fixed seed, so the files are the same on every run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

RNG = np.random.default_rng(20261123)


def envelope(n: int, sr: int, attack: float = 0.01, release: float = 0.05) -> np.ndarray:
    env = np.ones(n)
    a, r = int(attack * sr), int(release * sr)
    env[:a] = np.linspace(0, 1, a)
    env[n - r :] = np.linspace(1, 0, r)
    return env


def speech_like(sr: int, seconds: float, pitch: float) -> np.ndarray:
    """Voiced syllables: a glottal pulse train through vowel formants, with a falling pitch."""
    vowels = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (570, 840, 2410)]
    out = []
    for i in range(int(seconds / 0.32)):
        n = int(0.26 * sr)
        t = np.arange(n) / sr
        f0 = pitch * (1.1 - 0.2 * t / t[-1]) * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))
        phase = np.cumsum(f0 / sr)
        pulses = (np.diff(np.floor(phase), prepend=0) > 0).astype(float)
        voiced = np.zeros(n)
        for formant, bw in zip(vowels[i % len(vowels)], (80, 100, 120), strict=True):
            b, a = signal.iirpeak(formant, formant / bw, fs=sr)
            voiced += signal.lfilter(b, a, pulses)
        syllable = voiced * envelope(n, sr, 0.02, 0.08) * np.hanning(n) ** 0.3
        out += [syllable, np.zeros(int(0.06 * sr))]
    audio = np.concatenate(out)
    return 0.5 * audio / np.abs(audio).max()


def chord(sr: int, seconds: float, freqs: list[float]) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    tone = sum(
        np.sin(2 * np.pi * f * t) * np.exp(-t * 0.8) * (0.6**k) for f in freqs for k, f in enumerate([f, 2 * f, 3 * f])
    )
    return 0.3 * tone * envelope(len(t), sr) / np.abs(tone).max()


def arpeggio(sr: int, seconds: float) -> np.ndarray:
    notes = [261.63, 329.63, 392.0, 523.25]
    n = int(seconds * sr / 8)
    t = np.arange(n) / sr
    parts = [np.sin(2 * np.pi * notes[i % 4] * t) * np.exp(-t * 6) for i in range(8)]
    return 0.4 * np.concatenate(parts)


def pink_noise(n: int) -> np.ndarray:
    white = RNG.standard_normal(n)
    b, a = [0.049922035, -0.095993537, 0.050612699, -0.004408786], [1, -2.494956002, 2.017265875, -0.522189400]
    pink = signal.lfilter(b, a, white)
    return pink / np.abs(pink).max()


def rain(sr: int, seconds: float) -> np.ndarray:
    n = int(seconds * sr)
    out = 0.15 * pink_noise(n)
    for start in RNG.integers(0, n - sr // 50, size=int(seconds * 40)):
        drop = RNG.standard_normal(sr // 50) * np.exp(-np.arange(sr // 50) / (sr / 2000))
        out[start : start + sr // 50] += 0.2 * drop
    return 0.6 * out / np.abs(out).max()


def write(path: Path, audio: np.ndarray, sr: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio.astype(np.float32), sr, subtype="PCM_16")
    print(f"{path} ({sf.info(path).duration:.2f}s, {sr} Hz, {sf.info(path).channels} ch)")


def main(root: Path) -> None:
    write(root / "speech" / "vowels_16k.wav", speech_like(16000, 2.4, 120), 16000)
    write(root / "speech" / "high_voice_22k.flac", speech_like(22050, 2.0, 210), 22050)
    left, right = chord(44100, 2.0, [220.0, 277.18]), chord(44100, 2.0, [329.63, 440.0])
    write(root / "music" / "chord_stereo_44k.wav", np.stack([left, right], axis=1), 44100)
    write(root / "music" / "arpeggio_24k.wav", arpeggio(24000, 2.0), 24000)
    write(root / "ambience" / "rain_16k.wav", rain(16000, 2.0), 16000)
    configs = Path(__file__).resolve().parent.parent / "configs"
    write(
        configs / "noises" / "hum_16k.wav",
        0.3 * np.sin(2 * np.pi * 50 * np.arange(16000) / 16000) + 0.05 * pink_noise(16000),
        16000,
    )
    write(
        configs / "noises" / "babble_16k.wav",
        0.5 * (speech_like(16000, 1.0, 150) + speech_like(16000, 1.0, 190)),
        16000,
    )
    t = np.arange(int(0.4 * 16000)) / 16000
    ir = RNG.standard_normal(len(t)) * np.exp(-t / 0.08)
    ir[0] = 1.0
    write(configs / "irs" / "small_room_16k.wav", 0.5 * ir / np.abs(ir).max(), 16000)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "sample_data"))
