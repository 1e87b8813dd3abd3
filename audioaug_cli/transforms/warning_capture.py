"""Warnings raised while items run, captured as one-line messages for the manifest's errors, and
the process's warning filters kept as they were (an import inside an item may add its own)."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO, cast

_item_warnings = threading.local()
_hook_lock = threading.Lock()
_hook_users = 0
_hook_replaced: Any = None  # the warnings.showwarning the hook stands in for while installed


_kept_lock = threading.Lock()
_kept_users = 0
_kept: list[Any] = []  # the filters when the first block began


@contextmanager
def warning_filters_kept() -> Iterator[None]:
    """While any thread is inside such a block, the last to leave puts the process's warning
    filters back as they were when the first entered, if they changed.

    Items import what they first need (librosa's resampling imports scipy, for one), and an
    import may add filters to the process for good: scipy adds six. Like ``catch_warnings``, a
    change the caller's own threads make to the filters while items run does not outlast them.
    Unchanged filters are left alone, so Python's once-per-place memory of shown warnings holds.
    """
    global _kept_users, _kept
    with _kept_lock:
        if _kept_users == 0:
            _kept = list(warnings.filters)
        _kept_users += 1
    try:
        yield
    finally:
        with _kept_lock:
            _kept_users -= 1
            if _kept_users == 0 and warnings.filters != _kept:
                warnings.resetwarnings()  # public, and makes Python forget what the old filters decided
                cast(list[Any], warnings.filters)[:] = _kept  # a list, typed as a Sequence


@contextmanager
def captured_warnings() -> Iterator[list[str]]:
    """Collect, as one-line messages, the warnings this thread raises within the block (e.g.
    audiomentations' "had to be resampled") instead of printing them with a source line.

    ``warnings.showwarning`` is replaced only while some thread is inside such a block, by a hook
    that hands every other thread's warnings to the function it replaced; the last block to end
    puts that function back (unless the caller replaced the hook meanwhile). Python's filters
    still apply: a warning is shown once per place in the code, per process.
    """
    global _hook_users, _hook_replaced
    with _hook_lock:
        if _hook_users == 0:
            _hook_replaced, warnings.showwarning = warnings.showwarning, _show_warning
        _hook_users += 1
    found: list[str] = []
    previous = getattr(_item_warnings, "found", None)
    _item_warnings.found = found
    try:
        with warning_filters_kept():
            yield found
    finally:
        _item_warnings.found = previous
        with _hook_lock:
            _hook_users -= 1
            if _hook_users == 0:
                if warnings.showwarning is _show_warning:
                    warnings.showwarning = _hook_replaced
                _hook_replaced = None


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    found = getattr(_item_warnings, "found", None)
    if found is not None:
        found.append(" ".join(str(message).split()))
    elif _hook_replaced is not None:
        _hook_replaced(message, category, filename, lineno, file, line)
    else:  # a thread that read the hook just before the last block ended
        warnings.showwarning(message, category, filename, lineno, file, line)
