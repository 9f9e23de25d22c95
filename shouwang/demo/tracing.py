"""The demo county's outbreak: two transmission chains and a fresh case, all through the tracing services with the
business clock pinned to the moment each step happens.

Runs after the venues (scans), the testing and the quarantine sites (generator.CountyGenerator.run), from its own
``random.Random`` seeded from the county's seed: the same seed and size give the same cases. The tracer decides and
notifies; everything after that goes through quarantine (shouwang/demo/quarantine.py): an identified contact gets
its stay from the policy's plan (shouwang/response/flows.py: a close contact awaits transfer, a secondary contact
is at home under measure at once), and the stay moves the contact along — picked up: transferred; admitted to a
room: under measure; the plan's last phase released: released; a contact who becomes a case leaves the stay.

- Chain 1, closed (lineage BA.2): a fever-clinic case in 天坛镇 reported 07-03; the household proposed and accepted
  as close contacts, notified and taken by bus to the county CDC's fixed site the same afternoon; a co-worker added
  by the tracer and taken there in the evening; a household member and the co-worker turn positive in
  quarantine (07-05, 07-06) and are linked to the first case; their own contacts are identified and transferred;
  the others' central quarantine is released after negative tests on 07-10 and their home health monitoring on
  07-13 (released), the first case is discharged. Every contact under control: the chain is closed.
  The household's two cases are recorded as a family cluster (聚集性疫情).
- Chain 2, open (lineage BA.5.2): a courier found by key-group screening, reported 07-13, with household and venue
  companions proposed from the scan log; most accepted (one rejected with a reason, a few still proposed); the
  requisitioned hotel is opened that morning and the accepted are taken there by household in the afternoon, but
  two notified late that evening have transfers requested and never picked up (overdue on the tracer's and HQ's
  lists); a household member turns positive in quarantine on 07-14 and is linked; that case's close contacts go to
  the fixed site on 07-14, except one household picked up on the demo day afternoon and still on the road; the
  close contacts' households are secondary contacts in home quarantine.
- A fresh case reported on the demo day at 07:30 by a fever clinic: investigation open (its 24-hour clock
  running), itinerary pre-filled from the person's scans, household and companions proposed, nothing decided yet.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Count
from django.utils import timezone

from shouwang.accounts.models import User
from shouwang.demo.generator import COUNTY_CODE
from shouwang.demo.quarantine import FIXED, HOTEL, PICKED_UP, REQUESTED, QuarantineGenerator
from shouwang.demo.testing import business_time
from shouwang.demo.venues import DEMO_DATE
from shouwang.people.models import Person
from shouwang.status.services import status_refresh
from shouwang.tracing.enums import CONTACT_NEXT, ContactKind, ContactState
from shouwang.tracing.models import Case, Contact
from shouwang.tracing.services import (
    CaseInput,
    case_create,
    case_update,
    cluster_save,
    contact_add,
    contact_advance,
    contacts_decide,
    investigation_update,
    link_add,
)
from shouwang.venues.models import Scan


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def _d(month_day: int) -> dt.date:
    return DEMO_DATE.replace(day=month_day)


@dataclass
class TracingSummary:
    cases: int = 0
    contacts: int = 0
    links: int = 0


class TracingGenerator:
    def __init__(self, *, seed: int, county_path: str, quarantine: QuarantineGenerator,
                 log: Callable[[str], None] | None = None):
        self.rng = random.Random(f"shouwang-tracing-{seed}")
        self.quarantine = quarantine  # its sites set up: the contacts' transfers, rooms and releases
        self.county_path = county_path
        self.log = log or (lambda message: None)
        self.touched: set[int] = set()

    # --- people ---------------------------------------------------------------------------------------------

    def _town_households(self, size: int) -> set[int]:
        """Households of the county town with at least `size` active members."""
        return set(Person.objects.active().filter(area__code__startswith=f"{COUNTY_CODE}100", household__isnull=False)
                   .values_list("household_id").annotate(n=Count("id")).filter(n__gte=size)
                   .values_list("household_id", flat=True))

    def _scanners(self, start: dt.date, end: dt.date, minimum: int) -> list[int]:
        """People of the town with at least `minimum` scans in [start, end], in id order."""
        rows = (Scan.objects.filter(scanned_at__gte=_at(start, 0), scanned_at__lt=_at(end + dt.timedelta(days=1), 0),
                                    person__area__code__startswith=f"{COUNTY_CODE}100")
                .values_list("person_id").annotate(n=Count("id")).filter(n__gte=minimum).order_by("person_id"))
        return [pid for pid, _ in rows]

    def _pick_with_household(self, candidates: list[int] | None, taken: set[int]) -> Person:
        """One person (of the candidates, or anyone of the town) living in a household of three or more, not in a
        household used already; their household is taken."""
        households = self._town_households(3)
        rows = Person.objects.active().filter(household_id__in=households).values_list("id", "household_id")
        if candidates is not None:
            wanted = set(candidates)
            pool = sorted((pid, hid) for pid, hid in rows.filter(id__in=candidates) if pid in wanted)
        else:
            pool = sorted(rows.filter(area__code__startswith=f"{COUNTY_CODE}100")[:20000])
        pool = [(pid, hid) for pid, hid in pool if pid not in taken]
        pid, hid = self.rng.choice(pool)
        taken.update(Person.objects.filter(household_id=hid).values_list("id", flat=True))
        return Person.objects.get(id=pid)

    def _housemate(self, person: Person) -> Person:
        mates = list(Person.objects.active().filter(household_id=person.household_id).exclude(id=person.id)
                     .order_by("id"))
        return self.rng.choice(mates)

    # --- steps ----------------------------------------------------------------------------------------------

    def report(self, person: Person, moment: dt.datetime, **kw) -> Case:
        with business_time(moment):
            case = case_create(actor=self.hq, data=CaseInput(person_id=person.id, reported_at=moment, **kw)).case
        self.touched.add(person.id)
        return case

    def accept_all(self, case: Case, moment: dt.datetime, *, keep: int | None = None) -> list[Contact]:
        proposed = list(Contact.objects.filter(case=case, state="proposed").order_by("id"))
        chosen = proposed if keep is None else proposed[:keep]
        if chosen:
            with business_time(moment):
                contacts_decide(actor=self.taskforce, contact_ids=[c.id for c in chosen], accept=True)
        self.touched.update(c.person_id for c in chosen)
        return chosen

    def notify(self, contacts, moment: dt.datetime) -> None:
        """The tracer reached them (a contact at home is under measure from the decision: nothing to do)."""
        with business_time(moment):
            for c in contacts:
                current = Contact.objects.values_list("state", flat=True).get(id=c.id)
                if ContactState.NOTIFIED in CONTACT_NEXT[current]:
                    contact_advance(actor=self.taskforce, contact_id=c.id, state=ContactState.NOTIFIED)

    def run(self) -> TracingSummary:
        users = {u.username: u for u in User.objects.filter(username__in=["hq", "taskforce"])}
        self.hq, self.taskforce = users["hq"], users["taskforce"]
        taken: set[int] = set()
        self.chain_one(taken)
        self.chain_two(taken)
        self.fresh_case(taken)
        with business_time(_at(DEMO_DATE, 8)):
            status_refresh(sorted(self.touched))
        summary = TracingSummary(cases=Case.objects.count(), contacts=Contact.objects.count(),
                                 links=Case.objects.filter(infected_by__isnull=False).count())
        self.log(f"病例 {summary.cases} 例，密接和次密接 {summary.contacts} 人，传播关系 {summary.links} 条")
        return summary

    def chain_one(self, taken: set[int]) -> None:
        town_people = list(Person.objects.active().filter(area__code__startswith=f"{COUNTY_CODE}100")
                           .order_by("id").values_list("id", flat=True)[:20000])
        first = self._pick_with_household(None, taken)
        a = self.report(first, _at(_d(3), 8, 10), found_by="fever_clinic", classification="confirmed",
                        clinical_type="mild", onset_date=_d(2), sampling_date=_d(2), isolated_on=_d(3),
                        lineage="BA.2")
        household = self.accept_all(a, _at(_d(3), 11))
        self.notify(household, _at(_d(3), 11, 30))
        self.quarantine.move_in(household, site=FIXED, start=_at(_d(3), 13))
        worker = self.rng.choice([p for p in town_people if p not in taken])
        taken.add(worker)
        with business_time(_at(_d(3), 18)):
            coworker = contact_add(actor=self.taskforce, case_id=a.id, person_id=worker, setting="work",
                                   criterion="5", last_exposure=_d(2), evidence="同一办公室，7月1日至2日共同工作")
        self.touched.add(worker)
        self.notify([coworker], _at(_d(3), 18, 20))
        self.quarantine.move_in([coworker], site=FIXED, start=_at(_d(3), 18, 40))
        mate = Person.objects.get(id=household[0].person_id)
        b = self.report(mate, _at(_d(5), 9), found_by="in_quarantine", classification="asymptomatic",
                        sampling_date=_d(5), isolated_on=_d(3), lineage="BA.2")
        c = self.report(Person.objects.get(id=worker), _at(_d(6), 10), found_by="in_quarantine",
                        classification="confirmed", clinical_type="mild", onset_date=_d(6), sampling_date=_d(6),
                        isolated_on=_d(3), lineage="BA.2")
        with business_time(_at(_d(6), 15)):
            link_add(actor=self.hq, infector_id=a.id, infectee_id=b.id, setting="household", confidence="confirmed",
                     evidence="共同居住，基因测序同源")
            link_add(actor=self.hq, infector_id=a.id, infectee_id=c.id, setting="work", confidence="probable",
                     evidence="同一办公室共同工作两天")
            cluster_save(actor=self.hq, name="天坛镇一起家庭聚集性疫情", setting="household", case_ids=[a.id, b.id],
                         note="首例发热门诊检出，同住家属隔离第2天检出")
        traced = [*household, coworker]
        for case in (b, c):
            day = timezone.localdate(case.reported_at)
            contacts = self.accept_all(case, _at(day, 14))
            self.notify(contacts, _at(day, 14, 20))
            self.quarantine.move_in(contacts, site=FIXED, start=_at(day, 14, 40))
            traced += contacts
        # everyone's quarantine over, the cases treated and discharged
        for case in (a, b, c):
            with business_time(_at(_d(4), 9)):
                case_update(actor=self.hq, case_id=case.id, state="fangcang")
                investigation_update(actor=self.taskforce, case_id=case.id, team="流调一组", done=True,
                                     summary="活动轨迹已核清，密接均已转运隔离。")
        with business_time(_at(_d(14), 10)):
            case_update(actor=self.hq, case_id=a.id, state="discharged")
        # their quarantine served: tested negative and released (the rooms disinfected)
        self.quarantine.serve_out(traced)

    def triage(self, case: Case, moment: dt.datetime, companions_kept: int) -> list[Contact]:
        """The tracer's first decisions on a case's proposals: the household and the `companions_kept` companions
        with the most co-presences become close contacts; the first other companion was checked on site, the rest
        are general contacts (health monitoring, not quarantine)."""
        proposed = list(Contact.objects.filter(case=case, state="proposed").order_by("id"))
        household = [c for c in proposed if c.exposures.filter(found_via="household").exists()]
        companions = [c for c in proposed if c not in household]
        keep, drop = household + companions[:companions_kept], companions[companions_kept:]
        with business_time(moment):
            if keep:
                contacts_decide(actor=self.taskforce, contact_ids=[c.id for c in keep], accept=True)
            if drop:
                contacts_decide(actor=self.taskforce, contact_ids=[drop[0].id], accept=False,
                                note="扫码后未进入店内，现场核实无接触")
            if len(drop) > 1:
                contacts_decide(actor=self.taskforce, contact_ids=[c.id for c in drop[1:]], accept=False,
                                note="同场时间短、无近距离接触，按一般接触者健康监测")
        self.touched.update(c.person_id for c in keep)
        return keep

    def chain_two(self, taken: set[int]) -> None:
        courier = self._pick_with_household(self._scanners(_d(10), _d(12), 6), taken)
        d = self.report(courier, _at(_d(13), 9, 20), found_by="key_group", classification="confirmed",
                        clinical_type="mild", onset_date=_d(12), sampling_date=_d(12), isolated_on=_d(13),
                        lineage="BA.5.2")
        self.quarantine.open_hotel(_at(_d(13), 9, 40))
        accepted = self.triage(d, _at(_d(13), 12), 8)
        self.notify(accepted[:-2], _at(_d(13), 12, 30))
        self.quarantine.move_in(accepted[:-2], site=HOTEL, start=_at(_d(13), 13))
        self.notify(accepted[-2:], _at(_d(13), 21))  # requested at once, never picked up: past the 12 h limit
        self.quarantine.move_in(accepted[-2:], site=HOTEL, start=_at(_d(13), 21, 20), stage=REQUESTED)
        mate = self._housemate(courier)
        e = self.report(mate, _at(_d(14), 10), found_by="in_quarantine", classification="asymptomatic",
                        sampling_date=_d(14), isolated_on=_d(13), lineage="BA.5.2")
        later = self.triage(e, _at(_d(14), 11), 2)
        self.notify(later, _at(_d(14), 11, 30))
        groups = self.quarantine.households(later)
        away = groups.pop() if len(groups) > 1 else []  # the last household is fetched on the demo day
        self.quarantine.move_in([c for g in groups for c in g], site=FIXED, start=_at(_d(14), 12))
        for minute in range(3):  # accepting close contacts proposes their households as secondary contacts
            waiting = list(Contact.objects.filter(case__in=[d, e], state="proposed").order_by("id"))
            if not waiting:
                break
            with business_time(_at(_d(14), 12, minute)):
                contacts_decide(actor=self.taskforce, contact_ids=[c.id for c in waiting], accept=True)
            self.touched.update(c.person_id for c in waiting)
            close = list(Contact.objects.filter(id__in=[c.id for c in waiting], kind=ContactKind.CLOSE).order_by("id"))
            self.notify(close, _at(_d(14), 12, 10 + minute))  # (secondary contacts are at home already)
            self.quarantine.move_in(close, site=HOTEL, start=_at(_d(14), 12, 30 + minute))
        with business_time(_at(_d(14), 16)):
            link_add(actor=self.hq, infector_id=d.id, infectee_id=e.id, setting="household", confidence="confirmed",
                     evidence="共同居住，隔离第1天检出")
            investigation_update(actor=self.taskforce, case_id=d.id, team="流调二组", done=True,
                                 summary="快递配送路线已核清；同场次数最多的8名场所码时空伴随人员判定为密接，"
                                         "其余按一般接触者健康监测。")
            investigation_update(actor=self.taskforce, case_id=e.id, team="流调二组", done=True,
                                 summary="隔离前一天的行程已核清，风险人员均已在管控中。")
            case_update(actor=self.hq, case_id=d.id, state="hospital")
            case_update(actor=self.hq, case_id=e.id, state="fangcang")
        self.quarantine.move_in(away, site=FIXED, start=_at(DEMO_DATE, 13, 35), stage=PICKED_UP)

    def fresh_case(self, taken: set[int]) -> None:
        person = self._pick_with_household(self._scanners(_d(13), DEMO_DATE, 4), taken)
        case = self.report(person, _at(DEMO_DATE, 7, 30), found_by="fever_clinic", classification="confirmed",
                           clinical_type="moderate", onset_date=_d(14), sampling_date=_d(14), isolated_on=DEMO_DATE)
        with business_time(_at(DEMO_DATE, 7, 40)):
            investigation_update(actor=self.taskforce, case_id=case.id, team="流调三组")
