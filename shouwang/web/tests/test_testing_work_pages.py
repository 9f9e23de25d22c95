"""The mass-testing work pages through the test client: a round's exemptions (listed masked, counted per reason, the
form's errors in both languages), the rechecks due (overdue badge, a recheck sampled at home over htmx and without),
and a tube's file (members, a corrected result's history, the correction's errors, who may open and correct it)."""

import datetime as dt
import re
from html import unescape

import pytest
from django.utils import timezone

from shouwang.accounts.enums import Role
from shouwang.areas.services import area_create
from shouwang.core.masking import mask_id_number, mask_name
from shouwang.core.models import AuditEvent
from shouwang.people.identifiers import make_resident_id
from shouwang.testing.enums import RecheckState, TubeState
from shouwang.testing.models import Exemption, RecheckTask, TestingRound, Tube, TubeResult
from shouwang.testing.services import (
    RoundInput,
    batch_pack,
    batch_receive,
    exemption_add,
    lab_create,
    results_review,
    results_stage,
    round_create,
    round_set_state,
    tube_fill,
    tube_member_remove,
)

HX = {"HTTP_HX_REQUEST": "true"}


def at(hour, minute=0, day=15):
    return timezone.make_aware(dt.datetime(2022, 7, day, hour, minute))


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = "2022-07-15"


@pytest.fixture
def world(county):
    """Grid A (10-in-1) with 23 people, 3 of them in building A; grid B (20-in-1, the other township) with 5; a
    township A manager, a township B one, a sampler of township A and the county's lab."""
    people_a = [county.person(name=f"甲{i:02d}", area=county.building_a if i < 3 else county.grid_a, seq=i,
                              household=county.household_a if i < 3 else None) for i in range(23)]
    people_b = [county.person(name=f"乙{i}", area=county.grid_b, seq=100 + i) for i in range(5)]
    round_ = round_create(actor=county.hq, data=RoundInput(
        name="第3轮区域核酸", area_ids=[county.grid_a.id, county.grid_b.id], starts_at=at(0), deadline=at(23, 59),
        settings={county.grid_a.id: "medium_risk_zone"}))
    lab = lab_create(actor=county.hq, name="县疾控实验室", area_id=county.county.id)
    return {"a": people_a, "b": people_b, "round": round_, "lab": lab, "county": county,
            "sampler": county.user(Role.SAMPLER, county.township_a, username="sampler-1"),
            "lab_user": county.user(Role.LAB, county.county, username="lab-1"),
            "town_a": county.user(Role.TOWNSHIP, county.township_a, username="town-a"),
            "town_b": county.user(Role.TOWNSHIP, county.township_b, username="town-b")}


def fill(w, barcode, people, **kw):
    return tube_fill(actor=w["sampler"], round_id=w["round"].id, barcode=barcode,
                     people=[{"id_number": p.id_number} for p in people], **kw)


def resulted(w, results: dict[str, str]):
    """The tubes boxed, received by the lab and resulted through a reviewed file."""
    box = f"BOX-{len(results)}-{sorted(results)[0]}"
    batch_pack(actor=w["sampler"], code=box, lab_id=w["lab"].id, barcodes=list(results))
    batch_receive(actor=w["lab_user"], code=box, barcodes=list(results))
    lines = [(i, {"barcode": b, "result": r, "ct_orf": "28.5" if r == "阳性" else None,
                  "ct_n": "30.1" if r == "阳性" else None}) for i, (b, r) in enumerate(results.items(), start=2)]
    staged = results_stage(actor=w["lab_user"], lab_id=w["lab"].id, lines=lines)
    results_review(actor=w["lab_user"], file_id=staged.id, accept=True)


def page_text(response) -> str:
    return unescape(response.content.decode())


# ---- exemptions -------------------------------------------------------------------------------------------------


