"""Tracing through the services: a case reported with its itinerary pre-filled, household members and venue
companions proposed at the edges of the look-back window and of ±30 minutes, accepted into close contacts with
their plan and red flag, secondary contacts from a close contact's household, re-classification when the close
contact turns positive, the latest exposure winning, links refused for cycles and impossible onsets, and the
testing flow handing a positive recheck to tracing."""

import datetime as dt

import pytest
from django.utils import timezone

from shouwang.accounts.enums import Role
from shouwang.core.errors import DomainError
from shouwang.core.models import AuditEvent
from shouwang.status.services import status_get
from shouwang.tracing.enums import CaseState, Classification, ContactKind, ContactState
from shouwang.tracing.models import Case, Contact, ExposureEvent
from shouwang.tracing.services import (
    CaseInput,
    case_create,
    case_update,
    contact_add,
    contact_advance,
    contacts_decide,
    link_add,
    window,
)
from shouwang.tracing.tests.town import at, build_town
from shouwang.venues.services import person_code_get_or_issue

TODAY = dt.date(2022, 7, 15)


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = TODAY.isoformat()


@pytest.fixture
def town(county):
    return build_town(county)


def report(town, name="病例甲", **kw):
    data = dict(person_id=town["p"][name].id, found_by="fever_clinic", classification="confirmed",
                clinical_type="mild", onset_date=dt.date(2022, 7, 12), sampling_date=dt.date(2022, 7, 13),
                reported_at=at(14, 8), isolated_on=dt.date(2022, 7, 14))
    data.update(kw)
    return case_create(actor=town["hq"], data=CaseInput(**data))


def contacts_of(case):
    return sorted((c.person.name, c.kind, c.state, c.last_exposure.isoformat())
                  for c in Contact.objects.filter(case=case).select_related("person"))


def test_a_case_opens_its_investigation_prefills_the_itinerary_and_proposes_contacts(town):
    made = report(town)
    case = made.case
    assert (case.code, case.state, case.area_id) == ("BL20220714-001", CaseState.REPORTED,
                                                     town["county"].building_a.id)
    inv = case.investigation
    assert (inv.opened_at, inv.due_at) == (at(14, 8), at(15, 8))  # the 24-hour clock from the policy (C4)
    lb = window(case)
    assert (lb.start, lb.end, lb.rule) == (dt.date(2022, 7, 10), dt.date(2022, 7, 14), "C1")
    assert [(e.place, e.source, timezone.localtime(e.starts_at).strftime("%m-%d %H:%M"))
            for e in ExposureEvent.objects.filter(investigation=inv)] == [("城关农贸市场", "scan", "07-12 10:00")]
    assert (made.events, made.proposed) == (1, 3)
    assert contacts_of(case) == [("同场丁", "close", "proposed", "2022-07-12"),
                                 ("家属丙", "close", "proposed", "2022-07-14"),
                                 ("家属乙", "close", "proposed", "2022-07-14")]
    companion = Contact.objects.get(person=town["p"]["同场丁"])
    assert companion.exposures.get().evidence == "场所码时空伴随：城关农贸市场，前后30分钟内同场1次，末次 07-12 10:30"
    assert status_get(town["p"]["病例甲"].id).rule == "K1"
    assert status_get(town["p"]["家属乙"].id).colour == "green"  # proposed only: nothing said yet
    assert AuditEvent.objects.filter(action="create", object_type="tracing.case").count() == 1


def test_accepting_makes_close_contacts_with_their_plan_and_proposes_their_household(town):
    case = report(town).case
    ids = list(Contact.objects.filter(case=case).order_by("id").values_list("id", flat=True))
    decided = contacts_decide(actor=town["hq"], contact_ids=ids, accept=True)
    assert (decided.accepted, decided.secondary_proposed) == (3, 1)  # 丁's household: 戊
    contact = Contact.objects.get(person=town["p"]["家属乙"])
    assert (contact.state, contact.policy_version, contact.release_on) == ("identified", "V9", dt.date(2022, 7, 24))
    assert contact.plan_note == "集中隔离医学观察7天；居家健康监测3天"
    # the contact's stay (central quarantine, awaiting transfer; shouwang/response) turns the code red as K2
    assert (status_get(contact.person_id).colour, status_get(contact.person_id).rule) == ("red", "K2")
    secondary = Contact.objects.get(person=town["p"]["同户戊"])
    assert (secondary.kind, secondary.state, secondary.via.person.name, secondary.last_exposure) == (
        "secondary", "proposed", "同场丁", TODAY)
    with pytest.raises(DomainError) as again:
        contacts_decide(actor=town["hq"], contact_ids=ids[:1], accept=True)
    assert again.value.code == "not_proposed"
    for state in ("notified", "transferred", "under_measure"):
        contact_advance(actor=town["hq"], contact_id=contact.id, state=state)
    with pytest.raises(DomainError) as back:
        contact_advance(actor=town["hq"], contact_id=contact.id, state="notified")
    assert back.value.code == "bad_transition"
    contact_advance(actor=town["hq"], contact_id=contact.id, state="released")
    # the flag is withdrawn; the stay the contact got (quarantine) keeps the code red until the stay is released
    assert (status_get(contact.person_id).colour, status_get(contact.person_id).rule) == ("red", "K2")


