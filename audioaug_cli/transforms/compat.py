"""Everything audioaug does to audiomentations' internals, in one place, for the versions it was
checked against (:data:`SUPPORTED`; :func:`check_version` says so when another is installed).

1. **Lazy loading.** ``import audiomentations`` runs a package ``__init__.py`` that imports all ~40
   transforms, and scipy.signal with them: 0.6 s, most of a short run's start-up, paid again by
   every process that runs items. :func:`load_audiomentations` puts the package in
   ``sys.modules`` without running that file: each name it exports imports its own module on
   first use (PEP 562). Anything else asked of the package runs the file, after which the package
   is the ordinary one.
2. **Per-item random state.** audiomentations draws every random number through the module
   globals ``random`` and ``np.random`` of its own modules. Seeding those globals per item is
   deterministic only while nothing else in the process draws from them at the same time; under
   dask the worker's event-loop thread does (tornado's callback jitter). So :func:`install` rebinds
   the ``random`` and ``np`` names inside every audiomentations module to proxies that resolve to
   the *current thread's* item generators, set by :func:`item_rng`. Outside an item they fall
   through to the real globals, so audiomentations behaves as usual for any other caller. For an
   item seed ``s`` the generators are ``random.Random(s)`` and
   ``numpy.random.RandomState([s & 0xFFFFFFFF, s >> 32])``: the streams ``random.seed(s);
   np.random.seed(...)`` would give on the globals, which are left alone.
3. **Compose's draws, replicated.** audiomentations' Compose does not keep which children it ran;
   :func:`recording_compose_class` is a Compose that does, drawing exactly what Compose draws.
4. **What a transform did to time.** :func:`observe_time` wraps a transform's ``apply`` to keep the
   frames it received and returned, and where its output starts in its input: for ``Trim`` from
   librosa's own trim index, for ``AdjustDuration``'s crop by replaying, on a copy of the item's
   generator, the one ``np.random.randint`` it draws. What ``--segments`` maps times with.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pathlib
import random
import sys
import threading
import types
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # numpy is imported where an item needs it: a finished rerun never does
    import numpy as np

from audioaug_cli.errors import UsageError
from audioaug_cli.version import NOT_INSTALLED, installed_version

SUPPORTED = ((0, 43), (0, 44))  # audiomentations versions from (inclusive) .. to (exclusive)
T = TypeVar("T")


def check_version(installed: str | None = None) -> None:
    """Refuse an audiomentations this module was not checked against: its internals may differ."""
    installed = installed or installed_version("audiomentations")
    if installed == NOT_INSTALLED:
        raise UsageError("audiomentations is not installed: pip install 'audiomentations>=0.43,<0.44'")
    numbers = tuple(int(part) for part in installed.split(".")[:2] if part.isdigit())
    low, high = SUPPORTED
    if not low <= numbers < high:
        raise UsageError(
            f"audiomentations {installed} is installed; this audioaug works with "
            f"{low[0]}.{low[1]}.x only (it relies on how that version draws and loads): "
            "pip install 'audiomentations>=0.43,<0.44'"
        )


# -- 1. lazy loading --------------------------------------------------------------------------
_load_lock = threading.RLock()


def exports() -> dict[str, str]:
    """audiomentations' public names -> the module that defines each."""
    return _read_init()[0]


@cache
def _read_init() -> tuple[dict[str, str], dict[str, Any]]:
    """What audiomentations' ``__init__.py`` imports from where, and the constants it sets
    (``__version__``), read without running it: running it imports every transform, and
    scipy.signal with them (0.6 s)."""
    spec = importlib.util.find_spec("audiomentations")
    exports: dict[str, str] = {}
    constants: dict[str, Any] = {}
    if spec is None or spec.origin is None:
        return exports, constants
    for statement in ast.parse(pathlib.Path(spec.origin).read_text(encoding="utf-8")).body:
        if isinstance(statement, ast.ImportFrom) and statement.module:
            module = (
                f"audiomentations.{statement.module}"
                if statement.level == 1
                else statement.module
                if statement.level == 0
                else ""
            )
            if module.startswith("audiomentations."):
                exports.update({alias.asname or alias.name: module for alias in statement.names})
        elif (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and isinstance(statement.value, ast.Constant)
        ):
            constants[statement.targets[0].id] = statement.value.value
    return exports, constants


