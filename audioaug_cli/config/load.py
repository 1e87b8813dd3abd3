"""YAML config -> a checked, frozen :class:`Config`.

Every problem is reported with its place in the config (``pipeline[2].OneOf.transforms[0].
PitchShift.min_semitones``) and its line, all at once, before any audio is touched.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from audioaug_cli.config.checks import Checker
from audioaug_cli.config.model import Config, Node
from audioaug_cli.config.sections import document
from audioaug_cli.errors import ConfigError, Problem

MAX_NODES = 10_000  # YAML nodes a config may expand to, aliases expanded (a "billion laughs" is refused at once)
__all__ = ["load_config", "parse_config", "pipeline_tree"]


class _Loader(yaml.SafeLoader):
    """Safe YAML that also reads 1e-3 as a number (YAML 1.2), as people expect, and keeps every
    mapping key as the text written: `on:`, `no:` and `1:` are the labels "on", "no" and "1"
    (YAML 1.1 would make the first two booleans, so `copies: {values: {on: 3}}` could never match
    a label). A key written twice is the checker's to report, with its place."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep=deep)
        self.flatten_mapping(node)  # `<<: *defaults`: its pairs first, so that the mapping's own win
        found: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else self.construct_object(key_node, deep)
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a name, not a list or a mapping", key_node.start_mark
                )
            found[key] = self.construct_object(value_node, deep=deep)
        return found


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_config(path: str | Path, *, seed: int | None = None, copies: int | None = None) -> Config:
    """Read and fully validate a config file; raise :class:`ConfigError` listing every problem."""
    path = Path(path)
    if path.exists() and not (path.is_file() or path.is_dir()):  # reading a FIFO waits for a writer for ever
        raise ConfigError(str(path), [Problem("", "not a regular file (a FIFO, socket or device)")])
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), [Problem("", "no such file")]) from None
    except IsADirectoryError:
        raise ConfigError(str(path), [Problem("", "is a folder, not a config file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc.strerror
        raise ConfigError(str(path), [Problem("", f"cannot read: {reason}")]) from None
    config = parse_config(text, str(path), base_dir=path.resolve().parent)
    return config.with_overrides(seed, copies)


def parse_config(text: str, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Validate config text. ``source`` names it in messages; paths are relative to base_dir."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            too_large = _expansion_problem(node) if node is not None else None
            if too_large is not None:
                raise ConfigError(source, [too_large])
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except RecursionError:
        raise ConfigError(source, [Problem("", "the YAML is nested too deeply to be a config")]) from None
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(source, [_yaml_problem(exc)]) from None
    except yaml.reader.ReaderError as exc:
        raise ConfigError(
            source,
            [Problem("", f"not YAML text: character #x{exc.character:04x} at position {exc.position} is not allowed")],
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, [Problem("", f"not valid YAML: {' '.join(str(exc).split())}")]) from None
    checker = Checker(node, Path(base_dir) if base_dir else Path.cwd())
    config = document(checker, data)
    if checker.problems:
        raise ConfigError(source, checker.problems)
    return config


def _expansion_problem(root: yaml.Node) -> Problem | None:
    """A problem if the document, its aliases expanded, has more than MAX_NODES nodes or an alias
    inside the node it names. Sizes are counted once per node, so a bomb is measured, not expanded."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if finished:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > MAX_NODES:
                return Problem(
                    "",
                    f"the YAML expands to more than {MAX_NODES:,} values once its aliases (*name) "
                    "are expanded: a config is never that large",
                    node.start_mark.line + 1,
                )
            continue
        if key in sizes:
            continue
        if key in on_path:
            return Problem("", "a YAML alias (*name) refers to a node that contains it", node.start_mark.line + 1)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return None


def _yaml_problem(exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or "invalid YAML"
    kind = "YAML syntax error"
    if "could not determine a constructor" in what:
        tag = what.split("tag ")[-1].strip("'").replace("tag:yaml.org,2002:", "!!")
        kind, what = "not allowed", f"the tag {tag}: configs are plain YAML and never construct objects"
    context = exc.context_mark
    if exc.context and context is not None and mark is not None and context.line != mark.line:
        opened = exc.context.replace("while parsing ", "").removeprefix("a ").removeprefix("an ")
        what += f" (in the {opened} that starts on line {context.line + 1}, column {context.column + 1})"
    if mark is None:
        return Problem("", f"{kind}: {what}")
    return Problem("", f"{kind} (column {mark.column + 1}): {what}", mark.line + 1)


def pipeline_tree(config: Config) -> str:
    """The normalised pipeline as an indented tree, as `audioaug validate` prints it."""
    lines = ["pipeline" + (" (empty: copies the audio unchanged)" if not config.pipeline else "")]

    def add(nodes: tuple[Node, ...] | list[Node], indent: str) -> None:
        for i, node in enumerate(nodes):
            last = i == len(nodes) - 1
            nested = node.nested
            shown = ", ".join(f"{k}={v!r}" for k, v in node.params.items() if k not in nested)
            lines.append(f"{indent}{'└── ' if last else '├── '}{node.name}({shown})")
            below = indent + ("    " if last else "│   ")
            add(node.transforms or (), below)
            for key, value in nested.items():
                lines.append(f"{below}{key}:")
                add(value, below + "  ")

    add(config.pipeline, "")
    if config.spectrogram is not None:
        settings = config.spectrogram
        shown = ", ".join(f"{k}={v!r}" for k, v in settings.to_dict().items() if k != "pipeline")
        lines.append(f"spectrogram ({shown})")
        add(settings.pipeline, "")
    mix = config.mix
    if mix is not None:
        parts = [f"speech at {mix.level_db[0]:g}..{mix.level_db[1]:g} dBFS"]
        if mix.reverb is not None:
            parts.append(f"reverb from {mix.reverb.ir_path} (p {mix.reverb.p:g}, target {mix.reverb.target})")
        if mix.noise is not None:
            noise = mix.noise
            parts.append(
                f"noise from {noise.sounds_path} at {noise.snr_db[0]:g}..{noise.snr_db[1]:g} dB SNR (p {noise.p:g})"
            )
        if mix.speakers is not None:
            sir = mix.speakers.sir_db
            parts.append(f"{mix.speakers.count} speakers at {sir[0]:g}..{sir[1]:g} dB SIR")
        lines.append(f"mix: {', '.join(parts)}; stems {', '.join(mix.stem_folders())}")
        if mix.post:
            lines.append("mix.post")
            add(mix.post, "")
    if config.pools is not None:
        lines.append(f"pools: split by {config.pools.split_by}, speakers by {config.pools.speaker_by}")
    return "\n".join(lines)
