"""Where a run reads and writes: a local folder, or a folder in object storage named by an fsspec
URL (``s3://bucket/prefix``, ``gs://``, ``az://``, ``memory://``, ...).

A :class:`Store` is a folder's root and the few operations the run needs of it. Both kinds keep
the same promises: a file appears whole under its final name or not at all (locally a temporary
file renamed into place; on a store a single PUT, which an object store applies whole), and a
text file whose bytes would not change is not written again. A store is picklable and holds its
storage options (which may hold secrets) out of its ``repr``, its messages and everything written.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from audioaug_cli.errors import ItemError, MissingInput, UsageError
from audioaug_cli.io.filesystems import (
    CREDENTIALS_HINT,
    EXTRAS,
    READ_ONLY,
    _check_protocol,
    _new_filesystem,
    _Translated,
    frozen_options,
    is_url,
    thawed_options,
    version_tag,
    without_credentials,
)


def open_store(where: str | os.PathLike[str], options: dict[str, Any] | None = None, what: str = "") -> Store:
    """The store a command-line path names: a :class:`LocalStore` for a path or ``file://``, an
    :class:`ObjectStore` for any other URL. Raises UsageError for an unknown protocol, or one
    whose package is not installed (naming the extra)."""
    if not is_url(where):
        return LocalStore(Path(where).absolute())
    url = str(where)
    protocol = url.split("://", 1)[0].lower()
    if protocol == "file":
        return LocalStore(Path(url[len("file://") :]).absolute())
    _check_protocol(protocol, what or url)
    if protocol in EXTRAS and without_credentials(url) != url:
        # No object store's filesystem reads them there; the client would take them for part of
        # the bucket's name and print them in its errors.
        raise UsageError(
            f"{without_credentials(what or url)}: credentials in a {protocol}:// URL are never used (these were not "
            f"sent): set them where the store's client reads them ({CREDENTIALS_HINT}), or give --storage-option"
        )
    import fsspec

    root = fsspec.get_filesystem_class(protocol)._strip_protocol(url).rstrip("/")
    return ObjectStore(without_credentials(url).rstrip("/"), protocol, root, frozen_options(options or {}))


class Store:
    """A folder to read from and write to; names below it are '/' separated and relative."""

    url: str  # what messages show (no credentials)
    local = False

    def __str__(self) -> str:
        return self.url

    def shown(self, rel: str = "") -> str:
        """A file's name in messages: 'out/a.wav', 's3://bucket/out/a.wav'."""
        return f"{self.url}/{rel}" if rel else self.url

    def path(self, rel: str) -> str:
        """What the filesystem itself calls the file."""
        raise NotImplementedError

    def read_bytes(self, rel: str) -> bytes:
        raise NotImplementedError

    def read_text(self, rel: str) -> str:
        return self.read_bytes(rel).decode("utf-8")

    def open_write(self, rel: str, buffering: int = -1) -> Any:
        """A context manager giving a binary handle whose bytes appear under ``rel`` (whole) when
        the block completes, and nowhere if it fails."""
        raise NotImplementedError

    def write_bytes(self, rel: str, data: bytes | memoryview) -> None:
        with self.open_write(rel) as handle:
            handle.write(data)

    def write_text(self, rel: str, write: Callable[[IO[str]], None]) -> bool:
        """Write a text file through ``write(handle)``; return False (and leave it untouched) when
        it already holds those bytes."""
        raise NotImplementedError

    def is_file(self, rel: str) -> bool:
        raise NotImplementedError

    def remove(self, rel: str) -> bool:
        """Delete a file; False when it was not there."""
        raise NotImplementedError

    def exists(self) -> bool:
        raise NotImplementedError

    # What differs between the kinds, asked of the store, never of its type:
    has_paths = False  # its files are files of this machine, read by path (Kaldi's wav.scp, sox)
    source_type = "url"  # how lhotse names where a recording is: a path ("file") or a URL

    def location(self, rel: str) -> str:
        """Where a consumer (a toolkit's manifest) finds a file: an absolute path, or its URL."""
        return self.shown(rel)

    def read_audio(self, path: str, name: str, excerpt: Any = None) -> Any:
        """An input's audio (see :func:`audioaug_cli.io.audio.read_audio`): decoded from its file,
        or fetched in one request and decoded from memory. ItemError (MissingInput) if it cannot."""
        raise NotImplementedError

    def name_problem(self, names: list[str]) -> str | None:
        """Why files of these names (relative) cannot be written here, or None."""
        return None

    def inside(self, other: Store) -> str:
        """The prefix under which ``other`` lies inside this folder ("" when it does not)."""
        return ""


