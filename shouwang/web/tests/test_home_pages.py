"""The home quarantine pages through the test client: the board (team, seal, visits, alerts; the township filter; the
supervisor's sample for supervisors only) and a person's home file: the plan, the team form pre-filled with the
policy's roles in order, a bad phone shown under its row, the team saved and shown with full staff phones, the seal
installed and reported opened, visits by the team and the supervisor (a grid worker refused the supervisor's
check), a central stay not found here."""

import datetime as dt
import re
from html import unescape

import pytest

from shouwang.accounts.enums import Role
from shouwang.core.models import AuditEvent
from shouwang.quarantine.home import seal_set, team_assign
from shouwang.quarantine.models import Alert, HomeVisit, Need, Responsible, Stay
from shouwang.quarantine.services import StayInput, stay_start

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
V9_ROLES = ["village_cadre", "grid_worker", "medical", "police", "volunteer"]
TEAM = {**{f"role_{i}": r for i, r in enumerate(V9_ROLES)},
        "name_0": "李书记", "phone_0": "13912340001", "name_1": "王网格", "phone_1": "13912340002",
        "name_2": "赵医生", "phone_2": "13912340003", "name_3": "张警官", "phone_3": "13912340004",
        "name_4": "刘志愿", "phone_4": "13912340005"}


def text(response) -> str:
    return unescape(response.content.decode())


@pytest.fixture
def ward(county, settings):
    """07-11: two V9 secondary contacts at home in grid A (home quarantine 07-11 to 07-17), one in grid B, a close
    contact waiting for central quarantine; a village cadre, a grid worker (team member by login) and a supervisor."""
    settings.SHOUWANG_TODAY = "2022-07-11"
    hq = county.hq

    def start(name, seq, area, category="secondary_contact", address=""):
        person = county.person(name=name, seq=seq, area=area)
        return stay_start(actor=hq, data=StayInput(person_id=person.id, category=category,
                                                   anchor_date=dt.date(2022, 7, 10), home_address=address))

    return {"county": county, "hq": hq,
            "a": start("次密甲", 201, county.grid_a, address="幸福小区1号楼1-101"),
            "b": start("次密乙", 202, county.grid_a, address="幸福小区1号楼2-202"),
            "east": start("次密东", 203, county.grid_b, address="东村5号"),
            "central": start("密接丙", 204, county.grid_a, category="close_contact"),
            "village": county.user(Role.VILLAGE, county.village_a, username="village-a"),
            "grid": county.user(Role.GRID_WORKER, county.grid_a, username="grid-a"),
            "supervisor": county.user(Role.SUPERVISOR, county.county, username="supervisor")}


