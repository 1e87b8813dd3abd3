"""Where a run reads and writes: a local folder, or a folder in object storage named by an fsspec
URL (``s3://bucket/prefix``, ``gs://``, ``az://``, ``memory://``, ...).

A :class:`Store` is a folder's root and the few operations the run needs of it. Both kinds keep
the same promises: a file appears whole under its final name or not at all (locally a temporary
file renamed into place; on a store a single PUT, which an object store applies whole), and a
text file whose bytes would not change is not written again. A store is picklable and holds its
storage options (which may hold secrets) out of its ``repr``, its messages and everything written.
"""

from __future__ import annotations

import errno
import functools
import io
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from audioaug_cli.errors import ItemError, MissingInput, UsageError

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
# The protocol, the extra that installs its filesystem, and the module that extra provides.
EXTRAS = {
    "s3": ("s3", "s3fs"),
    "s3a": ("s3", "s3fs"),
    "gs": ("gcs", "gcsfs"),
    "gcs": ("gcs", "gcsfs"),
    "az": ("azure", "adlfs"),
    "abfs": ("azure", "adlfs"),
    "abfss": ("azure", "adlfs"),
}
BUILT_IN = ("memory", "file")  # fsspec's own
READ_ONLY = ("http", "https", "hf")  # fsspec's (hf: huggingface_hub), never written to
READ_ONLY_MODULES = {"http": "aiohttp", "https": "aiohttp", "hf": "huggingface_hub"}  # what each needs beside fsspec


def is_url(text: str | os.PathLike[str]) -> bool:
    """Whether a command-line path is a URL (``scheme://...``) rather than a local path."""
    return isinstance(text, str) and _SCHEME.match(text) is not None


def without_credentials(url: str) -> str:
    """A URL as it may be shown or written: any ``user:password@`` dropped."""
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@", r"\1", url)


def parse_storage_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--storage-option KEY=VALUE`` pairs as fsspec storage options; a value that parses as
    JSON (a number, true, an object) is that value, any other the text as it is."""
    import json

    options: dict[str, Any] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise UsageError(f"--storage-option {key.strip() or pair!r}: expected KEY=VALUE")
        try:
            options[key.strip()] = json.loads(value)
        except ValueError:
            options[key.strip()] = value
    return options


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
            f"{without_credentials(what or url)}: a {protocol}:// URL carries no credentials (those given were not "
            f"used): set them where the store's client reads them ({CREDENTIALS_HINT}), or give --storage-option"
        )
    import fsspec

    root = fsspec.get_filesystem_class(protocol)._strip_protocol(url).rstrip("/")
    return ObjectStore(without_credentials(url).rstrip("/"), protocol, root, frozen_options(options or {}))


CREDENTIALS_HINT = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_*"


def frozen_options(options: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Storage options in a hashable form (a JSON object given as a value, such as
    ``client_kwargs={"endpoint_url": ...}``, as sorted pairs); :func:`thawed_options` undoes it."""

    def frozen(value: Any) -> Any:
        if isinstance(value, dict):
            return ("__mapping__", tuple(sorted((str(k), frozen(v)) for k, v in value.items())))
        if isinstance(value, list):
            return ("__list__", tuple(frozen(v) for v in value))
        return value

    return tuple(sorted((key, frozen(value)) for key, value in options.items()))


