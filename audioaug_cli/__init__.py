"""audioaug: offline audio dataset augmentation with audiomentations.

The library API, usable without the command line::

    from audioaug_cli import load_config, run
    summary = run(load_config("config.yaml"), "in/", "out/")

Names are imported on first use, so that ``audioaug --help`` does not load numpy.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "Config": "config", "load_config": "config", "parse_config": "config",
    "AudioaugError": "errors", "ConfigError": "errors",
    "RunOptions": "runner", "Summary": "runner", "item_seed": "items", "run": "runner",
    "Augmenter": "api", "build_pipeline": "pipeline",
}
__all__ = ["__version__", *_API]


def entry() -> None:
    """The `audioaug` command (see :mod:`audioaug_cli.cli`). Ctrl-C while it is still starting,
    before the command can handle it, exits 130 as Ctrl-C later does, without a traceback."""
    try:
        from .cli import entry as command
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    command()


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
