"""What the review UI needs from the core, without Textual: the failing-sessions table with its filters
and sort, and everything about one session (transcript, spans, verdicts, KB, labels).

Kept as polars frames so a filter over 100k sessions costs milliseconds; screens render slices.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

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
        if self.text:
            parts.append(f'text "{self.text}"')
        return " · ".join(parts) if parts else ("all sessions" if self.include_passing else "all failing sessions")

    @property
    def is_empty(self) -> bool:
        return self == FailureFilter()

    def with_(self, **changes: Any) -> FailureFilter:
        return replace(self, **changes)

    def apply(self, frame: pl.DataFrame, columns: tuple[str, ...] | None = None) -> pl.DataFrame:
        """The rows this filter keeps; with `columns`, only those columns are copied (a million-row failures
        frame is filtered at every keystroke: copying its lists and search text each time cost gigabytes)."""
        import polars as pl

        conditions: list[pl.Expr] = []
        if self.tiers:
            conditions.append(pl.col("tier").is_in(list(self.tiers)))
        if self.evaluators:
            # among labelled sessions an evaluator matches where it failed or a reviewer overrode it
            column = "involved" if self.label_state == "labeled" else "failed"
            conditions.append(pl.col(column).list.set_intersection(list(self.evaluators)).list.len() > 0)
        for col, values in (("intent", self.intents), ("channel", self.channels), ("category", self.categories),
                            ("segment", self.segments)):
            if values:
                conditions.append(pl.col(col).is_in(list(values)))
        if self.hallucination_category:
            conditions.append(pl.col("categories").list.contains(self.hallucination_category))
        if self.label_state == "labeled":  # every session a reviewer labelled, failing or overridden to pass
            conditions.append(pl.col("labeled"))
        else:
            if not self.include_passing:
                conditions.append(pl.col("failing"))
            if self.label_state == "unlabeled":
                conditions.append(~pl.col("labeled"))
        if self.session_ids is not None:
            conditions.append(pl.col("session_id").is_in(list(self.session_ids)))
        if self.text:
            conditions.append(pl.col("haystack").str.contains(self.text.lower(), literal=True)
                              | pl.col("session_id").is_in(list(self.text_hits)))
        rows = frame.lazy().filter(pl.all_horizontal(conditions)) if conditions else frame.lazy()
        return (rows.select(columns) if columns else rows).collect()


def failures_frame(store: Store, run: str) -> pl.DataFrame:
    """One row per session of the run; `failing` when at least one current verdict fails (human verdicts
    applied), so the failures view, a reviewer's overrides and every session behind a figure (a calibration
    bin) are the same table filtered. `failed_text` names the failing evaluators and, for overrides, the
    machine and the reviewer's verdicts. Built a chunk at a time from the verdict masks (a million sessions
    never pass through one row per verdict)."""
    import polars as pl

    from cstui.evaluators import registry

    bits = dict(sorted(store.verdict_bits(run).items()))
    words = sorted({b.word for b in bits.values()})
    categories = registry.hallucination_categories()
    labeled = list(store.labeled_session_ids(run))
    frustration = store.evaluator_scores(run, "frustration").rename({"score": "frustration"})
    names = pl.List(pl.Utf8)
    empty = pl.DataFrame(schema={"sid": pl.Int64, "overridden": names})
    parts = []
    for chunk in store.run_chunks(run):
        # a few distinct failing sets cover a million sessions: name each set once and join
        failing = chunk.select("sid", *[(pl.col(f"a{w}") & pl.col(f"f{w}")).alias(f"x{w}") for w in words])
        combos = failing.select(*[f"x{w}" for w in words]).unique()
        lists = [_failing_names(row, words, bits) for row in combos.iter_rows()]
        lookup = combos.with_columns(
            failed=pl.Series(lists, dtype=names),
            categories=pl.Series([sorted({categories[e] for e in ev if e in categories}) for ev in lists], dtype=names))
        overrides = [(row["sid"], _overrides(row, bits)) for row in chunk.filter(
            pl.any_horizontal([pl.col(f"h{w}") != 0 for w in words]) if words else pl.lit(False)).iter_rows(named=True)]
        reviewed = pl.DataFrame(overrides, schema={"sid": pl.Int64, "overridden": names}, orient="row") if overrides \
            else empty
        parts.append(_with_derived(
            chunk.select(*SESSION_FRAME_COLUMNS)
            .join(failing.join(lookup, on=[f"x{w}" for w in words]) if words else failing.with_columns(
                failed=pl.lit([], dtype=names), categories=pl.lit([], dtype=names)), on="sid", how="left")
            .join(reviewed, on="sid", how="left")
            .with_columns(pl.col("overridden").fill_null([])), frustration, labeled, bool(overrides)))
    if parts:
        return pl.concat(parts, rechunk=False)  # a rechunk would copy the whole frame once more
    return _with_derived(store.sessions_frame(run).with_columns(
        failed=pl.lit([], dtype=names), categories=pl.lit([], dtype=names), overridden=pl.lit([], dtype=names)),
        frustration, labeled, True)


def _with_derived(frame: pl.DataFrame, frustration: pl.DataFrame, labeled: list[str], reviewed_any: bool
                  ) -> pl.DataFrame:
    """The columns the failures view filters and shows, derived from failing and overridden evaluators (where no
    reviewer overrode anything, `involved` is `failed` itself, not a copy)."""
    import polars as pl

    reviewed = pl.col("overridden").list.eval(pl.element().str.extract(r"^(\S+)"))
    return (frame
            .join(frustration, on="sid", how="left")
            .with_columns(involved=pl.concat_list(pl.col("failed"), reviewed).list.unique() if reviewed_any
                          else pl.col("failed"),
                          failing=pl.col("failed").list.len() > 0,
                          failed_text=pl.concat_list(pl.col("failed").list.set_difference(reviewed),
                                                     pl.col("overridden")).list.join(", "),
                          labeled=pl.col("session_id").is_in(labeled))
            .with_columns(haystack=pl.concat_str(
                [pl.col("session_id"), pl.col("intent").fill_null(""), pl.col("channel").fill_null(""),
                 pl.col("failed_text"), pl.col("category").fill_null(""), pl.col("segment").fill_null("")],
                separator=" ").str.to_lowercase())
            .select(*SESSION_FRAME_COLUMNS, "frustration", "failed", "categories", "overridden", "involved", "failing",
                    "failed_text", "labeled", "haystack")
            .sort("sid"))


def _failing_names(masks: tuple[int, ...], words: list[int], bits: dict[str, Any]) -> list[str]:
    """The evaluators (in name order) whose bit is set in these per-word failing masks."""
    by_word = dict(zip(words, masks, strict=True))
    return [name for name, b in bits.items() if by_word[b.word] & b.mask]


def _overrides(row: dict[str, Any], bits: dict[str, Any]) -> list[str]:
    """"evaluator (machine → reviewer verdict)" for every verdict a reviewer decided on this session."""
    out = []
    for name, b in bits.items():
        if row[f"h{b.word}"] & b.mask:
            machine = "n/a" if not row[f"ma{b.word}"] & b.mask else "FAIL" if row[f"mf{b.word}"] & b.mask else "pass"
            out.append(f"{name} ({machine} → reviewer {'fail' if row[f'f{b.word}'] & b.mask else 'pass'})")
    return out


# What the failures view needs of a session (the session screen reads the rest from the store).
SESSION_FRAME_COLUMNS = ("sid", "session_id", "tier", "intent", "channel", "segment", "category", "n_turns",
                         "confidence", "correct", "resolved", "escalated")


def calibration_bin_sessions(sessions: pl.DataFrame, tier: int | None, lo: float, hi: float) -> list[str]:
    """The sessions one reliability-diagram bin stands for: stated confidence in [lo, hi) (1.0 in the last bin)
    and a known correctness — exactly the pairs `calibration` counted."""
    import polars as pl

    from cstui.stats import N_BINS

    rows = sessions.filter(pl.col("confidence").is_not_null() & pl.col("correct").is_not_null()
                           & (pl.col("confidence") >= 0) & (pl.col("confidence") <= 1))
    if tier is not None:
        rows = rows.filter(pl.col("tier") == tier)
    bins = (pl.col("confidence") * N_BINS).floor().cast(pl.Int64).clip(0, N_BINS - 1)
    return rows.filter(bins == round(lo * N_BINS))["session_id"].to_list()


def confidently_wrong_sessions(sessions: pl.DataFrame, tier: int | None, threshold: float = 0.7) -> list[str]:
    """What drives a high ECE: answers stated with confidence ≥ threshold that were wrong."""
    import polars as pl

    rows = sessions.filter((pl.col("correct") == False) & (pl.col("confidence") >= threshold))  # noqa: E712
    if tier is not None:
        rows = rows.filter(pl.col("tier") == tier)
    return rows.sort("confidence", descending=True)["session_id"].to_list()


# The session columns the dashboard's drills read (the functions below), kept for a whole run.
DRILL_COLUMNS = ("session_id", "tier", "confidence", "correct", "resolved", "escalated")

# What a tier panel's figures count (docs/metrics.md): each drill lists exactly the sessions behind the number.
OUTCOMES = {
    "unresolved": "not resolved (the resolution figure's misses)",
    "escalated": "handed off to a human (the escalation figure)",
    "contained_unresolved": "contained (no handoff) and not resolved",
}


def outcome_sessions(sessions: pl.DataFrame, tier: int | None, outcome: str) -> list[str]:
    """The sessions of a tier (None: all) behind one headline figure, named in OUTCOMES."""
    import polars as pl

    rows = sessions if tier is None else sessions.filter(pl.col("tier") == tier)
    condition = {
        "unresolved": pl.col("resolved") == False,  # noqa: E712 - unknown resolution is not counted as a miss
        "escalated": pl.col("escalated"),
        "contained_unresolved": ~pl.col("escalated") & (pl.col("resolved") == False),  # noqa: E712
    }[outcome]
    return rows.filter(condition)["session_id"].to_list()


def escalation_bin_sessions(sessions: pl.DataFrame, lo: float) -> list[str]:
    """The sessions one escalation-by-confidence bin counts: stated confidence in [lo, lo + 0.1)."""
    import polars as pl

    from cstui.stats import N_BINS

    rows = sessions.filter(pl.col("confidence").is_not_null() & (pl.col("confidence") >= 0)
                           & (pl.col("confidence") <= 1))
    bins = (pl.col("confidence") * N_BINS).floor().cast(pl.Int64).clip(0, N_BINS - 1)
    return rows.filter(bins == round(lo * N_BINS))["session_id"].to_list()


def sort_frame(frame: pl.DataFrame, column: str | None, descending: bool = False) -> pl.DataFrame:
    if column is None:
        return frame
    return frame.sort(column, descending=descending, nulls_last=True, maintain_order=True)


@dataclass
class SessionView:
    """Everything the session detail screen shows."""

    run: str
    session: Session
    results: list[dict[str, Any]]
    labels: list[dict[str, Any]]
    kb: dict[str, list[KBArticle]] = field(default_factory=dict)  # id → revisions, cited or retrieved
    trust: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # evaluator → measured precision
    # (customer turn index, running frustration score 0-1, what raised it) for every customer turn
    frustration: list[tuple[int, float, list[str]]] = field(default_factory=list)
    frustration_threshold: float = 0.45

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["passed"] is False]


def session_view(store: Store, run: str, session_id: str) -> SessionView:
    session = store.session(run, session_id)
    results = store.session_results(run, session_id)
    labels = store.labels(run, session_id)
    latest: dict[str, str] = {}
    for label in labels:
        if label["evaluator"] and label["verdict"]:
            latest[label["evaluator"]] = label["verdict"]
    for r in results:
        r["machine_passed"] = None if r["passed"] is None else bool(r["passed"])
        r["human_verdict"] = latest.get(r["evaluator"])
        r["passed"] = r["machine_passed"] if r["human_verdict"] is None else r["human_verdict"] == "pass"
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

    measured = trust(store, run, {r["evaluator"]: r["evaluator_version"] for r in results})
    from cstui.config import load_config
    from cstui.evaluators.silent import frustration_curve

    curve = [(p.turn_index, p.score, p.signals) for p in frustration_curve(session)]
    return SessionView(run=run, session=session, results=results, labels=labels, kb=kb, trust=measured,
                       frustration=curve, frustration_threshold=load_config().frustration_threshold)
