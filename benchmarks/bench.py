"""audioaug's benchmark: `make bench`, or `python benchmarks/bench.py [--tiny] [--rounds N] [--out DIR]`.

It synthesises its corpora, then times whole processes (what a user waits for), alternating the
contenders round by round so that a noisy, shared machine slows them alike. Every target is a ratio
of medians measured in this one run. Results go to OUT/bench.json and OUT/bench.png.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
_SCRIPT = Path(PYTHON).with_name("audioaug")  # the console script, as users run it
AUDIOAUG = [str(_SCRIPT)] if _SCRIPT.exists() else [PYTHON, "-m", "audioaug_cli"]
SEED_PIPELINE = """\
version: 1
seed: 1234
copies: {copies}
pipeline:
  - AddGaussianNoise: {{min_amplitude: 0.001, max_amplitude: 0.015, p: 0.5}}
  - PitchShift: {{min_semitones: -4, max_semitones: 4, p: 0.5}}
  - Shift: {{min_shift: -0.5, max_shift: 0.5, p: 0.5}}
"""
EMPTY_PIPELINE = "version: 1\npipeline: []\n"
Command = Callable[[Path], list[str]]  # output folder -> argv


def synthesise(root: Path, count: int, seconds: float, rate: int, channels: int) -> float:
    """Noisy tones in a few folders; returns the corpus' total audio-seconds."""
    rng = np.random.default_rng(count)
    t = np.arange(int(seconds * rate)) / rate
    for i in range(count):
        tone = [
            0.2 * np.sin(2 * np.pi * (110 + 7 * i + 50 * c) * t) + 0.02 * rng.standard_normal(len(t))
            for c in range(channels)
        ]
        path = root / f"part{i % 4}" / f"clip{i:04d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, np.stack(tone, axis=1).astype(np.float32), rate, subtype="PCM_16")
    return count * seconds


def _compile_package() -> None:
    """Time audioaug as pip installs it: with bytecode compiled. An editable install run with
    PYTHONDONTWRITEBYTECODE would otherwise recompile every module in every timed process."""
    import compileall

    import audioaug_cli

    compileall.compile_dir(Path(audioaug_cli.__file__).parent, quiet=1)


def run(argv: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=HERE.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"benchmark command failed ({done.returncode}): {' '.join(argv)}\n{done.stderr}")
    return elapsed


def alternate(contenders: dict[str, Command], rounds: int, scratch: Path, cpu: bool = False) -> dict[str, float]:
    """Median wall time of each contender (``cpu``: CPU-seconds, all its processes together, see
    :func:`busy_seconds`), running them in turn, round after round."""
    wall, busy = alternate_both(contenders, rounds, scratch)
    return busy if cpu else wall


