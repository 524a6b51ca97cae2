"""Order-free accumulators that reports and gates fill chunk by chunk (docs/metrics.md, docs/scale.md).

A run is read in bounded chunks (`Store.run_chunks`); each chunk is reduced with polars to a few grouped counts
that these tallies add up. Memory is what the tallies hold (counts per stratum, per confidence value), not the
sessions. Float sums are kept exactly and rounded once, so a figure is the same number whatever the chunking or
the order of the additions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cstui.stats import N_BINS, rate

if TYPE_CHECKING:
    import polars as pl

    from cstui.store.chunks import VerdictBit

_SCALE = 1100  # every double is an integer multiple of 2**-1074, so sums scaled by 2**1100 are exact integers


class ExactSum:
    """A sum of floats held exactly; `value` and `mean` round once (correctly)."""

    __slots__ = ("_total",)

    def __init__(self) -> None:
        self._total = 0

    def add(self, x: float, times: int = 1) -> None:
        num, den = float(x).as_integer_ratio()
        self._total += (num * times) << (_SCALE - den.bit_length() + 1)

    def merge(self, other: ExactSum) -> None:
        self._total += other._total

    def value(self) -> float:
        return self._total / (1 << _SCALE)

    def mean(self, n: int) -> float:
        return self._total / (n << _SCALE)


def percentile_of_counts(counts: dict[int, int], q: float) -> float | None:
    """`stats.percentile` of the values a histogram stands for, without expanding it."""
    total = sum(counts.values())
    if not total:
        return None
    pos = (total - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)

    def at(index: int) -> int:
        seen = 0
        for value in sorted(counts):
            seen += counts[value]
            if index < seen:
                return value
        raise IndexError(index)

    return at(lo) + (at(hi) - at(lo)) * (pos - lo)


@dataclass
class SessionCounts:
    """Headline counts of a set of sessions: `block()` is the report's session block."""

    n: int = 0
    escalated: int = 0
    contained: int = 0
    resolved_known: int = 0
    resolved: int = 0
    correct_known: int = 0
    correct: int = 0
    contained_unresolved: int = 0

    def add(self, resolved: bool | None, escalated: bool, correct: bool | None, count: int) -> None:
        self.n += count
        self.escalated += count if escalated else 0
        self.contained += 0 if escalated else count
        if resolved is not None:
            self.resolved_known += count
            self.resolved += count if resolved else 0
            self.contained_unresolved += count if not (resolved or escalated) else 0
        if correct is not None:
            self.correct_known += count
            self.correct += count if correct else 0

    def merge(self, other: SessionCounts) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def block(self) -> dict[str, Any]:
        return {"n": self.n, "resolution_rate": rate(self.resolved, self.resolved_known),
                "escalation_rate": rate(self.escalated, self.n), "correct_rate": rate(self.correct, self.correct_known),
                "containment": rate(self.contained, self.n),
                "contained_unresolved": rate(self.contained_unresolved, self.resolved_known)}


@dataclass
class CalibrationTally:
    """(confidence, correct) pairs in [0, 1]; `result()` is `calibration`'s document."""

    n: int = 0
    correct: int = 0
    confidence: ExactSum = field(default_factory=ExactSum)
    squared_error: ExactSum = field(default_factory=ExactSum)
    bins: dict[int, tuple[int, ExactSum, int]] = field(default_factory=dict)

    def add(self, confidence: float, correct: bool, count: int) -> None:
        hit = 1 if correct else 0
        self.n += count
        self.correct += hit * count
        self.confidence.add(confidence, count)
        self.squared_error.add((confidence - hit) ** 2, count)
        b = min(max(math.floor(confidence * N_BINS), 0), N_BINS - 1)
        k, conf, acc = self.bins.get(b) or (0, ExactSum(), 0)
        conf.add(confidence, count)
        self.bins[b] = (k + count, conf, acc + hit * count)

    def merge(self, other: CalibrationTally) -> None:
        self.n += other.n
        self.correct += other.correct
        self.confidence.merge(other.confidence)
        self.squared_error.merge(other.squared_error)
        for b, (count, conf, acc) in other.bins.items():
            k, mine, hits = self.bins.get(b) or (0, ExactSum(), 0)
            mine.merge(conf)
            self.bins[b] = (k + count, mine, hits + acc)

    def result(self) -> dict[str, Any]:
        n, bins, ece = self.n, [], 0.0
        for b in range(N_BINS):
            count, conf, acc = self.bins.get(b) or (0, None, 0)
            mean_conf = conf.mean(count) if conf is not None and count else None
            accuracy = acc / count if count else None
            if count:
                ece += count / n * abs(mean_conf - accuracy)  # type: ignore[operator]
            bins.append({"lo": b / N_BINS, "hi": (b + 1) / N_BINS, "n": count, "confidence": mean_conf,
                         "accuracy": accuracy})
        mean_conf = self.confidence.mean(n) if n else None
        accuracy = self.correct / n if n else None
        return {"ece": ece if n else None, "brier": self.squared_error.mean(n) if n else None, "n": n,
                "mean_confidence": mean_conf, "accuracy": accuracy,
                "overconfidence": None if not n else mean_conf - accuracy, "bins": bins}  # type: ignore[operator]


