"""`audioaug export`, checked with each toolkit's own loader: lhotse's manifests and Kaldi
importer, WebDataset's iterator, NeMo's manifest fields against soundfile."""

from __future__ import annotations

import gc
import gzip
import json
import os
import shlex
import signal
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioaug_cli.errors import UsageError
from audioaug_cli.exports.corpus import Corpus, Output
from audioaug_cli.io.store import LocalStore
from tests.helpers import SIMPLE, audioaug, cli, rows, start, tree, write_tone
from tests.s3 import S3Server

LABELS = """\
file_name,speaker,text,label,gender
a b.wav,spk-1,hello world,dog,f
speech/é voix.wav,spk-10,"bonjour, là",cat,m
speech/deep/x.y.wav,s~2,noise only,rain,m
unlabelled.wav,,plain,,
"""
SEGMENTS = """\
file_name,start,end,text
a b.wav,0.10,0.30,hello
a b.wav,0.30,0.45,world
speech/deep/x.y.wav,0.0,0.2,noise
"""


def assert_valid_kaldi_dir(folder: Path) -> None:
    """The rules Kaldi's utils/validate_data_dir.sh (--no-feats) applies to a data directory."""

    def table(name: str) -> list[list[str]]:
        lines = (folder / name).read_bytes().decode("utf-8").split("\n")
        assert lines[-1] == "" and all(lines[:-1]), f"{name}: empty lines, or no final newline"
        return [line.split(" ") for line in lines[:-1]]

    def keys(name: str) -> list[str]:
        found = [fields[0] for fields in table(name)]
        assert [k.encode() for k in found] == sorted({k.encode() for k in found}), f"{name}: not sorted or unique"
        return found

    for name in ("utt2spk", "spk2utt", "wav.scp"):
        assert (folder / name).is_file() and (folder / name).stat().st_size > 0, f"{name} missing or empty"
    for name in [p.name for p in folder.iterdir() if not p.name.startswith(".")]:
        text = (folder / name).read_text()
        assert all(c.isprintable() or c == "\n" for c in text), f"{name} holds a non-printable character"
    utt2spk = dict((u, s) for u, s in table("utt2spk"))
    utterances = keys("utt2spk")
    assert [u for u, _s in sorted(utt2spk.items(), key=lambda p: (p[1].encode(), p[0].encode()))] == utterances
    spk2utt = {fields[0]: fields[1:] for fields in table("spk2utt")}
    keys("spk2utt")
    assert {(u, s) for s, us in spk2utt.items() for u in us} == set(utt2spk.items()), "spk2utt is not utt2spk's"
    recordings = keys("wav.scp")
    if (folder / "segments").exists():
        segments = table("segments")
        assert keys("segments") == utterances, "segments and utt2spk list different utterances"
        assert sorted({f[1] for f in segments}) == sorted(recordings), "recording ids of segments and wav.scp differ"
        assert all(len(f) == 4 and 0 <= float(f[2]) < float(f[3]) for f in segments), "a segment lasts nothing"
    else:
        assert recordings == utterances, "wav.scp and utt2spk list different utterances"
    for name, wanted in (
        ("text", utterances),
        ("utt2dur", utterances),
        ("utt2uniq", utterances),
        ("utt2lang", utterances),
        ("reco2dur", recordings),
        ("spk2gender", sorted(spk2utt)),
    ):
        if (folder / name).exists():
            assert keys(name) == wanted, f"{name} does not list what it should"
    for fields in table("utt2dur") + table("reco2dur"):
        assert float(fields[1]) > 0
    if (folder / "spk2gender").exists():
        assert all(fields[1] in ("m", "f") for fields in table("spk2gender"))


def shards(folder: Path) -> dict[str, bytes]:
    return {name: data for name, data in tree(folder).items() if name.startswith("shard-")}


