"""A run imports only the transforms its config names; the package it leaves behind is the usual one.

These run in fresh interpreters: the test process itself has imported all of audiomentations.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from audioaug_cli.transforms import compat, registry
from tests.helpers import ROOT, write_tone


def python(code: str, *args: str | Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_transform_names_are_the_transform_classes() -> None:
    assert set(registry.transform_names()) == set(registry.transform_classes())


RUN = """
import sys
if sys.argv[1] == "whole":
    import audiomentations  # what a caller may have done first: the ordinary package
from audioaug_cli.cli import main
try:
    main(["run", sys.argv[2], sys.argv[3], sys.argv[4], "-j", "1", "-q"])
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
print(sorted(m for m in ("scipy.signal", "audiomentations.augmentations.low_pass_filter") if m in sys.modules))
print(sorted(m for m in ("audiomentations.augmentations.pitch_shift", "audiomentations.augmentations.gain")
             if m in sys.modules))
"""


def test_a_run_loads_only_its_transforms_and_writes_the_same_bytes(tmp_path: Path) -> None:
    for i in range(4):
        write_tone(tmp_path / "in" / f"t{i}.wav", 0.4, 16000, 1, 300 + 50 * i)
    config = tmp_path / "c.yaml"
    config.write_text(
        "version: 1\nseed: 3\ncopies: 3\npipeline:\n"
        "  - PitchShift: {min_semitones: -3, max_semitones: 3, p: 0.7}\n"
        "  - OneOf: {transforms: [Gain, Reverse]}\n"
    )
    lazy = python(RUN, "lazy", config, tmp_path / "in", tmp_path / "lazy")
    whole = python(RUN, "whole", config, tmp_path / "in", tmp_path / "whole")
    assert lazy == ["[]", "['audiomentations.augmentations.gain', 'audiomentations.augmentations.pitch_shift']"]
    assert whole[0] == "['audiomentations.augmentations.low_pass_filter', 'scipy.signal']"  # the check is live
    written = sorted(p.relative_to(tmp_path / "lazy") for p in (tmp_path / "lazy").rglob("*.wav"))
    assert len(written) == 12
    for name in [*written, Path("manifest.csv")]:
        assert (tmp_path / "lazy" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name


PACKAGE = """
import importlib.metadata, sys, warnings
from audioaug_cli.transforms import compat, registry
filters = list(warnings.filters)
gain = registry.transform_class("Gain")
low_pass = registry.transform_class("LowPassFilter")  # imports scipy.signal, which adds filters
import audiomentations
print(warnings.filters == filters, "scipy.signal" in sys.modules, "audiomentations.augmentations.shift" in sys.modules)
print(audiomentations.__version__ == importlib.metadata.version("audiomentations"),
      audiomentations.Gain is gain, audiomentations.LowPassFilter is low_pass)
names = {}
exec("from audiomentations import *", names)
print(all(n in names for n in ("Shift", "Compose", "NOISE_COLOR_DECAYS")), "Shift" in dir(audiomentations))
try:
    audiomentations.NoSuchTransform
except AttributeError as error:
    print("AttributeError", error)
"""


def test_the_package_a_run_leaves_behind_behaves_as_imported() -> None:
    quiet, version, star, missing = python(PACKAGE)
    assert quiet == "True True False"  # scipy loaded for LowPassFilter, quietly; Shift not loaded
    assert version == "True True True"
    assert star == "True True"
    assert missing == "AttributeError module 'audiomentations' has no attribute 'NoSuchTransform'"


LATE = """
import random
import numpy as np
from audioaug_cli.config.load import parse_config
from audioaug_cli.transforms.waveform import WaveformPipeline

def pipeline(yaml):
    config = parse_config("version: 1\\npipeline:\\n" + yaml)
    return WaveformPipeline(config.pipeline, config.base_dir)

x = (np.sin(np.arange(8000) / 9.0) * 0.3).astype(np.float32)
pipeline("  - Gain: {p: 1.0}\\n").augment(x.copy(), 16000, 1)  # routes the modules loaded so far
late = pipeline("  - TimeMask: {p: 1.0}\\n  - AddGaussianNoise: {p: 1.0}\\n")  # two modules loaded now
runs = []
for global_seed in (1, 2):
    random.seed(global_seed)
    np.random.seed(global_seed)
    state = random.getstate(), np.random.get_state()[1].copy()
    out, record = late.augment(x.copy(), 16000, 77)
    runs.append((out, record))
    print(random.getstate() == state[0], np.array_equal(np.random.get_state()[1], state[1]))
print(np.array_equal(runs[0][0], runs[1][0]), runs[0][1] == runs[1][1], len(runs[0][1]))
"""


def test_a_transform_loaded_after_the_first_item_draws_from_the_item_generators() -> None:
    first, second, same = python(LATE)
    assert first == second == "True True"  # the caller's generators neither drawn from nor seeded
    assert same == "True True 2"  # and the item's draws are the item's own, whatever the globals were


EACH = """
import sys
from audioaug_cli.transforms import registry
names = [n for n in registry.transform_names() if n not in registry.OWN_WAVEFORM]
loaded = {name: registry.transform_class(name) for name in (reversed(names) if sys.argv[1] == "reversed" else names)}
import audiomentations
print("NOISE_COLOR_DECAYS" in vars(audiomentations))  # the package's __init__.py has not run
print(sorted(loaded) == sorted(n for n in dir(audiomentations) if n in names))  # now it has
print(all(getattr(audiomentations, n) is cls for n, cls in loaded.items()))
"""


def test_every_transform_loads_alone_in_either_order() -> None:
    """A transform module that needs another (SevenBandParametricEQ, the post-gain helper) gets it."""
    for order in ("sorted", "reversed"):
        assert python(EACH, order) == ["False", "True", "True"], order


def test_an_audiomentations_it_was_not_checked_against_is_refused_with_the_fix() -> None:
    """compat relies on how 0.43 draws and loads; another version stops the first command that needs
    a transform (exit 2, one line with the pip command), before anything is drawn differently."""
    code = (
        "import os, sys, tempfile\nfake = tempfile.mkdtemp()\n"  # metadata of another version, first on the path
        "os.mkdir(os.path.join(fake, 'audiomentations-0.45.1.dist-info'))\nsys.path.insert(0, fake)\n"
        "from audioaug_cli.cli import main\nmain(['validate', sys.argv[1]])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "configs" / "example.yaml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "error: audiomentations 0.45.1 is installed; this audioaug works with 0.43.x only (it "
        "relies on how that version draws and loads): pip install 'audiomentations>=0.43,<0.44'\n"
    )
    compat.check_version("0.43.2")  # the pinned versions pass