def _rendered(write: Callable[[IO[str]], None]) -> bytes:
    text = io.StringIO(newline="")
    write(text)
    return text.getvalue().encode("utf-8")


@dataclass(frozen=True)
class LocalStore(Store):
    """A folder on this machine's file system."""

    root: Path
    local = True

    @property
    def url(self) -> str:  # type: ignore[override]
        return str(self.root)

    def path(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else str(self.root)

    def read_bytes(self, rel: str) -> bytes:
        return (self.root / rel).read_bytes()

    def open_write(self, rel: str, buffering: int = -1) -> Any:
        from audioaug_cli.io.atomic import atomic_file

        return atomic_file(os.path.join(self.root, rel), buffering=buffering)

    def write_text(self, rel: str, write: Callable[[IO[str]], None]) -> bool:
        from audioaug_cli.io.atomic import write_text

        path = self.root / rel
        before = _stamp(path)
        write_text(path, write)
        return _stamp(path) != before

    def is_file(self, rel: str) -> bool:
        return os.path.isfile(os.path.join(self.root, rel))

    def remove(self, rel: str) -> bool:
        try:
            (self.root / rel).unlink()
        except FileNotFoundError:
            return False
        return True

    def exists(self) -> bool:
        return self.root.exists()

    has_paths = True
    source_type = "file"

    def location(self, rel: str) -> str:
        return os.path.abspath(self.path(rel))

    def read_audio(self, path: str, name: str, excerpt: Any = None) -> Any:
        from audioaug_cli.io.audio import read_audio

        return read_audio(path, excerpt)

    def name_problem(self, names: list[str]) -> str | None:
        longest = max(names, key=lambda name: len(os.path.basename(name).encode()))
        size, most = len(os.path.basename(longest).encode()), _name_max(self.path(""))
        if size <= most:
            return None
        return (
            f"its output name ({size} bytes, {os.path.basename(longest)[:24]}...) is longer than the "
            f"{most} bytes OUTPUT_DIR's file system allows; shorten the input's name"
        )


@functools.cache
def _name_max(folder: str) -> int:
    """The longest file name, in bytes, that the file system of ``folder`` allows."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255  # what every common file system allows


MAX_KEY_BYTES = 1024  # the longest object key S3 (and GCS, Azure) allow


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


_filesystems: dict[tuple[int, str, tuple[tuple[str, Any], ...]], Any] = {}


@dataclass(frozen=True)
class ObjectStore(Store):
    """A folder (a key prefix) in object storage, through fsspec. Made again in each process that
    uses it (a worker forked from this one, a dask worker elsewhere) from its protocol and options."""

    url: str
    protocol: str
    root: str  # the filesystem's path: bucket/prefix
    options: tuple[tuple[str, Any], ...] = field(default=(), repr=False)

    @property
    def fs(self) -> Any:
        """The filesystem, whose calls raise OSError for every failure (a client library's own
        exceptions, botocore's among them, become OSError with a one-line reason)."""
        key = (os.getpid(), self.protocol, self.options)
        found = _filesystems.get(key)
        if found is None:
            found = _filesystems[key] = _Translated(_new_filesystem(self.protocol, thawed_options(self.options)))
        return found

    @property
    def read_only(self) -> bool:
        return self.protocol in READ_ONLY

    def path(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def read_bytes(self, rel: str) -> bytes:
        data: bytes = self.fs.cat_file(self.path(rel))
        return data

    @contextmanager
    def open_write(self, rel: str, buffering: int = -1) -> Iterator[IO[bytes]]:
        buffer = io.BytesIO()
        yield buffer
        self.fs.pipe_file(self.path(rel), buffer.getvalue())  # one PUT: the object appears whole

    def write_text(self, rel: str, write: Callable[[IO[str]], None]) -> bool:
        data = _rendered(write)
        with suppress(FileNotFoundError):
            if self.read_bytes(rel) == data:
                return False
        self.fs.pipe_file(self.path(rel), data)
        return True

    def is_file(self, rel: str) -> bool:
        return bool(self.fs.isfile(self.path(rel)))

    def remove(self, rel: str) -> bool:
        if not self.is_file(rel):  # a DELETE of nothing is still a request that changes the store
            return False
        try:
            self.fs.rm_file(self.path(rel))
        except FileNotFoundError:
            return False
        return True

    def remove_many(self, rels: list[str]) -> None:
        """Delete many objects in as few requests as the store allows (S3: 1,000 a request)."""
        if rels:
            with suppress(FileNotFoundError):
                self.fs.rm([self.path(rel) for rel in rels])

    def exists(self) -> bool:
        return bool(self.fs.exists(self.root))

    def listing(self, below: str = "") -> dict[str, dict[str, Any]]:
        """Every object under the root (or under ``below`` in it), by name relative to the root:
        a paged listing (S3: one request per 1,000 keys), never a request per object. Asked of the
        store now, never from the filesystem's cache of an earlier listing (another process, a
        killed run's worker, may have written since)."""
        where = self.path(below.rstrip("/"))
        self.fs.invalidate_cache(where)
        found = self.fs.find(where, detail=True)
        prefix = self.root.rstrip("/") + "/"
        out = {}
        for name, info in found.items():
            if name.startswith(prefix) and info.get("type", "file") == "file":
                out[name[len(prefix) :]] = info
        return out

    def create(self, rel: str, data: bytes) -> bool:
        """Write an object only if there is none of that name (S3's If-None-Match); False if there is."""
        try:
            self.fs.pipe_file(self.path(rel), data, mode="create")
        except FileExistsError:
            return False
        return True

    def replace_if(self, rel: str, data: bytes, tag: str | None) -> bool:
        """Write an object only if it is still the version ``tag`` names (S3's If-Match);
        False if it changed. Where the store has no such condition, the check and the write are
        two requests."""
        if self.protocol in ("s3", "s3a"):
            try:
                self.fs.pipe_file(self.path(rel), data, IfMatch=tag)
            except FileNotFoundError:
                return False
            except OSError as exc:
                if "PreconditionFailed" in str(exc) or "At least one of the pre-conditions" in str(exc):
                    return False
                raise
            return True
        if version_tag(self.info(rel)) != tag:
            return False
        self.fs.pipe_file(self.path(rel), data)
        return True

    def read_audio(self, path: str, name: str, excerpt: Any = None) -> Any:
        from audioaug_cli.io.audio import read_audio_bytes

        try:
            data = self.fs.cat_file(path)
        except Exception as exc:  # any failure to fetch is this input's alone
            raise read_failure(exc) from None
        return read_audio_bytes(data, name, excerpt)

    def name_problem(self, names: list[str]) -> str | None:
        key = max((self.path(name) for name in names), key=lambda k: len(k.encode()))
        if len(key.encode()) <= MAX_KEY_BYTES:
            return None
        return (
            f"its output's key ({len(key.encode())} bytes) is longer than the {MAX_KEY_BYTES} bytes an object "
            "store allows; shorten the input's name"
        )

    def inside(self, other: Store) -> str:
        if isinstance(other, ObjectStore) and other.protocol == self.protocol:
            if other.root.startswith(self.root.rstrip("/") + "/"):
                return other.root[len(self.root.rstrip("/")) + 1 :] + "/"
        return ""

    def info(self, rel: str) -> dict[str, Any]:
        """An object's metadata, asked of the store now (not from a cached listing)."""
        self.fs.invalidate_cache(self.path(rel))
        found: dict[str, Any] = self.fs.info(self.path(rel))
        return found


def reason(exc: BaseException) -> str:
    """An exception's message on one line (an OSError's without its "[Errno 5]")."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return " ".join(str(text).split()) or type(exc).__name__


def read_failure(exc: BaseException) -> ItemError:
    """Why an object could not be read, as an item's one-line error."""
    if isinstance(exc, FileNotFoundError):
        return MissingInput("no such object (deleted during the run?)")
    if isinstance(exc, PermissionError):
        return ItemError("cannot read: access denied")
    return ItemError(f"cannot read: {reason(exc)}")
