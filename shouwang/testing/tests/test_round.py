"""A small round end to end through the services: pooling from the policy, filling tubes (errors, retries, wrong
person), transport and receipt, a lab file staged and reviewed, a positive pool's members awaiting recheck then
resolved, coverage with exact counts, a corrected result's history."""

import datetime as dt
import shutil
from pathlib import Path

import pytest
from django.db.models import Count
from django.utils import timezone

from shouwang.accounts.enums import Role
from shouwang.areas.services import area_create
from shouwang.core.errors import DomainError
from shouwang.policy.services import policy_sync
from shouwang.status.services import status_get
from shouwang.testing import selectors
from shouwang.testing.enums import PersonRoundState, RecheckState, RoundState, TubeState
from shouwang.testing.models import PersonRound, RecheckTask, Tube, TubeMember, TubeResult
from shouwang.testing.services import (
    ItemErrors,
    RoundInput,
    batch_pack,
    batch_receive,
    exemption_add,
    lab_create,
    result_correct,
    results_review,
    results_stage,
    round_create,
    site_create,
    tube_close,
    tube_fill,
    tube_member_remove,
)
from shouwang.venues.services import person_code_get_or_issue

TODAY = dt.date(2022, 7, 15)


def at(hour, minute=0):
    return timezone.make_aware(dt.datetime(2022, 7, 15, hour, minute))


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = TODAY.isoformat()


@pytest.fixture
def world(county):
    """Grid A (medium-risk setting: 10-in-1) with 23 people, grid B (other area: 20-in-1) with 5."""
    people_a = [county.person(name=f"甲{i:02d}", area=county.building_a if i < 3 else county.grid_a, seq=i)
                for i in range(23)]
    people_b = [county.person(name=f"乙{i}", area=county.grid_b, seq=100 + i) for i in range(5)]
    round_ = round_create(actor=county.hq, data=RoundInput(
        name="第3轮区域核酸", area_ids=[county.grid_a.id, county.grid_b.id], starts_at=at(0), deadline=at(23, 59),
        settings={county.grid_a.id: "medium_risk_zone"}))
    site = site_create(actor=county.hq, name="城关社区采样点", area_id=county.grid_a.id, per_hour=200)
    lab = lab_create(actor=county.hq, name="县疾控实验室", area_id=county.county.id)
    sampler = county.user(Role.SAMPLER, county.grid_a, username="sampler-1")
    lab_user = county.user(Role.LAB, county.county, username="lab-1")
    return {"a": people_a, "b": people_b, "round": round_, "site": site, "lab": lab, "sampler": sampler,
            "lab_user": lab_user, "county": county}


def by_token(person):
    return {"person_token": person_code_get_or_issue(person).token}


def fill(w, barcode, people, **kw):
    return tube_fill(actor=w["sampler"], round_id=w["round"].id, barcode=barcode, people=[by_token(p) for p in people],
                     site_id=w["site"].id, **kw)


def test_pooling_comes_from_the_policy_per_area_and_the_target_from_the_registry(world):
    round_ = world["round"]
    modes = {ra.area.name: (ra.setting, ra.pool_mode, ra.rule) for ra in round_.areas.select_related("area")}
    assert modes == {"第一网格": ("medium_risk_zone", "10in1", "T4"), "东村网格": ("other_area", "20in1", "T5")}
    assert (round_.target, round_.state, round_.policy_version) == (28, RoundState.SAMPLING, "V9")
    reasons = round_.areas.get(area__name="第一网格").reason_zh
    assert "10合1" in reasons and "原地隔离" in reasons
    exemption_add(actor=world["county"].hq, round_id=round_.id, person_id=world["a"][22].id, reason="away")
    exemption_add(actor=world["county"].hq, round_id=round_.id, person_id=world["a"][21].id, reason="door_to_door")
    round_.refresh_from_db()
    assert round_.target == 27  # away is not tested here; bedridden people are tested at home


