"""The bulk sampling path writes exactly what the sampler's per-tube path writes, refuses a bad list whole, and adds
nobody twice; the chunked reads and writes of sampling, lab results and coverage give the same answers whatever the
chunk sizes; coverage agrees with a count done by hand."""

import datetime as dt
from unittest import mock

import pytest
from django.utils import timezone

from shouwang.accounts.enums import Role
from shouwang.areas.models import Area
from shouwang.people.models import Person
from shouwang.people.services import person_merge
from shouwang.status.models import StatusFact
from shouwang.testing import selectors, services
from shouwang.testing.enums import EXEMPT_NOT_SAMPLED, PersonRoundState
from shouwang.testing.models import Exemption, PersonRound, RecheckTask, Tube, TubeMember
from shouwang.testing.services import (
    ItemErrors,
    RoundInput,
    batch_pack,
    batch_receive,
    exemption_add,
    lab_create,
    results_review,
    results_stage,
    round_create,
    site_create,
    tube_fill,
    tubes_fill_bulk,
)

FROZEN = timezone.make_aware(dt.datetime(2022, 7, 15, 9, 30, 15, 123456))


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = "2022-07-15"


def at(hour):
    return timezone.make_aware(dt.datetime(2022, 7, 15, hour))


def new_round(county, name, areas, settings=None):
    return round_create(actor=county.hq, data=RoundInput(name=name, area_ids=[a.id for a in areas],
                                                         starts_at=at(0), deadline=at(23), settings=settings or {}))


@pytest.fixture
def world(county):
    """Grid A (medium-risk setting: 10-in-1) with 23 people (3 in a building), grid B (20-in-1) with 5."""
    a = [county.person(name=f"甲{i:02d}", area=county.building_a if i < 3 else county.grid_a, seq=i) for i in range(23)]
    b = [county.person(name=f"乙{i}", area=county.grid_b, seq=100 + i) for i in range(5)]
    site = site_create(actor=county.hq, name="城关社区采样点", area_id=county.grid_a.id)
    sampler = county.user(Role.SAMPLER, county.grid_a, username="sampler-1")
    return {"county": county, "a": a, "b": b, "site": site, "sampler": sampler}


def rows_of(round_):
    """Everything a round's sampling wrote, without ids, the round and the barcodes' prefix."""
    def code(barcode):
        return barcode.split("-", 1)[1]

    tubes = sorted((code(t.barcode), t.purpose, t.pool_mode, t.pool_size, t.site_id, t.sampler_id, t.state,
                    t.opened_at, t.closed_at, t.members_count, t.result, t.created_at, t.updated_at)
                   for t in Tube.objects.filter(round=round_))
    members = sorted((code(m.tube.barcode), m.purpose, m.person_id, m.position, m.added_at, m.removed_at,
                      m.removed_by_id, m.removed_reason)
                     for m in TubeMember.objects.filter(round=round_).select_related("tube"))
    states = sorted((p.person_id, p.area_id, p.state, code(p.tube.barcode), p.sampled_at, p.resulted_at)
                    for p in PersonRound.objects.filter(round=round_).select_related("tube"))
    return tubes, members, states


SMALL_CHUNKS = {"CHUNK": 2, "RANGE_CHUNK": 3, "INSERT_BATCH": 2}


