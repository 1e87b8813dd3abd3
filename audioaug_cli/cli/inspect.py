"""`audioaug validate`, `transforms` and `schema`: what a config says and what a pipeline can hold."""

from __future__ import annotations

from pathlib import Path

import click

from audioaug_cli.cli.common import exits_on_error, fail
from audioaug_cli.errors import UsageError


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
def validate(config: Path) -> None:
    """Check CONFIG as `run` would, without touching any audio, and print its pipeline.

    Checks names, types and ranges of every parameter, builds every transform once, checks that
    sounds_path / ir_path exist and hold audio, and that optional backends are installed.
    Exit code 0 when valid, 2 with every problem found otherwise.

    \b
    Example:
        audioaug validate configs/speech_asr.yaml
    """
    from audioaug_cli.config.load import load_config, pipeline_tree

    with exits_on_error():
        loaded = load_config(config)
    rate = f"{loaded.sample_rate} Hz" if loaded.sample_rate else "each file's rate"
    channels = "mono" if loaded.mono else "each file's channels"
    click.echo(
        f"{config}: valid (version {loaded.version}, seed {loaded.seed}, {loaded.describe_copies()}, "
        f"{rate}, {channels}, "
        f"{loaded.format} {loaded.subtype}, manifest {loaded.manifest})"
    )
    click.echo(pipeline_tree(loaded))


@click.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option(
    "--markdown", is_flag=True, help="Print every transform's parameters as Markdown (docs/reference/transforms.md)."
)
def transforms(name: str | None, as_json: bool, markdown: bool) -> None:
    """List the transforms a pipeline can use, or describe NAME's parameters.

    Waveform transforms are read from the installed audiomentations, so they always match what
    `run` uses, with audioaug's SpeedPerturb; the Spec* transforms (audioaug's own too) go in the
    `spectrogram:` section's pipeline.

    \b
    Example:
        audioaug transforms
        audioaug transforms PitchShift
    """
    import json

    from audioaug_cli.errors import suggest
    from audioaug_cli.transforms import docs, registry

    names = [*registry.transform_classes(), *registry.COMPOSITIONS, *registry.spec_transform_classes()]
    if markdown:
        click.echo(docs.transforms_markdown())
        return
    if name is None:
        if as_json:
            click.echo(json.dumps([{"name": n, "summary": docs.summary(n)} for n in names], indent=2))
            return
        width = max(map(len, names))
        for n in names:
            click.echo(f"{n:<{width}}  {docs.summary(n)}")
        return
    if name not in names:
        hint = suggest(name, names) or " (`audioaug transforms` lists them)"
        reason = f": {registry.REFUSED[name]}" if name in registry.REFUSED else hint
        fail(
            f"{'not available' if name in registry.REFUSED else 'unknown transform'} {name!r}{reason}",
            UsageError.exit_code,
        )
    info = docs.describe_transform(name)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"{name}: {info['summary']}")
    click.echo(f"multichannel: {'yes' if info['multichannel'] else 'no (mono only)'}")
    if info["extra"]:
        click.echo(f"needs: {info['extra']}")
    click.echo("parameters:")
    for param in info["params"]:
        default = "required" if param["required"] else f"default {json.dumps(param['default'])}"
        click.echo(f"  {param['name']}: {param['type']}; {default}")
        if param["description"]:
            click.echo(
                click.wrap_text(param["description"], width=96, initial_indent="      ", subsequent_indent="      ")
            )


@click.command()
@click.option("--markdown", is_flag=True, help="Print every config key as Markdown (docs/reference/config.md).")
def schema(markdown: bool) -> None:
    """Print a JSON Schema of the config, for editor completion and checking.

    \b
    Example:
        audioaug schema > audioaug.schema.json
    """
    import json

    from audioaug_cli.config.schema import config_keys_markdown, config_schema

    click.echo(config_keys_markdown() if markdown else json.dumps(config_schema(), indent=2), nl=not markdown)
