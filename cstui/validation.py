"""How often each evaluator is right: precision, recall, F1 and Cohen's κ against labelled sessions.

A flag is a failing verdict, so the positive class is "fail": precision is the share of an evaluator's
failures that a human agrees are failures, recall the share of the humans' failures it flags. A verdict of
"not applicable" counts as not flagging. Truth comes from a labels file (`{session_id, evaluator,
expected: pass|fail, reason}`, JSON Lines) or from the reviewers' labels stored for a run. The contract is
docs/validation.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cstui.agreement import cohen_kappa
from cstui.ingest.records import BadInput, iter_records
from cstui.stats import Z95, wilson_interval


@dataclass(frozen=True)
class TruthLabel:
    session_id: str
    evaluator: str
    expected: str  # "pass" | "fail"
    reason: str = ""
    source: str = "hand"
    corpus: str = ""  # which corpus of the validation set (tests/data/validation/README.md)
    part: str = ""  # "dev" (rules are written against it) or "held-out" (only ever measured)


@dataclass
class Disagreement:
    session_id: str
    kind: str  # "false positive" | "missed"
    verdict: str  # the evaluator's: "fail" | "pass" | "n/a"
    rationale: str
    reason: str  # the label's


@dataclass
class EvaluatorValidity:
    evaluator: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    unjudged: int = 0  # labelled sessions the evaluator has no verdict for
    disagreements: list[Disagreement] = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def expected_failures(self) -> int:
        return self.tp + self.fn

    def precision(self) -> tuple[float | None, float | None, float | None]:
        return _rate(self.tp, self.tp + self.fp)

    def recall(self) -> tuple[float | None, float | None, float | None]:
        return _rate(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float | None:
        p, r = self.precision()[0], self.recall()[0]
        if p is None or r is None or p + r == 0:
            return None
        return 2 * p * r / (p + r)

    def kappa(self) -> tuple[float | None, float | None, float | None]:
        """κ (flag vs label) with its 95% interval from the large-sample standard error."""
        pairs = [(True, True)] * self.tp + [(True, False)] * self.fp + [(False, True)] * self.fn + [(False, False)] * self.tn
        k = cohen_kappa(pairs)
        if k is None or self.n == 0:
            return k, None, None
        po = (self.tp + self.tn) / self.n
        pe = ((self.tp + self.fp) * (self.tp + self.fn) + (self.fn + self.tn) * (self.fp + self.tn)) / self.n ** 2
        se = math.sqrt(po * (1 - po) / (self.n * (1 - pe) ** 2)) if pe < 1 else 0.0
        return k, max(-1.0, k - Z95 * se), min(1.0, k + Z95 * se)

    def to_json(self) -> dict[str, Any]:
        p, r, k = self.precision(), self.recall(), self.kappa()
        return {"n": self.n, "expected_failures": self.expected_failures, "flagged": self.tp + self.fp,
                "tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn, "unjudged": self.unjudged,
                "precision": {"value": p[0], "ci_low": p[1], "ci_high": p[2], "n": self.tp + self.fp},
                "recall": {"value": r[0], "ci_low": r[1], "ci_high": r[2], "n": self.tp + self.fn},
                "f1": self.f1, "kappa": {"value": k[0], "ci_low": k[1], "ci_high": k[2]},
                "disagreements": [d.__dict__ for d in self.disagreements]}


def _rate(k: int, n: int) -> tuple[float | None, float | None, float | None]:
    lo, hi = wilson_interval(k, n)
    return (k / n if n else None), lo, hi


class LabelError(BadInput):
    pass


def load_labels(paths: Iterable[Path]) -> list[TruthLabel]:
    """Labels from JSON Lines files; the same (session, evaluator) twice must agree (first one kept)."""
    seen: dict[tuple[str, str], tuple[TruthLabel, str]] = {}
    for path in paths:
        for line, record in iter_records(path):
            if not isinstance(record, dict):
                raise LabelError(path, line, "expected a JSON object")
            missing = [k for k in ("session_id", "evaluator", "expected") if not record.get(k)]
            if missing:
                raise LabelError(path, line, f"missing {', '.join(missing)}")
            if record["expected"] not in ("pass", "fail"):
                raise LabelError(path, line, f"expected must be 'pass' or 'fail', not {record['expected']!r}")
            part = str(record.get("part") or "")
            if part not in ("", "dev", "held-out"):
                raise LabelError(path, line, f"part must be 'dev' or 'held-out', not {part!r}")
            label = TruthLabel(str(record["session_id"]), str(record["evaluator"]), record["expected"],
                               str(record.get("reason") or ""), str(record.get("source") or "hand"),
                               str(record.get("corpus") or ""), part)
            key = (label.session_id, label.evaluator)
            if key in seen:
                if seen[key][0].expected != label.expected:
                    raise LabelError(path, line, f"{key[0]} / {key[1]} is labelled {label.expected} here and "
                                                 f"{seen[key][0].expected} in {seen[key][1]}")
                continue
            seen[key] = (label, f"{path}:{line}")
    if not seen:
        raise LabelError(next(iter(paths), "labels"), None, "no labels")
    return [label for label, _ in seen.values()]


def measure(labels: Sequence[TruthLabel], verdicts: dict[tuple[str, str], tuple[bool | None, str]],
            evaluators: Sequence[str] | None = None) -> dict[str, EvaluatorValidity]:
    """Compare labels with verdicts {(session_id, evaluator): (passed, rationale)} per evaluator."""
    out: dict[str, EvaluatorValidity] = {}
    for label in labels:
        if evaluators and label.evaluator not in evaluators:
            continue
        entry = out.setdefault(label.evaluator, EvaluatorValidity(label.evaluator))
        found = verdicts.get((label.session_id, label.evaluator))
        if found is None:
            entry.unjudged += 1
            continue
        passed, rationale = found
        flagged = passed is False
        should = label.expected == "fail"
        if flagged and should:
            entry.tp += 1
        elif flagged:
            entry.fp += 1
            entry.disagreements.append(Disagreement(label.session_id, "false positive", "fail", rationale, label.reason))
        elif should:
            entry.fn += 1
            entry.disagreements.append(Disagreement(label.session_id, "missed", "n/a" if passed is None else "pass",
                                                    rationale, label.reason))
        else:
            entry.tn += 1
    return dict(sorted(out.items()))


def is_outcome(label: TruthLabel) -> bool:
    """A label that is a session's outcome (task success), not a reading of the evaluator's own definition."""
    return label.source.startswith("outcome")


def by_part(labels: Sequence[TruthLabel], verdicts: dict[tuple[str, str], tuple[bool | None, str]],
            evaluators: Sequence[str] | None = None) -> dict[tuple[str, str], dict[str, EvaluatorValidity]]:
    """`measure` per (corpus, part), then every held-out part pooled as ("all", "held-out") and every development
    part as ("all", "dev"): the figures that count are the held-out ones."""
    return {key: measure(group, verdicts, evaluators) for key, group in part_groups(labels).items()}


def part_groups(labels: Sequence[TruthLabel]) -> dict[tuple[str, str], list[TruthLabel]]:
    """Labels per (corpus, part), and pooled per part as ("all", part) — outcome labels left out of the pools,
    which hold evaluators to their own definitions."""
    groups: dict[tuple[str, str], list[TruthLabel]] = {}
    for label in labels:
        groups.setdefault((label.corpus or "(no corpus)", label.part or "(no part)"), []).append(label)
        if label.part and not is_outcome(label):
            groups.setdefault(("all", label.part), []).append(label)
    return dict(sorted(groups.items()))


def verdicts_of(store: Any, run: str) -> dict[tuple[str, str], tuple[bool | None, str]]:
    return {(r["session_id"], r["evaluator"]): (r["passed"], r["rationale"] or "")
            for r in store.iter_result_rows(run)}


def scores_of(store: Any, run: str, evaluators: Iterable[str]) -> dict[tuple[str, str], float]:
    """The scores graded evaluators gave in a run, per (session, evaluator)."""
    wanted = set(evaluators)
    return {(r["session_id"], r["evaluator"]): float(r["score"]) for r in store.iter_result_rows(run)
            if r["evaluator"] in wanted and r["score"] is not None}


def run_truth(store: Any, run: str) -> tuple[list[TruthLabel], dict[tuple[str, str], tuple[bool | None, str]]]:
    """The reviewers' newest verdict per (session, evaluator) of a run as truth, with the machine verdicts of
    just those pairs (a run of 100k sessions has a few hundred labels; its verdicts are not all read)."""
    labels, verdicts = [], {}
    for row in store.labelled_verdicts(run):
        labels.append(TruthLabel(row["session_id"], row["evaluator"], row["verdict"], row["reason"] or "",
                                 f"label by {row['reviewer']}"))
        if row["has_result"]:
            verdicts[(row["session_id"], row["evaluator"])] = (row["passed"], row["rationale"] or "")
    return labels, verdicts


# ---------------------------------------------------------------------- against the run's own outcomes
def outcome_check(store: Any, run: str, evaluators: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per evaluator, what its flags say about the sessions' recorded outcomes (τ-bench `reward`, outcome fields):
    the resolution rate of flagged vs unflagged sessions, and how many contained-but-unresolved sessions it
    flags. Outcomes only measure evaluators here; no evaluator reads them."""
    import polars as pl

    from cstui.stats import rate

    sessions = store.sessions_frame(run).select("sid", "resolved", "escalated")
    results = store.results_frame(run)
    out: dict[str, dict[str, Any]] = {}
    gap_sessions = sessions.filter(~pl.col("escalated") & (pl.col("resolved") == False))  # noqa: E712
    for name in evaluators:
        verdicts = (results.filter((pl.col("evaluator") == name) & pl.col("passed").is_not_null())
                    .join(sessions, on="sid").filter(pl.col("resolved").is_not_null()))
        if verdicts.is_empty():
            continue
        flagged, unflagged = verdicts.filter(~pl.col("passed")), verdicts.filter(pl.col("passed"))
        resolved_flagged = rate(int(flagged["resolved"].sum()), flagged.height)
        resolved_unflagged = rate(int(unflagged["resolved"].sum()), unflagged.height)
        found = int(gap_sessions.join(flagged.select("sid"), on="sid").height)
        out[name] = {
            "flagged": flagged.height, "unflagged": unflagged.height,
            "resolved_flagged": resolved_flagged, "resolved_unflagged": resolved_unflagged,
            "gap": None if resolved_flagged["value"] is None or resolved_unflagged["value"] is None
            else resolved_flagged["value"] - resolved_unflagged["value"],
            "contained_unresolved": {"n": gap_sessions.height, "flagged": found},
        }
    return out