def test_the_exemptions_are_listed_masked_in_the_jurisdiction_and_counted_per_reason(world, client_for):
    county, a, b, round_ = world["county"], world["a"], world["b"], world["round"]
    exemption_add(actor=county.hq, round_id=round_.id, person_id=a[1].id, reason="door_to_door", note="卧床")
    exemption_add(actor=county.hq, round_id=round_.id, person_id=a[22].id, reason="away", note="在外地务工")
    exemption_add(actor=county.hq, round_id=round_.id, person_id=b[4].id, reason="infant")
    exemption_add(actor=county.hq, round_id=round_.id, person_id=b[3].id, reason="away")
    url = f"/testing/rounds/{round_.id}/exemptions/"

    everyone = client_for(county.hq).get(url)
    assert everyone.status_code == 200 and everyone.context["total"] == 4
    assert [(r["value"], r["n"]) for r in everyone.context["reasons"]] == [
        ("door_to_door", 1), ("away", 2), ("infant", 1), ("in_quarantine", 0), ("other", 0)]
    html = page_text(everyone)
    counts = dict(re.findall(r'data-reason="(\w+)"><span>[^<]+</span> <strong>(\d+)</strong>', html))
    assert counts == {"door_to_door": "1", "away": "2", "infant": "1", "in_quarantine": "0", "other": "0"}
    assert "辖区内本轮共登记 4 人" in html and 'data-testid="exemption-form"' in html

    town = client_for(world["town_a"]).get(url)  # township A: its own people only
    rows = town.context["rows"]
    assert [(r["name"], r["id_number"], r["where"], r["reason"], r["note"], r["by"].username) for r in rows] == [
        (mask_name(a[22].name), mask_id_number(a[22].id_number), "第一网格", "不在本地", "在外地务工", county.hq.username),
        (mask_name(a[1].name), mask_id_number(a[1].id_number), "第一网格 › 幸福小区1号楼 1-101", "卧床等，上门采样",
         "卧床", county.hq.username)]
    assert [(r["value"], r["n"]) for r in town.context["reasons"]][:3] == [
        ("door_to_door", 1), ("away", 1), ("infant", 0)]
    html = page_text(town)
    assert html.count('data-testid="exemption-row"') == 2
    assert mask_id_number(a[22].id_number) in html and a[22].id_number not in html and a[22].name not in html
    assert "甲*2" in html and "乙*" not in html

    grid = client_for(county.user(Role.GRID_WORKER, county.grid_a)).get(url)  # may read, not record
    assert grid.status_code == 200 and 'data-testid="exemption-form"' not in grid.content.decode()
    assert client_for(world["sampler"]).get(url).status_code == 403  # no testing.view


