"""Arrival processes on the simulated clock (all times in seconds from the scenario start).

* :func:`trace_arrivals` follows one real ServeGen tenant: per 600 s window it takes the rate
  (scaled to the customer's volume) and the inter-arrival family (Gamma/Weibull/Exponential) with
  its shape parameter, and samples a renewal process with that burstiness; the day/night and
  weekday shape comes from the trace.
* :func:`paced_arrivals` is a machine-paced renewal process (Gamma gaps with a small CV).
* :func:`burst_sessions` produces idle periods separated by dense runs (evaluation jobs).

>>> import numpy as np
>>> t = paced_arrivals(np.random.default_rng(1), 0.0, 3600.0, rate_per_hour=360, cv=0.1)
>>> 330 < t.size < 390 and bool(np.all(np.diff(t) > 0))
True
"""

from __future__ import annotations

import math

import numpy as np

from streamer.sim.data import WINDOW_S, FloatArray, TraceClient

TRACE_S = 14 * 86_400


def _unit_gaps(rng: np.random.Generator, family: int, shape: float, size: int) -> FloatArray:
    """Inter-arrival gaps with mean 1 in the given family."""
    if family == 1:  # Gamma(k, θ): mean kθ
        k = min(max(shape, 0.05), 50.0)
        return rng.gamma(k, 1.0 / k, size)
    if family == 2:  # Weibull(k, λ): mean λΓ(1+1/k)
        k = min(max(shape, 0.2), 20.0)
        return rng.weibull(k, size) / math.gamma(1.0 + 1.0 / k)
    return rng.exponential(1.0, size)


def trace_arrivals(
    rng: np.random.Generator, client: TraceClient, start_s: float, end_s: float,
    volume_per_hour: float, trace_offset_s: float, max_ratio: float = 8.0,
) -> FloatArray:
    """Arrivals in ``[start_s, end_s)`` following ``client``'s trace from ``trace_offset_s``.

    The trace's mean rate over its 14 days maps to ``volume_per_hour``; a window's rate may be
    at most ``max_ratio`` times that mean (caps pathological spikes of very sparse tenants).
    """
    mean_rate = float(client.rate.mean()) or 1.0
    scale = volume_per_hour / 3600.0 / mean_rate
    out: list[FloatArray] = []
    t = start_s
    n_windows = client.rate.size
    while t < end_s:
        trace_t = (t + trace_offset_s) % TRACE_S
        w = int(trace_t // WINDOW_S) % n_windows
        w_end = min(end_s, t + (WINDOW_S - trace_t % WINDOW_S))
        rate = min(float(client.rate[w]) * scale, max_ratio * volume_per_hour / 3600.0)
        if rate > 0:
            mean_gap = 1.0 / rate
            span = w_end - t
            expected = span * rate
            times: list[FloatArray] = []
            cursor = t + float(rng.uniform(0.0, mean_gap)) * 0.5
            while cursor < w_end:
                gaps = _unit_gaps(rng, int(client.family[w]), float(client.shape[w]),
                                  int(expected * 1.3) + 8) * mean_gap
                arr = cursor + np.cumsum(gaps) - gaps[0]
                times.append(arr[arr < w_end])
                cursor = float(arr[-1]) + float(gaps[0]) if arr[-1] < w_end else w_end
            out.extend(times)
        t = w_end
    if not out:
        return np.empty(0)
    return np.sort(np.concatenate(out))


def paced_arrivals(
    rng: np.random.Generator, start_s: float, end_s: float, rate_per_hour: float,
    cv: float = 0.25, limit: int | None = None,
) -> FloatArray:
    """A renewal process with Gamma gaps of coefficient of variation ``cv`` (machine pacing)."""
    if rate_per_hour <= 0 or end_s <= start_s:
        return np.empty(0)
    mean_gap = 3600.0 / rate_per_hour
    k = 1.0 / max(cv, 0.02) ** 2
    n = int((end_s - start_s) / mean_gap * 1.2) + 10
    if limit is not None:
        n = min(n, limit)
    gaps = rng.gamma(k, mean_gap / k, n)
    times: FloatArray = start_s + float(rng.uniform(0, mean_gap)) + np.cumsum(gaps) - gaps[0]
    return times[times < end_s]


def burst_sessions(
    rng: np.random.Generator, start_s: float, end_s: float, sessions: int,
    per_session: int, concurrency: int,
) -> list[FloatArray]:
    """``sessions`` dense runs of ``per_session`` requests at random times, one array each."""
    out = []
    for _ in range(sessions):
        per_req = float(rng.uniform(0.6, 3.0)) / concurrency
        length = per_session * per_req
        begin = float(rng.uniform(start_s, max(start_s + 1.0, end_s - length)))
        gaps = rng.exponential(per_req, per_session)
        times = begin + np.cumsum(gaps)
        out.append(times[times < end_s])
    return out
