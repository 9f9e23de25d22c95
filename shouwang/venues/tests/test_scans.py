"""Venues and their place codes, and the door scan: one round trip that records the entry and answers the person's
colour; device batches and file imports that keep the good lines and list the bad ones; nothing stored twice."""

import csv
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import Workbook

from shouwang.accounts.enums import Role
from shouwang.accounts.services import api_token_issue
from shouwang.core import clock
from shouwang.core.models import AuditEvent
from shouwang.status.models import PersonStatus
from shouwang.status.services import fact_publish
from shouwang.venues.models import Scan, Venue, VenueCode
from shouwang.venues.services import (
    VenueInput,
    person_code_get_or_issue,
    scan_record,
    venue_close,
    venue_code_reissue,
    venue_create,
)

TODAY = dt.date(2022, 7, 15)


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = TODAY.isoformat()
    return settings


def at(day: int, hour: int = 9, minute: int = 30) -> dt.datetime:
    return timezone.make_aware(dt.datetime(2022, 7, day, hour, minute))


@pytest.fixture
def venue(county):
    return venue_create(actor=county.hq, data=VenueInput(name="城关超市", category="supermarket",
                                                         area_id=county.grid_a.id, address="城关路1号"))


@pytest.fixture
def venue_token(venue):
    return VenueCode.objects.get(venue=venue).token


@pytest.fixture
def person(county):
    return county.person(name="王芳")


@pytest.fixture
def person_token(person):
    return person_code_get_or_issue(person).token


@pytest.fixture
def device(county):
    """A venue's door device: a checkpoint account's bearer token."""
    user = county.user(Role.CHECKPOINT, county.grid_a, username="door-1")
    _, raw = api_token_issue(user=user, name="城关超市门口")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def post_scan(client, **body):
    headers = {k: body.pop(k) for k in list(body) if k.startswith("HTTP_")}
    return client.post("/api/v1/scans", body, content_type="application/json", **headers)


def quarantine(person, until=dt.date(2022, 7, 20)):
    fact_publish(person_ids=[person.id], kind="measure", value="central_quarantine", since=dt.date(2022, 7, 10),
                 until=until, source="quarantine.assignment", source_id="Q-1")


# ---- the door scan -------------------------------------------------------------------------------------------


def test_staff_reverse_scan_answers_201_with_the_colour_reasons_and_masked_name(county, client_for, venue,
                                                                                venue_token, person, person_token):
    quarantine(person)
    response = post_scan(client_for(county.hq), venue_token=venue_token, person_token=person_token,
                         temperature="36.6")
    assert response.status_code == 201
    body = response.json()
    assert (body["duplicate"], body["venue"], body["person"], body["temperature"]) == (False, "城关超市", "王*", 36.6)
    assert (body["colour"], body["rule"], body["reason_zh"], body["changes_on"]) == (
        "red", "K2", "集中隔离或居家隔离中", "2022-07-21")
    assert body["reasons"] == [{"rule": "K2", "colour": "red", "reason_zh": "集中隔离或居家隔离中",
                                "reason_en": "in central or home quarantine", "since": "2022-07-10",
                                "until": "2022-07-20"}]  # no source or notes at the door
    scan = Scan.objects.get()
    assert (scan.id, scan.colour, scan.venue_id, scan.person_id, scan.method) == (
        body["scan_id"], "red", venue.id, person.id, "reverse")
    assert (scan.recorded_by, str(scan.temperature)) == (county.hq, "36.6")
    assert timezone.localdate(scan.scanned_at) == TODAY  # the business clock


def test_a_device_token_records_a_green_scan(device, venue_token, person_token):
    response = post_scan(device, venue_token=venue_token, person_token=person_token)
    assert response.status_code == 201
    assert (response.json()["colour"], response.json()["rule"], response.json()["reasons"]) == ("green", "K7", [])
    assert Scan.objects.get().colour == "green"


def test_the_same_idempotency_key_twice_records_one_scan_and_answers_the_same(device, venue_token, person_token):
    first = post_scan(device, venue_token=venue_token, person_token=person_token, HTTP_IDEMPOTENCY_KEY="door-1-77")
    again = post_scan(device, venue_token=venue_token, person_token=person_token, HTTP_IDEMPOTENCY_KEY="door-1-77")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert Scan.objects.count() == 1


