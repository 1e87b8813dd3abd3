"""Reading audio into the layout audiomentations expects, and writing files atomically."""

from __future__ import annotations

import io
import os
import re
import stat
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np

from audioaug_cli.errors import ItemError, MissingInput
from audioaug_cli.io.atomic import atomic_file
from audioaug_cli.io.formats import OPUS_RATES

T = TypeVar("T")
# Subtypes that decode from integers: they cannot hold NaN or infinity, so need no check.
FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")  # the subtypes that hold samples beyond full scale (|x| > 1)
_INTEGER_CODED = (
    "PCM_",
    "ULAW",
    "ALAW",
    "ALAC_",
    "DPCM_",
    "DWVW_",
    "IMA_ADPCM",
    "MS_ADPCM",
    "GSM610",
    "VOX_ADPCM",
    "G721_",
    "G723_",
    "NMS_ADPCM_",
)


@dataclass(frozen=True)
class Excerpt:
    """A part of a file, in seconds: from ``start``, for ``duration`` (None: to the end)."""

    start: float = 0.0
    duration: float | None = None


def read_audio(path: str | Path, excerpt: Excerpt | None = None) -> tuple[np.ndarray, int]:
    """Decode a file as float32: shape (frames,) for mono, (channels, frames) otherwise; with
    ``excerpt``, only that part of it (what `preview --start/--duration` shows).

    Raises ItemError with a one-line reason for anything that is not usable audio.
    """
    _check_regular(path)  # opening a FIFO would wait for a writer for ever
    return _decode(path, os.fspath(path), excerpt, lambda: _check_readable(path))


def read_audio_bytes(data: bytes, name: str, excerpt: Excerpt | None = None) -> tuple[np.ndarray, int]:
    """:func:`read_audio` of a file's bytes (an object fetched from a store); ``name`` gives its type."""
    if not data:
        raise ItemError("empty file (0 bytes)")
    return _decode(io.BytesIO(data), name, excerpt, lambda: None)


def _decode(
    target: str | Path | IO[bytes], name: str, excerpt: Excerpt | None, check: Callable[[], None]
) -> tuple[np.ndarray, int]:
    import soundfile

    mp3 = name.lower().endswith(".mp3")
    try:
        with _stderr_silenced() if mp3 else nullcontext(), soundfile.SoundFile(target) as handle:
            truncated = _truncation(handle.extra_info)
            if truncated:
                raise ItemError(truncated)
            frames = -1
            if excerpt is not None:
                first = round(excerpt.start * handle.samplerate)
                if first >= handle.frames:
                    raise ItemError(
                        f"the excerpt starts at {excerpt.start:g} s, after the end of the audio "
                        f"({handle.frames / handle.samplerate:g} s)"
                    )
                handle.seek(first)
                frames = -1 if excerpt.duration is None else max(1, round(excerpt.duration * handle.samplerate))
            data = handle.read(frames, dtype="float32", always_2d=True)
            sample_rate, subtype = handle.samplerate, handle.subtype
    except soundfile.LibsndfileError as exc:
        check()  # libsndfile says only "System error" for these: name the reason
        reason = _libsndfile_reason(exc)
        if "possibly a pipe" in reason:  # what libsndfile says of a regular file that no decoder takes
            reason = "not a valid MP3 file (no MPEG audio frames)" if mp3 else "unknown format"
        raise ItemError(f"cannot decode: {reason}") from None
    except (soundfile.SoundFileError, RuntimeError, OSError) as exc:
        check()
        raise ItemError(f"cannot decode: {exc}") from None
    if data.shape[0] == 0:
        raise ItemError("no audio: the file has 0 frames")
    if not subtype.startswith(_INTEGER_CODED) and not all_finite(data):
        raise ItemError("the file holds NaN or infinite samples")
    # A view, not a copy: writing transposes it back to soundfile's own contiguous layout.
    samples = data[:, 0] if data.shape[1] == 1 else data.T
    return samples, int(sample_rate)


def _check_regular(path: str | Path) -> None:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # _check_readable names the reason once decoding fails
    if not stat.S_ISREG(mode):
        raise ItemError("not a regular file (a FIFO, socket or device): audioaug reads files only")