@dataclass
class EscalationTally:
    """Escalation against stated confidence: bins, and Spearman's ρ computed exactly from the counts per
    distinct confidence (memory grows with distinct confidences, not sessions)."""

    counts: Counter[tuple[float, bool]] = field(default_factory=Counter)

    def add(self, confidence: float, escalated: bool, count: int) -> None:
        self.counts[(confidence, escalated)] += count

    def result(self) -> dict[str, Any]:
        n = sum(self.counts.values())
        per_bin: dict[int, list[int]] = {}
        for (conf, esc), count in self.counts.items():
            entry = per_bin.setdefault(min(max(math.floor(conf * N_BINS), 0), N_BINS - 1), [0, 0])
            entry[0] += count
            entry[1] += count if esc else 0
        bins = []
        for b in range(N_BINS):
            k, esc = per_bin.get(b, (0, 0))
            bins.append({"lo": b / N_BINS, "hi": (b + 1) / N_BINS, "n": k, "escalated": esc,
                         **{key: v for key, v in rate(esc, k).items() if key in ("value", "ci_low", "ci_high")}})
        return {"n": n, "spearman": self.spearman(n), "bins": bins}

    def spearman(self, n: int) -> float | None:
        """Pearson's r of average ranks (ties share their mean rank), in integer arithmetic on doubled ranks."""
        confidences = sorted({c for c, _ in self.counts})
        escalated = sum(k for (_, e), k in self.counts.items() if e)
        if n < 3 or len(confidences) < 2 or escalated in (0, n):
            return None
        x_rank: dict[float, int] = {}
        seen = 0
        for conf in confidences:
            tied = self.counts.get((conf, False), 0) + self.counts.get((conf, True), 0)
            x_rank[conf] = 2 * seen + tied + 1  # twice the mean of ranks seen+1 … seen+tied
            seen += tied
        stays = n - escalated
        y_rank = {False: stays + 1, True: 2 * stays + escalated + 1}
        sx = sy = sxy = sxx = syy = 0
        for (conf, esc), count in self.counts.items():
            x, y = x_rank[conf], y_rank[esc]
            sx += x * count
            sy += y * count
            sxy += x * y * count
            sxx += x * x * count
            syy += y * y * count
        cov, var_x, var_y = n * sxy - sx * sy, n * sxx - sx * sx, n * syy - sy * sy
        if var_x == 0 or var_y == 0:
            return None
        return cov / math.sqrt(var_x * var_y)


@dataclass
class EvaluatorCounts:
    """Per evaluator, per (tier, stratum value): verdicts present, applicable, passed, decided by a reviewer."""

    bits: dict[str, VerdictBit]
    by: str | None = None
    groups: dict[tuple[Any, Any], list[int]] = field(default_factory=dict)

    def add_chunk(self, chunk: pl.DataFrame) -> None:
        import polars as pl

        if not self.bits:
            return
        keys = ["tier"] + ([self.by] if self.by and self.by != "tier" else [])
        aggs = []
        for i, (_, b) in enumerate(self.bits.items()):
            w, m = b.word, b.mask
            applies = (pl.col(f"a{w}") & m) != 0
            aggs += [((pl.col(f"p{w}") & m) != 0).sum().alias(f"t{i}"), applies.sum().alias(f"n{i}"),
                     (applies & ((pl.col(f"f{w}") & m) == 0)).sum().alias(f"k{i}"),
                     ((pl.col(f"h{w}") & m) != 0).sum().alias(f"h{i}")]
        for row in chunk.group_by(keys).agg(aggs).iter_rows():
            key = (row[0], row[1] if len(keys) == 2 else None)
            counts = self.groups.setdefault(key, [0] * (4 * len(self.bits)))
            for j, value in enumerate(row[len(keys):]):
                counts[j] += value

    def totals(self, evaluator_index: int, where: Iterable[tuple[Any, Any]] | None = None) -> tuple[int, ...]:
        """(present, applicable, passed, human) summed over the groups (all when `where` is None)."""
        keys = self.groups if where is None else where
        out = [0, 0, 0, 0]
        for key in keys:
            counts = self.groups.get(key)
            if counts:
                for j in range(4):
                    out[j] += counts[4 * evaluator_index + j]
        return tuple(out)


def any_bit(bits: Iterable[VerdictBit], *, failed: bool = False) -> pl.Expr:
    """True where any of these evaluators applies in a chunk (`failed`: applies and failed), reviewers' verdicts
    applied."""
    import polars as pl

    terms = []
    for b in bits:
        term = pl.col(f"a{b.word}") & b.mask
        if failed:
            term = term & pl.col(f"f{b.word}")
        terms.append(term != 0)
    return pl.any_horizontal(terms) if terms else pl.lit(False)


def calibration(pairs: Iterable[tuple[float, bool]] | pl.DataFrame) -> dict[str, Any]:
    """ECE, Brier and the reliability-diagram bins for (confidence, correct) pairs, or a frame with
    `confidence` and `correct` columns (rows missing either, or outside [0, 1], are left out)."""
    import polars as pl

    tally = CalibrationTally()
    if isinstance(pairs, pl.DataFrame):
        valid = pairs.select(pl.col("confidence").cast(pl.Float64), pl.col("correct").cast(pl.Boolean)).filter(
            pl.col("confidence").is_not_null() & pl.col("correct").is_not_null()
            & (pl.col("confidence") >= 0) & (pl.col("confidence") <= 1))
        for conf, correct, n in valid.group_by("confidence", "correct").len().iter_rows():
            tally.add(conf, correct, n)
    else:
        for conf, correct in pairs:
            if conf is not None and correct is not None and 0 <= conf <= 1:
                tally.add(float(conf), bool(correct), 1)
    return tally.result()