def test_the_same_client_ref_twice_records_one_scan_and_says_duplicate(device, venue_token, person_token):
    when = (clock.now() - dt.timedelta(minutes=2)).replace(microsecond=0)
    first = post_scan(device, venue_token=venue_token, person_token=person_token, client_ref="D1-000123",
                      scanned_at=when.isoformat())
    again = post_scan(device, venue_token=venue_token, person_token=person_token, client_ref="D1-000123",
                      scanned_at=when.isoformat())
    assert (first.status_code, again.status_code) == (201, 200)
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    assert again.json()["scan_id"] == first.json()["scan_id"]
    assert again.json()["scanned_at"] == first.json()["scanned_at"] == timezone.localtime(when).isoformat()
    assert Scan.objects.count() == 1


def test_a_late_scan_is_stamped_with_the_colour_of_its_own_day(device, venue_token, person, person_token):
    quarantine(person, until=dt.date(2022, 7, 12))  # over before today: green now, red on the 11th
    response = post_scan(device, venue_token=venue_token, person_token=person_token, scanned_at=at(11).isoformat(),
                         client_ref="late-1")
    assert response.status_code == 201
    assert (response.json()["colour"], response.json()["rule"]) == ("red", "K2")
    assert Scan.objects.get().colour == "red"
    assert not PersonStatus.objects.exists()  # today's materialised status untouched (green: no row)


@pytest.mark.parametrize(("token", "status", "code"), [
    ("no-such-token", 404, "unknown_venue_code"),
    ("", 404, "unknown_venue_code"),
])
def test_an_unknown_place_code_is_404(device, person_token, token, status, code):
    response = post_scan(device, venue_token=token, person_token=person_token)
    assert (response.status_code, response.json()["code"], response.json()["field"]) == (status, code, "venue_token")
    assert not Scan.objects.exists()


def test_a_revoked_place_code_is_410_and_the_new_one_works(county, device, venue, venue_token, person_token):
    new = venue_code_reissue(actor=county.hq, venue_id=venue.id)
    response = post_scan(device, venue_token=venue_token, person_token=person_token)
    assert (response.status_code, response.json()["code"]) == (410, "revoked_venue_code")
    assert response.json()["messages"]["en"] == "this place code was revoked; scan the venue's new code"
    assert post_scan(device, venue_token=new.token, person_token=person_token).status_code == 201
    assert Scan.objects.count() == 1


def test_a_closed_venue_is_409(county, device, venue, venue_token, person_token):
    venue_close(actor=county.hq, venue_id=venue.id)
    response = post_scan(device, venue_token=venue_token, person_token=person_token)
    assert (response.status_code, response.json()["code"]) == (409, "venue_closed")
    assert not Scan.objects.exists()


def test_an_unknown_personal_code_is_404(device, venue_token):
    response = post_scan(device, venue_token=venue_token, person_token="nobody")
    assert (response.status_code, response.json()["code"], response.json()["field"]) == (
        404, "unknown_person_code", "person_token")
    assert not Scan.objects.exists()


def test_a_scan_in_the_future_is_422_in_future(device, venue_token, person_token):
    response = post_scan(device, venue_token=venue_token, person_token=person_token,
                         scanned_at=(clock.now() + dt.timedelta(hours=1)).isoformat())
    assert (response.status_code, response.json()["code"], response.json()["field"]) == (
        422, "in_future", "scanned_at")
    # a device clock a minute fast is accepted
    ok = post_scan(device, venue_token=venue_token, person_token=person_token,
                   scanned_at=(clock.now() + dt.timedelta(minutes=1)).isoformat())
    assert ok.status_code == 201
    assert Scan.objects.count() == 1


def test_a_scan_older_than_seven_days_is_422_too_old(device, venue_token, person_token):
    response = post_scan(device, venue_token=venue_token, person_token=person_token,
                         scanned_at=(clock.now() - dt.timedelta(days=7, minutes=1)).isoformat())
    assert (response.status_code, response.json()["code"], response.json()["field"]) == (422, "too_old", "scanned_at")
    assert response.json()["messages"]["zh-hans"] == "扫码时间早于7天前，不再接收"
    assert not Scan.objects.exists()


