"""The mass-testing pages through the test client: the round list and its form (errors in both languages), the
dashboard's coverage with drill-down, the unsampled list and its audited Excel export, the sampler's tube filled
to closing over htmx, the lab receiving a box and staging and accepting a file, and who may open what."""

import datetime as dt
import io
import re
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from openpyxl import load_workbook

from shouwang.accounts.enums import Role
from shouwang.core.masking import mask_id_number, mask_name
from shouwang.core.models import AuditEvent
from shouwang.testing.enums import TubeState
from shouwang.testing.models import LabResultFile, PersonRound, RoundArea, TestingRound, TransportBatch, Tube
from shouwang.testing.services import (
    RoundInput,
    exemption_add,
    lab_create,
    round_create,
    round_set_state,
    site_create,
    tube_fill,
)
from shouwang.venues.services import person_code_get_or_issue

HX = {"HTTP_HX_REQUEST": "true"}


def at(hour, minute=0, day=15):
    return timezone.make_aware(dt.datetime(2022, 7, day, hour, minute))


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = "2022-07-15"


@pytest.fixture
def world(county):
    """Grid A (medium-risk setting: 10-in-1) with 23 people, 3 of them in building A; grid B (20-in-1) with 5."""
    people_a = [county.person(name=f"甲{i:02d}", area=county.building_a if i < 3 else county.grid_a, seq=i,
                              household=county.household_a if i < 3 else None, mobile=f"1380000{i:04d}")
                for i in range(23)]
    people_b = [county.person(name=f"乙{i}", area=county.grid_b, seq=100 + i) for i in range(5)]
    round_ = round_create(actor=county.hq, data=RoundInput(
        name="第3轮区域核酸", area_ids=[county.grid_a.id, county.grid_b.id], starts_at=at(0), deadline=at(23, 59),
        settings={county.grid_a.id: "medium_risk_zone"}))
    site = site_create(actor=county.hq, name="城关社区采样点", area_id=county.grid_a.id, per_hour=200)
    lab = lab_create(actor=county.hq, name="县疾控实验室", area_id=county.county.id)
    sampler = county.user(Role.SAMPLER, county.township_a, username="sampler-1")
    lab_user = county.user(Role.LAB, county.county, username="lab-1")
    return {"a": people_a, "b": people_b, "round": round_, "site": site, "lab": lab, "sampler": sampler,
            "lab_user": lab_user, "county": county}


def token(person) -> str:
    return person_code_get_or_issue(person).token


def fill(w, barcode, people, **kw):
    return tube_fill(actor=w["sampler"], round_id=w["round"].id, barcode=barcode,
                     people=[{"person_token": token(p)} for p in people], **kw)


def rows_of(response):
    return [(r.area.name, r.target, r.exempt, r.sampled, r.unsampled, r.percent)
            for r in response.context["coverage_rows"]]


# ---- rounds -------------------------------------------------------------------------------------------------------


