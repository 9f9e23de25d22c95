"""Epidemic analytics on the small outbreak of outbreak.py: the curve's counts per day by onset (sampling date
without onset) and report date with their splits and zero days, the jurisdiction, the serial interval of the
links, and R_t equal to rt.estimate_rt called directly on the same incidence."""

import math

import pytest

from shouwang.accounts.enums import Role
from shouwang.core.errors import DomainError
from shouwang.reports import rt, selectors
from shouwang.reports.tests.outbreak import d

FIELDS = ("total", "community", "quarantine", "local", "imported", "no_onset")


def nonzero(curve):
    return {c.day: tuple(getattr(c.counts, f) for f in FIELDS) for c in curve.days if c.counts.total}


def test_the_curve_by_onset_counts_asymptomatic_cases_by_sampling_date_and_keeps_zero_days(outbreak):
    curve = selectors.epicurve(outbreak["hq"])
    assert (curve.basis, curve.start, curve.end) == ("onset", d(1), d(15))  # first case to business today
    assert [c.day for c in curve.days] == [d(i) for i in range(1, 16)]
    assert nonzero(curve) == {
        #      total community quarantine local imported no_onset
        d(1): (1, 1, 0, 0, 1, 0),  # A1
        d(3): (1, 1, 0, 1, 0, 0),  # B1
        d(4): (1, 1, 0, 1, 0, 0),  # A2
        d(6): (2, 0, 2, 2, 0, 1),  # A3 by onset, A4 (asymptomatic) by sampling date
        d(8): (1, 1, 0, 1, 0, 0),  # A5; A6 is excluded
    }
    assert sum(1 for c in curve.days if c.counts.total == 0) == 10
    assert curve.total.as_dict() == {"total": 6, "community": 4, "quarantine": 2, "local": 5, "imported": 1,
                                     "no_onset": 1}


def test_the_curve_by_report_date_uses_the_local_day_of_the_report(outbreak):
    curve = selectors.epicurve(outbreak["hq"], basis="report")
    assert nonzero(curve) == {
        d(1): (1, 1, 0, 0, 1, 0),
        d(3): (1, 1, 0, 1, 0, 0),
        d(5): (1, 1, 0, 1, 0, 0),
        d(7): (2, 0, 2, 2, 0, 0),  # A4 reported at 00:30 on 07-07 Beijing time (07-06 in UTC)
        d(9): (1, 1, 0, 1, 0, 0),
    }
    assert curve.total.total == 6


def test_the_curve_keeps_to_the_jurisdiction_and_the_range(outbreak):
    town = selectors.epicurve(outbreak["township"])
    assert town.start == d(1) and d(3) not in nonzero(town) and town.total.total == 5
    other = selectors.epicurve(outbreak["township_b"])
    assert (other.start, nonzero(other)) == (d(3), {d(3): (1, 1, 0, 1, 0, 0)})
    part = selectors.epicurve(outbreak["hq"], start=d(4), end=d(6))
    assert [c.day for c in part.days] == [d(4), d(5), d(6)]
    assert [c.counts.total for c in part.days] == [1, 0, 2]
    nobody = outbreak["county"].user(Role.GRID_WORKER, outbreak["county"].building_a)
    empty = selectors.epicurve(nobody)
    assert (empty.start, empty.end, [c.counts.total for c in empty.days]) == (d(15), d(15), [0])


@pytest.mark.parametrize("kw, field", [
    ({"end": d(16)}, "end"),
    ({"start": d(10), "end": d(9)}, "start"),
    ({"start": d(1).replace(year=2020)}, "start"),
])
def test_a_bad_range_names_its_field(outbreak, kw, field):
    with pytest.raises(DomainError) as err:
        selectors.epicurve(outbreak["hq"], **kw)
    assert (err.value.status, err.value.field) == (422, field)


def test_the_serial_interval_of_the_three_links_with_both_onsets(outbreak):
    si = selectors.serial_interval(outbreak["hq"])
    assert (si.n, si.skipped, si.counts, si.same_day, si.negative) == (3, 1, {2: 2, 3: 1}, 0, 0)
    assert si.mean == pytest.approx(7 / 3, abs=1e-15)
    assert si.sd == pytest.approx(math.sqrt(1 / 3), abs=1e-15)  # sample sd of 3, 2, 2
    assert si.distribution == pytest.approx((0, 0, 2 / 3, 1 / 3), abs=1e-15)
    assert si.rows == [(0, 0, 0), (1, 0, 0), (2, 2, 2 / 3), (3, 1, 1 / 3)]  # from day 0
    assert selectors.serial_interval(outbreak["township_b"]).n == 0
    # a range keeps the links whose infectee fell ill (or was sampled) in it: A3, A4 on 07-06
    ranged = selectors.serial_interval(outbreak["hq"], start=d(5), end=d(7))
    assert (ranged.n, ranged.skipped, ranged.counts) == (1, 1, {2: 1})


def expected_incidence():
    local = [0] * 15
    imported = [0] * 15
    imported[0] = 1  # A1 07-01
    for day in (3, 4, 6, 6, 8):  # B1, A2, A3, A4 (sampled), A5
        local[day - 1] += 1
    return local, imported


def same_windows(view, est):
    assert len(view.windows) == len(est.windows) == 8  # t_end 07-08 .. 07-15
    for ours, theirs in zip(view.windows, est.windows, strict=True):
        assert (ours.t_start, ours.t_end) == (d(theirs.t_start), d(theirs.t_end))
        assert ours.cases == theirs.cases
        for name in ("mean", "std", "median", "q025", "q975"):
            assert getattr(ours, name) == getattr(theirs, name)


