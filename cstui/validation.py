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


def by_part(labels: Sequence[TruthLabel], verdicts: dict[tuple[str, str], tuple[bool | None, str]],
            evaluators: Sequence[str] | None = None) -> dict[tuple[str, str], dict[str, EvaluatorValidity]]:
    """`measure` per (corpus, part), then every held-out part pooled as ("all", "held-out") and every development
    part as ("all", "dev"): the figures that count are the held-out ones."""
    groups: dict[tuple[str, str], list[TruthLabel]] = {}
    for label in labels:
        groups.setdefault((label.corpus or "(no corpus)", label.part or "(no part)"), []).append(label)
        if label.part:
            groups.setdefault(("all", label.part), []).append(label)
    return {key: measure(group, verdicts, evaluators) for key, group in sorted(groups.items())}


def verdicts_of(store: Any, run: str) -> dict[tuple[str, str], tuple[bool | None, str]]:
    return {(r["session_id"], r["evaluator"]): (r["passed"], r["rationale"] or "")
            for r in store.iter_result_rows(run)}


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
    results = store.results_frame(run, with_labels=False)
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
