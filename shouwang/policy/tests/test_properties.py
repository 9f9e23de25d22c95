"""Properties of every finite plan of every version: no overlap or gap between phases, test days inside their
phase, and a later anchor never releases earlier."""

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from shouwang.policy.rules import measure_plan
from shouwang.policy.tests.test_rules import RULES

FINITE = sorted({(v, c) for v, r in RULES.items() for c, spec in r.categories.items()
                 if all(p.days is not None for p in (RULES[v].categories[spec.follows].phases if spec.follows
                                                     else spec.phases))})
dates = st.dates(min_value=dt.date(2022, 1, 1), max_value=dt.date(2023, 12, 31))


def plan(version, category, anchor, found_on=None):
    return measure_plan(RULES[version], category, anchor, found_on=found_on, hypothetical=True)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FINITE), dates, st.integers(min_value=0, max_value=15), st.booleans())
def test_phases_follow_each_other_without_gap_or_overlap_and_tests_fall_inside(vc, anchor, late, is_late):
    version, category = vc
    found_on = anchor + dt.timedelta(days=late) if is_late else None
    p = plan(version, category, anchor, found_on)
    for before, after in zip(p.phases, p.phases[1:], strict=False):
        assert after.start == before.end + dt.timedelta(days=1)
    for phase in p.phases:
        assert phase.start <= phase.end
        for test in phase.tests:
            assert phase.start <= test.on <= phase.end
    if p.phases and not is_late:
        assert p.phases[0].start == p.day1


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FINITE), dates, st.integers(min_value=0, max_value=30))
def test_a_later_anchor_never_releases_earlier(vc, anchor, shift):
    version, category = vc
    assert plan(version, category, anchor + dt.timedelta(days=shift)).ends_on >= plan(version, category, anchor).ends_on


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(FINITE), dates, st.integers(min_value=0, max_value=20))
def test_finding_someone_late_never_extends_the_plan(vc, anchor, late):
    version, category = vc
    on_time = plan(version, category, anchor)
    found = plan(version, category, anchor, anchor + dt.timedelta(days=late))
    assert found.ends_on <= max(on_time.ends_on, anchor + dt.timedelta(days=late))
