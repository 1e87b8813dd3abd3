"""Files that appear whole or not at all: every file audioaug writes is made under a temporary
name beside its final one (marked :data:`TEMP_MARK`) and renamed into place when complete."""

from __future__ import annotations

import filecmp
import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

TEMP_MARK = ".audioaug-tmp"  # every temporary file audioaug creates has this in its name
_temp_names = itertools.count()


@contextmanager
def atomic_file(
    path: str | Path, mode: str = "wb", newline: str | None = None, keep_if_same: bool = False, buffering: int = -1
) -> Iterator[IO]:  # type: ignore[type-arg]
    """Open a new temporary file beside ``path``; rename it into place only when the block completes.

    A reader never sees a partial file under the final name, whenever the process is killed.
    With ``keep_if_same``, an existing file with the same bytes is left untouched (mtime kept).
    """
    fd, temp = _create_temporary(os.fspath(path))
    try:
        with open(fd, mode, buffering=buffering, newline=newline) as handle:
            yield handle
        if keep_if_same and os.path.isfile(path) and filecmp.cmp(temp, path, shallow=False):
            os.unlink(temp)
        else:
            os.replace(temp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise


def _create_temporary(path: str) -> tuple[int, str]:
    """A new, empty file named after ``path`` in its folder (made if missing), marked TEMP_MARK.

    Created 0o666 less the umask, as any output should be. The name holds the process id and a
    counter; O_EXCL turns a clash (a process on another machine sharing the folder, a killed run's
    leftover) into an error, and then the next name is tried.
    """
    folder, name = os.path.split(path)
    for _attempt in range(100):
        # At most 40 characters of the name: an output name the file system allows always has a
        # temporary name it allows too.
        temp = os.path.join(folder, f".{name[:40]}.{os.getpid()}-{next(_temp_names)}{TEMP_MARK}")
        try:
            return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temp
        except FileExistsError:
            continue
        except FileNotFoundError:
            make_folders(folder or ".")  # the first file of its folder
    raise FileExistsError(f"cannot create a temporary file beside {path}")


def make_folders(folder: str) -> None:
    """``os.makedirs(folder, exist_ok=True)`` without its recursion (one call per level): an
    output tree as deep as its input's, however deep, is made."""
    missing = []
    while folder and not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for path in reversed(missing):
        with suppress(FileExistsError):
            os.mkdir(path)


def write_text(path: Path, write: Callable[[IO[str]], None]) -> None:
    """Write a text file atomically through ``write(handle)``; an identical file is not touched."""
    with atomic_file(path, "w", newline="", keep_if_same=True) as handle:
        write(handle)


def remove_temporaries(folder: Path, deep: bool = True) -> int:
    """Delete temporary files a killed run left behind (``deep``: in every folder below too); return how many."""
    count = 0
    for root, dirs, files in os.walk(folder):
        if not deep:
            dirs.clear()
        for name in files:
            if name.endswith(TEMP_MARK):
                with suppress(OSError):
                    os.unlink(os.path.join(root, name))
                    count += 1
    return count
