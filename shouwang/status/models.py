"""A person's health status: facts published by the domains that know them, and the colour derived from them.

Domains never type a colour in. They publish facts (this person is in central quarantine until 07-08; lives in a
high-risk zone; is in a positive pool awaiting recheck) through `status.services.fact_publish`, and the colour is
derived from the active facts by the code rules of the policy version in force. The result is materialised in
PersonStatus for the day it was computed, so a scan reads one row; a person with no facts has no row and is green.
"""

from django.db import models

from shouwang.core.models import BaseModel
from shouwang.status.enums import Colour, FactKind


class StatusFact(BaseModel):
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="status_facts")
    kind = models.CharField("类别", max_length=20, choices=FactKind.choices)
    value = models.CharField("内容", max_length=40)
    since = models.DateField("起")
    until = models.DateField("止（含）", null=True, blank=True)  # None: until withdrawn
    source = models.CharField("来源", max_length=60)  # e.g. "quarantine.assignment"
    source_id = models.CharField("来源编号", max_length=60, blank=True)
    note = models.CharField("说明", max_length=200, blank=True)
    withdrawn_at = models.DateTimeField("撤销时间", null=True, blank=True)

    class Meta:
        verbose_name = "状态事实"
        verbose_name_plural = "状态事实"
        indexes = [models.Index(fields=["person", "withdrawn_at"]), models.Index(fields=["source", "source_id"])]
        constraints = [models.UniqueConstraint(fields=["person", "kind", "value", "source", "source_id"],
                                               condition=models.Q(withdrawn_at__isnull=True),
                                               name="status_fact_active_unique")]

    @classmethod
    def merge_person(cls, duplicate, keep) -> int:
        """Person merge hook: the duplicate's facts move to the kept file, except those it already has."""
        same = set(cls.objects.filter(person=keep, withdrawn_at__isnull=True)
                   .values_list("kind", "value", "source", "source_id"))
        moving = cls.objects.filter(person=duplicate)
        clash = [f.id for f in moving.filter(withdrawn_at__isnull=True)
                 if (f.kind, f.value, f.source, f.source_id) in same]
        moving.filter(id__in=clash).delete()
        count = moving.update(person=keep)
        from shouwang.status.services import status_refresh

        status_refresh([keep.id, duplicate.id])
        return count


class PersonStatus(models.Model):
    """The colour of a person on `computed_for`, with every reason; recomputed when a fact changes or the day turns."""

    person = models.OneToOneField("people.Person", on_delete=models.CASCADE, primary_key=True, related_name="status")
    colour = models.CharField("颜色", max_length=10, choices=Colour.choices)
    rule = models.CharField("规则", max_length=20)
    reason_zh = models.CharField("原因", max_length=200)
    reason_en = models.CharField("原因（英文）", max_length=200)
    reasons = models.JSONField("全部原因", default=list)
    changes_on = models.DateField("预计变化日期", null=True, blank=True)
    policy_version = models.CharField("政策版本", max_length=40)
    computed_for = models.DateField("计算日期", db_index=True)
    computed_at = models.DateTimeField("计算时间", auto_now=True)

    class Meta:
        verbose_name = "健康状态"
        verbose_name_plural = "健康状态"
