"""The command line: Click commands only. Each parses its arguments and calls one core function;
:func:`entry` turns every :class:`~audioaug_cli.errors.AudioaugError` a command leaves into one
line and the exception's exit code (the exit codes are written on the exception classes alone).

  common.py   options read from AUDIOAUG_* variables, the error handler
  run.py      audioaug run
  tools.py    audioaug preview, audioaug replay, audioaug audit
  inspect.py  audioaug validate, transforms, schema
  export.py   audioaug export
"""

from __future__ import annotations

import sys

import click

from audioaug_cli.cli.common import fail
from audioaug_cli.cli.export import export
from audioaug_cli.cli.inspect import schema, transforms, validate
from audioaug_cli.cli.run import run
from audioaug_cli.cli.tools import audit, preview, replay
from audioaug_cli.errors import AudioaugError, Interrupted, scrubbed
from audioaug_cli.version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="audioaug", message="%(prog)s %(version)s")
def main() -> None:
    """Augment a folder of audio with an audiomentations pipeline written in YAML.

    \b
    Example:
        audioaug run configs/example.yaml sample_data/ out/
    """


for _command in (run, preview, replay, audit, validate, transforms, schema, export):
    main.add_command(_command)


def entry() -> None:
    """The `audioaug` command. Once a command is done, the objects it made are kept from the
    garbage collector's last pass at interpreter exit, which on the heap that numpy, scipy and
    audiomentations leave behind takes ~75 ms and frees nothing an exiting process needs."""
    import gc

    try:
        code = main.main(standalone_mode=False)
    except click.exceptions.Abort:  # Ctrl-C before the command could take it (click turns it into Abort)
        click.echo("stopped", err=True)
        code = Interrupted.exit_code
    except click.ClickException as exc:  # a usage error: click's own message and exit code
        import io

        shown = io.StringIO()
        exc.show(file=shown)
        click.echo(scrubbed(shown.getvalue()), err=True, nl=False)
        code = exc.exit_code
    except AudioaugError as exc:  # whatever a command raised that it did not turn into a message itself
        fail(str(exc), exc.exit_code)
    finally:
        gc.freeze()
    sys.exit(code if isinstance(code, int) else 0)
