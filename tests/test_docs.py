"""The documentation site builds strictly, and its reference cannot drift from the code: every
command and every option is in the command-line reference, and the generated pages are current."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from audioaug_cli.cli import main
from audioaug_cli.errors import exit_code_table
from tests.helpers import ROOT

pytest.importorskip("mkdocs", reason="the docs extra builds the site")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(built)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return built


def test_every_command_and_option_is_in_the_command_line_reference(site: Path) -> None:
    page = (site / "reference" / "cli" / "index.html").read_text()
    assert isinstance(main, click.Group)
    for name, command in main.commands.items():
        assert f"audioaug {name}" in page, f"`audioaug {name}` is not in the reference"
        for param in command.params:
            if isinstance(param, click.Option):
                for flag in param.opts + param.secondary_opts:
                    assert flag in page, f"{flag} of `audioaug {name}` is not in the reference"


def test_every_guide_page_is_in_the_site(site: Path) -> None:
    for page in (ROOT / "docs").rglob("*.md"):
        relative = page.relative_to(ROOT / "docs").with_suffix("")
        built = site / ("index.html" if relative.name == "index" else relative / "index.html")
        assert built.is_file(), f"{page} was not built"
    assert "Augmenter" in (site / "reference" / "python" / "index.html").read_text()


def test_the_config_keys_page_is_the_schema() -> None:
    from audioaug_cli.config.schema import config_keys_markdown

    shipped = (ROOT / "docs" / "reference" / "config.md").read_text()
    assert shipped == config_keys_markdown(), "regenerate: audioaug schema --markdown > docs/reference/config.md"
    assert all(f"`spectrogram.{key}`" in shipped for key in ("n_fft", "hop_length", "layout", "pipeline"))


def test_the_exit_code_page_is_the_exception_classes() -> None:
    shipped = (ROOT / "docs" / "reference" / "exit-codes.md").read_text()
    regenerate = "python -c 'from audioaug_cli.errors import exit_code_table as t; print(t(), end=\"\")'"
    assert shipped == exit_code_table(), f"regenerate: {regenerate} > docs/reference/exit-codes.md"