def alternate_both(
    contenders: dict[str, Command], rounds: int, scratch: Path
) -> tuple[dict[str, float], dict[str, float]]:
    """:func:`alternate`'s medians of wall time and of CPU-seconds, from the same runs."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    cpus: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, command in contenders.items():
            out = scratch / "out"
            shutil.rmtree(out, ignore_errors=True)
            before = busy_seconds()
            times[name].append(run(command(out)))
            cpus[name].append(busy_seconds() - before)
    shutil.rmtree(scratch / "out", ignore_errors=True)
    wall = {name: statistics.median(values) for name, values in times.items()}
    return wall, {name: statistics.median(values) for name, values in cpus.items()}


def busy_seconds() -> float:
    """CPU-seconds this machine has spent so far, every process together (/proc/stat): what a
    command and every process it starts (a dask cluster's too) cost, measured around it."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


PARENT_PROBE = (
    "import resource, sys\n"
    "from audioaug_cli.cli import main\n"
    "from audioaug_cli.engine.run import Run\n"
    "def cpu():\n"
    "    used = resource.getrusage(resource.RUSAGE_SELF)\n"
    "    return used.ru_utime + used.ru_stime\n"
    "marks = []\n"
    "finish = Run._finish\n"
    "def marked(self, *args):\n"
    "    marks.append(cpu())\n"
    "    return finish(self, *args)\n"
    "Run._finish = marked\n"
    "start = cpu()\n"
    "try:\n    main.main(sys.argv[1:], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
    "end = cpu()\n"
    "workers = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(marks[0] - start, end - start, workers.ru_utime + workers.ru_stime)\n"
)


def parent_cpu(args: list[str]) -> tuple[float, float, float]:
    """The CPU-seconds of a run's own process (the parent: plan, records, manifest), its imports
    not counted: until the workers are done (what a run's end does, the manifest written, not
    counted), and in all; and its workers' CPU-seconds in all."""
    out = subprocess.run(
        [PYTHON, "-c", PARENT_PROBE, *args], cwd=HERE.parent, capture_output=True, text=True, check=True
    )
    working, whole, workers = out.stdout.split()[-3:]
    return float(working), float(whole), float(workers)


def peak_rss_mb(argv: list[str]) -> float:
    """Peak resident memory of a command (its largest process), in MiB."""
    probe = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([PYTHON, "-c", probe, *argv], cwd=HERE.parent, capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="small corpora, one round: checks the script runs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--only",
        choices=("mixing", "codecs", "small"),
        help="measure one section alone; merged into OUT/bench.json, its section of the page replaced",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument(
        "--page", type=Path, default=HERE.parent / "docs" / "benchmarks.md", help="the docs page written"
    )
    args = parser.parse_args()
    rounds = 1 if args.tiny else args.rounds
    cores = len(os.sched_getaffinity(0))
    args.out.mkdir(parents=True, exist_ok=True)
    _compile_package()
    results: dict[str, object] = {"cores": cores, "rounds": rounds, "tiny": args.tiny}
    if args.only == "small":  # its figures are targets: the whole page is written again from bench.json
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "seed.yaml").write_text(SEED_PIPELINE.format(copies=1))
            small = small_clips(rounds, args.tiny, Path(folder))
        saved = args.out / "bench.json"
        results = json.loads(saved.read_text()) if saved.exists() else results
        results["small clips"] = small
        targets: dict[str, object] = results.setdefault("targets", {})
        for name, (value, op, limit) in small_targets(small).items():
            targets[name] = {"measured": round(value, 3), "met": value <= limit if op == "<=" else value >= limit}
        saved.write_text(json.dumps(results, indent=2) + "\n")
        if "machine" in results:
            (args.out / "benchmarks.md" if args.tiny else args.page).write_text(benchmarks_page(results))
        return
    if args.only:
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "seed.yaml").write_text(SEED_PIPELINE.format(copies=1))
            found = mixing(rounds, args.tiny, Path(folder)) if args.only == "mixing" else codecs(rounds, args.tiny)
        key, title, section = SECTIONS[args.only]
        saved = args.out / "bench.json"
        results = json.loads(saved.read_text()) if saved.exists() else results
        results[key] = found
        saved.write_text(json.dumps(results, indent=2) + "\n")
        page = args.out / "benchmarks.md" if args.tiny else args.page
        text = page.read_text() if page.exists() else "# Benchmarks\n"
        page.write_text(_replaced(text, title, section(found, f"`bench.py --only {args.only}`")))
        return
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        seed, empty = scratch / "seed.yaml", scratch / "empty.yaml"
        seed.write_text(SEED_PIPELINE.format(copies=1))
        empty.write_text(EMPTY_PIPELINE)
        corpora = {
            "10 x 1 s mono 16 kHz": (scratch / "short", (3, 1.0) if args.tiny else (10, 1.0), 16000, 1),
            "200 x 4 s mono 16 kHz": (scratch / "mono", (8, 1.0) if args.tiny else (200, 4.0), 16000, 1),
            "20 x 30 s stereo 44.1 kHz": (scratch / "stereo", (2, 3.0) if args.tiny else (20, 30.0), 44100, 2),
        }
        throughput: dict[str, dict[str, float]] = {}
        ratios: dict[str, dict[str, float]] = {}
        parallel: dict[str, dict[str, float]] = {}  # corpus -> {"-j 2": speed-up, "default -j": speed-up}
        for label, (root, (count, seconds), rate, channels) in corpora.items():
            audio = synthesise(root, count, seconds, rate, channels)
            contenders: dict[str, Command] = {}
            # Runs well under a second differ by tens of ms from run to run (the page cache's
            # writeback of the last run's files among them): more rounds for a median that holds.
            short: dict[str, Command] = {}
            if not label.startswith("10 x"):
                short = {
                    "floor (read + write)": lambda o, r=root: [PYTHON, str(HERE / "floor.py"), str(r), str(o)],
                    "floor without fsync": lambda o, r=root: [
                        PYTHON,
                        str(HERE / "floor.py"),
                        str(r),
                        str(o),
                        "--no-fsync",
                    ],
                    "empty pipeline -j 1": lambda o, r=root: [*AUDIOAUG, "run", str(empty), str(r), str(o), "-j", "1"],
                }
                contenders["plain audiomentations loop"] = lambda o, r=root: [
                    PYTHON,
                    str(HERE / "plain_loop.py"),
                    str(r),
                    str(o),
                ]
            for jobs in range(1, cores + 1):
                contenders[f"audioaug -j {jobs}"] = lambda o, r=root, j=jobs: [
                    *AUDIOAUG,
                    "run",
                    str(seed),
                    str(r),
                    str(o),
                    "-j",
                    str(j),
                ]
            contenders["audioaug, default -j"] = lambda o, r=root: [*AUDIOAUG, "run", str(seed), str(r), str(o)]
            repeat = 1 if args.tiny else 5  # (tiny mode checks that the script runs: one round)
            medians = alternate(short, rounds * repeat, scratch) if short else {}
            medians.update(alternate(contenders, rounds * (repeat if label.startswith("10 x") else 1), scratch))
            throughput[label] = {name: audio / t for name, t in medians.items()}
            parallel[label] = _speedups(medians, "audioaug")
            if not label.startswith("10 x"):
                ratios[label] = {
                    "audioaug -j 1 / plain loop (wall, target <= 1.05)": medians["audioaug -j 1"]
                    / medians["plain audiomentations loop"],
                    "empty pipeline / floor (throughput, target >= 0.90)": medians["floor (read + write)"]
                    / medians["empty pipeline -j 1"],
                    "empty pipeline / floor without fsync (throughput, informational)": medians["floor without fsync"]
                    / medians["empty pipeline -j 1"],
                }
            print(f"\n{label} ({audio:.0f} audio-s):")
            for name, t in medians.items():
                print(f"  {name:<28} {t:7.2f} s  {audio / t:8.1f} audio-s/s")

        # The stereo corpus with 4 copies: about 12 single-core seconds of work.
        seed4 = scratch / "seed4.yaml"
        seed4.write_text(SEED_PIPELINE.format(copies=4))
        stereo = corpora["20 x 30 s stereo 44.1 kHz"][0]
        four = {
            f"-j {j}": (lambda o, j=j: [*AUDIOAUG, "run", str(seed4), str(stereo), str(o), "-j", str(j)])
            for j in range(1, cores + 1)
        }
        four["default -j"] = lambda o: [*AUDIOAUG, "run", str(seed4), str(stereo), str(o)]
        four_medians = alternate(four, rounds, scratch)
        parallel["20 x 30 s stereo 44.1 kHz, 4 copies"] = _speedups(four_medians, "")
        print("\n20 x 30 s stereo 44.1 kHz, 4 copies:")
        for name, t in four_medians.items():
            print(f"  {name:<28} {t:7.2f} s")
        results["parallel speed-up over -j 1 (whole command)"] = parallel
        share = feature_share(4 if args.tiny else 60)
        results["article config: feature share of item time (4 s clips, target <= 0.25)"] = share
        results["throughput audio-s/s"] = throughput
        results["ratios"] = ratios

        # The same empty-pipeline comparison at four times the files: the difference between the two
        # sizes is the per-file cost alone, with each process's fixed start-up cancelled out.
        mono, (count, seconds) = corpora["200 x 4 s mono 16 kHz"][0], corpora["200 x 4 s mono 16 kHz"][1]
        synthesise(scratch / "mono4x", 4 * count, seconds, 16000, 1)
        floor = [PYTHON, str(HERE / "floor.py")]
        per_size: dict[str, Callable[[Path, Path], list[str]]] = {  # (input, output) -> argv
            "floor": lambda d, o: [*floor, str(d), str(o)],
            "floor without fsync": lambda d, o: [*floor, str(d), str(o), "--no-fsync"],
            "empty": lambda d, o: [*AUDIOAUG, "run", str(empty), str(d), str(o), "-j", "1"],
        }
        sized = alternate(
            {
                f"{name} {n}": (lambda o, c=command, d=d: c(d, o))
                for n, d in ((count, mono), (4 * count, scratch / "mono4x"))
                for name, command in per_size.items()
            },
            rounds,
            scratch,
        )
        per_file = {name: sized[f"{name} {4 * count}"] - sized[f"{name} {count}"] for name in per_size}
        print(f"\nempty pipeline per file, start-up excluded ({count} vs {4 * count} files):")
        for name in ("floor", "floor without fsync"):
            marginal = per_file[name] / per_file["empty"]
            results[f"empty pipeline / {name}, per file (start-up excluded; informational)"] = marginal
            print(f"  against the {name}: {marginal:.3f}")

        # Scaling: a workload of about 30 single-core seconds (both corpora, several copies).
        both = scratch / "both"
        shutil.copytree(scratch / "mono", both / "mono")
        shutil.copytree(scratch / "stereo", both / "stereo")
        single = alternate({"j1": lambda o: [*AUDIOAUG, "run", str(seed), str(both), str(o), "-j", "1"]}, 1, scratch)
        copies = 1 if args.tiny else max(1, math.ceil(30 / single["j1"]))  # at least ~30 s at -j 1
        scaled = scratch / "scaled.yaml"
        scaled.write_text(SEED_PIPELINE.format(copies=copies))
        scaling = alternate(
            {
                f"-j {j}": lambda o, j=j: [*AUDIOAUG, "run", str(scaled), str(both), str(o), "-j", str(j)]
                for j in range(1, cores + 1)
            },
            rounds,
            scratch,
        )
        results["scaling"] = {
            "copies": copies,
            "seconds": scaling,
            "speedup -j N / -j 1 (target for -j 2: >= 1.75)": {
                name: scaling["-j 1"] / t for name, t in scaling.items()
            },
        }
        print(f"\nscaling ({copies} copies of both corpora; -j 1 takes {scaling['-j 1']:.1f} s):")
        for name, t in scaling.items():
            print(f"  {name}: {t:.2f} s, speedup {scaling['-j 1'] / t:.2f}x")

        # Start-up: --help against importing click alone.
        startup = alternate(
            {
                "audioaug --help": lambda o: [*AUDIOAUG, "--help"],
                "python -c 'import click'": lambda o: [PYTHON, "-c", "import click"],
            },
            3 if args.tiny else 15,
            scratch,
        )
        results["startup seconds"] = startup
        help_ratio = startup["audioaug --help"] / startup["python -c 'import click'"]
        results["help / import click (target <= 2.0)"] = help_ratio

        # Memory: 400 files against 100 (nothing may grow with the number of files), and one long file.
        few, many = (5, 20) if args.tiny else (100, 400)
        synthesise(scratch / "few", few, 2.0, 16000, 1)
        synthesise(scratch / "many", many, 2.0, 16000, 1)
        memory = {
            f"{n} files": peak_rss_mb(
                [*AUDIOAUG, "run", str(seed), str(scratch / d), str(scratch / f"o{n}"), "-j", "1"]
            )
            for n, d in ((few, "few"), (many, "many"))
        }
        long_seconds = 6.0 if args.tiny else 600.0
        synthesise(scratch / "long", 1, long_seconds, 48000, 2)
        long_peak = peak_rss_mb([*AUDIOAUG, "run", str(seed), str(scratch / "long"), str(scratch / "olong"), "-j", "1"])
        results["peak memory MiB"] = {**memory, f"one {long_seconds / 60:g}-minute 48 kHz stereo file": long_peak}
        results[f"memory {many} / {few} files (target <= 1.10)"] = memory[f"{many} files"] / memory[f"{few} files"]

        results["object storage (a local S3 server)"] = object_storage(rounds, args.tiny, scratch)
        results["mixing (DNS-style, 200 x 4 s)"] = mixing(rounds, args.tiny, scratch)
        results["codecs (audio-s per CPU-s)"] = codecs(rounds, args.tiny)
        small = small_clips(rounds, args.tiny, scratch)
        results["small clips"] = small

    results["PitchShift methods"] = pitch_methods(rounds, args.tiny)
    targets = {
        "-j 2 speed-up, 200 x 4 s mono (>= 1.45)": (parallel["200 x 4 s mono 16 kHz"]["-j 2"], ">=", 1.45),
        "-j 2 speed-up, 20 x 30 s stereo, 4 copies (>= 1.75)": (
            parallel["20 x 30 s stereo 44.1 kHz, 4 copies"]["-j 2"],
            ">=",
            1.75,
        ),
        # Below a few units of work the default runs in-process, the same code as -j 1: equal but for noise.
        "default -j vs -j 1, slowest corpus (>= 0.98)": (min(p["default -j"] for p in parallel.values()), ">=", 0.98),
        "feature share of an item, article config (<= 0.25)": (share, "<=", 0.25),
        "-j 1 vs plain loop (<= 1.05)": (
            max(r["audioaug -j 1 / plain loop (wall, target <= 1.05)"] for r in ratios.values()),
            "<=",
            1.05,
        ),
        "empty pipeline vs floor (>= 0.90)": (
            min(r["empty pipeline / floor (throughput, target >= 0.90)"] for r in ratios.values()),
            ">=",
            0.90,
        ),
        "-j 2 speed-up, ~30 single-core s (>= 1.75)": (
            scaling["-j 1"] / scaling.get("-j 2", scaling["-j 1"]),
            ">=",
            1.75,
        ),
        "--help vs import click (<= 2.0)": (results["help / import click (target <= 2.0)"], "<=", 2.0),
        **small_targets(small),
        f"memory {many} vs {few} files (<= 1.10)": (
            results[f"memory {many} / {few} files (target <= 1.10)"],
            "<=",
            1.10,
        ),
    }
    print("\ntargets (ratios measured in this run):")
    summary = {}
    for name, (value, op, limit) in targets.items():
        met = value <= limit if op == "<=" else value >= limit
        summary[name] = {"measured": round(value, 3), "met": met}
        print(f"  {name:<38} {value:6.3f}  {'met' if met else 'MISSED'}")
    print(f"  peak memory, {long_seconds / 60:g}-minute 48 kHz stereo file: {long_peak:.0f} MiB")
    strict = min(r["empty pipeline / floor without fsync (throughput, informational)"] for r in ratios.values())
    print(
        f"  (informational) empty pipeline vs the floor without fsync: {strict:.3f}; soundfile.write(path)\n"
        "  fsyncs every file on close, audioaug does not (outputs survive a kill, not a power cut)"
    )
    results["targets"] = summary
    results["machine"] = machine()
    (args.out / "bench.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(throughput, scaling, args.out / "bench.png")
    page = args.out / "benchmarks.md" if args.tiny else args.page
    page.write_text(benchmarks_page(results))
    print(f"\nwrote {args.out / 'bench.json'}, {args.out / 'bench.png'} and {page}")


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    import platform

    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": model,
        "usable cores": len(os.sched_getaffinity(0)),
        "memory GiB": round(memory, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "date": time.strftime("%Y-%m-%d"),
    }


MIXING_TITLE = "## Mixtures (DNS-style"
CODECS_TITLE = "## Codecs and the phone channel"


def _replaced(page: str, title: str, lines: list[str]) -> str:
    """The page with its section under ``title`` (up to the next heading) replaced by ``lines``."""
    before, found, after = page.partition(title)
    rest = after.split("\n## ", 1)[1] if found and "\n## " in after else ""
    kept = before.rstrip("\n") + ("\n\n## " + rest.rstrip("\n") if rest else "")
    return kept + "\n" + "\n".join(lines) + "\n"


def codecs_section(found: dict[str, float], measured_by: str) -> list[str]:
    """The page's section on codecs: audio-seconds per CPU-second of one process, each codec's
    encode and decode with its resampling (16 kHz mono speech-like audio)."""
    return [
        "",
        f"{CODECS_TITLE} (audio-seconds per CPU-second, one core)",
        "",
        f"Measured by {measured_by}, {found.get('rounds', 3):g} alternating rounds, in process (rusage CPU",
        "time): each codec's resampling, encoding and decoding of 16 kHz mono audio, beside audiomentations'",
        "Mp3Compression (its two in-process backends) at the same bitrate; CPU time counts every thread.",
        "",
        *(f"- {name}: {value:.0f}" for name, value in found.items() if name != "rounds"),
    ]


def codecs(rounds: int, tiny: bool) -> dict[str, float]:
    """Audio-seconds per CPU-second for each codec (Codec at a middle bitrate), Telephone, and
    Mp3Compression's lameenc backend: alternating rounds, medians."""
    import audiomentations

    from audioaug_cli.transforms.codecs import SPECS, codec_rate, through_codec
    from audioaug_cli.transforms.codecs import Telephone as Phone

    seconds, rate = (3.0, 16000) if tiny else (60.0, 16000)
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(5)
    audio = 0.1 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(len(t))
    audio = audio.astype(np.float32)
    middle = {"mp3": 64.0, "opus": 32.0, "nms_adpcm": 24.0}
    contenders: dict[str, Callable[[], object]] = {
        f"Codec {codec}": (
            lambda c=codec: through_codec(
                audio, rate, c, codec_rate(c, rate), middle.get(c, SPECS[c].fixed_kbps), 0.5 if c == "vorbis" else None
            )
        )
        for codec in SPECS
    }
    for codec in ("ulaw", "gsm"):  # one codec each: a drawn one would make the rounds differ
        phone = Phone(codecs=(codec,), packet_loss=(0.05, 0.05), p=1.0)
        contenders[f"Telephone ({codec}, 5 % loss)"] = lambda t=phone: t(audio, rate)
    for backend, options in (("fast-mp3-augment", {}), ("lameenc", {"preserve_delay": True})):
        mp3 = audiomentations.Mp3Compression(min_bitrate=64, max_bitrate=64, backend=backend, p=1.0, **options)
        contenders[f"audiomentations Mp3Compression ({backend}, 64 kbit/s)"] = lambda m=mp3: m(audio, rate)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, call in contenders.items():
            started = time.process_time()
            call()
            times[name].append(time.process_time() - started)
    found: dict[str, float] = {"rounds": rounds}
    found.update((name, seconds / statistics.median(values)) for name, values in times.items())
    print("\ncodecs, audio-seconds per CPU-second:")
    for name, value in found.items():
        print(f"  {name:<52} {value:8.0f}")
    return found


def mixing_section(found: dict[str, float], measured_by: str) -> list[str]:
    """The page's section on mixtures (also written alone by ``--only mixing``)."""
    return [
        "",
        f"{MIXING_TITLE}: 200 x 4 s speech, reverb p 0.5, noise at a drawn SNR, three stems)",
        "",
        f"Measured by {measured_by}, {found.get('rounds', 3):g} alternating rounds. Noise excerpts are read",
        "with a seek; each pool file's header and sha256 once per worker process.",
        "",
        *(f"- {name}: {value:.2f}" for name, value in found.items() if name != "rounds"),
    ]


SECTIONS: dict[str, tuple[str, str, Callable[[dict[str, float], str], list[str]]]] = {
    "mixing": ("mixing (DNS-style, 200 x 4 s)", MIXING_TITLE, mixing_section),
    "codecs": ("codecs (audio-s per CPU-s)", CODECS_TITLE, codecs_section),
}


def benchmarks_page(results: dict[str, object]) -> str:
    """docs/benchmarks.md: the targets of this run and the machine, from bench.json's results."""
    found = results["machine"]
    assert isinstance(found, dict)
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`benchmarks/bench.py`) from the run it measured: ratios of whole-command",
        "medians over alternating rounds, on synthetic corpora; `benchmarks/results/bench.json` holds every",
        "figure and `bench.png` the throughput and scaling curves. Run it on your own machine to compare.",
        "",
        "Measured on: "
        + "; ".join(f"{key} {value}" for key, value in found.items())
        + f"; {results['rounds']} rounds.",
        "",
        "| target | measured | |",
        "| --- | --- | --- |",
    ]
    targets = results["targets"]
    assert isinstance(targets, dict)
    for name, outcome in targets.items():
        lines.append(f"| {name} | {outcome['measured']:.3f} | {'met' if outcome['met'] else 'missed'} |")
    lines += ["", "## Throughput (audio-seconds per second, whole commands)", ""]
    throughput = results.get("throughput audio-s/s")
    if isinstance(throughput, dict):
        for corpus, figures in throughput.items():
            lines.append(f"- {corpus}: " + ", ".join(f"{name} {value:.1f}" for name, value in figures.items()))
    small = results.get("small clips")
    if isinstance(small, dict):
        place = "written to memory (tmpfs)" if small.get("tmpfs") else "written to disk"
        lines += ["", f"## Small clips ({small.get('clips', 0):,} x 0.1 s, Gain, {place})", ""]
        lines += [f"- {name}: {value:.3f}" for name, value in small.items() if isinstance(value, float)]
    memory = results.get("peak memory MiB")
    if isinstance(memory, dict):
        lines += ["", "## Peak memory (MiB)", ""]
        lines += [f"- {name}: {value:.0f}" for name, value in memory.items()]
    storage = results.get("object storage (a local S3 server)")
    if isinstance(storage, dict):
        lines += ["", "## Object storage (a local S3 server)", ""]
        lines += [f"- throughput: {storage.get('throughput audio-s/s')}"]
        lines += [
            f"- requests per item, {what}: {found}" for what, found in storage.get("requests per item", {}).items()
        ]
    mixed = results.get("mixing (DNS-style, 200 x 4 s)")
    if isinstance(mixed, dict):
        lines += mixing_section(mixed, "this run")
    coded = results.get("codecs (audio-s per CPU-s)")
    if isinstance(coded, dict):
        lines += codecs_section(coded, "this run")
    return "\n".join(lines) + "\n"