def load_audiomentations() -> types.ModuleType:
    """The audiomentations package (already imported, or the one whose names load on first use).

    If its ``__init__.py`` is not the list of imports it has always been, the package is imported
    the ordinary way.
    """
    with _load_lock:
        loaded = sys.modules.get("audiomentations")
        if loaded is not None:
            return loaded
        check_version()
        spec = importlib.util.find_spec("audiomentations")
        if not exports() or spec is None or spec.loader is None:
            return quietly(lambda: importlib.import_module("audiomentations"))
        package = importlib.util.module_from_spec(spec)
        whole = _WholePackage(package, spec.loader)
        package.__getattr__ = whole.getattr  # type: ignore[method-assign]  # PEP 562
        package.__dir__ = whole.dir  # type: ignore[method-assign]
        vars(package).update(_read_init()[1])
        sys.modules["audiomentations"] = package
        return package


class _WholePackage:
    """The lazy package's module ``__getattr__`` and ``__dir__``."""

    def __init__(self, package: types.ModuleType, loader: Any):
        self.package, self.loader, self.ran, self.lock = package, loader, False, threading.Lock()

    def getattr(self, name: str) -> Any:
        module = exports().get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
            setattr(self.package, name, value)
            return value
        if name.startswith("__") and name.endswith("__"):  # a probe (pickle, inspect, ...), not a name
            if name == "__all__":  # `from audiomentations import *` then takes every name in the package
                self.run_init()
            raise AttributeError(name)
        self.run_init()
        try:
            return self.package.__dict__[name]
        except KeyError:
            raise AttributeError(f"module 'audiomentations' has no attribute {name!r}") from None

    def dir(self) -> list[str]:
        self.run_init()
        return sorted(self.package.__dict__)

    def run_init(self) -> None:
        with self.lock:
            if not self.ran:
                self.ran = True
                try:
                    self.loader.exec_module(self.package)
                except BaseException:
                    self.ran = False
                    raise


def quietly(load: Callable[[], T]) -> T:
    """``load()`` with the process's warning filters kept as they were: importing scipy adds
    filters of its own for as long as the process lives. One import at a time."""
    with _load_lock, warnings.catch_warnings():
        return load()


# -- 2. per-item random state ----------------------------------------------------------------
_current = threading.local()
_scanned = -1  # len(sys.modules) when install() last looked
_install_lock = threading.Lock()


def numpy_seed(seed: int) -> list[int]:
    """The seed array numpy's legacy generator gets for an item seed (all 64 bits used)."""
    return [seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF]


def _item_random() -> random.Random | None:
    """This thread's item ``random.Random``, made on the item's first draw (None outside an item)."""
    found: random.Random | None = getattr(_current, "random", None)
    if found is None and getattr(_current, "seed", None) is not None:
        found = _current.random = random.Random(_current.seed)
    return found


def _item_numpy() -> np.random.RandomState | None:
    """This thread's item ``RandomState``, made on the item's first draw (None outside an item).
    Seeding one from an array costs more than a short item's whole pipeline, and most items of
    most pipelines never draw from numpy: made when first drawn from, with the same seed, it gives
    the same stream."""
    found: np.random.RandomState | None = getattr(_current, "numpy", None)
    if found is None and getattr(_current, "seed", None) is not None:
        import numpy

        found = _current.numpy = numpy.random.RandomState(numpy_seed(_current.seed))
    return found


class _RandomProxy:
    """Stands in for the ``random`` module: every attribute comes from this thread's item RNG."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_item_random() or random, name)


class _NumpyProxy(types.ModuleType):
    """Stands in for ``numpy``: ``np.random`` is this thread's item RandomState, all else numpy."""

    def __init__(self) -> None:
        super().__init__("numpy")

    def __getattr__(self, name: str) -> Any:
        import numpy

        if name == "random":
            return _item_numpy() or numpy.random
        value = getattr(numpy, name)
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
    import numpy

    with _install_lock:
        modules, unfinished = list(sys.modules.items()), False
        for name, module in modules:
            if module is None or not (name == "audiomentations" or name.startswith("audiomentations.")):
                continue
            unfinished |= bool(getattr(getattr(module, "__spec__", None), "_initializing", False))
            if vars(module).get("random") is random:
                module.random = _random_proxy  # type: ignore[attr-defined]
            if vars(module).get("np") is numpy:
                module.np = _numpy_proxy  # type: ignore[attr-defined]
        _scanned = -1 if unfinished else len(modules)  # a module still being imported: look again


_one_item_at_a_time = threading.Lock()