@pytest.mark.parametrize("temperature", ["33.9", "43.1", 33.9, 43.1])
def test_a_temperature_outside_34_to_43_is_422(device, venue_token, person_token, temperature):
    response = post_scan(device, venue_token=venue_token, person_token=person_token, temperature=temperature)
    assert (response.status_code, response.json()["code"], response.json()["field"]) == (
        422, "out_of_range", "temperature")
    assert not Scan.objects.exists()


@pytest.mark.parametrize("temperature", ["34.0", "43.0"])
def test_the_temperature_bounds_are_accepted(device, venue_token, person_token, temperature):
    response = post_scan(device, venue_token=venue_token, person_token=person_token, temperature=temperature)
    assert response.status_code == 201
    assert str(Scan.objects.get().temperature) == temperature


def test_a_client_ref_longer_than_64_is_422(device, venue_token, person_token):
    response = post_scan(device, venue_token=venue_token, person_token=person_token, client_ref="x" * 65)
    assert (response.status_code, response.json()["code"], response.json()["field"]) == (
        422, "too_long", "client_ref")


def test_a_role_without_the_scan_capability_is_403(county, client_for, venue_token, person_token):
    lab = county.user(Role.LAB, county.county)
    response = post_scan(client_for(lab), venue_token=venue_token, person_token=person_token)
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    # refused before anything about the codes is told
    assert post_scan(client_for(lab), venue_token="x", person_token="y").status_code == 403
    assert not Scan.objects.exists()


def test_without_credentials_the_scan_is_401(venue_token, person_token):
    response = post_scan(Client(), venue_token=venue_token, person_token=person_token)
    assert (response.status_code, response.json()["code"]) == (401, "unauthenticated")


# ---- device batches ----------------------------------------------------------------------------------------


def batch_lines(venue_token, person_token, other_token):
    return [
        {"client_ref": "B-1", "venue_token": venue_token, "person_token": person_token,
         "scanned_at": "2022-07-14T08:00:00+08:00", "temperature": 36.5},
        {"client_ref": "B-2", "venue_token": "nope", "person_token": person_token,
         "scanned_at": "2022-07-14T08:01:00+08:00"},
        "not a scan",
        {"client_ref": "B-3", "venue_token": venue_token, "person_token": other_token,
         "scanned_at": "2022-07-14 08:02:00"},
        {"client_ref": "B-4", "venue_token": venue_token, "person_token": person_token,
         "scanned_at": "2022-07-14T08:03:00+08:00", "temperature": "43.5"},
        {"venue_token": venue_token, "person_token": person_token, "scanned_at": "2022-07-14T08:04:00+08:00"},
        {"client_ref": "B-5", "venue_token": venue_token, "person_token": "nobody",
         "scanned_at": "2022-07-14T08:05:00+08:00"},
        {"client_ref": "B-6", "venue_token": venue_token, "person_token": person_token,
         "scanned_at": "2022-07-16T08:05:00+08:00"},
        {"client_ref": "B-7", "venue_token": venue_token, "person_token": person_token, "scanned_at": "yesterday"},
        {"client_ref": "B-8", "venue_token": venue_token, "person_token": person_token,
         "scanned_at": "2022-07-01T08:00:00+08:00"},
        {"client_ref": "B-1", "venue_token": venue_token, "person_token": person_token,
         "scanned_at": "2022-07-14T08:00:00+08:00"},  # the device sent B-1 twice
        {"client_ref": "B-9", "venue_token": venue_token, "person_token": person_token},
    ]


EXPECTED_ERRORS = [
    (2, "B-2", "unknown_venue_code", "venue_token"),
    (3, "", "malformed_line", None),
    (5, "B-4", "out_of_range", "temperature"),
    (6, "", "required", "client_ref"),
    (7, "B-5", "unknown_person_code", "person_token"),
    (8, "B-6", "in_future", "scanned_at"),
    (9, "B-7", "invalid", "scanned_at"),
    (10, "B-8", "too_old", "scanned_at"),
    (12, "B-9", "required", "scanned_at"),
]


