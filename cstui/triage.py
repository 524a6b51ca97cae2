"""What the review UI needs from the core, without Textual: the failing-sessions table with its filters
and sort, and everything about one session (transcript, spans, verdicts, KB, labels).

Kept as compact polars frames so a filter over a million sessions costs milliseconds and a few megabytes;
screens render the rows on screen only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, overload

from cstui.reviewed import Review, ReviewedVerdict, reviewed

if TYPE_CHECKING:
    import polars as pl

    from cstui.models import KBArticle, Session
    from cstui.store import Store

COLUMNS = ("session_id", "tier", "intent", "channel", "failed_text", "confidence", "correct", "frustration", "n_turns")
COLUMN_TITLES = {"session_id": "session", "tier": "tier", "intent": "intent", "channel": "channel",
                 "failed_text": "failed evaluators", "confidence": "conf", "correct": "right",
                 "frustration": "frust", "n_turns": "turns"}
LABEL_STATES = ("any", "labeled", "unlabeled")

# Failure reasons offered when relabelling: the hallucination taxonomy (docs/evaluators.md) and the
# conversation failures.
FAILURE_REASONS = (
    "judge_right", "false_alarm", "policy", "pricing", "availability", "procedure", "authorization", "citation",
    "account", "history", "missed_escalation", "late_escalation", "unneeded_escalation", "prompt_injection",
    "rephrase_loop", "repetition", "tool_loop", "deflection", "tone", "other",
)


@dataclass(frozen=True)
class FailureFilter:
    """The failures view's current filter; empty fields do not filter."""

    tiers: tuple[int, ...] = ()
    evaluators: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    hallucination_category: str | None = None
    label_state: str = "any"
    include_passing: bool = False  # every session, not only failing ones (a calibration bin, a tier's figure)
    text: str = ""
    text_hits: tuple[str, ...] = ()  # sessions whose turns or tool results hold `text` (full-text search)
    session_ids: tuple[str, ...] | None = None  # exactly these sessions (none at all when empty)
    figure: str | None = None  # the sessions a dashboard figure counts (figure_condition)
    title: str = ""  # where the filter came from (a gate rule, a panel), shown above the table

    def describe(self) -> str:
        parts = []
        if self.title:
            parts.append(self.title)
        for name, values in (("tier", self.tiers), ("evaluator", self.evaluators), ("intent", self.intents),
                             ("channel", self.channels), ("category", self.categories), ("segment", self.segments)):
            if values:
                parts.append(f"{name}={'|'.join(map(str, values))}")
        if self.hallucination_category:
            parts.append(f"hallucination={self.hallucination_category}")
        if self.label_state == "labeled":
            parts.append("labeled (failing, or overridden by a reviewer)")
        elif self.label_state != "any":
            parts.append(self.label_state)
        if self.session_ids is not None:
            parts.append(f"{len(self.session_ids)} sessions")
        if self.figure and not self.title:
            parts.append(f"figure {self.figure}")
        if self.text:
            parts.append(f'text "{self.text}"')
        return " · ".join(parts) if parts else ("all sessions" if self.include_passing else "all failing sessions")

    @property
    def is_empty(self) -> bool:
        return self == FailureFilter()

    def narrows(self, wider: FailureFilter) -> bool:
        """Every session this filter keeps, `wider` keeps too: the same filter, its text grown from wider's (typing
        on) and no full-text hits yet. Both the text and its lower case must contain wider's, as the conditions
        compare either (lower-casing is not always per character: a final sigma)."""
        return (not self.text_hits and wider.text in self.text and wider.text.lower() in self.text.lower()
                and replace(self, text=wider.text, text_hits=wider.text_hits) == wider)

    def with_(self, **changes: Any) -> FailureFilter:
        return replace(self, **changes)

    def condition(self, failures: Failures) -> pl.Expr | None:
        """One predicate over `failures.rows`: evaluator, category and text conditions are first resolved against
        the few distinct tags and dictionary values, so a keystroke compares small integers, not lists."""
        import polars as pl

        tags = failures.tags
        conditions: list[pl.Expr] = []
        if self.tiers:
            conditions.append(pl.col("tier").is_in(list(self.tiers)))
        if self.evaluators:
            # among labelled sessions an evaluator matches where it failed or a reviewer overrode it
            column = "involved" if self.label_state == "labeled" else "failed"
            conditions.append(_tag_in(tags.filter(pl.col(column).list.set_intersection(list(self.evaluators))
                                                  .list.len() > 0)))
        for col, values in (("intent", self.intents), ("channel", self.channels), ("category", self.categories),
                            ("segment", self.segments)):
            if values:
                conditions.append(pl.col(col).is_in(failures.known(col, values)))
        if self.hallucination_category:
            conditions.append(_tag_in(tags.filter(pl.col("categories").list.contains(self.hallucination_category))))
        if self.label_state == "labeled":  # every session a reviewer labelled, failing or overridden to pass
            conditions.append(pl.col("labeled"))
        else:
            if not self.include_passing:
                conditions.append(_tag_in(tags.filter("failing")))
            if self.label_state == "unlabeled":
                conditions.append(~pl.col("labeled"))
        if self.session_ids is not None:
            conditions.append(pl.col("session_id").is_in(list(self.session_ids)))
        if self.figure:
            conditions.append(figure_condition(self.figure))
        if self.text:
            conditions.append(pl.any_horizontal(failures.text_conditions(self.text.lower(), self.text_hits)))
        return pl.all_horizontal(conditions) if conditions else None