def small_targets(small: dict[str, Any]) -> dict[str, tuple[float, str, float]]:
    """The targets of :func:`small_clips` (and of dask on long files), each (measured, op, limit)."""
    return {
        "tiny clips: -j 1 vs a bare read-gain-write loop (<= 1.20)": (small["-j 1 / loop"], "<=", 1.20),
        "tiny clips: -j 2 speed-up (>= 1.85)": (small["-j 2 speed-up"], ">=", 1.85),
        "tiny clips: dask 2 x 1 speed-up (>= 1.50)": (small["dask speed-up"], ">=", 1.50),
        "tiny clips: dask 2 x 1 CPU vs -j 2, all processes (<= 1.10)": (
            small["dask / -j 2 CPU (all processes)"],
            "<=",
            1.10,
        ),
        "tiny clips: dask 2 x 1 wall vs -j 2's (<= 1.11)": (small["dask / -j 2 wall"], "<=", 1 / 0.9),
        "200 x 4 s: dask 2 x 1 CPU vs -j 2, all processes (<= 1.10)": (
            small["long files: dask / -j 2 CPU"],
            "<=",
            1.10,
        ),
        "200 x 4 s: dask 2 x 1 wall vs -j 2's (<= 1.11)": (small["long files: dask / -j 2 wall"], "<=", 1 / 0.9),
        "tiny clips: parent CPU per item at -j 2, us (<= 15)": (small["parent CPU per item, -j 2 (us)"], "<=", 15.0),
        "tiny clips: workers one parent keeps busy (>= 64)": (small["workers one parent keeps busy"], ">=", 64.0),
        "tiny clips: finished rerun vs a stat walk (<= 1.50)": (small["rerun / stat walk"], "<=", 1.50),
        "tiny clips: peak memory, 10x the clips (<= 1.10)": (small["memory ratio"], "<=", 1.10),
    }


