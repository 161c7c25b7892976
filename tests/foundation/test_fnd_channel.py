"""Channel model against 3GPP TR 38.901 V17 worked by hand.

Common numbers (fc = 3.5 GHz, h_UT = 1.5 m, h_E = 1 m, c = 299 792 458 m/s):
    20 log10(3.5) = 20 * 0.544068 = 10.8814
    21.3 log10(3.5) = 21.3 * 0.544068 = 11.5886
UMa: h_BS = 25 m, h'_BS = 24 m, h'_UT = 0.5 m, h_BS - h_UT = 23.5 m
UMi: h_BS = 10 m, h'_BS = 9 m,  h'_UT = 0.5 m, h_BS - h_UT = 8.5 m
"""

from __future__ import annotations

import numpy as np
import pytest

from genoffload.scenario import channel

FC = 3.5
H_UT = 1.5


def test_breakpoint_distance_uma_and_umi() -> None:
    # d'_BP = 4 h'_BS h'_UT f_c / c
    # UMa: 4 * 24 * 0.5 * 3.5e9 / 299792458 = 168e9 / 299792458 = 560.39 m
    # UMi: 4 *  9 * 0.5 * 3.5e9 / 299792458 =  63e9 / 299792458 = 210.15 m
    assert channel.breakpoint_distance(25.0, H_UT, FC) == pytest.approx(560.39, abs=0.01)
    assert channel.breakpoint_distance(10.0, H_UT, FC) == pytest.approx(210.15, abs=0.01)


def test_uma_los_before_breakpoint() -> None:
    # d2D = 100 m < d'_BP = 560.39 m -> PL1
    # d3D = sqrt(100^2 + 23.5^2) = sqrt(10552.25) = 102.724 m, log10(d3D) = 2.011673
    # PL1 = 28 + 22 * 2.011673 + 10.8814 = 28 + 44.2568 + 10.8814 = 83.138 dB
    assert float(channel.pathloss_los("UMa", 100.0, 25.0, H_UT, FC)) == pytest.approx(83.138, abs=0.01)


def test_uma_los_after_breakpoint() -> None:
    # d2D = 1000 m > d'_BP -> PL2
    # d3D = sqrt(1000^2 + 23.5^2) = 1000.276 m, log10 = 3.000120
    # d'_BP^2 + (h_BS - h_UT)^2 = 560.388^2 + 552.25 = 314034.35 + 552.25 = 314586.6, log10 = 5.497740
    # PL2 = 28 + 40 * 3.000120 + 10.8814 - 9 * 5.497740 = 28 + 120.0048 + 10.8814 - 49.4797 = 109.406 dB
    assert float(channel.pathloss_los("UMa", 1000.0, 25.0, H_UT, FC)) == pytest.approx(109.406, abs=0.01)


def test_uma_nlos() -> None:
    # PL'_NLOS = 13.54 + 39.08 log10(d3D) + 20 log10(fc) - 0.6 (h_UT - 1.5); PL = max(PL_LOS, PL')
    # d2D = 100:  13.54 + 39.08 * 2.011673 + 10.8814 = 13.54 + 78.6162 + 10.8814 = 103.038 (> 83.14)
    # d2D = 1000: 13.54 + 39.08 * 3.000120 + 10.8814 = 13.54 + 117.2447 + 10.8814 = 141.666 (> 109.41)
    pl = channel.pathloss_nlos("UMa", np.array([100.0, 1000.0]), 25.0, H_UT, FC)
    np.testing.assert_allclose(pl, [103.038, 141.666], atol=0.01)


def test_umi_los_before_and_after_breakpoint() -> None:
    # UMi d'_BP = 210.15 m
    # d2D = 100 (PL1): d3D = sqrt(100^2 + 8.5^2) = sqrt(10072.25) = 100.3606, log10 = 2.001563
    #   PL1 = 32.4 + 21 * 2.001563 + 10.8814 = 32.4 + 42.0328 + 10.8814 = 85.314 dB
    # d2D = 1000 (PL2): d3D = sqrt(1000^2 + 72.25) = 1000.036, log10 = 3.000016
    #   d'_BP^2 + 8.5^2 = 210.145^2 + 72.25 = 44161.08 + 72.25 = 44233.33, log10 = 4.645750
    #   PL2 = 32.4 + 40 * 3.000016 + 10.8814 - 9.5 * 4.645750 = 32.4 + 120.0006 + 10.8814 - 44.1346
    #       = 119.147 dB
    pl = channel.pathloss_los("UMi", np.array([100.0, 1000.0]), 10.0, H_UT, FC)
    np.testing.assert_allclose(pl, [85.314, 119.147], atol=0.01)


def test_umi_nlos() -> None:
    # PL'_NLOS = 35.3 log10(d3D) + 22.4 + 21.3 log10(fc) - 0.3 (h_UT - 1.5)
    # d2D = 100:  35.3 * 2.001563 + 22.4 + 11.5886 = 70.6552 + 22.4 + 11.5886 = 104.644 (> 85.31)
    # d2D = 1000: 35.3 * 3.000016 + 22.4 + 11.5886 = 105.9006 + 22.4 + 11.5886 = 139.889 (> 119.15)
    pl = channel.pathloss_nlos("UMi", np.array([100.0, 1000.0]), 10.0, H_UT, FC)
    np.testing.assert_allclose(pl, [104.644, 139.889], atol=0.01)