def test_the_round_list_shows_progress_and_hq_creates_a_round_with_errors_by_the_field(world, client_for):
    county = world["county"]
    fill(world, "P01", world["a"][:10])
    hq = client_for(county.hq)
    page = hq.get("/testing/")
    html = page.content.decode()
    assert page.status_code == 200 and 'data-testid="round-form"' in html
    assert [(r["round"].name, r["sampled"], r["percent"]) for r in page.context["rows"]] == [("第3轮区域核酸", 10, 35.7)]
    assert re.search(r'data-testid="round-target">28<.*data-testid="round-sampled">10<.*35\.7%', html, re.S)
    assert "采样中" in html

    form = {"name": "", "kind": "area", "starts_at": "2022-07-16T08:00", "deadline": "2022-07-17T08:00",
            "area_0": county.township_a.id, "setting_0": "high_risk_zone"}
    empty = hq.post("/testing/", form)
    assert empty.status_code == 422
    assert empty.context["errors"]["name"]["msg"] == "请填写轮次名称"
    assert "请填写轮次名称" in empty.content.decode() and "Name is required" in empty.content.decode()
    backwards = hq.post("/testing/", {**form, "name": "第4轮", "deadline": "2022-07-16T07:00"})
    assert (backwards.status_code, backwards.context["errors"]["deadline"]["other"]) == (
        422, "the deadline must be after the start")
    assert "完成时限应晚于开始时间" in backwards.content.decode()
    nowhere = hq.post("/testing/", {**form, "name": "第4轮", "area_0": ""})
    assert nowhere.context["errors"]["area_ids"]["msg"] == "请选择检测范围"
    garbled = hq.post("/testing/", {**form, "name": "第4轮", "starts_at": "明天"})
    assert garbled.context["errors"]["starts_at"]["other"] == "enter a date and time, e.g. 2022-07-15 06:00"
    overlap = hq.post("/testing/", {**form, "name": "第4轮", "area_1": county.grid_a.id})
    assert overlap.context["errors"]["area_ids"]["msg"] == "检测范围中的区域相互包含"
    assert TestingRound.objects.count() == 1

    created = hq.post("/testing/", {**form, "name": "第4轮", "area_1": county.township_b.id, "setting_1": "routine"})
    round_ = TestingRound.objects.get(name="第4轮")
    assert created.status_code == 302 and created.url == f"/testing/rounds/{round_.id}/"
    assert sorted(RoundArea.objects.filter(round=round_).values_list("area__name", "setting", "pool_mode")) == [
        ("响水河镇", "routine", "10in1"), ("天坛镇", "high_risk_zone", "household")]
    assert (round_.state, round_.target) == ("planned", 28)
    dashboard = hq.get(created.url).content.decode()
    assert "一户一管" in dashboard and "高风险区（封控区）" in dashboard and "T3" in dashboard
    assert 'data-testid="state-sampling"' in dashboard  # planned: HQ may start it
    assert hq.post(f"/testing/rounds/{round_.id}/state/", {"state": "sampling"}).status_code == 302
    round_.refresh_from_db()
    assert round_.state == "sampling"

    grid = client_for(county.user(Role.GRID_WORKER, county.grid_a))
    assert 'data-testid="round-form"' not in grid.get("/testing/").content.decode()
    assert grid.post("/testing/", {**form, "name": "第5轮"}).status_code == 403


# ---- the dashboard ------------------------------------------------------------------------------------------------


def test_the_dashboard_counts_coverage_per_area_and_drills_down(world, client_for):
    county, a, b = world["county"], world["a"], world["b"]
    fill(world, "P01", a[:10])
    fill(world, "P04", b[:2], close=True)
    exemption_add(actor=county.hq, round_id=world["round"].id, person_id=b[4].id, reason="infant")
    hq = client_for(county.hq)
    url = f"/testing/rounds/{world['round'].id}/"
    top = hq.get(url)
    assert rows_of(top) == [("天坛镇", 23, 0, 10, 13, 43.5), ("响水河镇", 4, 1, 2, 2, 50.0)]
    total = top.context["table"].total
    assert (total.target, total.exempt, total.sampled, total.unsampled, total.resulted) == (27, 1, 12, 15, 0)
    html = top.content.decode()
    row = re.search(rf'data-area="{county.township_a.id}">(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r'<td class="num[^"]*">([^<]*)</td>', row)
    assert cells == ["23", "0", "10", "13", "0", "0", "0", "0"]  # target exempt sampled unsampled resulted neg rc pos
    assert f'href="?area={county.township_a.id}"' in html and "43.5%" in html
    assert "10合1混采" in html and "20合1混采" in html and "T4" in html and "原地隔离" in html
    assert f"/testing/rounds/{world['round'].id}/unsampled/?area={county.county.id}" in html
    assert top.context["progress"]["sampled"] == 12
    assert [t["n"] for t in top.context["tube_states"]] == [0, 2, 0, 0, 0]  # open, closed, in transit, received…
    assert top.context["chain"].slowest is None and 'data-testid="no-rechecks"' in html

    village = hq.get(url, {"area": county.township_a.id})
    assert rows_of(village) == [("城关社区", 23, 0, 10, 13, 43.5)]
    assert [c.name for c in village.context["crumbs"]] == ["浮山县", "天坛镇"]
    grid = hq.get(url, {"area": county.grid_a.id})
    assert rows_of(grid) == [("幸福小区1号楼", 3, 0, 3, 0, 100.0)]
    direct = grid.context["direct"]
    assert (direct.target, direct.sampled, direct.unsampled) == (20, 7, 13)  # people registered on the grid itself
    assert (grid.context["table"].total.target, grid.context["table"].total.sampled) == (23, 10)
    assert "直接登记在第一网格的人员" in grid.content.decode()

    other = client_for(county.user(Role.GRID_WORKER, county.grid_b))
    assert other.get(url, {"area": county.grid_a.id}).status_code == 404  # not their area
    only_a = round_create(actor=county.hq, data=RoundInput(name="A网格专轮", area_ids=[county.grid_a.id],
                                                          starts_at=at(0), deadline=at(23)))
    assert other.get(f"/testing/rounds/{only_a.id}/").status_code == 404
    assert "A网格专轮" not in other.get("/testing/").content.decode()