def visible(folder: Path) -> list[str]:
    """The names in a folder, but for hidden ones (DEST's record and lock)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two finished OUTPUT_DIRs of one corpus (names with spaces, accents, dots; a stereo file):
    one with labels only, one with labels and segments."""
    root = tmp_path_factory.mktemp("exports")
    inputs = root / "in"
    write_tone(inputs / "a b.wav", 0.5, 16000, 1, 440)
    write_tone(inputs / "speech" / "é voix.wav", 0.4, 16000, 1, 330)
    write_tone(inputs / "speech" / "deep" / "x.y.wav", 0.6, 16000, 2, 220)
    write_tone(inputs / "unlabelled.wav", 0.3, 16000, 1, 550)
    (root / "labels.csv").write_text(LABELS)
    (root / "segments.csv").write_text(SEGMENTS)
    config = root / "c.yaml"
    config.write_text(SIMPLE)
    made = {"labels": root / "out-labels", "segments": root / "out-segments"}
    labels = ("--labels", root / "labels.csv")
    assert cli("run", config, inputs, made["labels"], "-j", "1", "-q", *labels).exit_code == 0
    segmented = ("--segments", root / "segments.csv")
    assert cli("run", config, inputs, made["segments"], "-j", "1", "-q", *labels, *segmented).exit_code == 0
    return made


def export(output_dir: Path | str, to: str, dest: Path, *extra: str) -> Path:
    result = cli("export", output_dir, "--to", to, dest, *extra)
    assert result.exit_code == 0, result.output
    return dest


def samples_of(path: str | Path) -> np.ndarray:
    data, _rate = sf.read(path, dtype="float32", always_2d=True)
    samples: np.ndarray = data.T  # channels first, as lhotse gives them
    return samples


def test_lhotse_loads_recordings_and_supervisions_equal_to_the_outputs(
    finished: dict[str, Path], tmp_path: Path
) -> None:
    from lhotse import CutSet, RecordingSet, SupervisionSet, load_manifest

    out = finished["segments"]
    dest = export(out, "lhotse", tmp_path / "lhotse")
    recordings = load_manifest(dest / "recordings.jsonl.gz")
    supervisions = load_manifest(dest / "supervisions.jsonl.gz")
    assert isinstance(recordings, RecordingSet) and isinstance(supervisions, SupervisionSet)
    manifest = {row["file_name"]: row for row in rows(out / "manifest.csv")}
    assert len(recordings) == len(manifest) == 8
    cuts = CutSet.from_manifests(recordings=recordings, supervisions=supervisions)
    seen = set()
    for cut in cuts:
        [source] = cut.recording.sources
        name = Path(source.source).relative_to(out).as_posix()
        seen.add(name)
        np.testing.assert_array_equal(cut.load_audio(), samples_of(out / name))
        assert cut.sampling_rate == int(manifest[name]["sample_rate"])
        for supervision in cut.supervisions:
            assert supervision.custom["source"] == manifest[name]["source"]
    assert seen == set(manifest)
    expected = sorted(
        (row["file_name"], float(row["start"]), round(float(row["end"]) - float(row["start"]), 6), row["text"])
        for row in rows(out / "segments.csv")
    )
    by_id = {r.id: Path(r.sources[0].source).relative_to(out).as_posix() for r in recordings}
    found = sorted((by_id[s.recording_id], s.start, s.duration, s.text) for s in supervisions)
    assert found == expected
    speakers = {by_id[s.recording_id]: s.speaker for s in supervisions}
    assert speakers["a b__aug1.wav"] == "spk-1" and speakers["speech/deep/x.y__aug2.wav"] == "s~2"
    stereo = next(s for s in supervisions if by_id[s.recording_id] == "speech/deep/x.y__aug1.wav")
    assert stereo.channel == [0, 1] and stereo.custom["label"] == "rain"