def test_exemptions_are_checked_and_move_the_target_by_the_change(world, county):
    round_, a, hq = world["round"], world["a"], county.hq
    grid_c = area_create(parent=county.village_a, level="grid", code="141027100001002", name="第二网格",
                         grid_kind="community")
    outside = county.person(name="外区", area=grid_c, seq=300)
    with pytest.raises(DomainError) as away:
        exemption_add(actor=hq, round_id=round_.id, person_id=outside.id, reason="away")
    assert (away.value.code, away.value.field) == ("outside_round", "person_id")
    fill(world, "T0100", a[:1])
    with pytest.raises(DomainError) as sampled:
        exemption_add(actor=hq, round_id=round_.id, person_id=a[0].id, reason="away")
    assert (sampled.value.code, sampled.value.status) == ("already_sampled", 409)
    exemption_add(actor=hq, round_id=round_.id, person_id=a[0].id, reason="door_to_door")  # still sampled: allowed
    exemption_add(actor=hq, round_id=round_.id, person_id=a[5].id, reason="infant")
    round_.refresh_from_db()
    assert round_.target == 27
    exemption_add(actor=hq, round_id=round_.id, person_id=a[5].id, reason="door_to_door")  # now sampled at home
    round_.refresh_from_db()
    assert round_.target == 28
    exemption_add(actor=hq, round_id=round_.id, person_id=a[6].id, reason="away")
    fill(world, "T0100", a[6:7])  # came back after all: the sample counts, the exemption goes
    round_.refresh_from_db()
    assert round_.target == 28
    assert list(round_.exemptions.order_by("person_id").values_list("person_id", "reason")) == [
        (a[0].id, "door_to_door"), (a[5].id, "door_to_door")]
    table = selectors.coverage(round_=round_, parent=county.township_a)
    assert (table.total.target, table.total.exempt, table.total.sampled) == (23, 0, 2)


def test_a_tube_fills_in_order_closes_at_its_pool_size_and_a_retry_adds_nobody(world):
    a = world["a"]
    first = fill(world, "T0001", a[:6])
    assert (first.tube.pool_size, first.tube.pool_mode, first.tube.state, len(first.added)) == (10, "10in1", "open", 6)
    retry = fill(world, "T0001", a[:6])
    assert (retry.added, len(retry.already)) == ([], 6)
    done = fill(world, "T0001", a[6:10])
    assert (done.tube.state, done.tube.members_count) == (TubeState.CLOSED, 10)
    assert list(TubeMember.objects.filter(tube=done.tube).order_by("position").values_list("person_id", flat=True)) \
        == [p.id for p in a[:10]]
    with pytest.raises(DomainError) as closed:
        fill(world, "T0001", a[10:11])
    assert closed.value.code == "tube_closed"
    assert PersonRound.objects.filter(state=PersonRoundState.SAMPLED).count() == 10


def test_a_person_cannot_be_in_two_tubes_of_a_round_and_a_bad_request_changes_nothing(world):
    a, b = world["a"], world["b"]
    fill(world, "T0001", a[:3])
    with pytest.raises(ItemErrors) as err:
        tube_fill(actor=world["sampler"], round_id=world["round"].id, barcode="T0002",
                  people=[by_token(a[3]), by_token(a[1]), {"id_number": "110101199003077777"}, by_token(b[0])])
    details = err.value.details
    assert [(d["index"], d["code"]) for d in details] == [(2, "unknown_person")]  # people are resolved first
    with pytest.raises(ItemErrors) as err:
        tube_fill(actor=world["sampler"], round_id=world["round"].id, barcode="T0002",
                  people=[by_token(a[3]), by_token(a[1]), by_token(b[0])])
    assert [(d["index"], d["code"]) for d in err.value.details] == [(1, "already_sampled"), (2, "pool_mode_mismatch")]
    assert "T0001" in err.value.details[0]["zh"]
    assert not Tube.objects.filter(barcode="T0002").exists()  # nothing half-applied
    by_id = tube_fill(actor=world["sampler"], round_id=world["round"].id, barcode="T0002",
                      people=[{"id_number": a[3].id_number}])
    assert by_id.added == [a[3].id]


