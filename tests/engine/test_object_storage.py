"""Corpora in object storage, against a real S3 server on loopback (moto's, see tests/s3.py),
reached by s3fs through AWS_ENDPOINT_URL as a user's run would reach MinIO or AWS: every
guarantee of a local run, and the request budget counted at the server."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import PIPELINE, ROOT, audioaug, make_corpus, tree, write_tone
from tests.s3 import CREDENTIALS, S3Server

pytest.importorskip("s3fs", reason="the object-storage tests need the dev extra (s3fs)")

SLOW = """\
version: 1
seed: 3
copies: 4
pipeline:
  - TimeStretch: {min_rate: 0.8, max_rate: 1.25, leave_length_unchanged: false, p: 1.0}
  - PitchShift: {min_semitones: -3, max_semitones: 3, p: 1.0}
"""


def long_corpus(root: Path, files: int = 12, seconds: float = 20.0) -> Path:
    """Inputs that take SLOW a few seconds in all: long enough to stop a run, or meet it, midway."""
    for i in range(files):
        write_tone(root / f"d{i % 2}" / f"long{i}.wav", seconds, 16000, 1, 200 + 37 * i)
    return root


def audioaug_in(env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    """audioaug with this environment (and no other)."""
    command = [sys.executable, "-m", "audioaug_cli", *map(str, args)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def start_run(config: Path, source: str, output: str, *options: str) -> subprocess.Popen[bytes]:
    """`audioaug run -q` as a process of its own session (so that the test can kill it whole)."""
    command = [sys.executable, "-m", "audioaug_cli", "run", str(config), source, output, *options, "-q"]
    return subprocess.Popen(command, cwd=ROOT, start_new_session=True, stderr=subprocess.PIPE)


def rerun_elsewhere(home: Path, config: Path, source: str, output: str, *options: str) -> int:
    """The same run from a machine with nothing cached (a new HOME and temporary folder); it must
    finish. Returns how many items it skipped as done."""
    (home / "tmp").mkdir(parents=True)
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(home / "tmp"), "XDG_CACHE_HOME": str(home / ".cache")}
    rerun = audioaug_in(env, "run", config, source, output, *options)
    assert rerun.returncode == 0, rerun.stderr
    return int(rerun.stderr.split(" skipped")[0].rsplit(", ", 1)[1])


def filesystem() -> Any:
    import s3fs

    return s3fs.S3FileSystem(skip_instance_cache=True)


def upload(local: Path, bucket: str, prefix: str) -> str:
    filesystem().put(f"{local}/", f"{bucket}/{prefix}/", recursive=True)
    return f"s3://{bucket}/{prefix}"


def objects(bucket: str, prefix: str, state: bool = False) -> dict[str, bytes]:
    """Every object under a prefix (name -> bytes); without ``state``, not the resume state's."""
    fs = filesystem()
    names = sorted(fs.find(f"{bucket}/{prefix}"))
    found = {name[len(bucket) + len(prefix) + 2 :]: fs.cat_file(name) for name in names}
    return {k: v for k, v in found.items() if state or not k.startswith(".audioaug/")}


def without_input_dir(files: dict[str, bytes]) -> dict[str, Any]:
    """The files, with audioaug.json's record of where INPUT_DIR was taken out (it differs by design)."""
    out: dict[str, Any] = dict(files)
    record = json.loads(out.pop("audioaug.json"))
    record.pop("input_dir")
    out["audioaug.json"] = record
    return out


@pytest.fixture
def bucket(s3: S3Server) -> str:
    return s3.new_bucket()


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    config = tmp_path / "c.yaml"
    config.write_text(PIPELINE)
    return config


