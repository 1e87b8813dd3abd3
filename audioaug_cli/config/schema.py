"""A JSON Schema of the config, generated from the transform registry, for editors.

VS Code (YAML extension): put ``# yaml-language-server: $schema=audioaug.schema.json`` on the first
line of a config, or map it in settings (see docs/guide/config.md).
"""

from __future__ import annotations

import json
import typing
from dataclasses import fields
from typing import Any

from audioaug_cli.config.model import (
    AUDIO_FORMATS,
    CLIP_MODES,
    MAX_COPIES,
    MAX_SPEAKERS,
    REVERB_TARGETS,
    STEMS,
    DbScale,
    FeatureSettings,
    default_of,
)
from audioaug_cli.transforms import docs, registry
from audioaug_cli.transforms.annotations import schema, shape_of


def config_schema() -> dict[str, Any]:
    names = [*registry.transform_classes(), *registry.COMPOSITIONS]
    spec_names = list(registry.spec_transform_classes())
    defs: dict[str, Any] = {name: _entry_schema(name) for name in names}
    defs["entry"] = {"anyOf": [{"enum": names}, *({"$ref": f"#/$defs/{n}"} for n in names)]}
    for name in spec_names:
        defs[name] = _entry_schema(name)
    for name in registry.COMPOSITIONS:  # the same compositions, over spectrogram transforms
        defs[f"spec_{name}"] = _entry_schema(name, entry="spec_entry")
    spec_entries = [*spec_names, *registry.COMPOSITIONS]
    defs["spec_entry"] = {
        "anyOf": [
            {"enum": spec_entries},
            *({"$ref": f"#/$defs/{n}"} for n in spec_names),
            *({"$ref": f"#/$defs/spec_{n}"} for n in registry.COMPOSITIONS),
        ]
    }
    defs["transform_or_list"] = {
        "anyOf": [{"$ref": "#/$defs/entry"}, {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/entry"}}]
    }
    properties: dict[str, Any] = {
        "version": {"const": 1, "description": "The config format version."},
        "seed": {"type": "integer", "minimum": 0, "default": 0, "description": "The run seed."},
        "copies": {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": MAX_COPIES},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["by"],
                    "properties": {
                        "by": {"type": "string", "minLength": 1, "description": "The --labels column to read."},
                        "default": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": MAX_COPIES,
                            "default": 1,
                            "description": "Copies for an input with no label row, or a value not listed.",
                        },
                        "values": {
                            "type": "object",
                            "additionalProperties": {"type": "integer", "minimum": 0, "maximum": MAX_COPIES},
                        },
                    },
                },
            ],
            "default": 1,
            "description": "Augmented variants per input file, or per label: {by: COLUMN, default: N, "
            "values: {label: N}}.",
        },
        "audio": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "properties": {
                "sample_rate": {
                    "type": ["integer", "null"],
                    "minimum": 1,
                    "description": "null keeps each file's rate; an integer resamples on load.",
                },
                "mono": {"type": "boolean", "default": False, "description": "Mix down to mono on load."},
            },
        },
        "output": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "properties": {
                "format": {"enum": list(AUDIO_FORMATS), "default": "wav"},
                "subtype": {"type": "string", "description": "A soundfile subtype valid for the format, e.g. PCM_16."},
                "manifest": {"type": "string", "pattern": r"^[^/\\.][^/\\]*\.csv$", "default": "manifest.csv"},
                "clip": {
                    "enum": list(CLIP_MODES),
                    "default": "keep",
                    "description": "An output beyond full scale in an integer or compressed format: keep (clipped, "
                    "the manifest says so), normalize (scaled to -0.1 dBFS) or fail (the item fails alone).",
                },
            },
        },
        "pipeline": {
            "type": ["array", "null"],
            "items": {"$ref": "#/$defs/entry"},
            "description": "The transforms, applied in order (a Compose).",
        },
        "spectrogram": _spectrogram_schema(),
        **_mix_schemas(),
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "audioaug config",
        "type": "object",
        "required": ["version", "pipeline"],
        "additionalProperties": False,
        "properties": properties,
        "$defs": defs,
    }


def _mix_schemas() -> dict[str, Any]:
    """``mix:``, ``stems:`` and ``pools:`` (their checks: :mod:`audioaug_cli.config.mixing`)."""
    span = {"anyOf": [{"type": "number"}, {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}]}
    probability = {
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "default": 1.0,
        "description": "How often it is drawn.",
    }

    def part(description: str, **properties: Any) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": False, "properties": properties, "description": description}

    mix = part(
        "Each output a mixture, its parts written beside it as stems (see the guide: Mixtures, stems and splits).",
        level_db={**span, "default": [-35, -15], "description": "The speech's RMS level in dBFS, [low, high]."},
        reverb=part(
            "An impulse response drawn from a folder; the speech stem is reverberant.",
            ir_path={"type": "string", "description": "A folder (or file) of impulse responses."},
            p=probability,
            target={"enum": list(REVERB_TARGETS), "default": "early", "description": "What the target stem holds."},
        ),
        noise=part(
            "An excerpt of a noise drawn from a folder (looped when shorter), at a drawn SNR.",
            sounds_path={"type": "string", "description": "A folder (or file) of noises."},
            snr_db={**span, "default": [5, 20], "description": "20 log10(rms(speech) / rms(noise)), [low, high]."},
            p=probability,
        ),
        speakers=part(
            "Each source mixed with count - 1 other sources of INPUT_DIR, each at a drawn SIR.",
            count={"type": "integer", "minimum": 2, "maximum": MAX_SPEAKERS, "description": "Sources per mixture."},
            sir_db={**span, "default": [0, 0], "description": "Speech over each other source, in dB, [low, high]."},
        ),
        post={"type": "array", "items": {"$ref": "#/$defs/entry"}, "description": "Transforms on the mixture only."},
    )
    mix["type"] = ["object", "null"]
    return {
        "mix": mix,
        "stems": {
            "type": "array",
            "items": {"enum": list(STEMS)},
            "default": ["mixture", "target"],
            "description": "The stems written (with mix:), each in a folder of its name; mixture always.",
        },
        "pools": part(
            "Label columns (from --labels) that keep what is drawn within each split.",
            split_by={"type": "string", "description": "Each folder drawn from has a subfolder per value of it."},
            speaker_by={"type": "string", "description": "Other speakers are never of the item's own value."},
        ),
    }