def _tag_in(tags: pl.DataFrame) -> pl.Expr:
    import polars as pl

    return pl.col("tag").is_in(tags["tag"].implode())


# The session columns the failures table keeps (with `tag` and `labeled`); strings become enums of the values a
# run holds, so a million rows cost a few bytes each.
ROW_COLUMNS = ("session_id", "tier", "intent", "channel", "segment", "category", "n_turns", "confidence", "correct",
               "resolved", "escalated")
ENUM_COLUMNS = ("intent", "channel", "segment", "category")


@dataclass(frozen=True)
class Failures:
    """Every session of a run for the failures view, compact: one row per session (small columns, a `tag`) and
    `tags`, the few distinct combinations of failing evaluators and reviewers' overrides the rows point at.
    `failing` means at least one current verdict fails (reviewers' verdicts applied), so the failures view, a
    reviewer's overrides and the sessions behind a figure (a calibration bin) are the same rows filtered."""

    rows: pl.DataFrame  # ROW_COLUMNS, frustration, tag, labeled; in session order; tag as narrow as the tags allow
    tags: pl.DataFrame  # tag, failed, categories, involved, failed_text, failing

    @cached_property
    def id_prefix(self) -> str:
        """What every session id starts with (the common prefix of the smallest and largest): text found in it is
        found in every id, without looking at a million of them (typing "S-0" where every id is "S-0…")."""
        import os

        ids = self.rows["session_id"].drop_nulls()
        return "" if ids.is_empty() else os.path.commonprefix([str(ids.min()), str(ids.max())])

    @cached_property
    def id_prefix_leads(self) -> bool:
        """Whether the id prefix (ASCII) appears in no id but at its start: then text that begins with it can be
        found in an id only at its start, and a prefix test finds it (~5x faster than a search over 1M ids)."""
        import re

        prefix = self.id_prefix
        if not prefix or not prefix.isascii():
            return False
        # "a character, then the prefix": no sliced copy of a million ids
        return not self.rows["session_id"].str.contains(f"(?is).{re.escape(prefix)}").any()

    @property
    def height(self) -> int:
        return self.rows.height

    @property
    def failing_count(self) -> int:
        return int(self.rows["tag"].is_in(self.tags.filter("failing")["tag"].implode()).sum())

    def evaluators(self) -> list[str]:
        """Every evaluator failing somewhere in the run."""
        return sorted({e for names in self.tags["failed"].to_list() for e in names})

    def values(self, column: str) -> list[str]:
        return sorted(str(v) for v in self.rows[column].drop_nulls().unique().to_list())

    def known(self, column: str, values: tuple[Any, ...]) -> list[Any]:
        """The filter's values an enum column can hold (polars refuses to compare an enum with a stranger)."""
        categories = set(self.rows.schema[column].categories.to_list())  # type: ignore[attr-defined]
        return [v for v in values if v in categories]

    def text_conditions(self, text: str, hits: tuple[str, ...]) -> list[pl.Expr]:
        """Where `text` (lower case) appears: a session id, an intent, channel, category or segment, the failing
        evaluators' names, or the full-text search's hits."""
        import re

        import polars as pl

        in_ids = f"(?i){re.escape(text)}"
        if pl.Series([self.id_prefix]).str.contains(in_ids).item():  # the same matching as on the ids
            return [pl.lit(True)]
        prefix, rest = self.id_prefix, text[len(self.id_prefix):]
        if text.startswith(prefix.lower()) and rest.lower() == rest.upper() and self.id_prefix_leads:
            out = [pl.col("session_id").str.starts_with(prefix + rest)]  # rest has no case to ignore ("B-00…")
        else:
            out = [pl.col("session_id").str.contains(in_ids)]
        for col in ENUM_COLUMNS:
            matching = [v for v in self.rows.schema[col].categories.to_list() if text in v.lower()]
            if matching:
                out.append(pl.col(col).is_in(matching))
        tags = self.tags.filter(pl.col("failed_text").str.to_lowercase().str.contains(text, literal=True))
        if tags.height:
            out.append(_tag_in(tags))
        if hits:
            out.append(pl.col("session_id").is_in(list(hits)))
        return out

    def view(self, failure_filter: FailureFilter, sort: str | None = None, descending: bool = False,
             previous: FailureRows | None = None) -> FailureRows:
        """The rows a filter keeps, in display order (stable: ties keep session order, nulls last). Given the
        previous view, a filter that narrows it (the next keystroke of a search) looks only at the rows that view
        kept when those are few, and keeps what was known of them when it keeps them all."""
        import polars as pl

        condition = failure_filter.condition(self)
        wider = previous if (previous is not None and previous.failures is self
                             and failure_filter.narrows(previous.filter)
                             and (previous.sort, previous.descending) == (sort, descending)) else None
        if wider is not None and wider.height <= self.height // 8 and condition is not None:
            columns = sorted(set(condition.meta.root_names()))
            kept = self.rows.select(pl.col(columns).gather(wider.index)).select(condition.arg_true()).to_series()
            index = wider.index.gather(kept)  # in the previous view's order, already sorted
        else:
            index = (self.rows.lazy().with_row_index("i").filter(condition).select("i") if condition is not None
                     else self.rows.lazy().with_row_index("i").select("i")).collect()["i"]
            if sort is not None and index.len():
                index = self._sorted(index, sort, descending)
        if wider is not None and index.len() == wider.height:
            return wider.refiltered(failure_filter)  # the same rows
        return FailureRows(self, index, failure_filter, sort, descending)

    def _sorted(self, index: pl.Series, sort: str, descending: bool) -> pl.Series:
        import polars as pl

        if sort == "failed_text":
            key = self._tag_text_rank().gather(self.rows["tag"].gather(index))
        else:
            key = self.rows[sort].gather(index)
            if isinstance(key.dtype, pl.Enum):
                key = key.cast(pl.String)
        return pl.DataFrame({"i": index, "key": key}).sort("key", descending=descending, nulls_last=True,
                                                            maintain_order=True)["i"]

    def _tag_text_rank(self) -> pl.Series:
        """Each tag's position in `failed_text` order, indexed by tag: sorting by the text sorts by this."""
        import polars as pl

        ranked = self.tags.select("tag", rank=pl.col("failed_text").rank("dense").cast(pl.UInt32)).sort("tag")
        return ranked["rank"]


