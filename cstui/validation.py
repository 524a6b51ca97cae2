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
from cstui.metrics import Z95, wilson_interval


@dataclass(frozen=True)
class TruthLabel:
    session_id: str
    evaluator: str
    expected: str  # "pass" | "fail"
    reason: str = ""
    source: str = "hand"


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
            label = TruthLabel(str(record["session_id"]), str(record["evaluator"]), record["expected"],
                               str(record.get("reason") or ""), str(record.get("source") or "hand"))
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


def verdicts_of(store: Any, run: str) -> dict[tuple[str, str], tuple[bool | None, str]]:
    return {(r["session_id"], r["evaluator"]): (r["passed"], r["rationale"] or "")
            for r in store.iter_result_rows(run)}


def run_labels(store: Any, run: str) -> list[TruthLabel]:
    """The reviewers' newest verdict per (session, evaluator) in a run, as truth."""
    newest: dict[tuple[str, str], TruthLabel] = {}
    for row in store.labels_all():
        if row["run"] == run and row["evaluator"] and row["verdict"] in ("pass", "fail"):
            newest[(row["session_id"], row["evaluator"])] = TruthLabel(
                row["session_id"], row["evaluator"], row["verdict"], row["note"] or row["reason"] or "",
                f"label by {row['reviewer']}")
    return list(newest.values())


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