def test_a_batch_keeps_the_good_lines_lists_the_bad_ones_and_a_retry_stores_nothing_twice(county, device,
                                                                                          venue_token, person,
                                                                                          person_token):
    other = county.person(name="欧阳娜娜")
    quarantine(other)
    lines = batch_lines(venue_token, person_token, person_code_get_or_issue(other).token)
    response = device.post("/api/v1/scans/batch", {"lines": lines}, content_type="application/json")
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 9)
    assert [(e["line"], e["client_ref"], e["code"], e["field"]) for e in body["errors"]] == EXPECTED_ERRORS
    assert body["errors"][0]["zh"] == "场所码无效" and body["errors"][0]["en"] == "unknown place code"
    stored = {s.client_ref: s for s in Scan.objects.all()}
    assert sorted(stored) == ["B-1", "B-3"]
    assert (stored["B-1"].colour, stored["B-3"].colour) == ("green", "red")  # the colour of the scan's day
    assert (stored["B-1"].method, str(stored["B-1"].temperature), stored["B-3"].temperature) == ("batch", "36.5", None)
    assert stored["B-3"].scanned_at == at(14, 8, 2)

    retry = device.post("/api/v1/scans/batch", {"lines": lines}, content_type="application/json").json()
    assert (retry["accepted"], retry["duplicates"], retry["rejected"]) == (0, 3, 9)
    assert Scan.objects.count() == 2


def test_the_same_person_venue_and_instant_is_one_entry_whatever_the_reference(device, venue_token, person_token):
    line = {"venue_token": venue_token, "person_token": person_token, "scanned_at": "2022-07-15T08:00:00+08:00"}
    lines = [{**line, "client_ref": "A-1"}, {**line, "client_ref": "A-2"},  # the same entry sent twice
             {**line, "client_ref": "A-3", "scanned_at": "2022-07-15T08:00:01+08:00"}]  # a second later: another
    body = device.post("/api/v1/scans/batch", {"lines": lines}, content_type="application/json").json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 0)
    assert sorted(Scan.objects.values_list("client_ref", flat=True)) == ["A-1", "A-3"]
    again = device.post("/api/v1/scans/batch", {"lines": [{**line, "client_ref": "A-9"}]},
                        content_type="application/json").json()
    assert (again["accepted"], again["duplicates"]) == (0, 1)


def test_a_batch_needs_the_scan_capability_and_a_list(county, client_for, device):
    lab = county.user(Role.LAB, county.county)
    response = client_for(lab).post("/api/v1/scans/batch", {"lines": []}, content_type="application/json")
    assert response.status_code == 403
    response = device.post("/api/v1/scans/batch", {"lines": "B-1"}, content_type="application/json")
    assert (response.status_code, response.json()["field"]) == (422, "lines")


# ---- file import -------------------------------------------------------------------------------------------

FILE_HEADER = ["场所码", "个人码", "扫码时间", "体温（℃）", "流水号"]


def file_rows(venue_token, person_token):
    return [
        [venue_token, person_token, "2022-07-14 10:00:00", "36.4", "F-1"],
        [venue_token, "nobody", "2022-07-14 10:01:00", "", "F-2"],
        ["revoked?", person_token, "2022-07-14 10:02:00", "", "F-3"],
        [venue_token, person_token, "2022/7/14 10:03", "", ""],  # no 流水号: the row is its own reference
        [venue_token, person_token, "2022-07-14 10:04:00", "33", "F-5"],
        ["", "", "", "", ""],  # blank rows are skipped
        [venue_token, person_token, "2022-07-14 10:05:00", "", "F-1"],  # F-1 again
    ]


def csv_upload(rows, name="scans.csv", encoding="utf-8-sig"):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(FILE_HEADER)
    writer.writerows(rows)
    return SimpleUploadedFile(name, out.getvalue().encode(encoding), content_type="text/csv")


def xlsx_upload(rows, name="scans.xlsx"):
    wb = Workbook()
    ws = wb.active
    ws.append(["城关超市扫码登记表"])  # a title row above the header
    ws.append(FILE_HEADER)
    for row in rows:
        if row[2].startswith("2022-"):  # a real date-time cell, as Excel stores it
            row = [row[0], row[1], dt.datetime.fromisoformat(row[2]), float(row[3]) if row[3] else None, row[4]]
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue(),
                              content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@pytest.mark.parametrize(("make", "offset"), [(csv_upload, 1), (xlsx_upload, 2)], ids=["csv", "xlsx"])
