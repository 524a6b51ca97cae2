import math
from collections import Counter

import pytest

from cstui.metrics import calibration, confidence_bin, wilson_interval


def test_wilson_matches_hand_computation():
    # k=8, n=10, z=1.96: center = (0.8 + 0.19208)/1.38416 = 0.71680; half = 1.96*sqrt(0.016+0.0096)/1.38416
    # = 0.22656 → [0.4902, 0.9434]
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9434, abs=1e-4)


@pytest.mark.parametrize("k,n", [(0, 7), (3, 7), (7, 7), (91, 100), (12, 12), (1, 400)])
def test_wilson_matches_scipy(k, n):
    from scipy.stats import binomtest

    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(ref.low, abs=1e-9) and hi == pytest.approx(ref.high, abs=1e-9)


@pytest.mark.parametrize("k,n", [(0, 10), (10, 10), (1, 1), (50, 100), (999, 1000)])
def test_wilson_is_a_valid_interval(k, n):
    lo, hi = wilson_interval(k, n)
    assert 0 <= lo <= k / n <= hi <= 1
    if k == n:
        assert hi == pytest.approx(1.0) and lo < 1
    if k == 0:
        assert lo == pytest.approx(0.0) and hi > 0


def test_wilson_with_no_data():
    assert wilson_interval(0, 0) == (None, None)


def test_bins_are_equal_width_with_one_in_the_last():
    assert [confidence_bin(x) for x in (0.0, 0.05, 0.1, 0.3, 0.7, 0.95, 1.0)] == [0, 0, 1, 3, 7, 9, 9]


def test_ece_and_brier_hand_example():
    pairs = [(0.9, True), (0.9, True), (0.9, False), (0.3, False)]
    cal = calibration(pairs)
    # bin 9: conf 0.9, acc 2/3 → |0.9-0.667|*3/4 ; bin 3: conf 0.3, acc 0 → 0.3*1/4
    assert cal["ece"] == pytest.approx(abs(0.9 - 2 / 3) * 0.75 + 0.3 * 0.25)
    assert cal["brier"] == pytest.approx((0.01 + 0.01 + 0.81 + 0.09) / 4)
    assert cal["n"] == 4 and sum(b["n"] for b in cal["bins"]) == 4
    assert cal["bins"][5]["confidence"] is None


def test_calibration_of_nothing():
    cal = calibration([])
    assert cal["ece"] is None and cal["brier"] is None and cal["n"] == 0
    assert not math.isnan(sum(b["n"] for b in cal["bins"]))


# ---------------------------------------------------------------------------------- calibration vs sklearn
def _sklearn_reference(conf, correct):
    """ECE from scikit-learn's calibration_curve (which drops empty bins) and Brier from brier_score_loss."""
    import numpy as np
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    conf, correct = np.asarray(conf, float), np.asarray(correct, int)
    prob_true, prob_pred = calibration_curve(correct, conf, n_bins=10, strategy="uniform")
    # calibration_curve closes its bins on the right ((0.1k, 0.1(k+1)]) where the brief closes them on the
    # left; the two agree everywhere but at interior edges, which the crafted data below avoids.
    bins = np.searchsorted(np.linspace(0, 1, 11)[1:-1], conf)
    counts = np.bincount(bins, minlength=10)
    counts = counts[counts > 0]
    ece = float(np.sum(counts / len(conf) * np.abs(prob_true - prob_pred)))
    return ece, float(brier_score_loss(correct, conf)), prob_true, prob_pred