def outcome_table(outcomes: dict[str, dict[str, Any]]) -> list[str]:
    def pct(r: dict[str, Any]) -> str:
        return "—" if r["value"] is None else f"{100 * r['value']:.0f}% [{100 * r['ci_low']:.0f}–{100 * r['ci_high']:.0f}]"

    lines = [f"{'evaluator':<27} {'flagged':>7}  {'resolved when flagged':<22} {'resolved otherwise':<20} {'gap':>8}  "
             "contained-unresolved it flags"]
    for name, o in outcomes.items():
        gap = "—" if o["gap"] is None else f"{100 * o['gap']:+.0f} pts"
        cu = o["contained_unresolved"]
        lines.append(f"{name:<27} {o['flagged']:>7}  {pct(o['resolved_flagged']):<22} {pct(o['resolved_unflagged']):<20} "
                     f"{gap:>8}  {cu['flagged']} of {cu['n']}")
    return lines


# ---------------------------------------------------------------------- trust shown beside verdicts
SHIPPED_SUMMARY = "validated.json"
SHIPPED_SOURCE = "held-out validation set"
RUN_SOURCE = "reviewers of this run"
TRUSTED_PRECISION = 0.9


def summary(v: EvaluatorValidity, *, version: str | None = None, source: str) -> dict[str, Any]:
    """The compact figure shown beside an evaluator's verdicts (report, dashboard, failures list).

    Recall is only given when the labels include sessions the evaluator did not flag: labels given while
    triaging failures mostly cover flagged sessions, and recall over those alone would read 1.0."""
    p, r = [tuple(None if x is None else round(x, 4) for x in rate) for rate in (v.precision(), v.recall())]
    knows_recall = v.fn + v.tn > 0
    return {"precision": p[0], "precision_ci": [p[1], p[2]] if p[0] is not None else None,
            "recall": r[0] if knows_recall else None,
            "recall_ci": [r[1], r[2]] if knows_recall and r[0] is not None else None,
            "n": v.n, "flagged": v.tp + v.fp, "confirmed": v.tp, "expected_failures": v.expected_failures,
            "version": version, "source": source}


