"""The paper's system model: every delay, quality and reward equation, vectorized.

Each function implements one equation of Zhou et al., "Generative AI as a Service in 6G
Edge-Cloud" (IEEE WCL 2025), numbered as in the paper. Inputs are numpy arrays (or scalars)
that broadcast; units are SI and given in brackets. ``docs/model.md`` maps each function to
its equation.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Delivery = Literal["store-and-forward", "streamed"]
FloatArray = NDArray[np.float64]


def shannon_rate(bandwidth: ArrayLike, sinr: ArrayLike, log_base: float = 2.0) -> FloatArray:
    """Achievable rate of one RB, the summand of eq. (2).

    ``r = b_q * log(1 + SINR)``; the paper leaves the log base open, Shannon capacity uses 2.

    Parameters
    ----------
    bandwidth : array_like [Hz]
        RB bandwidth ``b_q``.
    sinr : array_like [1]
        Linear signal-to-interference-plus-noise ratio.
    log_base : float, default 2
        Base of the logarithm in eq. (2).

    Returns
    -------
    rate : ndarray [bit/s]
    """
    return np.asarray(bandwidth, dtype=float) * np.log1p(np.asarray(sinr, dtype=float)) / np.log(
        log_base
    )


def link_capacity(rate: ArrayLike, z: ArrayLike) -> FloatArray:
    """Link capacity of each user, eq. (2): ``C_k = sum_q r[k, q] z[k, q]``.

    Interference is already in ``rate`` (see :mod:`genoffload.scenario.channel`).

    Parameters
    ----------
    rate : array_like, shape (user, rb) [bit/s]
        Achievable rate of each RB for each user.
    z : array_like of bool, shape (user, rb)
        RB allocation.

    Returns
    -------
    capacity : ndarray, shape (user,) [bit/s]
    """
    return np.einsum("kq,kq->k", np.asarray(rate, dtype=float), np.asarray(z, dtype=float))


def radio_delay(content_bits: ArrayLike, capacity: ArrayLike) -> FloatArray:
    """Radio part of eq. (1): ``n_{k,i}^token s^token / C_k``.

    Parameters
    ----------
    content_bits : array_like [bit]
        Content size ``n^token * s^token`` (times 8 for bytes to bits).
    capacity : array_like [bit/s]
        Link capacity of the task's user; 0 gives ``inf`` (the user has no RB).

    Returns
    -------
    delay : ndarray [s]
    """
    bits = np.asarray(content_bits, dtype=float)
    cap = np.asarray(capacity, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(bits > 0, bits / cap, 0.0)
    return np.where((bits > 0) & (cap <= 0), np.inf, out)


def backhaul_delay(alpha: ArrayLike, t_back: float) -> FloatArray:
    """Backhaul part of eq. (1): ``alpha_{k,i} t_back``.

    Parameters
    ----------
    alpha : array_like of bool
        Offloading decision (1 = cloud).
    t_back : float [s]
        Edge-cloud backhaul delay.

    Returns
    -------
    delay : ndarray [s]
    """
    return np.asarray(alpha, dtype=float) * float(t_back)


def generation_delay(units: ArrayLike, ttft: ArrayLike, tpot: ArrayLike) -> FloatArray:
    """Generation delay, eq. (3) (and its edge/cloud instances 4c, 4d).

    ``t^gen = t^TTFT + n^token t^TPOT``; for media tasks ``n`` counts output items
    (images, seconds of audio or video) and ``t^TPOT`` is the time per item.

    Parameters
    ----------
    units : array_like [token] or [item]
        Output size ``n_{k,i}^token``.
    ttft : array_like [s]
        Time to first token.
    tpot : array_like [s/token]
        Time per output token.

    Returns
    -------
    delay : ndarray [s]
    """
    return np.asarray(ttft, dtype=float) + np.asarray(units, dtype=float) * np.asarray(
        tpot, dtype=float
    )


def task_delay(
    alpha: ArrayLike,
    t_radio: ArrayLike,
    t_gen_edge: ArrayLike,
    t_gen_cloud: ArrayLike,
    t_back: float,
    delivery: Delivery = "store-and-forward",
) -> FloatArray:
    """Total delay of each task, the summand of the objective of eq. (4).

    store-and-forward (the paper): ``t = t^radio + alpha t_back + alpha t^cloud + (1-alpha) t^edge``.
    streamed (transmission overlaps generation):
    ``t = max(t^radio, alpha (t^cloud + t_back) + (1-alpha) t^edge)``.

    Parameters
    ----------
    alpha : array_like of bool
        Offloading decision (1 = cloud).
    t_radio : array_like [s]
        Radio delay from :func:`radio_delay`.
    t_gen_edge, t_gen_cloud : array_like [s]
        Generation delays (4c), (4d).
    t_back : float [s]
        Backhaul delay.
    delivery : {"store-and-forward", "streamed"}

    Returns
    -------
    delay : ndarray [s]
    """
    a = np.asarray(alpha, dtype=float)
    gen = a * (np.asarray(t_gen_cloud, dtype=float) + t_back) + (1 - a) * np.asarray(
        t_gen_edge, dtype=float
    )
    radio = np.asarray(t_radio, dtype=float)
    if delivery == "streamed":
        return np.maximum(radio, gen)
    return radio + gen


def quality_met(
    alpha: ArrayLike, requirement: ArrayLike, q_edge: ArrayLike, q_cloud: ArrayLike
) -> NDArray[np.bool_]:
    """Quality constraint (4e): ``tau_{k,i} <= alpha tau^cloud + (1-alpha) tau^edge``.

    Parameters
    ----------
    alpha : array_like of bool
    requirement : array_like [1]
        Task quality requirement ``tau_{k,i}``.
    q_edge, q_cloud : array_like [1]
        Quality index of the edge / cloud model for the task's service class.

    Returns
    -------
    met : ndarray of bool
    """
    a = np.asarray(alpha, dtype=bool)
    offered = np.where(a, np.asarray(q_cloud, dtype=float), np.asarray(q_edge, dtype=float))
    return np.asarray(requirement, dtype=float) <= offered + 1e-12


def reward(
    t_total: ArrayLike, constraints_met: ArrayLike, t_target: float, penalty: float
) -> FloatArray:
    """Reward, eq. (10): ``r = T^Target - t^total - r^penalty``.

    ``t^total`` is the task's total delay (the objective of eq. 4: transmission plus generation;
    the minus signs under eq. (10) in the paper are a slip). ``r^penalty`` is ``penalty`` when a
    constraint of (4) is violated, else 0.

    Parameters
    ----------
    t_total : array_like [s]
    constraints_met : array_like of bool
    t_target : float [s]
        Target delay ``T^Target``.
    penalty : float [s]
        ``r^penalty`` (>= 0), in the reward's unit (seconds).

    Returns
    -------
    reward : ndarray [s]
    """
    met = np.asarray(constraints_met, dtype=bool)
    return float(t_target) - np.asarray(t_total, dtype=float) - np.where(met, 0.0, float(penalty))