MEMORY_FOLDER = Path("/dev/shm")  # tmpfs on Linux
MEMORY_NEEDED = 2 << 30


def small_clips(rounds: int, tiny: bool, scratch: Path) -> dict[str, Any]:
    """0.1 s clips (keyword spotting, sound events), Gain only: where per-item overhead is all
    there is. Against the loop a user would write (benchmarks/tiny_loop.py), -j 2 and dask against
    -j 1, a finished rerun against a walk that stats every input and output (stat_walk.py), and
    peak memory at ten times the clips.

    Written to memory (tmpfs) where the machine has one with room: what is compared is audioaug's
    own cost per item. Creating 10,000 small files on a disk's file system costs more than the
    items' work, and on ext4 that cost varies severalfold from one run to the next (its inode
    allocator scans past recently deleted inodes, which a benchmark that writes and deletes its
    outputs round after round leaves plenty of)."""
    memory = MEMORY_FOLDER.is_dir() and shutil.disk_usage(MEMORY_FOLDER).free > MEMORY_NEEDED
    if not memory:
        return {**_small_clips(rounds, tiny, scratch), "tmpfs": False}
    with tempfile.TemporaryDirectory(dir=MEMORY_FOLDER) as folder:
        shutil.copy(scratch / "seed.yaml", Path(folder) / "seed.yaml")
        return {**_small_clips(rounds, tiny, Path(folder)), "tmpfs": True}