@pytest.mark.parametrize("seed", range(5))
def test_ece_and_brier_match_scikit_learn(seed):
    import random

    rng = random.Random(seed)
    conf = [rng.choice([0.0, 1.0]) if rng.random() < 0.2 else rng.random() for _ in range(300)]
    conf = [c for c in conf if c in (0.0, 1.0) or round(c * 10, 9) != round(c * 10)]  # no interior edges
    correct = [rng.random() < c * 0.8 for c in conf]
    ours = calibration(list(zip(conf, correct, strict=True)))
    ece, brier, prob_true, prob_pred = _sklearn_reference(conf, correct)
    assert ours["ece"] == pytest.approx(ece, abs=1e-12)
    assert ours["brier"] == pytest.approx(brier, abs=1e-12)
    filled = [b for b in ours["bins"] if b["n"]]
    assert [b["accuracy"] for b in filled] == pytest.approx(list(prob_true))
    assert [b["confidence"] for b in filled] == pytest.approx(list(prob_pred))


def test_calibration_edge_cases():
    # confidence exactly 0.0 and 1.0 land in the first and last bins; empty bins stay empty, not NaN
    cal = calibration([(0.0, False), (1.0, True), (1.0, True)])
    assert cal["ece"] == 0 and cal["brier"] == 0
    assert cal["bins"][0]["n"] == 1 and cal["bins"][9]["n"] == 2
    assert all(b["n"] == 0 and b["accuracy"] is None for b in cal["bins"][1:9])
    # all wrong at full confidence: maximal miscalibration
    cal = calibration([(1.0, False)] * 5)
    assert cal["ece"] == 1 and cal["brier"] == 1 and cal["overconfidence"] == 1
    # all right at zero confidence: maximally underconfident
    cal = calibration([(0.0, True)] * 5)
    assert cal["ece"] == 1 and cal["overconfidence"] == -1


# ---------------------------------------------------------------------------------- sample size
@pytest.mark.parametrize("threshold", [0.5, 0.9, 0.95, 0.97, 0.99])
def test_min_n_is_where_a_perfect_score_first_demonstrates_the_threshold(threshold):
    from cstui.metrics import min_n_to_demonstrate

    n = min_n_to_demonstrate(threshold)
    assert wilson_interval(n, n)[0] >= threshold - 1e-12
    assert wilson_interval(n - 1, n - 1)[0] < threshold


def test_sample_size_warning_names_the_problem():
    from cstui.metrics import sample_size_warning

    msg = sample_size_warning(12, 0.99)
    assert "n=12" in msg and "99%" in msg and "needs n ≥ 381" in msg
    assert sample_size_warning(500, 0.99) is None
    assert "rule of three" in sample_size_warning(24, 1.0)
    assert sample_size_warning(300, 1.0) is None
    assert sample_size_warning(0, 0.9) is None


# ---------------------------------------------------------------------------------- escalation vs confidence
def test_escalation_by_confidence_and_rank_correlation_match_scipy():
    import random

    from scipy.stats import spearmanr

    from cstui.tally import EscalationTally

    rng = random.Random(3)
    conf = [round(rng.random(), 2) for _ in range(400)]
    esc = [rng.random() > c for c in conf]  # escalates more as confidence falls
    tally, flat = EscalationTally(), EscalationTally()
    for c, e in zip(conf, esc, strict=True):
        tally.add(c, e, 1)
        flat.add(c, True, 1)
    out = tally.result()
    assert out["spearman"] == pytest.approx(spearmanr(conf, esc).statistic, abs=1e-12)
    assert out["spearman"] < -0.5
    assert sum(b["n"] for b in out["bins"]) == 400
    low, high = out["bins"][0], out["bins"][9]
    assert low["value"] > high["value"]
    # constant escalation: no correlation to report rather than NaN
    assert flat.result()["spearman"] is None


def testtime_to_escalation_percentiles_from_a_histogram():
    from cstui.metrics import time_to_escalation
    from cstui.stats import percentile

    out = time_to_escalation(Counter({2: 2, 4: 1, 12: 1}))  # escalation turns 1, 1, 3, 11 (0-based)
    assert out["n"] == 4 and out["p50"] == 3 and out["p90"] == percentile([2, 2, 4, 12], 0.9)
    assert out["histogram"] == [{"turns": 2, "n": 2}, {"turns": 4, "n": 1}, {"turns": 12, "n": 1}]