@dataclass(frozen=True)
class FailureRows:
    """The rows a filter kept, as positions into `failures.rows`: a keystroke over a million sessions copies
    four bytes a row, and only the rows on screen are ever made into Python values."""

    failures: Failures
    index: pl.Series
    filter: FailureFilter = field(default_factory=FailureFilter)  # what kept them
    sort: str | None = None  # and the order they are in
    descending: bool = False

    @property
    def height(self) -> int:
        return self.index.len()

    def refiltered(self, failure_filter: FailureFilter) -> FailureRows:
        """These same rows, kept by a narrower filter: what was computed about them still holds."""
        same = replace(self, filter=failure_filter)
        if "failed_evaluators" in self.__dict__:
            same.__dict__["failed_evaluators"] = self.__dict__["failed_evaluators"]
        return same

    def rows(self, start: int, count: int) -> list[tuple[Any, ...]]:
        """COLUMNS of the rows at display positions start..start+count."""
        import polars as pl

        part = self.failures.rows.select(pl.all().gather(self.index.slice(start, count)))
        return (part.join(self.failures.tags.select("tag", "failed_text"), on="tag", how="left", maintain_order="left")
                .select(COLUMNS).rows())

    def session_ids(self) -> list[str]:
        return self.ids()[:]

    def ids(self) -> SessionIds:
        return SessionIds(self.failures.rows["session_id"].gather(self.index))

    @cached_property
    def failed_evaluators(self) -> list[str]:
        """The evaluators failing in at least one of these rows."""
        import polars as pl

        present = self.failures.rows["tag"].gather(self.index).unique().implode()
        names = self.failures.tags.filter(pl.col("tag").is_in(present))["failed"].to_list()
        return sorted({e for row in names for e in row})