def test_a_file_import_keeps_good_rows_lists_bad_ones_and_a_reimport_stores_nothing_twice(
        county, client_for, venue_token, person_token, make, offset):
    client = client_for(county.hq)
    rows = file_rows(venue_token, person_token)
    response = client.post("/api/v1/scans/import", {"file": make(rows)})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["rows"], body["accepted"], body["duplicates"], body["rejected"]) == (6, 2, 1, 3)
    assert [(e["line"], e["client_ref"], e["code"], e["field"]) for e in body["errors"]] == [
        (offset + 2, "F-2", "unknown_person_code", "person_token"),
        (offset + 3, "F-3", "unknown_venue_code", "venue_token"),
        (offset + 5, "F-5", "out_of_range", "temperature"),
    ]
    assert body["errors"][2]["en"] == "the temperature must be between 34 and 43 °C"
    scans = list(Scan.objects.order_by("scanned_at"))
    assert [(s.client_ref[:5], s.method, timezone.localtime(s.scanned_at).strftime("%H:%M")) for s in scans] == [
        ("F-1", "import", "10:00"), ("file-", "import", "10:03")]
    assert str(scans[0].temperature) == "36.4"
    audit = AuditEvent.objects.get(action="import", object_type="venues.scan")
    assert (audit.actor, audit.row_count, audit.object_id) == (county.hq, 2, body["sha256"][:16])

    again = client.post("/api/v1/scans/import", {"file": make(rows)}).json()
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 3, 3)
    assert Scan.objects.count() == 2
    # the same export imported by another official: the same people at the same venues at the same instants
    township = county.user(Role.TOWNSHIP, county.township_a, username="township-import")
    other = client_for(township).post("/api/v1/scans/import", {"file": make(rows)}).json()
    assert (other["accepted"], other["duplicates"], other["rejected"]) == (0, 3, 3)
    assert Scan.objects.count() == 2


def test_a_gbk_csv_with_english_headers_is_read(county, client_for, venue_token, person_token):
    out = io.StringIO()
    csv.writer(out).writerows([["Venue_Token", "person_token", "scanned_at", "备注"],
                               [venue_token, person_token, "2022-07-14 07:00", "早班"]])
    upload = SimpleUploadedFile("登记.csv", out.getvalue().encode("gbk"))
    body = client_for(county.hq).post("/api/v1/scans/import", {"file": upload}).json()
    assert (body["accepted"], body["rejected"], body["file_name"]) == (1, 0, "登记.csv")


def test_a_file_without_the_columns_or_not_a_table_is_refused(county, client_for):
    client = client_for(county.hq)
    response = client.post("/api/v1/scans/import", {"file": SimpleUploadedFile("x.csv", "姓名,电话\n王芳,1\n".encode())})
    assert (response.status_code, response.json()["code"], response.json()["field"]) == (
        422, "missing_columns", "file")
    response = client.post("/api/v1/scans/import", {"file": SimpleUploadedFile("x.xlsx", b"PK\x03\x04broken")})
    assert (response.status_code, response.json()["code"]) == (422, "unreadable_file")
    response = client.post("/api/v1/scans/import", {})
    assert (response.status_code, response.json()["field"]) == (422, "file")
    assert not AuditEvent.objects.filter(action="import").exists()


def test_a_file_import_needs_the_scan_capability(county, client_for, venue_token, person_token):
    lab = county.user(Role.LAB, county.county)
    response = client_for(lab).post("/api/v1/scans/import", {"file": csv_upload(file_rows(venue_token,
                                                                                           person_token))})
    assert response.status_code == 403
    assert not Scan.objects.exists()


# ---- venues ------------------------------------------------------------------------------------------------


def test_create_a_venue_answers_201_with_its_place_code(county, client_for):
    worker = county.user(Role.GRID_WORKER, county.grid_a)
    response = client_for(worker).post("/api/v1/venues", {
        "name": "第一网格菜市场", "category": "market", "area_id": county.grid_a.id, "manager_mobile": "13912345678"},
        content_type="application/json")
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["category"], body["category_label"], body["area_name"], body["status"]) == (
        "第一网格菜市场", "market", "农贸市场", "第一网格", "active")
    assert len(body["token"]) >= 20
    assert VenueCode.objects.get(venue_id=body["id"], revoked_at__isnull=True).token == body["token"]
    assert AuditEvent.objects.filter(action="create", object_type="venues.venue", object_id=str(body["id"])).exists()


