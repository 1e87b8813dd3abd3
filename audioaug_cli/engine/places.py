"""INPUT_DIR and OUTPUT_DIR opened together, each as its kind of place, and checked as a pair
before a run looks at either: the checks that are about the two at once (the same folder, one
inside the other), beside what each kind checks of itself."""

from __future__ import annotations

from pathlib import Path

from audioaug_cli.engine.input_dir import InputDir, input_dir
from audioaug_cli.engine.output_dir import OutputDir, output_dir
from audioaug_cli.errors import UsageError
from audioaug_cli.io.store import LocalStore, ObjectStore, Store


def open_places(inputs: Store, output: Store) -> tuple[InputDir, OutputDir]:
    """INPUT_DIR and OUTPUT_DIR, each of its kind, checked as a pair: refused (UsageError) is what
    no run may do: a read-only or non-folder OUTPUT_DIR, an INPUT_DIR that is not a folder, the two
    the same, or INPUT_DIR inside OUTPUT_DIR. A store's missing bucket is said now, too."""
    found_in, found_out = input_dir(inputs), output_dir(output)
    if isinstance(output, ObjectStore) and output.read_only:
        raise UsageError(f"OUTPUT_DIR {output}: {output.protocol}:// is read only; write to a local folder or a bucket")
    found_in.check()
    if isinstance(output, LocalStore) and output.root.exists() and not output.root.is_dir():
        raise UsageError(f"OUTPUT_DIR {output} exists and is not a folder")
    same_kind = type(inputs) is type(output) and getattr(inputs, "protocol", "") == getattr(output, "protocol", "")
    if same_kind:
        inp, out = _comparable(inputs), _comparable(output)
        if inp == out:
            raise UsageError("OUTPUT_DIR must differ from INPUT_DIR: the run never writes into its input")
        if inp.startswith(out):
            raise UsageError(f"INPUT_DIR {inputs} lies inside OUTPUT_DIR {output}; choose another OUTPUT_DIR")
    found_out.listing()
    return found_in, found_out


def _comparable(store: Store) -> str:
    """A folder's name for telling whether one lies inside another (a local one resolved)."""
    path = str(Path(store.path("")).resolve()) if isinstance(store, LocalStore) else store.path("")
    return path.rstrip("/") + "/"
