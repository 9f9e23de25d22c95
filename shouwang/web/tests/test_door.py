"""POST /api/v1/scans is served by shouwang.web.door, outside the API framework, for speed. These tests hold it to
the API's contract: the same authenticators (device token, session with CSRF), the same input schema and error
bodies, the body in ScanOut's shape, and the operation documented in the OpenAPI schema."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import resolve
from django.utils import timezone

from shouwang.accounts.enums import Role
from shouwang.accounts.services import api_token_issue
from shouwang.core.db import fetch_one
from shouwang.venues.api import ScanOut
from shouwang.venues.models import Scan, VenueCode
from shouwang.venues.services import VenueInput, person_code_get_or_issue, scan_insert, venue_create
from shouwang.web import door


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = "2022-07-15"


@pytest.fixture
def tokens(county):
    venue = venue_create(actor=county.hq, data=VenueInput(name="城关超市", category="supermarket",
                                                         area_id=county.grid_a.id))
    person = county.person(name="王芳")
    return {"venue": venue, "person": person, "venue_token": VenueCode.objects.get(venue=venue).token,
            "person_token": person_code_get_or_issue(person).token}


@pytest.fixture
def device(county):
    user = county.user(Role.CHECKPOINT, county.grid_a, username="door-9")
    _, raw = api_token_issue(user=user, name="门口平板")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def post(client, body, **extra):
    return client.post("/api/v1/scans", body, content_type="application/json", **extra)


def test_the_route_is_the_lean_view_and_the_schema_documents_it(client):
    assert resolve("/api/v1/scans").func is door.scan
    schema = client.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/scans"]["post"]
    assert set(operation["responses"]) == {"200", "201"}
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/ScanIn")


def test_the_answer_has_exactly_the_documented_shape(device, tokens):
    response = post(device, {"venue_token": tokens["venue_token"], "person_token": tokens["person_token"],
                             "temperature": 36.4, "client_ref": "T-1"})
    assert response.status_code == 201
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == set(ScanOut.model_fields)
    assert ScanOut.model_validate(body).model_dump() == body
    assert (body["venue"], body["person"], body["temperature"], body["colour"]) == ("城关超市", "王*", 36.4, "green")


def test_a_missing_field_is_422_naming_it_in_both_languages(device, tokens):
    response = post(device, {"venue_token": tokens["venue_token"]})
    assert response.status_code == 422
    body = response.json()
    assert (body["code"], body["field"]) == ("invalid", "person_token")
    assert body["messages"]["zh-hans"].startswith("字段person_token不合法")
    assert body["messages"]["en"].startswith("field person_token is invalid")
    assert body["details"] == [{"field": "person_token", "reason": "Field required"}]


def test_a_body_that_is_not_json_or_a_wrong_type_is_422(device, tokens):
    assert post(device, "not json").status_code == 422
    response = post(device, {"venue_token": tokens["venue_token"], "person_token": tokens["person_token"],
                             "temperature": "hot"})
    assert (response.status_code, response.json()["field"]) == (422, "temperature")
    assert not Scan.objects.exists()


def test_english_clients_get_english_messages(device, tokens):
    response = post(device, {"venue_token": "nope", "person_token": tokens["person_token"]},
                    HTTP_ACCEPT_LANGUAGE="en")
    assert (response.status_code, response.json()["message"]) == (404, "unknown place code")
    chinese = post(device, {"venue_token": "nope", "person_token": tokens["person_token"]})
    assert chinese.json()["message"] == "场所码无效"


def test_get_is_405(device):
    response = device.get("/api/v1/scans")
    assert (response.status_code, response["Allow"], response.json()["code"]) == (405, "POST", "http_405")


def test_a_browser_session_needs_the_csrf_token(county, tokens):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(county.hq)
    body = {"venue_token": tokens["venue_token"], "person_token": tokens["person_token"]}
    refused = post(browser, body)
    assert (refused.status_code, refused.json()["code"]) == (403, "http_403")
    browser.get("/scan/")  # the staff page sets the CSRF cookie
    accepted = post(browser, body, HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value)
    assert accepted.status_code == 201
    assert Scan.objects.get().recorded_by == county.hq


def test_a_bad_token_is_401_even_with_a_session(county, tokens):
    response = post(Client(HTTP_AUTHORIZATION="Bearer sw_nope"),
                    {"venue_token": tokens["venue_token"], "person_token": tokens["person_token"]})
    assert (response.status_code, response.json()["code"]) == (401, "unauthenticated")


def test_the_prepared_insert_stores_what_the_orm_would(county, tokens):
    when = timezone.make_aware(dt.datetime(2022, 7, 15, 9, 30, 15, 123456))
    fields = dict(venue=tokens["venue"], person=tokens["person"], scanned_at=when, received_at=when,
                  method="reverse", colour="yellow", recorded_by=county.hq)
    fast = scan_insert(Scan(temperature=Decimal("36.6"), client_ref="fast", **fields))
    slow = Scan(temperature=Decimal("36.6"), client_ref="slow", **fields)
    slow.save()
    a, b = Scan.objects.get(id=fast.id), Scan.objects.get(id=slow.id)
    names = ["venue_id", "person_id", "scanned_at", "method", "colour", "recorded_by_id", "temperature"]
    assert [getattr(a, n) for n in names] == [getattr(b, n) for n in names]
    assert (a.scanned_at, a.received_at, str(a.temperature)) == (when, when, "36.6")  # save() stamps received_at


def test_the_driver_level_statement_raises_django_errors(county, tokens):
    when = timezone.make_aware(dt.datetime(2022, 7, 15, 9, 30))
    scan = dict(venue=tokens["venue"], person=tokens["person"], scanned_at=when, received_at=when, method="reverse",
                colour="green", recorded_by=county.hq, client_ref="R-1")
    scan_insert(Scan(**scan))
    with pytest.raises(IntegrityError), transaction.atomic():
        scan_insert(Scan(**scan))  # the same device reference of the same recorder
    assert Scan.objects.filter(client_ref="R-1").count() == 1
    assert fetch_one("SELECT COUNT(*) FROM venues_scan WHERE client_ref = %s", ["R-1"]) == (1,)
