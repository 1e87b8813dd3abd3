"""NeMo: manifest.json, one JSON object per line, as NeMo's ASR, speech-classification and
speaker datasets read it: ``audio_filepath``, ``duration``, ``offset`` (per segment), then the
labels under their own names (``language`` as ``lang``) and the output's ``source``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO, Any

from audioaug_cli.exports.corpus import Corpus, require_audio
from audioaug_cli.io.store import Store

MANIFEST = "manifest.json"
RENAMED = {"language": "lang"}  # what NeMo's multilingual manifests call it


def export(corpus: Corpus, dest: Store, advance: Callable[[int], None]) -> tuple[list[str], int]:
    require_audio(corpus, "NeMo")
    lines: list[str] = []
    for output in corpus.outputs:
        path = corpus.location(output.file_name)
        for span in output.spans():
            item: dict[str, Any] = {"audio_filepath": path}
            if span is None:
                item["duration"] = output.duration
            else:
                item["offset"] = span.start
                item["duration"] = round(span.end - span.start, 6)
            item.update((RENAMED.get(name, name), value) for name, value in output.fields(span).items())
            item["source"] = output.source
            lines.append(json.dumps(item, ensure_ascii=False) + "\n")
        advance(1)

    def write(handle: IO[str]) -> None:
        handle.writelines(lines)

    dest.write_text(MANIFEST, write)
    return [MANIFEST], len(lines)