@pytest.mark.parametrize("chunks", [{}, SMALL_CHUNKS], ids=["default chunks", "tiny chunks"])
def test_the_bulk_path_writes_exactly_what_the_per_tube_path_writes(world, monkeypatch, chunks):
    for name, value in chunks.items():
        monkeypatch.setattr(services, name, value)
    county, a, b = world["county"], world["a"], world["b"]
    settings = {county.grid_a.id: "medium_risk_zone"}
    by_tube = new_round(county, "逐管", [county.grid_a, county.grid_b], settings)
    in_bulk = new_round(county, "批量", [county.grid_a, county.grid_b], settings)
    first = [("T1", a[0:10]), ("T2", a[10:15]), ("T3", b), ("T4", [a[20], a[16], a[22]])]  # full, open, 20-in-1
    then = [("T2", a[10:13] + a[17:19]), ("T5", [a[19], a[15]])]  # a retry with two more, a new tube: closed
    with mock.patch("django.utils.timezone.now", return_value=FROZEN):
        for close, tubes in ((False, first), (True, then)):
            for barcode, people in tubes:
                tube_fill(actor=world["sampler"], round_id=by_tube.id, barcode=f"A-{barcode}", close=close,
                          people=[{"id_number": p.id_number} for p in people], site_id=world["site"].id)
            report = tubes_fill_bulk(actor=world["sampler"], round_id=in_bulk.id, close=close,
                                     tubes=[(f"B-{barcode}", [p.id for p in people]) for barcode, people in tubes],
                                     site_id=world["site"].id)
            if close:
                assert (report.tubes_opened, report.tubes_closed, report.people_added, report.already) == (1, 2, 4, 3)
            else:
                assert (report.tubes_opened, report.tubes_closed, report.people_added, report.already) == (4, 1, 23, 0)
    expected = rows_of(by_tube)
    assert rows_of(in_bulk) == expected
    tubes = {t[0]: t for t in expected[0]}
    assert [(t[2], t[6], t[9]) for t in (tubes["T1"], tubes["T2"], tubes["T3"], tubes["T4"], tubes["T5"])] == [
        ("10in1", "closed", 10), ("10in1", "closed", 7), ("20in1", "open", 5), ("10in1", "open", 3),
        ("10in1", "closed", 2)]
    assert [m[3] for m in expected[1] if m[0] == "T2"] == [1, 2, 3, 4, 5, 6, 7]  # appended in order
    assert len(expected[2]) == 27 and {s[2] for s in expected[2]} == {PersonRoundState.SAMPLED}


def test_a_bad_list_is_refused_whole_with_every_error_naming_the_tube_and_the_person(world):
    county, a, b = world["county"], world["a"], world["b"]
    round_ = new_round(county, "A网格", [county.grid_a], {county.grid_a.id: "medium_risk_zone"})
    other = new_round(county, "B网格", [county.grid_b])
    sampler = world["sampler"]
    tube_fill(actor=sampler, round_id=round_.id, barcode="P1", people=[{"id_number": a[7].id_number}], close=True)
    sampler_b = county.user(Role.SAMPLER, county.grid_b, username="sampler-b")  # grid B's round is not grid A's
    tube_fill(actor=sampler_b, round_id=other.id, barcode="OTHER", people=[{"id_number": b[0].id_number}])
    before = (Tube.objects.count(), TubeMember.objects.count(), PersonRound.objects.count())
    tubes = [("X1", [a[0].id, a[1].id]), ("X1", [a[2].id]), ("X2", [a[3].id, 999_999]), ("X3", [a[4].id, b[1].id]),
             ("X4", [a[5].id, a[0].id]), ("", [a[6].id]), ("X5", [a[8].id, a[8].id]), ("X6", [a[9].id, a[7].id]),
             ("P1", [a[10].id]), ("OTHER", [a[11].id]), ("X7", [a[12].id])]
    with pytest.raises(ItemErrors) as refused:
        tubes_fill_bulk(actor=sampler, round_id=round_.id, tubes=tubes)
    got = [(e["index"], e.get("position"), e["code"], e["barcode"]) for e in refused.value.details]
    assert got == [
        (1, None, "duplicate_barcode", "X1"),
        (2, 1, "unknown_person", "X2"),
        (3, 1, "outside_round", "X3"),
        (4, 1, "already_sampled", "X4"),  # put in X1 earlier in the same list
        (5, None, "invalid", ""),
        (6, None, "duplicate_person", "X5"),
        (7, 1, "already_sampled", "X6"),  # sampled in P1 before
        (8, None, "tube_closed", "P1"),
        (9, None, "barcode_reused", "OTHER"),
    ]
    assert "X1" in refused.value.details[3]["zh"] and "P1" in refused.value.details[6]["zh"]
    assert (Tube.objects.count(), TubeMember.objects.count(), PersonRound.objects.count()) == before