def test_creating_a_venue_in_another_grid_is_404(county, client_for):
    worker = county.user(Role.GRID_WORKER, county.grid_a)
    response = client_for(worker).post("/api/v1/venues", {
        "name": "东村小卖部", "category": "convenience", "area_id": county.grid_b.id}, content_type="application/json")
    assert (response.status_code, response.json()["code"], response.json()["field"]) == (404, "not_found", "area_id")
    assert not Venue.objects.exists()


def test_a_bad_category_is_422_naming_the_field(county, client_for):
    response = client_for(county.hq).post("/api/v1/venues", {
        "name": "某场所", "category": "casino", "area_id": county.grid_a.id}, content_type="application/json")
    assert (response.status_code, response.json()["code"], response.json()["field"]) == (
        422, "invalid_choice", "category")
    assert not Venue.objects.exists()


def test_reissuing_revokes_the_old_place_code(county, client_for, device, venue, venue_token, person_token):
    response = client_for(county.hq).post(f"/api/v1/venues/{venue.id}/reissue")
    assert response.status_code == 200
    new = response.json()["token"]
    assert new != venue_token
    assert VenueCode.objects.get(token=venue_token).revoked_at is not None
    assert post_scan(device, venue_token=venue_token, person_token=person_token).status_code == 410
    assert post_scan(device, venue_token=new, person_token=person_token).status_code == 201


def test_the_venue_list_is_scoped_to_the_jurisdiction(county, client_for, venue):
    venue_b = venue_create(actor=county.hq, data=VenueInput(name="东村卫生室", category="clinic",
                                                           area_id=county.grid_b.id))
    worker_a = county.user(Role.GRID_WORKER, county.grid_a)
    listed = client_for(worker_a).get("/api/v1/venues").json()
    assert [v["name"] for v in listed] == ["城关超市"]
    assert listed[0]["token"] == VenueCode.objects.get(venue=venue).token
    assert {v["id"] for v in client_for(county.hq).get("/api/v1/venues").json()} == {venue.id, venue_b.id}
    assert client_for(worker_a).get(f"/api/v1/venues/{venue_b.id}").status_code == 404
    assert client_for(worker_a).get(f"/api/v1/venues?area_id={county.grid_b.id}").json() == []
    assert client_for(worker_a).get("/api/v1/venues?limit=-5").status_code == 200


@pytest.mark.parametrize("quarantined", [True, False], ids=["red-row", "green-no-row"])
def test_a_scan_reads_the_materialised_status_and_does_not_recompute_it(device, venue_token, person, person_token,
                                                                        quarantined):
    if quarantined:
        quarantine(person)
    post_scan(device, venue_token=venue_token, person_token=person_token)  # warm: token use written, policy read
    with CaptureQueriesContext(connection) as ctx:
        response = post_scan(device, venue_token=venue_token, person_token=person_token, client_ref="q-1")
    assert response.json()["rule"] == ("K2" if quarantined else "K7")
    sql = [q["sql"] for q in ctx.captured_queries]
    # the device token; the retry check, place code, personal code and status row together; the insert
    assert len([q for q in sql if q.startswith("SELECT")]) == 2, sql
    assert sum(q.startswith("INSERT") for q in sql) == 1
    assert not any("status_statusfact" in q for q in sql)  # nothing recomputed from the facts


def test_merging_a_duplicate_with_scans_and_facts_keeps_the_scan_log_and_moves_the_facts(county, venue_token, person):
    from shouwang.people.services import person_merge
    from shouwang.status.models import StatusFact
    from shouwang.status.services import status_get

    twin = county.person(name="王芳", seq=77)
    scan_record(venue_token=venue_token, person=twin, method="self", scanned_at=at(14))
    quarantine(twin)
    quarantine(person)  # the same fact on both files: one survives
    person_merge(keep_id=person.id, merge_id=twin.id, actor=county.hq)
    assert list(Scan.objects.filter(person=twin).values_list("person_id", flat=True)) == [twin.id]
    assert StatusFact.objects.filter(person=person, withdrawn_at__isnull=True).count() == 1
    assert StatusFact.objects.filter(person=twin).count() == 0
    assert status_get(person.id).colour == "red"