def test_an_exemption_is_added_by_id_number_with_each_error_by_the_field_in_both_languages(world, client_for):
    county, a, b, round_ = world["county"], world["a"], world["b"], world["round"]
    town = client_for(world["town_a"])
    url = f"/testing/rounds/{round_.id}/exemptions/"
    target = TestingRound.objects.get(id=round_.id).target

    def post(number, reason="away", note="", client=town):
        return client.post(url, {"id_number": number, "reason": reason, "note": note})

    added = post(a[5].id_number.lower(), note="出差")  # a lower-case x is read as X
    assert added.status_code == 302 and added.url == url
    exemption = Exemption.objects.get(round=round_, person=a[5])
    assert (exemption.reason, exemption.note, exemption.recorded_by) == ("away", "出差", world["town_a"])
    assert TestingRound.objects.get(id=round_.id).target == target - 1
    assert f"已登记免检：{mask_name(a[5].name)}，不在本地" in town.get(url).content.decode()
    changed = post(a[5].id_number, reason="door_to_door")
    assert changed.status_code == 302 and Exemption.objects.get(round=round_, person=a[5]).reason == "door_to_door"
    assert f"已更新免检登记：{mask_name(a[5].name)}，卧床等，上门采样" in town.get(url).content.decode()

    garbled = post("12345")
    assert garbled.status_code == 422
    e = garbled.context["errors"]["id_number"]
    assert (e["code"], e["msg"], e["other"]) == ("id_number_format", "身份证号应为18位，前17位是数字，最后一位是数字或X",
                                                 "ID number must be 18 characters: 17 digits and a digit or X")
    html = page_text(garbled)
    assert "身份证号应为18位" in html and "ID number must be 18 characters" in html and 'value="12345"' in html

    checksum = post(a[6].id_number[:17] + ("0" if a[6].id_number[17] != "0" else "1"))
    assert checksum.context["errors"]["id_number"]["code"] == "id_number_checksum"

    unknown = post(make_resident_id("141027", dt.date(1985, 3, 14), 999))
    assert unknown.status_code == 404
    e = unknown.context["errors"]["id_number"]
    assert (e["code"], e["msg"], e["other"]) == ("not_found", "人员不存在或不在您的辖区内",
                                                 "person not found or outside your jurisdiction")
    assert "Person not found or outside your jurisdiction" in page_text(unknown)
    elsewhere = post(b[0].id_number)  # township B's: answered as unknown
    assert (elsewhere.status_code, elsewhere.context["errors"]["id_number"]["code"]) == (404, "not_found")

    both = post(make_resident_id("141027", dt.date(1985, 3, 14), 999), reason="vacation")
    assert both.status_code == 422 and sorted(both.context["errors"]) == ["id_number", "reason"]
    e = both.context["errors"]["reason"]
    assert (e["code"], e["msg"], e["other"]) == ("invalid_choice", "请选择免检原因", "choose the reason for the exemption")
    long_note = post(a[6].id_number, note="很" * 201)
    assert (long_note.status_code, long_note.context["errors"]["note"]["msg"]) == (422, "说明不能超过200字")

    fill(world, "P01", [a[7]])
    sampled = post(a[7].id_number)
    assert sampled.status_code == 409
    e = sampled.context["errors"]["id_number"]
    assert (e["code"], e["msg"], e["other"]) == ("already_sampled", "此人本轮已采样，不能登记免检",
                                                 "this person is already sampled this round")
    assert "This person is already sampled this round" in page_text(sampled)
    grid_2 = area_create(parent=county.village_a, level="grid", code="141027100001002", name="第二网格",
                         grid_kind="community")
    neighbour = county.person(name="丙", area=grid_2, seq=200)  # in township A, outside the round's grids
    outside = post(neighbour.id_number)
    assert (outside.status_code, outside.context["errors"]["id_number"]["code"]) == (422, "outside_round")
    assert "此人不在本轮检测范围内" in page_text(outside)

    round_set_state(actor=county.hq, round_id=round_.id, state="finished")
    closed = post(a[8].id_number)
    assert closed.status_code == 409 and list(closed.context["errors"]) == ["form"]
    html = page_text(closed)
    assert re.search(r'data-testid="exemption-error" data-code="round_closed">\s*<strong>该轮次已结束或已取消</strong>'
                     r'<span class="other">The round is finished or cancelled</span>', html)
    assert Exemption.objects.filter(round=round_).count() == 1

    grid = client_for(county.user(Role.GRID_WORKER, county.grid_a))
    assert post(a[9].id_number, client=grid).status_code == 403


# ---- rechecks ---------------------------------------------------------------------------------------------------


@pytest.fixture
def positive_pool(world):
    """P01 (ten of grid A) positive: ten rechecks, the first three overdue, the rest due tomorrow; P02 negative."""
    a = world["a"]
    fill(world, "P01", a[:10])
    fill(world, "P02", a[10:20])
    resulted(world, {"P01": "阳性", "P02": "阴性"})
    tasks = {t.person_id: t for t in RecheckTask.objects.filter(round=world["round"])}
    RecheckTask.objects.filter(id__in=[tasks[p.id].id for p in a[:3]]).update(due_at=at(22, day=14))
    RecheckTask.objects.filter(id__in=[tasks[p.id].id for p in a[3:10]]).update(due_at=at(9, day=16))
    return {p.id: tasks[p.id].id for p in a[:10]}


