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
from audioaug_cli.exports.corpus import Corpus, Output, Segment, require_audio, require_items
from audioaug_cli.exports.dest import OwnedDest
from audioaug_cli.io.store import Store

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


def check(corpus: Corpus) -> None:
    require_audio(corpus, "Kaldi")
    if corpus.has_stems:
        raise UsageError(
            f"OUTPUT_DIR {corpus.store} holds mixtures with their stems (mix:), and a Kaldi data directory, "
            "made for ASR, holds one recording per utterance; export it --to nemo, lhotse or webdataset"
        )
    if not corpus.store.has_paths:
        raise UsageError(
            f"Kaldi reads local files (and pipes), not {corpus.store}: copy OUTPUT_DIR to this machine "
            "and export the copy, or export --to lhotse, nemo or webdataset, which keep its URLs"
        )
    require_items(corpus, "Kaldi")
    for output in corpus.outputs:
        location = corpus.location(output.file_name)
        if "\n" in location or "\r" in location:
            raise UsageError(
                f"{output.file_name!r} has a line break in its path, which no line of Kaldi's wav.scp can hold: "
                "rename its source and rerun, or export --to lhotse, nemo or webdataset"
            )


def names(corpus: Corpus, dest: OwnedDest, shard_size: int) -> set[str]:
    return set(FILES)


def speed_prefix(output: Output) -> str:
    """Kaldi's prefix for a speed-perturbed copy (utils/data/perturb_data_dir_speed.sh): ``sp0.9-``
    for the rate a SpeedPerturb drew, none at rate 1, so that per-speaker statistics (CMVN, i-vectors)
    keep each speed apart as Kaldi's recipes do."""
    rates = [t["params"].get("rate") for t in output.row.get("transforms") or () if t.get("name") == "SpeedPerturb"]
    rate = 1.0
    for value in rates:
        rate *= float(value)
    return "" if rate == 1.0 else f"sp{rate:g}-"


def export(corpus: Corpus, dest: Store, advance: Callable[[int], None], shard_size: int) -> tuple[list[str], int]:
    columns = corpus.columns()
    utterances = []
    for output in corpus.outputs:
        for index, span in enumerate(output.spans()):
            speaker = output.fields(span).get("speaker") or None
            utterances.append(_Utterance(output, index, span, speaker))
        advance(1)
    base_ids = _speaker_ids({u.speaker for u in utterances if u.speaker is not None})
    # (speaker, output) -> the speaker's id, with the output's speed prefix
    prefixes = {id(o): speed_prefix(o) for o in corpus.outputs}
    with_segments = corpus.segment_columns is not None

    def speaker_id(u: _Utterance) -> str:
        assert u.speaker is not None
        return prefixes[id(u.output)] + base_ids[u.speaker]

    def recording(output: Output, speaker: str | None) -> str:
        own = prefixes[id(output)] + kaldi_id(output.stem())
        if speaker is not None and not with_segments:
            return f"{prefixes[id(output)]}{base_ids[speaker]}-{kaldi_id(output.stem())}"
        return own

    files: dict[str, list[str]] = {name: [] for name in FILES}
    spk2utt: dict[str, list[str]] = {}
    genders: dict[str, str] = {}
    recordings: dict[str, Output] = {}  # those with an utterance: validate_data_dir wants no other
    for u in utterances:
        rec = recording(u.output, u.speaker)
        recordings[rec] = u.output
        if with_segments:
            utt = f"{rec}-{u.index:04d}"
            if u.speaker is not None:  # the speaker's id first, the speed prefix once
                utt = f"{speaker_id(u)}-{utt[len(prefixes[id(u.output)]) :]}"
            files["segments"].append(f"{utt} {rec} {_seconds(u.start)} {_seconds(u.start + u.duration)}")
        else:
            utt = rec
        spk = speaker_id(u) if u.speaker is not None else utt
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