def shipped_summary() -> dict[str, Any]:
    """Figures measured on the validation set that ships with cstui (tests/data/validation, regenerated by
    `make validated`); {} when the file is missing."""
    from importlib.resources import files

    import orjson

    try:
        return orjson.loads(files("cstui").joinpath(SHIPPED_SUMMARY).read_bytes())
    except (FileNotFoundError, OSError, ValueError):
        return {}


# How many flags of the held-out figure a run's own labels are weighed against: one label moves the figure, but a
# held-out precision measured on conversations of other deployments stops counting for more than this many.
PRIOR_FLAGS = 20


def trust(store: Any, run: str, versions: dict[str, str]) -> dict[str, dict[str, Any] | None]:
    """Per evaluator of a run: its precision on the shipped validation set's held-out parts (conversations no rule
    was tuned against), refined by the reviewers' labels of this run: a Beta prior from the held-out counts (at
    most PRIOR_FLAGS flags' weight) updated with the run's confirmed and rejected flags. Both sources are kept in
    the entry (`held_out`, `run`), with their n.

    Computed on every call, so a relabel changes the figure at once."""
    labels, verdicts = run_truth(store, run)
    measured = measure(labels, verdicts)
    shipped = shipped_summary().get("evaluators", {})
    out: dict[str, dict[str, Any] | None] = {}
    for evaluator, version in sorted(versions.items()):
        own = measured.get(evaluator)
        base = shipped.get(evaluator)
        if (own is None or not own.n) and base is None:
            out[evaluator] = None
            continue
        entry: dict[str, Any] = {"source": SHIPPED_SOURCE if base else RUN_SOURCE, "version": version,
                                 "stale": bool(base and base.get("version") not in (None, version))}
        if base is not None:
            entry["held_out"] = {k: base.get(k) for k in ("precision", "precision_ci", "flagged", "confirmed", "n",
                                                        "recall", "recall_ci", "expected_failures")}
        run_flags = run_confirmed = 0
        if own is not None and own.n:
            entry["run"] = summary(own, version=version, source=RUN_SOURCE)
            run_flags, run_confirmed = own.tp + own.fp, own.tp
        prior_n = min(base.get("flagged") or 0, PRIOR_FLAGS) if base and base.get("precision") is not None else 0
        alpha = (base["precision"] * prior_n) if prior_n else 0.0
        flags = prior_n + run_flags
        if flags:
            p = (alpha + run_confirmed) / flags
            lo, hi = wilson_interval(round(alpha + run_confirmed), flags)
            entry.update(precision=round(p, 4), precision_ci=[lo, hi])
        else:
            entry.update(precision=None, precision_ci=None)
        if run_flags:
            entry["source"] = f"{SHIPPED_SOURCE} + {RUN_SOURCE}" if prior_n else RUN_SOURCE
        sources = [x for x in (base, entry.get("run")) if x]
        entry.update(flagged=sum(x.get("flagged") or 0 for x in sources),
                     confirmed=sum(x.get("confirmed") or 0 for x in sources),
                     expected_failures=sum(x.get("expected_failures") or 0 for x in sources),
                     n=sum(x.get("n") or 0 for x in sources))
        recall_from = base if base and base.get("recall") is not None else entry.get("run") or {}
        entry.update(recall=recall_from.get("recall"), recall_ci=recall_from.get("recall_ci"))
        out[evaluator] = entry
    return out


