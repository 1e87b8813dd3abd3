"""Kaldi (and ESPnet, k2/icefall through lhotse's importer): a data directory.

``wav.scp`` (a recording per output), ``utt2spk`` and ``spk2utt``, ``utt2dur`` and ``reco2dur``,
``utt2uniq`` (every variant of one source under one name, so that a train/dev split keeps them
together), ``segments`` with --segments (an utterance per segment), ``text`` from a ``text``
column (an empty transcript is the id alone), ``spk2gender`` from ``gender`` and ``utt2lang`` from
``language`` when every speaker or utterance has one (Kaldi wants all or none). Every file is sorted
in C (byte) order, as ``utils/validate_data_dir.sh`` requires.

Ids: the output's file name without its extension, with whitespace, control characters and ``~``
written as ``~HH`` (Kaldi splits on whitespace). An output with a ``speaker`` has its utterance id
prefixed by the speaker's id and ``-``; one without is its own speaker. Should one speaker id be
another's prefix followed by a character sorting at or before ``-`` (which would sort utt2spk
differently by speaker than by utterance), every speaker id has such characters escaped too.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable
from typing import IO

from audioaug_cli.errors import UsageError
from audioaug_cli.exports.corpus import Corpus, Output, Segment, require_audio
from audioaug_cli.io.store import LocalStore, Store

FILES = (
    "wav.scp",
    "segments",
    "utt2spk",
    "spk2utt",
    "utt2dur",
    "reco2dur",
    "utt2uniq",
    "text",
    "spk2gender",
    "utt2lang",
)
_BEFORE_SEPARATOR = "".join(chr(c) for c in range(ord("!"), ord("-") + 1))  # !"#$%&'()*+,-


def kaldi_id(text: str, also: str = "") -> str:
    """``text`` with no whitespace: each whitespace or control character, ``~`` and any of
    ``also`` written as ``~HH`` (``~uHHHH`` beyond U+00FF). One text, one id; two texts, two ids."""
    out = []
    for char in text:
        if char.isspace() or not char.isprintable() or char == "~" or char in also:
            code = ord(char)
            out.append(f"~{code:02x}" if code < 0x100 else f"~u{code:04x}" if code < 0x10000 else f"~U{code:08x}")
        else:
            out.append(char)
    return "".join(out)


class _Utterance:
    def __init__(self, output: Output, index: int, span: Segment | None, speaker: str | None):
        self.output, self.index, self.span, self.speaker = output, index, span, speaker

    @property
    def start(self) -> float:
        return self.span.start if self.span is not None else 0.0

    @property
    def duration(self) -> float:
        return round(self.span.end - self.span.start, 6) if self.span is not None else self.output.duration


def export(corpus: Corpus, dest: Store, advance: Callable[[int], None]) -> tuple[list[str], int]:
    require_audio(corpus, "Kaldi")
    if not isinstance(corpus.store, LocalStore):
        raise UsageError(
            f"Kaldi reads local files (and pipes), not {corpus.store}: copy OUTPUT_DIR to this machine "
            "and export the copy, or export --to lhotse, nemo or webdataset, which keep its URLs"
        )
    columns = corpus.columns()
    utterances = []
    for output in corpus.outputs:
        for index, span in enumerate(output.spans()):
            speaker = output.fields(span).get("speaker") or None
            utterances.append(_Utterance(output, index, span, speaker))
        advance(1)
    speakers = _speaker_ids({u.speaker for u in utterances if u.speaker is not None})
    with_segments = corpus.segment_columns is not None

    def recording(output: Output, speaker: str | None) -> str:
        own = kaldi_id(output.stem())
        return f"{speakers[speaker]}-{own}" if speaker is not None and not with_segments else own

    files: dict[str, list[str]] = {name: [] for name in FILES}
    spk2utt: dict[str, list[str]] = {}
    genders: dict[str, str] = {}
    recordings = {recording(o, o.labels.get("speaker") or None): o for o in corpus.outputs}
    for u in utterances:
        rec = recording(u.output, u.speaker)
        if with_segments:
            utt = f"{rec}-{u.index:04d}"
            utt = f"{speakers[u.speaker]}-{utt}" if u.speaker is not None else utt
            files["segments"].append(f"{utt} {rec} {_seconds(u.start)} {_seconds(u.start + u.duration)}")
        else:
            utt = rec
        spk = speakers[u.speaker] if u.speaker is not None else utt
        files["utt2spk"].append(f"{utt} {spk}")
        spk2utt.setdefault(spk, []).append(utt)
        files["utt2dur"].append(f"{utt} {_seconds(u.duration)}")
        files["utt2uniq"].append(f"{utt} {kaldi_id(u.output.source.rpartition('.')[0] or u.output.source)}")
        fields = u.output.fields(u.span)
        if "text" in columns:
            text = " ".join(fields.get("text", "").split())
            files["text"].append(f"{utt} {text}" if text else utt)
        if fields.get("language"):
            files["utt2lang"].append(f"{utt} {kaldi_id(fields['language'])}")
        gender = fields.get("gender", "")
        if gender and genders.setdefault(spk, gender) != gender:
            raise UsageError(f"speaker {u.speaker or spk} is both {genders[spk]!r} and {gender!r} in the gender column")
    for rec, output in recordings.items():
        files["wav.scp"].append(f"{rec} {_readable(corpus.location(output.file_name), output.file_name)}")
        files["reco2dur"].append(f"{rec} {_seconds(output.duration)}")
    files["spk2utt"] = [f"{spk} {' '.join(sorted(utts))}" for spk, utts in spk2utt.items()]
    # Kaldi (and lhotse's importer) want these of every speaker or utterance, or not at all.
    files["spk2gender"] = [f"{spk} {kaldi_id(g)}" for spk, g in genders.items()] if len(genders) == len(spk2utt) else []
    if len(files["utt2lang"]) != len(utterances):
        files["utt2lang"] = []
    _check_order(files["utt2spk"])
    written = []
    for name in FILES:
        lines = sorted(files[name])
        if not lines and name not in ("wav.scp", "utt2spk", "spk2utt"):
            dest.remove(name)  # stale from an earlier export of another corpus
            continue
        _write_lines(dest, name, lines)
        written.append(name)
    return written, len(utterances)


def _speaker_ids(values: set[str]) -> dict[str, str]:
    plain = {value: kaldi_id(value) for value in values}
    if not _ambiguous(plain.values()):
        return plain
    return {value: kaldi_id(value, also=_BEFORE_SEPARATOR) for value in values}


def _ambiguous(ids: Iterable[str]) -> bool:
    """Whether an id is followed (in sorted order) by one it prefixes with a character <= '-'."""
    ordered = sorted(set(ids))
    return any(b.startswith(a) and b[len(a)] <= "-" for a, b in zip(ordered, ordered[1:], strict=False))


def _check_order(utt2spk: list[str]) -> None:
    """utt2spk sorted by utterance must also be sorted by speaker (validate_data_dir.sh's rule)."""
    pairs = sorted(tuple(line.split(" ")) for line in utt2spk)
    if pairs != sorted(pairs, key=lambda p: (p[1], p[0])):
        raise UsageError(
            "the speaker column's ids and the names of outputs without a speaker sort differently "
            "(Kaldi needs every utterance id to start with its speaker's): give every output a speaker"
        )


def _readable(location: str, file_name: str) -> str:
    """wav.scp's right side: the path of a WAV file, else a command that writes the file as WAV."""
    if file_name.lower().endswith(".wav") and not any(c.isspace() for c in location):
        return location
    quoted = shlex.quote(location)
    if file_name.lower().endswith(".wav"):
        return f"cat {quoted} |"
    if file_name.lower().endswith(".flac"):
        return f"flac -c -d -s {quoted} |"
    return f"sox {quoted} -t wav - |"


def _seconds(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def _write_lines(dest: Store, name: str, lines: list[str]) -> None:
    def write(handle: IO[str]) -> None:
        handle.writelines(line + "\n" for line in lines)

    dest.write_text(name, write)