def test_every_mix_of_local_and_s3_writes_the_bytes_of_a_local_run(tmp_path: Path, bucket: str, pipeline: Path) -> None:
    corpus = make_corpus(tmp_path / "in", 6)
    write_tone(corpus / "nested" / "deeper" / "é voice.flac", 0.3, 22050)
    labels = tmp_path / "tables" / "labels.csv"
    labels.parent.mkdir()
    labels.write_text("file_name,label\nd0/c0.wav,dog\nnested/deeper/é voice.flac,speech\n")
    done = audioaug("run", pipeline, corpus, tmp_path / "local", "-j", "2", "-q", "--labels", labels)
    assert done.returncode == 0, done.stderr
    expected = without_input_dir(tree(tmp_path / "local"))
    source, tables = upload(corpus, bucket, "in"), upload(labels.parent, bucket, "tables")

    runs = {
        "s3 to s3": (source, f"s3://{bucket}/out-a", None),
        "local to s3": (str(corpus), f"s3://{bucket}/out-b", None),
        "s3 to local": (source, str(tmp_path / "from-s3"), tmp_path / "from-s3"),
    }
    for what, (inputs, output, local) in runs.items():
        done = audioaug("run", pipeline, inputs, output, "-j", "2", "-q", "--labels", f"{tables}/labels.csv")
        assert done.returncode == 0, (what, done.stderr)
        written = tree(local) if local is not None else objects(bucket, output.rsplit("/", 1)[1])
        assert without_input_dir(written) == expected, what
    record = json.loads(objects(bucket, "out-a")["audioaug.json"])
    assert record["input_dir"] == source and record["status"] == "complete"


def test_the_request_budget_is_counted_at_the_server(tmp_path: Path, s3: S3Server, bucket: str) -> None:
    """One GET of each input whatever the copies, one PUT per output object, listings that do not
    grow with the items, and a finished rerun that writes nothing at all."""
    config = tmp_path / "c.yaml"
    config.write_text("version: 1\nseed: 1\ncopies: 3\npipeline:\n  - Gain: {p: 1.0}\n")
    lists = []
    for size in (4, 16):
        source = upload(make_corpus(tmp_path / f"in{size}", size), bucket, f"in{size}")
        output = f"s3://{bucket}/out{size}"
        mark = s3.mark()
        assert audioaug("run", config, source, output, "-j", "2", "-q").returncode == 0
        made = s3.made(bucket, mark)
        inputs = [r.key for r in made if r.method == "GET" and r.key.startswith(f"in{size}/")]
        assert sorted(inputs) == sorted(f"in{size}/{name}" for name in objects(bucket, f"in{size}")), "one GET each"
        outputs = [r.key for r in made if r.method == "PUT" and r.key.endswith(".wav")]
        assert len(outputs) == len(set(outputs)) == 3 * size, "one PUT per output"
        assert not any(r.method == "HEAD" and r.key.endswith(".wav") for r in made), "no request per item"
        lists.append(s3.count(bucket, mark)["LIST"])

        mark = s3.mark()
        rerun = audioaug("run", config, source, output, "-j", "2")
        assert rerun.returncode == 0 and f"0 written, {3 * size} skipped" in rerun.stderr
        writes = {k: v for k, v in s3.count(bucket, mark).items() if k in ("PUT", "POST", "DELETE")}
        assert writes == {}, "a finished rerun writes nothing, lock included"
        assert not any(r.key.startswith(f"in{size}/") and r.method == "GET" for r in s3.made(bucket, mark))
    assert lists[0] == lists[1], f"listings grew with the items: {lists}"


def test_sigkill_then_a_rerun_from_a_clean_machine_completes_the_same_job(
    tmp_path: Path, bucket: str, s3: S3Server
) -> None:
    """Killed at any moment, a rerun with nothing cached (a new HOME, a new temporary folder)
    finishes the job with the bytes of an uninterrupted run, without redoing what was recorded."""
    config = tmp_path / "c.yaml"
    config.write_text(SLOW)
    corpus = long_corpus(tmp_path / "in", files=8, seconds=10.0)
    assert audioaug("run", config, corpus, tmp_path / "clean", "-j", "2", "-q").returncode == 0
    source, output = upload(corpus, bucket, "in"), f"s3://{bucket}/out"
    fs = filesystem()

    run = start_run(config, source, output, "-j", "2")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and run.poll() is None:  # until a commit of the resume state is out
        fs.invalidate_cache()
        if any("/journal/" in name for name in fs.find(f"{bucket}/out/.audioaug")):
            break
        time.sleep(0.05)
    assert run.poll() is None, "the run ended before it could be killed"
    os.killpg(run.pid, signal.SIGKILL)
    run.communicate()
    fs.invalidate_cache()
    assert not any(name.endswith("snapshot.jsonl") for name in fs.find(f"{bucket}/out")), "killed midway"
    fs.invalidate_cache()
    assert fs.exists(f"{bucket}/out/.audioaug/lock.json"), "a killed run leaves its lock behind"

    home = tmp_path / "elsewhere"
    skipped = rerun_elsewhere(home, config, source, output, "-j", "2")
    assert skipped > 0, "what the killed run recorded is not done again"
    assert without_input_dir(objects(bucket, "out")) == without_input_dir(tree(tmp_path / "clean"))
    state = objects(bucket, "out", state=True)
    assert ".audioaug/lock.json" not in state, "the lock goes when the run ends"
    assert [n for n in state if n.startswith(".audioaug/")] == [".audioaug/journal/g00000002-snapshot.jsonl"]
    assert list(home.joinpath("tmp").iterdir()) == [], "nothing left behind in the temporary folder"


