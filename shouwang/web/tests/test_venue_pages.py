"""The place-code pages through the test client: registry, poster and QR files, a resident's own scan, the
staff's reverse scan, the inspectors' page and the person page."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from shouwang.status.services import fact_publish
from shouwang.venues.models import Scan, Venue, VenueCode
from shouwang.venues.services import VenueInput, person_code_get_or_issue, venue_create


@pytest.fixture(autouse=True)
def business_date(settings):
    settings.SHOUWANG_TODAY = "2022-07-15"


def make_venue(county, name="城关便民超市", category="convenience", area=None):
    return venue_create(actor=county.hq, data=VenueInput(name=name, category=category,
                                                         area_id=(area or county.grid_a).id))


def token_of(venue) -> str:
    return VenueCode.objects.get(venue=venue, revoked_at__isnull=True).token


def test_hq_registers_a_venue_and_prints_its_code(county, client_for):
    client = client_for(county.hq)
    response = client.post("/venues/new/", {"name": "府前街刀削面", "category": "restaurant",
                                            "area_id": county.grid_a.id, "address": "浮山县天坛镇府前街12号",
                                            "latitude": "35.9686", "longitude": "111.8483", "manager_name": "张三",
                                            "manager_mobile": "13812345678"})
    venue = Venue.objects.get(name="府前街刀削面")
    assert response.status_code == 302 and response.url == f"/venues/{venue.id}/"
    assert str(venue.latitude) == "35.968600"
    token = token_of(venue)
    page = client.get(f"/venues/{venue.id}/").content.decode()
    assert token in page and "下载二维码 PDF" in page
    listing = client.get("/venues/", {"category": "restaurant", "area_id": county.grid_a.id, "q": "刀削"}).content
    assert "府前街刀削面" in listing.decode()
    assert "府前街刀削面" not in client.get("/venues/", {"category": "school"}).content.decode()
    poster = client.get(f"/venues/{venue.id}/poster/").content.decode()
    assert "进门请扫场所码" in poster and "府前街刀削面" in poster and f"http://testserver/s/{token}" in poster
    assert "浮山县场所码" in poster and "<svg" in poster
    png = client.get(f"/venues/{venue.id}/qr.png")
    assert png["Content-Type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert "attachment" in png["Content-Disposition"] and "filename*=utf-8''" in png["Content-Disposition"]
    pdf = client.get(f"/venues/{venue.id}/qr.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"


def test_the_venue_form_names_the_field_at_fault(county, client_for):
    client = client_for(county.hq)
    response = client.post("/venues/new/", {"name": "", "category": "restaurant", "area_id": county.grid_a.id})
    assert response.status_code == 422 and "场所名称不能为空" in response.content.decode()
    response = client.post("/venues/new/", {"name": "某店", "category": "restaurant", "area_id": county.grid_a.id,
                                            "manager_mobile": "12345"})
    assert response.status_code == 422 and 'name="manager_mobile"' in response.content.decode()
    response = client.post("/venues/new/", {"name": "某店", "category": "restaurant", "area_id": county.grid_a.id,
                                            "latitude": "北纬35度", "longitude": "NaN"})
    assert response.status_code == 422 and "请填写数字" in response.content.decode()
    response = client.post("/venues/new/", {"name": "某店", "category": "restaurant", "area_id": county.township_a.id})
    assert response.status_code == 422 and "场所须登记在网格" in response.content.decode()
    assert not Venue.objects.filter(name="某店").exists()


def test_reissue_revokes_the_old_code_and_closing_stops_scans(county, client_for):
    venue = make_venue(county)
    old = token_of(venue)
    client = client_for(county.user("grid_worker", county.grid_a))
    assert client.post(f"/venues/{venue.id}/reissue/").status_code == 302
    new = token_of(venue)
    assert new != old
    resident = Client()
    revoked = resident.get(f"/s/{old}")
    assert revoked.status_code == 410 and "该场所码已作废" in revoked.content.decode()
    assert "This place code was revoked" in revoked.content.decode()  # both languages
    assert resident.get(f"/s/{new}").status_code == 200
    assert client.post(f"/venues/{venue.id}/close/").status_code == 302
    closed = resident.get(f"/s/{new}")
    assert closed.status_code == 409 and "该场所已关闭" in closed.content.decode()
    assert client.get(f"/venues/{venue.id}/poster/").status_code == 409
    assert resident.get("/s/no-such-code").status_code == 404


def test_a_resident_identifies_once_then_checks_in_with_one_tap(county):
    venue = make_venue(county)
    person = county.person(name="李娜")
    token = token_of(venue)
    phone = Client()
    page = phone.get(f"/s/{token}").content.decode()
    assert "城关便民超市" in page and 'name="id_number"' in page
    wrong = phone.post(f"/s/{token}", {"action": "identify", "name": "李四", "id_number": person.id_number})
    assert wrong.status_code == 422
    assert "姓名与证件号码不匹配" in wrong.content.decode() and "do not match" in wrong.content.decode()
    bad_check = person.id_number[:17] + ("0" if person.id_number[17] != "0" else "1")
    assert "校验" in phone.post(f"/s/{token}", {"action": "identify", "name": "李娜",
                                                "id_number": bad_check}).content.decode()
    assert not Scan.objects.exists()
    done = phone.post(f"/s/{token}", {"action": "identify", "name": " 李娜 ", "id_number": person.id_number.lower()})
    scan = Scan.objects.get()
    assert done.status_code == 302 and done.url == f"/s/{token}/done/{scan.id}"
    assert (scan.person_id, scan.method, scan.colour, scan.recorded_by_id) == (person.id, "self", "green", None)
    assert timezone.localdate(scan.scanned_at) == dt.date(2022, 7, 15)  # the business date
    status = phone.get(done.url).content.decode()
    assert 'data-colour="green"' in status and "绿码" in status and "城关便民超市" in status and "李*" in status
    assert Client().get(done.url).status_code == 302  # another phone cannot read it
    again = phone.get(f"/s/{token}").content.decode()
    assert 'data-testid="checkin"' in again and "李*" in again
    assert phone.post(f"/s/{token}", {"action": "checkin"}).status_code == 302
    assert Scan.objects.filter(person=person).count() == 2


def test_a_double_tap_or_a_resent_form_records_one_check_in(county):
    venue = make_venue(county)
    person = county.person(name="李娜")
    token = token_of(venue)
    phone = Client()
    phone.post(f"/s/{token}", {"action": "identify", "name": "李娜", "id_number": person.id_number})
    page = phone.get(f"/s/{token}").content.decode()
    ref = re.search(r'name="client_ref" value="([^"]+)"', page).group(1)
    first = phone.post(f"/s/{token}", {"action": "checkin", "client_ref": ref})
    again = phone.post(f"/s/{token}", {"action": "checkin", "client_ref": ref})
    assert first.url == again.url  # the same check-in answered twice
    assert Scan.objects.filter(person=person, client_ref=ref).count() == 1
    other_page = re.search(r'name="client_ref" value="([^"]+)"', phone.get(f"/s/{token}").content.decode()).group(1)
    assert other_page != ref  # the next visit is a new check-in
    phone.post(f"/s/{token}", {"action": "checkin", "client_ref": other_page})
    assert Scan.objects.filter(person=person).count() == 3  # identify, the double tap, the next visit


def test_a_resident_with_a_fact_sees_the_colour_reasons_and_change_date(county):
    person = county.person(name="赵敏")
    fact_publish(person_ids=[person.id], kind="measure", value="home_health_monitoring", since=dt.date(2022, 7, 12),
                 until=dt.date(2022, 7, 17), source="quarantine.plan", source_id="Q1", note="集中隔离期满")
    token = person_code_get_or_issue(person).token
    phone = Client()
    me = phone.get(f"/me/{token}")
    html = me.content.decode()
    assert me.status_code == 200 and 'data-colour="yellow"' in html and "黄码" in html
    assert "居家健康监测中" in html and "2022-07-18" in html and "集中隔离期满" in html and "<svg" in html
    assert "sw_me" in me.cookies
    venue = make_venue(county, name="府前街药店", category="pharmacy")
    done = phone.post(f"/s/{token_of(venue)}", {"action": "checkin"})
    assert done.status_code == 302
    assert Scan.objects.get(person=person).colour == "yellow"
    assert 'data-colour="yellow"' in phone.get(done.url).content.decode()
    assert phone.get("/me/").url == f"/me/{token}"
    phone.post("/me/forget/")
    assert 'data-testid="identify-form"' in phone.get(f"/s/{token_of(venue)}").content.decode()
    assert Client().get("/me/not-a-code").status_code == 404


def test_resident_posts_need_the_csrf_token(county):
    venue = make_venue(county)
    person = county.person()
    phone = Client(enforce_csrf_checks=True)
    response = phone.post(f"/s/{token_of(venue)}", {"action": "identify", "name": person.name,
                                                    "id_number": person.id_number})
    assert response.status_code == 403 and not Scan.objects.exists()


def test_staff_reverse_scan_shows_the_colour_and_masked_name(county, client_for):
    venue = make_venue(county)
    person = county.person(name="欧阳娜娜")
    code = person_code_get_or_issue(person).token
    staff = client_for(county.user("sampler", county.township_a))
    assert "城关便民超市" in staff.get("/scan/").content.decode()
    page = staff.get("/scan/", {"venue": venue.id}).content.decode()
    assert 'data-testid="scan-form"' in page
    result = staff.post("/scan/", {"venue_id": venue.id, "person_code": f"http://testserver/me/{code}",
                                   "temperature": "37.6", "client_ref": "r1"}).content.decode()
    assert "欧**娜" in result and 'data-colour="green"' in result and 'data-testid="fever"' in result
    scan = Scan.objects.get()
    assert (scan.method, scan.recorded_by.username, str(scan.temperature)) == ("reverse", "sampler_141027100", "37.6")
    again = staff.post("/scan/", {"venue_id": venue.id, "person_code": code, "client_ref": "r1"}).content.decode()
    assert "已登记过" in again and Scan.objects.count() == 1
    unknown = staff.post("/scan/", {"venue_id": venue.id, "person_code": "xxxx", "client_ref": "r2"}).content.decode()
    assert "个人码无效" in unknown and "Unknown personal code" in unknown
    hot = staff.post("/scan/", {"venue_id": venue.id, "person_code": code, "temperature": "45",
                                "client_ref": "r3"}).content.decode()
    assert "体温应在34至43℃之间" in hot
    assert staff.get("/scan/").content.decode().count('data-testid="scan-venue-name"') == 1  # remembered
    assert client_for(county.user("lab")).get("/scan/").status_code == 403


def test_registry_is_scoped_and_needs_a_venue_capability(county, client_for):
    venue = make_venue(county)
    other = client_for(county.user("grid_worker", county.grid_b))
    assert other.get(f"/venues/{venue.id}/").status_code == 404
    assert "城关便民超市" not in other.get("/venues/").content.decode()
    assert other.post(f"/venues/{venue.id}/close/").status_code == 404
    assert client_for(county.user("lab")).get("/venues/").status_code == 403
    supervisor = client_for(county.user("supervisor"))
    assert supervisor.get(f"/venues/{venue.id}/").status_code == 200
    assert supervisor.get("/venues/new/").status_code == 403
    assert supervisor.post(f"/venues/{venue.id}/reissue/").status_code == 403


def test_inspection_lists_silent_venues_red_entries_and_grid_gaps(county, client_for):
    busy = make_venue(county, name="城关农贸市场", category="market")
    make_venue(county, name="没人扫的小卖部", category="convenience", area=county.grid_b)
    red = county.person(name="钱红")
    fact_publish(person_ids=[red.id], kind="flag", value="close_contact", since=dt.date(2022, 7, 14), until=None,
                 source="tracing.contact", source_id="T1")
    green = county.person(name="孙绿")
    for p in (red, green, green):
        Client().post(f"/s/{token_of(busy)}", {"action": "identify", "name": p.name, "id_number": p.id_number})
    page = client_for(county.user("supervisor")).get("/venues/inspect/")
    html = page.content.decode()
    assert page.status_code == 200
    report = page.context["report"]
    assert (report.scans, report.red, report.yellow) == (3, 1, 0)
    assert [v.name for v in report.silent] == ["没人扫的小卖部"]
    assert [(a["venue"].name, a["red"], a["alert"]) for a in report.admitted] == [("城关农贸市场", 1, True)]
    gaps = {g["grid"].name: g for g in page.context["gaps"]}
    assert gaps["第一网格"]["missing"] == ["居民小区出入口", "便利店或商场超市"]
    assert [v.name for v in gaps["东村网格"]["zombies"]] == ["没人扫的小卖部"]
    assert gaps["东村网格"]["missing"] == ["诊所卫生室"]
    assert "需查验" in html and 'id="hour-chart"' in html and "vendor/echarts.min.js" in html
    earlier = client_for(county.user("supervisor")).get("/venues/inspect/", {"day": "2022-07-14"})
    assert earlier.context["report"].scans == 0
    township = client_for(county.user("supervisor")).get("/venues/inspect/", {"area_id": county.township_b.id,
                                                                               "day": "not-a-date"})
    assert township.context["day"] == dt.date(2022, 7, 15)
    assert (township.context["report"].scans, len(township.context["report"].silent)) == (0, 1)
    assert client_for(county.user("grid_worker", county.grid_a)).get("/venues/inspect/").status_code == 200
    assert client_for(county.user("sampler")).get("/venues/inspect/").status_code == 403


def test_the_person_page_shows_status_and_recent_scans(county, client_for):
    venue = make_venue(county)
    person = county.person(name="周杰")
    fact_publish(person_ids=[person.id], kind="zone", value="high", since=dt.date(2022, 7, 13), until=None,
                 source="zones.zone", source_id="Z1", note="幸福小区1号楼划为高风险区")
    Client().post(f"/s/{token_of(venue)}", {"action": "identify", "name": person.name, "id_number": person.id_number})
    html = client_for(county.hq).get(f"/people/{person.id}/").content.decode()
    assert 'data-testid="person-colour" data-colour="red"' in html and "高风险区居民" in html
    assert "幸福小区1号楼划为高风险区" in html and "城关便民超市" in html and "本人扫场所码" in html
    card = client_for(county.hq).get(f"/people/{person.id}/code/").content.decode()
    assert person_code_get_or_issue(person).token in card
    assert client_for(county.user("lab")).get(f"/people/{person.id}/code/").status_code == 403
    assert client_for(county.user("grid_worker", county.grid_b)).get(f"/people/{person.id}/code/").status_code == 404
