"""The time-varying reproduction number R_t by the method of Cori et al. (2013), as EpiEstim computes it.

Pure functions, no Django and no database: counts in, estimates out. Checked against the R package EpiEstim
(`estimate_R`, `discr_si`) to 1e-6 relative in `tests/test_rt.py`; the reference values and the R script that
made them are in `tests/reference/`. See docs/reports.md.

Conventions (EpiEstim's):
- days are 1-based; a window [t_start, t_end] includes both ends and lies within days 2..T;
- a plain incidence series counts day 1's cases as imported (EpiEstim's `process_I`); with local and imported
  series, local cases on day 1 are moved to imported (with a warning, as EpiEstim does);
- infectivity Λ(t) = Σ_{s≥1} w(s) · I(t−s) over all cases (local + imported);
- prior on R: Gamma with mean 5 and sd 5 (shape 1, scale 5); posterior for a window: shape = a + local cases in
  the window, scale = 1 / (1/b + Σ Λ over the window);
- no estimate (None) for a window ending on or before the serial interval's mean day (EpiEstim's NA), and,
  unlike EpiEstim, none for a window with no infectivity at all (Σ Λ = 0), where EpiEstim reports the prior
  (mean 5 with no cases; with cases, a number the data cannot support).
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import gamma

from shouwang.core.errors import ValidationFailed

QUANTILES = (0.025, 0.05, 0.25, 0.5, 0.75, 0.95, 0.975)
SI_SUM_TOLERANCE = 0.01  # EpiEstim's check_si_distr: |sum(si_distr) - 1| > 0.01 is an error
DEFAULT_WINDOW_DAYS = 7


class RtInputError(ValidationFailed, ValueError):
    """Bad input to the Rt estimate: names the field, says what is wrong in Chinese and English."""

    def __init__(self, field: str, message_zh: str, message_en: str):
        super().__init__(field=field, message_zh=message_zh, message_en=message_en)


@dataclass(frozen=True, slots=True)
class RtWindow:
    """One window's estimate. The statistics are None where EpiEstim gives NA or there is no infectivity."""

    t_start: int
    t_end: int
    cases: float  # local cases in the window (the posterior shape is a_prior + cases)
    infectivity: float  # Σ Λ(t) over the window
    shape: float | None
    scale: float | None
    mean: float | None
    std: float | None
    q025: float | None
    q05: float | None
    q25: float | None
    median: float | None
    q75: float | None
    q95: float | None
    q975: float | None


@dataclass(frozen=True, slots=True)
class RtEstimate:
    windows: tuple[RtWindow, ...]
    si_distr: tuple[float, ...]  # w(0), w(1), ... as used (EpiEstim's results$si_distr)
    si_mean: float  # Σ k·w(k): windows with t_end <= si_mean get no estimate
    si_std: float
    warnings: tuple[str, ...]  # EpiEstim's warnings, in English


@dataclass(frozen=True, slots=True)
class SerialInterval:
    """Serial intervals (infectee onset − infector onset, in days) of linked pairs."""

    n: int  # pairs with both onsets
    skipped: int  # pairs with a missing onset
    mean: float | None
    sd: float | None  # sample standard deviation (n − 1), as R's sd(); None below two pairs
    counts: dict[int, int]  # interval in days -> pairs, zero and negative intervals included
    # Share of pairs with an interval of k days, k = 0..max; None when an interval is negative (the distribution
    # cannot start at day 0 then). Usable as estimate_rt(si_distr=...) only when no pair has both onsets on one
    # day, since EpiEstim requires w(0) = 0; otherwise use mean and sd with the parametric serial interval.
    distribution: tuple[float, ...] | None


def _real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


# --- serial interval ---------------------------------------------------------------------------------------