def test_rejecting_needs_a_reason_and_closes_the_proposal(town):
    case = report(town).case
    dings = [Contact.objects.get(person=town["p"]["同场丁"]).id]
    with pytest.raises(DomainError) as why:
        contacts_decide(actor=town["hq"], contact_ids=dings, accept=False)
    assert why.value.field == "note"
    contacts_decide(actor=town["hq"], contact_ids=dings, accept=False, note="戴口罩，距离较远")
    assert contacts_of(case)[0] == ("同场丁", "close", "rejected", "2022-07-12")


def test_a_secondary_contact_becomes_a_close_contact_when_the_linked_close_contact_turns_positive(town):
    first = report(town).case
    contacts_decide(actor=town["hq"], contact_ids=[Contact.objects.get(person=town["p"]["同场丁"]).id], accept=True)
    secondary = Contact.objects.get(person=town["p"]["同户戊"])
    contacts_decide(actor=town["hq"], contact_ids=[secondary.id], accept=True)
    assert status_get(secondary.person_id).rule == "K2"  # home quarantine from the flow
    second = report(town, name="同场丁", onset_date=None, classification="asymptomatic", clinical_type="",
                    sampling_date=TODAY, reported_at=at(15, 9), isolated_on=None, found_by="in_quarantine")
    assert second.reclassified == 1
    ding = Contact.objects.get(person=town["p"]["同场丁"], case=first)
    assert (ding.state, ding.became_case_id) == (ContactState.BECAME_CASE, second.case.id)
    secondary.refresh_from_db()
    assert (secondary.kind, secondary.reclassified_from, secondary.case_id, secondary.last_exposure) == (
        "close", "secondary", second.case.id, TODAY)
    assert secondary.release_on == dt.date(2022, 7, 25)  # 7+3 from the same last exposure
    assert "转为密切接触者" in secondary.note


def test_a_contact_of_two_cases_keeps_the_latest_exposure(town):
    county = town["county"]
    first = report(town).case
    other = county.person(name="病例壬", area=county.grid_b, seq=20)
    second = case_create(actor=town["hq"], data=CaseInput(
        person_id=other.id, found_by="key_group", classification="asymptomatic", sampling_date=TODAY)).case
    xin = town["p"]["东村辛"]
    one = contact_add(actor=town["hq"], case_id=first.id, person_id=xin.id, setting="work", criterion="5",
                      last_exposure=dt.date(2022, 7, 11))
    two = contact_add(actor=town["hq"], case_id=second.id, person_id=xin.id, setting="meal", criterion="6",
                      last_exposure=dt.date(2022, 7, 14))
    assert one.id == two.id
    two.refresh_from_db()
    assert (two.case_id, two.last_exposure, two.release_on, two.exposures.count()) == (
        second.id, dt.date(2022, 7, 14), dt.date(2022, 7, 24), 2)
    contact_add(actor=town["hq"], case_id=first.id, person_id=xin.id, setting="work", criterion="5",
                last_exposure=dt.date(2022, 7, 12))  # earlier than the kept one: changes nothing
    two.refresh_from_db()
    assert (two.case_id, two.last_exposure) == (second.id, dt.date(2022, 7, 14))


