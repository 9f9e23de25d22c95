"""Home quarantine's five responsible people (五包一) by the policy's roles (V9 default, a township's local override),
the door seal, the team's visits and the supervisor's checks with the alerts and deliveries they raise, the board of
home stays and the supervisor's daily sample."""

import datetime as dt
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shouwang.accounts.enums import Role
from shouwang.core.errors import DomainError
from shouwang.core.models import AuditEvent
from shouwang.policy.selectors import forget
from shouwang.policy.services import policy_sync
from shouwang.quarantine.home import (
    home_board,
    home_file,
    responsible_roles,
    seal_set,
    supervisor_sample,
    team_assign,
    team_of,
    team_replace_member,
    visit_record,
)
from shouwang.quarantine.models import Alert, HomeVisit, Need, Responsible, Stay, StayChange
from shouwang.quarantine.services import StayInput, stay_start

V9_ROLES = ("village_cadre", "grid_worker", "medical", "police", "volunteer")
NAMES = {"village_cadre": "李书记", "grid_worker": "王网格", "medical": "赵医生", "police": "张警官", "volunteer": "刘志愿"}
PHONES = {"village_cadre": "13912340001", "grid_worker": "13912340002", "medical": "13912340003",
          "police": "13912340004", "volunteer": "13912340005"}


def on(settings, day: str) -> None:
    settings.SHOUWANG_TODAY = day


def team(roles=V9_ROLES, **change) -> list[dict]:
    return [{"role": r, "name": NAMES.get(r, f"{r}员"), "phone": PHONES.get(r, "13712340009"), **change.get(r, {})}
            for r in roles]


def at(hour: int, minute: int = 0, day: int = 11) -> dt.datetime:
    return timezone.make_aware(dt.datetime(2022, 7, day, hour, minute))


def home_stay(county, name: str, seq: int, area=None, address: str = "幸福小区1号楼1-101") -> Stay:
    """A V9 secondary contact: home quarantine 07-11 to 07-17 (tests on days 1, 4, 7), active from today."""
    person = county.person(name=name, seq=seq, area=area or county.grid_a)
    return stay_start(actor=county.hq, data=StayInput(person_id=person.id, category="secondary_contact",
                                                      anchor_date=dt.date(2022, 7, 10), home_address=address))


@pytest.fixture
def home(county, settings):
    on(settings, "2022-07-11")
    grid = county.user(Role.GRID_WORKER, county.grid_a, username="grid-a")
    return SimpleNamespace(
        stay=home_stay(county, "次密甲", 101), hq=county.hq, grid=grid,
        village=county.user(Role.VILLAGE, county.village_a, username="village-a"),
        supervisor=county.user(Role.SUPERVISOR, county.county, username="supervisor"))


# ---- the five responsible people ----------------------------------------------------------------------------------


def test_v9_roles_are_the_default_and_a_whole_team_is_assigned_in_their_order(county, home):
    assert responsible_roles(county.grid_a) == V9_ROLES
    members = team()
    members.reverse()  # any order in, the policy's order out
    got = team_assign(actor=home.village, stay_id=home.stay.id, members=members)
    assert [(m.role, m.name, m.phone) for m in got] == [(r, NAMES[r], PHONES[r]) for r in V9_ROLES]
    assert [m.role for m in team_of(home.stay.id)] == list(V9_ROLES)
    change = StayChange.objects.get(stay=home.stay, kind="responsible")
    assert (change.before, change.reason) == ({"team": []}, "落实“五包一”责任人")
    assert change.after["team"][3] == {"role": "police", "name": "张警官"}
    again = team_assign(actor=home.village, stay_id=home.stay.id, members=team())  # sent twice: nothing new
    assert ([m.id for m in again], StayChange.objects.filter(kind="responsible").count()) == (
        [m.id for m in got], 1)