def _spectrogram_schema() -> dict[str, Any]:
    found = _settings_schema(FeatureSettings)
    found["description"] = "Also write a float32 .npy feature per output: log-mel (or STFT) with SpecAugment."
    return found


def _settings_schema(record: type[Any]) -> dict[str, Any]:
    """A settings record's schema from its fields: type, default, limits and description."""
    hints = typing.get_type_hints(record)
    properties: dict[str, Any] = {}
    for f in fields(record):
        annotation, limits = hints[f.name], f.metadata
        default = default_of(f)
        if f.name == "pipeline":
            found: dict[str, Any] = {"type": ["array", "null"], "items": {"$ref": "#/$defs/spec_entry"}}
        elif isinstance(default, (DbScale, type(None))) and DbScale in typing.get_args(annotation):
            found = _settings_schema(DbScale)
            found["type"] = ["object", "null"]
        else:
            found = _nullable(schema(shape_of(annotation)))
            if isinstance(default, (bool, int, float, str)):
                found["default"] = default
            if limits.get("minimum") is not None:
                found["exclusiveMinimum" if limits["above"] else "minimum"] = limits["minimum"]
        if limits.get("doc"):
            found["description"] = limits["doc"]
        properties[f.name] = found
    return {"type": ["object", "null"], "additionalProperties": False, "properties": properties}


def _nullable(found: dict[str, Any]) -> dict[str, Any]:
    """``{"anyOf": [{"type": "integer"}, {"type": "null"}]}`` as ``{"type": ["integer", "null"]}``."""
    parts = found.get("anyOf", [])
    if parts and all(set(p) == {"type"} for p in parts):
        return {"type": [p["type"] for p in parts]}
    if parts and {"type": "null"} in parts and len(parts) == 2:
        other = next(p for p in parts if p != {"type": "null"})
        if set(other) == {"enum"}:
            return {"enum": [*other["enum"], None]}
    return found


def _entry_schema(name: str, entry: str = "entry") -> dict[str, Any]:
    """``{Name: {params}}``, where the params object may be null (all defaults)."""
    described = docs.param_docs(name)
    props: dict[str, Any] = {}
    for param in registry.params_of(name).values():
        found = (
            {"type": "array", "minItems": 1, "items": {"$ref": f"#/$defs/{entry}"}}
            if param.name == "transforms"
            else schema(param.shape)
        )
        if param.name == "p":
            found = {"type": "number", "minimum": 0, "maximum": 1}
        if not param.required and docs.default_repr(param.default) == param.default:
            found["default"] = param.default
        if described.get(param.name):
            found["description"] = described[param.name]
        props[param.name] = found
    required = [p.name for p in registry.params_of(name).values() if p.required]
    body: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        body["required"] = required
    else:
        body = {"anyOf": [body, {"type": "null"}]}
    return {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "maxProperties": 1,
        "properties": {name: body},
        "required": [name],
        "description": docs.summary(name),
    }


def config_keys_markdown() -> str:
    """docs/reference/config.md: every key of a config, from the schema (so from the same records
    the checker reads), with its type, default and what it means."""
    schema = config_schema()
    lines = [
        "# Config keys",
        "",
        "Generated from the config's schema (`audioaug schema`), which is generated from the records the",
        "checker reads; the transforms a `pipeline` can hold are in [Transforms](transforms.md).",
    ]

    def section(title: str, properties: dict[str, Any], prefix: str) -> None:
        lines.extend(["", f"## {title}", "", "| key | type | default | meaning |", "| --- | --- | --- | --- |"])
        for key, spec in properties.items():
            default = json.dumps(spec["default"]) if "default" in spec else ""
            meaning = " ".join(str(spec.get("description", "")).split()).replace("|", "\\|")
            lines.append(f"| `{prefix}{key}` | {_kind(spec)} | {default} | {meaning} |")

    top = schema["properties"]
    section("Top level", top, "")
    for name in ("audio", "output", "spectrogram"):
        section(f"`{name}:`", top[name]["properties"], f"{name}.")
    for name in ("mix", "pools"):
        section(f"`{name}:`", top[name]["properties"], f"{name}.")
    for name in ("reverb", "noise", "speakers"):
        section(f"`mix.{name}:`", top["mix"]["properties"][name]["properties"], f"mix.{name}.")
    section("`spectrogram.db:`", top["spectrogram"]["properties"]["db"]["properties"], "spectrogram.db.")
    by_label = next(s for s in top["copies"]["anyOf"] if s.get("type") == "object")
    section("`copies:` by a label column", by_label["properties"], "copies.")
    return "\n".join(lines) + "\n"


def _kind(spec: dict[str, Any]) -> str:
    if "const" in spec:
        return json.dumps(spec["const"])
    if "enum" in spec:
        return " \\| ".join(json.dumps(v) for v in spec["enum"])
    if "anyOf" in spec:
        return " or ".join(_kind(s) for s in spec["anyOf"])
    kind = spec.get("type", "a transform list" if "items" in spec else "")
    return " or ".join(kind) if isinstance(kind, list) else str(kind)