@contextmanager
def item_rng(seed: int, exclusive: bool = False, copy: int | None = None) -> Iterator[None]:
    """Within the block, audiomentations in this thread draws only from generators seeded by ``seed``.

    The process's global ``random`` and ``np.random`` are neither drawn from nor seeded. With
    ``exclusive`` (a pipeline with RoomSimulator), pyroomacoustics' own process-wide generators,
    which its ray tracer draws from, are seeded too, and this process's exclusive items wait for
    one another. ``copy``, the item's copy number, is what :func:`current_copy` gives.
    """
    install()
    with _one_item_at_a_time if exclusive else nullcontext():
        previous = tuple(getattr(_current, name, None) for name in ("seed", "random", "numpy", "copy"))
        _current.seed, _current.random, _current.numpy, _current.copy = seed, None, None, copy
        if exclusive:
            _seed_room_acoustics(seed)
        try:
            yield
        finally:
            _current.seed, _current.random, _current.numpy, _current.copy = previous


def _seed_room_acoustics(seed: int) -> None:
    import pyroomacoustics  # >= 0.10 keeps a numpy Generator and a C++ engine of its own

    pyroomacoustics.random.seed(numpy=numpy_seed(seed), libroom=seed)


def current_copy() -> int | None:
    """The copy number of the item this thread is augmenting, when its caller gave one."""
    found: int | None = getattr(_current, "copy", None)
    return found


def current_random() -> random.Random:
    """This thread's item generator, or the global one outside an item."""
    found: random.Random = _item_random() or random._inst
    return found


# -- 3. Compose's draws, replicated ------------------------------------------------------------
_recording_compose: type | None = None


def recording_compose_class() -> type:
    """audiomentations' Compose, remembering which children it ran (it does not keep that)."""
    global _recording_compose
    if _recording_compose is None:
        Compose = quietly(lambda: load_audiomentations().Compose)

        class RecordingCompose(Compose):  # type: ignore[misc,valid-type]
            applied_children: list[Any] = []

            def __call__(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
                # The same draws, in the same order, as Compose.__call__.
                draw = current_random()
                transforms = list(self.transforms)
                self.applied_children = []
                if draw.random() < self.p:
                    if self.shuffle:
                        draw.shuffle(transforms)
                    for transform in transforms:
                        samples = transform(samples, sample_rate)
                    self.applied_children = transforms
                return samples

        _recording_compose = RecordingCompose
    return _recording_compose


# -- 4. what a transform did to time ------------------------------------------------------------
def _drew_identity(name: str, params: dict[str, Any]) -> bool:
    """Whether a transform that returned its input unchanged drew exactly that."""
    return name == "SpeedPerturb" and params.get("rate") == 1.0


def observe_time(transform: Any) -> None:
    """After each call, ``transform.observed`` is ``(frames in, frames out, offset)``: the output's
    frame 0 is the input's frame ``offset`` (negative: that many frames were added before it).
    The transform is also handed its samples in C order (a copy only of a view)."""
    inner, name = transform.apply, type(transform).__name__

    def apply(samples: np.ndarray, sample_rate: int) -> np.ndarray:
        import numpy

        # C order for every transform: Limiter's compiled code panics on a view, e.g. Reverse's output.
        samples = numpy.ascontiguousarray(samples)
        generator = _item_numpy() if name == "AdjustDuration" else None
        before = generator.get_state() if generator is not None else None
        checksum = zlib.crc32(samples.data)  # (a transform may return its input, changed in place or not)
        out: np.ndarray = inner(samples, sample_rate)
        frames_in, frames_out, offset = samples.shape[-1], out.shape[-1], 0
        # A transform that handed its input back untouched gave up (noise from a silent file, the
        # loudness of silence): it is not listed as applied, since what it drew did not happen. A
        # drawn identity (SpeedPerturb at rate 1, Kaldi's unperturbed copy) is what it says.
        transform.unchanged = (
            out is samples and zlib.crc32(out.data) == checksum and not _drew_identity(name, transform.parameters)
        )
        if name == "Trim" and frames_out < frames_in:
            import librosa

            offset = int(librosa.effects.trim(samples, top_db=transform.top_db)[1][0])
        elif name == "AdjustDuration" and frames_out < frames_in and before is not None:
            import numpy

            replayed = numpy.random.RandomState()
            replayed.set_state(before)
            offset = int(replayed.randint(0, frames_in - frames_out))  # AdjustDuration.apply's own draw
        elif name == "AdjustDuration" and frames_out > frames_in and transform.padding_position == "start":
            offset = frames_in - frames_out
        transform.observed = (frames_in, frames_out, offset)
        return out

    transform.apply = apply
