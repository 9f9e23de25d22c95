import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from conftest import PASSWORD
from shouwang.accounts.enums import Role
from shouwang.accounts.models import ApiToken, User
from shouwang.accounts.services import api_token_issue, api_token_revoke
from shouwang.core.models import AuditEvent


@pytest.fixture(autouse=True)
def _fresh_lockouts(settings, db):
    settings.AXES_ENABLED = True
    from axes.models import AccessAttempt

    AccessAttempt.objects.all().delete()


def _login(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


def test_login_with_the_right_password_goes_home_and_is_audited(county):
    hq = county.hq
    client = Client()
    response = _login(client, hq.username, PASSWORD)
    assert (response.status_code, response.url) == (302, "/")
    assert AuditEvent.objects.filter(action="login", actor=hq).count() == 1


def test_five_failed_logins_lock_the_account_even_with_the_right_password(county):
    hq = county.hq
    client = Client()
    for _ in range(5):
        assert _login(client, hq.username, "wrong-password").status_code in (200, 429)
    locked = _login(client, hq.username, PASSWORD)
    assert locked.status_code == 429
    assert "账号已暂时锁定" in locked.content.decode()
    assert AuditEvent.objects.filter(action="login_failed", object_id=hq.username).count() >= 5


def test_the_session_expires_after_idle_hours(settings):
    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True


def test_device_token_acts_as_its_user_within_its_jurisdiction(county):
    sampler = county.user("sampler", county.township_a)
    a = county.person(name="甲", area=county.grid_a)
    b = county.person(name="乙", area=county.grid_b)
    token, raw = api_token_issue(user=sampler, name="采样手机07")
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert [p["id"] for p in client.get("/api/v1/people", **auth).json()["items"]] == [a.id]
    assert client.get(f"/api/v1/people/{b.id}", **auth).status_code == 404
    assert ApiToken.objects.get(id=token.id).key_hash != raw  # only the hash is stored
    assert ApiToken.objects.get(id=token.id).last_used_at is not None


def test_revoked_expired_and_unknown_tokens_are_refused(county):
    sampler = county.user("sampler", county.township_a)
    token, raw = api_token_issue(user=sampler, name="采样手机08")
    expired, raw_expired = api_token_issue(user=sampler, name="旧手机")
    ApiToken.objects.filter(id=expired.id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    api_token_revoke(token_id=token.id, actor=sampler)
    client = Client()
    for value in (raw, raw_expired, "sw_not-a-token"):
        response = client.get("/api/v1/people", HTTP_AUTHORIZATION=f"Bearer {value}")
        assert response.status_code == 401
        assert response.json()["code"] == "unauthenticated"


def test_session_api_writes_need_the_csrf_token(county):
    client = Client(enforce_csrf_checks=True)
    client.force_login(county.hq)
    response = client.post("/api/v1/people", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403


def test_a_token_in_use_follows_every_change_of_its_user_at_once(county):
    """Device tokens are checked against the database on every request (the process keeps the User object only
    while every column it was built from is unchanged)."""
    sampler = county.user("sampler", county.township_a)
    a = county.person(name="甲", area=county.grid_a)
    b = county.person(name="乙", area=county.grid_b)
    token, raw = api_token_issue(user=sampler, name="采样手机09")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    def visible():
        response = client.get("/api/v1/people")
        return [p["id"] for p in response.json()["items"]] if response.status_code == 200 else response.status_code

    assert visible() == [a.id]
    User.objects.filter(id=sampler.id).update(jurisdiction=county.grid_b)
    assert visible() == [b.id]  # moved to another grid: sees that grid's people on the next request
    def scan_probe():  # a sampler may record scans (an unknown place code is 404), a lab account may not (403)
        return client.post("/api/v1/scans", {"venue_token": "x", "person_token": "y"},
                           content_type="application/json").status_code

    assert scan_probe() == 404
    User.objects.filter(id=sampler.id).update(role=Role.LAB)
    assert scan_probe() == 403
    User.objects.filter(id=sampler.id).update(role=Role.SAMPLER, is_active=False)
    assert visible() == 401
    User.objects.filter(id=sampler.id).update(is_active=True)
    assert visible() == [b.id]
    api_token_revoke(token_id=token.id, actor=sampler)
    assert visible() == 401


def test_last_use_is_written_at_most_once_a_minute(county):
    sampler = county.user("sampler", county.township_a)
    token, raw = api_token_issue(user=sampler, name="采样手机10")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.get("/api/v1/people")
    first = ApiToken.objects.get(id=token.id).last_used_at
    client.get("/api/v1/people")
    assert ApiToken.objects.get(id=token.id).last_used_at == first
    ApiToken.objects.filter(id=token.id).update(last_used_at=first - dt.timedelta(minutes=2))
    client.get("/api/v1/people")
    assert ApiToken.objects.get(id=token.id).last_used_at > first


def test_each_request_gets_its_own_copy_of_a_cached_token_user(county):
    from shouwang.accounts.services import api_token_authenticate

    sampler = county.user("sampler", county.township_a)
    _, raw = api_token_issue(user=sampler, name="采样手机10")
    first, second = api_token_authenticate(raw), api_token_authenticate(raw)  # the second from the process cache
    first.note_of_this_request = "x"
    first._state.fields_cache["jurisdiction"] = county.grid_b
    third = api_token_authenticate(raw)
    assert (first is not second, hasattr(third, "note_of_this_request"), third.jurisdiction.id) == (
        True, False, county.township_a.id)
    assert (third.id, third.role, third._state.adding, third._state.db) == (sampler.id, "sampler", False, "default")