def test_the_team_form_lists_the_policy_roles_in_order_and_saves_the_team(ward, client_for):
    village = client_for(ward["village"])
    url = f"/quarantine/home/{ward['a'].id}/"
    page = village.get(url)
    assert page.status_code == 200
    html = text(page)
    assert re.findall(r'name="role_\d" value="(\w+)"', html) == V9_ROLES
    assert [r["label"] for r in page.context["team_rows"]] == ["村（社区）干部", "网格员", "医务人员", "社区民警", "志愿者"]
    assert "次*甲" in html and "次密甲" not in html
    assert re.search(r'data-testid="stay-dates"><span class="mono">2022-07-11 — 2022-07-17</span> · 第 1/7 天<', html)
    assert [t.strip() for t in re.findall(r'<span class="tag tag-info mono">([^<]+)</span>', html)] == [
        "07-11 第1天 核酸", "07-14 第4天 核酸", "07-17 第7天 核酸"]
    assert AuditEvent.objects.filter(action="view", object_id=str(ward["a"].id)).count() == 1

    bad = village.post(url, {"form": "team", **TEAM, "phone_2": "1391234", "name_4": ""})
    assert bad.status_code == 422
    rows = bad.context["team_rows"]
    assert (rows[2]["errors"]["phone"]["msg"], rows[2]["errors"]["phone"]["other"]) == (
        "手机号应为11位数字", "mobile number must be 11 digits")
    assert rows[4]["errors"]["name"]["code"] == "required"
    assert [r["i"] for r in rows if any(r["errors"].values())] == [2, 4]
    assert 'value="1391234"' in text(bad) and Responsible.objects.count() == 0

    saved = village.post(url, {"form": "team", **TEAM, "user_1": str(ward["grid"].id)})
    assert (saved.status_code, saved.url) == (302, url)
    assert AuditEvent.objects.filter(action="view", object_id=str(ward["a"].id)).count() == 2  # GET, the 422 page
    team = list(Responsible.objects.filter(stay=ward["a"]).order_by("id").values_list("role", "name", "user_id"))
    assert team == [("village_cadre", "李书记", None), ("grid_worker", "王网格", ward["grid"].id),
                    ("medical", "赵医生", None), ("police", "张警官", None), ("volunteer", "刘志愿", None)]
    shown = text(village.get(url))
    assert "已保存“五包一”责任人" in shown
    assert re.findall(r'data-testid="team-phone">(\d+)<', shown) == [f"1391234000{i}" for i in range(1, 6)]
    assert 'data-testid="team-missing"' not in shown

    grid = client_for(ward["grid"])
    assert 'data-testid="team-form"' not in text(grid.get(url))  # a grid worker sees the team, does not set it
    assert grid.post(url, {"form": "team", **TEAM}).status_code == 403


def test_a_form_older_than_the_policy_is_refused_naming_the_missing_role(ward, client_for):
    village = client_for(ward["village"])
    url = f"/quarantine/home/{ward['a'].id}/"
    stale = village.post(url, {"form": "team", **TEAM, "role_3": "militia"})
    assert stale.status_code == 422
    error = stale.context["errors"]["form"]
    assert (error["code"], error["msg"]) == (
        "roles_mismatch", "“五包一”责任人应为村（社区）干部、网格员、医务人员、社区民警、志愿者各一人：缺少社区民警；本地政策不设民兵")
    assert 'data-testid="team-error" data-code="roles_mismatch"' in text(stale)
    assert Responsible.objects.count() == 0


def test_the_seal_and_visits_through_the_page(ward, client_for):
    village, grid, supervisor = (client_for(ward[k]) for k in ("village", "grid", "supervisor"))
    team_assign(actor=ward["village"], stay_id=ward["a"].id, members=[
        {"role": r, "name": f"责任人{i}", "phone": f"1391234000{i}", "user_id": ward["grid"].id if i == 1 else None}
        for i, r in enumerate(V9_ROLES)])
    url = f"/quarantine/home/{ward['a'].id}/"
    assert village.post(url, {"form": "seal", "action": "install", "kind": "door_sensor"}).status_code == 302
    assert Stay.objects.get(id=ward["a"].id).seal_state == "intact"
    no_reason = grid.post(url, {"form": "seal", "action": "opened", "reason": ""})
    assert (no_reason.status_code, no_reason.context["errors"]["reason"]["msg"]) == (422, "请填写异常情况")
    assert grid.post(url, {"form": "seal", "action": "opened", "reason": "门磁报警"}).status_code == 302
    assert list(Alert.objects.values_list("kind", "detail")) == [("seal", "门磁异常：门磁报警")]

    page = text(grid.get(url))
    assert re.findall(r'<option value="(\w+)"', page.split('data-testid="visit-kind"')[1].split("</select>")[0]) == [
        "daily", "phone"]
    done = grid.post(url, {"form": "visit", "kind": "daily", "person_present": "yes", "seal_intact": "no",
                           "deliveries_needed": "米面油"})
    assert done.status_code == 302
    visit = HomeVisit.objects.get()
    assert (visit.kind, visit.role, visit.person_present, visit.seal_intact, visit.recorded_by) == (
        "daily", "grid_worker", True, False, ward["grid"])
    assert list(Need.objects.values_list("kind", "detail")) == [("daily_needs", "米面油")]
    missing = grid.post(url, {"form": "visit", "kind": "daily"})
    assert (missing.status_code, missing.context["errors"]["person_present"]["code"]) == (422, "required")
    assert grid.post(url, {"form": "visit", "kind": "supervisor_door", "person_present": "yes"}).status_code == 403

    sup_page = text(supervisor.get(url))
    assert re.findall(r'<option value="(\w+)"', sup_page.split('data-testid="visit-kind"')[1].split("</select>")[0]) \
        == ["supervisor_video", "supervisor_door"]
    assert supervisor.post(url, {"form": "visit", "kind": "supervisor_video", "person_present": "no",
                                 "note": "视频无人接听"}).status_code == 302
    assert sorted(Alert.objects.values_list("kind", flat=True)) == ["absent", "seal"]
    shown = text(village.get(url))
    assert re.findall(r'data-testid="visit-row" data-kind="(\w+)"', shown) == ["supervisor_video", "daily"]
    assert re.search(r'data-testid="seal-state" data-state="opened">门磁：门磁报警/封条破损<', shown)


