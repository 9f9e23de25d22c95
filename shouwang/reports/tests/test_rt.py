"""R_t against the R package EpiEstim: every window, every column, to 1e-6 relative (see reference/README.md)."""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest

from shouwang.reports.rt import (
    RtInputError,
    discr_si,
    estimate_rt,
    serial_interval_from_pairs,
)

REF = Path(__file__).parent / "reference"
SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "epiestim"
REL = 1e-6

# EpiEstim's column -> RtWindow attribute
COLUMNS = {
    "Mean(R)": "mean",
    "Std(R)": "std",
    "Quantile.0.025(R)": "q025",
    "Quantile.0.05(R)": "q05",
    "Quantile.0.25(R)": "q25",
    "Median(R)": "median",
    "Quantile.0.75(R)": "q75",
    "Quantile.0.95(R)": "q95",
    "Quantile.0.975(R)": "q975",
}


def read_csv(name: str) -> list[dict[str, str]]:
    with open(REF / name, newline="") as f:
        return list(csv.DictReader(f))


def flu2009() -> list[float]:
    return [float(r["I"]) for r in read_csv("Flu2009_incidence.csv")]


def flu2009_si() -> list[float]:
    return [float(r["prob"]) for r in read_csv("Flu2009_si_distr.csv")]


def mers() -> tuple[list[float], list[float]]:
    rows = read_csv("mers_2014_15_incidence.csv")
    return [float(r["local"]) for r in rows], [float(r["imported"]) for r in rows]


def edge() -> list[float]:
    return [float(x) for x in (REF / "edge_incidence.txt").read_text().strip().split(",")]


def r_warnings(run: str) -> list[str]:
    lines = (REF / "warnings.txt").read_text().splitlines()[1:]
    return [line.split(": ", 1)[1] for line in lines if line.startswith(run + ": ")]


def assert_matches_r(estimate, reference: str, *, none_where: set[int] = frozenset()) -> int:
    """Every window and column equal to R's within REL; R's NA is None. Returns the number of values compared."""
    rows = read_csv(reference)
    assert len(estimate.windows) == len(rows)
    compared = 0
    for window, row in zip(estimate.windows, rows, strict=True):
        assert (window.t_start, window.t_end) == (int(row["t_start"]), int(row["t_end"]))
        for column, attr in COLUMNS.items():
            ours = getattr(window, attr)
            if row[column] == "NA" or window.t_start in none_where:
                assert ours is None, (window.t_start, column)
                continue
            assert ours == pytest.approx(float(row[column]), rel=REL), (window.t_start, window.t_end, column)
            compared += 1
    return compared


def test_flu2009_parametric_si_equals_epiestim():
    estimate = estimate_rt(flu2009(), mean_si=2.6, std_si=1.5)
    assert [(w.t_start, w.t_end) for w in estimate.windows] == [(s, s + 6) for s in range(2, 27)]
    assert assert_matches_r(estimate, "flu2009_parametric.csv") == 25 * 9
    assert list(estimate.warnings) == r_warnings("flu2009_parametric") == []


def test_flu2009_non_parametric_si_equals_epiestim():
    estimate = estimate_rt(flu2009(), si_distr=flu2009_si())
    assert assert_matches_r(estimate, "flu2009_non_parametric.csv") == 25 * 9
    assert estimate.si_mean == pytest.approx(2.596)
    assert estimate.si_distr[:12] == tuple(flu2009_si()) and len(estimate.si_distr) == 33  # padded to T + 1


def test_local_and_imported_series_equal_epiestim():
    local, imported = mers()
    estimate = estimate_rt(local=local, imported=imported, mean_si=6.8, std_si=4.1)
    assert assert_matches_r(estimate, "mers_parametric.csv") == (len(local) - 7) * 9
    assert [w.split(" (")[0] + "." for w in estimate.warnings] == r_warnings("mers_parametric")


def test_no_estimate_before_the_mean_serial_interval_nor_without_infectivity():
    series = edge()
    days = range(2, len(series) + 1)
    estimate = estimate_rt(series, mean_si=6.8, std_si=4.1, t_start=days, t_end=days)
    by_day = {w.t_start: w for w in estimate.windows}
    # EpiEstim's NA: t_end <= the mean of the discretised SI (~6.8)
    assert all(by_day[t].mean is None for t in range(2, 7))
    # Nothing before day 10, so no infectivity on days 2..10: EpiEstim reports the prior there (mean 5 without
    # cases, 20 with the 3 cases of day 10), we report nothing.
    assert [t for t, w in by_day.items() if w.infectivity == 0] == list(range(2, 11))
    assert by_day[10].cases == 3 and by_day[10].mean is None
    compared = assert_matches_r(estimate, "edge_daily.csv", none_where={7, 8, 9, 10})
    assert compared == (len(series) - 10) * 9
    assert estimate.warnings[0].startswith(r_warnings("edge_daily")[0][:-1])


