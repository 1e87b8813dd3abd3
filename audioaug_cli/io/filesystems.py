"""The fsspec boundary: a filesystem made for a store in each process that uses it, its calls
raising OSError for every failure (a client library's own exceptions, botocore's among them,
become one-line OSErrors), and what an object's metadata says (its version, its time, a
fingerprint). Storage options are held in a hashable form, since a store is a frozen record."""

from __future__ import annotations

import errno
import os
import re
from contextlib import suppress
from typing import Any

from audioaug_cli.errors import UsageError

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


CREDENTIALS_HINT = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_*"


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
