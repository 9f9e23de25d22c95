"""The 7-day forecast of quarantine places, with exact figures: stays leave on their last day, proposed close
contacts count at the acceptance rate, the last three days' close contacts per day carry forward for the policy's
seven days of central quarantine (V9)."""

import datetime as dt

from shouwang.quarantine.enums import CHECKLIST
from shouwang.quarantine.services import rooms_add, site_check, site_create, site_set_state
from shouwang.reports.forecast import rooms_forecast
from shouwang.tracing.models import Contact
from shouwang.tracing.services import CaseInput, case_create, contacts_decide
from shouwang.tracing.tests.town import at, build_town


def test_forecast_from_open_stays_pending_contacts_and_the_trend(county, settings):
    settings.SHOUWANG_TODAY = "2022-07-14"
    town = build_town(county)
    hq, p = county.hq, town["p"]
    case = case_create(actor=hq, data=CaseInput(
        person_id=p["病例甲"].id, found_by="fever_clinic", classification="confirmed", clinical_type="mild",
        onset_date=dt.date(2022, 7, 12), sampling_date=dt.date(2022, 7, 13), reported_at=at(14, 8),
        isolated_on=dt.date(2022, 7, 14))).case
    household = Contact.objects.filter(case=case, person__in=[p["家属乙"], p["家属丙"]]).values_list("id", flat=True)
    contacts_decide(actor=hq, contact_ids=list(household), accept=True)  # two stays, 07-15 to 07-21
    active = site_create(actor=hq, name="城关宾馆隔离点", kind="hotel", area_id=county.grid_a.id)
    rooms_add(actor=hq, site_id=active.id, floors={3: ["301", "302", "303", "304", "305"]})
    site_set_state(actor=hq, site_id=active.id, state="activating")
    site_check(actor=hq, site_id=active.id, items=dict.fromkeys(CHECKLIST, True))
    site_set_state(actor=hq, site_id=active.id, state="active")
    reserve = site_create(actor=hq, name="响水河备用隔离点", kind="standby", area_id=county.grid_b.id)
    rooms_add(actor=hq, site_id=reserve.id, floors={1: ["101", "102"]}, family_rooms=("102",))

    settings.SHOUWANG_TODAY = "2022-07-15"
    f = rooms_forecast(hq)
    assert (f.central_days, f.policy_version, f.proposed, f.acceptance, f.per_day) == (7, "V9", 1, 1.0, 0.7)
    assert (f.places_active, f.places_standby, f.open_ended) == (5, 3, 0)
    assert [(d.day.isoformat()[5:], d.staying, d.pending, d.new, d.needed, d.shortfall) for d in f.days] == [
        ("07-15", 2, 1.0, 0.0, 3, 0), ("07-16", 2, 1.0, 0.7, 4, 0), ("07-17", 2, 1.0, 1.3, 5, 0),
        ("07-18", 2, 1.0, 2.0, 5, 0), ("07-19", 2, 1.0, 2.7, 6, 1), ("07-20", 2, 1.0, 3.3, 7, 2),
        ("07-21", 2, 1.0, 4.0, 7, 2)]
    assert f.because[1] == ("待确认密接1人，按近7天确认率100%计入今天",
                            "1 proposed close contacts at the last 7 days' acceptance rate 100%, today")
    # another township sees none of it
    other = county.user("township", county.township_b)
    g = rooms_forecast(other)
    assert ([d.needed for d in g.days], g.places_active, g.places_standby) == ([0] * 7, 0, 3)