def test_the_wrong_person_is_taken_out_before_closing_and_it_is_logged(world):
    a = world["a"]
    fill(world, "T0001", a[:3])
    member = tube_member_remove(actor=world["sampler"], barcode="T0001", person_id=a[1].id, reason="扫错人")
    assert (member.removed_reason, member.removed_by) == ("扫错人", world["sampler"])
    assert Tube.objects.get(barcode="T0001").members_count == 2
    assert not PersonRound.objects.filter(person=a[1]).exists()
    fill(world, "T0009", [a[1]])  # now free to be sampled in another tube
    tube_close(actor=world["sampler"], barcode="T0001")
    with pytest.raises(DomainError) as closed:
        tube_member_remove(actor=world["sampler"], barcode="T0001", person_id=a[0].id, reason="x")
    assert closed.value.code == "tube_closed"


def lab_file(rows):
    text = "管码,结果,ORF1ab,N\n" + "\n".join(",".join(r) for r in rows) + "\n"
    return text.encode()


def sample_send_receive(world):
    a, b = world["a"], world["b"]
    fill(world, "P01", a[0:10])
    fill(world, "P02", a[10:20])
    fill(world, "P03", a[20:23], close=True)
    fill(world, "P04", b, close=True)
    batch = batch_pack(actor=world["sampler"], code="BOX-1", lab_id=world["lab"].id,
                       barcodes=["P01", "P02", "P03", "P04"], courier="张师傅", courier_mobile="13900001111")
    received = batch_receive(actor=world["lab_user"], code="BOX-1", barcodes=["P01", "P02", "P03", "P04"])
    return batch, received


def test_the_receipt_lists_missing_and_extra_tubes(world):
    a = world["a"]
    fill(world, "P01", a[0:2], close=True)
    fill(world, "P02", a[2:4], close=True)
    fill(world, "P03", a[4:6], close=True)
    batch_pack(actor=world["sampler"], code="BOX-1", lab_id=world["lab"].id, barcodes=["P01", "P02"])
    batch_pack(actor=world["sampler"], code="BOX-2", lab_id=world["lab"].id, barcodes=["P03"])
    box = batch_receive(actor=world["lab_user"], code="BOX-1", barcodes=["P01", "P03"])
    assert (box.missing, box.extra) == (["P02"], ["P03"])
    assert dict(Tube.objects.values_list("barcode", "state")) == {"P01": "received", "P02": "in_transit",
                                                                    "P03": "received"}
    with pytest.raises(ItemErrors):
        batch_pack(actor=world["sampler"], code="BOX-3", lab_id=world["lab"].id, barcodes=["P01"])  # not closed


