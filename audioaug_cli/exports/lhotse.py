"""lhotse: recordings.jsonl.gz and supervisions.jsonl.gz, which ``lhotse.load_manifest`` and
``CutSet.from_manifests`` read. A recording per output; a supervision per segment (--segments) or
per output. ``text``, ``speaker``, ``language`` and ``gender`` columns are supervision fields;
every other label, and the output's ``source`` and ``copy``, go in ``custom``."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable
from typing import Any

from audioaug_cli.exports.corpus import Corpus, Output, Segment, require_audio, require_items
from audioaug_cli.exports.dest import OwnedDest
from audioaug_cli.io.store import Store

RECORDINGS, SUPERVISIONS = "recordings.jsonl.gz", "supervisions.jsonl.gz"
FIELDS = ("text", "speaker", "language", "gender")  # SupervisionSegment's own


def check(corpus: Corpus) -> None:
    require_audio(corpus, "lhotse")
    require_items(corpus, "lhotse")


def names(corpus: Corpus, dest: OwnedDest, shard_size: int) -> set[str]:
    return {RECORDINGS, SUPERVISIONS}


def export(corpus: Corpus, dest: Store, advance: Callable[[int], None], shard_size: int) -> tuple[list[str], int]:
    recordings, supervisions = [], []
    kind = corpus.store.source_type
    for output in corpus.outputs:
        channels = list(range(output.channels))
        recordings.append(
            {
                "id": output.stem(),
                "sources": [{"type": kind, "channels": channels, "source": corpus.location(output.file_name)}],
                "sampling_rate": output.sample_rate,
                "num_samples": output.frames,
                "duration": output.duration,
                "channel_ids": channels,
            }
        )
        supervisions += [_supervision(output, index, span) for index, span in enumerate(output.spans())]
        advance(1)
    write_jsonl_gz(dest, RECORDINGS, recordings)
    write_jsonl_gz(dest, SUPERVISIONS, supervisions)
    return [RECORDINGS, SUPERVISIONS], len(supervisions)


def _supervision(output: Output, index: int, span: Segment | None) -> dict[str, Any]:
    recording = output.stem()
    start, end = (span.start, span.end) if span is not None else (0.0, output.duration)
    found: dict[str, Any] = {
        "id": recording if span is None else f"{recording}-{index:04d}",
        "recording_id": recording,
        "start": start,
        "duration": round(end - start, 6) if span is not None else output.duration,
        "channel": 0 if output.channels == 1 else list(range(output.channels)),
    }
    labels = output.fields(span)
    found.update((name, labels[name]) for name in FIELDS if labels.get(name))
    custom = {name: value for name, value in labels.items() if name not in FIELDS and value}
    found["custom"] = {**custom, "source": output.source, "copy": output.row["copy"]}
    return found


def write_jsonl_gz(dest: Store, name: str, items: Iterable[dict[str, Any]]) -> None:
    """JSON lines, gzipped with no time or file name in the header: the same bytes every time."""
    with dest.open_write(name) as handle, gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0) as packed:
        for item in items:
            packed.write((json.dumps(item, ensure_ascii=False) + "\n").encode("utf-8"))