def test_window_edges_and_bad_input(town):
    case = report(town).case
    xin = town["p"]["东村辛"]
    with pytest.raises(DomainError) as early:
        contact_add(actor=town["hq"], case_id=case.id, person_id=xin.id, setting="work", criterion="5",
                    last_exposure=dt.date(2022, 7, 9))  # the day before the window
    assert (early.value.code, early.value.field) == ("before_window", "last_exposure")
    edge = contact_add(actor=town["hq"], case_id=case.id, person_id=xin.id, setting="work", criterion="5",
                       last_exposure=dt.date(2022, 7, 10))  # its first day
    assert edge.state == "identified"
    with pytest.raises(DomainError) as twice:
        report(town)
    assert (twice.value.code, twice.value.status) == ("already_case", 409)
    with pytest.raises(DomainError) as typed:
        report(town, name="东村辛", classification="asymptomatic", clinical_type="severe")
    assert typed.value.field == "clinical_type"
    with pytest.raises(DomainError) as future:
        report(town, name="东村辛", sampling_date=dt.date(2022, 7, 16))
    assert (future.value.code, future.value.field) == ("in_future", "sampling_date")
    with pytest.raises(DomainError) as self_case:
        contact_add(actor=town["hq"], case_id=case.id, person_id=town["p"]["病例甲"].id, setting="work",
                    criterion="5", last_exposure=dt.date(2022, 7, 12))
    assert self_case.value.code == "is_case"
    grid_worker = town["county"].user(Role.GRID_WORKER, town["county"].grid_a)
    with pytest.raises(DomainError) as denied:
        contact_add(actor=grid_worker, case_id=case.id, person_id=xin.id, setting="work", criterion="5",
                    last_exposure=dt.date(2022, 7, 12))
    assert denied.value.status == 403


def test_links_refuse_cycles_second_infectors_and_impossible_onsets(town):
    county = town["county"]
    a = report(town).case
    people = [county.person(name=f"病例{i}", area=county.grid_b, seq=30 + i) for i in range(3)]
    b, c, d = (case_create(actor=town["hq"], data=CaseInput(
        person_id=p.id, found_by="contact_screening", classification="confirmed", onset_date=dt.date(2022, 7, day),
        sampling_date=dt.date(2022, 7, day))).case for p, day in zip(people, (14, 15, 15), strict=True))
    link_add(actor=town["hq"], infector_id=a.id, infectee_id=b.id, setting="household", confidence="confirmed")
    link_add(actor=town["hq"], infector_id=b.id, infectee_id=c.id)
    with pytest.raises(DomainError) as cycle:
        link_add(actor=town["hq"], infector_id=c.id, infectee_id=a.id)
    assert cycle.value.code == "cycle"
    with pytest.raises(DomainError) as second:
        link_add(actor=town["hq"], infector_id=a.id, infectee_id=c.id)
    assert second.value.code == "two_infectors"
    with pytest.raises(DomainError) as onset:  # c fell ill on 07-15: infected 07-01 at the earliest (14 days)
        case_update(actor=town["hq"], case_id=d.id, onset_date=dt.date(2022, 6, 30))
        link_add(actor=town["hq"], infector_id=c.id, infectee_id=d.id)
    assert onset.value.code == "onset_before_exposure"


def test_a_case_moves_through_its_course_and_excluding_it_needs_a_reason(town):
    case = report(town).case
    with pytest.raises(DomainError) as bad:
        case_update(actor=town["hq"], case_id=case.id, state="discharged")
    assert bad.value.code == "bad_transition"
    case_update(actor=town["hq"], case_id=case.id, state="fangcang", lineage="BA.5.2")
    case_update(actor=town["hq"], case_id=case.id, state="discharged")
    case.refresh_from_db()
    assert (case.state, case.lineage) == ("discharged", "BA.5.2")
    assert status_get(case.person_id).colour == "green"
    assert Case.objects.filter(classification=Classification.CONFIRMED).count() == 1
    assert ContactKind.CLOSE == "close"


