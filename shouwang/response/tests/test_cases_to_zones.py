"""Tracing → zones: a reported case is recorded (CaseReport) and a high-risk zone around its home is proposed in the
policy's unit (V9: the compound, else the village); a case found in quarantine is recorded with that context (the
policy decides whether it counts); a positive corrected away takes its case off."""

import datetime as dt

import pytest

from shouwang.tracing.services import CaseInput, case_create
from shouwang.tracing.tests.town import at, build_town
from shouwang.zones.models import CaseReport, Zone


@pytest.fixture
def town(county, settings):
    settings.SHOUWANG_TODAY = "2022-07-15"
    return build_town(county)


def test_a_reported_case_proposes_a_zone_around_its_home(town):
    p = town["p"]
    case = case_create(actor=town["hq"], data=CaseInput(
        person_id=p["病例甲"].id, found_by="fever_clinic", classification="confirmed", clinical_type="mild",
        onset_date=dt.date(2022, 7, 12), sampling_date=dt.date(2022, 7, 13), reported_at=at(14, 8),
        isolated_on=dt.date(2022, 7, 14))).case
    report = CaseReport.objects.get(code=case.code)
    assert (report.found_on, report.context, report.area_id) == (dt.date(2022, 7, 13), "community",
                                                                 town["county"].building_a.id)
    zone = Zone.objects.get()
    assert (zone.kind, zone.state, zone.policy_version) == ("high", "proposed", "V9")
    assert [z.area.name for z in zone.areas.select_related("area")] == ["城关社区"]  # no compound level under the village: the village
    assert list(zone.cases.values_list("case_code", "cause")) == [(case.code, True)]
