"""The release certificate's pages through the test client: the PDF for staff of the jurisdiction (another
township's user gets "not found", an unreleased stay 409, a role without a quarantine capability 403, nobody
without a login), logged as an export; the public check with no login (200 with the masked fields, valid or not,
in Chinese or English, kept out of search engines; 404 for an unknown code)."""

import pytest
from django.test import Client
from django.urls import reverse

from shouwang.core.models import AuditEvent
from shouwang.quarantine.certificate import VERIFY_PATH
from shouwang.quarantine.services import StayInput, stay_start, stays_close_for_case
from shouwang.quarantine.tests.test_certificate import pdf_text, released_central

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def released(county, settings):
    return released_central(county, settings).stay


def test_staff_of_the_jurisdiction_get_the_pdf_and_it_is_logged_as_an_export(county, released, client_for):
    manager = county.user("quarantine_manager", county.township_a)
    response = client_for(manager).get(reverse("quarantine_certificate", args=[released.id]))
    assert response.status_code == 200
    assert (response["Content-Type"], response["Cache-Control"]) == ("application/pdf", "private, no-store")
    assert response["Content-Disposition"].startswith("inline; filename*=utf-8''")
    assert response.content.startswith(b"%PDF-")
    flat = "".join(pdf_text(response.content).split())
    assert "解除集中隔离医学观察证明" in flat and "141027********0135" in flat
    assert f"http://testserver/verify/{released.release_code}/" in flat  # the QR's address, absolute
    event = AuditEvent.objects.get(action="export", object_type="quarantine.stay")
    assert (event.actor_id, event.object_id, event.ip_address) == (manager.id, str(released.id), "127.0.0.1")


def test_another_townships_user_gets_not_found_and_a_role_without_the_capability_is_refused(county, released,
                                                                                              client_for):
    url = reverse("quarantine_certificate", args=[released.id])
    other = client_for(county.user("quarantine_manager", county.township_b)).get(url)
    assert other.status_code == 404
    assert "隔离管控记录不存在或不在您的辖区内" in other.content.decode()
    checkpoint = client_for(county.user("checkpoint", county.township_a)).get(url)
    assert checkpoint.status_code == 403
    assert "您的角色无权出具解除证明" in checkpoint.content.decode()
    anonymous = Client().get(url)
    assert (anonymous.status_code, anonymous["Location"].split("?")[0]) == (302, "/login/")
    assert not AuditEvent.objects.filter(action="export").exists()


def test_an_unreleased_stay_has_no_certificate(county, released, client_for):
    person = county.person(name="赵六", seq=41)
    stay = stay_start(actor=county.hq, data=StayInput(person_id=person.id, category="secondary_contact",
                                                      anchor_date=released.starts_on))
    response = client_for(county.hq).get(reverse("quarantine_certificate", args=[stay.id]))
    assert response.status_code == 409
    assert "该人员的居家隔离医学观察尚未解除（管控中），不能出具解除证明" in response.content.decode()
    missing = client_for(county.hq).get(reverse("quarantine_certificate", args=[999999]))
    assert missing.status_code == 404


def test_the_public_check_needs_no_login_shows_only_the_masked_fields_and_is_not_indexed(client, released):
    code = released.release_code
    assert reverse("verify_certificate", args=[code]) == VERIFY_PATH.format(code=code)
    response = client.get(reverse("verify_certificate", args=[code.lower()]))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<meta name="robots" content="noindex, nofollow">' in html
    assert (response["X-Robots-Tag"], response["Cache-Control"], response["Referrer-Policy"]) == (
        "noindex, nofollow", "no-store", "no-referrer")
    assert 'data-valid="true"' in html and "有效" in html
    for shown in ("解除集中隔离医学观察证明", "张**", "141027********0135", "集中隔离医学观察",
                  "2022-07-11 – 2022-07-17 （共 7 天）", "2022-07-17 15:0", code):
        assert shown in html, shown
    assert "张晓明" not in html and released.person.id_number not in html
    assert "城关宾馆" not in html  # nothing beyond what a checkpoint needs
    english = client.get(reverse("verify_certificate", args=[code]), **EN).content.decode()
    assert '<html lang="en"' in english and "Release from central quarantine" in english
    assert "central quarantine" in english


def test_an_unknown_code_is_not_found_and_a_case_makes_the_certificate_invalid(county, client, released):
    unknown = client.get(reverse("verify_certificate", args=["ZZZZZZZZZZZZZ"]))
    assert unknown.status_code == 404
    assert "没有找到这个核验码对应的解除证明" in unknown.content.decode()
    assert unknown["X-Robots-Tag"] == "noindex, nofollow"
    stays_close_for_case(actor=county.hq, person_id=released.person_id, case_code="BL20220719-001")
    after = client.get(reverse("verify_certificate", args=[released.release_code]))
    assert after.status_code == 200
    html = after.content.decode()
    assert 'data-valid="false"' in html and "已失效" in html and "请勿凭此证明放行" in html
