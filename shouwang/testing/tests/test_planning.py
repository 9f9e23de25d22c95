"""The pooled-testing planning aid: Dorfman's expected tests per person, the best pool size under the national cap of
20, and the hours of a round, with exact numbers and against the shared reference table."""

import csv
import dataclasses
import math
from pathlib import Path

import pytest

from shouwang.testing.planning import (
    PoolAdvice,
    RoundEstimate,
    best_pool_size,
    dorfman_tests_per_person,
    round_hours,
)

REL = 1e-12
ROOT = Path(__file__).resolve().parents[3]  # the project; ../shared sits next to it
REFERENCE = ROOT.parent / "shared/data/pooled_testing/dorfman_reference.csv"


# ---- dorfman_tests_per_person ------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.0, 0.01, 0.3, 1.0])
def test_single_tube_is_exactly_one_test_per_person(p):
    assert dorfman_tests_per_person(p, 1) == 1.0


@pytest.mark.parametrize("n", [2, 5, 10, 20, 32])
def test_no_positives_means_one_test_per_pool(n):
    assert dorfman_tests_per_person(0.0, n) == pytest.approx(1 / n, rel=REL)


def test_one_percent_in_pools_of_ten():
    value = dorfman_tests_per_person(0.01, 10)
    assert value == pytest.approx(1 / 10 + 1 - 0.99**10, rel=REL)
    assert value == pytest.approx(0.1956179, abs=1e-7)


def test_everyone_positive_pools_cost_one_extra_test_per_pool():
    assert dorfman_tests_per_person(1.0, 10) == pytest.approx(1.1, rel=REL)


@pytest.mark.parametrize(
    ("p", "n"),
    [
        (-0.01, 10),
        (1.01, 10),
        (math.nan, 10),
        (5, 10),
        (True, 10),
        ("0.01", 10),
        (0.01, 0),
        (0.01, -5),
        (0.01, 2.0),
    ],
)
def test_dorfman_refuses_invalid_input(p, n):
    with pytest.raises(ValueError):
        dorfman_tests_per_person(p, n)


# ---- best_pool_size ----------------------------------------------------------------------------------------------


def test_best_at_a_tenth_of_a_percent_is_twenty_in_one():
    advice = best_pool_size(0.001)
    assert isinstance(advice, PoolAdvice)
    assert advice.positivity == 0.001
    assert advice.size == 20
    assert advice.tests_per_person == pytest.approx(0.069811135, rel=1e-8)
    sizes = [size for size, _ in advice.table]
    tests = [value for _, value in advice.table]
    assert sizes == [1, 5, 10, 20]
    assert tests == pytest.approx([1.0, 0.20499001, 0.10995512, 0.06981114], rel=1e-7)
    assert advice.reason_zh == "阳性率0.1%时，20合1每人平均0.07次检测，最省"
    assert advice.reason_en == "at 0.1% positivity, 20-in-1 needs 0.07 tests per person, the fewest"


def test_best_at_five_percent_is_five_in_one():
    advice = best_pool_size(0.05)
    assert advice.size == 5
    assert advice.tests_per_person == pytest.approx(1 / 5 + 1 - 0.95**5, rel=REL)  # 0.42621906...
    assert advice.reason_zh == "阳性率5%时，5合1每人平均0.43次检测，最省"


def test_at_thirty_percent_pooling_does_not_pay():
    advice = best_pool_size(0.3)
    assert advice.size == 1
    assert advice.tests_per_person == 1.0
    assert all(value > 1.0 for size, value in advice.table if size > 1)
    assert advice.reason_zh == "阳性率30%时，单采单检每人平均1.00次检测，最省（混管不划算）"
    assert advice.reason_en.endswith("(pooling does not pay)")


def test_at_one_percent_ten_in_one_beats_twenty():
    assert best_pool_size(0.01).size == 10


def test_ties_go_to_the_smaller_pool():
    # At p = 1 - sqrt(1/2), (1 - p)**2 = 1/2 and (1 - p)**4 = 1/4, so E(1) = E(2) = E(4) = 1 exactly in real numbers.
    # In floating point E(2) comes out as 0.9999999999999999: noise, still a tie, and the smallest size wins.
    p = 1 - math.sqrt(0.5)
    for size in (1, 2, 4):
        assert dorfman_tests_per_person(p, size) == pytest.approx(1.0, rel=REL)
    assert best_pool_size(p, sizes=(4, 2, 1)).size == 1
    assert best_pool_size(p, sizes=(4, 2)).size == 2


def test_sizes_are_sorted_and_deduplicated_in_the_table():
    advice = best_pool_size(0.01, sizes=(20, 10, 10, 5))
    assert [size for size, _ in advice.table] == [5, 10, 20]


def test_advice_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        best_pool_size(0.01).size = 20


@pytest.mark.parametrize(
    ("p", "sizes"),
    [
        (0.01, (10, 30)),  # above the national cap of 20 (no re-pooling in the lab)
        (0.01, (50,)),
        (0.01, ()),
        (0.01, (0, 10)),
        (0.01, (10.0,)),
        (-0.1, (1, 5)),
        (1.5, (1, 5)),
    ],
)
def test_best_pool_size_refuses_invalid_input(p, sizes):
    with pytest.raises(ValueError):
        best_pool_size(p, sizes=sizes)


def test_twenty_is_allowed():
    assert best_pool_size(0.0001, sizes=(20,)).size == 20


# ---- round_hours -------------------------------------------------------------------------------------------------