def _small_clips(rounds: int, tiny: bool, scratch: Path) -> dict[str, float]:
    count = 50 if tiny else 10_000
    corpus, bigger = scratch / "tiny", scratch / "tiny10x"
    _clips(corpus, count)
    config = scratch / "gain.yaml"
    config.write_text("version: 1\nseed: 1\ncopies: 1\npipeline:\n  - Gain: {p: 1.0}\n")
    run_ = [*AUDIOAUG, "run", str(config), str(corpus)]
    first, cpu = alternate_both(
        {
            "loop": lambda o: [PYTHON, str(HERE / "tiny_loop.py"), str(corpus), str(o)],
            "-j 1": lambda o: [*run_, str(o), "-j", "1"],
            "-j 2": lambda o: [*run_, str(o), "-j", "2"],
            "dask 2 x 1": lambda o: [*run_, str(o), "-j", "2", "--backend", "dask"],
        },
        rounds,
        scratch,
    )
    # The parent's CPU: over the clips (its start-up included), and per item beyond them, from ten
    # times the clips (what each more item costs it: what stops more workers from being kept busy;
    # 90,000 more items, so that the noise of its start-up is small beside them)
    _clips(bigger, 10 * count)
    parent: list[tuple[float, float, float]] = []
    parent_more: list[tuple[float, float, float]] = []
    for _ in range(rounds):
        for found, folder in ((parent, corpus), (parent_more, bigger)):
            shutil.rmtree(scratch / "parent", ignore_errors=True)
            found.append(parent_cpu(["run", str(config), str(folder), str(scratch / "parent"), "-j", "2", "-q"]))
    working, whole, workers = (statistics.median(p[i] for p in parent) for i in range(3))
    more = 9 * count
    beyond = (statistics.median(p[1] for p in parent_more) - whole) / more
    working_beyond = (statistics.median(p[0] for p in parent_more) - working) / more
    workers_beyond = (statistics.median(p[2] for p in parent_more) - workers) / more
    shutil.rmtree(scratch / "parent", ignore_errors=True)
    # dask against local workers on long files, the seed pipeline: CPU of every process, and wall time
    long_files = scratch / "long"
    synthesise(long_files, 8 if tiny else 200, 1.0 if tiny else 4.0, 16000, 1)
    seed = scratch / "seed.yaml"
    long_run = [*AUDIOAUG, "run", str(seed), str(long_files)]
    long_wall, long_cpu = alternate_both(
        {
            "-j 2": lambda o: [*long_run, str(o), "-j", "2"],
            "dask 2 x 1": lambda o: [*long_run, str(o), "-j", "2", "--backend", "dask"],
        },
        rounds,
        scratch,
    )
    shutil.rmtree(long_files)
    # dask's start-up (importing distributed, starting a scheduler and its workers, closing them)
    # beyond local workers': one clip, which -j 2 augments without starting any
    one = scratch / "one"
    _clips(one, 1)
    one_wall, one_cpu = alternate_both(
        {
            "-j 2": lambda o: [*AUDIOAUG, "run", str(config), str(one), str(o), "-j", "2"],
            "dask 2 x 1": lambda o: [*AUDIOAUG, "run", str(config), str(one), str(o), "-j", "2", "--backend", "dask"],
        },
        rounds,
        scratch,
    )
    shutil.rmtree(one)
    start_cpu = one_cpu["dask 2 x 1"] - one_cpu["-j 2"]
    done = scratch / "tiny-done"
    run([*run_, str(done), "-j", "2"])
    rerun = alternate(
        {
            "stat walk": lambda _o: [PYTHON, str(HERE / "stat_walk.py"), str(corpus), str(done)],
            "finished rerun": lambda _o: [*run_, str(done), "-j", "2"],
        },
        rounds if tiny else rounds * 3,
        scratch,
    )
    pages = record_cost(done / ".audioaug" / "state.sqlite", rounds * 3, scratch)
    memory = {
        f"{n:,} clips": peak_rss_mb([*AUDIOAUG, "run", str(config), str(d), str(scratch / f"m{n}"), "-j", "1"])
        for n, d in ((count, corpus), (10 * count, bigger))
    }
    started = time.perf_counter()
    memory[f"rerun of {10 * count:,} clips"] = peak_rss_mb(
        [*AUDIOAUG, "run", str(config), str(bigger), str(scratch / f"m{10 * count}"), "-j", "1"]
    )
    big_rerun = time.perf_counter() - started
    shutil.rmtree(bigger)
    shutil.rmtree(scratch / f"m{10 * count}")
    found = {
        "clips": count,
        "-j 1 / loop": first["-j 1"] / first["loop"],
        "-j 2 speed-up": first["-j 1"] / first["-j 2"],
        "dask speed-up": first["-j 1"] / first["dask 2 x 1"],
        "dask / -j 2 CPU (all processes)": cpu["dask 2 x 1"] / cpu["-j 2"],
        "dask / -j 2 wall": first["dask 2 x 1"] / first["-j 2"],
        "CPU per item, -j 2, every process (ms)": cpu["-j 2"] / count * 1e3,
        "parent CPU per item, -j 2 (us)": whole / count * 1e6,
        "parent CPU per item beyond the first tenth, -j 2 (us)": beyond * 1e6,
        "parent CPU per item beyond the first tenth while the workers work, -j 2 (us)": working_beyond * 1e6,
        "workers' CPU per item beyond the first tenth, -j 2 (ms)": workers_beyond * 1e3,
        # what the workers spend on each more item against what the parent spends handing it out,
        # in the same runs: how many workers one parent keeps busy (its start-up and the manifest
        # written at the end are not in the way)
        "workers one parent keeps busy": workers_beyond / working_beyond
        if working_beyond > 0 and workers_beyond > 0
        else float("nan"),  # (a tiny run's noise)
        "long files: dask / -j 2 CPU": long_cpu["dask 2 x 1"] / long_cpu["-j 2"],
        "long files: dask / -j 2 wall": long_wall["dask 2 x 1"] / long_wall["-j 2"],
        "dask start-up beyond -j 2's, CPU-s": start_cpu,
        "dask start-up beyond -j 2's, wall s": one_wall["dask 2 x 1"] - one_wall["-j 2"],
        "dask / -j 2 CPU, dask's start-up excluded": (cpu["dask 2 x 1"] - start_cpu) / cpu["-j 2"],
        "long files: dask / -j 2 CPU, dask's start-up excluded": (long_cpu["dask 2 x 1"] - start_cpu)
        / long_cpu["-j 2"],
        "rerun / stat walk": rerun["finished rerun"] / rerun["stat walk"],
        "record CPU per output, 4 KiB pages (us)": pages[4096],
        "record CPU per output, 16 KiB pages (us)": pages[16384],
        "memory ratio": memory[f"{10 * count:,} clips"] / memory[f"{count:,} clips"],
    }
    print(f"\n{count:,} clips of 0.1 s, Gain:")
    for name, t in {**first, **rerun}.items():
        print(f"  {name:<28} {t:7.2f} s")
    for name, mb in memory.items():
        print(f"  peak memory, {name:<14} {mb:7.1f} MiB")
    print(f"  finished rerun of {10 * count:,} clips {big_rerun:7.2f} s")
    seconds = {**first, **rerun, f"finished rerun of {10 * count:,} clips": big_rerun}
    return {**found, **{f"seconds: {k}": v for k, v in seconds.items()}, **memory}


