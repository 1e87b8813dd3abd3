"""What OUTPUT_DIR holds: the files earlier audioaug runs wrote there, and nothing else replaced.

A run writes its outputs, the manifest, errors.csv and audioaug.json. Before it writes anything it
checks that none of those names is taken by a file that no earlier audioaug run recorded (a
user's own ``metadata.csv``, a hand-made ``a__aug1.wav``): such a run is refused, naming the file.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from audioaug_cli.engine.provenance import PROVENANCE, read_provenance
from audioaug_cli.engine.state import LOCK, STATE_DIR
from audioaug_cli.engine.store_state import JOURNAL, has_state, open_state
from audioaug_cli.errors import UsageError
from audioaug_cli.io.atomic import TEMP_MARK
from audioaug_cli.io.segments import SEGMENTS
from audioaug_cli.io.store import LocalStore, ObjectStore, Store

ERRORS = "errors.csv"
_OUTPUT_NAME = re.compile(r"__aug\d+\.[A-Za-z0-9]+$")  # what item_files names: stem__augN.ext


def refuse_foreign_files(
    output: Store,
    manifest: str,
    planned: Callable[[], Iterable[str]],
    segments: bool = False,
    listing: Callable[[], set[str]] | None = None,
) -> None:
    """Raise UsageError if a file audioaug did not write sits where this run would write.

    ``planned()`` gives the output files this run may write (relative to OUTPUT_DIR); it is only
    called when OUTPUT_DIR holds files with output-like names that no run recorded, so a first run
    into a new folder, or a rerun of a clean one, never walks INPUT_DIR for it. ``listing()``
    gives every file in OUTPUT_DIR (a store's one paged listing); without it, the folder is walked.
    """
    if isinstance(output, LocalStore) and not output.root.is_dir():
        return
    present = listing() if listing is not None else None
    if present is not None and not present:
        return
    previous = read_provenance(output)
    ours = {PROVENANCE, ERRORS, previous.config["output"]["manifest"]} if previous is not None else set()
    if previous is not None and previous.config.get("segments"):
        ours.add(SEGMENTS)
    written = (manifest, ERRORS, PROVENANCE, *((SEGMENTS,) if segments else ()))
    for name in (config_name for config_name in written if config_name not in ours):
        if name in present if present is not None else os.path.lexists(output.path(name)):
            raise _refusal(output, name)
    if previous is not None and previous.status != "complete":
        # The last run was stopped: what it wrote after its last commit is not recorded yet, and a
        # rerun writes those same files again. Only a finished run has recorded everything it wrote.
        return
    candidates = set(_output_like(present) if present is not None else _output_like_files(Path(output.path(""))))
    if not candidates:
        return
    if has_state(output, present):
        state = open_state(output, readonly=True, listing=present)
        try:
            candidates -= set(state.file_names())
        finally:
            state.close()
    if not candidates:
        return
    clash = sorted(candidates.intersection(planned()))
    if clash:
        raise _refusal(output, clash[0], len(clash))


def _refusal(output: Store, name: str, count: int = 1) -> UsageError:
    more = f" (and {count - 1} more)" if count > 1 else ""
    return UsageError(
        f"OUTPUT_DIR {output} already holds {name}{more}, which no audioaug run wrote, where this "
        "run would write; audioaug never replaces a file it did not write: move it away, or choose "
        "another OUTPUT_DIR"
    )


def _output_like(names: Iterable[str]) -> Iterable[str]:
    for name in names:
        if not name.startswith(STATE_DIR + "/") and _OUTPUT_NAME.search(name) and not name.endswith(TEMP_MARK):
            yield name


def _output_like_files(output_dir: Path) -> Iterable[str]:
    for root, dirs, files in os.walk(output_dir):
        if root == str(output_dir):
            dirs[:] = [d for d in dirs if d != STATE_DIR]
        rel_root = os.path.relpath(root, output_dir).replace(os.sep, "/")
        for name in files:
            if _OUTPUT_NAME.search(name) and not name.endswith(TEMP_MARK):
                yield name if rel_root == "." else f"{rel_root}/{name}"


def remove_outputs(output: Store, names: Iterable[str]) -> int:
    """Delete outputs (``--prune``), then the folders that this left empty (never OUTPUT_DIR itself,
    nor a folder that was empty before). Return how many files went."""
    if isinstance(output, ObjectStore):  # no folders: a prefix with no objects is gone already
        wanted = sorted(set(names))
        present = [name for name in wanted if output.is_file(name)]
        output.remove_many(present)
        return len(present)
    assert isinstance(output, LocalStore)
    output_dir = output.root
    removed = 0
    emptied: set[Path] = set()
    for name in names:
        path = output_dir / name
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed += 1
        emptied.add(path.parent)
    for folder in sorted(emptied, key=lambda p: len(p.parts), reverse=True):
        while folder != output_dir and folder.is_relative_to(output_dir):
            try:
                folder.rmdir()  # only an empty folder goes
            except OSError:
                break
            folder = folder.parent
    return removed


def remove_previous_run(output: Store) -> None:
    """--overwrite: delete what audioaug wrote here before, and nothing else (the lock stays held)."""
    if not has_state(output):
        return
    state = open_state(output, readonly=True)
    names = list(state.file_names())
    state.close()
    try:
        previous = read_provenance(output)
    except UsageError:
        previous = None
    if previous is not None:
        names.append(previous.config["output"]["manifest"])
    names += [ERRORS, PROVENANCE, SEGMENTS]
    if isinstance(output, ObjectStore):
        journal = sorted(output.listing(JOURNAL))
        present = set(output.listing())
        output.remove_many([name for name in names if name in present] + journal)
        return
    assert isinstance(output, LocalStore)
    for name in names:
        (output.root / name).unlink(missing_ok=True)
    state_dir = output.root / STATE_DIR
    for entry in state_dir.iterdir():
        if entry.name != LOCK:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