def run_trust(store: Any, run: str) -> dict[str, dict[str, Any] | None]:
    """`trust` for every evaluator that has verdicts in the run."""
    return trust(store, run, store.evaluator_versions(run))


def trust_text(entry: dict[str, Any] | None, *, short: bool = False) -> tuple[str, str]:
    """(text, style) for a precision figure in the UI: 'P 0.92 (held-out, 48 flags)', with a run's own labels
    'P 0.88 (held-out 0.92 of 48 flags + this run 0/1)'; '0.88 h+r' when short.

    Red below TRUSTED_PRECISION: those are the flags a reviewer should doubt."""
    if not entry or entry.get("precision") is None:
        if short:
            return "—", "dim"
        return ("unmeasured", "dim") if not entry else (f"no flags among {entry.get('n', 0)} labelled", "dim")
    style = "green" if entry["precision"] >= TRUSTED_PRECISION else "bold red"
    held, run = entry.get("held_out"), entry.get("run")
    stale = "*" if entry.get("stale") else ""
    if short:
        where = "h+r" if held and run else "run" if run else "held"
        return f"{entry['precision']:.2f} {where}{stale}", style
    parts = []
    if held and held.get("precision") is not None:
        parts.append(f"held-out {held['precision']:.2f} of {held['flagged']} flag{'' if held['flagged'] == 1 else 's'}"
                     + (", older version" if stale else ""))
    if run:
        parts.append(f"this run {run['confirmed']}/{run['flagged']}")
    return f"P {entry['precision']:.2f} ({' + '.join(parts)})", style


