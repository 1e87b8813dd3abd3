"""OUTPUT_DIR/audioaug.json: what made this OUTPUT_DIR (config, seed, copies, versions) and how the
last run ended. The one place that reads and writes it; a rerun checks it before resuming."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from . import __version__
from .audio_io import write_text
from .config import Config
from .errors import UsageError

PROVENANCE = "audioaug.json"


@dataclass(frozen=True)
class Provenance:
    """The record. Holds no times or paths, so that reruns match byte for byte."""

    config: dict[str, Any]  # the normalised config (Config.to_dict)
    config_hash: str
    seed: int
    copies: int
    versions: dict[str, str]
    status: str  # running | interrupted | complete
    counts: dict[str, int]

    @classmethod
    def of(cls, config: Config, status: str, counts: dict[str, int]) -> Provenance:
        return cls(config.to_dict(), config.hash, config.seed, config.copies, versions(), status, counts)

    def write(self, output_dir: Path) -> None:
        text = json.dumps(asdict(self), indent=2) + "\n"
        write_text(output_dir / PROVENANCE, lambda handle: print(text, end="", file=handle))


def read_provenance(output_dir: Path) -> Provenance | None:
    """The record in OUTPUT_DIR, or None if there is none. Raises UsageError if it is unreadable."""
    path = output_dir / PROVENANCE
    try:
        return Provenance(**json.loads(path.read_text(encoding="utf-8")))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError, TypeError):
        raise UsageError(f"{path} is unreadable, so this OUTPUT_DIR cannot be resumed; "
                         "--overwrite starts over") from None


def check_resumable(config: Config, output_dir: Path) -> None:
    """Refuse to resume into an OUTPUT_DIR made by another config, seed or copies."""
    previous = read_provenance(output_dir)
    if previous is None or previous.config_hash == config.hash:
        return
    old, new = previous.config, config.to_dict()
    changes = [f"{k} {old.get(k)} -> {new[k]}" for k in ("seed", "copies") if old.get(k) != new[k]]
    changes += [f"{k} differs" for k in dict.fromkeys([*new, *old])
                if k not in ("seed", "copies") and old.get(k) != new.get(k)]
    raise UsageError(f"OUTPUT_DIR {output_dir} was made with a different config ({'; '.join(changes)}); "
                     "use --overwrite to start over, or choose another OUTPUT_DIR")


def is_finished(output_dir: Path) -> bool:
    """Whether OUTPUT_DIR holds a run that completed."""
    try:
        previous = read_provenance(output_dir)
    except UsageError:
        return False
    return previous is not None and previous.status == "complete"


@cache
def versions() -> dict[str, str]:
    """The versions audioaug.json records: a loaded module's __version__, else the installed one."""
    found = {"audioaug": __version__}
    for package in ("audiomentations", "librosa", "numpy", "soundfile"):
        loaded = getattr(sys.modules.get(package), "__version__", None)
        found[package] = str(loaded) if loaded else installed_version(package)
    return found


def installed_version(package: str) -> str:
    """From the package's ``<name>-<version>.dist-info`` folder, whose name the wheel format fixes;
    importlib.metadata, the fallback, takes ~10 ms to import: a quarter of an empty pipeline's start-up."""
    found = _dist_info_versions().get(package.lower().replace("-", "_"))
    if found is not None:
        return found
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


@cache
def _dist_info_versions() -> dict[str, str]:
    """{normalised name: version} of the dist-info folders on sys.path; the first one found wins, as
    for imports."""
    found: dict[str, str] = {}
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info"):
                package, _dash, version = name[:-len(".dist-info")].partition("-")
                found.setdefault(package.lower(), version)
    return found
