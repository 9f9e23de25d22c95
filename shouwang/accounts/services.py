"""Writes to accounts and device tokens."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from shouwang.accounts.enums import Capability, Role
from shouwang.accounts.models import ApiToken, User, hash_token
from shouwang.accounts.scoping import require
from shouwang.areas.models import Area
from shouwang.core.audit import audit_record
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


def api_token_authenticate(raw: str) -> User | None:
    token = ApiToken.objects.select_related("user", "user__jurisdiction").filter(key_hash=hash_token(raw)).first()
    now = timezone.now()
    if token is None or token.is_revoked or (token.expires_at and token.expires_at <= now):
        return None
    if not token.user.is_active:
        return None
    # One write a minute at most: a busy device does not turn every read into a write.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(id=token.id).update(last_used_at=now)
    return token.user


@transaction.atomic
def api_token_revoke(*, token_id: int, actor) -> None:
    token = ApiToken.objects.get(id=token_id)
    if token.user_id != actor.id:
        require(actor, Capability.USER_MANAGE, "吊销令牌", "revoke tokens")
    ApiToken.objects.filter(id=token_id).update(is_revoked=True)
    audit_record(actor=actor, action=AuditAction.TOKEN, obj=token, summary=f"吊销设备令牌 {token.name}")