def test_a_positive_recheck_becomes_a_case_and_a_correction_excludes_it(town):
    from shouwang.testing.services import (
        RoundInput,
        batch_pack,
        batch_receive,
        lab_create,
        result_correct,
        results_review,
        results_stage,
        round_create,
        tube_fill,
    )

    county, hq = town["county"], town["hq"]
    people = [town["p"][n] for n in ("病例甲", "家属乙", "家属丙", "同场丁", "同户戊")]
    round_ = round_create(actor=hq, data=RoundInput(name="区域核酸", area_ids=[county.grid_a.id], starts_at=at(15, 0),
                                                    deadline=at(15, 23, 59)))
    lab = lab_create(actor=hq, name="县疾控实验室", area_id=county.county.id)
    lab_user = county.user(Role.LAB, county.county, username="lab-1")

    def token(p):
        return {"person_token": person_code_get_or_issue(p).token}

    def result(barcodes, rows, name):
        batch_pack(actor=hq, code=f"BOX-{name}", lab_id=lab.id, barcodes=barcodes)
        batch_receive(actor=lab_user, code=f"BOX-{name}", barcodes=barcodes)
        lines = [(i + 2, {"barcode": b, "result": r}) for i, (b, r) in enumerate(rows)]
        staged = results_stage(actor=lab_user, lab_id=lab.id, lines=lines)
        return results_review(actor=hq, file_id=staged.id, accept=True)[1]

    tube_fill(actor=hq, round_id=round_.id, barcode="POOL1", people=[token(p) for p in people], close=True)
    assert result(["POOL1"], [("POOL1", "positive")], "1").rechecks == 5
    assert not Case.objects.exists()  # a positive pool is not a case
    for i, p in enumerate(people):
        tube_fill(actor=hq, round_id=round_.id, barcode=f"R{i}", people=[token(p)], purpose="recheck")
    rows = [(f"R{i}", "positive" if i == 3 else "negative") for i in range(5)]
    assert result([f"R{i}" for i in range(5)], rows, "2").positives == [town["p"]["同场丁"].id]
    case = Case.objects.get()
    assert (case.person.name, case.found_by, case.classification, case.sampling_date, case.source_ref) == (
        "同场丁", "round_recheck", "pending", TODAY, "R3")
    assert case.investigation.state == "open"
    assert (status_get(case.person_id).colour, status_get(case.person_id).rule) == ("red", "K1")
    result_correct(actor=hq, barcode="R3", result="negative", reason="实验室复核为污染")
    case.refresh_from_db()
    assert (case.state, case.state_note) == ("excluded", "检测结果更正：实验室复核为污染")
    assert status_get(case.person_id).colour == "green"


def test_chains_are_closed_when_every_contact_is_under_control_and_the_work_list_says_what_is_late(town):
    from shouwang.tracing import selectors

    county, hq = town["county"], town["hq"]
    a = report(town).case
    others = [county.person(name=f"病例{i}", area=county.grid_b, seq=40 + i) for i in range(2)]
    b, c = (case_create(actor=hq, data=CaseInput(person_id=p.id, found_by="contact_screening",
                                                 classification="asymptomatic", sampling_date=TODAY,
                                                 reported_at=at(15, 7))).case for p in others)
    link_add(actor=hq, infector_id=a.id, infectee_id=b.id, setting="household")
    views = selectors.chains_visible(hq)
    assert [(v.size, [x.code for x in v.cases], v.contacts, v.open_contacts, v.closed) for v in views] == [
        (2, [a.code, b.code], 3, 3, False), (1, [c.code], 0, 0, True)]
    graph = selectors.chain_graph(views[0])
    assert sorted((n["kind"], n["generation"]) for n in graph["nodes"]) == [
        ("case", 1), ("case", 2), ("close", 2), ("close", 2), ("close", 2)]
    assert len(graph["edges"]) == 4
    ids = list(Contact.objects.filter(case=a).values_list("id", flat=True))
    contacts_decide(actor=hq, contact_ids=ids, accept=True)  # identified 07-15 at the business time of day
    work = selectors.work_list(hq, now=at(16, 23, 59))
    assert [x.code for x in work.overdue_investigations] == [a.code, b.code, c.code]
    assert (len(work.to_decide), len(work.uncontacted), len(work.transfer_overdue), work.transfer_hours) == (
        1, 3, 3, 12)  # 戊, a secondary contact, awaits a decision; the close contacts wait past 12 h
    for cid in ids:
        contact_advance(actor=hq, contact_id=cid, state="transferred")
    secondary = Contact.objects.get(state="proposed")
    contacts_decide(actor=hq, contact_ids=[secondary.id], accept=False, note="已外出务工，未同住")
    assert selectors.chains_visible(hq)[0].closed
    grid_b_worker = county.user(Role.GRID_WORKER, county.grid_b)
    assert [v.size for v in selectors.chains_visible(grid_b_worker)] == [2, 1]  # the chain reaches into 东村


