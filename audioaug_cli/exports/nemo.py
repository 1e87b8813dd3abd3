"""NeMo: manifest.json, one JSON object per line, as NeMo's ASR, speech-classification and
speaker datasets read it: ``audio_filepath``, ``duration``, ``offset`` (per segment), then the
labels under their own names (``language`` as ``lang``) and the output's ``source``.

With stems (mix:), the lines are NeMo's audio-to-audio manifest: ``audio_filepath`` the mixture,
``target_filepath`` the target (the speech stem when no target was written), and a
``<stem>_filepath`` per other stem."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO, Any

from audioaug_cli.errors import UsageError
from audioaug_cli.exports.corpus import Corpus, require_audio, require_items
from audioaug_cli.exports.dest import OwnedDest
from audioaug_cli.io.store import Store

MANIFEST = "manifest.json"
RENAMED = {"language": "lang"}  # what NeMo's multilingual manifests call it


def check(corpus: Corpus) -> None:
    require_audio(corpus, "NeMo")
    require_items(corpus, "NeMo")
    if corpus.has_stems and not all({"target", "speech"} & set(output.stems) for output in corpus.outputs):
        raise UsageError(
            f"OUTPUT_DIR {corpus.store} has no target stem, which NeMo's audio-to-audio datasets train "
            "towards: add target (or speech) to the config's stems and rerun"
        )


def names(corpus: Corpus, dest: OwnedDest, shard_size: int) -> set[str]:
    return {MANIFEST}


def export(corpus: Corpus, dest: Store, advance: Callable[[int], None], shard_size: int) -> tuple[list[str], int]:
    lines: list[str] = []
    for output in corpus.outputs:
        path = corpus.location(output.file_name)
        for span in output.spans():
            item: dict[str, Any] = {"audio_filepath": path}
            stems = output.stems
            if stems:
                item["target_filepath"] = corpus.location(stems.get("target") or stems["speech"])
                item.update((f"{stem}_filepath", corpus.location(name)) for stem, name in stems.items())
            if span is None:
                item["duration"] = output.duration
            else:
                item["offset"] = span.start
                item["duration"] = round(span.end - span.start, 6)
            item["source"] = output.source
            # A label never takes the place of a field of NeMo's (the tables refuse such names too).
            labels = ((RENAMED.get(name, name), value) for name, value in output.fields(span).items())
            item.update((name, value) for name, value in labels if name not in item)
            lines.append(json.dumps(item, ensure_ascii=False) + "\n")
        advance(1)

    def write(handle: IO[str]) -> None:
        handle.writelines(lines)

    dest.write_text(MANIFEST, write)
    return [MANIFEST], len(lines)