def test_a_second_run_on_the_same_store_is_refused_naming_the_first(tmp_path: Path, bucket: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(SLOW)
    source, output = upload(long_corpus(tmp_path / "in", files=4, seconds=10.0), bucket, "in"), f"s3://{bucket}/out"
    fs = filesystem()
    first = subprocess.Popen(
        [sys.executable, "-m", "audioaug_cli", "run", str(config), source, output, "-j", "1", "-q"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
    )
    while first.poll() is None and not fs.exists(f"{bucket}/out/.audioaug/lock.json"):
        fs.invalidate_cache()
        time.sleep(0.05)
    second = audioaug("run", config, source, output, "-j", "1")
    _, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err
    assert second.returncode == 2
    assert second.stderr.startswith(f"error: another audioaug run (pid {first.pid} on {socket.gethostname()})")
    assert len(second.stderr.splitlines()) == 1
    assert audioaug("replay", output, "-q").returncode == 0, "the first run's outputs are whole"


def test_a_lock_whose_lease_ran_out_is_taken_over(tmp_path: Path, bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A holder on another machine that stopped renewing (a crash there) does not lock the store
    for ever: after the lease, a run takes over; before it, the run is refused."""
    config = tmp_path / "c.yaml"
    config.write_text("version: 1\npipeline: []\n")
    source, output = upload(make_corpus(tmp_path / "in", 2), bucket, "in"), f"s3://{bucket}/out"
    holder = {"host": "worker-7.elsewhere", "pid": os.getpid(), "renewed": time.time()}
    filesystem().pipe_file(f"{bucket}/out/.audioaug/lock.json", json.dumps(holder).encode())
    written, lease = time.time(), 6
    monkeypatch.setenv("AUDIOAUG_LOCK_LEASE", str(lease))
    refused = audioaug("run", config, source, output)
    assert refused.returncode == 2 and "on worker-7.elsewhere" in refused.stderr
    time.sleep(max(0.0, written + lease + 0.5 - time.time()))
    taken = audioaug("run", config, source, output)
    assert taken.returncode == 0, taken.stderr
    assert "2 written" in taken.stderr


def test_a_bad_object_fails_alone_and_no_secret_appears_anywhere(tmp_path: Path, bucket: str) -> None:
    corpus = make_corpus(tmp_path / "in", 3)
    (corpus / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (corpus / "empty.flac").write_bytes(b"")
    source, output = upload(corpus, bucket, "in"), f"s3://{bucket}/out"
    config = tmp_path / "c.yaml"
    config.write_text("version: 1\nseed: 2\ncopies: 2\npipeline:\n  - Gain: {p: 1.0}\n")
    # The credentials as storage options, not in the environment: they must still appear nowhere.
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    secret = CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
    given = ("--storage-option", f"key={CREDENTIALS['AWS_ACCESS_KEY_ID']}", "--storage-option", f"secret={secret}")
    done = audioaug_in(
        env, "run", config, source, output, "-v", "-j", "2", *given, "--summary-json", tmp_path / "summary.json"
    )
    assert done.returncode == 1, done.stderr
    written = objects(bucket, "out", state=True)
    errors = dict(line.split(",", 1) for line in written["errors.csv"].decode().splitlines()[1:])
    assert set(errors) == {"broken.wav", "empty.flac"}
    assert errors["empty.flac"] == "empty file (0 bytes)"
    assert sum(name.endswith("__aug1.wav") or name.endswith("__aug2.wav") for name in written) == 6
    shown = done.stdout + done.stderr + (tmp_path / "summary.json").read_text()
    for where, text in [("the output", shown), *((name, data.decode("latin-1")) for name, data in written.items())]:
        assert secret not in text and CREDENTIALS["AWS_ACCESS_KEY_ID"] not in text, where
    replayed = audioaug_in(env, "replay", output, *given)
    assert replayed.returncode == 0 and "replayed 6: 6 match" in replayed.stderr, replayed.stderr
    assert secret not in replayed.stdout + replayed.stderr


def test_dask_workers_read_and_write_the_store_themselves(tmp_path: Path, bucket: str) -> None:
    """The README's command: configs/example.yaml, s3 -> s3, on a dask LocalCluster, writes what
    a local run of sample_data/ with loky writes; the workers fetch and put the audio."""
    pytest.importorskip("dask.distributed")
    example = ROOT / "configs" / "example.yaml"
    assert audioaug("run", example, ROOT / "sample_data", tmp_path / "loky", "-j", "2", "-q").returncode == 0
    source = upload(ROOT / "sample_data", bucket, "in")
    dask = audioaug("run", example, source, f"s3://{bucket}/out", "-j", "2", "-q", "--backend", "dask")
    assert dask.returncode == 0, dask.stderr
    assert without_input_dir(objects(bucket, "out")) == without_input_dir(tree(tmp_path / "loky"))


def test_a_noise_folder_in_the_store_is_fetched_once_per_process(tmp_path: Path, bucket: str, s3: S3Server) -> None:
    noise = tmp_path / "noise"
    for i in range(3):
        write_tone(noise / f"n{i}.wav", 0.5, 16000, 1, 900 + 100 * i)
    sounds = upload(noise, bucket, "noise")
    config = tmp_path / "c.yaml"
    config.write_text(
        "version: 1\nseed: 4\ncopies: 3\naudio: {mono: true}\npipeline:\n"
        f"  - AddBackgroundNoise: {{sounds_path: {sounds}, min_snr_db: 3, max_snr_db: 10, p: 1.0}}\n"
    )
    source = upload(make_corpus(tmp_path / "in", 8), bucket, "in")
    mark = s3.mark()
    done = audioaug("run", config, source, f"s3://{bucket}/out", "-j", "2", "-q")
    assert done.returncode == 0, done.stderr
    fetched = [r.key for r in s3.made(bucket, mark) if r.method == "GET" and r.key.startswith("noise/")]
    assert sorted(fetched) == [f"noise/n{i}.wav" for i in range(3)], "once, by the process that checked the config"
    manifest = objects(bucket, "out")["manifest.csv"].decode()
    assert f"{sounds}/n" in manifest, "the manifest names the noise by its URL, not a local copy"
    assert audioaug("replay", f"s3://{bucket}/out", "-q").returncode == 0


def test_store_mistakes_are_one_line_usage_errors(tmp_path: Path, bucket: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("version: 1\npipeline: []\n")
    corpus = make_corpus(tmp_path / "in", 1)
    cases: dict[str, tuple[str | Path, str | Path, str]] = {
        "unknown protocol": (corpus, "ftpx://host/out", "unknown protocol ftpx://"),
        "no such bucket": (f"s3://{bucket}-missing/in", tmp_path / "o1", "no such bucket"),
        "read only": (corpus, "https://example.org/out", "https:// is read only"),
        "into itself": (f"s3://{bucket}/in", f"s3://{bucket}/in/", "must differ from INPUT_DIR"),
        "bad option": (corpus, f"s3://{bucket}/o2", "expected KEY=VALUE"),
    }
    for what, (inputs, output, message) in cases.items():
        extra = ["--storage-option", "nonsense"] if what == "bad option" else []
        done = audioaug("run", config, inputs, output, *extra)
        assert done.returncode == 2, (what, done.stderr)
        assert message in done.stderr and len(done.stderr.splitlines()) == 1, (what, done.stderr)
    assert not filesystem().exists(f"{bucket}/o2")
    anonymous = {k: v for k, v in os.environ.items() if k not in CREDENTIALS} | {"HOME": str(tmp_path)}
    done = audioaug_in(anonymous, "run", config, f"s3://{bucket}/in", tmp_path / "o3")
    assert done.returncode == 2 and done.stderr.splitlines() == [
        f"error: INPUT_DIR s3://{bucket}/in: cannot list it: Unable to locate credentials: set AWS_ACCESS_KEY_ID "
        "and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or give --storage-option anon=true for a public bucket"
    ]


def test_a_unit_that_runs_for_seconds_records_its_outputs_as_it_goes(tmp_path: Path, bucket: str) -> None:
    """A store's unit keeps every copy of a file together (one GET each); a run killed while one
    runs for seconds (slow items, or slow PUTs) has recorded what it wrote more than a second
    before, and a rerun from a machine with nothing cached does not write those again."""
    config = tmp_path / "c.yaml"
    config.write_text(SLOW.replace("copies: 4", "copies: 40"))
    source, output = upload(long_corpus(tmp_path / "in", files=1, seconds=8.0), bucket, "in"), f"s3://{bucket}/out"
    fs = filesystem()
    run = start_run(config, source, output, "-j", "1")
    deadline = time.monotonic() + 120
    written: list[str] = []
    while time.monotonic() < deadline and run.poll() is None and len(written) < 5:
        fs.invalidate_cache()
        written = [name for name in fs.find(f"{bucket}/out") if name.endswith(".wav")]
        time.sleep(0.05)
    time.sleep(1.2)  # a second more: what was written by then is recorded
    assert run.poll() is None, "the run ended before it could be killed"
    os.killpg(run.pid, signal.SIGKILL)
    run.communicate()
    fs.invalidate_cache()
    parts = [name for name in fs.find(f"{bucket}/out/.audioaug/journal") if "-w" in name.rsplit("/", 1)[1]]
    assert parts, "the worker recorded what it wrote while its unit was still running"
    skipped = rerun_elsewhere(tmp_path / "elsewhere", config, source, output, "-j", "1")
    assert skipped >= len(written), f"{skipped} of the {len(written)} outputs written before the kill were kept"
    state = objects(bucket, "out", state=True)
    assert [n for n in state if n.startswith(".audioaug/")] == [".audioaug/journal/g00000002-snapshot.jsonl"]
    assert audioaug("replay", output, "-q").returncode == 0, "every output is whole and the one its seed makes"


def test_credentials_in_a_url_and_json_storage_options(tmp_path: Path, bucket: str) -> None:
    """A secret written into an s3:// URL is never used, sent or shown; a JSON object given as a
    storage option (client_kwargs) reaches the filesystem as the mapping it is."""
    config = tmp_path / "c.yaml"
    config.write_text("version: 1\npipeline: []\n")
    corpus = make_corpus(tmp_path / "in", 1)
    secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
    for url in (f"s3://AKIAEXAMPLE:{secret}@{bucket}/out", f"s3://AKIAEXAMPLE:{secret}@{bucket}-missing/in"):
        args = (corpus, url) if url.endswith("/out") else (url, tmp_path / "o")
        done = audioaug("run", config, *args)
        assert done.returncode == 2 and secret not in done.stdout + done.stderr, done.stderr
        assert "credentials in a s3:// URL are never used" in done.stderr and len(done.stderr.splitlines()) == 1
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    option = f'client_kwargs={{"endpoint_url": "{endpoint}"}}'
    done = audioaug_in(env, "run", config, corpus, f"s3://{bucket}/json", "--storage-option", option, "-q")
    assert done.returncode == 0, done.stderr
    exported = audioaug_in(
        env, "export", f"s3://{bucket}/json", "--to", "nemo", tmp_path / "nemo", "--storage-option", option
    )
    assert exported.returncode == 0, exported.stderr


def test_mixtures_and_their_stems_in_a_bucket(tmp_path: Path, bucket: str) -> None:
    """Stems from sources in a bucket into a bucket (other speakers fetched by the workers): the
    bytes of a local run, and replay makes every stem again from the store."""
    from tests.engine.test_mix import make_world

    root = make_world(tmp_path, speakers=4, per_speaker=1)
    labels = root / "labels.csv"
    local = audioaug("run", root / "c.yaml", root / "in", root / "local", "--labels", labels, "-j", "2")
    assert local.returncode == 0, local.stderr
    source = upload(root / "in", bucket, "in")
    done = audioaug("run", root / "c.yaml", source, f"s3://{bucket}/out", "--labels", labels, "-j", "2")
    assert done.returncode == 0, done.stderr
    written = objects(bucket, "out")
    assert without_input_dir(written) == without_input_dir(tree(root / "local"))
    assert sum(name.startswith("interference/") for name in written) == 8
    replayed = audioaug("replay", f"s3://{bucket}/out", "-q")
    assert replayed.returncode == 0 and "replayed 40: 40 match" in replayed.stderr, replayed.stderr


def test_a_run_killed_after_its_last_output_leaves_a_journal_the_rerun_compacts(tmp_path: Path, bucket: str) -> None:
    """Killed after recording every output and before its snapshot: the journal holds parts only,
    and OUTPUT_DIR no manifest. The rerun makes nothing, writes the manifest, and compacts the
    parts into one snapshot; the rerun after that writes nothing at all."""
    corpus = make_corpus(tmp_path / "in", 4)
    config = tmp_path / "c.yaml"
    config.write_text(PIPELINE)
    output = f"s3://{bucket}/out"
    assert audioaug("run", config, corpus, output, "-q").returncode == 0
    fs = filesystem()
    (snapshot,) = [n for n in fs.find(f"{bucket}/out/.audioaug/journal") if n.endswith("-snapshot.jsonl")]
    fs.mv(snapshot, snapshot.replace("-snapshot.jsonl", "-00000000.jsonl"))  # as a killed run leaves it
    fs.rm(f"{bucket}/out/manifest.csv")
    again = audioaug("run", config, corpus, output)
    assert again.returncode == 0 and "done: 0 written, 12 skipped" in again.stderr, again.stderr
    state = [n for n in objects(bucket, "out", state=True) if n.startswith(".audioaug/")]
    assert state == [".audioaug/journal/g00000002-snapshot.jsonl"]
    before = objects(bucket, "out", state=True)
    assert audioaug("run", config, corpus, output).returncode == 0
    assert objects(bucket, "out", state=True) == before


def _dask_process(home: Path, *args: str) -> subprocess.Popen[bytes]:
    """A `dask` command of the environment's own, in a session of its own, with a HOME and a
    temporary folder of its own (a machine of the cluster: nothing shared but the S3 server)."""
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(home / "tmp"), "XDG_CACHE_HOME": str(home / ".cache")}
    command = [str(Path(sys.executable).with_name("dask")), *args]
    quiet = subprocess.DEVNULL
    return subprocess.Popen(command, env=env, cwd=home, start_new_session=True, stdout=quiet, stderr=quiet)


def _count(bucket: str, prefix: str) -> int:
    fs = filesystem()
    fs.invalidate_cache()
    return sum(1 for name in fs.find(f"{bucket}/{prefix}") if name.endswith(".wav"))


def test_a_real_cluster_runs_bucket_to_bucket_and_survives_a_lost_worker_and_client(
    tmp_path: Path, bucket: str
) -> None:
    """`dask scheduler` and two `dask worker` processes, each with its own HOME and TMPDIR, no folder
    shared: a run s3 -> s3 against them writes the bytes of a local run though a worker is killed
    mid-run; a killed client's run is resumed."""
    pytest.importorskip("dask.distributed")
    corpus = long_corpus(tmp_path / "in", files=16, seconds=2.0)
    config = tmp_path / "c.yaml"
    config.write_text(PIPELINE)
    local = audioaug("run", config, corpus, tmp_path / "local", "-j", "2", "-q")
    assert local.returncode == 0, local.stderr
    expected = without_input_dir(tree(tmp_path / "local"))
    source = upload(corpus, bucket, "in")
    file = tmp_path / "scheduler.json"
    processes = [_dask_process(tmp_path / "scheduler", "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(file))]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(file.read_text())["address"]
        for name in ("one", "two"):
            processes.append(_dask_process(tmp_path / name, "worker", address, "--nthreads", "1", "--nworkers", "1",
                                           "--no-dashboard", "--host", "127.0.0.1"))  # fmt: skip
        output = f"s3://{bucket}/out"
        run = start_run(config, source, output, "--backend", "dask", "--scheduler", address)
        while _count(bucket, "out") < 6 and run.poll() is None:
            time.sleep(0.05)
        assert run.poll() is None, "the run ended before a worker could be killed"
        os.killpg(processes[1].pid, signal.SIGKILL)  # a worker (and its nanny) gone mid-run
        _stdout, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr.decode()
        assert without_input_dir(objects(bucket, "out")) == expected
        again = start_run(config, source, f"s3://{bucket}/again", "--backend", "dask", "--scheduler", address)
        while _count(bucket, "again") < 6 and again.poll() is None:
            time.sleep(0.05)
        assert again.poll() is None, "the run ended before it could be killed"
        os.killpg(again.pid, signal.SIGKILL)  # the client gone mid-run
        again.communicate(timeout=60)
        resumed = start_run(config, source, f"s3://{bucket}/again", "--backend", "dask", "--scheduler", address)
        _stdout, stderr = resumed.communicate(timeout=300)
        assert resumed.returncode == 0, stderr.decode()
        assert without_input_dir(objects(bucket, "again")) == expected
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
