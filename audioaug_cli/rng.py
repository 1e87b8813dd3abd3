"""Per-item random state that no other item or thread can touch.

audiomentations draws every random number through the module globals ``random`` and
``np.random`` of its own modules. Seeding those globals per item is deterministic only while
nothing else in the process draws from them at the same time; under dask the worker's
event-loop thread does (tornado's callback jitter calls ``random.random()``). So instead of
seeding the globals, :func:`install` points the ``random`` and ``np`` names inside every
audiomentations module at proxies that resolve to the *current thread's* item generators, set by
:func:`item_rng`. Outside an item they fall through to the real globals, so audiomentations
behaves exactly as usual for any other caller in the process.

For an item seed ``s`` the generators are ``random.Random(s)`` and
``numpy.random.RandomState([s & 0xFFFFFFFF, s >> 32])``: the same streams as
``random.seed(s); np.random.seed([s & 0xFFFFFFFF, s >> 32])`` would give on the globals, which
are left alone: a program that calls audioaug keeps its own seeding.
"""

from __future__ import annotations

import random
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np

_current = threading.local()
_scanned = -1  # len(sys.modules) when install() last looked
_install_lock = threading.Lock()


def numpy_seed(seed: int) -> list[int]:
    """The seed array numpy's legacy generator gets for an item seed (all 64 bits used)."""
    return [seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF]


class _RandomProxy:
    """Stands in for the ``random`` module: every attribute comes from this thread's item RNG."""

    def __getattr__(self, name: str) -> Any:
        return getattr(getattr(_current, "random", None) or random, name)


class _NumpyProxy(types.ModuleType):
    """Stands in for ``numpy``: ``np.random`` is this thread's item RandomState, all else numpy."""

    def __init__(self) -> None:
        super().__init__("numpy")

    def __getattr__(self, name: str) -> Any:
        if name == "random":
            return getattr(_current, "numpy", None) or np.random
        value = getattr(np, name)
        setattr(self, name, value)  # cache: later lookups skip __getattr__
        return value


_random_proxy, _numpy_proxy = _RandomProxy(), _NumpyProxy()


def install() -> None:
    """Route audiomentations' random draws through the per-thread item generators.

    Each transform's module is imported when a config first names it, so this looks again
    whenever the process has loaded modules since it last looked; a module is changed once.
    """
    global _scanned
    if len(sys.modules) == _scanned:
        return
    with _install_lock:
        modules, unfinished = list(sys.modules.items()), False
        for name, module in modules:
            if module is None or not (name == "audiomentations" or name.startswith("audiomentations.")):
                continue
            unfinished |= bool(getattr(getattr(module, "__spec__", None), "_initializing", False))
            if vars(module).get("random") is random:
                module.random = _random_proxy  # type: ignore[attr-defined]
            if vars(module).get("np") is np:
                module.np = _numpy_proxy  # type: ignore[attr-defined]
        _scanned = -1 if unfinished else len(modules)  # a module still being imported: look again


_one_item_at_a_time = threading.Lock()


@contextmanager
def item_rng(seed: int, exclusive: bool = False) -> Iterator[None]:
    """Within the block, audiomentations in this thread draws only from generators seeded by ``seed``.

    The process's global ``random`` and ``np.random`` are neither drawn from nor seeded. With
    ``exclusive`` (a pipeline with RoomSimulator), pyroomacoustics' own process-wide generators,
    which its ray tracer draws from, are seeded too, and this process's exclusive items wait for
    one another.
    """
    install()
    with _one_item_at_a_time if exclusive else nullcontext():
        previous = getattr(_current, "random", None), getattr(_current, "numpy", None)
        _current.random = random.Random(seed)
        _current.numpy = np.random.RandomState(numpy_seed(seed))
        if exclusive:
            _seed_room_acoustics(seed)
        try:
            yield
        finally:
            _current.random, _current.numpy = previous


def _seed_room_acoustics(seed: int) -> None:
    import pyroomacoustics  # >= 0.10 keeps a numpy Generator and a C++ engine of its own

    pyroomacoustics.random.seed(numpy=numpy_seed(seed), libroom=seed)


def current_random() -> random.Random:
    """This thread's item generator, or the global one outside an item."""
    found: random.Random = getattr(_current, "random", None) or random._inst
    return found