class SessionIds(Sequence[str]):
    """The shown sessions' ids, for stepping through them from a session (n / p): a polars column, not a million
    Python strings held while the session screen is open."""

    def __init__(self, ids: pl.Series) -> None:
        self._ids = ids

    def __len__(self) -> int:
        return self._ids.len()

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return self._ids[i].to_list()
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        return self._ids[i]

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and self._ids.index_of(value) is not None

    def index(self, value: Any, start: int = 0, stop: int | None = None) -> int:
        found = self._ids.slice(start, None if stop is None else stop - start).index_of(value)
        if found is None:
            raise ValueError(f"{value!r} is not shown")
        return start + found


def failures(store: Store, run: str) -> Failures:
    """Built a chunk at a time from the verdict masks: a million sessions never pass through one row per verdict,
    each distinct failing set is named once, and only the compact rows outlive their chunk. The run's rows are
    only ever concatenated, never transformed whole (a whole-frame step copied every column at once)."""
    import polars as pl

    from cstui.evaluators import registry

    bits = dict(sorted(store.verdict_bits(run).items()))
    labeled = list(store.labeled_session_ids(run))
    tag_of: dict[tuple[tuple[int, ...], tuple[str, ...]], int] = {}
    known: dict[str, set[str]] = {c: set() for c in ENUM_COLUMNS}
    parts = []
    for chunk in store.run_chunks(run, columns=ROW_COLUMNS):
        parts.append(_compact(chunk.select("sid", *ROW_COLUMNS), known).with_columns(
            tag=_chunk_tags(chunk, bits, tag_of), labeled=pl.col("session_id").is_in(labeled)))
        del chunk  # not held while the next one is read
    if not parts:
        parts = [_compact(store.sessions_frame(run).select("sid", *ROW_COLUMNS), known).with_columns(
            tag=pl.lit(None, dtype=pl.UInt32), labeled=pl.col("session_id").is_in(labeled))]
    frustration = _scores_by_sid(pl.concat([p["sid"] for p in parts], rechunk=False), store.evaluator_scores(run, "frustration"))
    # the run's own values known now: enums of them, and the narrowest integers its turns and tags fit in
    casts: dict[str, Any] = {c: pl.Enum(sorted(known[c])) for c in ENUM_COLUMNS}
    casts["n_turns"] = narrowest_int(max((int(p["n_turns"].max() or 0) for p in parts), default=0), signed=True)
    casts["tag"] = narrowest_int(len(tag_of) - 1, signed=False)  # tags are numbered from 0
    start = 0
    for i, part in enumerate(parts):
        parts[i] = part.select(*[pl.col(c).cast(casts[c]) if c in casts else c for c in ROW_COLUMNS],
                               frustration.slice(start, part.height), pl.col("tag").cast(casts["tag"]), "labeled")
        start += part.height
    table = Failures(pl.concat(parts), _tags(tag_of, bits, registry.hallucination_categories()))
    table.id_prefix_leads  # noqa: B018 - found here (and the prefix), off the UI thread, not on a keystroke
    return table


def narrowest_int(largest: int, *, signed: bool) -> pl.DataType:
    """The smallest polars integer type holding 0..largest (a million rows: 1 byte each rather than 4)."""
    import polars as pl

    types = (pl.Int8, pl.Int16, pl.Int32, pl.Int64) if signed else (pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64)
    return next(t() for bits, t in zip((8, 16, 32, 64), types, strict=True) if largest < 2 ** (bits - signed))


