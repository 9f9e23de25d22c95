"""Writes to accounts and device tokens."""

from __future__ import annotations

import copy
import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

from shouwang.accounts.enums import Capability, Role
from shouwang.accounts.models import ApiToken, User, hash_token
from shouwang.accounts.scoping import require
from shouwang.areas.models import Area
from shouwang.core.audit import audit_record
from shouwang.core.db import fetch_one
from shouwang.core.errors import DomainError, ValidationFailed
from shouwang.core.i18n import zh
from shouwang.core.models import AuditAction


@transaction.atomic
def user_create(*, username: str, password: str, role: str, jurisdiction: Area | None, display_name: str = "",
                mobile: str = "", is_device: bool = False, actor=None) -> User:
    if role not in Role.values:
        raise ValidationFailed(field="role", code="invalid_choice", message_zh=f"角色“{role}”不存在",
                               message_en=f"role '{role}' does not exist")
    if User.objects.filter(username=username).exists():
        raise DomainError(code="user_exists", status=409, field="username", message_zh=f"账号{username}已存在",
                          message_en=f"username {username} already exists")
    if actor is not None:
        require(actor, Capability.USER_MANAGE, "管理账号", "manage accounts")
    user = User(username=username, role=role, jurisdiction=jurisdiction, display_name=display_name, mobile=mobile,
                is_device=is_device, is_staff=role == Role.ADMIN, is_superuser=role == Role.ADMIN)
    user.set_password(password)
    user.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=user,
                 summary=f"新建账号 {username}（{zh(user.get_role_display())}）")
    return user


@transaction.atomic
def api_token_issue(*, user: User, name: str, valid_days: int | None = 365, actor=None) -> tuple[ApiToken, str]:
    """Issue a device token for the user; the raw value is returned once and only its hash is kept."""
    raw = ApiToken.generate()
    expires = timezone.now() + dt.timedelta(days=valid_days) if valid_days else None
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[3:11], key_hash=hash_token(raw),
                                    expires_at=expires)
    audit_record(actor=actor or user, action=AuditAction.TOKEN, obj=token, summary=f"签发设备令牌 {name}")
    return token, raw


_AUTH_SQL: list[str] = []
_AUTH_CACHE: dict[str, tuple[tuple, User]] = {}
_AUTH_CACHE_SIZE = 1000


def _auth_sql() -> str:
    """One statement: is the token live (not revoked, not expired), does it need its last-use stamp, and every
    column of its user and of the user's jurisdiction (to tell whether a User built earlier is still exact)."""
    if not _AUTH_SQL:
        qn = connection.ops.quote_name
        token, user, area = ApiToken._meta, User._meta, Area._meta
        columns = [f"u.{qn(f.column)}" for f in user.concrete_fields] + [
            f"a.{qn(f.column)}" for f in area.concrete_fields]
        _AUTH_SQL.append(
            f"SELECT t.{qn('id')}, CASE WHEN t.{qn('last_used_at')} IS NULL OR t.{qn('last_used_at')} < %s "
            f"THEN 1 ELSE 0 END, {', '.join(columns)} "
            f"FROM {qn(token.db_table)} t JOIN {qn(user.db_table)} u ON u.{qn('id')} = t.{qn('user_id')} "
            f"LEFT JOIN {qn(area.db_table)} a ON a.{qn('id')} = u.{qn('jurisdiction_id')} "
            f"WHERE t.{qn('key_hash')} = %s AND NOT t.{qn('is_revoked')} "
            f"AND (t.{qn('expires_at')} IS NULL OR t.{qn('expires_at')} > %s) AND u.{qn('is_active')}")
    return _AUTH_SQL[0]


def _fresh_copy(user: User) -> User:
    """A shallow copy of a cached user with its own model state (copy.copy does the same through pickling's
    protocol, three times slower on the door's path)."""
    clone = User.__new__(User)
    clone.__dict__.update(user.__dict__)
    clone._state = copy.copy(user._state)
    clone._state.fields_cache = dict(user._state.fields_cache)
    return clone


def api_token_authenticate(raw: str) -> User | None:
    """The user a device token acts as, or None (unknown, revoked or expired token, inactive user). Devices call
    on every scan, so this is one prepared statement; the User object is rebuilt through the ORM only when a
    column of the user or of its jurisdiction differs from the row it was built from (a per-process cache that
    can never answer with stale data: revocation, expiry, deactivation and role changes apply at once)."""
    key = hash_token(raw)
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value  # the aware UTC datetimes as the columns store them
    row = fetch_one(_auth_sql(), [adapt(now - dt.timedelta(minutes=1)), key, adapt(now)])
    if row is None:
        _AUTH_CACHE.pop(key, None)
        return None
    token_id, stale_stamp, state = row[0], row[1], tuple(row[2:])
    # One write a minute at most: a busy device does not turn every read into a write.
    if stale_stamp:
        ApiToken.objects.filter(id=token_id).update(last_used_at=now)
    cached = _AUTH_CACHE.get(key)
    if cached is not None and cached[0] == state:
        return _fresh_copy(cached[1])  # a request may set attributes on its user; the cached one stays as read
    user = User.objects.select_related("jurisdiction").get(api_tokens__id=token_id)
    if len(_AUTH_CACHE) >= _AUTH_CACHE_SIZE:
        _AUTH_CACHE.clear()
    _AUTH_CACHE[key] = (state, copy.copy(user))
    return user


@transaction.atomic
def api_token_revoke(*, token_id: int, actor) -> None:
    token = ApiToken.objects.get(id=token_id)
    if token.user_id != actor.id:
        require(actor, Capability.USER_MANAGE, "吊销令牌", "revoke tokens")
    ApiToken.objects.filter(id=token_id).update(is_revoked=True)
    audit_record(actor=actor, action=AuditAction.TOKEN, obj=token, summary=f"吊销设备令牌 {token.name}")
