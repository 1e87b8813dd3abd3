"""The one reader of a user's CSV tables and the one writer of audioaug's: strict field counts,
quoted line breaks kept, audioaug's own names refused, rows naming no input counted, every value
that holds a line break quoted, and standard JSON."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from audioaug_cli.errors import UsageError
from audioaug_cli.io.manifest import Labels
from audioaug_cli.io.segments import Segments
from audioaug_cli.io.tables import csv_writer, json_text
from audioaug_cli.transforms.timing import in_seconds
from tests.helpers import SIMPLE, ConfigWriter, cli, rows, write_tone


@pytest.mark.parametrize(
    ("reader", "header"), [(Labels.read, "file_name,speaker,lang,text"), (Segments.read, "file_name,start,end,text")]
)
def test_a_row_with_more_or_fewer_fields_than_the_header_is_refused_with_its_line(
    tmp_path: Path, reader: object, header: str
) -> None:
    table = tmp_path / "t.csv"
    table.write_text(f"{header}\na.wav,0.1,0.2,fine\nb.wav,0.5,1.0,hello, world\n")
    with pytest.raises(UsageError, match=r"line 3: 5 field\(s\) where the header has 4; a value holding a comma"):
        reader(table)  # type: ignore[operator]
    table.write_text(f"{header}\na.wav,0.5,1.0\n")
    with pytest.raises(UsageError, match=r"line 2: 3 field\(s\) where the header has 4"):
        reader(table)  # type: ignore[operator]


def test_a_quoted_line_break_is_kept_and_lines_are_counted_from_where_a_row_starts(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_bytes('\ufefffile_name,start,end,text\r\na.wav,0.1,0.4,"two\nlines"\r\nb.wav,x,1,z\r\n'.encode())
    with pytest.raises(UsageError, match="line 4: start must be a time in seconds, found 'x'"):
        Segments.read(table)
    table.write_bytes('\ufefffile_name,start,end,text\r\na.wav,0.1,0.4,"two\nlines"\r\n'.encode())
    found = Segments.read(table)  # (a BOM dropped: file_name is found)
    assert found.cells == {"a.wav": [("two\nlines",)]}


def test_audioaugs_own_names_are_refused_as_columns_of_either_table(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    for header, reader in [
        ("file_name,start,end,copy", Segments.read),
        ("file_name,start,end,audio_filepath", Segments.read),
        ("file_name,audio_filepath", Labels.read),
        ("file_name,offset", Labels.read),
        ("file_name,sampling_rate", Labels.read),
        ("file_name,start", Labels.read),
        ("file_name,transforms", Labels.read),
    ]:
        table.write_text(header + "\n")
        with pytest.raises(UsageError, match=f"the column name\\(s\\) {header.rsplit(',', 1)[1]} are audioaug's own"):
            reader(table)


def test_a_segment_that_lasts_nothing_is_refused_and_never_made(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("file_name,start,end\na.wav,0.5,0.5\n")
    with pytest.raises(UsageError, match=r"line 2: end \(0.5\) is not after start \(0.5\)"):
        Segments.read(table)
    # 20 µs at 16 kHz is a third of a frame: sped up, it rounds to nothing, and is dropped.
    assert in_seconds([(9244.8, 9245.12, 0), (100.0, 200.0, 1)], 16000) == [(0.00625, 0.0125, 1)]


def test_every_value_holding_a_line_break_is_quoted() -> None:
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(["a\rb.wav", "c\nd", "plain", 3])
    writer.writerow(["x", "y", "z", 4])
    assert out.getvalue() == '"a\rb.wav","c\nd",plain,3\nx,y,z,4\n'
    assert list(csv.reader(io.StringIO(out.getvalue(), newline=""))) == [["a\rb.wav", "c\nd", "plain", "3"]] + [
        ["x", "y", "z", "4"]
    ]


def test_json_is_standard_and_says_why_a_value_is_missing() -> None:
    text = json_text([{"name": "LoudnessNormalization", "params": {"loudness": float("-inf"), "lufs": -17.0}}])
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard {c}")) == [
        {"name": "LoudnessNormalization", "params": {"loudness": None, "loudness_not_finite": "-inf", "lufs": -17.0}}
    ]
    assert json_text({"a": [1.5, "x"]}) == json.dumps({"a": [1.5, "x"]})


def test_names_with_line_breaks_keep_the_manifest_whole(tmp_path: Path, write_config: ConfigWriter) -> None:
    inputs = tmp_path / "in"
    write_tone(inputs / "car\rriage.wav", 0.2)
    write_tone(inputs / "plain.wav", 0.2)
    out = tmp_path / "out"
    assert cli("run", write_config(SIMPLE), inputs, out, "-j", "1", "-q").exit_code == 0
    names = [row["file_name"] for row in rows(out / "manifest.csv")]
    assert names == ["car\rriage__aug1.wav", "car\rriage__aug2.wav", "plain__aug1.wav", "plain__aug2.wav"]
    pandas = pytest.importorskip("pandas")
    assert len(pandas.read_csv(out / "manifest.csv")) == 4
    for to in ("lhotse", "nemo", "webdataset"):
        done = cli("export", out, "--to", to, tmp_path / to)
        assert done.exit_code == 0, done.output
    kaldi = cli("export", out, "--to", "kaldi", tmp_path / "kaldi")
    assert kaldi.exit_code == 2 and "has a line break in its path" in kaldi.stderr
    assert len(kaldi.stderr.splitlines()) == 1 and not (tmp_path / "kaldi" / "wav.scp").exists()


def test_segment_rows_that_name_no_input_are_counted(tmp_path: Path, write_config: ConfigWriter) -> None:
    inputs = tmp_path / "in"
    write_tone(inputs / "a.wav", 0.5)
    table = tmp_path / "segments.csv"
    table.write_text("file_name,start,end,text\nin/a.wav,0.1,0.2,x\nin/a.wav,0.2,0.3,y\n")
    done = cli("run", write_config(SIMPLE), inputs, tmp_path / "out", "-j", "1", "--segments", table)
    assert done.exit_code == 0
    assert (
        "warning: 2 row(s) of --segments name no input found in INPUT_DIR (first: in/a.wav); file_name is "
        "relative to INPUT_DIR"
    ) in done.stderr
    exported = cli("export", tmp_path / "out", "--to", "kaldi", tmp_path / "kaldi")
    assert exported.exit_code == 2 and "has no segment of any output" in exported.stderr