def _chunk_tags(chunk: pl.DataFrame, bits: dict[str, Any], tag_of: dict[tuple[tuple[int, ...], tuple[str, ...]], int]
                ) -> pl.Series:
    """Each session's tag, in chunk order: its failing masks, and for a session a reviewer decided on, the
    overrides too; new combinations are numbered into `tag_of`."""
    import polars as pl

    words = sorted({b.word for b in bits.values()})
    if not words:  # a run no evaluator has judged yet: every session passes
        return pl.repeat(tag_of.setdefault(((), ()), len(tag_of)), chunk.height, dtype=pl.UInt32, eager=True)
    xs = [f"x{w}" for w in words]
    failing = chunk.select(*[(pl.col(f"a{w}") & pl.col(f"f{w}")).alias(f"x{w}") for w in words])
    combos = failing.unique()
    combos = combos.with_columns(tag=pl.Series([tag_of.setdefault((masks, ()), len(tag_of))
                                                for masks in combos.iter_rows()], dtype=pl.UInt32))
    tags = failing.join(combos, on=xs, how="left", maintain_order="left")["tag"]
    reviewed = chunk.with_row_index("i").filter(pl.any_horizontal([pl.col(f"h{w}") != 0 for w in words]))
    if reviewed.height:
        masks = failing.gather(reviewed["i"]).rows()
        own = [tag_of.setdefault((m, tuple(_overrides(row, bits))), len(tag_of))
               for m, row in zip(masks, reviewed.iter_rows(named=True), strict=True)]
        tags = tags.scatter(reviewed["i"], pl.Series(own, dtype=pl.UInt32))
    return tags


def _scores_by_sid(sids: pl.Series, scores: Iterable[pl.DataFrame]) -> pl.Series:
    """`scores` (sid, score frames) lined up with `sids` (rising), null where a session has none: each frame is
    placed by binary search as it is read, so the run's scores are never all held as rows, nor joined."""
    import polars as pl

    out = pl.repeat(None, sids.len(), dtype=pl.Float64, eager=True).alias("frustration")
    if not sids.len():
        return out
    for part in scores:
        at = sids.search_sorted(part["sid"]).clip(0, sids.len() - 1)
        found = sids.gather(at) == part["sid"]  # a score of a session not in `sids` has no place
        if found.any():
            out.scatter(at.filter(found), part["score"].filter(found))
    return out


def _compact(rows: pl.DataFrame, known: dict[str, set[str]]) -> pl.DataFrame:
    """Small types as soon as a chunk is read: the repeated strings as enums of the values seen so far (one byte a
    row for a few hundred values; `known` grows), recast to the run's values at the end. A million sessions as
    plain strings took several hundred megabytes to build, as categoricals four bytes a row and column."""
    import polars as pl

    for c in ENUM_COLUMNS:
        known[c].update(rows[c].drop_nulls().unique().to_list())
    return rows.with_columns(*[pl.col(c).cast(pl.Enum(sorted(known[c]))) for c in ENUM_COLUMNS],
                             tier=pl.col("tier").cast(pl.Int8), n_turns=pl.col("n_turns").cast(pl.Int32))


def _tags(tag_of: dict[tuple[tuple[int, ...], tuple[str, ...]], int], bits: dict[str, Any],
          categories: dict[str, str]) -> pl.DataFrame:
    """What each tag stands for: the failing evaluators, their hallucination categories, every evaluator involved
    (failing or overridden), and the text the table shows ("a, b (FAIL → reviewer pass)", `_overrides`)."""
    import polars as pl

    names = pl.List(pl.String)
    words = sorted({b.word for b in bits.values()})
    out: dict[str, list[Any]] = {k: [] for k in ("tag", "failed", "categories", "involved", "failed_text")}
    for (masks, overridden), tag in tag_of.items():
        failed = _failing_names(masks, words, bits)
        reviewed = [o.split(" ", 1)[0] for o in overridden]
        out["tag"].append(tag)
        out["failed"].append(failed)
        out["categories"].append(sorted({categories[e] for e in failed if e in categories}))
        out["involved"].append(sorted({*failed, *reviewed}))
        out["failed_text"].append(", ".join([*(e for e in failed if e not in reviewed), *overridden]))
    return pl.DataFrame(out, schema={"tag": pl.UInt32, "failed": names, "categories": names, "involved": names,
                                     "failed_text": pl.String}).with_columns(failing=pl.col("failed").list.len() > 0)