# ---- the people not sampled ------------------------------------------------------------------------------------


def test_the_unsampled_list_groups_by_building_and_household_masked_and_its_export_is_audited(world, client_for):
    county, a, b = world["county"], world["a"], world["b"]
    fill(world, "P01", a[3:13])
    exemption_add(actor=county.hq, round_id=world["round"].id, person_id=b[4].id, reason="infant")
    exemption_add(actor=county.hq, round_id=world["round"].id, person_id=a[21].id, reason="door_to_door")
    hq = client_for(county.hq)
    url = f"/testing/rounds/{world['round'].id}/unsampled/"
    township = hq.get(url, {"area": county.township_b.id})
    html = township.content.decode()
    assert [[r["name"] for r in g["rows"]] for g in township.context["groups"]] == [["乙0", "乙1", "乙2", "乙3"]]
    assert mask_id_number(b[0].id_number) in html and b[0].id_number not in html
    everyone = hq.get(url, {"area": county.county.id})
    groups = everyone.context["groups"]
    assert [(g["where"], len(g["rows"])) for g in groups] == [
        ("第一网格", 10), ("第一网格 › 幸福小区1号楼", 3), ("东村网格", 4)]
    assert [(r["name"], r["household"], r["new_household"]) for r in groups[1]["rows"]] == [
        ("甲00", "1-101", True), ("甲01", "1-101", False), ("甲02", "1-101", False)]
    assert everyone.context["total"] == 17
    page = everyone.content.decode()
    assert page.count('data-testid="door-to-door"') == 1 and "138****0000" in page and "13800000000" not in page

    export = hq.get(f"/testing/rounds/{world['round'].id}/unsampled.xlsx", {"area": county.county.id})
    assert export.status_code == 200 and "filename*=UTF-8''" in export["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(export.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1] == ("序号", "所属网格", "小区/楼栋/单元", "户", "姓名", "性别", "证件号码", "手机号", "备注")
    assert len(rows) == 2 + 17
    first = next(r for r in rows if r[4] == "甲00")
    assert (first[1], first[2], first[3], first[6], first[7]) == (
        "第一网格", "幸福小区1号楼", "1-101", mask_id_number(a[0].id_number), "138****0000")
    assert [r[8] for r in rows[2:]].count("上门采样") == 1
    assert "证件号码和手机号已打码" in rows[0][0]
    event = AuditEvent.objects.filter(action="export").latest("id")
    assert (event.object_type, event.object_id, event.row_count, event.changes) == (
        "testing.testinground", str(world["round"].id), 17, {"full": [None, False]})
    full = hq.get(f"/testing/rounds/{world['round'].id}/unsampled.xlsx", {"area": county.county.id, "full": "1"})
    unmasked = list(load_workbook(io.BytesIO(full.content)).active.iter_rows(values_only=True))
    assert next(r for r in unmasked if r[4] == "甲00")[6:8] == (a[0].id_number, "13800000000")
    assert AuditEvent.objects.filter(action="export").latest("id").changes == {"full": [None, True]}
    grid = client_for(county.user(Role.GRID_WORKER, county.grid_a))  # may export, not unmasked
    masked = grid.get(f"/testing/rounds/{world['round'].id}/unsampled.xlsx", {"full": "1"})
    values = list(load_workbook(io.BytesIO(masked.content)).active.iter_rows(values_only=True))
    assert len(values) == 2 + 13
    assert next(r for r in values if r[4] == "甲00")[6] == mask_id_number(a[0].id_number)


# ---- the sampler ---------------------------------------------------------------------------------------------------


def add(client, w, barcode, value, by="code"):
    return client.post("/testing/sample/add/", {"round_id": w["round"].id, "barcode": barcode, "person": value,
                                                "by": by}, **HX)


def test_the_sampler_fills_a_10_in_1_tube_one_person_at_a_time_until_it_closes(world, client_for):
    a, b = world["a"], world["b"]
    phone = client_for(world["sampler"])
    picker = phone.get("/testing/sample/").content.decode()
    assert 'data-testid="sample-round"' in picker and "第3轮区域核酸" in picker
    assert 'data-testid="tube-start"' in phone.get("/testing/sample/", {"round": world["round"].id}).content.decode()
    empty = phone.get("/testing/sample/", {"tube": "T0001"})
    assert (empty.context["count"], empty.context["size"], empty.context["state"]) == (0, None, "待开管")

    first = add(phone, world, "T0001", token(a[0]))
    assert first.status_code == 200 and first.templates[0].name == "web/testing/_tube_panel.html"
    assert (first.context["count"], first.context["size"], first.context["mode"]) == (1, 10, "10合1混采")
    assert first.context["notice"] == f"已加入第 1 位：{mask_name(a[0].name)}"
    again = add(phone, world, "T0001", token(a[0]))  # a retry (double tap, resent request)
    assert (again.context["count"], again.context["notice"]) == (1, "此人已在本管中，未重复登记")
    wrong = add(phone, world, "T0001", token(b[0]))
    html = unescape(wrong.content.decode())
    assert wrong.status_code == 200 and wrong.context["error"]["code"] == "invalid_items"
    assert "此人所在区域按“20合1混采”采样，与本管不同" in html and "This person's area is sampled 20in1" in html
    assert wrong.context["count"] == 1 and 'name="barcode" value="T0001"' in html  # the tube is not lost
    assert f'value="{token(b[0])}"' in html  # nor what was typed
    unknown = add(phone, world, "T0001", "no-such-code")
    assert unknown.context["error"]["details"][0]["msg"] == "查无此人（个人码或证件号无效）"

    add(phone, world, "T0001", a[1].id_number, by="id")
    add(phone, world, "T0001", a[2].id_number.lower())  # an ID number is recognised without choosing
    add(phone, world, "T0001", f"http://testserver/me/{token(a[3])}")  # what the QR holds
    for person in a[4:9]:
        panel = add(phone, world, "T0001", token(person))
    assert panel.context["count"] == 9 and 'data-testid="tube-closed"' not in panel.content.decode()
    last = add(phone, world, "T0001", token(a[9]))
    html = last.content.decode()
    assert (last.context["count"], last.context["state"]) == (10, "已封管")
    assert 'data-testid="tube-counter">10/10<' in html and "本管已满 10 人，已封管。" in html
    assert 'data-testid="tube-next"' in html and 'data-testid="person-add"' not in html
    assert re.findall(r'data-testid="member-name">([^<]+)<', html) == [mask_name(p.name) for p in a[:10]]
    tube = Tube.objects.get(barcode="T0001")
    assert (tube.state, tube.members_count, tube.pool_mode) == (TubeState.CLOSED, 10, "10in1")
    assert list(tube.members.order_by("position").values_list("person_id", flat=True)) == [p.id for p in a[:10]]
    closed = add(phone, world, "T0001", token(a[10]))
    assert closed.context["error"]["msg"] == "该管已封管，不能再加人" and closed.context["count"] == 10

    # a wrong person taken out, then the tube closed before it is full
    add(phone, world, "T0002", token(a[10]))
    add(phone, world, "T0002", token(a[11]))
    removed = phone.post("/testing/sample/remove/", {"round_id": world["round"].id, "barcode": "T0002",
                                                     "person_id": a[11].id, "reason": "扫错人"}, **HX)
    assert (removed.context["count"], removed.context["notice"]) == (1, "已移出第 2 位")
    assert "已移出：" in removed.content.decode()
    assert not PersonRound.objects.filter(person=a[11]).exists()
    shut = phone.post("/testing/sample/close/", {"round_id": world["round"].id, "barcode": "T0002"}, **HX)
    assert (shut.context["state"], shut.context["count"]) == ("已封管", 1)
    assert "本管已封管。" in shut.content.decode()
    mine = phone.get("/testing/sample/").context["my_tubes"]
    assert [t.barcode for t in mine] == ["T0002", "T0001"]

    # HQ finishes the round while the sampler is at work: the phone goes back to the round picker, told why
    round_set_state(actor=world["county"].hq, round_id=world["round"].id, state="finished")
    refused = add(phone, world, "T0003", token(a[12]))
    assert refused["HX-Redirect"] == "/testing/sample/?pick=1" and not Tube.objects.filter(barcode="T0003").exists()
    picker = phone.get(refused["HX-Redirect"]).content.decode()
    assert "该轮次不在采样中或不在您的辖区内" in picker and 'data-testid="no-sampling-round"' in picker


# ---- the lab ------------------------------------------------------------------------------------------------------


def results_csv(rows) -> SimpleUploadedFile:
    text = "管码,结果,ORF1ab,N\n" + "\n".join(",".join(r) for r in rows) + "\n"
    return SimpleUploadedFile("结果0715.csv", text.encode(), content_type="text/csv")


def test_the_lab_receives_a_box_stages_a_file_and_accepts_it(world, client_for):
    a = world["a"]
    fill(world, "P01", a[0:10])
    fill(world, "P02", a[10:20])
    fill(world, "P03", a[20:23], close=True)
    phone = client_for(world["sampler"])
    phone.get("/testing/sample/", {"round": world["round"].id})
    assert phone.get("/testing/sample/").context["to_pack"] == "P01\nP02\nP03"
    packed = phone.post("/testing/sample/pack/", {"round_id": world["round"].id, "code": "BOX-1",
                                                  "lab_id": world["lab"].id, "barcodes": "P01\nP02\nP03\n",
                                                  "courier": "张师傅"})
    assert packed.status_code == 302
    assert TransportBatch.objects.get(code="BOX-1").tubes.count() == 3

    lab = client_for(world["lab_user"])
    page = lab.get("/testing/lab/").content.decode()
    assert 'data-testid="receive-form"' in page and "县疾控实验室" in page
    unknown = lab.post("/testing/lab/receive/", {"code": "BOX-1", "barcodes": "P01\nP77"})
    assert unknown.status_code == 422 and "有管码不存在，本箱未接收" in unknown.content.decode()
    received = lab.post("/testing/lab/receive/", {"code": "BOX-1", "barcodes": "P01\nP02\n"})
    assert received.status_code == 302 and received.url == "/testing/lab/?box=BOX-1"
    receipt = lab.get(received.url)
    assert (receipt.context["box"].missing, receipt.context["box"].extra, receipt.context["box_tubes"]) == (
        ["P03"], [], 3)
    assert re.search(r'data-testid="receipt-missing"><span[^>]*>P03<', receipt.content.decode())

    upload = lab.post("/testing/lab/upload/", {"lab_id": world["lab"].id, "file": results_csv([
        ("P01", "阴性", "", ""), ("P02", "阳性", "28.5", "30.1"), ("P03", "阴性", "", "")])})
    staged = LabResultFile.objects.get()
    assert upload.status_code == 302 and upload.url == f"/testing/lab/?file={staged.id}#file-{staged.id}"
    assert (staged.file_name, len(staged.rows), staged.state) == ("结果0715.csv", 2, "pending")
    listed = lab.get(f"/testing/lab/?file={staged.id}")
    html = unescape(listed.content.decode())
    assert [(e["line"], e["barcode"], e["code"]) for e in listed.context["pending_files"][0]["errors"]] == [
        (4, "P03", "not_received")]
    assert "本实验室未接收该管" in html and "This lab never received the tube" in html
    assert "有效 2 行" in html and "错误 1 行" in html and 'data-testid="review-form"' in html

    accepted = lab.post(f"/testing/lab/files/{staged.id}/review/", {"accept": "1"})
    assert accepted.status_code == 302
    after = lab.get(accepted.url)
    assert after.context["just"]["applied"] == {"tubes": 2, "negative_people": 10, "rechecks": 10,
                                                    "positives": 0}
    html = after.content.decode()
    assert re.search(r'data-testid="applied-tubes">2<', html) and re.search(r'data-testid="applied-rechecks">10<', html)
    staged.refresh_from_db()
    assert staged.state == "accepted" and 'data-testid="review-form"' not in html
    twice = lab.post(f"/testing/lab/files/{staged.id}/review/", {"accept": "1"})  # a second tab, a double click
    assert twice.status_code == 409 and "该文件已审核" in twice.content.decode()
    assert PersonRound.objects.filter(state="negative").count() == 10
    assert PersonRound.objects.filter(state="recheck").count() == 10

    # a second file sent back: the note is required
    lab.post("/testing/lab/upload/", {"lab_id": world["lab"].id, "file": results_csv([("P01", "阴性", "", "")])})
    second = LabResultFile.objects.latest("id")
    no_note = lab.post(f"/testing/lab/files/{second.id}/review/", {"accept": "0"})
    assert no_note.status_code == 422 and "退回时请填写审核意见" in no_note.content.decode()
    lab.post(f"/testing/lab/files/{second.id}/review/", {"accept": "0", "note": "重复上传"})
    second.refresh_from_db()
    assert (second.state, second.review_note) == ("rejected", "重复上传")

    # the dashboard now shows the chain's timings and the rechecks due
    dashboard = client_for(world["county"].hq).get(f"/testing/rounds/{world['round'].id}/")
    assert dashboard.context["chain"].tubes_resulted == 2
    assert dashboard.context["chain"].slowest is None  # both steps took 0.0 h here: neither is the slow one
    assert len(dashboard.context["rechecks"]) == 10 and dashboard.context["overdue"] == 0
    assert dashboard.content.decode().count('data-testid="recheck-row"') == 10


# ---- who may open what ------------------------------------------------------------------------------------------


def test_a_lab_account_cannot_sample_and_a_sampler_cannot_review(world, client_for):
    a = world["a"]
    lab = client_for(world["lab_user"])
    assert lab.get("/testing/sample/").status_code == 403
    refused = lab.post("/testing/sample/add/", {"round_id": world["round"].id, "barcode": "X1", "person": token(a[0])})
    assert refused.status_code == 403 and not Tube.objects.exists()
    assert lab.get("/testing/").status_code == 403  # no testing.view: the lab works from its own page
    nav = lab.get("/testing/lab/").content.decode()
    assert 'href="/testing/lab/"' in nav and 'href="/testing/sample/"' not in nav

    sampler = client_for(world["sampler"])
    assert sampler.get("/testing/lab/").status_code == 403
    staged = LabResultFile.objects.create(lab=world["lab"], file_name="x.csv", sha256="0", rows=[], errors=[])
    assert sampler.post(f"/testing/lab/files/{staged.id}/review/", {"accept": "1"}).status_code == 403
    staged.refresh_from_db()
    assert staged.state == "pending"
    nav = sampler.get("/testing/sample/").content.decode()
    assert 'href="/testing/sample/"' in nav and 'href="/testing/lab/"' not in nav
    assert 'href="/testing/"' not in nav