def test_a_positive_pool_puts_its_members_under_recheck_then_the_recheck_resolves_them(world):
    a = world["a"]
    sample_send_receive(world)
    staged = results_stage(actor=world["lab_user"], lab_id=world["lab"].id, file_name="结果.csv", upload=lab_file([
        ("P01", "阴性", "", ""), ("P02", "阳性", "28.5", "30.1"), ("P03", "阴性", "", ""), ("P04", "negative", "", ""),
        ("P04", "阴性", "", ""), ("P99", "阴性", "", ""), ("P03", "阴性", "x", "")]))
    assert [(e["line"], e["code"]) for e in staged.errors] == [(6, "duplicate_line"), (7, "unknown_barcode"),
                                                                (8, "duplicate_line")]
    assert len(staged.rows) == 4 and not TubeResult.objects.exists()  # nothing before review
    assert Tube.objects.get(barcode="P02").result == ""
    staged, report = results_review(actor=world["county"].hq, file_id=staged.id, accept=True)
    assert (report.tubes, report.negative_people, report.rechecks, report.positives) == (4, 18, 10, [])
    states = dict(PersonRound.objects.values_list("state").annotate(n=Count("id")))
    assert states == {"negative": 18, "recheck": 10}
    assert RecheckTask.objects.filter(state=RecheckState.OPEN).count() == 10
    view = status_get(a[12].id)
    assert (view.colour, view.rule) == ("yellow", "K6b")
    assert status_get(a[0].id).colour == "green"

    # the recheck: single tubes at the door; one positive, the others negative
    for i, person in enumerate(a[10:20]):
        tube_fill(actor=world["sampler"], round_id=world["round"].id, barcode=f"R{i:02d}", people=[by_token(person)],
                  purpose="recheck")
    assert RecheckTask.objects.filter(state=RecheckState.SAMPLED).count() == 10
    batch_pack(actor=world["sampler"], code="BOX-R", lab_id=world["lab"].id, barcodes=[f"R{i:02d}" for i in range(10)])
    batch_receive(actor=world["lab_user"], code="BOX-R", barcodes=[f"R{i:02d}" for i in range(10)])
    rows = [(f"R{i:02d}", "阳性" if i == 4 else "阴性", "", "") for i in range(10)]
    staged = results_stage(actor=world["lab_user"], lab_id=world["lab"].id, file_name="复核.csv", upload=lab_file(rows))
    _, report = results_review(actor=world["lab_user"], file_id=staged.id, accept=True)
    assert report.positives == [a[14].id]
    assert dict(RecheckTask.objects.values_list("person_id", "state"))[a[14].id] == "positive"
    assert RecheckTask.objects.filter(state="negative").count() == 9
    assert status_get(a[12].id).colour == "green"  # the pool flag withdrawn
    assert (status_get(a[14].id).colour, status_get(a[14].id).rule) == ("red", "K1")  # first-screen positive
    table = selectors.coverage(round_=world["round"], parent=world["county"].county)
    total = table.total
    assert (total.target, total.sampled, total.resulted, total.negative, total.recheck, total.positive) == (
        28, 28, 28, 27, 0, 1)


LOCAL_RECHECK = """
[version]
id = "141027101-L9"
title_zh = "响水河镇：混管阳性12小时内完成单管复核"
effective_from = 2022-07-01
base = "V9"
scope = "141027101"

[params.pool_recheck_deadline_hours]
value = 12
rule = "T6-L"
confidence = "LOC"
note_zh = "响水河镇规定12小时"
"""


def test_the_recheck_deadline_is_the_policy_in_force_where_the_round_is(world, county, tmp_path):
    directory = tmp_path / "versions"
    shutil.copytree(Path(__file__).resolve().parents[2] / "policy" / "versions", directory)
    (directory / "local-141027101.toml").write_text(LOCAL_RECHECK, encoding="utf-8")
    assert policy_sync(directories=[directory]).loaded == ["141027101-L9"]
    town_b = round_create(actor=county.hq, data=RoundInput(
        name="响水河镇区域核酸", area_ids=[county.grid_b.id], starts_at=at(0), deadline=at(23, 59)))
    b = world["b"]
    for rnd, barcode, people in ((world["round"], "N01", world["a"][:10]), (town_b, "N02", b)):
        tube_fill(actor=county.hq, round_id=rnd.id, barcode=barcode, people=[by_token(p) for p in people],
                  close=True)
    batch_pack(actor=county.hq, code="BOX-N", lab_id=world["lab"].id, barcodes=["N01", "N02"])
    batch_receive(actor=world["lab_user"], code="BOX-N", barcodes=["N01", "N02"])
    staged = results_stage(actor=world["lab_user"], lab_id=world["lab"].id, file_name="n.csv",
                           upload=lab_file([("N01", "阳性", "", ""), ("N02", "阳性", "", "")]))
    results_review(actor=county.hq, file_id=staged.id, accept=True)
    hours = {(t.source_tube.barcode, round((t.due_at - t.source_tube.resulted_at).total_seconds() / 3600))
             for t in RecheckTask.objects.select_related("source_tube")}
    assert hours == {("N01", 24), ("N02", 12)}  # 天坛镇 keeps the national 24 h


