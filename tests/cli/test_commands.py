"""validate, transforms, schema, --help: what a person writing a config uses."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from audioaug_cli.cli import main
from audioaug_cli.config.schema import config_schema
from audioaug_cli.transforms import registry
from tests.helpers import ROOT, cli

ConfigWriter = Callable[..., Path]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def test_every_command_is_documented_with_an_example() -> None:
    for name, command in main.commands.items():
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0
        assert command.help and "Example:" in command.help, name
        assert f"audioaug {name}" in result.output, name


def test_validate_prints_the_pipeline_tree() -> None:
    result = cli("validate", ROOT / "configs" / "speech_asr.yaml")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].endswith(
        "valid (version 1, seed 7, 3 copies per input, 16000 Hz, mono, flac PCM_16, manifest metadata.csv)"
    )
    assert lines[1:5] == [
        "pipeline",
        "├── TimeStretch(min_rate=0.9, max_rate=1.1, leave_length_unchanged=False, p=0.3)",
        "├── OneOf(p=0.8)",
        "│   ├── ApplyImpulseResponse(ir_path='irs/', p=1.0)",
    ]
    assert lines[-1] == "└── AddGaussianSNR(min_snr_db=20, max_snr_db=40, p=0.3)"


def test_validate_shows_nested_transform_parameters(tmp_path: Path, write_config: ConfigWriter) -> None:
    (tmp_path / "n").mkdir()
    (tmp_path / "n" / "a.wav").write_bytes((ROOT / "configs" / "noises" / "hum_16k.wav").read_bytes())
    config = write_config(
        "version: 1\npipeline:\n  - AddBackgroundNoise:\n      sounds_path: n\n"
        "      noise_transform: [PolarityInversion, {Gain: {p: 1.0}}]\n"
    )
    result = cli("validate", config)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1:] == [
        "pipeline",
        "└── AddBackgroundNoise(sounds_path='n')",
        "    noise_transform:",
        "      ├── PolarityInversion()",
        "      └── Gain(p=1.0)",
    ]


def test_transforms_lists_every_transform_with_a_summary() -> None:
    result = cli("transforms")
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == [
        *registry.transform_classes(),
        "Compose",
        "OneOf",
        "SomeOf",
        "SpecFrequencyMask",
        "SpecTimeMask",
        "SpecTimeStretch",
    ]
    assert all(len(line.split(None, 1)) == 2 for line in result.stdout.splitlines())
    listed = json.loads(cli("transforms", "--json").stdout)
    assert [t["name"] for t in listed] == names and all(t["summary"] for t in listed)


def test_transforms_describes_one() -> None:
    result = cli("transforms", "RoomSimulator")
    assert result.exit_code == 0
    assert "multichannel: yes" in result.stdout
    assert "needs: pyroomacoustics (pip install 'audioaug[all]')" in result.stdout
    assert "  max_order: an integer; default 1" in result.stdout
    info = json.loads(cli("transforms", "AddBackgroundNoise", "--json").stdout)
    params = {p["name"]: p for p in info["params"]}
    assert params["sounds_path"]["required"] and not params["p"]["required"]
    assert params["min_snr_db"] == {
        "name": "min_snr_db",
        "type": "a number",
        "required": False,
        "default": 3.0,
        "description": 'Minimum signal-to-noise ratio in dB. Is only used if noise_rms is set to "relative"',
    }
    assert info["multichannel"] is False


def test_transforms_unknown_name() -> None:
    result = cli("transforms", "pitchshift")
    assert result.exit_code == 2
    assert result.stderr == "error: unknown transform 'pitchshift'; did you mean PitchShift?\n"
    refused = cli("transforms", "Lambda")
    assert refused.exit_code == 2 and "it runs arbitrary code" in refused.stderr


def test_schema_is_a_valid_json_schema_that_accepts_every_shipped_config() -> None:
    result = cli("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for config in CONFIGS:
        assert cli("validate", config).exit_code == 0, config.name
        assert list(validator.iter_errors(yaml.safe_load(config.read_text()))) == [], config.name


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\ncopies: 3\npipeline: []\n",
        "version: 1\ncopies: {by: label, default: 1, values: {siren: 10, dog_bark: 4}}\npipeline: []\n",
        "version: 1\ncopies: {by: label}\npipeline: []\n",
    ],
)
def test_schema_accepts_what_validate_accepts(text: str, tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(text)
    assert cli("validate", tmp_path / "c.yaml").exit_code == 0
    assert list(jsonschema.Draft202012Validator(config_schema()).iter_errors(yaml.safe_load(text))) == []


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\npipeline:\n  - PitchShift: {min_semitone: 2}\n",
        "version: 1\ncopie: 2\npipeline: []\n",
        "version: true\npipeline: []\n",
        "version: 1\npipeline:\n  - PitchShift: {method: fast}\n",
        "version: 1\npipeline:\n  - Gain: {p: 2}\n",
        "version: 1\npipeline:\n  - Lambda\n",
        "version: 1\npipeline: []\nspectrogram: {layout: channels_middle}\n",
        "version: 1\npipeline: []\nspectrogram: {pipeline: [PitchShift]}\n",
        "version: 1\npipeline: [SpecTimeMask]\n",
        "version: 1\npipeline: []\nspectrogram: {pipeline: [{OneOf: {transforms: [{SpecTimeMask: {widht: 2}}]}}]}\n",
        "version: 1\ncopies: 20000\npipeline: []\n",
        "version: 1\ncopies: {by: label, default: 1, valeus: {siren: 10}}\npipeline: []\n",
        "version: 1\ncopies: {default: 2}\npipeline: []\n",
    ],
)
def test_schema_rejects_what_validate_rejects(text: str, tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(text)
    assert cli("validate", tmp_path / "c.yaml").exit_code == 2
    validator = jsonschema.Draft202012Validator(config_schema())
    assert list(validator.iter_errors(yaml.safe_load(text)))


# The keys the SPEC documents, written out here (not read from the code the schema is made from).
SPEC_KEYS = {
    "": {"version", "seed", "copies", "audio", "output", "pipeline", "spectrogram", "mix", "stems", "pools"},
    "audio": {"sample_rate", "mono"},
    "output": {"format", "subtype", "manifest", "clip"},
    "spectrogram": {
        *("n_fft", "hop_length", "win_length", "window", "center", "n_mels", "fmin", "fmax", "htk", "norm"),
        *("pad_mode", "power", "db", "layout", "write_audio", "pipeline"),
    },
    "spectrogram.db": {"ref", "amin", "top_db"},
    "mix": {"level_db", "reverb", "noise", "speakers", "post"},
    "mix.reverb": {"ir_path", "p", "target"},
    "mix.noise": {"sounds_path", "snr_db", "p"},
    "mix.speakers": {"count", "sir_db"},
    "pools": {"split_by", "speaker_by"},
}


def test_the_schema_and_the_checker_take_exactly_the_documented_keys(tmp_path: Path) -> None:
    props = config_schema()["properties"]
    sections = {
        "": props,
        "audio": props["audio"]["properties"],
        "output": props["output"]["properties"],
        "spectrogram": props["spectrogram"]["properties"],
        "spectrogram.db": props["spectrogram"]["properties"]["db"]["properties"],
        "mix": props["mix"]["properties"],
        **{f"mix.{part}": props["mix"]["properties"][part]["properties"] for part in ("reverb", "noise", "speakers")},
        "pools": props["pools"]["properties"],
    }
    for section, keys in SPEC_KEYS.items():
        assert set(sections[section]) == keys, section
        for key in (*keys, "no_such_key"):  # what validate says of each key, alone in its section
            config = tmp_path / "c.yaml"
            body: dict[str, object] = {key: None}
            for part in reversed(section.split(".") if section else []):
                body = {part: body}
            config.write_text(yaml.safe_dump({"version": 1, "pipeline": [], **body}))
            unknown = "unknown key" in cli("validate", config).stderr
            assert unknown == (key == "no_such_key"), (section, key)


def test_the_shipped_schema_file_is_up_to_date() -> None:
    shipped = ROOT / "configs" / "audioaug.schema.json"
    assert json.loads(shipped.read_text()) == config_schema(), "regenerate: audioaug schema > " + str(shipped)
    for config in CONFIGS:
        assert config.read_text().startswith("# yaml-language-server: $schema=audioaug.schema.json\n"), config


def test_validate_and_transforms_stay_light() -> None:
    """They import audiomentations (the transforms named; soundfile for the subtypes) but not numba or
    librosa's core, nor joblib."""
    code = (
        "import sys; from audioaug_cli.cli import main\n"
        "for args in (['validate', 'configs/speech_asr.yaml'], ['transforms', 'PitchShift']):\n"
        "    try: main(args)\n"
        "    except SystemExit as e: assert e.code in (0, None), e.code\n"
        "print(sorted(m for m in ('numba', 'librosa.core', 'joblib') if m in sys.modules))\n"
        "print(sorted(m for m in ('audiomentations', 'soundfile') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    heavy, loaded = result.stdout.strip().splitlines()[-2:]
    assert heavy == "[]"
    assert loaded == "['audiomentations', 'soundfile']"  # what they do need is loaded: the check is live


def test_help_does_not_import_numpy() -> None:
    code = (
        "import sys; from audioaug_cli.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\n"
        "print('numpy' in sys.modules, 'yaml' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "False False"


def test_the_transforms_page_is_up_to_date() -> None:
    shipped = (ROOT / "docs" / "reference" / "transforms.md").read_text()
    regenerate = "regenerate: audioaug transforms --markdown > docs/reference/transforms.md"
    assert shipped == cli("transforms", "--markdown").stdout, regenerate
    assert all(
        f"### {name}\n" in shipped
        for name in [*registry.transform_classes(), *registry.COMPOSITIONS, *registry.spec_transform_classes()]
    )


FAKE_VERSION = """
import os, sys, tempfile
fake = tempfile.mkdtemp()  # metadata saying another version is installed, found first on the path
os.mkdir(os.path.join(fake, "audiomentations-0.50.0.dist-info"))
sys.path.insert(0, fake)
sys.argv = ["audioaug", *sys.argv[1:]]
from audioaug_cli import entry
entry()
"""


def test_every_command_ends_in_one_line_with_an_unsupported_audiomentations(tmp_path: Path) -> None:
    """The compat check reaches every command through the one error handler: one line, exit 2."""
    config = tmp_path / "c.yaml"
    config.write_text("version: 1\npipeline:\n  - Gain: {p: 1.0}\n")
    clip = ROOT / "sample_data" / "speech" / "vowels_16k.wav"
    commands: list[list[str | Path]] = [
        ["transforms"],
        ["transforms", "PitchShift"],
        ["schema"],
        ["validate", config],
        ["run", config, ROOT / "sample_data", tmp_path / "out", "-j", "1"],
        ["preview", config, clip, "-o", tmp_path / "preview"],
    ]
    for command in commands:
        done = subprocess.run(
            [sys.executable, "-c", FAKE_VERSION, *map(str, command)], capture_output=True, text=True, cwd=ROOT
        )
        assert done.returncode == 2, (command, done.stderr)
        assert done.stderr.splitlines() == [
            "error: audiomentations 0.50.0 is installed; this audioaug works with 0.43.x only (it relies on how "
            "that version draws and loads): pip install 'audiomentations>=0.43,<0.44'"
        ], command
    assert not (tmp_path / "out").exists() and not (tmp_path / "preview").exists()


def test_jobs_beyond_four_per_cpu_are_cut_down_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from audioaug_cli.engine import workers

    monkeypatch.setattr(workers, "_at_most", lambda jobs: 2 if jobs is None else jobs)
    config = tmp_path / "c.yaml"
    config.write_text("version: 1\npipeline: []\n")
    done = cli("run", config, ROOT / "sample_data", tmp_path / "out", "-j", "64")
    assert done.exit_code == 0
    assert (
        "-j 64: at most 8 workers here (4 per usable CPU); more would only wait on each other and hold memory, "
        "so the run uses 8"
    ) in done.stderr.splitlines()
    quiet = cli("run", config, ROOT / "sample_data", tmp_path / "out2", "-j", "8")
    assert quiet.exit_code == 0 and "at most" not in quiet.stderr