def test_lhotse_without_segments_has_one_supervision_per_output(finished: dict[str, Path], tmp_path: Path) -> None:
    from lhotse import CutSet, load_manifest

    out = finished["labels"]
    dest = export(out, "lhotse", tmp_path / "lhotse")
    cuts = CutSet.from_manifests(
        recordings=load_manifest(dest / "recordings.jsonl.gz"),
        supervisions=load_manifest(dest / "supervisions.jsonl.gz"),
    )
    durations = {row["file_name"]: int(row["frames"]) / int(row["sample_rate"]) for row in rows(out / "manifest.csv")}
    for cut in cuts:
        [supervision] = cut.supervisions
        name = Path(cut.recording.sources[0].source).relative_to(out).as_posix()
        assert supervision.start == 0 and supervision.duration == pytest.approx(durations[name], abs=1e-9)
        assert cut.num_samples == sf.info(out / name).frames
    texts = {Path(c.recording.sources[0].source).name: c.supervisions[0].text for c in cuts}
    assert texts["é voix__aug2.wav"] == "bonjour, là" and texts["unlabelled__aug1.wav"] == "plain"
    speakers = {Path(c.recording.sources[0].source).name: c.supervisions[0].speaker for c in cuts}
    assert speakers["a b__aug1.wav"] == "spk-1" and speakers["unlabelled__aug1.wav"] is None


def test_webdataset_shards_hold_every_output_once_with_its_row(finished: dict[str, Path], tmp_path: Path) -> None:
    import webdataset as wds

    out = finished["segments"]
    dest = export(out, "webdataset", tmp_path / "shards", "--shard-size", "3")
    shards = visible(dest)
    assert shards == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    manifest = {row["file_name"]: row for row in rows(out / "manifest.csv")}
    segments: dict[str, list[list[float]]] = {}
    for row in rows(out / "segments.csv"):
        segments.setdefault(row["file_name"], []).append([float(row["start"]), float(row["end"])])
    urls = [str(dest / name) for name in shards]
    with warnings.catch_warnings():  # webdataset leaves each shard's file for the collector to close
        warnings.simplefilter("ignore", ResourceWarning)
        samples = list(wds.WebDataset(urls, shardshuffle=False))
        gc.collect()
    found: Counter[str] = Counter()
    for sample in samples:
        described = json.loads(sample["json"])
        name = described["file_name"]
        found[name] += 1
        assert sample["wav"] == (out / name).read_bytes()
        assert {k: str(v) for k, v in described.items() if k in ("source", "copy", "speaker")} == {
            k: manifest[name][k] for k in ("source", "copy", "speaker")
        }
        assert described["transforms"] == json.loads(manifest[name]["transforms"])
        assert [[s["start"], s["end"]] for s in described["segments"]] == segments.get(name, [])
    assert found == Counter({name: 1 for name in manifest})


def test_kaldi_data_dir_follows_kaldis_rules_and_lhotses_importer_loads_it(
    finished: dict[str, Path], tmp_path: Path
) -> None:
    from lhotse.kaldi import load_kaldi_data_dir

    out = finished["segments"]
    dest = export(out, "kaldi", tmp_path / "data")
    files = {name: (dest / name).read_bytes().decode().splitlines() for name in visible(dest)}
    named = {"wav.scp", "segments", "utt2spk", "spk2utt", "utt2dur", "reco2dur", "utt2uniq", "text", "spk2gender"}
    assert set(files) == named
    for name, lines in files.items():
        keys = [line.split(" ", 1)[0].encode() for line in lines]
        assert keys == sorted(keys) and len(set(keys)) == len(keys), f"{name} is not sorted in C order"
        assert all(" " not in key.decode() and "\t" not in key.decode() for key in keys)
    utt2spk = dict(line.split(" ") for line in files["utt2spk"])
    spk2utt = {line.split(" ")[0]: line.split(" ")[1:] for line in files["spk2utt"]}
    assert {u for utts in spk2utt.values() for u in utts} == set(utt2spk)
    assert all(utt2spk[u] == spk for spk, utts in spk2utt.items() for u in utts)
    assert all(utt.startswith(spk) for utt, spk in utt2spk.items())
    by_speaker = sorted(utt2spk.items(), key=lambda pair: (pair[1].encode(), pair[0].encode()))
    assert [u for u, _s in by_speaker] == list(utt2spk), "utt2spk sorts differently by speaker"
    assert set(utt2spk.values()) == {"spk-1", "s~7e2"}
    assert files["spk2gender"] == ["spk-1 f", "s~7e2 m"]  # every speaker has one here
    uniq = dict(line.split(" ") for line in files["utt2uniq"])
    assert len(set(uniq.values())) == 2  # two sources have segments; both copies of each share one name

    assert_valid_kaldi_dir(dest)
    recordings, supervisions, _features = load_kaldi_data_dir(dest, sampling_rate=16000)
    assert len(recordings) == 4  # the copies of the two sources that have segments, and no other
    for recording in recordings:
        [source] = recording.sources  # a path, or `cat 'a path with spaces' |`
        path = shlex.split(source.source)[1] if source.type == "command" else source.source
        np.testing.assert_array_equal(recording.load_audio()[0], samples_of(path)[0])
    expected = sorted((float(r["start"]), float(r["end"]), r["text"]) for r in rows(out / "segments.csv"))
    found = sorted((s.start, s.end, s.text) for s in supervisions)
    assert [(start, text) for start, _end, text in found] == [(start, text) for start, _end, text in expected]
    for (_s, end, _t), (_start, wanted, _text) in zip(found, expected, strict=True):
        assert end == pytest.approx(wanted, abs=1 / 16000)  # lhotse puts an end on the sample grid