@contextmanager
def _stderr_silenced() -> Iterator[None]:
    """File descriptor 2 sent to nowhere: libmpg123 prints its notes on a broken MP3 ("Illegal
    Audio-MPEG-Header ...") straight to it, past Python; the item's error says what matters."""
    try:
        saved = os.dup(2)
        quiet = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    try:
        os.dup2(quiet, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(quiet)


def all_finite(samples: np.ndarray) -> bool:
    """No NaN or infinity: a float64 sum of float32 samples cannot overflow, so it is finite
    exactly when every sample is. One pass, no temporary array."""
    with np.errstate(invalid="ignore", over="ignore"):  # inf + -inf is NaN: an answer, not a problem
        return bool(np.isfinite(np.sum(samples, dtype=np.float64)))


def _check_readable(path: str | Path) -> None:
    """Raise the plain file-system reason a file cannot be decoded, if there is one."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        target = os.readlink(path) if os.path.islink(path) else None
        if target:
            raise ItemError(f"broken symlink to {target}") from None
        raise MissingInput("no such file (deleted during the run?)") from None
    except OSError as exc:
        raise ItemError(f"cannot read: {exc.strerror or exc}") from None
    if not os.access(path, os.R_OK):
        raise ItemError("cannot read: permission denied")
    if size == 0:
        raise ItemError("empty file (0 bytes)")


_DECLARED = re.compile(r"^(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.M)
_STREAMING = 0x7FFF0000  # writers that stream (pipes) declare a huge placeholder size on purpose


def _truncation(log: str) -> str | None:
    """libsndfile reads a cut-off WAV/AIFF without complaint, but its log shows the header's data
    size against what the file holds: a real size larger than the file means audio is missing."""
    for declared, present in ((int(a), int(b)) for a, b in _DECLARED.findall(log)):
        if present < declared < _STREAMING:
            return f"truncated: the header announces {declared} bytes of audio, the file holds {present}"
    return None


def _libsndfile_reason(exc: Exception) -> str:
    text = str(getattr(exc, "error_string", "") or exc)
    return text.strip().rstrip(".") or "unknown format"


def convert(samples: np.ndarray, sample_rate: int, target_rate: int | None, mono: bool) -> tuple[np.ndarray, int]:
    """Apply the config's ``audio:`` section: mix down to mono, then resample."""
    if mono and samples.ndim == 2:
        samples = samples.mean(axis=0, dtype=np.float32)
    if target_rate is not None and target_rate != sample_rate:
        import soxr

        # soxr works frames-first; librosa.resample's default (soxr_hq) is this same call.
        resampled = soxr.resample(samples.T, sample_rate, target_rate, quality="HQ")
        samples, sample_rate = np.ascontiguousarray(resampled.T, dtype=np.float32), target_rate
    return samples, sample_rate


def encode_audio(samples: np.ndarray, sample_rate: int, fmt: str, subtype: str) -> memoryview:
    """Channels-first audio as the bytes of a ``fmt``/``subtype`` file, in memory. The same audio
    gives the same bytes (an Ogg stream's serial number included)."""
    encoded = io.BytesIO()
    _encode_into(encoded, samples, sample_rate, fmt, subtype)
    if fmt == "OGG":
        return memoryview(ogg_with_fixed_serial(encoded.getbuffer()))
    return encoded.getbuffer()


def ogg_with_fixed_serial(data: memoryview | bytes) -> bytearray:
    """An Ogg stream with its serial number taken from its content instead of a random draw.

    libsndfile gives every Ogg stream a random serial number, so the same audio never made the
    same file twice (and `replay` could never match). The serial only has to tell streams apart
    in a chained or multiplexed file, which a hash of the pages (serial and checksum fields left
    out) does. Every page carries the serial and a CRC over the page, so each CRC is computed again.
    """
    pages, position = [], 0
    while position < len(data):
        if bytes(data[position : position + 4]) != b"OggS" or position + 27 > len(data):
            raise ValueError("not an Ogg stream")
        segments = data[position + 26]
        size = 27 + segments + sum(data[position + 27 : position + 27 + segments])
        page = bytearray(data[position : position + size])
        page[14:18] = page[22:26] = bytes(4)  # serial and checksum, out of the hash
        pages.append(page)
        position += size
    serial = zlib.crc32(b"".join(pages)).to_bytes(4, "little")
    for page in pages:
        page[14:18] = serial
        page[22:26] = _ogg_crc(page).to_bytes(4, "little")
    return bytearray(b"".join(pages))


_BIT_REVERSED = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def _ogg_crc(page: bytes | bytearray) -> int:
    """Ogg's page checksum: CRC-32 with polynomial 0x04C11DB7, MSB first, no initial or final
    inversion. zlib's CRC-32 is the same polynomial LSB first, with both inversions: fed the
    bit-reversed bytes, with the inversions cancelled by the CRC of as many zero bytes, it gives
    the bit-reversed Ogg checksum."""
    reversed_bytes = bytes(page).translate(_BIT_REVERSED)
    lsb_first = zlib.crc32(reversed_bytes) ^ zlib.crc32(bytes(len(page)))
    return int(f"{lsb_first:032b}"[::-1], 2)


def write_audio(
    path: str | Path, samples: np.ndarray, sample_rate: int, fmt: str, subtype: str, store: Any = None
) -> None:
    """Encode channels-first audio straight into a new file, atomically: the same bytes as
    :func:`encode_audio`, without holding the whole file in memory. With ``store`` (an
    :class:`~audioaug_cli.io.store.Store`), ``path`` is a name in it.

    Given a path, libsndfile would fsync every file on close, which a kill does not need (the page
    cache survives it) and which costs more than the write itself. Given a file, it writes 8 KiB
    pieces through callbacks, where an exception can only be printed, once per piece: on a full
    disk, thousands of tracebacks. So the file is wrapped in :class:`_Sink`, which keeps the first
    error and reports a short write instead; the error is raised here, once.
    """
    opened = store.open_write(os.fspath(path), 1 << 20) if store is not None else atomic_file(path, buffering=1 << 20)
    with opened as handle:
        # Ogg (whose serial number is fixed in memory) and short items are made in memory and
        # written at once: libsndfile's many small writes and seeks through Python cost more than
        # encoding a clip of a second.
        if fmt == "OGG" or samples.nbytes <= IN_MEMORY_BYTES:
            handle.write(encode_audio(samples, sample_rate, fmt, subtype))
            return
        sink = _Sink(handle, os.fspath(path))
        try:
            _encode_into(sink, samples, sample_rate, fmt, subtype)
        except Exception:
            if sink.error is None:
                raise
        if sink.error is not None:
            raise sink.error


IN_MEMORY_BYTES = 4 << 20  # float32 audio up to this size is encoded in memory, then written at once


def _encode_into(target: object, samples: np.ndarray, sample_rate: int, fmt: str, subtype: str) -> None:
    """Channels-first audio encoded into a file object; libsndfile's refusals as one-line item
    errors (Opus at 44.1 kHz, GSM610 in stereo, ...)."""
    import soundfile

    if subtype == "OPUS" and sample_rate not in OPUS_RATES:
        raise ItemError(
            f"Opus holds only {', '.join(str(r) for r in OPUS_RATES)} Hz audio, and this is "
            f"{sample_rate} Hz: `audio: {{sample_rate: 48000}}` in the config resamples every input"
        )
    channels = 1 if samples.ndim == 1 else samples.shape[0]
    try:
        with soundfile.SoundFile(target, "w", sample_rate, channels, subtype, format=fmt) as handle:
            if subtype in ("FLOAT", "DOUBLE"):
                _without_peak_chunk(soundfile, handle)
            handle.write(samples.T if samples.ndim == 2 else samples)
    except soundfile.LibsndfileError as exc:
        reason = _libsndfile_reason(exc).removeprefix("Error : ")
        raise ItemError(f"cannot write {fmt} {subtype}: {reason}") from None


_SFC_SET_ADD_PEAK_CHUNK = 0x1050  # libsndfile's sf_command number (sndfile.h)


def _without_peak_chunk(soundfile: Any, handle: Any) -> None:
    """No PEAK chunk in a float WAV/AIFF: libsndfile stamps it with the wall-clock time, so the same
    audio written a second later had other bytes (and `replay` said "differs"). The chunk is
    optional (the peak it holds is the file's own largest sample), and readers do without it.
    soundfile has no call for it; this is its own private handle to libsndfile, before any write."""
    soundfile._snd.sf_command(handle._file, _SFC_SET_ADD_PEAK_CHUNK, soundfile._ffi.NULL, 0)


class _Sink:
    """A file as soundfile's virtual IO sees it, with the first error kept rather than raised.

    After an error, every call fails quietly (a short write, position -1): libsndfile gives up."""

    def __init__(self, handle: IO[bytes], path: str):
        self.handle, self.path = handle, path
        self.error: OSError | None = None

    def __repr__(self) -> str:  # what libsndfile's errors name ("Error opening '...': ...")
        return repr(self.path)

    def write(self, data: bytes) -> int:
        view, done = memoryview(data), 0
        try:
            while self.error is None and done < len(view):
                done += self.handle.write(view[done:]) or 0  # a raw write may take part of it
        except OSError as exc:
            self.error = exc
        return done

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._kept(lambda: self.handle.seek(offset, whence), -1)

    def tell(self) -> int:
        return self._kept(self.handle.tell, -1)

    def read(self, size: int = -1) -> bytes:
        return self._kept(lambda: self.handle.read(size), b"")

    def _kept(self, call: Callable[[], T], failed: T) -> T:
        if self.error is None:
            try:
                return call()
            except OSError as exc:
                self.error = exc
        return failed


def decode_audio(data: memoryview) -> np.ndarray:
    """Encoded audio back as float32, channels-first (channels, frames): what a reader of the file gets."""
    import soundfile

    frames_first, _rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return np.ascontiguousarray(frames_first.T)
