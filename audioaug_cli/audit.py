"""`audioaug audit`: whether anything drawn for one split of a finished OUTPUT_DIR was also drawn for
another. A drawn file is known by its content (sha256), so a copy of a noise under another name in
another split's folder counts; a source counts when it is mixed into items of two splits.

Read from the manifest alone (and the drawn files themselves, hashed once each where the manifest
does not record their hash): nothing is decoded."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audioaug_cli.engine.provenance import read_provenance
from audioaug_cli.errors import UsageError, suggest
from audioaug_cli.exports.corpus import read_corpus
from audioaug_cli.io.filesystems import is_url


@dataclass
class Audit:
    """What was drawn in each split: drawn files by content, sources by name."""

    column: str
    outputs: int = 0
    files: dict[str, dict[str, set[str]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(set)))
    sources: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def shared(self) -> Iterator[str]:
        """One line per drawn file or source found in more than one split."""
        for digest, by_split in sorted(self.files.items(), key=lambda item: sorted(item[1].values())[0]):
            if len(by_split) > 1:
                names = ", ".join(sorted({name for names in by_split.values() for name in names}))
                yield f"drawn file in splits {', '.join(sorted(by_split))}: {names} (sha256 {digest[:16]}...)"
        for source, splits in sorted(self.sources.items()):
            if len(splits) > 1:
                yield f"source in splits {', '.join(sorted(splits))}: {source}"

    def summary(self, found: int) -> str:
        what = f"{found} shared across splits" if found else "none shared across splits"
        return (
            f"audit: {self.outputs} outputs by {self.column!r}, {len(self.files)} drawn files and "
            f"{len(self.sources)} sources checked: {what}"
        )


def audit(output_dir: str | Path, options: dict[str, Any] | None = None, split_by: str | None = None) -> Audit:
    """Audit a finished OUTPUT_DIR by a --labels column (``split_by``; default: the config's
    ``pools.split_by``). UsageError (exit 2) when there is no such column."""
    corpus = read_corpus(output_dir, options)
    provenance = read_provenance(corpus.store)
    assert provenance is not None  # (read_corpus refused an OUTPUT_DIR without one)
    column = split_by or (provenance.config.get("pools") or {}).get("split_by")
    if column is None:
        raise UsageError(
            f"OUTPUT_DIR {corpus.store}: its config has no pools.split_by; say which --labels column holds "
            "the split with --split-by COLUMN"
        )
    if column not in corpus.label_columns:
        raise UsageError(
            f"{corpus.store.shown(provenance.config['output']['manifest'])}: no column {column!r}; found "
            f"{', '.join(corpus.label_columns) or 'none'}{suggest(column, corpus.label_columns)}"
        )
    found = Audit(column)
    hashes = _Hashes(Path(provenance.config_dir or "."))
    for output in corpus.outputs:
        split = output.labels.get(column, "")
        if not split:
            continue
        found.outputs += 1
        found.sources[output.source].add(split)
        for name, digest in _drawn(output.row.get("transforms") or [], hashes, found.sources, split):
            found.files[digest][split].add(name)
    return found


class _Hashes:
    """sha256 of a drawn file the manifest names without one (a pipeline's noise), once each."""

    def __init__(self, base_dir: Path):
        self.base_dir = base_dir
        self.known: dict[str, str | None] = {}

    def of(self, name: str) -> str | None:
        if name not in self.known:
            path = Path(name) if Path(name).is_absolute() else self.base_dir / name
            try:
                self.known[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
            except OSError:
                self.known[name] = None
        return self.known[name]


def _drawn(
    entries: list[dict[str, Any]], hashes: _Hashes, sources: dict[str, set[str]], split: str
) -> Iterator[tuple[str, str]]:
    """(name, sha256) of every file the transforms drew; interfering sources into ``sources``."""
    for entry in entries:
        params = entry.get("params") or {}
        if entry.get("name") == "Mix":
            for part in (params.get("reverb"), params.get("noise")):
                if part:
                    yield part["file"], part["sha256"]
            for other in params.get("interference") or []:
                sources[other["source"]].add(split)
                yield from _drawn(other.get("transforms") or [], hashes, sources, split)
            continue
        yield from _named_files(params, hashes)


def _named_files(value: Any, hashes: _Hashes) -> Iterator[tuple[str, str]]:
    """Files named anywhere in a transform's parameters (AddBackgroundNoise's noise_file_path, ...)."""
    if isinstance(value, dict):
        for inner in value.values():
            yield from _named_files(inner, hashes)
    elif isinstance(value, list):
        for inner in value:
            yield from _named_files(inner, hashes)
    elif isinstance(value, str) and "." in value and ("/" in value or is_url(value)):
        digest = None if is_url(value) else hashes.of(value)
        yield value, digest or f"name:{value}"