def table(results: dict[str, EvaluatorValidity]) -> list[str]:
    """The validation table as text lines (one row per evaluator)."""
    def pct(v: tuple[float | None, float | None, float | None]) -> str:
        if v[0] is None:
            return "—"
        return f"{v[0]:.2f} [{v[1]:.2f}–{v[2]:.2f}]"

    width = max([len(e) for e in results] + [9])
    lines = [f"{'evaluator':<{width}}  {'n':>4}  {'fail':>4}  {'flag':>4}  {'TP':>3}  {'FP':>3}  {'FN':>3}  "
             f"{'precision':<17}  {'recall':<17}  {'F1':>4}  {'κ':>5}"]
    for name, v in results.items():
        f1 = "—" if v.f1 is None else f"{v.f1:.2f}"
        k = v.kappa()[0]
        lines.append(f"{name:<{width}}  {v.n:>4}  {v.expected_failures:>4}  {v.tp + v.fp:>4}  {v.tp:>3}  {v.fp:>3}  "
                     f"{v.fn:>3}  {pct(v.precision()):<17}  {pct(v.recall()):<17}  {f1:>4}  "
                     f"{'—' if k is None else f'{k:.2f}':>5}")
    return lines


# ---------------------------------------------------------------------- scores: do they rank?
# The baselines a scored evaluator must beat (issue 34): the ten-line complaint-word list reviewers reach for first,
# and the plain length of the conversation (longer chats give frustration more chances).
COMPLAINT_WORDS = frozenset({
    "not", "never", "no", "problem", "issue", "error", "wrong", "still", "again", "already", "complain", "complaint",
    "cancel", "refund", "terrible", "bad", "worst", "angry", "frustrated", "disappointed", "annoyed", "ridiculous",
    "unacceptable", "useless", "waste", "manager", "supervisor", "why", "nobody", "broken"})
FRUSTRATED_EMOTIONS = frozenset({"frustration", "anger"})
# MAIA-DQE dialogues held out (tests/data/validation/README.md): two in five, by a hash of the dialogue id.


def maia_part(dialogue_id: str) -> str:
    import hashlib

    return "held-out" if int(hashlib.sha256(dialogue_id.encode()).hexdigest()[:8], 16) % 5 < 2 else "dev"


def annotated_labels(docs: Iterable[dict[str, Any]]) -> list[TruthLabel]:
    """Labels the sessions carry from their annotators (MAIA-DQE: per-sentence customer emotions, dialogue task
    success): `frustration` fails where a customer sentence was marked frustration or anger; `silent_failure`
    is held to the outcome, task success ≤ 2 of 5. Derived when validating, never stored: the corpus's licence
    allows no converted copy."""
    out = []
    for doc in docs:
        source = doc.get("source") or {}
        if source.get("format") not in ("maia", "maia-dqe"):
            continue
        sid, part = str(doc["session_id"]), maia_part(str(doc["session_id"]))
        felt = any(FRUSTRATED_EMOTIONS & set(t.get("emotions") or []) for t in doc.get("turns") or []
                   if t.get("role") == "customer")
        out.append(TruthLabel(sid, "frustration", "fail" if felt else "pass",
                              "an annotator marked a customer sentence frustration or anger" if felt else
                              "no customer sentence marked frustration or anger", "annotators", "maia", part))
        success = source.get("task_success")
        if isinstance(success, int | float):
            out.append(TruthLabel(sid, "silent_failure", "fail" if success <= 2 else "pass",
                                  f"annotators rated task success {success:g} of 5", "outcome: task success ≤ 2",
                                  "maia", part))
    return out