def test_a_retried_list_adds_nobody(world):
    county, a = world["county"], world["a"]
    round_ = new_round(county, "A网格", [county.grid_a], {county.grid_a.id: "medium_risk_zone"})
    tubes = [(f"R{i}", [p.id for p in a[i * 10:i * 10 + 10]]) for i in range(3)]
    first = tubes_fill_bulk(actor=world["sampler"], round_id=round_.id, tubes=tubes, close=True)
    rows = rows_of_plain(round_)
    again = tubes_fill_bulk(actor=world["sampler"], round_id=round_.id, tubes=tubes, close=True)
    assert (first.people_added, first.tubes_opened, first.tubes_closed) == (23, 3, 3)
    assert (again.people_added, again.already, again.tubes_opened, again.tubes_closed) == (0, 23, 0, 0)
    assert rows_of_plain(round_) == rows


def rows_of_plain(round_):
    return (sorted(Tube.objects.filter(round=round_).values_list("barcode", "state", "members_count", "updated_at")),
            sorted(TubeMember.objects.filter(round=round_).values_list("tube__barcode", "person_id", "position")),
            sorted(PersonRound.objects.filter(round=round_).values_list("person_id", "state", "tube__barcode")))


@pytest.mark.parametrize("chunks", [{}, SMALL_CHUNKS], ids=["default chunks", "tiny chunks"])
def test_transport_and_a_lab_file_in_chunks_reach_every_member(world, monkeypatch, chunks):
    for name, value in chunks.items():
        monkeypatch.setattr(services, name, value)
    county, a, b = world["county"], world["a"], world["b"]
    round_ = new_round(county, "全员", [county.grid_a, county.grid_b],
                       {county.grid_a.id: "medium_risk_zone", county.grid_b.id: "medium_risk_zone"})
    people = [p.id for p in a + b]
    tubes = [(f"C{i:02d}", people[i:i + 10]) for i in range(0, len(people), 10)]  # 10, 10, 8 people
    tubes_fill_bulk(actor=world["sampler"], round_id=round_.id, tubes=tubes, close=True)
    lab = lab_create(actor=county.hq, name="县疾控实验室", area_id=county.county.id)
    lab_user = county.user(Role.LAB, county.county, username="lab-1")
    barcodes = [barcode for barcode, _ in tubes]
    batch_pack(actor=world["sampler"], code="BOX-1", lab_id=lab.id, barcodes=barcodes)
    box = batch_receive(actor=lab_user, code="BOX-1", barcodes=barcodes)
    assert (box.missing, box.extra, set(Tube.objects.values_list("state", flat=True))) == ([], [], {"received"})
    staged = results_stage(actor=lab_user, lab_id=lab.id, file_name="结果", lines=[
        (1, {"barcode": "C00", "result": "阴性"}), (2, {"barcode": "C10", "result": "阳性", "ct_orf": "28.5"}),
        (3, {"barcode": "C20", "result": "阴性", "tested_at": dt.datetime(2022, 7, 15, 11, 0)}),
        (4, {"barcode": "C99", "result": "阴性"})])
    assert [(e["line"], e["code"]) for e in staged.errors] == [(4, "unknown_barcode")]
    _, report = results_review(actor=county.hq, file_id=staged.id, accept=True)
    assert (report.tubes, report.negative_people, report.rechecks) == (3, 18, 10)
    states = dict(PersonRound.objects.filter(round=round_).values_list("person_id", "state"))
    assert [states[pid] for pid in people] == ["negative"] * 10 + ["recheck"] * 10 + ["negative"] * 8
    assert sorted(RecheckTask.objects.values_list("person_id", flat=True)) == sorted(people[10:20])
    assert sorted(StatusFact.objects.filter(source="testing.pool", source_id="C10", withdrawn_at__isnull=True)
                  .values_list("person_id", flat=True)) == sorted(people[10:20])
    results = {t.barcode: (t.result, t.state, str(t.results.get().ct_orf)) for t in Tube.objects.all()}
    assert results == {"C00": ("negative", "resulted", "None"), "C10": ("positive", "resulted", "28.50"),
                       "C20": ("negative", "resulted", "None")}


