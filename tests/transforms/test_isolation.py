"""Each item owns its state: one pipeline shared by threads, and a caller's process left as it was."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from audioaug_cli.config.load import parse_config
from audioaug_cli.transforms.waveform import WaveformPipeline
from tests.helpers import PIPELINE, ROOT, tone
from tests.helpers import make_corpus as corpus


def test_one_pipeline_called_from_eight_threads_matches_serial_calls() -> None:
    config = parse_config(PIPELINE)
    shared = WaveformPipeline(config.pipeline, config.base_dir)
    inputs = [tone(0.25, freq=200 + 7 * i) for i in range(200)]
    serial = [
        WaveformPipeline(config.pipeline, config.base_dir).augment(x.copy(), 16000, 1000 + i)
        for i, x in enumerate(inputs)
    ]
    start = threading.Barrier(8)

    def item(i: int) -> tuple[np.ndarray, list[dict[str, object]]]:
        if i < 8:
            start.wait()  # all eight threads inside the pipeline at once from the first item
        return shared.augment(inputs[i].copy(), 16000, 1000 + i)

    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(item, range(200)))
    applied = sum(bool(record) for _out, record in serial)
    assert applied > 150  # the pipeline draws and applies: there is state to share
    for (out, record), (expected, expected_record) in zip(threaded, serial, strict=True):
        assert record == expected_record
        assert np.array_equal(out, expected)


CALLER = """
import random, sys, warnings
import numpy as np

random.seed(5)
np.random.seed(5)
filters, show = list(warnings.filters), warnings.showwarning
random_state, numpy_state = random.getstate(), np.random.get_state()

def unchanged(when):
    same = {
        "random": random.getstate() == random_state,
        "np.random": all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), numpy_state)),
        "warnings.filters": warnings.filters == filters,
        "warnings.showwarning": warnings.showwarning is show,
    }
    print(when, sorted(k for k, v in same.items() if not v))

from audioaug_cli import RunOptions, load_config, run
from audioaug_cli.transforms.waveform import WaveformPipeline

config = load_config(sys.argv[1])
unchanged("load")
summary = run(config, sys.argv[2], sys.argv[3], RunOptions(jobs=1))
assert summary.written == 30, summary
unchanged("run")
augmenter = WaveformPipeline(config.pipeline, config.base_dir)
for seed in range(20):
    augmenter.augment(np.zeros(8000, dtype=np.float32) + 0.1, 16000, seed)
unchanged("augment")
from audioaug_cli import Augmenter
public = Augmenter(config)
for seed in range(20):
    public(np.zeros((8000, 2)) + 0.1, 16000, seed=seed)
unchanged("Augmenter")
"""


def test_the_caller_keeps_its_rngs_and_warning_state(tmp_path: Path) -> None:
    """A training script that calls the library keeps its own seeding and warning set-up."""

    config = tmp_path / "c.yaml"
    config.write_text(PIPELINE)
    inputs = corpus(tmp_path / "in")
    script = tmp_path / "caller.py"
    script.write_text(CALLER)
    assert_caller_keeps_its_state(script, config, inputs, tmp_path / "out")


def assert_caller_keeps_its_state(script: Path, config: Path, inputs: Path, out: Path) -> None:
    """Run the caller script: it prints, after each of its calls, what changed in its own state."""
    done = subprocess.run(
        [sys.executable, str(script), str(config), str(inputs), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["load []", "run []", "augment []", "Augmenter []"]


def test_an_import_within_an_item_leaves_no_warning_filters(tmp_path: Path) -> None:
    """Resample calls librosa, whose first call imports scipy, which adds filters: a config that
    loads nothing of scipy before its first item."""

    config = tmp_path / "c.yaml"
    config.write_text(
        "version: 1\nseed: 2\ncopies: 3\npipeline:\n  - AddGaussianNoise: {p: 0.5}\n"
        "  - Resample: {min_sample_rate: 8000, max_sample_rate: 12000, p: 1.0}\n"
    )
    script = tmp_path / "caller.py"
    script.write_text(
        CALLER.replace(
            "from audioaug_cli import RunOptions",
            "assert 'scipy' not in sys.modules\nfrom audioaug_cli import RunOptions",
        )
    )
    assert_caller_keeps_its_state(script, config, corpus(tmp_path / "in"), tmp_path / "out")


def test_items_keep_pythons_once_per_place_memory_of_warnings() -> None:
    """Putting the filters back only when an item changed them keeps Python's "default" action:
    a warning from one place is captured in the first item that raises it, not in every item."""
    import warnings

    from audioaug_cli.transforms.warning_capture import captured_warnings

    def item() -> list[str]:
        with captured_warnings() as found:
            warnings.warn("from one place", UserWarning, stacklevel=1)
        return found

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        filters = list(warnings.filters)
        assert [item() for _ in range(3)] == [["from one place"], [], []]
        assert warnings.filters == filters
