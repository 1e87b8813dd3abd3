"""Config errors: exact messages with the place and line, exit 2, nothing written (issue: configs
you can trust). Each test drives the CLI as a user would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import cli, write_tone

ConfigWriter = Callable[..., Path]


def errors_for(config: Path, corpus: Path, out: Path) -> list[str]:
    """`run` must refuse with exit 2 before writing anything; return the error lines."""
    result = cli("run", config, corpus, out)
    assert result.exit_code == 2, result.output
    assert not out.exists()
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert all(line.startswith(f"error: {config}: ") for line in lines), lines
    return [line.removeprefix(f"error: {config}: ") for line in lines]


CASES = {
    "unknown transform": (
        "version: 1\npipeline:\n  - Gain\n  - PitchShif: {p: 0.5}\n",
        [
            "line 4: pipeline[1]: unknown transform 'PitchShif'; did you mean PitchShift? "
            "(`audioaug transforms` lists them)"
        ],
    ),
    "misspelt parameter, nested": (
        "version: 1\npipeline:\n  - OneOf:\n      transforms:\n        - Gain\n"
        "        - PitchShift: {min_semitone: -2}\n",
        [
            "line 6: pipeline[0].OneOf.transforms[1].PitchShift.min_semitone: unknown parameter; "
            "did you mean min_semitones?"
        ],
    ),
    "probability out of range": (
        "version: 1\npipeline:\n  - Gain: {p: 1.5}\n",
        ["line 3: pipeline[0].Gain.p: is a probability and must be between 0 and 1, found 1.5"],
    ),
    "min greater than max": (
        "version: 1\npipeline:\n  - PitchShift:\n      min_semitones: 5\n      max_semitones: 2\n",
        ["line 4: pipeline[0].PitchShift.min_semitones: min_semitones (5) is greater than max_semitones (2)"],
    ),
    "min above the default max": (
        "version: 1\npipeline:\n  - PitchShift: {min_semitones: 6}\n",
        ["line 3: pipeline[0].PitchShift.min_semitones: min_semitones (6) is greater than max_semitones (4.0)"],
    ),
    "Lambda": (
        "version: 1\npipeline:\n  - Lambda: {transform: print}\n",
        ["line 3: pipeline[0]: Lambda is not allowed: it runs arbitrary code, which a config may never name"],
    ),
    "broken YAML": (
        "version: 1\npipeline:\n  - Gain: {p: 0.5\n  - Reverse\n",
        [
            "line 5: YAML syntax error (column 1): expected ',' or '}', but got '<stream end>' "
            "(in the flow mapping that starts on line 3, column 11)"
        ],
    ),
    "unknown version": (
        "version: 2\npipeline: []\n",
        ["line 1: version: unsupported version 2; this audioaug reads version 1"],
    ),
    "missing version": ("pipeline: []\n", ["line 1: missing 'version: 1' (the config format version)"]),
    "unknown top-level key": (
        "version: 1\ncopie: 3\npipeline: []\n",
        ["line 2: copie: unknown key; did you mean copies?"],
    ),
    "unknown section key": (
        "version: 1\naudio: {sample_rte: 16000}\npipeline: []\n",
        ["line 2: audio.sample_rte: unknown key; did you mean sample_rate?"],
    ),
    "several wrong types at once": (
        "version: 1\nseed: abc\npipeline:\n  - Gain: {min_gain_db: loud}\n  - Shift: {shift_unit: minutes}\n",
        [
            "line 2: seed: expected an integer, found 'abc'",
            "line 4: pipeline[0].Gain.min_gain_db: expected a number, found 'loud'",
            "line 5: pipeline[1].Shift.shift_unit: expected one of 'fraction', 'samples', 'seconds', found 'minutes'",
        ],
    ),
    "renamed parameter": (
        "version: 1\npipeline:\n  - Shift: {min_fraction: -0.5}\n",
        ["line 3: pipeline[0].Shift.min_fraction: unknown parameter; audiomentations renamed it to min_shift"],
    ),
    "missing required parameter": (
        "version: 1\npipeline:\n  - AddBackgroundNoise: {p: 0.5}\n",
        ["line 3: pipeline[0].AddBackgroundNoise: missing required parameter sounds_path"],
    ),
    "audiomentations' own check, reworded": (
        "version: 1\npipeline:\n  - TimeStretch: {min_rate: 0.01}\n",
        ["line 3: pipeline[0]: audiomentations rejected TimeStretch's parameters: min_rate must be >= 0.1"],
    ),
    "not a mapping": ("- Gain\n- Reverse\n", ["line 1: expected a mapping with version, pipeline, ..., found a list"]),
    "empty file": ("", ["expected a mapping with version, pipeline, ..., found an empty file"]),
    "pipeline not a list": (
        "version: 1\npipeline: Gain\n",
        ["line 2: pipeline: expected a list of transforms, found 'Gain'"],
    ),
    "entry with two names": (
        "version: 1\npipeline:\n  - {Gain: {}, Reverse: {}}\n",
        [
            "line 3: pipeline[0]: expected a transform name, or a mapping of one transform name to its parameters "
            "(e.g. PitchShift: {p: 0.5}), found a mapping"
        ],
    ),
    "duplicate key": (
        "version: 1\nseed: 1\nseed: 2\npipeline: []\n",
        ["line 3: seed: duplicate key; each key may appear once"],
    ),
    "output format": (
        "version: 1\noutput: {format: mp4}\npipeline: []\n",
        ["line 2: output.format: expected one of wav, flac, ogg, found 'mp4'"],
    ),
    "output subtype": (
        "version: 1\noutput: {format: flac, subtype: PCM_32}\npipeline: []\n",
        [
            "line 2: output.subtype: 'PCM_32' is not a subtype flac files can hold "
            "(valid: PCM_S8, PCM_16, PCM_24); did you mean PCM_24?"
        ],
    ),
    "a rate Opus cannot hold": (
        "version: 1\naudio: {sample_rate: 44100}\noutput: {format: ogg, subtype: OPUS}\npipeline: []\n",
        [
            "line 2: audio.sample_rate: Opus (output.subtype) holds only 8000, 12000, 16000, 24000, 48000 Hz "
            "audio, found 44100"
        ],
    ),
    "composition without transforms": (
        "version: 1\npipeline:\n  - OneOf: {p: 0.5}\n",
        ["line 3: pipeline[0].OneOf: OneOf needs 'transforms:', a non-empty list of transforms"],
    ),
    "weights of the wrong length": (
        "version: 1\npipeline:\n  - OneOf: {weights: [1, 2, 3], transforms: [Gain, Reverse]}\n",
        ["line 3: pipeline[0].OneOf.weights: expected 2 weights, one per transform, found 3"],
    ),
    "SomeOf picking too many": (
        "version: 1\npipeline:\n  - SomeOf: {num_transforms: 3, transforms: [Gain, Reverse]}\n",
        ["line 3: pipeline[0].SomeOf.num_transforms: must pick between 0 and 2 transforms with low <= high, found 3"],
    ),
    "error inside noise_transform": (
        "version: 1\npipeline:\n  - AddBackgroundNoise:\n      sounds_path: sounds\n"
        "      noise_transform: {Gain: {p: 2}}\n",
        [
            "line 5: pipeline[0].AddBackgroundNoise.noise_transform.Gain.p: is a probability and must be between "
            "0 and 1, found 2"
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_config_error(case: str, corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    text, expected = CASES[case]
    write_tone(tmp_path / "sounds" / "n.wav")
    assert errors_for(write_config(text), corpus, tmp_path / "out") == expected


def test_sounds_path_must_exist_and_hold_audio(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    (tmp_path / "quiet").mkdir()
    (tmp_path / "quiet" / "readme.txt").write_text("no audio here")
    config = write_config(
        "version: 1\npipeline:\n  - AddBackgroundNoise: {sounds_path: nowhere}\n"
        "  - ApplyImpulseResponse: {ir_path: quiet}\n"
    )
    assert errors_for(config, corpus, tmp_path / "out") == [
        f"line 3: pipeline[0].AddBackgroundNoise.sounds_path: no such file or folder: {tmp_path / 'nowhere'} "
        "(paths are relative to the config's folder)",
        f"line 4: pipeline[1].ApplyImpulseResponse.ir_path: {tmp_path / 'quiet'} holds no audio files "
        "(.wav .flac .ogg .oga .opus .mp3 .aif .aiff)",
    ]


def test_python_tags_are_refused_and_never_executed(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    marker = tmp_path / "PWNED"
    config = write_config(f'version: 1\npipeline: !!python/object/apply:os.system ["touch {marker}"]\n')
    assert errors_for(config, corpus, tmp_path / "out") == [
        "line 2: not allowed (column 11): the tag !!python/object/apply:os.system: configs are plain YAML "
        "and never construct objects"
    ]
    assert not marker.exists()


def test_missing_optional_backend_names_the_extra(
    corpus: Path, tmp_path: Path, write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyroomacoustics" else real(name, *a)
    )
    config = write_config("version: 1\npipeline:\n  - RoomSimulator: {p: 0.5}\n")
    assert errors_for(config, corpus, tmp_path / "out") == [
        "line 3: pipeline[0]: RoomSimulator needs the optional package pyroomacoustics, which is not installed: "
        "pip install 'audioaug[all]'"
    ]


def test_binary_garbage_and_missing_files(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.yaml"
    garbage.write_bytes(bytes(range(256)) * 4)
    result = cli("validate", garbage)
    assert result.exit_code == 2 and result.stderr == f"error: {garbage}: cannot read: not UTF-8 text\n"
    missing = cli("validate", tmp_path / "nope.yaml")
    assert missing.exit_code == 2 and missing.stderr == f"error: {tmp_path / 'nope.yaml'}: no such file\n"


def test_numbers_in_exponent_form_are_numbers(write_config: ConfigWriter) -> None:
    config = write_config("version: 1\npipeline:\n  - AddGaussianNoise: {min_amplitude: 1e-3, max_amplitude: 2E-2}\n")
    assert cli("validate", config).exit_code == 0
