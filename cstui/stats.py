"""The statistics every report and gate shares: Wilson intervals, rates, calibration (ECE, Brier, bins), and
how many sessions a threshold needs (definitions: docs/metrics.md). No I/O, no store; polars only where a
frame is given."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

Z95 = 1.959963984540054
N_BINS = 10
TIERS = (1, 2, 3)
def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson score interval for k successes in n trials; (None, None) when n is 0."""
    if n <= 0:
        return None, None
    p = k / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if k == 0 else max(0.0, center - half)  # exact at the ends, where float error would leak
    hi = 1.0 if k == n else min(1.0, center + half)
    return lo, hi


def rate(k: int, n: int) -> dict[str, Any]:
    lo, hi = wilson_interval(k, n)
    return {"value": (k / n) if n else None, "ci_low": lo, "ci_high": hi, "n": n, "k": k}


def confidence_bin(confidence: float) -> int:
    """Bin index for a confidence in [0, 1]: [0,0.1)→0 … [0.9,1.0]→9."""
    return min(int(confidence * N_BINS), N_BINS - 1)


def tier_key(tier: Any) -> str:
    return f"tier_{tier}" if tier in TIERS else "tier_unknown"


def min_n_to_demonstrate(threshold: float) -> int | None:
    """Smallest n at which a perfect score's Wilson lower bound, n / (n + z²), reaches the threshold."""
    if threshold >= 1:
        return None
    if threshold <= 0:
        return 1
    return math.ceil(threshold * Z95 * Z95 / (1 - threshold) - 1e-9)


def sample_size_warning(n: int, threshold: float) -> str | None:
    """Say so when n sessions cannot show the threshold is met, even if every one passes."""
    if n <= 0:
        return None
    needed = min_n_to_demonstrate(threshold)
    if needed is None:  # a 100% rule: zero failures in n only bounds the failure rate below ~3/n
        if 3 / n > 0.05:
            return (f"n={n}: zero failures in {n} sessions only bounds the failure rate below {3 / n:.0%} "
                    f"(rule of three); a 100% rule needs n ≥ 60 to mean much")
        return None
    if n < needed:
        return (f"n={n} is too small to demonstrate ≥ {threshold:.0%}: even {n}/{n} passing has a 95% lower "
                f"bound of {n / (n + Z95 * Z95):.1%} (needs n ≥ {needed})")
    return None


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), None for no values."""
    if not values:
        return None
    values = sorted(values)
    pos = (len(values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def mean_interval(n: int, total: float, squares: float) -> dict[str, Any]:
    """The mean of n values in [0, 1] (from their sum and sum of squares) with a normal-approximation 95% interval,
    clipped to [0, 1]; value None when n is 0."""
    if n == 0:
        return {"value": None, "ci_low": None, "ci_high": None, "n": 0}
    mean = total / n
    variance = max(0.0, squares / n - mean * mean) * (n / (n - 1) if n > 1 else 1.0)
    half = Z95 * math.sqrt(variance / n)
    return {"value": mean, "ci_low": max(0.0, mean - half), "ci_high": min(1.0, mean + half), "n": n}