def test_coverage_per_area_and_the_people_not_sampled(world):
    a, b = world["a"], world["b"]
    county = world["county"]
    fill(world, "P01", a[0:10])
    fill(world, "P04", b[:2], close=True)
    exemption_add(actor=county.hq, round_id=world["round"].id, person_id=b[4].id, reason="infant")
    table = selectors.coverage(round_=world["round"], parent=county.county)
    rows = {r.area.name: (r.target, r.exempt, r.sampled, r.unsampled) for r in table.rows}
    assert rows == {"天坛镇": (23, 0, 10, 13), "响水河镇": (4, 1, 2, 2)}
    grid = selectors.coverage(round_=world["round"], parent=county.grid_a)
    assert {r.area.name: (r.target, r.sampled) for r in grid.rows} == {"幸福小区1号楼": (3, 3)}
    missing = list(selectors.unsampled_people(round_=world["round"], area=county.township_b))
    assert [p.name for p in missing] == ["乙2", "乙3"]  # 乙4 is an exempt infant
    assert len(list(selectors.unsampled_people(round_=world["round"], area=county.county))) == 15


def test_a_corrected_result_keeps_the_old_one_and_moves_the_members(world):
    sample_send_receive(world)
    staged = results_stage(actor=world["lab_user"], lab_id=world["lab"].id, file_name="结果.csv", upload=lab_file([
        ("P01", "阴性", "", ""), ("P02", "阳性", "", ""), ("P03", "阴性", "", ""), ("P04", "阴性", "", "")]))
    results_review(actor=world["lab_user"], file_id=staged.id, accept=True)
    corrected = result_correct(actor=world["lab_user"], barcode="P02", result="negative", reason="录入错误，复测阴性")
    history = list(TubeResult.objects.filter(tube__barcode="P02").order_by("id").values_list("result", "supersedes"))
    assert history == [("positive", None), ("negative", corrected.supersedes_id)]
    assert not RecheckTask.objects.filter(state="open").exists()
    assert PersonRound.objects.filter(state="negative").count() == 28
    assert status_get(world["a"][12].id).colour == "green"
    with pytest.raises(DomainError) as same:
        result_correct(actor=world["lab_user"], barcode="P02", result="negative", reason="x")
    assert same.value.code == "same_result"


def test_a_rejected_file_applies_nothing_and_a_result_for_a_tube_never_received_is_refused(world):
    a = world["a"]
    fill(world, "P01", a[0:10])
    staged = results_stage(actor=world["lab_user"], lab_id=world["lab"].id, file_name="x.csv",
                           upload=lab_file([("P01", "阴性", "", "")]))
    assert [(e["code"], e["zh"]) for e in staged.errors] == [("not_received", "本实验室未接收该管")]
    staged = results_stage(actor=world["lab_user"], lab_id=world["lab"].id, lines=[(1, {"barcode": "P01"})])
    results_review(actor=world["lab_user"], file_id=staged.id, accept=False, note="格式不对")
    assert not TubeResult.objects.exists()
    with pytest.raises(DomainError) as again:
        results_review(actor=world["lab_user"], file_id=staged.id, accept=True)
    assert again.value.code == "already_reviewed"


def test_a_lab_time_that_is_not_a_time_is_a_line_error_not_a_crash(world):
    sample_send_receive(world)
    staged = results_stage(actor=world["lab_user"], lab_id=world["lab"].id, lines=[
        (1, {"barcode": "P01", "result": "阴性", "tested_at": "2022/07/15 13:05"}),
        (2, {"barcode": "P02", "result": "阴性", "tested_at": "昨天下午"}),
        (3, {"barcode": "P03", "result": "阴性", "tested_at": "2022-07-16 13:05"})])
    assert [(e["line"], e["code"], e["field"]) for e in staged.errors] == [(2, "invalid", "tested_at"),
                                                                         (3, "in_future", "tested_at")]
    results_review(actor=world["lab_user"], file_id=staged.id, accept=True)
    assert timezone.localtime(TubeResult.objects.get(tube__barcode="P01").tested_at) == at(13, 5)