def test_kaldi_without_segments_has_an_utterance_per_output(finished: dict[str, Path], tmp_path: Path) -> None:
    from lhotse.kaldi import load_kaldi_data_dir

    out = finished["labels"]
    dest = export(out, "kaldi", tmp_path / "data")
    assert not (dest / "segments").exists()
    assert_valid_kaldi_dir(dest)
    wav = dict(line.split(" ", 1) for line in (dest / "wav.scp").read_text().splitlines())
    utt2spk = dict(line.split(" ") for line in (dest / "utt2spk").read_text().splitlines())
    assert set(wav) == set(utt2spk) and len(wav) == 8
    assert wav["spk-1-a~20b__aug1"] == f"cat '{out}/a b__aug1.wav' |"
    assert utt2spk["unlabelled__aug2"] == "unlabelled__aug2"  # no speaker: its own
    assert not (dest / "spk2gender").exists()  # the unlabelled outputs' speakers have no gender
    uniq = dict(line.split(" ") for line in (dest / "utt2uniq").read_text().splitlines())
    assert uniq["spk-10-speech/é~20voix__aug1"] == uniq["spk-10-speech/é~20voix__aug2"] == "speech/é~20voix"
    _recordings, supervisions, _features = load_kaldi_data_dir(dest, sampling_rate=16000)
    assert {s.id: s.text for s in supervisions}["spk-10-speech/é~20voix__aug1"] == "bonjour, là"