def test_the_rechecks_due_show_the_overdue_and_a_sampler_records_each_single_tube(world, positive_pool, client_for):
    a, round_ = world["a"], world["round"]
    phone = client_for(world["sampler"])
    url = f"/testing/rounds/{round_.id}/rechecks/"
    listed = phone.get(url)
    assert listed.status_code == 200
    rows = listed.context["rows"]
    assert [r["name"] for r in rows] == [mask_name(p.name) for p in a[:10]]  # due first
    assert [r["overdue"] for r in rows] == [True] * 3 + [False] * 7
    assert (rows[0]["where"], rows[3]["where"]) == ("第一网格 › 幸福小区1号楼 1-101", "第一网格")
    assert (listed.context["open"], listed.context["sampled"], listed.context["overdue"]) == (10, 0, 3)
    html = page_text(listed)
    assert html.count('data-testid="overdue">已超时<') == 3 and re.search(r'data-testid="overdue-count">3<', html)
    assert html.count('data-testid="recheck-form"') == 10 and a[0].id_number not in html
    assert mask_id_number(a[0].id_number) in html and "07-14 22:00 前复核" in html
    assert 'data-testid="recheck-pool">P01<' in html  # a sampler may not open the tube's file: no link

    def record(person, barcode, **kw):
        return phone.post(f"{url}{positive_pool[person.id]}/sample/", {"barcode": barcode}, **kw)

    done = record(a[0], "R001", **HX)
    assert done.status_code == 200 and done.templates[0].name == "web/testing/_recheck_row.html"
    assert re.search(r'data-testid="recheck-done">已采样，管码 <span class="mono" data-testid="recheck-tube">R001<',
                     page_text(done))
    task = RecheckTask.objects.select_related("tube").get(id=positive_pool[a[0].id])
    assert (task.state, task.tube.barcode) == (RecheckState.SAMPLED, "R001")
    tube = Tube.objects.get(barcode="R001")
    assert (tube.purpose, tube.pool_mode, tube.pool_size, tube.members_count, tube.state) == (
        "recheck", "single", 1, 1, TubeState.CLOSED)
    assert list(tube.members.values_list("person_id", flat=True)) == [a[0].id]
    again = record(a[0], "R001", **HX)  # a double tap: nothing twice
    assert again.status_code == 200 and Tube.objects.filter(purpose="recheck").count() == 1

    reused = record(a[1], "P02", **HX)  # a round tube's barcode
    assert reused.status_code == 200 and reused.context["r"]["error"]["code"] == "barcode_reused"
    html = page_text(reused)
    assert "该管码已在其他轮次或用途中使用" in html and "This barcode was used elsewhere" in html
    assert 'value="P02"' in html and 'data-testid="recheck-form"' in html  # what was scanned is kept
    full = record(a[1], "R001", **HX)  # the single tube of someone else
    assert full.context["r"]["error"]["msg"] == "该管已封管，不能再加人"
    assert RecheckTask.objects.get(id=positive_pool[a[1].id]).state == RecheckState.OPEN

    plain = record(a[1], "R002")  # without htmx: back to the list
    assert plain.status_code == 302 and plain.url == f"{url}#recheck-{positive_pool[a[1].id]}"
    assert f"已采样 {mask_name(a[1].name)}，管码 R002" in page_text(phone.get(url))
    empty = record(a[2], " ")
    assert empty.status_code == 422 and empty.templates[0].name == "web/testing/rechecks.html"
    row = next(r for r in empty.context["rows"] if r["task"].id == positive_pool[a[2].id])
    assert (row["error"]["msg"], row["error"]["other"]) == ("管码为空或过长", "the tube barcode is empty or too long")

    after = phone.get(url)
    assert (after.context["open"], after.context["sampled"], after.context["overdue"]) == (8, 2, 1)
    assert [r["task"].state for r in after.context["rows"]][:3] == ["sampled", "sampled", "open"]
    assert page_text(after).count('data-testid="recheck-done"') == 2

    hq_page = page_text(client_for(world["county"].hq).get(url))  # HQ may open tubes: the barcodes are links
    assert 'href="/testing/tubes/P01/"' in hq_page and 'href="/testing/tubes/R001/"' in hq_page
    assert client_for(world["town_b"]).get(url).context["rows"] == []  # township B: none of its people
    assert client_for(world["lab_user"]).get(url).status_code == 403
    other = client_for(world["town_b"]).post(f"{url}{positive_pool[a[3].id]}/sample/", {"barcode": "R009"})
    assert other.status_code == 404 and not Tube.objects.filter(barcode="R009").exists()


