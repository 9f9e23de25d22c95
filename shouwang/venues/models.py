"""Venues with their place codes, personal codes for reverse scanning, and the append-only scan log."""

from django.conf import settings
from django.db import models

from shouwang.core.models import BaseModel
from shouwang.venues.enums import ScanMethod, VenueCategory, VenueStatus


class Venue(BaseModel):
    name = models.CharField("场所名称", max_length=100)
    category = models.CharField("场所类别", max_length=20, choices=VenueCategory.choices)
    area = models.ForeignKey("areas.Area", verbose_name="所属网格", on_delete=models.PROTECT, related_name="venues")
    address = models.CharField("地址", max_length=200, blank=True)
    latitude = models.DecimalField("纬度", max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField("经度", max_digits=9, decimal_places=6, null=True, blank=True)
    manager_name = models.CharField("负责人", max_length=50, blank=True)
    manager_mobile = models.CharField("负责人手机号", max_length=11, blank=True)
    status = models.CharField("状态", max_length=10, choices=VenueStatus.choices, default=VenueStatus.ACTIVE)

    class Meta:
        verbose_name = "场所"
        verbose_name_plural = "场所"
        indexes = [models.Index(fields=["area", "status"])]

    def __str__(self) -> str:
        return self.name


class VenueCode(models.Model):
    """A place code: an unguessable token printed as a QR code. Re-issuing revokes the previous one."""

    venue = models.ForeignKey(Venue, on_delete=models.CASCADE, related_name="codes")
    token = models.CharField("码值", max_length=40, unique=True)
    issued_at = models.DateTimeField("发码时间", auto_now_add=True)
    revoked_at = models.DateTimeField("作废时间", null=True, blank=True)

    class Meta:
        verbose_name = "场所码"
        verbose_name_plural = "场所码"


class PersonCode(models.Model):
    """A person's own code, scanned by staff for people without a phone (反向扫码)."""

    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="codes")
    token = models.CharField("码值", max_length=40, unique=True)
    issued_at = models.DateTimeField("发码时间", auto_now_add=True)
    revoked_at = models.DateTimeField("作废时间", null=True, blank=True)

    class Meta:
        verbose_name = "个人码"
        verbose_name_plural = "个人码"


class Scan(models.Model):
    """One entry through a venue's door. Append-only (database triggers)."""

    id = models.BigAutoField(primary_key=True)
    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="scans", db_index=False)
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="scans", db_index=False)
    scanned_at = models.DateTimeField("扫码时间")
    received_at = models.DateTimeField("接收时间", auto_now_add=True)
    method = models.CharField("方式", max_length=10, choices=ScanMethod.choices)
    temperature = models.DecimalField("体温", max_digits=3, decimal_places=1, null=True, blank=True)
    colour = models.CharField("当时显示", max_length=10)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", db_index=False)
    client_ref = models.CharField("设备流水号", max_length=64, blank=True)

    class Meta:
        verbose_name = "扫码记录"
        verbose_name_plural = "扫码记录"
        indexes = [models.Index(fields=["venue", "scanned_at"]), models.Index(fields=["person", "scanned_at"]),
                   models.Index(fields=["scanned_at"])]
        constraints = [models.UniqueConstraint(fields=["recorded_by", "client_ref"], condition=~models.Q(client_ref=""),
                                               name="scan_client_ref_unique"),
                       # a resident's own check-in has no recording account: its page's reference is per person
                       models.UniqueConstraint(fields=["person", "client_ref"],
                                               condition=models.Q(recorded_by__isnull=True) & ~models.Q(client_ref=""),
                                               name="scan_self_ref_unique")]

    @classmethod
    def merge_person(cls, duplicate, keep) -> int:
        """Scans are evidence and never rewritten: they stay with the merged file, which points at the kept one."""
        return 0
