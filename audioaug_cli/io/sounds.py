"""The noise and impulse-response files a config names (``sounds_path``, ``ir_path``): a file, a
folder walked by INPUT_DIR's rules, or a URL fetched once per process; each file checked to decode."""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

from audioaug_cli.errors import UsageError
from audioaug_cli.io.filesystems import is_url
from audioaug_cli.io.formats import AUDIO_EXTENSIONS
from audioaug_cli.io.inputs import WalkCounts, WalkTooLarge, escaped, walk_inputs
from audioaug_cli.io.store import ObjectStore, open_store, reason

MAX_SOUND_ENTRIES = 100_000  # a noise or impulse-response folder holds files, not a file system
# What audiomentations' own folder walk would take, beyond what audioaug reads with soundfile.
_OTHER_AUDIO = (".aac", ".m4a", ".mp4")


class SoundFolderError(Exception):
    """A noise or impulse-response path that cannot be used; ``problems`` has one line per cause."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


_sound_files: dict[str, tuple[str, ...]] = {}
_fetched: dict[str, str] = {}  # a local copy of a sounds_path URL (its folder) -> that URL


def sound_path(base_dir: str | Path, value: str) -> str:
    """A config's sounds_path / ir_path entry: a URL as it is, a path from the config's folder."""
    return value if is_url(value) else os.fspath(Path(base_dir) / value)


def sound_files(path: str | Path) -> tuple[str, ...]:
    """The audio files of a ``sounds_path`` / ``ir_path`` (a file, or a folder walked by the same
    rules as INPUT_DIR), each checked to decode. Read once per process, then remembered: the config
    check reads it, and the transforms are built from this list, not from a walk of their own.

    A URL is fetched into a folder of this process's own, once: a dask worker far from the
    client fetches it the first time it builds the pipeline, not once per item."""
    key = os.fspath(path)
    if key not in _sound_files:
        if is_url(key):
            local = _fetch(key)
            try:
                _sound_files[key] = _read_sound_files(Path(local))
            except SoundFolderError as exc:
                raise SoundFolderError([p.replace(local, key.rstrip("/")) for p in exc.problems]) from None
        else:
            _sound_files[key] = _read_sound_files(Path(key))
    return _sound_files[key]


def shown_sound_path(path: str) -> str | None:
    """The URL a fetched noise or impulse-response file came from (what the manifest records)."""
    for local, url in _fetched.items():
        if path.startswith(local + os.sep):
            return url.rstrip("/") + "/" + path[len(local) + 1 :].replace(os.sep, "/")
        if path == local:
            return url
    return None


def _fetch(url: str) -> str:
    """A local copy of the audio objects under a URL (or of the one object it names)."""
    import atexit
    import shutil
    import tempfile

    try:
        store = open_store(url, what=url)
    except UsageError as exc:  # an unknown protocol, a missing extra
        raise SoundFolderError([str(exc)]) from None
    if store.has_paths:
        return os.fspath(store.path(""))
    store = cast(ObjectStore, store)  # (has_paths is False only for an ObjectStore)
    folder = tempfile.mkdtemp(prefix="audioaug-sounds-")
    owner = os.getpid()
    atexit.register(lambda: shutil.rmtree(folder, ignore_errors=True) if os.getpid() == owner else None)
    try:
        listing = store.listing()
        if not listing and store.fs.isfile(store.root):  # the URL names one file
            name = store.root.rsplit("/", 1)[-1]
            local = os.path.join(folder, name)
            Path(local).write_bytes(store.fs.cat_file(store.root))
            _fetched[local] = url
            return local
    except OSError as exc:
        raise SoundFolderError([f"{url}: cannot read: {reason(exc)}"]) from None
    if not listing:
        raise SoundFolderError([f"no such file or folder: {url}"])
    if len(listing) > MAX_SOUND_ENTRIES:
        raise SoundFolderError([f"{url} holds more than {MAX_SOUND_ENTRIES:,} objects: point it at a folder of sounds"])
    wanted = [
        rel
        for rel in listing
        if not any(part.startswith(".") for part in rel.split("/")) and rel.lower().endswith(AUDIO_EXTENSIONS)
    ]
    try:
        for rel, data in zip(wanted, _cat_all(store, wanted), strict=True):
            target = Path(folder, *rel.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    except OSError as exc:
        raise SoundFolderError([f"{url}: cannot read: {reason(exc)}"]) from None
    _fetched[folder] = url
    return folder


def _cat_all(store: ObjectStore, rels: list[str]) -> list[bytes]:
    """Many objects' bytes, fetched concurrently where the filesystem can (fsspec's cat)."""
    if not rels:
        return []
    found = store.fs.cat([store.path(rel) for rel in rels], on_error="raise")
    return [found[store.path(rel)] for rel in rels]


def _read_sound_files(path: Path) -> tuple[str, ...]:
    if not os.path.exists(path):
        raise SoundFolderError([f"no such file or folder: {path} (paths are relative to the config's folder)"])
    if not path.is_dir():
        if not path.is_file():
            raise SoundFolderError([f"{path} is not a regular file or folder"])
        if not path.name.lower().endswith(AUDIO_EXTENSIONS):
            raise SoundFolderError([f"{path} is not an audio file ({' '.join(AUDIO_EXTENSIONS)})"])
        files = [str(path)]
    else:
        others: list[str] = []
        counts = WalkCounts(
            limit=MAX_SOUND_ENTRIES,
            report=lambda rel, reason: others.append(rel) if rel.lower().endswith(_OTHER_AUDIO) else None,
        )
        try:
            files = [source.path for source in walk_inputs(path, counts=counts)]
        except WalkTooLarge:
            raise SoundFolderError(
                [f"{path} holds more than {MAX_SOUND_ENTRIES:,} files and folders: point it at a folder of sounds"]
            ) from None
        problems = [
            f"{path / rel}: audioaug reads sounds that soundfile decodes ({' '.join(AUDIO_EXTENSIONS)}); "
            "convert it, e.g. to .flac"
            for rel in others
        ]
        if not files and not problems:
            problems.append(f"{path} holds no audio files ({' '.join(AUDIO_EXTENSIONS)})")
        if problems:
            raise SoundFolderError(problems)
    problems = [f"{escaped(file)}: {reason}" for file in files if (reason := _undecodable(file)) is not None]
    if problems:
        raise SoundFolderError(problems)
    return tuple(files)


def _undecodable(path: str) -> str | None:
    """Why soundfile cannot read this file's header, or None."""
    import soundfile

    try:
        info = soundfile.info(path)
    except Exception as exc:
        reason = getattr(exc, "error_string", None) or str(exc)
        return f"cannot decode: {' '.join(reason.split()).rstrip('.') or type(exc).__name__}"
    if info.frames == 0:
        return "no audio: the file has 0 frames"
    return None
