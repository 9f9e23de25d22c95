"""Risk zones (风险区): a kind from the policy in force (high/medium/low under V9, high/low under V20), a scope of
areas from a village down to a unit, the cases linked to it, its state (proposed → in force → lifted, or
rejected) with the level it has now (a V9 high zone is downgraded to medium while in force), the announcement,
the clock the policy gives it (stored by zones_refresh for lists) and the full history of every change."""

from django.conf import settings
from django.db import models

from shouwang.areas.models import Area
from shouwang.core.models import BaseModel
from shouwang.zones.enums import ClockState, ZoneChangeKind, ZoneState

USER = settings.AUTH_USER_MODEL


class Zone(BaseModel):
    code = models.CharField("风险区编号", max_length=30, unique=True)  # FX20220713-001
    kind = models.CharField("类型", max_length=10)  # a key of the policy's zones: high, medium
    level_now = models.CharField("当前等级", max_length=10)  # high, medium, low (low once lifted)
    level_since = models.DateField("当前等级起始日期", null=True, blank=True)
    state = models.CharField("状态", max_length=20, choices=ZoneState.choices, default=ZoneState.PROPOSED)
    policy_version = models.CharField("政策版本", max_length=40)  # in force when proposed, then when approved
    reason = models.CharField("划定理由", max_length=300, blank=True)
    proposed_at = models.DateTimeField("提出时间")
    proposed_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    designated_at = models.DateTimeField("划定时间", null=True, blank=True)
    designated_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    lifted_at = models.DateTimeField("解除时间", null=True, blank=True)
    lifted_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    lift_reason = models.CharField("提前解除理由", max_length=300, blank=True)  # lifted before the clock allowed it
    rejected_reason = models.CharField("不予批准理由", max_length=300, blank=True)
    announcement_zh = models.TextField("划定通告", blank=True)
    # The clock as zones_refresh last computed it (the lists read these; zone_clock recomputes on demand).
    eligible_on = models.DateField("可降级/解除日期", null=True, blank=True)
    next_level = models.CharField("下一等级", max_length=10, blank=True)
    clock_state = models.CharField("条件", max_length=10, choices=ClockState.choices, blank=True)
    last_counted_case = models.DateField("最后一例计入病例", null=True, blank=True)
    clock_version = models.CharField("计算所用政策版本", max_length=40, blank=True)
    clock_explanation = models.JSONField("依据", default=list)
    clock_on = models.DateField("计算日期", null=True, blank=True)

    class Meta:
        verbose_name = "风险区"
        verbose_name_plural = "风险区"
        indexes = [models.Index(fields=["state", "level_now"])]

    def __str__(self) -> str:
        return self.code


class ZoneArea(models.Model):
    """One area of a zone's scope: a village, grid, compound, building or unit and everything under it."""

    zone = models.ForeignKey(Zone, on_delete=models.CASCADE, related_name="areas")
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["zone", "area"], name="zone_area_unique")]


class CaseReport(models.Model):
    """Every case the response flow told the zones domain about (zone_case_record): where the person lives, the day
    it was found and where (a CASE_CONTEXTS key). The county status counts community cases from it."""

    code = models.CharField("病例编号", max_length=30, unique=True)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    found_on = models.DateField("发现日期")
    context = models.CharField("发现情形", max_length=30)
    recorded_at = models.DateTimeField("记录时间")
    withdrawn_at = models.DateTimeField("撤销时间", null=True, blank=True)  # the positive was corrected away
    withdrawn_reason = models.CharField("撤销原因", max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["context", "found_on"])]


class ZoneCase(models.Model):
    """A case linked to a zone: one that caused it (cause) or one found later inside it. The clock counts those not
    withdrawn, less the contexts the policy does not count."""

    zone = models.ForeignKey(Zone, on_delete=models.CASCADE, related_name="cases")
    case_code = models.CharField("病例编号", max_length=30)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    found_on = models.DateField("发现日期")
    context = models.CharField("发现情形", max_length=30)
    cause = models.BooleanField("划定依据", default=False)
    added_at = models.DateTimeField("关联时间")
    withdrawn_at = models.DateTimeField("撤销时间", null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["zone", "case_code"], name="zone_case_once")]
        ordering = ["found_on", "id"]


class ZoneChange(models.Model):
    """The history of a zone: created, approved, scope and kind changes, downgrades, lifting, rejection, the clock
    moved by a new case, a case linked; each with before/after, the reason, and the public text it issued."""

    zone = models.ForeignKey(Zone, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=20, choices=ZoneChangeKind.choices)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    reason = models.CharField("原因", max_length=300, blank=True)
    announcement_zh = models.TextField("通告", blank=True)
    at = models.DateTimeField()
    by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["kind", "at"])]
