"""What a run has to do: the sources found, the copies each gets, and of those the items not done
yet (not recorded for the source's fingerprint, or with a file gone), streamed as tasks.

A :class:`Plan` reads the resume state a batch of sources at a time (one query per PLAN_BATCH),
so that planning a corpus of a million files holds one batch in memory.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from audioaug_cli.config.model import ClassCopies, Config
from audioaug_cli.engine.estimate import PlannedSize, is_upper_bound, planned_size
from audioaug_cli.engine.input_dir import InputDir
from audioaug_cli.engine.mixing import PartnerPool
from audioaug_cli.engine.output_dir import OutputDir
from audioaug_cli.engine.state import RunState
from audioaug_cli.engine.summary import Summary
from audioaug_cli.engine.tasks import Task, item_files, item_seed
from audioaug_cli.errors import UsageError, suggest
from audioaug_cli.io.inputs import Source, WalkCounts
from audioaug_cli.io.manifest import Labels
from audioaug_cli.io.segments import Segments

PLAN_BATCH = 256  # inputs planned at a time: one query for what is recorded of all of them


@dataclass
class Plan:
    config: Config
    inputs: InputDir
    output: OutputDir
    labels: Labels
    segments: Segments | None
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    summary: Summary  # where the items already done (skipped) and the unmatched table rows are counted
    _partners: PartnerPool | None = field(default=None, init=False)

    def sources(self, counts: WalkCounts | None = None, describe: bool = True) -> Iterator[Source]:
        return self.inputs.walk(self.output.store, self.include, self.exclude, counts, describe)

    def copies_of(self, source: Source) -> tuple[int, ...]:
        copies = self.config.copies
        label = self.labels.value(source.rel, copies.by) if isinstance(copies, ClassCopies) else None
        return self.config.copy_numbers(label)

    def pending(
        self, source: Source, state: RunState, copies: tuple[int, ...] | None = None, done: set[int] | None = None
    ) -> tuple[int, ...]:
        """The copies of a source that are not done yet: not recorded for its fingerprint, or with
        a file missing (what the config names for the item: what its record names). ``done``: the
        copies recorded, when already asked for."""
        copies = self.copies_of(source) if copies is None else copies
        if done is None:
            done = state.done_copies(source.rel, source.fingerprint)
        if not done:
            return copies
        present = self.output.has_output
        return tuple(
            c
            for c in copies
            if c not in done or not all(present(name) for name in item_files(self.config, source.rel, c))
        )

    def count_todo(self, state: RunState) -> int:
        return sum(len(self.pending(s, state)) for s in self.sources(describe=state.had_outputs))

    def tasks(self, state: RunState, counts: WalkCounts, describe: bool = True) -> Iterator[Task]:
        """Stream the tasks still to do; count the items already done as skipped, and the rows of
        --labels and --segments that name no input found. ``describe=False``: the workers may read
        the sources' sizes and mtimes (their fingerprints), where the state has none to compare."""
        labelled: set[str] = set()
        segmented: set[str] = set()
        labels, segments = self.labels.values, self.segments.times if self.segments is not None else None
        same_copies = None if isinstance(self.config.copies, ClassCopies) else self.config.copy_numbers()
        draws = self.config.pools is not None or self.config.mix is not None
        sources = self.sources(counts, describe or state.had_outputs)
        while batch := list(itertools.islice(sources, PLAN_BATCH)):
            recorded = state.done_copies_of([(s.rel, s.fingerprint) for s in batch])
            if state.tracks_seen:
                state.mark_seen_all([source.rel for source in batch])
            for source in batch:
                rel = source.rel
                if rel in labels:
                    labelled.add(rel)
                copies = self.copies_of(source) if same_copies is None else same_copies
                pending = self.pending(source, state, copies, recorded[rel]) if rel in recorded else copies
                self.summary.skipped += len(copies) - len(pending)
                times = None
                if segments is not None:
                    times = tuple(segments.get(rel, ()))
                    if rel in segments:
                        segmented.add(rel)
                if pending:
                    task = Task(source, pending, times)
                    yield self._drawing(task) if draws else task
        if not (self.include or self.exclude):  # a row left out by a glob is not a mistake
            self.summary.unmatched_labels = sorted(set(self.labels.values) - labelled)
            if self.segments is not None:
                missing = sorted(set(self.segments.times) - segmented)
                self.summary.unmatched_segments = missing
                self.summary.unmatched_segment_rows = sum(len(self.segments.times[name]) for name in missing)

    def _label(self, rel: str, column: str | None) -> str | None:
        return (self.labels.value(rel, column) or None) if column is not None else None

    def _drawing(self, task: Task) -> Task:
        """A task with what its items draw from: its split (pools.split_by) and each copy's
        interfering sources (mix.speakers, drawn here from every source found)."""
        config, pools = self.config, self.config.pools
        if pools is None and (config.mix is None or config.mix.speakers is None):
            return task
        rel = task.source.rel
        split = self._label(rel, config.split_by)
        if config.split_by is not None and split is None and task.source.problem is None:
            problem = f"no {config.split_by!r} value in --labels for this input: pools.split_by draws by it"
            return replace(task, source=replace(task.source, problem=problem))
        partners = None
        if config.mix is not None and config.mix.speakers is not None:
            if self._partners is None:
                speaker_by = pools.speaker_by if pools is not None else None
                self._partners = PartnerPool(
                    config,
                    (
                        (s.rel, self._label(s.rel, config.split_by), self._label(s.rel, speaker_by))
                        for s in self.sources(describe=False)  # (names only)
                        if s.problem is None
                    ),
                )
            speaker = self._label(rel, pools.speaker_by if pools is not None else None)
            partners = tuple(
                self._partners.draw(rel, split, speaker, item_seed(config.seed, rel, copy)) for copy in task.copies
            )
        return replace(task, split=split, partners=partners)

    def files(self) -> Iterator[str]:
        """Every file this run could write for the inputs found (what --overwrite or a resume might redo)."""
        for source in self.sources(describe=False):  # (names only)
            for copy in self.copies_of(source):
                yield from item_files(self.config, source.rel, copy)

    def dry_run(self, state: RunState, counts: WalkCounts) -> None:
        """Into the summary: the items the run would write (with the audio and bytes they add up
        to, from the inputs' headers) and those that would fail before being read."""
        summary = self.summary
        summary.planned_size = size = PlannedSize(upper_bound=is_upper_bound(self.config))
        for task in self.tasks(state, counts):
            source = task.source
            if source.problem is not None:
                summary.planned.append(f"{source.rel} -> fails: {source.problem}")
                summary.planned_failures += len(task.copies)
                continue
            summary.planned.extend(
                f"{source.rel} -> {' '.join(item_files(self.config, source.rel, c))}" for c in task.copies
            )
            summary.planned_items += len(task.copies)
            with self.inputs.header(source) as readable:
                size.add(planned_size(self.config, readable), len(task.copies))
        summary.ignored, summary.inputs = counts.ignored, counts.audio


def check_class_copies(config: Config, labels: Labels, path: str | Path | None) -> None:
    """copies by a label column needs --labels with that column: said before anything is written."""
    copies = config.copies
    if not isinstance(copies, ClassCopies) or copies.by in labels.columns:
        return
    if path is None:
        raise UsageError(f"the config's copies are by the label column {copies.by!r}: give --labels CSV")
    raise UsageError(
        f"{path}: no column {copies.by!r}, which the config's copies are by; found "
        f"columns: {', '.join(labels.columns) or 'none'}{suggest(copies.by, labels.columns)}"
    )