# ---- a tube -----------------------------------------------------------------------------------------------------


def test_a_tube_shows_its_members_and_a_corrected_results_history(world, positive_pool, client_for):
    a, county = world["a"], world["county"]
    lab = client_for(world["lab_user"])
    tube = Tube.objects.get(barcode="P02")
    corrected = lab.post("/testing/tubes/P02/correct/", {"result": "positive", "reason": "复测阳性，原结果加样错误"})
    assert corrected.status_code == 302 and corrected.url == "/testing/tubes/P02/#results"

    hq = client_for(county.hq)
    before = AuditEvent.objects.count()
    page = hq.get("/testing/tubes/P02/")
    assert page.status_code == 200
    assert "已更正检测结果：阴性 → 阳性" not in page_text(page)  # the message went to the lab's session
    rows = [(r["n"], r["value"], r["superseded"], r["superseded_by"], r["supersedes"], r["r"].reason)
            for r in page.context["results"]]
    assert rows == [(1, "negative", True, 2, None, ""), (2, "positive", False, None, 1, "复测阳性，原结果加样错误")]
    assert page.context["current"]["n"] == 2
    html = page_text(page)
    assert html.count('data-testid="result-row"') == 2 and html.count('data-superseded="1"') == 1
    assert re.search(r'data-superseded="1">.*?<s>阴性</s>.*?已被第 2 条更正', html, re.S)
    assert "更正第 1 条，原因：复测阳性，原结果加样错误" in html and "审核人 lab-1" in html
    assert re.search(r'data-testid="tube-result">阳性<', html)
    assert [m["name"] for m in page.context["members"]] == [mask_name(p.name) for p in a[10:20]]
    assert a[10].id_number not in html and mask_id_number(a[10].id_number) in html
    event = AuditEvent.objects.latest("id")
    assert AuditEvent.objects.count() == before + 1
    assert (event.action, event.object_type, event.object_id, event.row_count, event.actor) == (
        "view", "testing.tube", str(tube.id), 10, county.hq)
    assert TubeResult.objects.filter(tube=tube).count() == 2

    pool = page_text(client_for(county.hq).get("/testing/tubes/P01/"))
    assert "ORF1ab 28.50 · N 30.10" in pool and "复核 10 人，已采样 0 人" in pool
    assert pool.count('data-testid="member-recheck">待复核<') == 10


def test_a_member_taken_out_is_struck_through_with_the_reason_and_who(world, client_for):
    a = world["a"]
    fill(world, "P05", a[10:12])
    tube_member_remove(actor=world["sampler"], barcode="P05", person_id=a[11].id, reason="扫错人")
    page = client_for(world["county"].hq).get("/testing/tubes/P05/")
    members = page.context["members"]
    assert [(m["position"], m["name"], m["removed"]) for m in members] == [
        (1, mask_name(a[10].name), False), (2, mask_name(a[11].name), True)]
    html = page_text(page)
    assert re.search(rf'data-removed="1">.*?<s data-testid="member-name">{re.escape(mask_name(a[11].name))}</s>.*?'
                     r'已移出：扫错人（sampler-1，\d\d-\d\d \d\d:\d\d）', html, re.S)
    assert page.context["present"] == 1 and "管内 1 人" in html and "采样中" in html
    assert 'data-testid="correct-none"' in html  # no result yet: nothing to correct


