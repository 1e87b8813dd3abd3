"""audioaug: offline audio dataset augmentation with audiomentations.

The library API, usable without the command line::

    from audioaug_cli import load_config, run
    summary = run(load_config("config.yaml"), "in/", "out/")

Names are imported on first use, so that ``audioaug --help`` does not load numpy.
"""

from __future__ import annotations

import importlib
from typing import Any

from audioaug_cli.version import __version__

_API = {
    "Config": "config.model",
    "load_config": "config.load",
    "parse_config": "config.load",
    "AudioaugError": "errors",
    "ConfigError": "errors",
    "RunOptions": "engine.options",
    "Summary": "engine.run",
    "item_seed": "engine.tasks",
    "run": "engine.run",
    "Augmenter": "online",
    "build_pipeline": "transforms.waveform",
}
__all__ = ["__version__", *_API]


def entry() -> None:
    """The `audioaug` command (see :mod:`audioaug_cli.cli`). Ctrl-C while it is still starting,
    before the command can handle it, exits 130 as Ctrl-C later does, without a traceback."""
    try:
        from audioaug_cli.cli import entry as command
    except KeyboardInterrupt:
        from audioaug_cli.errors import Interrupted

        raise SystemExit(Interrupted.exit_code) from None
    command()


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
