"""Generated configs, valid and mangled: never a traceback, exit 0 or 2 only, and whatever
`validate` accepts, `run` accepts on a small folder."""

from __future__ import annotations

import inspect
import json
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from audioaug_cli.config.schema import config_schema
from audioaug_cli.transforms import registry
from tests.helpers import cli, rows, write_tone

SCHEMA = config_schema()

SLOW = {"RoomSimulator"}  # valid, but seconds per item: the fuzz keeps to quick transforms
NAMES = sorted(set(registry.transform_classes()) - SLOW)

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def plausible(param: registry.Param) -> st.SearchStrategy[Any]:
    """Values near the default: mostly valid, sometimes out of range."""
    default = param.default
    if param.name.endswith("_path"):
        return st.sampled_from(["sounds", "sounds/n.wav", "missing"])
    if param.name == "p":
        return st.sampled_from([0.0, 0.5, 1.0, 1.5])
    if isinstance(default, bool):
        return st.booleans()
    if isinstance(default, (int, float)):
        factor = st.sampled_from([0.5, 1.0, 1.5, -1.0])
        return factor.map(lambda f: type(default)(default * f))
    if isinstance(default, str):
        return st.just(default)
    return st.just(default) if default is not inspect.Parameter.empty else junk


def valid_value(param: registry.Param) -> st.SearchStrategy[Any]:
    """Values validate accepts: the default (min/max pairs then agree), p in [0, 1], real paths."""
    if param.name.endswith("_path"):
        return st.sampled_from(["sounds", "sounds/n.wav"])
    if param.name == "p":
        return st.sampled_from([0.0, 0.5, 1.0])
    return st.just(param.default)


@st.composite
def valid_entry(draw: st.DrawFn, depth: int = 0) -> Any:
    kind = draw(st.sampled_from(["leaf", "leaf", "bare", "composition"] if depth < 3 else ["leaf", "bare"]))
    if kind == "composition":
        name = draw(st.sampled_from(registry.COMPOSITIONS))
        children = draw(st.lists(valid_entry(depth + 1), min_size=1, max_size=3))
        body: dict[str, Any] = {"transforms": children, "p": draw(st.sampled_from([0.0, 0.5, 1.0]))}
        if name == "SomeOf":
            body["num_transforms"] = draw(st.sampled_from([1, [1, None], [0, len(children)]]))
        return {name: body}
    name = draw(
        st.sampled_from(
            [
                n
                for n in NAMES
                if not any(p.required and not p.name.endswith("_path") for p in registry.params_of(n).values())
            ]
        )
    )
    if kind == "bare" and not any(p.required for p in registry.params_of(name).values()):
        return name
    params = {n: p for n, p in registry.params_of(name).items() if not p.takes_transform}
    body = {n: draw(valid_value(p)) for n, p in params.items() if p.required or draw(st.booleans())}
    for pname, param in registry.params_of(name).items():
        if param.takes_transform and depth < 2 and draw(st.integers(0, 3)) == 0:
            body[pname] = draw(
                st.one_of(valid_entry(depth + 1), st.lists(valid_entry(depth + 1), min_size=1, max_size=2))
            )
    return {name: body}


@st.composite
def entry(draw: st.DrawFn, depth: int = 0) -> Any:
    """Mangled entries: junk, typos, values out of range or of the wrong type, unknown keys."""
    kind = draw(
        st.sampled_from(
            ["leaf", "leaf", "leaf", "bare", "composition", "junk", "typo"] if depth < 3 else ["leaf", "bare"]
        )
    )
    if kind == "junk":
        return draw(junk)
    if kind == "composition":
        name = draw(st.sampled_from(registry.COMPOSITIONS))
        body: dict[str, Any] = {"transforms": draw(st.lists(entry(depth + 1), min_size=0, max_size=3))}
        if name == "SomeOf":
            body["num_transforms"] = draw(st.one_of(st.integers(0, 3), st.just([1, None]), junk))
        if draw(st.booleans()):
            body["p"] = draw(st.sampled_from([0.0, 0.5, 1.0, 2.0]))
        return {name: body}
    name = draw(st.sampled_from(NAMES))
    if kind == "bare":
        return name
    if kind == "typo":
        return {name[:-1]: None}
    params = registry.params_of(name)
    body = {}
    for pname, param in params.items():
        if param.takes_transform:
            if draw(st.integers(0, 4)) == 0:
                body[pname] = draw(entry(depth + 1))
        elif param.required or draw(st.booleans()):
            body[pname] = draw(st.one_of(plausible(param), junk) if draw(st.integers(0, 5)) == 0 else plausible(param))
    if draw(st.integers(0, 8)) == 0:
        body[draw(st.text(min_size=1, max_size=5))] = draw(junk)
    return {name: body}