def test_posterior_by_hand():
    # Window [2, 3] of 1, 2, 4 with w = (0, 1): Λ(2) = 1, Λ(3) = 2, local cases 2 + 4.
    estimate = estimate_rt([1, 2, 4], si_distr=[0, 1], t_start=[2], t_end=[3])
    (w,) = estimate.windows
    assert (w.cases, w.infectivity) == (6, 3)
    assert w.shape == 7 and w.scale == pytest.approx(1 / (1 / 5 + 3))
    assert w.mean == pytest.approx(7 / 3.2) and w.std == pytest.approx(math.sqrt(7) / 3.2)


@pytest.mark.parametrize(
    ("mu", "sigma", "n"),
    [(2.6, 1.5, 32), (6.8, 4.1, 61)],
)
def test_discr_si_equals_epiestim(mu, sigma, n):
    rows = [r for r in read_csv("discr_si.csv") if float(r["mean_si"]) == mu]
    assert [int(r["k"]) for r in rows] == list(range(n))
    ours = discr_si(np.arange(n), mu, sigma)
    for k, row in enumerate(rows):
        assert ours[k] == pytest.approx(float(row["w"]), rel=REL, abs=1e-15), k
    assert ours[0] == 0


def test_the_reference_inputs_are_the_shared_data():
    if not SHARED.is_dir():
        pytest.skip("../shared/data/epiestim is not next to this clone")
    for name in ("Flu2009_incidence.csv", "Flu2009_si_distr.csv", "mers_2014_15_incidence.csv"):
        assert (REF / name).read_bytes() == (SHARED / name).read_bytes(), name


def test_local_cases_on_day_one_are_moved_to_imported():
    local, imported = mers()
    local[0], imported[0] = 1, 0  # mers starts with one imported case
    estimate = estimate_rt(local=local, imported=imported, mean_si=6.8, std_si=4.1)
    assert "moved to imported" in estimate.warnings[0]
    assert assert_matches_r(estimate, "mers_parametric.csv") == (len(local) - 7) * 9


# --- bad input --------------------------------------------------------------------------------------------


def test_negative_incidence_is_refused():
    series = flu2009()
    series[4] = -1
    with pytest.raises(RtInputError, match=r"incidence: day 5 is negative \(-1\)") as caught:
        estimate_rt(series, mean_si=2.6, std_si=1.5)
    assert caught.value.field == "incidence" and "负数" in caught.value.message_zh
    with pytest.raises(RtInputError, match="imported: day 3 is negative"):
        estimate_rt(
            local=[0, 1, 2, 3], imported=[1, 0, -2, 0], mean_si=2.6, std_si=1.5, t_start=[2], t_end=[4]
        )


def test_missing_days_are_refused_not_taken_as_zero():
    series: list = flu2009()
    for missing in (None, float("nan")):  # EpiEstim would count them as 0 cases
        series[2] = missing
        with pytest.raises(
            RtInputError, match=r"incidence: day 3 is not a finite number \(write 0 for a day"
        ):
            estimate_rt(series, mean_si=2.6, std_si=1.5)
    series[2] = "three"
    with pytest.raises(RtInputError, match="incidence must be daily case counts"):
        estimate_rt(series, mean_si=2.6, std_si=1.5)


def test_si_distribution_must_sum_to_one_and_start_at_zero():
    si = flu2009_si()
    with pytest.raises(RtInputError, match=r"si_distr must sum to 1 \(within 0.01\); it sums to 0.9"):
        estimate_rt(flu2009(), si_distr=[s * 0.9 for s in si])
    # EpiEstim's tolerance: 0.995 passes
    assert estimate_rt(flu2009(), si_distr=[s * 0.995 for s in si]).windows[0].mean is not None
    with pytest.raises(RtInputError, match=r"si_distr must start with w\(0\) = 0 \(got 0.1\)"):
        estimate_rt(flu2009(), si_distr=[0.1, si[1], si[2] - 0.1, *si[3:]])
    with pytest.raises(RtInputError, match=r"si_distr: w\(1\) is negative \(-0.1\)"):
        estimate_rt(flu2009(), si_distr=[0, -0.1, 1.1])


