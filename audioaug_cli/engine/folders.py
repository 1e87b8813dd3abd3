"""INPUT_DIR and OUTPUT_DIR as a run finds them: the checks made of the two before anything is
written, and, for a folder in object storage, its listing, made once per run however often the
run asks what it holds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from audioaug_cli.errors import UsageError
from audioaug_cli.io.store import LocalStore, ObjectStore, Store, reason, without_credentials


def check_folders(inputs: Store, output: Store) -> None:
    """Refuse (UsageError) what no run may do: a read-only or non-folder OUTPUT_DIR, an INPUT_DIR
    that is not a folder, the two the same, or INPUT_DIR inside OUTPUT_DIR."""
    if isinstance(output, ObjectStore) and output.read_only:
        raise UsageError(f"OUTPUT_DIR {output}: {output.protocol}:// is read only; write to a local folder or a bucket")
    if isinstance(inputs, LocalStore) and isinstance(output, LocalStore):
        _check_local(inputs.root, output.root)
        return
    if isinstance(inputs, LocalStore) and not inputs.root.is_dir():
        raise UsageError(f"INPUT_DIR {inputs} is not a folder")
    if isinstance(output, LocalStore) and output.root.exists() and not output.root.is_dir():
        raise UsageError(f"OUTPUT_DIR {output} exists and is not a folder")
    if isinstance(inputs, ObjectStore) and isinstance(output, ObjectStore) and inputs.protocol == output.protocol:
        inp, out = inputs.root.rstrip("/") + "/", output.root.rstrip("/") + "/"
        if inp == out:
            raise UsageError("OUTPUT_DIR must differ from INPUT_DIR: the run never writes into its input")
        if inp.startswith(out):
            raise UsageError(f"INPUT_DIR {inputs} lies inside OUTPUT_DIR {output}; choose another OUTPUT_DIR")


def _check_local(input_dir: Path, output_dir: Path) -> None:
    if not input_dir.is_dir():
        raise UsageError(f"INPUT_DIR {input_dir} is not a folder")
    inp, out = input_dir.resolve(), output_dir.resolve()
    if inp == out:
        raise UsageError("OUTPUT_DIR must differ from INPUT_DIR: the run never writes into its input")
    if inp.is_relative_to(out):
        raise UsageError(f"INPUT_DIR {input_dir} lies inside OUTPUT_DIR {output_dir}; choose another OUTPUT_DIR")
    if output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"OUTPUT_DIR {output_dir} exists and is not a folder")


class Listings:
    """The objects of INPUT_DIR and OUTPUT_DIR when they are in a store, each listed once (a
    missing bucket, or no access, is a usage error when first asked)."""

    def __init__(self, inputs: Store, output: Store):
        self.inputs_store, self.output_store = inputs, output
        self._inputs: dict[str, dict[str, Any]] | None = None
        self.outputs: set[str] | None = None  # None: not listed (yet, or again since OUTPUT_DIR changed)

    def inputs(self) -> dict[str, dict[str, Any]]:
        if self._inputs is None:
            assert isinstance(self.inputs_store, ObjectStore)
            self._inputs = listed(self.inputs_store, "INPUT_DIR")
        return self._inputs

    def present(self) -> set[str]:
        """OUTPUT_DIR's objects as the run found them, before it wrote any."""
        if self.outputs is None:
            assert isinstance(self.output_store, ObjectStore)
            self.outputs = set(listed(self.output_store, "OUTPUT_DIR"))
        return self.outputs

    def forget_outputs(self) -> None:
        """OUTPUT_DIR changed (another run wrote to it, --overwrite emptied it): list it again when asked."""
        self.outputs = None

    def check(self) -> None:
        """List now what is in a store, so that a missing bucket is said before any work."""
        if isinstance(self.inputs_store, ObjectStore):
            self.inputs()
        if isinstance(self.output_store, ObjectStore):
            self.present()


def listed(store: ObjectStore, what: str) -> dict[str, dict[str, Any]]:
    """A store's listing; a missing bucket or a refused request is a usage error (exit 2)."""
    try:
        return store.listing()
    except FileNotFoundError:
        raise UsageError(f"{what} {store}: no such bucket or container") from None
    except PermissionError:
        raise UsageError(f"{what} {store}: access denied (check the credentials)") from None
    except OSError as exc:
        raise UsageError(f"{what} {store}: cannot list it: {reason(exc)}") from None


@contextmanager
def credentials_hidden(*where: str | Path | None) -> Iterator[None]:
    """Messages about --labels and --segments name a URL without its ``user:password@``."""
    try:
        yield
    except UsageError as exc:
        text = str(exc)
        for place in where:
            if isinstance(place, str) and without_credentials(place) != place:
                text = text.replace(place, without_credentials(place))
        if text == str(exc):
            raise
        raise UsageError(text) from None