def test_an_invalid_tube_frees_its_members_and_cannot_be_corrected(world):
    a = world["a"]
    sample_send_receive(world)
    staged = results_stage(actor=world["lab_user"], lab_id=world["lab"].id, lines=[(1, {"barcode": "P01",
                                                                                         "result": "无效"})])
    results_review(actor=world["lab_user"], file_id=staged.id, accept=True)
    assert not PersonRound.objects.filter(person__in=a[:10]).exists()
    fill(world, "P11", a[:10])  # sampled again
    with pytest.raises(DomainError) as err:
        result_correct(actor=world["lab_user"], barcode="P01", result="negative", reason="复测")
    assert err.value.code == "invalid_is_final"


def test_samplers_and_labs_act_only_in_their_jurisdiction(world):
    county = world["county"]
    outsider = county.user(Role.SAMPLER, county.grid_b, username="sampler-b")
    round_a = round_create(actor=county.hq, data=RoundInput(name="城关网格核酸", area_ids=[county.grid_a.id],
                                                           starts_at=at(0), deadline=at(23)))
    with pytest.raises(DomainError) as err:
        tube_fill(actor=outsider, round_id=round_a.id, barcode="X1", people=[by_token(world["a"][0])])
    assert (err.value.code, err.value.field) == ("not_found", "round_id")
    tube_fill(actor=world["sampler"], round_id=round_a.id, barcode="A1", people=[by_token(world["a"][0])])
    with pytest.raises(DomainError) as err:
        tube_close(actor=outsider, barcode="A1")
    assert (err.value.code, err.value.field) == ("not_found", "barcode")
    assert tube_close(actor=world["sampler"], barcode="A1").state == "closed"
    town_lab = lab_create(actor=county.hq, name="响水河镇卫生院实验室", area_id=county.township_b.id)
    with pytest.raises(DomainError) as err:
        results_stage(actor=county.user(Role.LAB, county.township_a, username="lab-a"), lab_id=town_lab.id,
                      lines=[])
    assert (err.value.code, err.value.field) == ("not_found", "lab_id")


def test_a_merge_moves_testing_rows_to_the_kept_file(world):
    from shouwang.people.services import person_merge
    from shouwang.testing.models import TubeMember as Member

    a = world["a"]
    county = world["county"]
    duplicate = county.person(name="甲00", area=county.grid_a, seq=900)
    fill(world, "P01", [duplicate])
    person_merge(keep_id=a[0].id, merge_id=duplicate.id, actor=county.hq)
    assert list(Member.objects.filter(tube__barcode="P01").values_list("person_id", flat=True)) == [a[0].id]
    assert PersonRound.objects.get(tube__barcode="P01").person_id == a[0].id


def test_a_lab_needs_a_name_a_capacity_and_a_name_of_its_own_and_is_audited(world, county):
    from shouwang.core.models import AuditEvent

    for kwargs, code in (({"name": " "}, "required"), ({"name": "乙", "tubes_per_day": 0}, "out_of_range"),
                         ({"name": "县疾控实验室"}, "duplicate")):
        with pytest.raises(DomainError) as bad:
            lab_create(actor=county.hq, area_id=county.county.id, **kwargs)
        assert bad.value.code == code
    lab = lab_create(actor=county.hq, name="第三方检测机构", area_id=county.county.id, tubes_per_day=20000)
    assert AuditEvent.objects.filter(object_type="testing.lab", object_id=str(lab.id)).values_list(
        "summary", flat=True).get() == "登记实验室 第三方检测机构（日检测20000管）"