def test_the_correction_errors_in_both_languages_and_who_may_correct(world, positive_pool, client_for):
    a = world["a"]
    fill(world, "P03", a[20:23], close=True)
    resulted(world, {"P03": "无效"})
    fill(world, "P04", [world["b"][0]], close=True)
    lab = client_for(world["lab_user"])

    same = lab.post("/testing/tubes/P02/correct/", {"result": "negative", "reason": "复核"})
    assert same.status_code == 409
    e = same.context["correct_errors"]["result"]
    assert (e["code"], e["msg"], e["other"]) == ("same_result", "更正结果与原结果相同",
                                                 "the correction equals the current result")
    assert "The correction equals the current result" in page_text(same)
    no_reason = lab.post("/testing/tubes/P02/correct/", {"result": "positive", "reason": " "})
    assert (no_reason.status_code, no_reason.context["correct_errors"]["reason"]["msg"]) == (422, "请填写更正原因")
    invalid = lab.post("/testing/tubes/P03/correct/", {"result": "negative", "reason": "复核"})
    assert invalid.status_code == 409
    e = invalid.context["correct_errors"]["form"]
    assert (e["code"], e["msg"], e["other"]) == (
        "invalid_is_final", "无效管的人员已重新采样，不能更正，请以新管结果为准",
        "an invalid tube's members are sampled again; their new tubes decide")
    assert re.search(r'data-testid="correct-error" data-code="invalid_is_final">', page_text(invalid))
    none = lab.post("/testing/tubes/P04/correct/", {"result": "positive", "reason": "复核"})
    assert none.status_code == 409
    e = none.context["correct_errors"]["form"]
    assert (e["code"], e["msg"], e["other"]) == ("no_result", "该管还没有结果", "the tube has no result yet")
    assert "The tube has no result yet" in page_text(none)
    assert TubeResult.objects.count() == 3  # P01, P02, P03: nothing added

    sampler = client_for(world["sampler"])
    refused = sampler.post("/testing/tubes/P02/correct/", {"result": "positive", "reason": "改"})
    assert refused.status_code == 403 and "您的角色无权更正检测结果" in page_text(refused)
    assert sampler.get("/testing/tubes/P02/").status_code == 403  # no testing.view
    assert TubeResult.objects.filter(tube__barcode="P02").count() == 1
    hq_page = page_text(client_for(world["county"].hq).get("/testing/tubes/P02/"))
    assert 'data-testid="correct-form"' in hq_page
    grid = page_text(client_for(world["county"].user(Role.GRID_WORKER, world["county"].grid_a)).get(
        "/testing/tubes/P02/"))
    assert 'data-testid="result-history"' in grid and 'data-testid="correct-form"' not in grid  # reads only


def test_a_tube_of_another_township_is_not_found(world, positive_pool, client_for):
    town_b, town_a = client_for(world["town_b"]), client_for(world["town_a"])
    assert town_a.get("/testing/tubes/P01/").status_code == 200
    hidden = town_b.get("/testing/tubes/P01/")  # the round covers both townships; the pool is township A's
    assert hidden.status_code == 404 and "采样管不存在或不在您的辖区内" in page_text(hidden)
    assert town_b.get("/testing/tubes/NOPE/").status_code == 404  # the same answer as a missing tube
    found = town_b.get("/testing/tubes/", {"barcode": "P01"})
    assert found.status_code == 404 and found.context["error"]["other"] == "tube not found or outside your jurisdiction"
    fill(world, "B01", world["b"][:2])
    assert town_b.get("/testing/tubes/B01/").status_code == 200
    assert town_a.get("/testing/tubes/B01/").status_code == 404
    before = AuditEvent.objects.filter(action="view", object_type="testing.tube").count()
    town_b.get("/testing/tubes/P01/")
    assert AuditEvent.objects.filter(action="view", object_type="testing.tube").count() == before  # nothing read

    go = client_for(world["county"].hq).get("/testing/tubes/", {"barcode": " P01 ", "round": world["round"].id})
    assert go.status_code == 302 and go.url == "/testing/tubes/P01/"
    dashboard = page_text(client_for(world["county"].hq).get(f"/testing/rounds/{world['round'].id}/"))
    assert f'href="/testing/rounds/{world["round"].id}/exemptions/"' in dashboard
    assert f'href="/testing/rounds/{world["round"].id}/rechecks/"' in dashboard
    assert f'href="/testing/tubes/?round={world["round"].id}"' in dashboard and 'href="/testing/tubes/P01/"' in dashboard
