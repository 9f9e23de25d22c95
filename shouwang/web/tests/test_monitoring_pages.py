"""The daily monitoring pages through the test client: a site's day sheet (counts, names, temperatures, the test due
with its outcome, missing entries), temperatures entered in a card over htmx, a person's entry form with its field
errors and the way back to the sheet, the alerts handled, the needs added and resolved, the home stays' sheet, who
may open and change what."""

import datetime as dt
import re
from html import unescape

import pytest

from shouwang.accounts.enums import Role
from shouwang.core.models import AuditEvent
from shouwang.quarantine.models import Alert, DailyCheck, Need
from shouwang.quarantine.monitoring import check_record, need_add
from shouwang.quarantine.tests.test_monitoring import admit, on, open_site, tube_for

HX = {"HTTP_HX_REQUEST": "true"}


def text(response) -> str:
    return unescape(response.content.decode())


def squash(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def by_testid(html: str, name: str) -> list[str]:
    """The text of every element with data-testid=name (no nesting inside them)."""
    return [squash(m) for m in re.findall(rf'data-testid="{name}"[^>]*>(.*?)</', html, flags=re.S)]


@pytest.fixture
def ward(county, settings):
    """城关宾馆隔离点: 隔离甲 in 301, 隔离乙 in 302 (admitted 07-11 15:00); the business day is 07-13 (day 3, a
    test day), 15:00. The doctor is a quarantine manager of the village."""
    on(settings, "2022-07-11")
    site = open_site(county)
    doctor = county.user(Role.QUARANTINE_MANAGER, county.village_a, username="doctor-a")
    site.doctor = doctor
    site.save(update_fields=["doctor"])
    a, b = admit(county, site, "隔离甲", 1, "301"), admit(county, site, "隔离乙", 2, "302")
    on(settings, "2022-07-13")
    return {"site": site, "doctor": doctor, "a": a, "b": b}


def test_the_sheet_shows_the_counts_names_temperatures_and_the_test_due(county, ward, client_for):
    tube_for(county, ward["a"].person, dt.date(2022, 7, 13), "Q1")
    check_record(actor=ward["doctor"], stay_id=ward["a"].id, temp_am="36.4", temp_pm="37.6", disinfected=True)
    page = client_for(ward["doctor"]).get(f"/quarantine/sites/{ward['site'].id}/day/")
    assert page.status_code == 200
    html = text(page)
    assert by_testid(html, "sheet-day") == ["2022-07-13 （今天）"]
    assert by_testid(html, "row-place") == ["301", "302"]
    assert by_testid(html, "row-name") == ["隔离甲", "隔离乙"]
    assert by_testid(html, "row-am") == ["36.4℃", "—"]
    assert by_testid(html, "row-pm") == ["37.6℃", "—"]
    assert by_testid(html, "row-test") == ["核酸（第 3 天）：阴性", "核酸（第 3 天）：未采样"]
    assert by_testid(html, "row-alert") == ["发热"]
    assert re.findall(r'name="temp_pm"[^>]*value="([^"]*)"', html) == ["37.6", ""]  # the card's quick form
    assert by_testid(html, "row-missing") == ["缺上午体温"]  # 15:00: 隔离乙's morning is owed
    assert [by_testid(html, f"sum-{k}")[0] for k in ("people", "complete", "missing", "fevers", "tests-due",
                                                    "tests-done", "tests-missing")] == ["2", "1", "1", "1", "2",
                                                                                        "1", "1"]
    assert ward["b"].person.id_number not in html  # masked
    assert AuditEvent.objects.filter(object_type="quarantine.site", action="view", row_count=2).count() == 1
    yesterday = text(client_for(ward["doctor"]).get(f"/quarantine/sites/{ward['site'].id}/day/?day=2022-07-12"))
    assert (by_testid(yesterday, "row-test"), by_testid(yesterday, "row-missing")) == (
        ["核酸（第 2 天）：未采样"] * 2, ["缺上午体温", "缺下午体温", "缺日报"] * 2)


def test_a_card_takes_the_temperatures_over_htmx_and_shows_its_errors(ward, client_for):
    client = client_for(ward["doctor"])
    url = f"/quarantine/stays/{ward['b'].id}/check/"
    card = client.post(url, {"day": "2022-07-13", "card": "1", "temp_am": "36.8", "temp_pm": ""}, **HX)
    assert card.status_code == 200
    html = text(card)
    assert (by_testid(html, "row-am"), by_testid(html, "row-saved"), by_testid(html, "row-missing")) == (
        ["36.8℃"], ["已保存"], [])
    bad = client.post(url, {"day": "2022-07-13", "card": "1", "temp_am": "", "temp_pm": "43.5"}, **HX)
    assert bad.status_code == 200  # htmx swaps only 2xx: the error is in the card
    assert 'data-code="out_of_range"' in bad.content.decode()
    assert "体温应在 34.0–43.0℃ 之间，保留一位小数" in text(bad)
    check = DailyCheck.objects.get(stay=ward["b"])
    assert (str(check.temp_am), check.temp_pm, check.symptoms, check.reported) == ("36.8", None, [], False)


def test_the_entry_form_shows_the_test_and_saves_back_to_the_sheet(county, ward, client_for):
    tube_for(county, ward["a"].person, dt.date(2022, 7, 13), "Q1", result="")  # at the lab
    client = client_for(ward["doctor"])
    url = f"/quarantine/stays/{ward['a'].id}/check/"
    form = client.get(url + "?day=2022-07-13")
    assert form.status_code == 200
    assert squash(re.search(r'data-testid="check-test">(.*?)</p>', text(form), flags=re.S).group(1)) == (
        "核酸（第 3 天）：待出结果")
    refused = client.post(url, {"day": "2022-07-13", "full": "1", "temp_am": "36.5", "temp_pm": "43.5",
                                "symptoms": ["cough"]})
    assert refused.status_code == 422
    html = text(refused)
    assert 'name="temp_pm" inputmode="decimal" value="43.5"' in html  # what was typed stays
    assert by_testid(html, "field-error")[0].startswith("体温应在 34.0–43.0℃ 之间")
    assert DailyCheck.objects.count() == 0
    saved = client.post(url, {"day": "2022-07-13", "full": "1", "temp_am": "36.5", "temp_pm": "37.6",
                              "symptoms": ["cough"], "disinfected": "yes", "reported": "1", "note": ""})
    assert (saved.status_code, saved["Location"]) == (
        302, f"/quarantine/sites/{ward['site'].id}/day/?day=2022-07-13#stay-{ward['a'].id}")
    check = DailyCheck.objects.get(stay=ward["a"])
    assert (str(check.temp_am), str(check.temp_pm), check.symptoms, check.disinfected, check.reported) == (
        "36.5", "37.6", ["cough"], True, True)
    assert sorted(Alert.objects.values_list("kind", "detail")) == [("fever", "发热：下午体温37.6℃"),
                                                                   ("symptom", "症状：咳嗽")]
    sheet = text(client.get(saved["Location"]))
    assert "已保存 隔离甲 07-13 的健康监测" in sheet
    assert by_testid(sheet, "row-symptoms") == ["症状：咳嗽"]


def test_the_doctor_handles_an_alert_on_the_alerts_page(ward, client_for):
    check_record(actor=ward["doctor"], stay_id=ward["a"].id, temp_pm="37.8")
    alert = Alert.objects.get()
    client = client_for(ward["doctor"])
    page = text(client.get("/quarantine/alerts/"))
    assert (by_testid(page, "alert-kind"), by_testid(page, "alert-name"), by_testid(page, "alert-detail")) == (
        ["发热"], ["隔离甲"], ["发热：下午体温37.8℃"])
    empty = client.post(f"/quarantine/alerts/{alert.id}/handle/", {"outcome": " "}, **HX)
    assert (empty.status_code, 'data-code="required"' in empty.content.decode()) == (200, True)
    done = client.post(f"/quarantine/alerts/{alert.id}/handle/", {"outcome": "复测36.8，观察"}, **HX)
    assert by_testid(text(done), "alert-handled") == ["已处置（07-13 15:00，doctor-a）：复测36.8，观察"]
    alert.refresh_from_db()
    assert (alert.state, alert.outcome) == ("handled", "复测36.8，观察")
    assert by_testid(text(client.get("/quarantine/alerts/")), "no-alerts") == ["没有待处置的预警。"]


def test_needs_are_added_from_a_person_and_resolved(ward, client_for):
    client = client_for(ward["doctor"])
    stay = ward["a"]
    blank = client.post(f"/quarantine/needs/?stay={stay.id}", {"stay_id": stay.id, "kind": "medicine", "detail": ""})
    assert blank.status_code == 422
    added = client.post(f"/quarantine/needs/?stay={stay.id}", {"stay_id": stay.id, "kind": "medicine",
                                                              "detail": "降压药（硝苯地平）3天量"})
    assert (added.status_code, added["Location"]) == (302, f"/quarantine/needs/?stay={stay.id}")
    need = Need.objects.get()
    assert (need.kind, need.detail, need.state) == ("medicine", "降压药（硝苯地平）3天量", "open")
    page = text(client.get("/quarantine/needs/"))
    assert (by_testid(page, "need-state"), by_testid(page, "need-name")) == (["待办"], ["隔离甲"])
    missing = client.post(f"/quarantine/needs/{need.id}/", {"state": "resolved", "resolution": ""}, **HX)
    assert 'data-code="required"' in missing.content.decode()
    done = client.post(f"/quarantine/needs/{need.id}/", {"state": "resolved", "resolution": "社区医生已送药"}, **HX)
    assert (by_testid(text(done), "need-state"), by_testid(text(done), "need-resolution")) == (
        ["已解决"], ["办理结果：社区医生已送药"])
    assert Need.objects.get().state == "resolved"
    sheet = text(client.get(f"/quarantine/sites/{ward['site'].id}/day/"))
    assert by_testid(sheet, "sum-needs") == ["0"]


def test_the_home_sheet_and_who_may_open_and_change_what(county, settings, ward, client_for):
    from shouwang.quarantine.services import StayInput, stay_start

    person = county.person(name="居家丁", seq=4)
    home = stay_start(actor=county.hq, data=StayInput(person_id=person.id, category="secondary_contact",
                                                      anchor_date=dt.date(2022, 7, 12), home_address="幸福小区1-101"))
    need_add(actor=county.hq, stay_id=home.id, kind="diet", detail="糖尿病饮食")
    village = county.user(Role.VILLAGE, county.village_a, username="village-a")
    sheet = text(client_for(village).get("/quarantine/home/day/"))
    assert (by_testid(sheet, "row-place"), by_testid(sheet, "row-name"), by_testid(sheet, "row-needs")) == (
        ["幸福小区1-101"], ["居家丁"], ["诉求 (1)"])
    stranger = client_for(county.user(Role.VILLAGE, county.village_b, username="village-b"))
    assert stranger.get(f"/quarantine/sites/{ward['site'].id}/day/").status_code == 404
    assert stranger.post(f"/quarantine/stays/{ward['a'].id}/check/", {"temp_am": "36.5"}).status_code == 404
    supervisor = client_for(county.user(Role.SUPERVISOR, county.county, username="supervisor-1"))
    looked = text(supervisor.get(f"/quarantine/sites/{ward['site'].id}/day/"))
    assert (by_testid(looked, "row-name"), 'data-testid="quick-form"' in looked) == (["隔离甲", "隔离乙"], False)
    assert supervisor.post(f"/quarantine/stays/{ward['a'].id}/check/", {"temp_am": "36.5"}).status_code == 403
    sampler = client_for(county.user(Role.SAMPLER, county.township_a, username="sampler-1"))
    assert sampler.get("/quarantine/alerts/").status_code == 403
    assert DailyCheck.objects.count() == 0