def thawed_options(options: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    def thawed(value: Any) -> Any:
        if isinstance(value, tuple) and len(value) == 2 and value[0] == "__mapping__":
            return {k: thawed(v) for k, v in value[1]}
        if isinstance(value, tuple) and len(value) == 2 and value[0] == "__list__":
            return [thawed(v) for v in value[1]]
        return value

    return {key: thawed(value) for key, value in options}


def _check_protocol(protocol: str, what: str) -> None:
    import importlib.util

    known = (*EXTRAS, *BUILT_IN, *READ_ONLY)
    if protocol not in known:
        raise UsageError(
            f"{without_credentials(what)}: unknown protocol {protocol}://; audioaug reads and writes local paths "
            f"and {', '.join(p + '://' for p in ('s3', 'gs', 'az', 'abfs', 'memory', 'file'))} "
            "(and reads http(s):// and hf://)"
        )
    extra, module = EXTRAS.get(protocol) or ("", READ_ONLY_MODULES.get(protocol, "fsspec"))
    for needed in ("fsspec", module):
        if importlib.util.find_spec(needed) is None:
            hint = (
                f"pip install 'audioaug[{extra}]'"
                if extra
                else f"pip install {' '.join(dict.fromkeys(['fsspec', module]))}"
            )
            raise UsageError(
                f"{without_credentials(what)}: {protocol}:// needs {needed}, which is not installed: {hint}"
            )


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

        return atomic_file(self.root / rel, buffering=buffering)

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
        a paged listing (S3: one request per 1,000 keys), never a request per object."""
        found = self.fs.find(self.path(below.rstrip("/")), detail=True)
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


class _Translated:
    """An fsspec filesystem whose methods raise OSError, never a client library's exceptions."""

    def __init__(self, fs: Any):
        self._fs = fs

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._fs, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attribute(*args, **kwargs)
            except OSError:
                raise
            except Exception as exc:  # botocore's, google's, azure's, aiohttp's ...
                raise OSError(errno.EIO, store_failure(exc)) from exc

        return call


def store_failure(exc: BaseException) -> str:
    """A store's failure in one line; the missing-credentials case says where they come from."""
    name = type(exc).__name__
    text = " ".join(str(exc).split())
    if name in ("NoCredentialsError", "PartialCredentialsError", "DefaultCredentialsError"):
        return (
            f"{text or 'no credentials'}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), "
            "or give --storage-option anon=true for a public bucket"
        )
    return f"{name}: {text}" if text else name


def version_tag(info: dict[str, Any]) -> str | None:
    """What tells one version of an object from another: its ETag (S3, Azure), generation (GCS),
    or, on a store with neither, its time stamp."""
    for key in ("ETag", "etag", "generation", "md5Hash"):
        if info.get(key):
            return str(info[key]).strip('"')
    for key in ("LastModified", "last_modified", "mtime", "created", "updated"):
        if info.get(key):
            return str(info[key])
    return None


def modified_at(info: dict[str, Any]) -> float | None:
    """An object's last modification, as a POSIX time, from the store's own metadata."""
    import datetime

    for key in ("LastModified", "last_modified", "mtime", "created", "updated"):
        value = info.get(key)
        if isinstance(value, datetime.datetime):
            return (value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)).timestamp()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            with suppress(ValueError):
                return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None


def fingerprint_of(info: dict[str, Any]) -> str:
    """An input's fingerprint from the store's metadata: its size and version tag. A changed
    object is redone; a rerun from another machine (nothing cached) sees the same fingerprints."""
    return f"{info.get('size', 0)}:{version_tag(info) or 'unknown'}"


_forked_from: list[int] = []


def _new_filesystem(protocol: str, options: dict[str, Any]) -> Any:
    import fsspec

    if _forked_from and _forked_from[0] != os.getpid():
        # A process forked from one that had used fsspec: its event loop thread did not come along.
        import fsspec.asyn

        fsspec.asyn.reset_lock()
    _forked_from[:] = [os.getpid()]
    try:
        return fsspec.filesystem(protocol, **options)
    except (TypeError, ValueError) as exc:  # an option the filesystem does not take
        raise UsageError(f"{protocol}:// does not take these storage options: {' '.join(str(exc).split())}") from None


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


def read_small_file(where: str | os.PathLike[str], options: dict[str, Any] | None = None) -> bytes:
    """A small file's bytes (--labels, --segments), from a path or a URL. Raises OSError when it
    cannot be read (ValueError for a local path that is not a regular file: a FIFO would block)."""
    store = open_store(where, options, str(where))
    if isinstance(store, LocalStore):
        if not store.root.is_file():
            if store.root.exists():
                raise ValueError("not a regular file (a FIFO, socket or device)")
            raise FileNotFoundError(errno.ENOENT, "No such file or directory")
        return store.root.read_bytes()
    assert isinstance(store, ObjectStore)
    data: bytes = store.fs.cat_file(store.root)
    return data


def read_table(where: str | os.PathLike[str], options: dict[str, Any] | None, what: str) -> tuple[bytes, str]:
    """A small CSV (``what``: "labels CSV", "segments CSV"): its bytes and its text. Every reason
    it cannot be read is a UsageError naming it."""
    try:
        data = read_small_file(where, options)
        return data, data.decode("utf-8-sig")
    except ValueError as exc:  # reading a FIFO waits for a writer for ever
        if isinstance(exc, UnicodeDecodeError):
            raise UsageError(f"{where}: cannot read the {what}: not UTF-8 text") from None
        raise UsageError(f"{where}: the {what} is not a regular file (a FIFO, socket or device)") from None
    except OSError as exc:
        raise UsageError(f"{where}: cannot read the {what}: {reason(exc)}") from None
