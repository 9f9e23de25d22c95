"""Log logins and failed logins to the audit log (framework signals: the auth views are Django's own)."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from shouwang.core.audit import audit_record
from shouwang.core.models import AuditAction


def _ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    audit_record(actor=user, action=AuditAction.LOGIN, obj=user, summary="登录", ip_address=_ip(request))


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(actor=user, action=AuditAction.LOGOUT, obj=user, summary="退出", ip_address=_ip(request))


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:100]
    audit_record(actor=None, action=AuditAction.LOGIN_FAILED, object_type="accounts.user", object_id=username,
                 summary=f"登录失败 {username}", ip_address=_ip(request))
