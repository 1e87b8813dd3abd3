"""OUTPUT_DIR/audioaug.json: what made this OUTPUT_DIR (config, seed, copies, versions) and how the
last run ended. The one place that reads and writes it; a rerun checks it before resuming."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import cache
from pathlib import Path
from typing import IO, Any

from audioaug_cli.config.model import Config
from audioaug_cli.errors import UsageError
from audioaug_cli.io.store import Store
from audioaug_cli.version import __version__, installed_version

PROVENANCE = "audioaug.json"


@dataclass(frozen=True)
class Provenance:
    """The record. Holds no times, so that a rerun of the same command writes the same bytes."""

    config: dict[str, Any]  # the normalised config (Config.to_dict)
    config_hash: str
    seed: int
    copies: int | dict[str, Any]
    versions: dict[str, str]
    status: str  # running | interrupted | stopped (at a failure, --fail-fast) | complete
    counts: dict[str, int]
    input_dir: str | None = None  # where the sources were (absolute): what `audioaug replay` reads
    config_dir: str | None = None  # the config's folder, which its sounds_path / ir_path start from

    @classmethod
    def of(cls, config: Config, status: str, counts: dict[str, int], input_dir: str | Path | None = None) -> Provenance:
        recorded = config.to_dict()
        return cls(
            recorded,
            config.hash,
            config.seed,
            recorded["copies"],
            versions(),
            status,
            counts,
            str(input_dir) if input_dir is not None else None,
            config.base_dir,
        )

    def write(self, output: Store) -> None:
        output.write_text(PROVENANCE, self.writer())

    def text(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    def writer(self) -> Callable[[IO[str]], None]:
        text = self.text()
        return lambda handle: print(text, end="", file=handle)


def read_provenance(output: Store) -> Provenance | None:
    """The record in OUTPUT_DIR, or None if there is none. Raises UsageError if it is unreadable."""
    try:
        return Provenance(**json.loads(output.read_text(PROVENANCE)))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError, TypeError):
        raise UsageError(
            f"{output.shown(PROVENANCE)} is unreadable, so this OUTPUT_DIR cannot be resumed; --overwrite starts over"
        ) from None


def recorded_config(previous: Provenance) -> Config:
    """The config that made an OUTPUT_DIR, rebuilt from its record and checked again."""
    import yaml

    from audioaug_cli.config.load import parse_config

    record = dict(previous.config)
    include_original = bool(record.pop("include_original", False))
    segments = str(record.pop("segments", ""))
    record["pipeline"] = [_entry(node) for node in record["pipeline"]]
    if record.get("spectrogram") is not None:
        record["spectrogram"] = {
            **record["spectrogram"],
            "pipeline": [_entry(node) for node in record["spectrogram"]["pipeline"]],
        }
    if record.get("mix") is not None:
        record["mix"] = {**record["mix"], "post": [_entry(node) for node in record["mix"].get("post", [])]}
    config = parse_config(yaml.safe_dump(record), PROVENANCE, base_dir=Path(previous.config_dir or "."))
    config = replace(config.with_overrides(include_original=include_original), segments=segments)
    if config.hash != previous.config_hash:
        raise UsageError(f"{PROVENANCE}: the recorded config does not rebuild to what made this OUTPUT_DIR")
    return config


def _entry(node: dict[str, Any]) -> dict[str, Any]:
    """A recorded node ({name, params[, transforms]}) back as a config entry ({Name: {params}})."""
    body = {
        key: _entry(value)
        if _is_node(value)
        else [_entry(v) for v in value]
        if isinstance(value, list) and value and all(_is_node(v) for v in value)
        else value
        for key, value in node["params"].items()
    }
    if "transforms" in node:
        body["transforms"] = [_entry(child) for child in node["transforms"]]
    return {node["name"]: body}


def _is_node(value: Any) -> bool:
    return isinstance(value, dict) and set(value) >= {"name", "params"}


def check_resumable(config: Config, output: Store) -> None:
    """Refuse to resume into an OUTPUT_DIR made by another config, seed or copies."""
    previous = read_provenance(output)
    if previous is None or previous.config_hash == config.hash:
        return
    old, new = previous.config, config.to_dict()
    changes = [
        f"{k} {json.dumps(old.get(k))} -> {json.dumps(new[k])}" for k in ("seed", "copies") if old.get(k) != new[k]
    ]
    changes += [
        f"{k} differs" for k in dict.fromkeys([*new, *old]) if k not in ("seed", "copies") and old.get(k) != new.get(k)
    ]
    raise UsageError(
        f"OUTPUT_DIR {output} was made with a different config ({'; '.join(changes)}); "
        "use --overwrite to start over, or choose another OUTPUT_DIR"
    )


@cache
def versions() -> dict[str, str]:
    """The versions audioaug.json records: a loaded module's __version__, else the installed one."""
    found = {"audioaug": __version__}
    for package in ("audiomentations", "librosa", "numpy", "soundfile"):
        loaded = getattr(sys.modules.get(package), "__version__", None)
        found[package] = str(loaded) if loaded else installed_version(package)
    return found
