"""Transmission links and chains (`shouwang.tracing.chains`).

The real data: the 1,407 infector → infectee pairs of Ali et al., Science 2020 (copied into `data/ali2020/`,
see `data/README.md`). Chains, generations and serial intervals are checked twice: against a computation
written differently here (label propagation for the components, a fixed-point iteration for the generations,
`statistics.mean`/`stdev` for the serial interval), compared exactly, and against the numbers it gives,
written out.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import random
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shouwang.core.errors import DomainError
from shouwang.tracing.chains import (
    Chain,
    ChainError,
    chains,
    check_link,
    onset_order_problem,
    serial_intervals,
)

ALI_CSV = Path(__file__).parent / "data" / "ali2020" / "TableS1_1407TransPairs.csv"
D = dt.date

def test_the_module_is_pure():
    """No Django, no database: importing it loads nothing of Django and no model module."""
    code = ("import sys, shouwang.tracing.chains; "
            "print(sorted(m for m in sys.modules if m.startswith(('django', 'shouwang'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(["shouwang", "shouwang.core", "shouwang.core.errors", "shouwang.tracing",
                               "shouwang.tracing.chains"])


# ---- loading the Ali et al. table --------------------------------------------------------------------------


@dataclass
class Ali:
    links: list[tuple[str, str]] = field(default_factory=list)  # (infector, infectee), one per row
    onset_pairs: list[tuple[dt.date | None, dt.date | None]] = field(default_factory=list)  # per row
    onset: dict[str, dt.date | None] = field(default_factory=dict)  # per case
    date_values: collections.Counter = field(default_factory=collections.Counter)  # "date", "unknown", "padded"…
    conflicting_onsets: list[str] = field(default_factory=list)  # a case given two different onsets


def _onset(value: str, counter: collections.Counter) -> dt.date | None:
    """Onsets are written 2020/01/23 or `unknown`; one `unknown` is padded with spaces; anything else is malformed."""
    if value != value.strip():
        counter["padded"] += 1
    value = value.strip()
    if value == "unknown":
        counter["unknown"] += 1
        return None
    try:
        parsed = dt.datetime.strptime(value, "%Y/%m/%d").date()
    except ValueError:
        counter["malformed"] += 1
        return None
    counter["date"] += 1
    return parsed


def load_ali() -> Ali:
    ali = Ali()
    with ALI_CSV.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            infector, infectee = row["infector_id"].strip(), row["infectee_id"].strip()
            a = _onset(row["infector_onsetDate"], ali.date_values)
            b = _onset(row["infectee_onsetDate"], ali.date_values)
            ali.links.append((infector, infectee))
            ali.onset_pairs.append((a, b))
            for case, onset in ((infector, a), (infectee, b)):
                if case in ali.onset and ali.onset[case] != onset:
                    ali.conflicting_onsets.append(case)
                ali.onset.setdefault(case, onset)
    return ali


@pytest.fixture(scope="module")
def ali() -> Ali:
    return load_ali()


def test_the_ali_table_as_read(ali):
    assert len(ali.links) == 1_407
    assert len(set(ali.links)) == 1_407  # no pair twice
    assert len(ali.onset) == 2_050  # distinct cases
    # 2 × 1,407 onset fields: 1,774 dates, 1,040 "unknown" (one of them padded with spaces), none malformed
    assert ali.date_values == {"date": 1_774, "unknown": 1_040, "padded": 1}
    assert ali.conflicting_onsets == []  # a case that appears in several rows has the same onset in all
    dates = [d for d in ali.onset.values() if d]
    assert (min(dates), max(dates)) == (D(2020, 1, 7), D(2020, 2, 28))
    missing = collections.Counter((a is None, b is None) for a, b in ali.onset_pairs)
    assert missing == {(False, False): 679, (True, False): 118, (False, True): 298, (True, True): 312}


# ---- the independent computation ---------------------------------------------------------------------------


def independent_chains(cases, links, dates):
    """Components by repeated label propagation (every case takes the smallest label of its links until nothing
    changes), generations by a fixed point (gen[infectee] = gen[infector] + 1 until nothing changes)."""
    label = {c: c for c in cases}
    for a, b in links:
        label.setdefault(a, a)
        label.setdefault(b, b)
    changed = True
    while changed:
        changed = False
        for a, b in links:
            low = min(label[a], label[b])
            if label[a] != low or label[b] != low:
                label[a] = label[b] = low
                changed = True
    gen = dict.fromkeys(label, 1)
    changed = True
    while changed:
        changed = False
        for a, b in links:
            if gen[b] != gen[a] + 1:
                gen[b] = gen[a] + 1
                changed = True
    infectees = {b for _, b in links}
    groups = collections.defaultdict(list)
    for case, lab in label.items():
        groups[lab].append(case)
    out = []
    for members in groups.values():
        dated = [(dates[c], c) for c in members if dates.get(c) is not None]
        first = min(dated) if dated else (None, None)
        latest = min(dated, key=lambda dc: (-dc[0].toordinal(), dc[1])) if dated else (None, None)
        out.append({
            "roots": tuple(sorted(c for c in members if c not in infectees)),
            "cases": frozenset(members),
            "generation": {c: gen[c] for c in members},
            "size": len(members),
            "max_generation": max(gen[c] for c in members),
            "first": (first[1], first[0]),
            "latest": (latest[1], latest[0]),
            "smallest": min(members),
        })
    out.sort(key=lambda ch: (ch["first"][1] is None, ch["first"][1] or D.max, ch["smallest"]))
    return out


def as_plain(result: list[Chain]):
    assert [c.number for c in result] == list(range(1, len(result) + 1))
    return [{
        "roots": c.roots, "cases": frozenset(c.cases), "generation": c.generation, "size": c.size,
        "max_generation": c.max_generation, "first": (c.first_case, c.first_date),
        "latest": (c.latest_case, c.latest_date), "smallest": c.smallest_case,
    } for c in result]


# ---- chains on Ali et al. ----------------------------------------------------------------------------------


def test_ali_chains_agree_with_the_independent_computation(ali):
    result = chains(ali.onset, ali.links, ali.onset)
    assert as_plain(result) == independent_chains(list(ali.onset), ali.links, ali.onset)
    for c in result:
        assert len(c.roots) == 1 and c.generation[c.roots[0]] == 1
        gens = [c.generation[x] for x in c.cases]
        assert gens == sorted(gens)  # cases listed by generation
        assert c.size == len(c.cases) == len(set(c.cases))


def test_ali_chains_numbers(ali):
    result = chains([], ali.links, ali.onset)  # the cases named by the links are covered
    sizes = collections.Counter(c.size for c in result)
    print("chains", len(result), "largest", max(sizes), "sizes", sorted(sizes.items()),
          "max generation", max(c.max_generation for c in result))
    assert len(result) == 643
    assert sum(c.size for c in result) == 2_050
    assert sum(c.size - 1 for c in result) == 1_407  # a tree: one link fewer than cases
    assert dict(sizes) == {2: 334, 3: 137, 4: 84, 5: 32, 6: 19, 7: 16, 8: 3, 9: 4, 10: 3, 11: 2, 12: 3, 13: 1,
                           14: 2, 17: 1, 19: 1, 24: 1}
    largest = max(result, key=lambda c: c.size)
    assert (largest.size, largest.roots, largest.max_generation) == (24, ("tianjin-37",), 4)
    assert (largest.first_case, largest.first_date) == ("tianjin-43", D(2020, 1, 21))  # not the root: onsets
    assert (largest.latest_case, largest.latest_date) == ("tianjin-128", D(2020, 2, 4))
    assert max(c.max_generation for c in result) == 6
    assert collections.Counter(c.max_generation for c in result) == {2: 527, 3: 97, 4: 14, 5: 3, 6: 2}
    deepest = sorted((c.roots[0], c.size) for c in result if c.max_generation == 6)
    assert deepest == [("maanshan-3", 7), ("nanning-40", 7)]
    per_generation = collections.Counter(g for c in result for g in c.generation.values())
    assert per_generation == {1: 643, 2: 1_166, 3: 205, 4: 26, 5: 7, 6: 3}
    first = result[0]
    assert (first.number, first.roots, first.cases, first.first_date) == (
        1, ("huaihua-5",), ("huaihua-5", "huaihua-6", "huaihua-7"), D(2020, 1, 7))
    assert first.generation == {"huaihua-5": 1, "huaihua-6": 2, "huaihua-7": 3}
    undated = [c for c in result if c.first_date is None]
    assert len(undated) == 114 and result[-len(undated):] == undated  # chains without any onset come last
    assert result[-1].roots == ("zunyi-5",)


def test_every_ali_link_passes_check_link_and_its_reverse_is_a_cycle(ali):
    for i, (a, b) in enumerate(ali.links):
        check_link(ali.links[:i], a, b)  # each link is allowed given the ones before it
    chain_of = {case: c for c in chains([], ali.links) for case in c.cases}
    for a, b in ali.links[::7]:
        links = [(x, y) for x, y in ali.links if x in chain_of[a].generation]  # the chain's links are enough
        with pytest.raises(ChainError) as err:
            check_link(links, b, a)
        assert err.value.code == "cycle"
        assert err.value.details[0]["path"] == [a, b]


# ---- serial intervals on Ali et al. ------------------------------------------------------------------------


def test_ali_serial_interval(ali):
    si = serial_intervals(ali.onset_pairs)
    print("serial interval n", si.n, "mean", si.mean, "sd", si.sd, "skipped", si.skipped)
    # independently: parse the two columns again, by hand, and use statistics
    expected = []
    with ALI_CSV.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            a, b = row["infector_onsetDate"].strip(), row["infectee_onsetDate"].strip()
            if "unknown" in (a, b):
                continue
            ya, ma, da = map(int, a.split("/"))
            yb, mb, db = map(int, b.split("/"))
            expected.append(D(yb, mb, db).toordinal() - D(ya, ma, da).toordinal())
    assert list(si.intervals) == expected
    assert si.n == len(expected) == 679
    assert si.skipped == 1_407 - 679 == 728  # 118 infector onset unknown, 298 infectee, 312 both
    assert si.mean == statistics.mean(expected)
    assert si.sd == statistics.stdev(expected)
    assert si.mean == 3_456 / 679 and round(si.mean, 4) == 5.0898
    assert round(si.sd, 4) == 5.2551
    assert sum(x < 0 for x in si.intervals) == 54  # infectee ill first: kept
    assert sum(x == 0 for x in si.intervals) == 61
    assert (min(si.intervals), max(si.intervals)) == (-11, 24)


def test_ali_onset_order(ali):
    """The longest pre-symptomatic interval in the table is 11 days: within a 14-day incubation period."""
    flagged = [p for p in ali.onset_pairs if onset_order_problem(*p, basis="onset")]
    assert flagged == []
    flagged_7 = [p for p in ali.onset_pairs if onset_order_problem(*p, basis="onset", max_incubation_days=7)]
    assert len(flagged_7) == sum(1 for a, b in ali.onset_pairs if a and b and (b - a).days < -7) == 4
    # the infector's onset minus 2 days taken as an exposure bound would refuse real pairs
    too_strict = [p for p in ali.onset_pairs if p[0] and onset_order_problem(p[0] - dt.timedelta(days=2), p[1])]
    assert len(too_strict) == sum(1 for a, b in ali.onset_pairs if a and b and (b - a).days < -2) == 30


# ---- a hand-made example -----------------------------------------------------------------------------------

#   A → B → D → E         F → G        H (no link)
#     ↘ C
HAND_LINKS = [("A", "B"), ("A", "C"), ("B", "D"), ("D", "E"), ("F", "G")]
HAND_DATES = {"A": D(2022, 3, 5), "B": D(2022, 3, 9), "C": D(2022, 3, 9), "D": D(2022, 3, 12),
              "E": D(2022, 3, 12), "F": D(2022, 3, 1), "G": None, "H": D(2022, 3, 5)}


def test_hand_made_chains():
    result = chains("ABCDEFGH", HAND_LINKS, HAND_DATES)
    assert [c.roots for c in result] == [("F",), ("A",), ("H",)]  # F first (1 March); A and H on 5 March: A < H
    f, a, h = result
    assert a.number == 2
    assert a.cases == ("A", "B", "C", "D", "E")
    assert a.generation == {"A": 1, "B": 2, "C": 2, "D": 3, "E": 4}
    assert (a.size, a.max_generation) == (5, 4)
    assert (a.first_case, a.first_date) == ("A", D(2022, 3, 5))
    assert (a.latest_case, a.latest_date) == ("D", D(2022, 3, 12))  # D and E tie: the smaller id
    assert f.generation == {"F": 1, "G": 2}
    assert (f.first_case, f.latest_case) == ("F", "F")  # G has no date
    assert (h.size, h.max_generation, h.generation, h.first_case, h.latest_case) == (1, 1, {"H": 1}, "H", "H")


def test_chains_without_dates_are_ordered_by_smallest_case_and_come_last():
    result = chains([9, 3, 5], [(7, 2)], {5: D(2022, 1, 1)})
    assert [(c.number, c.cases) for c in result] == [(1, (5,)), (2, (7, 2)), (3, (3,)), (4, (9,))]
    assert [c.smallest_case for c in result] == [5, 2, 3, 9]
    assert result[1].roots == (7,) and result[1].first_case is None


def test_chains_refuse_links_that_are_not_a_forest():
    with pytest.raises(ChainError) as err:
        chains([], [(1, 2), (3, 3)])
    assert err.value.code == "self_link"
    with pytest.raises(ChainError) as err:
        chains([], [(1, 2), (3, 2)])
    assert (err.value.code, err.value.field, err.value.details) == (
        "two_infectors", "infectee", [{"infectee": 2, "infectors": [1, 3]}])
    with pytest.raises(ChainError) as err:
        chains([0], [(5, 6), (1, 2), (2, 3), (3, 1), (3, 4)])
    assert err.value.code == "cycle"
    assert err.value.details == [{"cycle": [1, 2, 3, 1]}]
    assert "1 → 2 → 3 → 1" in err.value.message_en and "1 → 2 → 3 → 1" in err.value.message_zh
    assert chains([], [(1, 2), (1, 2)])[0].cases == (1, 2)  # the same link twice is one link


def test_dates_must_be_dates():
    with pytest.raises(TypeError):
        chains([1], [], {1: dt.datetime(2022, 1, 1, 8)})
    with pytest.raises(TypeError):
        serial_intervals([(dt.datetime(2022, 1, 1), D(2022, 1, 3))])


# ---- check_link --------------------------------------------------------------------------------------------


def test_check_link_accepts_a_link_that_keeps_a_tree():
    assert check_link(HAND_LINKS, "E", "H") is None  # a new case below the chain
    assert check_link(HAND_LINKS, "E", "F") is None  # joins two chains: F had no infector
    assert check_link([], "X", "Y") is None


def test_check_link_refuses_a_self_link():
    with pytest.raises(ChainError) as err:
        check_link(HAND_LINKS, "H", "H")
    e = err.value
    assert isinstance(e, DomainError)
    assert (e.code, e.field, e.status) == ("self_link", "infectee", 422)
    assert e.message_zh == "病例 H 不能是自己的传染源"
    assert e.message_en == "case H cannot be its own infector"


def test_check_link_refuses_a_second_infector():
    with pytest.raises(ChainError) as err:
        check_link(HAND_LINKS, "F", "C")
    e = err.value
    assert (e.code, e.field, e.status) == ("two_infectors", "infectee", 409)
    assert e.details == [{"infector": "F", "infectee": "C", "existing_infector": "A"}]
    assert "病例 C 已有传染源 A" in e.message_zh and "请先删除原有传播关系" in e.message_zh
    assert "case C already has an infector (A)" in e.message_en and "remove the existing link first" in e.message_en
    assert e.as_dict("en")["message"] == e.message_en


def test_check_link_refuses_the_same_link_twice():
    with pytest.raises(ChainError) as err:
        check_link(HAND_LINKS, "A", "B")
    assert (err.value.code, err.value.field, err.value.status) == ("duplicate_link", "infectee", 409)


def test_check_link_refuses_a_cycle():
    with pytest.raises(ChainError) as err:
        check_link(HAND_LINKS, "E", "A")  # E descends from A
    e = err.value
    assert (e.code, e.field, e.status) == ("cycle", "infector", 409)
    assert e.details[0]["path"] == ["A", "B", "D", "E"]
    assert "A → B → D → E" in e.message_zh and "A → B → D → E" in e.message_en
    # a cycle is reported before a second infector: removing B's link to A would not make D → B possible
    with pytest.raises(ChainError) as err:
        check_link(HAND_LINKS, "D", "B")
    assert err.value.code == "cycle"
    assert err.value.details[0]["path"] == ["B", "D"]


def test_check_link_terminates_on_broken_existing_links():
    broken = [(1, 2), (2, 1), (3, 1)]  # a cycle and two infectors already: should not exist, must not hang
    assert check_link(broken, 2, 4) is None
    with pytest.raises(ChainError) as err:
        check_link(broken, 1, 3)  # 3 is one of 1's infectors
    assert (err.value.code, err.value.details[0]["path"]) == ("cycle", [3, 1])


# ---- serial intervals --------------------------------------------------------------------------------------


def test_serial_intervals_small():
    si = serial_intervals([
        (D(2022, 3, 1), D(2022, 3, 5)), (D(2022, 3, 4), D(2022, 3, 2)), (None, D(2022, 3, 9)),
        (D(2022, 3, 1), None), (D(2022, 3, 1), D(2022, 3, 1)),
    ])
    assert si.intervals == (4, -2, 0)
    assert (si.n, si.skipped) == (3, 2)
    assert si.mean == 2 / 3
    assert si.sd == statistics.stdev([4, -2, 0])
    one = serial_intervals([(D(2022, 3, 1), D(2022, 3, 6))])
    assert (one.n, one.mean, one.sd) == (1, 5.0, None)
    none = serial_intervals([(None, None)])
    assert (none.n, none.mean, none.sd, none.skipped, none.intervals) == (0, None, None, 1, ())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=-40, max_value=60), min_size=2, max_size=200))
def test_serial_interval_statistics_equal_the_statistics_module(days):
    base = D(2022, 1, 1)
    si = serial_intervals([(base, base + dt.timedelta(days=x)) for x in days])
    assert si.mean == statistics.mean(days)
    assert si.sd == statistics.stdev(days)


# ---- onset order -------------------------------------------------------------------------------------------


def test_onset_before_the_infectors_exposure_is_an_error():
    e = onset_order_problem(D(2022, 3, 10), D(2022, 3, 9), basis="exposure")
    assert isinstance(e, DomainError)
    assert (e.code, e.field, e.status) == ("onset_before_exposure", "infectee", 422)
    assert e.message_zh == ("被感染者发病日期 2022-03-09 早于传染源最早可能的暴露日期（2022-03-10），"
                            "传播关系不成立，请核对日期或传染源")
    assert e.message_en == ("the infectee's onset 2022-03-09 is before the infector's first possible exposure "
                            "(2022-03-10): check the dates or the infector")
    assert onset_order_problem(D(2022, 3, 10), D(2022, 3, 9)) == e  # exposure is the default basis
    assert onset_order_problem(D(2022, 3, 10), D(2022, 3, 10), basis="exposure") is None  # the same day
    assert onset_order_problem(None, D(2022, 3, 10), basis="exposure") is None
    assert onset_order_problem(D(2022, 3, 10), None, basis="exposure") is None


def test_onset_basis_allows_presymptomatic_transmission():
    # infector fell ill on 20 March: infected at the earliest 14 days before, on 6 March
    assert onset_order_problem(D(2022, 3, 20), D(2022, 3, 15), basis="onset") is None  # negative SI: allowed
    assert onset_order_problem(D(2022, 3, 20), D(2022, 3, 6), basis="onset") is None
    e = onset_order_problem(D(2022, 3, 20), D(2022, 3, 5), basis="onset")
    assert e.code == "onset_before_exposure"
    assert "2022-03-06" in e.message_zh and "14" in e.message_en
    with pytest.raises(ValueError):
        onset_order_problem(D(2022, 3, 20), D(2022, 3, 5), basis="report")


# ---- size: 100,000 cases -----------------------------------------------------------------------------------

N = 100_000


def test_100k_cases_in_10k_chains():
    links = [(i - 1, i) for i in range(N) if i % 10]  # 90,000 links: 0→1→…→9, 10→11→…→19, …
    dates = {i: D(2022, 1, 1) + dt.timedelta(days=(N - i) // 10) for i in range(N)}  # later chains start earlier
    result = chains(range(N), links, dates)
    assert len(result) == 10_000
    assert {c.size for c in result} == {10} and {c.max_generation for c in result} == {10}
    assert result[0].roots == (99_990,) and result[-1].roots == (0,)
    assert result[0].generation[99_999] == 10
    # in chain 0–9, cases 1–9 share the earliest date (the smallest id is first) and case 0 is the latest
    assert (result[-1].first_case, result[-1].latest_case) == (1, 0)


def test_100k_cases_one_line_and_one_random_tree():
    line = chains(range(N), [(i, i + 1) for i in range(N - 1)])  # 100,000 generations: nothing recursive
    assert len(line) == 1 and line[0].size == N and line[0].max_generation == N
    assert line[0].generation[N - 1] == N

    rng = random.Random(7)
    links = [(rng.randrange(i), i) for i in range(1, N)]
    rng.shuffle(links)
    singletons = range(N, N + 5_000)
    result = chains(singletons, links)
    assert len(result) == 5_001
    assert result[0].size == N and result[0].roots == (0,)
    gen = {0: 1}
    for a, b in sorted(links, key=lambda link: link[1]):  # infector ids are smaller: one pass in id order
        gen[b] = gen[a] + 1
    assert result[0].generation == gen
    assert result[0].max_generation == max(gen.values())
    assert [c.cases for c in result[1:]] == [(i,) for i in singletons]


# ---- random forests against the independent computation ----------------------------------------------------


@st.composite
def forests(draw):
    n = draw(st.integers(min_value=1, max_value=40))
    ids = draw(st.permutations(range(n)))
    links = []
    for position in range(1, n):
        if draw(st.booleans()):
            links.append((ids[draw(st.integers(min_value=0, max_value=position - 1))], ids[position]))
    links = draw(st.permutations(links))
    dates = {i: draw(st.none() | st.dates(min_value=D(2022, 1, 1), max_value=D(2022, 1, 20))) for i in range(n)}
    return list(range(n)), links, dates


@settings(max_examples=300, deadline=None)
@given(forests())
def test_random_forests_agree_with_the_independent_computation(forest):
    cases, links, dates = forest
    assert as_plain(chains(cases, links, dates)) == independent_chains(cases, links, dates)
    # every link is accepted given the others, and its reverse is refused
    for i, (a, b) in enumerate(links):
        others = links[:i] + links[i + 1:]
        check_link(others, a, b)
        with pytest.raises(ChainError):
            check_link(others + [(a, b)], b, a)