def _failing_names(masks: tuple[int, ...], words: list[int], bits: dict[str, Any]) -> list[str]:
    """The evaluators (in name order) whose bit is set in these per-word failing masks."""
    by_word = dict(zip(words, masks, strict=True))
    return [name for name, b in bits.items() if by_word[b.word] & b.mask]


def _overrides(row: dict[str, Any], bits: dict[str, Any]) -> list[str]:
    """"evaluator (machine → reviewer verdict)" for every verdict a reviewer decided on this session that fails
    either way: the column lists failures and overrides of failures, not every review (a pass confirmed, or a
    not-applicable verdict called a pass, is left out). Read from the session's `ReviewedVerdict`s, rebuilt from
    its masks (a few rows: only sessions a reviewer labelled come here)."""
    out = []
    for name, b in bits.items():
        w = b.word
        if row[f"h{w}"] & b.mask:
            r = ReviewedVerdict(name, b.version or "", machine=None if not row[f"ma{w}"] & b.mask
                                else not row[f"mf{w}"] & b.mask,
                                reviews=(Review(name, "fail" if row[f"f{w}"] & b.mask else "pass"),))
            if r.effective is False or r.machine is False:
                out.append(f"{name} ({r.machine_word} → reviewer {r.human})")
    return out


# A dashboard figure's sessions, as a condition on the failures rows (docs/metrics.md): drilling into a figure
# filters the run's rows rather than listing ids, so the dashboard holds nothing per session. A figure is named
# "unresolved", "escalated", "contained_unresolved", "confidently_wrong" (stated confidence >= 0.7 and wrong:
# what drives a high ECE), "calibration:LO" (a reliability-diagram bin starting at LO: the pairs `calibration`
# counted) or "confidence:LO" (an escalation-by-confidence bin); a tier narrows it through the tier filter.
OUTCOMES = {
    "unresolved": "not resolved (the resolution figure's misses)",
    "escalated": "handed off to a human (the escalation figure)",
    "contained_unresolved": "contained (no handoff) and not resolved",
}
CONFIDENTLY_WRONG = 0.7


def figure_condition(figure: str) -> pl.Expr:
    """The sessions one figure counts (names above)."""
    import polars as pl

    from cstui.stats import N_BINS

    kind, _, lo = figure.partition(":")
    if kind in ("calibration", "confidence"):
        stated = pl.col("confidence").is_not_null() & (pl.col("confidence") >= 0) & (pl.col("confidence") <= 1)
        if kind == "calibration":
            stated = stated & pl.col("correct").is_not_null()
        bins = (pl.col("confidence") * N_BINS).floor().cast(pl.Int64).clip(0, N_BINS - 1)
        return stated & (bins == round(float(lo) * N_BINS))
    return {
        "unresolved": pl.col("resolved") == False,  # noqa: E712 - unknown resolution is not counted as a miss
        "escalated": pl.col("escalated"),
        "contained_unresolved": ~pl.col("escalated") & (pl.col("resolved") == False),  # noqa: E712
        "confidently_wrong": (pl.col("correct") == False) & (pl.col("confidence") >= CONFIDENTLY_WRONG),  # noqa: E712
    }[kind]


def rule_failure_filter(rule: Any) -> FailureFilter:
    """The sessions behind a gate rule's figure (a `RuleResult`): what enter on the rule in the dashboard and
    `cstui --run R --rule NAME` (the gate's "open the failures" line) both list."""
    flt = rule.filter
    if rule.metric == "contained_unresolved":  # exactly the sessions the figure counts
        return FailureFilter(session_ids=tuple(rule.failing_sessions), include_passing=True,
                             title=f"rule {rule.name}: contained and not resolved")
    if rule.metric == "ece":  # what drives it: answers stated confidently that were wrong
        return FailureFilter(tiers=tuple(flt.get("tier", ())), figure="confidently_wrong", include_passing=True,
                             title=f"rule {rule.name}: confident (≥ {CONFIDENTLY_WRONG:.2f}) and wrong")
    if rule.metric == "golden":
        return FailureFilter(session_ids=tuple(rule.failing_sessions), include_passing=True,
                             title=f"rule {rule.name}: failing regression cases")
    return FailureFilter(
        evaluators=tuple(flt.get("evaluators", ())), tiers=tuple(flt.get("tier", ())),
        intents=tuple(flt.get("intent", ())), channels=tuple(flt.get("channel", ())),
        categories=tuple(flt.get("category", ())), segments=tuple(flt.get("segment", ())),
        title=f"rule {rule.name}")


