"""Checking the config's sections beyond the pipeline: copies by label and ``spectrogram:``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .entries import EntryChecks, Path_
from .errors import kind
from .features import LAYOUTS, PAD_MODES, DbScale, FeatureSettings

SPECTROGRAM_KEYS = tuple(FeatureSettings.__dataclass_fields__)
DB_KEYS = ("ref", "amin", "top_db")


@dataclass(frozen=True)
class ClassCopies:
    """``copies: {by: COLUMN, default: N, values: {label: N, ...}}``: copies by a --labels column."""

    by: str
    default: int
    values: dict[str, int]

    def for_label(self, label: str | None) -> int:
        """An input with no label row, or a label not listed, gets the default."""
        return self.values.get(label, self.default) if label is not None else self.default

    def to_dict(self) -> dict[str, Any]:
        return {"by": self.by, "default": self.default, "values": dict(self.values)}


class SectionChecks(EntryChecks):
    """Checks of the sections that hold more than a value."""

    def class_copies(self, value: dict[str, Any], maximum: int) -> ClassCopies | int:
        """``copies: {by: label, default: 1, values: {siren: 10}}``."""
        here: Path_ = ("copies",)
        self.unknown_keys(value, here, ("by", "default", "values"))
        by = value.get("by")
        if not isinstance(by, str) or not by:
            self.problem(here, f"copies by label needs 'by:', the --labels column to read, found {kind(by)}")
        default = self.integer(value, here, "default", 1, minimum=0, maximum=maximum)
        values = value.get("values", {})
        counts: dict[str, int] = {}
        if not isinstance(values, dict):
            self.problem((*here, "values"), f"expected a mapping of label to copies, found {kind(values)}")
        else:
            for label, count in values.items():
                if isinstance(count, int) and not isinstance(count, bool) and 0 <= count <= maximum:
                    counts[str(label)] = count
                else:
                    self.problem((*here, "values", str(label)), f"expected copies, an integer from 0 to "
                                 f"{maximum:,}, found {kind(count)}")
        return ClassCopies(by, default, counts) if isinstance(by, str) and by else 1

    def spectrogram(self, value: Any) -> FeatureSettings | None:
        """The ``spectrogram:`` section, or None when the config has none."""
        if value is None:
            return None
        here: Path_ = ("spectrogram",)
        if not isinstance(value, dict):
            self.problem(here, f"expected a mapping of spectrogram settings, found {kind(value)}")
            return None
        self.unknown_keys(value, here, SPECTROGRAM_KEYS)
        d = FeatureSettings()
        n_fft = self.integer(value, here, "n_fft", d.n_fft, minimum=2)
        hop = self.integer(value, here, "hop_length", None, minimum=1)
        win = self.integer(value, here, "win_length", None, minimum=1)
        if isinstance(win, int) and win > n_fft:
            self.problem((*here, "win_length"), f"must be at most n_fft ({n_fft}), found {win}")
        window = self.window(value.get("window", d.window), (*here, "window"))
        n_mels = self.integer(value, here, "n_mels", d.n_mels, minimum=1) if value.get("n_mels", 1) is not None \
            else None
        fmin = self.number(value, here, "fmin", d.fmin, minimum=0.0)
        fmax = self.number(value, here, "fmax", None, minimum=0.0)
        if fmax is not None and fmax <= fmin:
            self.problem((*here, "fmax"), f"must be greater than fmin ({fmin}), found {fmax}")
        power = self.number(value, here, "power", d.power, minimum=0.0, above=True)
        return FeatureSettings(
            n_fft=n_fft, hop_length=hop, win_length=win, window=window,
            center=self.choice(value, here, "center", d.center, (True, False)), n_mels=n_mels, fmin=fmin, fmax=fmax,
            htk=self.choice(value, here, "htk", d.htk, (True, False)),
            norm=self.choice(value, here, "norm", d.norm, ("slaney", None)),
            pad_mode=self.choice(value, here, "pad_mode", d.pad_mode, PAD_MODES), power=power,
            db=self.db_scale(value.get("db", {}), (*here, "db")),
            layout=self.choice(value, here, "layout", d.layout, LAYOUTS),
            write_audio=self.choice(value, here, "write_audio", d.write_audio, (True, False)),
            pipeline=tuple(self.node_list(value.get("pipeline"), (*here, "pipeline"), spec=True)))

    def db_scale(self, value: Any, here: Path_) -> DbScale | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problem(here, f"expected a mapping with {', '.join(DB_KEYS)}, or null for linear values, "
                         f"found {kind(value)}")
            return DbScale()
        self.unknown_keys(value, here, DB_KEYS)
        d = DbScale()
        return DbScale(ref=self.number(value, here, "ref", d.ref, minimum=0.0, above=True),
                       amin=self.number(value, here, "amin", d.amin, minimum=0.0, above=True),
                       top_db=self.number(value, here, "top_db", d.top_db, minimum=0.0)
                       if value.get("top_db", 0) is not None else None)

    def window(self, value: Any, here: Path_) -> str:
        from scipy.signal import get_window

        try:
            if not isinstance(value, str):
                raise ValueError
            get_window(value, 16)
        except (ValueError, TypeError):
            self.problem(here, f"expected a window name that scipy.signal.get_window knows (hann, hamming, "
                         f"blackman, boxcar, ...), found {kind(value)}")
            return "hann"
        return value