def test_a_round_held_up_by_the_laboratory():
    estimate = round_hours(people=100_000, sampling_per_hour=2000, pool_size=10, lab_tubes_per_day=4000)
    assert isinstance(estimate, RoundEstimate)
    assert estimate.sampling_hours == pytest.approx(50.0, rel=REL)
    assert estimate.tubes == 10_000
    assert estimate.lab_hours == pytest.approx(60.0, rel=REL)
    assert estimate.total_hours == pytest.approx(60.0, rel=REL)
    assert estimate.meets_24h is False
    assert estimate.bottleneck == "testing"
    assert estimate.positive_pools == 0
    assert estimate.rechecks == 0
    assert "检测" in estimate.reason_zh and "瓶颈在检测" in estimate.reason_zh
    assert estimate.reason_zh == "采样50小时、检测60小时，瓶颈在检测，共需60小时，超过24小时"
    assert "testing" in estimate.reason_en
    assert estimate.reason_en == (
        "sampling takes 50 h and testing 60 h; the bottleneck is testing; 60 h in total, over the 24 h target"
    )


def test_positive_pools_and_rechecks_at_one_percent():
    # 10,000 tubes of 10 at 1%: 10000 * (1 - 0.99**10) = 956.18 expected positive pools, rounded up to 957.
    estimate = round_hours(
        people=100_000, sampling_per_hour=2000, pool_size=10, lab_tubes_per_day=4000, positivity=0.01
    )
    assert estimate.positive_pools == 957
    assert estimate.rechecks == 9570


def test_a_round_within_24_hours_held_up_by_sampling():
    # 30,000 people at 2,000 an hour: 15 h of sampling; 1,500 tubes of 20 at 4,000 a day: 9 h of testing.
    # At 0.1%: 1500 * (1 - 0.999**20) = 29.72 positive pools -> 30, i.e. 600 people to recheck.
    estimate = round_hours(
        people=30_000, sampling_per_hour=2000, pool_size=20, lab_tubes_per_day=4000, positivity=0.001
    )
    assert estimate.sampling_hours == pytest.approx(15.0, rel=REL)
    assert estimate.tubes == 1500
    assert estimate.lab_hours == pytest.approx(9.0, rel=REL)
    assert estimate.total_hours == pytest.approx(15.0, rel=REL)
    assert estimate.meets_24h is True
    assert estimate.bottleneck == "sampling"
    assert estimate.positive_pools == 30
    assert estimate.rechecks == 600
    assert estimate.reason_zh == "采样15小时、检测9小时，瓶颈在采样，共需15小时，可在24小时内完成"
    assert estimate.reason_en == (
        "sampling takes 15 h and testing 9 h; the bottleneck is sampling; 15 h in total, within the 24 h target"
    )


def test_exactly_24_hours_meets_the_target():
    estimate = round_hours(people=48_000, sampling_per_hour=2000, pool_size=10, lab_tubes_per_day=4800)
    assert estimate.total_hours == pytest.approx(24.0, rel=REL)
    assert estimate.meets_24h is True


def test_a_partial_last_tube_counts_and_rechecks_never_exceed_the_people():
    estimate = round_hours(
        people=101, sampling_per_hour=100, pool_size=10, lab_tubes_per_day=24, positivity=1.0
    )
    assert estimate.tubes == 11
    assert estimate.lab_hours == pytest.approx(11.0, rel=REL)
    assert estimate.positive_pools == 11
    assert estimate.rechecks == 101


@pytest.mark.parametrize(
    "changes",
    [
        {"people": 0},
        {"people": -1},
        {"people": 1000.0},
        {"sampling_per_hour": 0},
        {"pool_size": 0},
        {"pool_size": 21},
        {"lab_tubes_per_day": 0},
        {"lab_tubes_per_day": True},
        {"positivity": -0.01},
        {"positivity": 1.2},
    ],
)
def test_round_hours_refuses_invalid_input(changes):
    arguments = {"people": 1000, "sampling_per_hour": 100, "pool_size": 10, "lab_tubes_per_day": 100}
    with pytest.raises(ValueError):
        round_hours(**(arguments | changes))


# ---- the shared reference table (../shared/data/pooled_testing/dorfman_reference.csv) ----------------------------


def _reference_rows():
    if not REFERENCE.exists():
        pytest.skip(f"reference data not found at {REFERENCE}")
    with REFERENCE.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    ("p", "n", "expected"),
    [  # rows copied from dorfman_reference.csv
        (0.001, 5, 0.20499),
        (0.001, 10, 0.109955),
        (0.001, 20, 0.069811),
        (0.01, 10, 0.195618),
        (0.05, 5, 0.426219),
        (0.3, 20, 1.049202),
    ],
)
def test_matches_reference_values(p, n, expected):
    assert round(dorfman_tests_per_person(p, n), 6) == expected


def test_matches_every_row_of_the_reference_table():
    rows = _reference_rows()
    assert len(rows) == 15
    for row in rows:
        p = float(row["prevalence"])
        for n in (5, 10, 20):
            assert round(dorfman_tests_per_person(p, n), 6) == float(row[f"tests_per_person_n{n}"]), (p, n)
        assert round(1 - dorfman_tests_per_person(p, 10), 6) == float(row["savings_vs_individual_n10"]), p
        # The table's optimum over 1..100 (beyond the national cap, so searched with the formula directly).
        optimum = min(range(1, 101), key=lambda n, p=p: (dorfman_tests_per_person(p, n), n))
        assert optimum == int(row["optimal_n_1to100"]), p
        assert round(dorfman_tests_per_person(p, optimum), 6) == float(row["tests_per_person_at_optimum"]), p


def test_best_pool_size_agrees_with_the_reference_columns():
    for row in _reference_rows():
        p = float(row["prevalence"])
        columns = {1: 1.0} | {n: float(row[f"tests_per_person_n{n}"]) for n in (5, 10, 20)}
        expected = min(columns, key=lambda n, columns=columns: (columns[n], n))
        assert best_pool_size(p).size == expected, p