def test_a_case_isolated_before_its_window_proposes_no_contacts(town):
    made = report(town, onset_date=None, classification="asymptomatic", clinical_type="", sampling_date=TODAY,
                  found_by="in_quarantine", isolated_on=dt.date(2022, 7, 12), reported_at=at(15, 9))
    lb = window(made.case)
    assert (lb.start, lb.end) == (dt.date(2022, 7, 13), dt.date(2022, 7, 12))  # in quarantine since before it
    assert (made.events, made.proposed, made.case.found_in_quarantine) == (0, 0, True)


def test_companions_beyond_the_proposal_limit_are_counted_on_the_investigation(town, monkeypatch):
    from shouwang.tracing import services

    monkeypatch.setattr(services, "MAX_COMPANIONS", 0)
    made = report(town)
    assert made.proposed == 2  # the household only
    assert made.case.investigation.__class__.objects.get(case=made.case).summary == (
        "场所码时空伴随共1人，已按同场次数列出前0人为待确认密接；其余人员请结合现场调查判定。")


def test_an_investigation_is_assigned_only_to_a_tracer_who_can_see_the_case(town):
    from shouwang.tracing.services import investigation_update

    county = town["county"]
    case = report(town).case
    far = county.user(Role.TOWNSHIP, county.township_b, username="tracer-b")
    near = county.user(Role.TOWNSHIP, county.township_a, username="tracer-a")
    grid = county.user(Role.GRID_WORKER, county.grid_a, username="grid-a")
    for user in (far, grid):
        with pytest.raises(DomainError) as bad:
            investigation_update(actor=town["hq"], case_id=case.id, assigned_to_id=user.id)
        assert (bad.value.code, bad.value.field) == ("not_a_tracer", "assigned_to_id")
    inv = investigation_update(actor=town["hq"], case_id=case.id, assigned_to_id=near.id, team="流调一组")
    assert (inv.assigned_to_id, inv.team) == (near.id, "流调一组")
    assert investigation_update(actor=town["hq"], case_id=case.id, assigned_to_id=0).assigned_to_id is None


def test_a_cluster_groups_cases_of_a_setting_and_needs_two_of_them(town):
    from shouwang.tracing import selectors
    from shouwang.tracing.services import cluster_save

    county, hq = town["county"], town["hq"]
    a = report(town).case
    other = county.person(name="同事癸", area=county.grid_b, seq=50)
    b = case_create(actor=hq, data=CaseInput(person_id=other.id, found_by="contact_screening",
                                             classification="asymptomatic", sampling_date=TODAY)).case
    with pytest.raises(DomainError) as few:
        cluster_save(actor=hq, name="城关农贸市场聚集性疫情", setting="venue", case_ids=[a.id, a.id])
    assert (few.value.code, few.value.field) == ("too_few", "case_ids")
    cluster = cluster_save(actor=hq, name="城关农贸市场聚集性疫情", setting="venue", case_ids=[a.id, b.id])
    views = selectors.clusters_visible(hq)
    assert [(v.cluster.name, [c.code for c in v.cases], v.first_date, v.latest_date, v.active_cases)
            for v in views] == [("城关农贸市场聚集性疫情", [a.code, b.code], dt.date(2022, 7, 12), TODAY, 2)]
    grid_b_worker = county.user(Role.GRID_WORKER, county.grid_b)
    assert [v.cluster.id for v in selectors.clusters_visible(grid_b_worker)] == [cluster.id]
    assert AuditEvent.objects.filter(object_type="tracing.cluster").count() == 1


def test_a_stop_taken_out_of_the_itinerary_stays_out_when_the_prefill_runs_again(town):
    from shouwang.tracing.services import event_remove, itinerary_prefill

    case = report(town).case
    stop = ExposureEvent.objects.get(investigation=case.investigation)
    with pytest.raises(DomainError) as why:
        event_remove(actor=town["hq"], event_id=stop.id, reason=" ")
    assert why.value.field == "reason"
    event_remove(actor=town["hq"], event_id=stop.id, reason="非本人扫码（代家人扫）")
    assert itinerary_prefill(case.investigation) == 0
    stop.refresh_from_db()
    assert (stop.removed_reason, ExposureEvent.objects.filter(removed_at__isnull=True).count()) == (
        "非本人扫码（代家人扫）", 0)
    assert AuditEvent.objects.filter(action="delete", object_type="tracing.exposureevent").values_list(
        "summary", flat=True).get() == "删除行程 BL20220714-001：城关农贸市场 07-12 10:00（非本人扫码（代家人扫））"
