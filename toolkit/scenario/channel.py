"""3GPP TR 38.901 V17 large-scale channel (UMa, UMi) and per-RB Rayleigh fading.

Path loss: Table 7.4.1-1. LOS probability: Table 7.4.2-1. Shadow fading std: Table 7.4.1-1.
Distances in metres, frequencies in GHz inside the formulas (Hz for the breakpoint distance).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

C_LIGHT = 299_792_458.0  # [m/s]
H_E = 1.0  # effective environment height [m] (UMa with h_UT <= 13 m, UMi)
SHADOW_STD_DB = {("UMa", True): 4.0, ("UMa", False): 6.0, ("UMi", True): 4.0, ("UMi", False): 7.82}

FArr = NDArray[np.float64]


def breakpoint_distance(h_bs: float, h_ut: float, fc_ghz: float) -> float:
    """Breakpoint distance ``d'_BP = 4 h'_BS h'_UT f_c / c`` [m] (TR 38.901 Table 7.4.1-1 note 1)."""
    return 4 * (h_bs - H_E) * (h_ut - H_E) * fc_ghz * 1e9 / C_LIGHT


def pathloss_los(env: str, d2d: ArrayLike, h_bs: float, h_ut: float, fc_ghz: float) -> FArr:
    """LOS path loss [dB] of UMa or UMi (TR 38.901 Table 7.4.1-1), PL1 before, PL2 after d'_BP.

    Parameters
    ----------
    env : {"UMa", "UMi"}
    d2d : array_like [m]
        2-D distance BS-UE.
    h_bs, h_ut : float [m]
        BS and UE antenna heights.
    fc_ghz : float [GHz]
        Carrier frequency.
    """
    d2 = np.asarray(d2d, dtype=float)
    d3 = np.hypot(d2, h_bs - h_ut)
    dbp = breakpoint_distance(h_bs, h_ut, fc_ghz)
    lf = 20 * np.log10(fc_ghz)
    if env == "UMa":
        pl1 = 28.0 + 22 * np.log10(d3) + lf
        pl2 = 28.0 + 40 * np.log10(d3) + lf - 9 * np.log10(dbp**2 + (h_bs - h_ut) ** 2)
    else:
        pl1 = 32.4 + 21 * np.log10(d3) + lf
        pl2 = 32.4 + 40 * np.log10(d3) + lf - 9.5 * np.log10(dbp**2 + (h_bs - h_ut) ** 2)
    return np.where(d2 <= dbp, pl1, pl2)


def pathloss_nlos(env: str, d2d: ArrayLike, h_bs: float, h_ut: float, fc_ghz: float) -> FArr:
    """NLOS path loss [dB]: ``max(PL_LOS, PL'_NLOS)`` (TR 38.901 Table 7.4.1-1)."""
    d2 = np.asarray(d2d, dtype=float)
    d3 = np.hypot(d2, h_bs - h_ut)
    if env == "UMa":
        pl_n = 13.54 + 39.08 * np.log10(d3) + 20 * np.log10(fc_ghz) - 0.6 * (h_ut - 1.5)
    else:
        pl_n = 35.3 * np.log10(d3) + 22.4 + 21.3 * np.log10(fc_ghz) - 0.3 * (h_ut - 1.5)
    return np.maximum(pathloss_los(env, d2, h_bs, h_ut, fc_ghz), pl_n)


def los_probability(env: str, d2d: ArrayLike) -> FArr:
    """LOS probability (TR 38.901 Table 7.4.2-1, outdoor UEs, ``h_UT <= 13 m``)."""
    d = np.maximum(np.asarray(d2d, dtype=float), 1e-9)
    scale = 63.0 if env == "UMa" else 36.0
    p = 18.0 / d + np.exp(-d / scale) * (1 - 18.0 / d)
    return np.where(d <= 18.0, 1.0, p)


def large_scale_gain_db(
    rng: np.random.Generator,
    env: str,
    d2d: FArr,
    h_bs: float,
    h_ut: float,
    fc_ghz: float,
) -> tuple[FArr, NDArray[np.bool_]]:
    """Draw LOS state and shadowing; return ``-(PL + SF)`` [dB] and the LOS flags."""
    los = rng.random(d2d.shape) < los_probability(env, d2d)
    pl = np.where(
        los,
        pathloss_los(env, d2d, h_bs, h_ut, fc_ghz),
        pathloss_nlos(env, d2d, h_bs, h_ut, fc_ghz),
    )
    std = np.where(los, SHADOW_STD_DB[(env, True)], SHADOW_STD_DB[(env, False)])
    sf = rng.normal(0.0, 1.0, d2d.shape) * std
    return -(pl + sf), los


def rayleigh_power(rng: np.random.Generator, shape: tuple[int, ...]) -> FArr:
    """Rayleigh fading power gain ``|h|^2 ~ Exp(1)`` [1], independent per entry (per RB)."""
    return rng.exponential(1.0, size=shape)


def dbm_to_w(dbm: ArrayLike) -> FArr:
    """Convert [dBm] to [W]."""
    return 10 ** ((np.asarray(dbm, dtype=float) - 30.0) / 10.0)


def sinr_per_rb(
    gain: FArr,
    serving: NDArray[np.int_],
    p_rb_w: float,
    noise_w: float,
    load_factor: float,
) -> FArr:
    """SINR of each user on each RB, the ratio inside eq. (2).

    ``SINR[k, q] = p g[k, j(k), q] / (load * sum_{j' != j(k)} p g[k, j', q] + b_q N_0)``: every
    other BS transmits on RB ``q`` with probability ``load`` (mean interference).

    Parameters
    ----------
    gain : ndarray, shape (user, site, rb) [1]
        Linear channel gain (path loss, shadowing, fading).
    serving : ndarray of int, shape (user,)
        Serving site of each user.
    p_rb_w : float [W]
        Transmit power per RB.
    noise_w : float [W]
        Noise power in one RB, ``b_q N_0`` (with the UE noise figure).
    load_factor : float [1]
        Activity of interfering BSs.
    """
    users = np.arange(gain.shape[0])
    signal = p_rb_w * gain[users, serving, :]
    interference = load_factor * (p_rb_w * gain.sum(axis=1) - signal)
    return signal / (interference + noise_w)