def test_a_team_missing_the_police_officer_is_refused_naming_the_role(home):
    members = [m for m in team() if m["role"] != "police"]
    with pytest.raises(DomainError) as missing:
        team_assign(actor=home.village, stay_id=home.stay.id, members=members)
    assert (missing.value.code, missing.value.field, missing.value.status) == ("roles_mismatch", "members", 422)
    assert missing.value.message_zh == ("“五包一”责任人应为村（社区）干部、网格员、医务人员、社区民警、志愿者各一人："
                                        "缺少社区民警")
    assert missing.value.message_en == (
        "the team must be one each of village or community cadre, grid worker, community medical worker, community "
        "police officer, volunteer; missing: community police officer")
    militia = team(roles=("village_cadre", "grid_worker", "medical", "militia", "volunteer", "volunteer"))
    with pytest.raises(DomainError) as wrong:
        team_assign(actor=home.village, stay_id=home.stay.id, members=militia)
    assert wrong.value.message_zh.endswith("缺少社区民警；本地政策不设民兵；志愿者重复")
    assert wrong.value.details == [{"role": "police", "problem": "missing"}, {"role": "militia", "problem": "extra"},
                                   {"role": "volunteer", "problem": "repeated"}]
    assert Responsible.objects.count() == 0


def test_a_bad_phone_and_a_blank_name_are_refused_by_member_and_field_and_nothing_is_written(county, home):
    members = team(medical={"phone": "1391234"}, volunteer={"name": " "})
    with pytest.raises(DomainError) as bad:
        team_assign(actor=home.village, stay_id=home.stay.id, members=members)
    assert (bad.value.field, bad.value.code, bad.value.message_zh) == ("members[2].phone", "mobile_format",
                                                                       "手机号应为11位数字")
    assert [(d["field"], d["code"]) for d in bad.value.details] == [("members[2].phone", "mobile_format"),
                                                                   ("members[4].name", "required")]
    outsider = county.user(Role.GRID_WORKER, county.grid_b, username="grid-b")
    with pytest.raises(DomainError) as far:
        team_assign(actor=home.village, stay_id=home.stay.id, members=team(grid_worker={"user_id": outsider.id}))
    assert (far.value.field, far.value.code) == ("members[1].user_id", "user_out_of_area")
    assert (Responsible.objects.count(), StayChange.objects.filter(kind="responsible").count()) == (0, 0)
    phone = team(police={"phone": "+86 139 1234 0004"})  # normalised
    assert team_assign(actor=home.village, stay_id=home.stay.id, members=phone)[3].phone == "13912340004"


def test_only_home_stays_and_home_managers(county, home):
    central = stay_start(actor=county.hq, data=StayInput(person_id=county.person(name="密接乙", seq=102).id,
                                                         category="close_contact", anchor_date=dt.date(2022, 7, 10)))
    with pytest.raises(DomainError) as site:
        team_assign(actor=home.village, stay_id=central.id, members=team())
    assert (site.value.code, site.value.status) == ("not_home", 409)
    with pytest.raises(DomainError) as grid:
        team_assign(actor=home.grid, stay_id=home.stay.id, members=team())
    assert (grid.value.code, grid.value.status) == ("permission_denied", 403)
    east = county.user(Role.VILLAGE, county.village_b, username="village-b")
    with pytest.raises(DomainError) as other:
        team_assign(actor=east, stay_id=home.stay.id, members=team())
    assert other.value.code == "not_found"


def test_replacing_the_team_or_a_member_keeps_the_history(home):
    team_assign(actor=home.village, stay_id=home.stay.id, members=team())
    team_assign(actor=home.village, stay_id=home.stay.id, members=team(volunteer={"name": "陈志愿"}),
                reason="志愿者返岗")
    team_replace_member(actor=home.village, stay_id=home.stay.id, role="medical", name="孙医生", phone="13812345678")
    changes = list(StayChange.objects.filter(stay=home.stay, kind="responsible").order_by("id"))
    assert [c.reason for c in changes] == ["落实“五包一”责任人", "志愿者返岗", "更换医务人员"]
    assert (changes[1].before["team"][4], changes[1].after["team"][4]) == (
        {"role": "volunteer", "name": "刘志愿"}, {"role": "volunteer", "name": "陈志愿"})
    assert [m.name for m in team_of(home.stay.id)] == ["李书记", "王网格", "孙医生", "张警官", "陈志愿"]
    with pytest.raises(DomainError) as role:
        team_replace_member(actor=home.village, stay_id=home.stay.id, role="militia", name="x", phone="13812345678")
    assert role.value.field == "role"
    assert AuditEvent.objects.filter(object_type="quarantine.stay", object_id=str(home.stay.id),
                                     summary__startswith="五包一").count() == 3