def test_the_board_and_the_supervisors_sample(ward, client_for):
    county = ward["county"]
    team_assign(actor=ward["village"], stay_id=ward["a"].id, members=[
        {"role": r, "name": f"责任人{i}", "phone": f"1391234000{i}"} for i, r in enumerate(V9_ROLES)])
    seal_set(actor=ward["village"], stay_id=ward["a"].id, kind="paper_seal", state="intact")
    village = client_for(ward["village"])
    board = village.get("/quarantine/home/")
    assert board.status_code == 200
    rows = board.context["rows"]
    assert [(r["r"].name, r["r"].address, r["missing"], r["seal"]) for r in rows] == [
        ("次*甲", "幸福小区1号楼1-101", [], "完好"),
        ("次*乙", "幸福小区1号楼2-202", ["村（社区）干部", "网格员", "医务人员", "社区民警", "志愿者"], "未安装")]
    html = text(board)
    assert (board.context["incomplete"], board.context["unvisited"]) == (1, 2)
    assert "五包一已配齐" in html and "缺村（社区）干部、网格员、医务人员、社区民警、志愿者" in html
    assert "封条：完好" in html and "第 1/7 天" in html and "次密甲" not in html
    assert 'data-testid="home-sample"' not in html  # the sample is the supervisor's

    hq = client_for(ward["hq"])
    assert len(hq.get("/quarantine/home/").context["rows"]) == 3
    filtered = hq.get("/quarantine/home/", {"area": county.township_b.id})
    assert [r["r"].name for r in filtered.context["rows"]] == ["次*东"]
    assert [a.name for a in filtered.context["areas"]] == ["天坛镇", "第一网格", "响水河镇", "东村网格"]

    supervisor = client_for(ward["supervisor"])
    first = supervisor.get("/quarantine/home/")
    sample = [s["stay"].id for s in first.context["sample"]]
    assert sorted(sample) == sorted([ward["a"].id, ward["b"].id, ward["east"].id])
    assert [s["stay"].id for s in supervisor.get("/quarantine/home/").context["sample"]] == sample
    assert len(re.findall(r'data-testid="sample-row"', text(first))) == 3

    assert client_for(county.user(Role.SAMPLER, county.township_a, username="sampler")).get(
        "/quarantine/home/").status_code == 403


def test_a_central_stay_or_another_jurisdiction_is_not_found_here(ward, client_for):
    village = client_for(ward["village"])
    assert village.get(f"/quarantine/home/{ward['central'].id}/").status_code == 404
    assert village.get(f"/quarantine/home/{ward['east'].id}/").status_code == 404
    english = village.post(f"/quarantine/home/{ward['a'].id}/", {"form": "seal", "action": "opened", "reason": "x"},
                           **EN)
    assert (english.status_code, english.context["errors"]["state"]["msg"]) == (409, "no seal is installed")
    assert english.context["errors"]["state"]["other"] == "尚未安装门磁/封条"