def test_nemo_manifest_paths_exist_and_durations_are_soundfiles(finished: dict[str, Path], tmp_path: Path) -> None:
    out = finished["labels"]
    dest = export(out, "nemo", tmp_path / "nemo")
    lines = [json.loads(line) for line in (dest / "manifest.json").read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 8
    for line in lines:
        info = sf.info(line["audio_filepath"])
        assert line["duration"] == info.frames / info.samplerate
        assert "offset" not in line
    texts = {Path(line["audio_filepath"]).name: line["text"] for line in lines}
    assert texts["a b__aug1.wav"] == "hello world" and texts["é voix__aug1.wav"] == "bonjour, là"

    segmented = export(finished["segments"], "nemo", tmp_path / "nemo-segments")
    lines = [json.loads(line) for line in (segmented / "manifest.json").read_text(encoding="utf-8").splitlines()]
    found = sorted((Path(x["audio_filepath"]).name, x["offset"], x["duration"], x["text"]) for x in lines)
    expected = sorted(
        (Path(r["file_name"]).name, float(r["start"]), round(float(r["end"]) - float(r["start"]), 6), r["text"])
        for r in rows(finished["segments"] / "segments.csv")
    )
    assert found == expected


@pytest.mark.parametrize("to", ["lhotse", "nemo", "kaldi", "webdataset"])
def test_an_export_is_the_same_bytes_every_time(finished: dict[str, Path], tmp_path: Path, to: str) -> None:
    first = tree(export(finished["segments"], to, tmp_path / "one"))
    assert first and first == tree(export(finished["segments"], to, tmp_path / "two"))
    if to == "lhotse":  # gzip streams with no time and no (temporary) file name in their headers
        for name in ("recordings.jsonl.gz", "supervisions.jsonl.gz"):
            assert first[name][3:8] == b"\0\0\0\0\0" and gzip.decompress(first[name])


def test_an_interrupted_export_leaves_only_whole_files_and_a_rerun_completes_it(
    finished: dict[str, Path], tmp_path: Path
) -> None:
    from audioaug_cli.exports import export as export_to

    out, dest = finished["segments"], tmp_path / "shards"
    told = []

    def stop_at_the_fifth(_total: int):  # type: ignore[no-untyped-def]
        def advance(_n: int) -> None:
            told.append(1)
            if len(told) == 5:
                raise KeyboardInterrupt

        return advance

    with pytest.raises(KeyboardInterrupt):
        export_to(out, "webdataset", dest, shard_size=3, started=stop_at_the_fifth)
    assert visible(dest) == ["shard-000000.tar"]  # the second was not finished
    rerun = tree(export(out, "webdataset", dest, "--shard-size", "3"))
    assert rerun == tree(export(out, "webdataset", tmp_path / "fresh", "--shard-size", "3"))


def test_a_smaller_export_removes_the_shards_it_no_longer_has(finished: dict[str, Path], tmp_path: Path) -> None:
    dest = export(finished["labels"], "webdataset", tmp_path / "shards", "--shard-size", "2")
    assert len(visible(dest)) == 4
    (dest / "mine.txt").write_text("keep")
    export(finished["labels"], "webdataset", dest, "--shard-size", "8")
    assert visible(dest) == ["mine.txt", "shard-000000.tar"]


def test_an_unfinished_or_foreign_output_dir_is_refused(finished: dict[str, Path], tmp_path: Path) -> None:
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    for path in finished["labels"].iterdir():
        if path.is_file():
            (unfinished / path.name).write_bytes(path.read_bytes())
    record = json.loads((unfinished / "audioaug.json").read_text())
    (unfinished / "audioaug.json").write_text(json.dumps({**record, "status": "interrupted"}))
    refused = cli("export", unfinished, "--to", "nemo", tmp_path / "nemo")
    assert refused.exit_code == 2
    assert refused.stderr.splitlines() == [
        f"error: OUTPUT_DIR {unfinished}: its last run did not finish (interrupted), so its manifest does not "
        "describe it; rerun the same `audioaug run` command to complete it, then export"
    ]
    assert not (tmp_path / "nemo").exists()
    foreign = cli("export", tmp_path / "unfinished" / "..", "--to", "kaldi", tmp_path / "k")
    assert foreign.exit_code == 2 and "holds no audioaug.json" in foreign.stderr
    unknown = cli("export", finished["labels"], "--to", "espnet", tmp_path / "x")
    assert unknown.exit_code == 2 and "'espnet' is not one of" in unknown.stderr


def test_webdataset_shards_in_a_bucket_are_the_local_bytes(
    finished: dict[str, Path], tmp_path: Path, s3: S3Server
) -> None:
    import s3fs

    bucket = s3.new_bucket()
    local = shards(export(finished["segments"], "webdataset", tmp_path / "local", "--shard-size", "5"))
    result = cli("export", finished["segments"], "--to", "webdataset", f"s3://{bucket}/shards", "--shard-size", "5")
    assert result.exit_code == 0, result.output
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    remote = {name[len(bucket) + 1 :]: fs.cat_file(name) for name in sorted(fs.find(f"{bucket}/shards"))}
    assert {name.removeprefix("shards/"): data for name, data in remote.items() if "shard-" in name} == local
    assert set(remote) == {*(f"shards/{name}" for name in local), "shards/.audioaug-export/record.json"}  # lock gone
    # An OUTPUT_DIR in the bucket exports too: the same shards, and manifests that name its URLs.
    fs.put(f"{finished['segments']}/", f"{bucket}/out/", recursive=True)
    from_bucket = export(f"s3://{bucket}/out", "webdataset", tmp_path / "from-bucket", "--shard-size", "5")
    assert shards(from_bucket) == local
    nemo = export(f"s3://{bucket}/out", "nemo", tmp_path / "nemo")
    paths = [json.loads(line)["audio_filepath"] for line in (nemo / "manifest.json").read_text().splitlines()]
    assert paths and all(p.startswith(f"s3://{bucket}/out/") and fs.exists(p) for p in paths)
    refused = cli("export", f"s3://{bucket}/out", "--to", "kaldi", tmp_path / "kaldi")
    assert refused.exit_code == 2 and "Kaldi reads local files" in refused.stderr


def _corpus(root: Path, speakers: list[str], names: list[str] | None = None) -> Corpus:
    """A corpus as read from a manifest (Kaldi's export reads no audio): one output per speaker."""
    stems = names or [f"f{i}" for i in range(len(speakers))]
    outputs = tuple(
        Output(
            {
                "file_name": f"{stem}__aug1.wav",
                "source": f"{stem}.wav",
                "copy": 1,
                "sample_rate": 16000,
                "channels": 1,
                "frames": 16000,
            },
            {"speaker": speaker},
            None,
        )
        for stem, speaker in zip(stems, speakers, strict=True)
    )
    return Corpus(LocalStore(root), outputs, ("speaker",), None)


def test_kaldi_speaker_ids_that_would_sort_differently_are_escaped(tmp_path: Path) -> None:
    from audioaug_cli.exports import kaldi

    # "a" prefixes "a-b" then "-": by utterance, a-b-f1 < a-f0; by speaker, a < a-b.
    kaldi.export(_corpus(tmp_path, ["a", "a-b", "a b", "c"]), LocalStore(tmp_path / "data"), lambda _n: None, 1)
    utt2spk = [line.split(" ") for line in (tmp_path / "data" / "utt2spk").read_text().splitlines()]
    assert utt2spk == sorted(utt2spk) == sorted(utt2spk, key=lambda pair: (pair[1], pair[0]))
    assert {spk for _utt, spk in utt2spk} == {"a", "a~2db", "a~20b", "c"}
    plain = kaldi.export(_corpus(tmp_path, ["spk-1", "spk-10"]), LocalStore(tmp_path / "plain"), lambda _n: None, 1)
    assert plain and (tmp_path / "plain" / "spk2utt").read_text() == "spk-1 spk-1-f0__aug1\nspk-10 spk-10-f1__aug1\n"


def test_kaldi_refuses_speakers_it_cannot_order_with_one_line(tmp_path: Path) -> None:
    from audioaug_cli.exports import kaldi

    # Without a speaker, f1+x__aug1 is its own: by utterance it sorts before f1-f0__aug1, by speaker after.
    corpus = _corpus(tmp_path, ["f1", ""], ["f0", "f1+x"])
    with pytest.raises(UsageError, match="give every output a speaker"):
        kaldi.export(corpus, LocalStore(tmp_path / "data"), lambda _n: None, 1)


def test_an_export_never_replaces_or_removes_a_file_it_did_not_write(finished: dict[str, Path], tmp_path: Path) -> None:
    dest = tmp_path / "mine"
    dest.mkdir()
    users = {"shard-000001.tar": b"my shard", "shard-000007.tar": b"another", "wav.scp": b"my list\n", "text": b"t\n"}
    for name, data in users.items():
        (dest / name).write_bytes(data)
    for to in ("webdataset", "kaldi"):
        refused = cli("export", finished["segments"], "--to", to, dest, "--shard-size", "3")
        assert refused.exit_code == 2, refused.output
        assert len(refused.stderr.splitlines()) == 1 and "which audioaug export did not write" in refused.stderr
        assert {name: (dest / name).read_bytes() for name in users} == users
    assert visible(dest) == sorted(users)
    # An export's own files are its to replace; --overwrite takes a user's too.
    assert cli("export", finished["segments"], "--to", "nemo", dest).exit_code == 0
    assert cli("export", finished["labels"], "--to", "nemo", dest).exit_code == 0
    assert cli("export", finished["segments"], "--to", "kaldi", dest, "--overwrite").exit_code == 0
    assert (dest / "wav.scp").read_bytes() != users["wav.scp"]
    assert_valid_kaldi_dir(dest)


def test_one_export_at_a_time_into_a_dest_and_a_killed_ones_temporaries_go(
    finished: dict[str, Path], tmp_path: Path
) -> None:
    from audioaug_cli.engine.state import OutputLock
    from audioaug_cli.exports.dest import LOCK
    from audioaug_cli.io.atomic import TEMP_MARK

    dest = tmp_path / "shards"
    dest.mkdir()
    leftover = dest / f".shard-000000.tar.4242-0{TEMP_MARK}"
    leftover.write_bytes(b"half a shard")
    other = OutputLock(dest, name=LOCK, held_by="export", place="DEST")
    other.acquire()  # another export, in the middle of its work
    try:
        refused = audioaug("export", finished["segments"], "--to", "webdataset", dest)
    finally:
        other.release()
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith(f"error: another audioaug export (pid {os.getpid()}) is writing to DEST {dest}")
    assert leftover.exists() and visible(dest) == []
    assert cli("export", finished["segments"], "--to", "webdataset", dest).exit_code == 0
    assert not leftover.exists() and visible(dest) == ["shard-000000.tar"]


def test_an_output_dir_whose_last_run_was_killed_is_not_exported(tmp_path: Path) -> None:
    """A finished run, then a second one with more inputs, killed: the manifest is the first run's
    and no longer describes OUTPUT_DIR, so export refuses it until a rerun completes it."""
    inputs, out = tmp_path / "in", tmp_path / "out"
    write_tone(inputs / "first.wav", 0.3)
    config = tmp_path / "c.yaml"
    config.write_text(SIMPLE)
    assert cli("run", config, inputs, out, "-j", "1", "-q").exit_code == 0
    assert cli("export", out, "--to", "nemo", tmp_path / "before").exit_code == 0
    for i in range(6):
        write_tone(inputs / f"more{i}.wav", 20.0, 16000, 1, 300 + 50 * i)
    run = start(config, inputs, out)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(out.glob("more*__aug*.wav")):
        time.sleep(0.02)
    os.killpg(run.pid, signal.SIGKILL)
    run.communicate()
    assert '"status": "running"' in (out / "audioaug.json").read_text()
    refused = cli("export", out, "--to", "nemo", tmp_path / "after")
    assert (
        refused.exit_code == 2 and "its last run did not finish (it is still running, or was killed)" in refused.stderr
    )
    assert not (tmp_path / "after").exists()
    assert cli("run", config, inputs, out, "-j", "2", "-q").exit_code == 0
    assert cli("export", out, "--to", "nemo", tmp_path / "after").exit_code == 0


def test_kaldi_names_speed_perturbed_copies_as_kaldi_does(tmp_path: Path) -> None:
    """Kaldi's 3-way speed perturbation: the copies at 0.9 and 1.1 get sp0.9- and sp1.1- before
    their utterance, recording and speaker ids; the copy at 1.0 keeps the plain ids."""
    inputs = tmp_path / "in"
    write_tone(inputs / "u1.wav", 0.5)
    write_tone(inputs / "u2.wav", 0.4, freq=330)
    labels = tmp_path / "labels.csv"
    labels.write_text("file_name,speaker,text\nu1.wav,alice,one\nu2.wav,bob,two\n")
    config = tmp_path / "c.yaml"
    config.write_text("version: 1\ncopies: 3\npipeline:\n  - SpeedPerturb: {rates: [0.9, 1.0, 1.1], choice: by_copy}\n")
    assert cli("run", config, inputs, tmp_path / "out", "-j", "1", "-q", "--labels", labels).exit_code == 0
    dest = export(tmp_path / "out", "kaldi", tmp_path / "data")
    assert_valid_kaldi_dir(dest)
    utt2spk = dict(line.split(" ") for line in (dest / "utt2spk").read_text().splitlines())
    assert utt2spk == {
        "alice-u1__aug2": "alice",
        "bob-u2__aug2": "bob",
        "sp0.9-alice-u1__aug1": "sp0.9-alice",
        "sp0.9-bob-u2__aug1": "sp0.9-bob",
        "sp1.1-alice-u1__aug3": "sp1.1-alice",
        "sp1.1-bob-u2__aug3": "sp1.1-bob",
    }