def by_hand(round_, parent):
    """Coverage counted person by person: for each child of `parent`, the active people living under it and inside
    one of the round's areas, less those exempt from sampling; and the round states of the people sampled there."""
    scope = [ra.area.path for ra in round_.areas.select_related("area")]
    children = list(Area.objects.get_children(parent)) or [parent]
    exempt = set(Exemption.objects.filter(round=round_, reason__in=list(EXEMPT_NOT_SAMPLED))
                 .values_list("person_id", flat=True))
    states = {p.person_id: (p.state, p.area.path) for p in PersonRound.objects.filter(round=round_)
              .select_related("area")}
    out = {}
    for child in children:
        def inside(path, child=child):
            return path.startswith(child.path) and any(path.startswith(s) for s in scope)

        people = [p for p in Person.objects.active().select_related("area") if inside(p.area.path)]
        sampled = [s for s, path in states.values() if inside(path)]
        out[child.name] = (len([p for p in people if p.id not in exempt]), len([p for p in people if p.id in exempt]),
                           len(sampled), sampled.count("negative"), sampled.count("recheck"))
    return out


def test_coverage_agrees_with_a_count_by_hand(world):
    county, a, b = world["county"], world["a"], world["b"]
    extra = [county.person(name=f"丙{i}", area=county.grid_b, seq=200 + i) for i in range(3)]
    person_merge(keep_id=extra[0].id, merge_id=extra[1].id, actor=county.hq)  # a merged file is nobody
    round_ = new_round(county, "两区", [county.building_a, county.village_b])  # a building and a whole village
    exemption_add(actor=county.hq, round_id=round_.id, person_id=b[4].id, reason="away")
    exemption_add(actor=county.hq, round_id=round_.id, person_id=b[3].id, reason="door_to_door")
    sampler = world["sampler"]
    tubes_fill_bulk(actor=sampler, round_id=round_.id, tubes=[("K1", [a[0].id, a[1].id]), ("K2", [b[0].id])],
                    close=True)
    lab = lab_create(actor=county.hq, name="县疾控实验室", area_id=county.county.id)
    lab_user = county.user(Role.LAB, county.county, username="lab-1")
    batch_pack(actor=sampler, code="BOX", lab_id=lab.id, barcodes=["K1", "K2"])
    batch_receive(actor=lab_user, code="BOX", barcodes=["K1", "K2"])
    staged = results_stage(actor=lab_user, lab_id=lab.id, lines=[(1, {"barcode": "K1", "result": "阴性"}),
                                                                  (2, {"barcode": "K2", "result": "阴性"})])
    results_review(actor=lab_user, file_id=staged.id, accept=True)
    for parent in (county.county, county.township_a, county.township_b, county.village_b, county.grid_a,
                   county.grid_b, county.building_a):
        table = selectors.coverage(round_=round_, parent=parent)
        got = {r.area.name: (r.target, r.exempt, r.sampled, r.negative, r.recheck) for r in table.rows}
        assert got == by_hand(round_, parent), parent.name
    rows = {r.area.name: (r.target, r.exempt, r.sampled, r.unsampled)
            for r in selectors.coverage(round_=round_, parent=county.county).rows}
    assert rows == {"天坛镇": (3, 0, 2, 1), "响水河镇": (6, 1, 1, 5)}  # 5 + 2 of 丙 in grid B, one away
