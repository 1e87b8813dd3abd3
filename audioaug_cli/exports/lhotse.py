"""lhotse: recordings.jsonl.gz and supervisions.jsonl.gz, which ``lhotse.load_manifest`` and
``CutSet.from_manifests`` read. A recording per output; a supervision per segment (--segments) or
per output. ``text``, ``speaker``, ``language`` and ``gender`` columns are supervision fields;
every other label, and the output's ``source`` and ``copy``, go in ``custom``.

With stems (mix:), cuts.jsonl.gz too: a cut per output whose ``custom`` holds each other stem as a
recording, ``target_recording`` first (as NeMo's audio collection reads lhotse cuts:
``cut.load_target_recording()``)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable
from typing import Any

from audioaug_cli.exports.corpus import Corpus, Output, Segment, require_audio, require_items
from audioaug_cli.exports.dest import OwnedDest
from audioaug_cli.io.store import Store

RECORDINGS, SUPERVISIONS, CUTS = "recordings.jsonl.gz", "supervisions.jsonl.gz", "cuts.jsonl.gz"
FIELDS = ("text", "speaker", "language", "gender")  # SupervisionSegment's own


def check(corpus: Corpus) -> None:
    require_audio(corpus, "lhotse")
    require_items(corpus, "lhotse")


def names(corpus: Corpus, dest: OwnedDest, shard_size: int) -> set[str]:
    return {RECORDINGS, SUPERVISIONS, CUTS} if corpus.has_stems else {RECORDINGS, SUPERVISIONS}


def export(corpus: Corpus, dest: Store, advance: Callable[[int], None], shard_size: int) -> tuple[list[str], int]:
    recordings, supervisions, cuts = [], [], []
    for output in corpus.outputs:
        recordings.append(_recording(corpus, output, output.file_name))
        made = [_supervision(output, index, span) for index, span in enumerate(output.spans())]
        supervisions += made
        if corpus.has_stems:
            cuts.append(_cut(corpus, output, recordings[-1], made))
        advance(1)
    write_jsonl_gz(dest, RECORDINGS, recordings)
    write_jsonl_gz(dest, SUPERVISIONS, supervisions)
    if not corpus.has_stems:
        return [RECORDINGS, SUPERVISIONS], len(supervisions)
    write_jsonl_gz(dest, CUTS, cuts)
    return [RECORDINGS, SUPERVISIONS, CUTS], len(supervisions)


def _recording(corpus: Corpus, output: Output, name: str) -> dict[str, Any]:
    """A lhotse Recording of one of an output's files (the output itself, or one of its stems)."""
    channels = list(range(output.channels))
    folder, _slash, base = name.rpartition("/")
    return {
        "id": f"{folder}/{base.rpartition('.')[0] or base}" if folder else base.rpartition(".")[0] or base,
        "sources": [{"type": corpus.store.source_type, "channels": channels, "source": corpus.location(name)}],
        "sampling_rate": output.sample_rate,
        "num_samples": output.frames,
        "duration": output.duration,
        "channel_ids": channels,
    }


def _cut(
    corpus: Corpus, output: Output, recording: dict[str, Any], supervisions: list[dict[str, Any]]
) -> dict[str, Any]:
    """A cut of the whole mixture, its stems as recordings in ``custom`` (``<stem>_recording``)."""
    stems = output.stems
    order = sorted(stems, key=lambda stem: stem != "target")
    custom = {f"{stem}_recording": _recording(corpus, output, stems[stem]) for stem in order}
    if "target" not in stems and "speech" in stems:
        custom = {"target_recording": custom["speech_recording"], **custom}
    mono = output.channels == 1
    return {
        "id": recording["id"],
        "start": 0.0,
        "duration": output.duration,
        "channel": 0 if mono else list(range(output.channels)),
        "supervisions": supervisions,
        "recording": recording,
        "custom": custom,
        "type": "MonoCut" if mono else "MultiCut",
    }


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