def test_parametric_si_is_checked():
    with pytest.raises(RtInputError, match=r"mean_si must be > 1 \(got 1\)"):
        estimate_rt(flu2009(), mean_si=1, std_si=1.5)
    with pytest.raises(RtInputError, match="std_si must be > 0"):
        estimate_rt(flu2009(), mean_si=2.6, std_si=0)
    with pytest.raises(RtInputError, match="give the serial interval"):
        estimate_rt(flu2009(), mean_si=2.6)
    with pytest.raises(RtInputError, match="not both"):
        estimate_rt(flu2009(), mean_si=2.6, std_si=1.5, si_distr=flu2009_si())


@pytest.mark.parametrize(
    ("t_start", "t_end", "message"),
    [
        ([2, 20], [8, 33], r"window 2 \[20, 33\] is outside the series: windows must lie within days 2..32"),
        ([1], [7], r"window 1 \[1, 7\] is outside the series"),
        ([40], [45], r"window 1 \[40, 45\] is outside the series"),
        ([9], [8], "window 1: t_start 9 is after t_end 8"),
        ([2, 3], [8], r"t_start \(2\) and t_end \(1\) must have the same length"),
        ([2.5], [8], r"t_start\[1\] must be an integer day"),
        ([2], None, "give both t_start and t_end"),
    ],
)
def test_windows_outside_the_series_are_refused(t_start, t_end, message):
    with pytest.raises(RtInputError, match=message):
        estimate_rt(flu2009(), mean_si=2.6, std_si=1.5, t_start=t_start, t_end=t_end)


def test_default_windows_need_eight_days():
    with pytest.raises(RtInputError, match="the default weekly windows need at least 8 days"):
        estimate_rt([1, 2, 3, 4, 5, 6, 7], mean_si=2.6, std_si=1.5)
    assert len(estimate_rt([1, 2, 3, 4, 5, 6, 7, 8], mean_si=2.6, std_si=1.5).windows) == 1


def test_input_errors_are_value_errors_with_both_languages():
    with pytest.raises(ValueError) as caught:
        estimate_rt([1, 2, 3], mean_si=2.6, std_si=1.5, t_start=[2], t_end=[4])
    assert caught.value.as_dict("en")["field"] == "t_end"
    assert "超出序列范围" in caught.value.as_dict("zh-hans")["message"]


# --- serial interval from linked pairs ----------------------------------------------------------------------


def test_serial_interval_from_pairs():
    d = dt.date(2022, 4, 1)
    days = dt.timedelta
    pairs = [
        (d, d + days(2)),
        (d, d + days(3)),
        (d + days(5), d + days(8)),
        (None, d),
        (d + days(1), d + days(5)),
        (d, None),
        (dt.datetime(2022, 4, 1, 23, 0), dt.datetime(2022, 4, 3, 1, 0)),  # datetimes count by calendar day
    ]
    si = serial_interval_from_pairs(pairs)
    assert (si.n, si.skipped) == (5, 2)
    assert si.counts == {2: 2, 3: 2, 4: 1}
    assert si.mean == pytest.approx(14 / 5)
    assert si.sd == pytest.approx(np.std([2, 3, 3, 4, 2], ddof=1))
    assert si.distribution == (0, 0, 0.4, 0.4, 0.2)
    # usable as the non-parametric serial interval (w(0) = 0, sums to 1)
    assert estimate_rt(flu2009(), si_distr=si.distribution).windows[0].mean is not None


def test_serial_interval_with_same_day_and_negative_intervals():
    d = dt.date(2022, 4, 10)
    same_day = serial_interval_from_pairs([(d, d), (d, d + dt.timedelta(days=2))])
    assert same_day.distribution == (0.5, 0, 0.5) and same_day.mean == 1
    with pytest.raises(RtInputError, match=r"w\(0\) = 0"):
        estimate_rt(flu2009(), si_distr=same_day.distribution)
    negative = serial_interval_from_pairs([(d, d - dt.timedelta(days=1)), (d, d + dt.timedelta(days=3))])
    assert negative.counts == {-1: 1, 3: 1} and negative.distribution is None and negative.mean == 1
    empty = serial_interval_from_pairs([(None, d)])
    assert (empty.n, empty.skipped, empty.mean, empty.sd, empty.distribution) == (0, 1, None, None, None)
    with pytest.raises(RtInputError, match="pair 1: an onset must be a date"):
        serial_interval_from_pairs([("2022-04-01", d)])