def discr_si(k: Sequence[int] | np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """EpiEstim's discr_si: the discretised serial interval, a gamma with mean mu − 1 and sd sigma shifted by 1.

    w(k) = k·F(k) + (k−2)·F(k−2) − 2(k−1)·F(k−1) + a·b·(2·F₁(k−1) − F₁(k−2) − F₁(k)), clipped at 0, where F is the
    CDF of Gamma(shape a, scale b), F₁ that of Gamma(a + 1, b), a = ((mu−1)/sigma)², b = sigma²/(mu−1)
    (Cori et al. 2013, web appendix 11). Far in the tail the formula cancels to rounding noise (~1e-16).
    """
    if not (_real(mu) and math.isfinite(mu) and mu > 1):
        raise RtInputError("mean_si", f"序列间隔均值须大于 1（现为 {mu}）", f"mean_si must be > 1 (got {mu})")
    if not (_real(sigma) and math.isfinite(sigma) and sigma > 0):
        raise RtInputError(
            "std_si", f"序列间隔标准差须大于 0（现为 {sigma}）", f"std_si must be > 0 (got {sigma})"
        )
    k = np.asarray(k, dtype=float)
    if np.any(k < 0):
        raise RtInputError("k", "k 须全部 ≥ 0", "all values in k must be >= 0")
    a = ((mu - 1) / sigma) ** 2
    b = sigma**2 / (mu - 1)
    cdf = gamma(a, scale=b).cdf
    cdf1 = gamma(a + 1, scale=b).cdf
    res = k * cdf(k) + (k - 2) * cdf(k - 2) - 2 * (k - 1) * cdf(k - 1)
    res = res + a * b * (2 * cdf1(k - 1) - cdf1(k - 2) - cdf1(k))
    return np.maximum(res, 0.0)


def serial_interval_from_pairs(
    pairs: Iterable[tuple[dt.date | None, dt.date | None]],
) -> SerialInterval:
    """Empirical serial interval from (infector_onset, infectee_onset) pairs; pairs missing an onset are skipped."""
    intervals: list[int] = []
    skipped = 0
    for i, pair in enumerate(pairs):
        try:
            infector, infectee = pair
        except (TypeError, ValueError):
            raise RtInputError(
                "pairs",
                f"第 {i + 1} 对须为（传染者发病日, 被传染者发病日）",
                f"pair {i + 1} must be (infector_onset, infectee_onset)",
            ) from None
        if infector is None or infectee is None:
            skipped += 1
            continue
        days = []
        for onset in (infector, infectee):
            if not isinstance(onset, dt.date):
                raise RtInputError(
                    "pairs",
                    f"第 {i + 1} 对的发病日须为日期（现为 {onset!r}）",
                    f"pair {i + 1}: an onset must be a date (got {onset!r})",
                )
            days.append(onset.date() if isinstance(onset, dt.datetime) else onset)
        intervals.append((days[1] - days[0]).days)
    n = len(intervals)
    counts: dict[int, int] = {}
    for d in sorted(intervals):
        counts[d] = counts.get(d, 0) + 1
    distribution = None
    if n and min(intervals) >= 0:
        distribution = tuple(counts.get(d, 0) / n for d in range(max(intervals) + 1))
    return SerialInterval(
        n=n,
        skipped=skipped,
        mean=statistics.fmean(intervals) if n else None,
        sd=statistics.stdev(intervals) if n >= 2 else None,
        counts=counts,
        distribution=distribution,
    )


# --- the estimate ------------------------------------------------------------------------------------------


def _series(values, field: str, *, si: bool = False) -> np.ndarray:
    """A 1-D float array, finite and non-negative; errors name the day (1-based) or, for an SI, w(k)."""

    def where(i: int) -> tuple[str, str]:
        return (f"w({i})", f"w({i})") if si else (f"第 {i + 1} 天", f"day {i + 1}")

    what_zh, what_en = (
        ("序列间隔概率", "serial-interval probabilities") if si else ("每日病例数", "daily case counts")
    )
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise RtInputError(field, f"{field} 须为{what_zh}", f"{field} must be {what_en}") from None
    if arr.ndim != 1:
        raise RtInputError(field, f"{field} 须为一维序列", f"{field} must be a one-dimensional series")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        zh, en = where(int(bad[0]))
        hint_zh, hint_en = (
            ("", "") if si else ("（缺报的日子请明确填 0）", " (write 0 for a day with no report)")
        )
        raise RtInputError(
            field, f"{field} {zh}不是有限数值{hint_zh}", f"{field}: {en} is not a finite number{hint_en}"
        )
    neg = np.flatnonzero(arr < 0)
    if neg.size:
        zh, en = where(int(neg[0]))
        raise RtInputError(
            field,
            f"{field} {zh}为负数（{arr[neg[0]]:g}），{what_zh}不能为负",
            f"{field}: {en} is negative ({arr[neg[0]]:g}); {what_en} must be non-negative",
        )
    return arr


def _incidence(incidence, local, imported, warnings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    if incidence is not None:
        if local is not None or imported is not None:
            raise RtInputError(
                "incidence",
                "请只给出总病例数，或只给出本地与输入病例数",
                "give either incidence or local and imported, not both",
            )
        total = _series(incidence, "incidence")
        local_arr = total.copy()
        imported_arr = np.zeros_like(total)
        if total.size:
            local_arr[0] = 0.0
            imported_arr[0] = total[0]
    else:
        if local is None or imported is None:
            raise RtInputError("incidence", "缺少病例数序列", "incidence (or local and imported) is required")
        local_arr = _series(local, "local")
        imported_arr = _series(imported, "imported")
        if local_arr.size != imported_arr.size:
            raise RtInputError(
                "imported",
                f"本地病例序列（{local_arr.size} 天）与输入病例序列（{imported_arr.size} 天）长度不同",
                f"local ({local_arr.size} days) and imported ({imported_arr.size} days) differ in length",
            )
        if local_arr.size and local_arr[0] > 0:
            warnings.append(
                "local[1] is > 0 but must be 0, as all cases on the first time step are assumed imported; "
                "they were moved to imported."
            )
            local_arr = local_arr.copy()
            imported_arr = imported_arr.copy()
            imported_arr[0] += local_arr[0]
            local_arr[0] = 0.0
    if local_arr.size < 2:
        raise RtInputError(
            "incidence",
            "至少需要 2 天的病例数",
            "the series needs at least 2 days (day 1 is taken as imported)",
        )
    return local_arr, imported_arr


def _windows(t_start, t_end, T: int) -> tuple[np.ndarray, np.ndarray]:
    if t_start is None and t_end is None:
        if T < DEFAULT_WINDOW_DAYS + 1:
            raise RtInputError(
                "t_start",
                f"默认按周滑动窗口至少需要 8 天数据（现有 {T} 天），请自行给出窗口",
                f"the default weekly windows need at least 8 days (the series has {T}); give t_start and t_end",
            )
        ts = np.arange(2, T - DEFAULT_WINDOW_DAYS + 2)
        return ts, ts + DEFAULT_WINDOW_DAYS - 1
    if t_start is None or t_end is None:
        raise RtInputError("t_end", "t_start 与 t_end 须同时给出", "give both t_start and t_end, or neither")
    checked = []
    for name, values in (("t_start", t_start), ("t_end", t_end)):
        values = list(values)
        for i, v in enumerate(values):
            whole = isinstance(v, int | np.integer) or (
                isinstance(v, float | np.floating) and float(v).is_integer()
            )
            if isinstance(v, bool) or not whole:
                raise RtInputError(
                    name,
                    f"{name} 第 {i + 1} 个值须为整数（现为 {v!r}）",
                    f"{name}[{i + 1}] must be an integer day (got {v!r})",
                )
        checked.append(np.asarray(values, dtype=np.int64))
    ts, te = checked
    if ts.size != te.size:
        raise RtInputError(
            "t_end",
            f"t_start（{ts.size} 个）与 t_end（{te.size} 个）数量不同",
            f"t_start ({ts.size}) and t_end ({te.size}) must have the same length",
        )
    if ts.size == 0:
        raise RtInputError("t_start", "至少需要一个窗口", "give at least one window")
    reversed_ = np.flatnonzero(ts > te)
    if reversed_.size:
        i = int(reversed_[0])
        raise RtInputError(
            "t_start",
            f"第 {i + 1} 个窗口的起始日 {ts[i]} 晚于结束日 {te[i]}",
            f"window {i + 1}: t_start {ts[i]} is after t_end {te[i]}",
        )
    outside = np.flatnonzero((ts < 2) | (te > T))
    if outside.size:
        i = int(outside[0])
        s, e = int(ts[i]), int(te[i])
        raise RtInputError(
            "t_start" if s < 2 else "t_end",
            f"第 {i + 1} 个窗口 [{s}, {e}] 超出序列范围：窗口须在第 2 至 {T} 天之内（第 1 天之前没有病例可传染）",
            f"window {i + 1} [{s}, {e}] is outside the series: windows must lie within days 2..{T} "
            "(day 1 has no earlier cases to be infected by)",
        )
    return ts, te


def _si(mean_si, std_si, si_distr, T: int) -> np.ndarray:
    if si_distr is not None:
        if mean_si is not None or std_si is not None:
            raise RtInputError(
                "si_distr",
                "请只给出序列间隔分布，或只给出均值与标准差",
                "give either si_distr or mean_si and std_si, not both",
            )
        w = _series(si_distr, "si_distr", si=True)
        if w.size == 0:
            raise RtInputError(
                "si_distr", "序列间隔分布须为一维非空序列", "si_distr must be a non-empty vector"
            )
        if w[0] != 0:
            raise RtInputError(
                "si_distr",
                f"序列间隔分布的 w(0) 须为 0（现为 {w[0]:g}）：同一天发病不算传播",
                f"si_distr must start with w(0) = 0 (got {w[0]:g})",
            )
        total = float(w.sum())
        if abs(total - 1) > SI_SUM_TOLERANCE:
            raise RtInputError(
                "si_distr",
                f"序列间隔分布之和须为 1（允许误差 {SI_SUM_TOLERANCE}），现为 {total:.6g}",
                f"si_distr must sum to 1 (within {SI_SUM_TOLERANCE}); it sums to {total:.6g}",
            )
    else:
        if mean_si is None or std_si is None:
            raise RtInputError(
                "mean_si",
                "须给出序列间隔（均值与标准差，或离散分布）",
                "give the serial interval: mean_si and std_si, or si_distr",
            )
        w = discr_si(np.arange(T), mean_si, std_si)
    if w.size < T + 1:  # as estimate_R: padded with zeros to T + 1
        w = np.concatenate([w, np.zeros(T + 1 - w.size)])
    return w


def estimate_rt(
    incidence: Sequence[float] | np.ndarray | None = None,
    *,
    local: Sequence[float] | np.ndarray | None = None,
    imported: Sequence[float] | np.ndarray | None = None,
    mean_si: float | None = None,
    std_si: float | None = None,
    si_distr: Sequence[float] | np.ndarray | None = None,
    t_start: Sequence[int] | None = None,
    t_end: Sequence[int] | None = None,
    mean_prior: float = 5.0,
    std_prior: float = 5.0,
    cv_posterior: float = 0.3,
) -> RtEstimate:
    """R_t per window, as EpiEstim's estimate_R with method "parametric_si" (mean_si, std_si) or
    "non_parametric_si" (si_distr: w(0), w(1), ... with w(0) = 0, summing to 1).

    `incidence` is the daily series of all cases (day 1 counted as imported), or give `local` and `imported`.
    Windows default to weekly sliding ones (t_start = 2..T−6, t_end = t_start + 6).
    """
    for name, value in (("mean_prior", mean_prior), ("std_prior", std_prior), ("cv_posterior", cv_posterior)):
        if not (_real(value) and math.isfinite(value) and value > 0):
            raise RtInputError(
                name, f"{name} 须为正数（现为 {value!r}）", f"{name} must be > 0 (got {value!r})"
            )
    warnings: list[str] = []
    local_arr, imported_arr = _incidence(incidence, local, imported, warnings)
    T = local_arr.size
    ts, te = _windows(t_start, t_end, T)
    w = _si(mean_si, std_si, si_distr, T)
    days = np.arange(w.size)
    si_mean = float(np.sum(w * days))
    si_std = math.sqrt(max(float(np.sum(w * days**2)) - si_mean**2, 0.0))

    a_prior = (mean_prior / std_prior) ** 2
    b_prior = std_prior**2 / mean_prior

    total = local_arr + imported_arr
    lam = np.convolve(total, w[:T])[:T]  # Λ(t) = Σ_{s=0}^{t-1} w(s)·I(t−s); w(0) = 0
    lam[0] = 0.0  # EpiEstim's NA; no window includes day 1
    cum_local = np.concatenate(([0.0], np.cumsum(local_arr)))
    cum_total = np.concatenate(([0.0], np.cumsum(total)))
    cum_lam = np.concatenate(([0.0], np.cumsum(lam)))
    cases = cum_local[te] - cum_local[ts - 1]
    infectivity = cum_lam[te] - cum_lam[ts - 1]

    min_cases = math.ceil(1 / cv_posterior**2 - a_prior)
    first_window_cases = cum_total[te[0]] - cum_total[ts[0] - 1]
    if first_window_cases < min_cases:
        warnings.append(
            "You're estimating R too early in the epidemic to get the desired posterior CV "
            f"({first_window_cases:g} cases in the first window, fewer than {min_cases})."
        )

    estimable = (te > si_mean) & (infectivity > 0)
    n = ts.size
    stats = np.full((11, n), np.nan)  # shape, scale, mean, std, 7 quantiles
    if estimable.any():
        shape = a_prior + cases[estimable]
        scale = 1.0 / (1.0 / b_prior + infectivity[estimable])
        stats[0, estimable] = shape
        stats[1, estimable] = scale
        stats[2, estimable] = shape * scale
        stats[3, estimable] = np.sqrt(shape) * scale
        stats[4:, estimable] = gamma.ppf(np.asarray(QUANTILES)[:, None], shape, scale=scale)
    columns = [[None if math.isnan(v) else v for v in row] for row in stats.tolist()]
    windows = tuple(
        RtWindow(s, e, c, lm, *row)
        for s, e, c, lm, *row in zip(
            ts.tolist(), te.tolist(), cases.tolist(), infectivity.tolist(), *columns, strict=True
        )
    )
    return RtEstimate(
        windows=windows,
        si_distr=tuple(w.tolist()),
        si_mean=si_mean,
        si_std=si_std,
        warnings=tuple(warnings),
    )
