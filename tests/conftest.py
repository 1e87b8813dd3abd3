"""The fixtures every test folder shares (helpers.py holds the plain functions)."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import write_tone
from tests.s3 import S3Server

# A suite started in the background (`make test &`: the shell ignores SIGINT for such a command)
# would pass the ignoring on to every audioaug it starts, and the Ctrl-C tests would find their
# runs deaf to it. Ignored signals survive exec; a handler does not, so this restores the default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A small nested input tree: mono 16 kHz WAV, stereo 44.1 kHz WAV, mono 22.05 kHz FLAC."""
    root = tmp_path / "in"
    write_tone(root / "a.wav", 0.5, 16000, 1, 440)
    write_tone(root / "music" / "stereo.wav", 0.4, 44100, 2, 330)
    write_tone(root / "speech" / "deep" / "voice.flac", 0.6, 22050, 1, 220)
    return root


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    def write(text: str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One S3 server on loopback for the whole session (moto's, in a thread of this process)."""
    pytest.importorskip("moto.server", reason="the object-storage tests need the dev extra (moto[server])")
    server = S3Server()
    yield server
    server.stop()


@pytest.fixture
def s3(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The S3 server, with this process and every audioaug it starts pointed at it (AWS_ENDPOINT_URL
    and test credentials, as a user's environment would have them)."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return s3_server