LOCAL = """
[version]
id = "141027100-L1"
title_zh = "天坛镇五包一"
effective_from = 2022-07-01
base = "V9"
scope = "141027100"

[params.responsible_roles]
value = ["township_cadre", "village_cadre", "group_head", "family", "medical"]
rule = "R1-L"
confidence = "LOC"
note_zh = "天坛镇：包村干部、村干部、村民小组长、亲属、乡镇卫生院医生"
"""


@pytest.fixture
def township_override(tmp_path):
    """天坛镇 (township A) sets its own five roles in a local policy file, loaded as at deployment."""
    directory = tmp_path / "versions"
    shutil.copytree(Path(__file__).resolve().parents[2] / "policy" / "versions", directory)
    (directory / "local-141027100.toml").write_text(LOCAL, encoding="utf-8")
    assert policy_sync(directories=[directory]).loaded == ["141027100-L1"]
    yield
    forget()


def test_a_township_override_changes_the_roles_required(county, home, township_override):
    local = ("township_cadre", "village_cadre", "group_head", "family", "medical")
    assert (responsible_roles(county.grid_a), responsible_roles(county.grid_b)) == (local, V9_ROLES)
    with pytest.raises(DomainError) as v9:
        team_assign(actor=home.village, stay_id=home.stay.id, members=team())
    assert v9.value.message_zh == ("“五包一”责任人应为乡镇（街道）包村干部、村（社区）干部、村民小组长、亲属或朋友、医务人员各一人："
                                   "缺少乡镇（街道）包村干部、村民小组长、亲属或朋友；本地政策不设网格员、社区民警、志愿者")
    got = team_assign(actor=home.village, stay_id=home.stay.id, members=team(roles=local))
    assert [m.role for m in got] == list(local)
    east = home_stay(county, "次密东", 103, area=county.grid_b, address="东村5号")
    assert [m.role for m in team_assign(actor=county.hq, stay_id=east.id, members=team())] == list(V9_ROLES)


# ---- the door seal -----------------------------------------------------------------------------------------------


def test_a_seal_is_installed_reported_opened_once_reinstalled_and_removed_with_a_reason(home):
    with pytest.raises(DomainError) as grid:
        seal_set(actor=home.grid, stay_id=home.stay.id, kind="door_sensor", state="intact")
    assert grid.value.status == 403
    stay = seal_set(actor=home.village, stay_id=home.stay.id, kind="door_sensor", state="intact")
    assert (stay.seal_kind, stay.seal_state, stay.sealed_at is not None) == ("door_sensor", "intact", True)
    with pytest.raises(DomainError) as why:
        seal_set(actor=home.grid, stay_id=home.stay.id, state="opened")
    assert (why.value.field, why.value.code) == ("reason", "required")
    seal_set(actor=home.grid, stay_id=home.stay.id, state="opened", reason="门磁报警 14:50")  # the team may report
    seal_set(actor=home.grid, stay_id=home.stay.id, state="opened", reason="再次报警")
    alert = Alert.objects.get(stay=home.stay)
    assert (alert.kind, alert.day, alert.detail, alert.state, alert.site_id) == (
        "seal", dt.date(2022, 7, 11), "门磁异常：门磁报警 14:50", "open", None)
    assert Stay.objects.get(id=home.stay.id).seal_state == "opened"
    seal_set(actor=home.village, stay_id=home.stay.id, state="intact")  # reinstalled, same kind
    with pytest.raises(DomainError) as removal:
        seal_set(actor=home.village, stay_id=home.stay.id, state="removed")
    assert (removal.value.field, removal.value.code) == ("reason", "required")
    seal_set(actor=home.village, stay_id=home.stay.id, state="removed", reason="转集中隔离")
    history = [(c.before["seal_state"], c.after["seal_state"], c.reason)
               for c in StayChange.objects.filter(stay=home.stay, kind="seal").order_by("id")]
    assert history == [("none", "intact", "安装门磁"), ("intact", "opened", "门磁报警 14:50"),
                       ("opened", "intact", "重新安装门磁"), ("intact", "removed", "转集中隔离")]
    with pytest.raises(DomainError) as none:
        seal_set(actor=home.village, stay_id=home.stay.id, state="opened", reason="x")
    assert none.value.code == "no_seal"