def test_nlos_is_the_max_of_los_and_nlos_formula() -> None:
    # PL_NLOS = max(PL_LOS, PL'_NLOS). Where PL' is below LOS the LOS value must be returned:
    # UMa, h_BS = 3 m, d2D = 1 m: d3D = sqrt(1 + 1.5^2) = 1.8028, log10 = 0.25595,
    # d'_BP = 4 * 2 * 0.5 * 3.5e9 / c = 46.7 m -> PL1 = 28 + 22 * 0.25595 + 10.8814 = 44.512;
    # PL' = 13.54 + 39.08 * 0.25595 + 10.8814 = 34.424 -> PL_NLOS = 44.512
    assert float(channel.pathloss_nlos("UMa", 1.0, 3.0, H_UT, FC)) == pytest.approx(44.512, abs=0.01)
    # and NLOS is never below LOS anywhere
    d = np.geomspace(10.0, 5000.0, 60)
    for env, h_bs in (("UMa", 25.0), ("UMi", 10.0)):
        for h_ut in (1.5, 10.0):
            los = channel.pathloss_los(env, d, h_bs, h_ut, FC)
            nlos = channel.pathloss_nlos(env, d, h_bs, h_ut, FC)
            assert np.all(nlos >= los - 1e-12)


@pytest.mark.parametrize(("env", "h_bs"), [("UMa", 25.0), ("UMi", 10.0)])
def test_los_pathloss_is_continuous_at_the_breakpoint(env: str, h_bs: float) -> None:
    # PL1(d'_BP) and PL2(d'_BP) agree to a fraction of a dB (the table is built that way);
    # a wrong switch distance or PL2 formula shows up as a jump.
    dbp = channel.breakpoint_distance(h_bs, H_UT, FC)
    below, above = channel.pathloss_los(env, np.array([dbp * (1 - 1e-9), dbp * (1 + 1e-9)]),
                                        h_bs, H_UT, FC)
    assert abs(above - below) < 0.2


def test_los_probability() -> None:
    # Table 7.4.2-1 (h_UT <= 13 m, so C'(h_UT) = 0 for UMa):
    # d <= 18 m -> 1
    # UMa, d = 100: 18/100 + exp(-100/63) (1 - 18/100) = 0.18 + 0.204477 * 0.82 = 0.18 + 0.167671
    #   = 0.347671
    # UMi, d = 100: 0.18 + exp(-100/36) * 0.82 = 0.18 + 0.062177 * 0.82 = 0.18 + 0.050985 = 0.230985
    for env in ("UMa", "UMi"):
        np.testing.assert_array_equal(channel.los_probability(env, [1.0, 10.0, 18.0]), 1.0)
    assert float(channel.los_probability("UMa", 100.0)) == pytest.approx(0.347671, abs=1e-5)
    assert float(channel.los_probability("UMi", 100.0)) == pytest.approx(0.230985, abs=1e-5)
    p = channel.los_probability("UMa", np.linspace(18.0, 2000.0, 200))
    assert np.all(np.diff(p) <= 1e-12) and np.all((p > 0) & (p <= 1))


def test_dbm_to_w() -> None:
    # 30 dBm = 1 W; 49 dBm = 10^(1.9) = 79.43 W; -174 dBm = 10^(-20.4) W = 3.981e-21 W
    np.testing.assert_allclose(channel.dbm_to_w([30.0, 49.0, -174.0]), [1.0, 79.4328, 3.98107e-21],
                               rtol=1e-5)


def test_sinr_per_rb_with_mean_interference() -> None:
    # user 0 served by site 0: own gain 1e-9, the other site 1e-10 (RB 0) or 0 (RB 1);
    # p = 1 W, N = 1e-11 W, load 0.5:
    #   RB 0: 1e-9 / (0.5 * 1e-10 + 1e-11) = 1e-9 / 6e-11 = 16.667
    #   RB 1: 1e-9 / 1e-11 = 100
    # user 1 served by site 1 on RB 0: 4e-10 / (0.5 * 2e-10 + 1e-11) = 4e-10 / 1.1e-10 = 3.6364
    gain = np.zeros((2, 2, 2))
    gain[0, 0] = [1e-9, 1e-9]
    gain[0, 1] = [1e-10, 0.0]
    gain[1, 0] = [2e-10, 2e-10]
    gain[1, 1] = [4e-10, 4e-10]
    sinr = channel.sinr_per_rb(gain, np.array([0, 1]), 1.0, 1e-11, 0.5)
    np.testing.assert_allclose(sinr[0], [16.6667, 100.0], rtol=1e-4)
    assert sinr[1, 0] == pytest.approx(3.63636, rel=1e-5)


def test_rayleigh_power_has_unit_mean() -> None:
    x = channel.rayleigh_power(np.random.default_rng(0), (200_000,))
    assert x.min() >= 0
    assert x.mean() == pytest.approx(1.0, abs=0.01)
    assert x.var() == pytest.approx(1.0, abs=0.03)  # Exp(1): variance 1
