"""Tracing → quarantine → tracing, as an outbreak story: accepted contacts get their stays from the policy's plan,
the stays move the contacts along (picked up: transferred; in a room or at home: under measure; the plan's last
phase released: released), a later exposure re-anchors the stay, a contact who turns positive leaves the stay and
the secondary contact re-classified as close goes from home quarantine to central quarantine."""

import datetime as dt

import pytest

from shouwang.quarantine.enums import CHECKLIST
from shouwang.quarantine.models import Room, Stay
from shouwang.quarantine.services import (
    rooms_add,
    site_check,
    site_create,
    site_set_state,
    stay_admit,
    stay_release,
    transfer_arrive,
    transfer_pickup,
    transfer_request,
)
from shouwang.quarantine.tests.test_stays import negative_tube
from shouwang.status.services import status_get
from shouwang.tracing.models import Contact
from shouwang.tracing.services import CaseInput, case_create, contact_add, contacts_decide
from shouwang.tracing.tests.town import at, build_town


@pytest.fixture
def town(county, settings):
    settings.SHOUWANG_TODAY = "2022-07-15"
    return build_town(county)


def stay_of(person) -> tuple:
    s = Stay.objects.filter(person=person).order_by("-id").first()
    return (s.measure, s.state, str(s.anchor_date), str(s.starts_on), str(s.ends_on), s.source_case)


def contact_state(town, name: str) -> str:
    return Contact.objects.filter(person=town["p"][name]).order_by("-id").first().state


def report(town, name, **kw):
    data = dict(person_id=town["p"][name].id, found_by="fever_clinic", classification="confirmed",
                clinical_type="mild", onset_date=dt.date(2022, 7, 12), sampling_date=dt.date(2022, 7, 13),
                reported_at=at(14, 8), isolated_on=dt.date(2022, 7, 14))
    data.update(kw)
    return case_create(actor=town["hq"], data=CaseInput(**data)).case


def test_contacts_and_their_stays_move_together_through_the_outbreak(town, settings):
    hq, p = town["hq"], town["p"]
    case = report(town, "病例甲")
    contacts_decide(actor=hq, contact_ids=list(Contact.objects.filter(case=case).values_list("id", flat=True)),
                    accept=True)
    # close contacts: V9 central quarantine from the day after the last exposure, awaiting transfer
    assert stay_of(p["家属乙"]) == ("central_quarantine", "awaiting_transfer", "2022-07-14", "2022-07-15",
                                    "2022-07-21", case.code)
    assert stay_of(p["同场丁"]) == ("central_quarantine", "awaiting_transfer", "2022-07-12", "2022-07-13",
                                    "2022-07-19", case.code)
    assert Stay.objects.get(person=p["家属乙"]).source_ref == f"contact:{Contact.objects.get(person=p['家属乙']).id}"
    # the secondary contact (丁's household) is at home from today: the contact is under measure at once
    contacts_decide(actor=hq, contact_ids=[Contact.objects.get(person=p["同户戊"]).id], accept=True)
    assert stay_of(p["同户戊"]) == ("home_quarantine", "active", "2022-07-15", "2022-07-16", "2022-07-22",
                                    case.code)
    assert contact_state(town, "同户戊") == "under_measure"

    site = site_create(actor=hq, name="城关宾馆隔离点", kind="hotel", area_id=town["county"].grid_a.id, staff=10)
    rooms_add(actor=hq, site_id=site.id, floors={3: ["301", "302", "303"]})
    site_set_state(actor=hq, site_id=site.id, state="activating")
    site_check(actor=hq, site_id=site.id, items=dict.fromkeys(CHECKLIST, True))
    site_set_state(actor=hq, site_id=site.id, state="active")
    stays = list(Stay.objects.filter(person__in=[p["家属乙"], p["家属丙"]]).values_list("id", flat=True))
    run = transfer_request(actor=hq, stay_ids=stays, site_id=site.id, pickup_address="幸福小区1号楼1-101",
                           vehicle="bus", plate="晋L12345", driver="司机王", escort="医护李")
    assert (contact_state(town, "家属乙"), contact_state(town, "家属丙")) == ("identified", "identified")
    transfer_pickup(actor=hq, transfer_id=run.id)
    assert (contact_state(town, "家属乙"), contact_state(town, "家属丙")) == ("transferred", "transferred")
    transfer_arrive(actor=hq, transfer_id=run.id)
    for name, number in (("家属乙", "301"), ("家属丙", "302")):
        stay_admit(actor=hq, stay_id=Stay.objects.get(person=p[name]).id,
                   room_id=Room.objects.get(site=site, number=number).id)
    assert (contact_state(town, "家属乙"), contact_state(town, "家属丙")) == ("under_measure", "under_measure")

    # 丁 turns positive in quarantine: the stay closes as a case; 戊 becomes 丁's close contact (V9 P2) and goes
    # from home quarantine to central quarantine, counted from the same last exposure
    ding = report(town, "同场丁", onset_date=None, classification="asymptomatic", clinical_type="",
                  sampling_date=dt.date(2022, 7, 15), reported_at=at(15, 9), isolated_on=None,
                  found_by="in_quarantine")
    assert stay_of(p["同场丁"])[:2] == ("central_quarantine", "became_case")
    wu = list(Stay.objects.filter(person=p["同户戊"]).order_by("id").values_list("measure", "state"))
    assert wu == [("home_quarantine", "reclassified"), ("central_quarantine", "awaiting_transfer")]
    assert stay_of(p["同户戊"]) == ("central_quarantine", "awaiting_transfer", "2022-07-15", "2022-07-16",
                                    "2022-07-22", ding.code)
    assert status_get(p["同户戊"].id).rule == "K2"

    # 乙 was also with 丁 on the 15th: the latest exposure wins and the stay is re-anchored, with the reason
    contact_add(actor=hq, case_id=ding.id, person_id=p["家属乙"].id, setting="work",
                criterion="5", last_exposure=dt.date(2022, 7, 15))
    yi = Stay.objects.get(person=p["家属乙"])
    assert (str(yi.anchor_date), str(yi.ends_on), yi.state) == ("2022-07-15", "2022-07-22", "active")
    change = yi.changes.get(kind="reanchored")
    assert (change.before["ends_on"], change.after["ends_on"], change.reason) == (
        "2022-07-21", "2022-07-22", f"病例{ding.code}的暴露更晚（2022-07-15）")

    # 丙 serves the plan: central quarantine to 07-21 (tests 1, 2, 3, 5, 7), home monitoring to 07-24 (test on
    # its day 3); the last release releases the contact
    bing = Stay.objects.get(person=p["家属丙"])
    for i, t in enumerate(bing.test_days):
        negative_tube(town["county"], p["家属丙"], dt.date.fromisoformat(t["date"]), f"QB{i}")
    settings.SHOUWANG_TODAY = "2022-07-21"
    following = stay_release(actor=hq, stay_id=bing.id).next_stay
    assert (following.measure, str(following.ends_on), contact_state(town, "家属丙")) == (
        "home_health_monitoring", "2022-07-24", "under_measure")
    for i, t in enumerate(following.test_days):
        negative_tube(town["county"], p["家属丙"], dt.date.fromisoformat(t["date"]), f"QH{i}")
    settings.SHOUWANG_TODAY = "2022-07-24"
    stay_release(actor=hq, stay_id=following.id)
    assert contact_state(town, "家属丙") == "released"
    assert status_get(p["家属丙"].id).colour == "green"