valid_top = st.fixed_dictionaries(
    {"version": st.just(1), "pipeline": st.lists(valid_entry(), max_size=4)},
    optional={
        "seed": st.integers(0, 2**40),
        "copies": st.integers(1, 2),
        "audio": st.fixed_dictionaries(
            {}, optional={"sample_rate": st.sampled_from([None, 8000, 22050]), "mono": st.booleans()}
        ),
        "output": st.sampled_from(
            [
                {"format": "wav", "subtype": "FLOAT"},
                {"format": "flac"},
                {"format": "ogg", "subtype": "VORBIS"},
                {"manifest": "metadata.csv"},
            ]
        ),
    },
)
top = st.fixed_dictionaries(
    {"version": st.one_of(st.just(1), junk), "pipeline": st.lists(entry(), max_size=4)},
    optional={
        "seed": st.one_of(st.integers(0, 2**40), junk),
        "copies": st.one_of(st.integers(1, 2), junk),
        "audio": st.one_of(
            st.fixed_dictionaries(
                {}, optional={"sample_rate": st.sampled_from([None, 8000, 0]), "mono": st.booleans()}
            ),
            junk,
        ),
        "output": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "format": st.sampled_from(["wav", "flac", "ogg", "mp3"]),
                    "subtype": st.sampled_from(["PCM_16", "PCM_24", "FLOAT", "VORBIS", "nope"]),
                },
            ),
            junk,
        ),
        "copie": st.integers(),
    },
)
documents = st.one_of(
    valid_top.map(lambda d: yaml.safe_dump(d, sort_keys=False)),
    top.map(lambda d: yaml.safe_dump(d, sort_keys=False)),
    st.recursive(junk, lambda inner: st.lists(inner, max_size=3), max_leaves=5).map(yaml.safe_dump),
    st.text(max_size=60),
    st.binary(max_size=60),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(documents)
def test_generated_configs(document: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_tone(root / "sounds" / "n.wav", 0.3)
        write_tone(root / "in" / "mono.wav", 0.3)
        write_tone(root / "in" / "stereo.wav", 0.3, channels=2)
        config = root / "config.yaml"
        config.write_bytes(document if isinstance(document, bytes) else document.encode())
        checked = cli("validate", config)
        assert checked.exit_code in (0, 2), checked.output
        assert "Traceback" not in checked.output
        event("rejected" if checked.exit_code else "accepted, then run")
        if checked.exit_code == 2:
            assert checked.stderr.startswith("error: ") and checked.stdout == ""
            return
        # what validate accepts, the schema accepts too (editors never flag a valid config)
        assert list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(yaml.safe_load(document))) == []
        ran = cli("run", config, root / "in", root / "out", "-j", "1", "-q")
        errors = rows(root / "out" / "errors.csv") if (root / "out" / "errors.csv").exists() else []
        # exit 1 exactly when an input failed (a mono-only transform on the stereo file), each with one line
        assert ran.exit_code == (1 if errors else 0), ran.output
        assert {e["source"] for e in errors} <= {"mono.wav", "stereo.wav"}, errors
        assert all(e["error"] and "\n" not in e["error"] for e in errors), errors
        manifest = json.loads((root / "out" / "audioaug.json").read_text())["config"]["output"]["manifest"]
        assert (root / "out" / manifest).exists()