def record_cost(state: Path, rounds: int, scratch: Path) -> dict[int, float]:
    """The parent's CPU per output recorded (what :meth:`RunState.record_outputs` does: a unit's
    records in one statement, committed once a second) into a new state with sqlite's default
    4 KiB pages and with the 16 KiB pages a state is made with; in-process, alternating, medians."""
    import sqlite3

    from audioaug_cli.engine.state import _SCHEMA

    with contextlib.closing(sqlite3.connect(state)) as db:
        records = db.execute("SELECT * FROM outputs").fetchall()
    found: dict[int, list[float]] = {4096: [], 16384: []}
    for _ in range(rounds):
        for page_size, times in found.items():
            folder = Path(tempfile.mkdtemp(dir=scratch))
            with contextlib.closing(sqlite3.connect(folder / "state.sqlite")) as db:
                for pragma in (f"page_size={page_size}", "journal_mode=WAL", "synchronous=NORMAL"):
                    db.execute(f"PRAGMA {pragma}")
                db.executescript(_SCHEMA)
                started = time.process_time()
                for i in range(0, len(records), 256):
                    db.executemany("INSERT OR REPLACE INTO outputs VALUES (?, ?, ?, ?, ?, ?)", records[i : i + 256])
                    if i % 2560 == 0:
                        db.commit()
                db.commit()
                times.append((time.process_time() - started) / len(records) * 1e6)
            shutil.rmtree(folder)
    return {page_size: statistics.median(times) for page_size, times in found.items()}