def test_rt_with_the_default_serial_interval_equals_rt_on_the_same_incidence(outbreak):
    view = selectors.rt_estimate(outbreak["hq"])
    local, imported = expected_incidence()
    assert (view.start, view.end, view.local, view.imported) == (d(1), d(15), local, imported)
    assert (view.si.source, view.si.mean, view.si.sd, view.si.pairs) == ("default", 3.0, 2.0, 3)
    est = rt.estimate_rt(local=local, imported=imported, mean_si=3.0, std_si=2.0)
    same_windows(view, est)
    first, last = view.windows[0], view.windows[-1]
    assert (first.t_start, first.t_end, first.cases) == (d(2), d(8), 5)
    assert first.mean == pytest.approx(6 / (1 / 5 + est.windows[0].infectivity), rel=1e-12)
    assert (last.t_start, last.t_end, last.cases) == (d(9), d(15), 0)
    assert first.q025 < first.median < first.q975
    assert [n.code for n in view.warnings] == ["too_early"]  # 5 cases in the first window, fewer than 11
    assert "5 cases in the first window" in view.warnings[0].en and "5 例" in view.warnings[0].zh


def test_rt_with_a_given_serial_interval_and_range(outbreak):
    view = selectors.rt_estimate(outbreak["township"], start=d(2), end=d(12), mean_si=4.5, std_si=2.5)
    local = [0, 0, 1, 0, 2, 0, 1, 0, 0, 0, 0]  # 07-02..07-12 in 天坛镇: A2, A3 + A4, A5 (A1 before the range)
    assert (view.local, view.imported, view.si.source) == (local, [0] * 11, "custom")
    est = rt.estimate_rt(local=local, imported=[0] * 11, mean_si=4.5, std_si=2.5)
    assert len(view.windows) == len(est.windows) == 4
    for ours, theirs in zip(view.windows, est.windows, strict=True):
        assert (ours.mean, ours.q025, ours.q975) == (theirs.mean, theirs.q025, theirs.q975)
    assert [w.t_end for w in view.windows] == [d(9), d(10), d(11), d(12)]  # day 8 of the range onwards


def test_rt_empirical_falls_back_to_the_default_below_ten_pairs(outbreak):
    view = selectors.rt_estimate(outbreak["hq"], si="empirical")
    assert (view.si.choice, view.si.source, view.si.mean, view.si.sd) == ("empirical", "default", 3.0, 2.0)
    assert view.warnings[0].code == "si_few_pairs" and "3 对" in view.warnings[0].zh
    local, imported = expected_incidence()
    same_windows(view, rt.estimate_rt(local=local, imported=imported, mean_si=3.0, std_si=2.0))


def test_rt_empirical_uses_the_pairs_distribution_when_there_are_enough(outbreak, monkeypatch):
    monkeypatch.setattr(selectors, "MIN_EMPIRICAL_PAIRS", 3)
    view = selectors.rt_estimate(outbreak["hq"], si="empirical")
    assert view.si.source == "empirical"
    assert view.si.distribution == pytest.approx((0, 0, 2 / 3, 1 / 3))
    assert view.si.mean == pytest.approx(7 / 3) and view.si.sd == pytest.approx(math.sqrt(2 / 9))
    local, imported = expected_incidence()
    same_windows(view, rt.estimate_rt(local=local, imported=imported, si_distr=(0, 0, 2 / 3, 1 / 3)))
    assert [n.code for n in view.warnings] == ["too_early"]


def test_rt_empirical_with_same_day_pairs_uses_their_mean_and_sd(outbreak, monkeypatch):
    from shouwang.tracing.services import link_add

    county, hq = outbreak["county"], outbreak["hq"]
    monkeypatch.setattr(selectors, "MIN_EMPIRICAL_PAIRS", 4)
    from shouwang.tracing.services import CaseInput, case_create

    person = county.person(name="病例8", seq=108)
    a7 = case_create(actor=hq, data=CaseInput(person_id=person.id, found_by="contact_screening",
                                              classification="confirmed", onset_date=d(8), sampling_date=d(8),
                                              propose_contacts=False)).case
    link_add(actor=hq, infector_id=outbreak["cases"]["A5"].id, infectee_id=a7.id)  # same day: 0
    view = selectors.rt_estimate(outbreak["hq"], si="empirical")
    si = selectors.serial_interval(outbreak["hq"])
    assert (si.n, si.same_day) == (4, 1)
    assert (view.si.source, view.si.mean, view.si.sd) == ("empirical_parametric", si.mean, si.sd)
    assert view.warnings[0].code == "si_parametric_from_pairs"
    local, imported = expected_incidence()
    local[7] += 1
    same_windows(view, rt.estimate_rt(local=local, imported=imported, mean_si=si.mean, std_si=si.sd))


def test_rt_on_a_short_range_warns_instead_of_failing(outbreak):
    view = selectors.rt_estimate(outbreak["hq"], start=d(10), end=d(15))
    assert view.windows == [] and [n.code for n in view.warnings] == ["too_short"]


def test_rt_moves_local_cases_of_day_one_to_imported_with_a_warning(outbreak):
    view = selectors.rt_estimate(outbreak["hq"], start=d(4))
    assert view.local[0] == 1  # A2 on 07-04, the first day of the range
    assert "first_day_imported" in [n.code for n in view.warnings]


@pytest.mark.parametrize("kw, field", [
    ({"mean_si": 1.0}, "mean_si"),
    ({"std_si": 0}, "std_si"),
    ({"si": "both"}, "si"),
])
def test_a_bad_serial_interval_names_its_field(outbreak, kw, field):
    with pytest.raises(DomainError) as err:
        selectors.rt_estimate(outbreak["hq"], **kw)
    assert (err.value.status, err.value.field) == (422, field)
