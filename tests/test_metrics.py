import math

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