MIX_CONFIG = """\
version: 1
seed: 5
copies: 1
output: {{format: wav, subtype: PCM_16}}
pipeline: []
mix:
  level_db: [-35, -15]
  reverb: {{ir_path: {irs}, p: 0.5, target: early}}
  noise: {{sounds_path: {noises}, snr_db: [-5, 20]}}
stems: [mixture, target, noise]
"""


def mixing(rounds: int, tiny: bool, scratch: Path) -> dict[str, float]:
    """A DNS-style enhancement set (speech at a drawn level, reverb with p 0.5, noise at a drawn
    SNR, three stems) from the 200 x 4 s corpus, in audio-seconds per second, against the seed
    pipeline on the same corpus; and the same mix from a pool of 10-minute noise files against
    one of 20 s files: excerpts are read with a seek, so the pool's length should not matter."""
    count, seconds = (8, 1.0) if tiny else (200, 4.0)
    corpus = scratch / "mix-speech"
    audio = synthesise(corpus, count, seconds, 16000, 1)
    rng = np.random.default_rng(3)
    for name, length in (("noise-short", 2.0 if tiny else 20.0), ("noise-long", 6.0 if tiny else 600.0)):
        for i in range(8):
            path = scratch / name / f"n{i}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, (0.1 * rng.standard_normal(int(length * 16000))).astype(np.float32), 16000, "PCM_16")
    for i in range(4):
        ir = np.zeros(8000)
        ir[20] = 1.0
        ir[21:] = 0.3 * rng.standard_normal(8000 - 21) * np.exp(-np.arange(8000 - 21) / 1500)
        path = scratch / "irs" / f"ir{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, ir.astype(np.float32), 16000, "FLOAT")
    configs = {}
    for name in ("noise-short", "noise-long"):
        configs[name] = scratch / f"mix-{name}.yaml"
        configs[name].write_text(MIX_CONFIG.format(irs=scratch / "irs", noises=scratch / name))
    seed = scratch / "seed.yaml"
    medians = alternate(
        {
            "seed pipeline -j 1": lambda o: [*AUDIOAUG, "run", str(seed), str(corpus), str(o), "-j", "1"],
            "mix -j 1": lambda o: [*AUDIOAUG, "run", str(configs["noise-short"]), str(corpus), str(o), "-j", "1"],
            "mix -j 2": lambda o: [*AUDIOAUG, "run", str(configs["noise-short"]), str(corpus), str(o), "-j", "2"],
            "mix, 10-minute noise files -j 1": lambda o: [
                *AUDIOAUG,
                "run",
                str(configs["noise-long"]),
                str(corpus),
                str(o),
                "-j",
                "1",
            ],
        },
        rounds,
        scratch,
    )
    found: dict[str, float] = {"rounds": rounds, **{f"audio-s/s: {name}": audio / t for name, t in medians.items()}}
    found["mix -j 2 speed-up"] = medians["mix -j 1"] / medians["mix -j 2"]
    found["mix / seed pipeline (time, -j 1)"] = medians["mix -j 1"] / medians["seed pipeline -j 1"]
    found["10-minute / 20 s noise files (time, -j 1)"] = (
        medians["mix, 10-minute noise files -j 1"] / medians["mix -j 1"]
    )
    print(f"\nDNS-style mix, {count} x {seconds:g} s, three stems:")
    for name, value in found.items():
        print(f"  {name:<46} {value:8.2f}")
    return found


def _clips(root: Path, count: int) -> None:
    """``count`` 0.1 s mono 16 kHz PCM_16 clips of noise, in folders of 1,000."""
    rng = np.random.default_rng(count)
    for i in range(count):
        path = root / f"part{i // 1000:03d}" / f"clip{i:06d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.1 * rng.standard_normal(1600)).astype(np.float32), 16000, subtype="PCM_16")


