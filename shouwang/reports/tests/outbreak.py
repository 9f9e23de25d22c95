"""A small outbreak reported through the tracing services, shared by the selector, API and page tests
(fixtures in conftest.py here and in shouwang/web/tests/test_reports_page.py).

Business today 2022-07-15. In 天坛镇 (grid A):

    code  onset  sampled reported     origin    found in quarantine  infector
    A1    07-01  07-01   07-01 20:00  imported  no                   -
    A2    07-04  07-05   07-05 09:00  local     no                   A1 (serial interval 3 days)
    A3    07-06  07-06   07-07 08:00  local     yes                  A2 (2 days)
    A4    -      07-06   07-07 00:30  local     yes (asymptomatic)   A2 (no onset: skipped)
    A5    07-08  07-09   07-09 10:00  local     no                   A3 (2 days)
    A6    07-08  07-08   07-08 10:00  local     no                   excluded: never counted

and in 响水河镇 (grid B) B1: onset 07-03, sampled and reported 07-03, local, community (outside 天坛镇).
"""

import datetime as dt

from django.utils import timezone

from shouwang.accounts.enums import Role
from shouwang.tracing.services import CaseInput, case_create, case_update, link_add

TODAY = "2022-07-15"


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime(2022, 7, day, hour, minute))


def d(day: int) -> dt.date:
    return dt.date(2022, 7, day)


def build(county) -> dict:
    """Report the outbreak (with the business day pinned to TODAY) and return its cases and users."""
    hq = county.hq

    def case(seq, *, area, onset, sampled, reported, origin="local", quarantine=False, asymptomatic=False):
        person = county.person(name=f"病例{seq}", area=area, seq=100 + seq)
        data = CaseInput(person_id=person.id, found_by="arrival_test" if origin == "imported" else "fever_clinic",
                         classification="asymptomatic" if asymptomatic else "confirmed",
                         onset_date=onset, sampling_date=sampled, reported_at=reported, origin=origin,
                         found_in_quarantine=quarantine, propose_contacts=False)
        return case_create(actor=hq, data=data).case

    a = county.grid_a
    cases = {
        "A1": case(1, area=a, onset=d(1), sampled=d(1), reported=at(1, 20), origin="imported"),
        "A2": case(2, area=a, onset=d(4), sampled=d(5), reported=at(5, 9)),
        "A3": case(3, area=a, onset=d(6), sampled=d(6), reported=at(7, 8), quarantine=True),
        "A4": case(4, area=a, onset=None, sampled=d(6), reported=at(7, 0, 30), quarantine=True, asymptomatic=True),
        "A5": case(5, area=a, onset=d(8), sampled=d(9), reported=at(9, 10)),
        "A6": case(6, area=a, onset=d(8), sampled=d(8), reported=at(8, 10)),
        "B1": case(7, area=county.grid_b, onset=d(3), sampled=d(3), reported=at(3, 11)),
    }
    for infector, infectee in (("A1", "A2"), ("A2", "A3"), ("A2", "A4"), ("A3", "A5")):
        link_add(actor=hq, infector_id=cases[infector].id, infectee_id=cases[infectee].id)
    case_update(actor=hq, case_id=cases["A6"].id, state="excluded", note="复核阴性")
    return {"cases": cases, "hq": hq, "township": county.user(Role.TOWNSHIP, county.township_a),
            "township_b": county.user(Role.TOWNSHIP, county.township_b), "county": county}