def baseline_scores(docs: Iterable[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per baseline, per session: the complaint-word count of the customer's turns, and their number."""
    import re

    words, turns = {}, {}
    for doc in docs:
        said = [str(t.get("text") or "") for t in doc.get("turns") or [] if t.get("role") == "customer"]
        words[doc["session_id"]] = float(sum(1 for text in said for w in re.findall(r"[a-z]+", text.lower())
                                             if w in COMPLAINT_WORDS))
        turns[doc["session_id"]] = float(len(said))
    return {"complaint words": words, "customer turns": turns}


def roc_auc(scores: Sequence[float], positive: Sequence[bool]) -> float | None:
    """The chance a random positive scores above a random negative (ties count half); None without both."""
    pairs = sorted(zip(scores, positive, strict=True))
    n_pos = sum(positive)
    n_neg = len(pairs) - n_pos
    if not n_pos or not n_neg:
        return None
    rank_sum, i = 0.0, 0
    while i < len(pairs):  # average ranks over ties (Mann–Whitney U)
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        rank_sum += (i + j + 1) / 2 * sum(1 for k in range(i, j) if pairs[k][1])
        i = j
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def bootstrap_auc(scores: Sequence[float], positive: Sequence[bool], *, rounds: int = 1000,
                  seed: int = 7) -> tuple[float | None, float | None]:
    """A 95% percentile interval for the AUC, resampling sessions (seeded: the same figures every run)."""
    import random

    rng = random.Random(seed)
    n, found = len(scores), []
    for _ in range(rounds):
        idx = [rng.randrange(n) for _ in range(n)]
        a = roc_auc([scores[i] for i in idx], [positive[i] for i in idx])
        if a is not None:
            found.append(a)
    if len(found) < rounds // 2:
        return None, None
    found.sort()
    return found[int(0.025 * len(found))], found[int(0.975 * len(found)) - 1]


@dataclass
class Ranking:
    """How well a scored evaluator orders sessions by its labels, beside the baselines on the same sessions."""

    evaluator: str
    n: int
    positives: int
    auc: float | None
    ci: tuple[float | None, float | None]
    baselines: dict[str, float | None]

    @property
    def beats_baselines(self) -> bool | None:
        if self.auc is None or not self.baselines:
            return None
        return all(b is None or self.auc > b for b in self.baselines.values())

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "positives": self.positives, "auc": self.auc, "auc_ci": list(self.ci),
                "baselines": self.baselines, "beats_baselines": self.beats_baselines}


def rank(labels: Sequence[TruthLabel], scores: dict[tuple[str, str], float],
         baselines: dict[str, dict[str, float]], evaluators: Sequence[str] | None = None) -> dict[str, Ranking]:
    """ROC AUC (with a bootstrap interval) of every evaluator that gave scores, against its labels."""
    out: dict[str, Ranking] = {}
    by_evaluator: dict[str, list[TruthLabel]] = {}
    for label in labels:
        if (evaluators is None or label.evaluator in evaluators) and (label.session_id, label.evaluator) in scores:
            by_evaluator.setdefault(label.evaluator, []).append(label)
    for name, group in sorted(by_evaluator.items()):
        positive = [label.expected == "fail" for label in group]
        values = [scores[(label.session_id, name)] for label in group]
        found = roc_auc(values, positive)
        base = {b: roc_auc([per.get(label.session_id, 0.0) for label in group], positive)
                for b, per in baselines.items()}
        out[name] = Ranking(name, len(group), sum(positive), found,
                            bootstrap_auc(values, positive) if found is not None else (None, None), base)
    return out


def ranking_table(rankings: dict[str, Ranking]) -> list[str]:
    lines = [f"{'evaluator':24} {'n':>5} {'pos':>5}  {'AUC':19}  baselines (AUC)"]
    for name, r in rankings.items():
        auc = "—" if r.auc is None else f"{r.auc:.2f} [{r.ci[0]:.2f}–{r.ci[1]:.2f}]" if r.ci[0] is not None \
            else f"{r.auc:.2f}"
        base = ", ".join(f"{b} {'—' if v is None else f'{v:.2f}'}" for b, v in r.baselines.items())
        verdict = {True: "beats them", False: "DOES NOT beat them", None: ""}[r.beats_baselines]
        lines.append(f"{name:24} {r.n:>5} {r.positives:>5}  {auc:19}  {base}  {verdict}")
    return lines