# ---- visits and supervisor checks -------------------------------------------------------------------------------


def test_visits_keep_the_role_raise_alerts_and_open_one_delivery_request(county, home):
    team_assign(actor=home.village, stay_id=home.stay.id, members=team(grid_worker={"user_id": home.grid.id}))
    seal_set(actor=home.village, stay_id=home.stay.id, kind="paper_seal", state="intact")
    first = visit_record(actor=home.grid, stay_id=home.stay.id, kind="daily", person_present=True, seal_intact=True,
                         deliveries_needed="米面油", at=at(9))
    retry = visit_record(actor=home.grid, stay_id=home.stay.id, kind="daily", person_present=True, seal_intact=True,
                         deliveries_needed="米面油", at=at(9))
    assert (first.id, first.role, first.day, first.seal_intact) == (retry.id, "grid_worker", dt.date(2022, 7, 11),
                                                                    True)
    call = visit_record(actor=home.village, stay_id=home.stay.id, kind="phone", person_present=True,
                        seal_intact=True, deliveries_needed=" 米面油 ", at=at(11))
    assert (call.role, call.seal_intact) == ("", None)  # not in the team; a call does not see the door
    assert list(Need.objects.values_list("kind", "detail", "state")) == [("daily_needs", "米面油", "open")]
    assert Alert.objects.count() == 0
    with pytest.raises(DomainError) as grid:
        visit_record(actor=home.grid, stay_id=home.stay.id, kind="supervisor_door", person_present=True)
    assert (grid.value.code, grid.value.status) == ("permission_denied", 403)
    check = visit_record(actor=home.supervisor, stay_id=home.stay.id, kind="supervisor_door", person_present=False,
                         seal_intact=False, note="敲门无人应答", at=at(14))
    assert check.role == "supervisor"
    assert sorted(Alert.objects.values_list("kind", "detail")) == [
        ("absent", "督导上门抽查未见本人：敲门无人应答"), ("seal", "封条异常：督导上门抽查发现门磁/封条异常：敲门无人应答")]
    assert Stay.objects.get(id=home.stay.id).seal_state == "opened"
    with pytest.raises(DomainError) as future:
        visit_record(actor=home.grid, stay_id=home.stay.id, kind="daily", person_present=True, at=at(18))
    assert future.value.field == "at"
    assert HomeVisit.objects.count() == 3


def test_visits_only_for_active_home_stays(county, home):
    on_day = county.person(name="次密丙", seq=104)
    later = stay_start(actor=county.hq, data=StayInput(person_id=on_day.id, category="secondary_contact",
                                                       anchor_date=dt.date(2022, 7, 10)))
    Stay.objects.filter(id=later.id).update(state="released")
    with pytest.raises(DomainError) as closed:
        visit_record(actor=home.grid, stay_id=later.id, kind="daily", person_present=True)
    assert closed.value.code == "not_active"
    with pytest.raises(DomainError) as kind:
        visit_record(actor=home.grid, stay_id=home.stay.id, kind="drone", person_present=True)
    assert kind.value.field == "kind"


# ---- the board and the sample ------------------------------------------------------------------------------------