def object_storage(rounds: int, tiny: bool, scratch: Path) -> dict[str, object]:
    """A run from and into a local S3 server (moto's, served on loopback by a thread of this
    process, which shares the two cores with the run) beside local-to-local on the same corpus:
    the throughput of each, and the requests per item counted at the server, for a first run and
    a finished rerun."""
    import itertools

    sys.path.insert(0, str(HERE.parent))
    import s3fs

    from tests.s3 import S3Server

    server = S3Server()
    os.environ.update(server.env())  # what every audioaug started below reads
    try:
        bucket = server.new_bucket()
        count, copies = (3, 3) if tiny else (100, 3)
        corpus = scratch / "s3corpus"
        audio = synthesise(corpus, count, 1.0, 16000, 1) * copies
        s3fs.S3FileSystem(skip_instance_cache=True).put(f"{corpus}/", f"{bucket}/in/", recursive=True)
        config = scratch / "s3seed.yaml"
        config.write_text(SEED_PIPELINE.format(copies=copies))
        outputs = itertools.count()
        contenders: dict[str, Command] = {
            "local -> local -j 2": lambda o: [*AUDIOAUG, "run", str(config), str(corpus), str(o), "-j", "2"],
            "s3 -> s3 -j 2": lambda o: [
                *AUDIOAUG,
                "run",
                str(config),
                f"s3://{bucket}/in",
                f"s3://{bucket}/out{next(outputs)}",
                "-j",
                "2",
            ],
        }
        medians = alternate(contenders, rounds, scratch)
        requests = {}
        target = f"s3://{bucket}/counted"
        for what in ("first run", "finished rerun"):
            mark = server.mark()
            run([*AUDIOAUG, "run", str(config), f"s3://{bucket}/in", target, "-j", "2"])
            made = server.count(bucket, mark)
            requests[what] = {kind: round(n / (count * copies), 3) for kind, n in sorted(made.items())}
    finally:
        server.stop()
    throughput = {name: round(audio / t, 1) for name, t in medians.items()}
    print(f"\nobject storage ({count} x 1 s mono, {copies} copies, a local S3 server):")
    for name, t in medians.items():
        print(f"  {name:<28} {t:7.2f} s  {audio / t:8.1f} audio-s/s")
    for what, per_item in requests.items():
        print(f"  requests per item, {what}: {per_item}")
    return {
        "items": count * copies,
        "throughput audio-s/s": throughput,
        "s3 / local throughput": round(medians["local -> local -j 2"] / medians["s3 -> s3 -j 2"], 3),
        "requests per item": requests,
    }


def _speedups(medians: dict[str, float], prefix: str) -> dict[str, float]:
    """-j 2 and the default -j against -j 1, from whole-command medians."""
    head = f"{prefix} " if prefix else ""
    one = medians[f"{head}-j 1"]
    return {
        "-j 2": one / medians.get(f"{head}-j 2", one),
        "default -j": one / medians[f"{prefix}, default -j" if prefix else "default -j"],
    }


def feature_share(clips: int) -> float:
    """How much of an item's time the spectrogram side takes with configs/article.yaml, on 4 s mono
    16 kHz clips: items timed in-process through the run's own item function, with and without the
    spectrogram: section, alternating; the share is the difference over the whole."""
    from dataclasses import replace

    from audioaug_cli.config.load import load_config
    from audioaug_cli.engine.item import augment_source
    from audioaug_cli.engine.tasks import Task
    from audioaug_cli.io.inputs import walk_inputs
    from audioaug_cli.io.store import LocalStore

    article = load_config(HERE.parent / "configs" / "article.yaml")
    waveform_only = replace(article, spectrogram=None)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        synthesise(root / "in", clips, 4.0, 16000, 1)
        tasks = [Task(source, (1, 2)) for source in walk_inputs(root / "in")]
        times: dict[str, list[float]] = {"with": [], "without": []}
        for config in (article, waveform_only):  # warm-up: imports, caches
            augment_source(config, tasks[0], LocalStore(root / "in"), LocalStore(root / "warm"))
        for task in tasks:
            for name, config in (("with", article), ("without", waveform_only)):
                start = time.perf_counter()
                augment_source(config, task, LocalStore(root / "in"), LocalStore(root / name))
                times[name].append(time.perf_counter() - start)
    whole, waveform = sum(times["with"]), sum(times["without"])
    share = (whole - waveform) / whole
    print(
        f"\narticle config on {clips} x 4 s clips, 2 copies: {whole / (2 * clips) * 1000:.1f} ms an item, "
        f"of which the feature {share:.0%}"
    )
    return share


def pitch_methods(rounds: int, tiny: bool = False) -> dict[str, float]:
    """Seconds per call of PitchShift's two methods, in-process, alternating; and their ratio."""
    import random

    from audiomentations import PitchShift

    long = 3 if tiny else 30
    signals = {
        "4 s mono 16 kHz": (np.random.default_rng(1).standard_normal(64000).astype(np.float32) * 0.1, 16000),
        f"{long} s stereo 44.1 kHz": (
            np.random.default_rng(2).standard_normal((2, 44100 * long)).astype(np.float32) * 0.1,
            44100,
        ),
    }
    out: dict[str, float] = {}
    for label, (samples, rate) in signals.items():
        times: dict[str, list[float]] = {"signalsmith_stretch": [], "librosa_phase_vocoder": []}
        for _ in range(rounds if tiny else max(rounds, 3)):
            for method in times:
                transform = PitchShift(min_semitones=-4, max_semitones=4, method=method, p=1.0)  # type: ignore[arg-type]
                random.seed(0)
                start = time.perf_counter()
                transform(samples, rate)
                times[method].append(time.perf_counter() - start)
        fast, slow = statistics.median(times["signalsmith_stretch"]), statistics.median(times["librosa_phase_vocoder"])
        out[f"{label}: signalsmith_stretch s"] = fast
        out[f"{label}: librosa_phase_vocoder s"] = slow
        out[f"{label}: phase vocoder / signalsmith"] = slow / fast
        print(
            f"PitchShift on {label}: signalsmith_stretch {fast * 1000:.1f} ms, librosa_phase_vocoder "
            f"{slow * 1000:.1f} ms ({slow / fast:.1f}x slower)"
        )
    return out


def plot(throughput: dict[str, dict[str, float]], scaling: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(throughput) + 1, figsize=(5 * (len(throughput) + 1), 4.5))
    for ax, (label, values) in zip(axes, throughput.items(), strict=False):
        ax.barh(list(values), list(values.values()), color="tab:blue")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("audio-seconds per second")
        ax.invert_yaxis()
    ax = axes[-1]
    jobs = [int(name.split()[-1]) for name in scaling]
    ax.plot(jobs, [scaling["-j 1"] / t for t in scaling.values()], "o-", label="measured")
    ax.plot(jobs, jobs, "--", color="grey", label="linear")
    ax.set_xticks(jobs)
    ax.set_xlabel("-j")
    ax.set_ylabel("speedup over -j 1")
    ax.set_title("scaling", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