@dataclass(frozen=True)
class ReferenceStep:
    """One action the reference says a correct conversation takes, and what the agent did about it."""

    name: str
    arguments: Any
    status: str  # "done" | "differently" (the tool ran, with other arguments) | "missed"
    span_id: str | None  # the call that did it (or the closest one, when done differently)


def reference_steps(session: Session) -> list[ReferenceStep]:
    """The reference actions (τ-bench's expected calls, τ²-bench's evaluation actions), each matched to the agent's
    tool calls in order: the same tool with the same arguments is done; the same tool with other arguments is done
    differently; no call of that tool is missed. Each call backs one reference action at most."""
    from cstui.ingest.messages import parse_arguments

    reference = session.reference
    actions = (reference.get("actions") if isinstance(reference, dict) else getattr(reference, "actions", None)) or []
    calls = [s for s in session.spans if s.kind == "tool" and s.status != "error"]
    used: set[str] = set()
    out = []
    for action in actions:
        if not isinstance(action, dict) or not action.get("name"):
            continue
        args = parse_arguments(action.get("kwargs", action.get("arguments")))
        named = [c for c in calls if c.name == action["name"] and c.span_id not in used]
        same = next((c for c in named if parse_arguments(c.attributes.get("arguments")) == args), None)
        chosen = same or (named[0] if named else None)
        if chosen is not None:
            used.add(chosen.span_id)
        out.append(ReferenceStep(str(action["name"]), args, "done" if same else "differently" if chosen else "missed",
                                 chosen.span_id if chosen else None))
    return out


@dataclass
class SessionView:
    """Everything the session detail screen shows."""

    run: str
    session: Session
    results: list[ReviewedVerdict]  # machine verdict and reviewers' labels, apart
    labels: list[Review]  # every label on the session, oldest first
    kb: dict[str, list[KBArticle]] = field(default_factory=dict)  # id → revisions, cited or retrieved
    trust: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # evaluator → measured precision
    # (customer turn index, running frustration score 0-1, what raised it) for every customer turn
    frustration: list[tuple[int, float, list[str]]] = field(default_factory=list)
    frustration_threshold: float = 0.65
    reference: list[ReferenceStep] = field(default_factory=list)
    baseline: str | None = None  # the run this one is compared with, when one is remembered

    @property
    def failed(self) -> list[ReviewedVerdict]:
        """Verdicts the machine failed (whatever a reviewer said since: the reviewer's word is beside it)."""
        return [r for r in self.results if r.machine is False]

    def result(self, evaluator: str) -> ReviewedVerdict | None:
        return next((r for r in self.results if r.evaluator == evaluator), None)


def session_view(store: Store, run: str, session_id: str) -> SessionView:
    session = store.session(run, session_id)
    labels = store.labels(run, session_id)
    results = reviewed(store.session_results(run, session_id), labels)
    wanted = {c for t in session.turns for c in t.citations}
    for span in session.spans:
        for doc in span.attributes.get("documents", []) if isinstance(span.attributes.get("documents"), list) else []:
            if isinstance(doc, dict) and doc.get("id"):
                wanted.add(str(doc["id"]))
    kb: dict[str, list[KBArticle]] = {}
    for article in store.kb_articles(run):
        if article.id in wanted:
            kb.setdefault(article.id, []).append(article)
    for cited in wanted - set(kb):
        kb[cited] = []  # cited but not in the KB at all
    from cstui.validation import trust

    measured = trust(store, run, {r.evaluator: r.evaluator_version for r in results})
    from cstui.config import load_config
    from cstui.evaluators.silent import frustration_curve

    curve = [(p.turn_index, p.score, p.signals) for p in frustration_curve(session)]
    return SessionView(run=run, session=session, results=results, labels=[Review.of(lab) for lab in labels], kb=kb,
                       trust=measured, frustration=curve, frustration_threshold=load_config().frustration_threshold,
                       reference=reference_steps(session), baseline=store.baseline_of(run))
