import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models

from shouwang.accounts.enums import ROLE_CAPABILITIES, Role
from shouwang.areas.models import Area
from shouwang.core.models import BaseModel


class User(AbstractUser):
    """A person or a device that logs in; the role says what it may do, the jurisdiction where."""

    display_name = models.CharField("姓名", max_length=50, blank=True)
    role = models.CharField("角色", max_length=30, choices=Role.choices, default=Role.VILLAGE)
    jurisdiction = models.ForeignKey(
        Area, verbose_name="辖区", null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    mobile = models.CharField("手机号", max_length=11, blank=True)
    is_device = models.BooleanField("设备账号", default=False)

    class Meta:
        verbose_name = "账号"
        verbose_name_plural = "账号"

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def capabilities(self) -> frozenset[str]:
        return ROLE_CAPABILITIES.get(self.role, frozenset())

    def can(self, capability: str) -> bool:
        return self.is_active and capability in self.capabilities


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(BaseModel):
    """A device token (sampling phone, lab instrument, checkpoint tablet); it acts as its user."""

    user = models.ForeignKey(User, verbose_name="所属账号", on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField("设备名称", max_length=100)
    prefix = models.CharField("前缀", max_length=8, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField("失效时间", null=True, blank=True)
    last_used_at = models.DateTimeField("最近使用", null=True, blank=True)
    is_revoked = models.BooleanField("已吊销", default=False)

    class Meta:
        verbose_name = "设备令牌"
        verbose_name_plural = "设备令牌"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def generate() -> str:
        return "sw_" + secrets.token_urlsafe(32)