def test_the_board_shows_team_seal_visits_supervisor_alerts_and_needs_in_constant_queries(county, home, settings):
    second = home_stay(county, "次密丁", 105, address="幸福小区1号楼2-202")
    team_assign(actor=home.village, stay_id=home.stay.id, members=team(grid_worker={"user_id": home.grid.id}))
    team_assign(actor=home.village, stay_id=second.id, members=team())
    Responsible.objects.filter(stay=second, role__in=["police", "volunteer"]).delete()
    seal_set(actor=home.village, stay_id=home.stay.id, kind="door_sensor", state="intact")
    visit_record(actor=home.supervisor, stay_id=home.stay.id, kind="supervisor_video", person_present=True, at=at(8))
    on(settings, "2022-07-13")
    visit_record(actor=home.grid, stay_id=home.stay.id, kind="daily", person_present=True, seal_intact=True,
                 deliveries_needed="退烧药", at=at(9, 30, day=13))
    visit_record(actor=home.grid, stay_id=second.id, kind="daily", person_present=False, at=at(10, day=13))
    with CaptureQueriesContext(connection) as two:
        rows = home_board(home.hq, day=dt.date(2022, 7, 13))
    a, b = rows
    assert (a.name, a.id_number[:4], a.address, a.grid, a.measure, a.day_n, a.days) == (
        "次*甲", "1410", "幸福小区1号楼1-101", "第一网格", "home_quarantine", 3, 7)
    assert (a.team_complete, a.missing, a.seal_kind, a.seal_state) == (True, [], "door_sensor", "intact")
    assert [(v["kind"], v["role"], v["by"], v["present"]) for v in a.visited] == [
        ("daily", "grid_worker", "grid-a", True)]
    assert (a.last_supervisor.kind, a.last_supervisor.day) == ("supervisor_video", dt.date(2022, 7, 11))
    assert ([x.kind for x in a.alerts], [n.detail for n in a.needs]) == ([], ["退烧药"])
    assert (b.name, b.team_complete, b.missing, b.seal_state, b.last_supervisor) == (
        "次*丁", False, ["police", "volunteer"], "none", None)
    assert ([v["present"] for v in b.visited], [x.kind for x in b.alerts]) == ([False], ["absent"])
    for i in range(4):
        home_stay(county, f"次密{i}", 110 + i, area=county.grid_b, address=f"东村{i}号")
    with CaptureQueriesContext(connection) as six:
        rows = home_board(home.hq, day=dt.date(2022, 7, 13))
    assert (len(rows), len(six.captured_queries)) == (6, len(two.captured_queries))
    assert [r.name for r in home_board(home.hq, day=dt.date(2022, 7, 13), area_id=county.township_a.id)] == [
        "次*甲", "次*丁"]
    assert [r.name for r in home_board(home.grid, day=dt.date(2022, 7, 13))] == ["次*甲", "次*丁"]


def test_the_supervisors_sample_is_stable_for_the_day_and_prefers_homes_not_checked_lately(county, home, settings):
    stays = [home.stay] + [home_stay(county, f"抽查{i}", 120 + i, address=f"2-{i}") for i in range(7)]
    first = supervisor_sample(home.supervisor, day=dt.date(2022, 7, 13), n=3)
    assert [s.id for s in first] == [s.id for s in supervisor_sample(home.supervisor, day=dt.date(2022, 7, 13), n=3)]
    seeded = supervisor_sample(home.supervisor, day=dt.date(2022, 7, 13), n=3, seed=f"2022-07-13:{home.supervisor.id}")
    assert [s.id for s in first] == [s.id for s in seeded]  # seeded by the day and the user
    assert [s.id for s in supervisor_sample(home.supervisor, day=dt.date(2022, 7, 13), n=3, seed="x")] == [
        s.id for s in supervisor_sample(home.supervisor, day=dt.date(2022, 7, 13), n=3, seed="x")]
    names = [s.person.name for s in supervisor_sample(home.supervisor, day=dt.date(2022, 7, 13), n=8, seed=7)]
    assert names == ["抽查5", "抽查6", "抽查1", "抽查3", "次密甲", "抽查2", "抽查0", "抽查4"]  # Random(7), by id
    on(settings, "2022-07-12")
    for s in stays[:5]:  # checked on 07-12, within the 3 days before 07-13
        visit_record(actor=home.supervisor, stay_id=s.id, kind="supervisor_video", person_present=True, at=at(9, day=12))
    on(settings, "2022-07-13")
    sample = supervisor_sample(home.supervisor, day=dt.date(2022, 7, 13), n=4)
    assert {s.id for s in sample[:3]} == {s.id for s in stays[5:]}
    assert sample[3].id in {s.id for s in stays[:5]}
    visit_record(actor=home.supervisor, stay_id=sample[0].id, kind="supervisor_door", person_present=True)
    assert [s.id for s in supervisor_sample(home.supervisor, day=dt.date(2022, 7, 13), n=4)] == [s.id for s in sample]
    assert supervisor_sample(home.grid, day=dt.date(2022, 7, 13), n=0) == []


def test_the_home_file_is_logged(home):
    file = home_file(home.grid, home.stay.id)
    assert (file.roles, file.missing, file.team) == (V9_ROLES, list(V9_ROLES), [])
    assert AuditEvent.objects.filter(action="view", object_id=str(home.stay.id)).count() == 1
