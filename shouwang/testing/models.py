"""Mass testing: rounds over areas, sampling sites, tubes (pooled or single) with their members in order, transport
batches, labs, reviewed lab results with history, each person's state in a round, and rechecks of positive pools.

The chain is 采 sample (Tube, TubeMember) → 送 send (TransportBatch) → 检 test (Lab, LabResultFile) → 报 report
(TubeResult, final after review) → recheck (RecheckTask) → handed to tracing (shouwang/response)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from shouwang.areas.models import Area
from shouwang.core.models import BaseModel
from shouwang.people.models import Person
from shouwang.testing.enums import (
    AntigenKind,
    BatchState,
    ExemptReason,
    PersonRoundState,
    PoolMode,
    RecheckState,
    Result,
    ResultFileState,
    RoundKind,
    RoundState,
    SiteKind,
    TubePurpose,
    TubeState,
)

USER = settings.AUTH_USER_MODEL


def _merge_rows(model, duplicate, keep, clash: tuple[str, ...] = (), active: dict | None = None) -> int:
    """A person merge (people.services.person_merge): the duplicate's rows move to the kept file, except a row that
    would clash with one the kept file has (the same `clash` values among its `active` rows): that one stays with
    the merged file as the record of what happened (both files sampled in one round)."""
    rows = model.objects.filter(person=duplicate)
    if clash:
        taken = set(model.objects.filter(person=keep, **(active or {})).values_list(*clash))
        ids = [pk for pk, *key in rows.values_list("pk", *clash) if tuple(key) not in taken]
        rows = model.objects.filter(pk__in=ids)
    return rows.update(person=keep)


class TestingRound(BaseModel):
    """A round (全员/区域核酸): who must be tested (the people living in its areas), by when, and how."""

    __test__ = False  # not a pytest test class

    name = models.CharField("轮次名称", max_length=100)
    kind = models.CharField("类型", max_length=20, choices=RoundKind.choices, default=RoundKind.AREA)
    starts_at = models.DateTimeField("开始时间")
    deadline = models.DateTimeField("完成时限")
    state = models.CharField("状态", max_length=20, choices=RoundState.choices, default=RoundState.PLANNED)
    policy_version = models.CharField("政策版本", max_length=20)
    target = models.PositiveIntegerField("应检人数", default=0)  # at creation: the registry in scope, less exemptions
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)

    class Meta:
        verbose_name = "检测轮次"
        verbose_name_plural = "检测轮次"

    def __str__(self) -> str:
        return self.name


class RoundArea(models.Model):
    """An area of the round with its sampling setting and the pooling the policy gives it (explained)."""

    round = models.ForeignKey(TestingRound, on_delete=models.CASCADE, related_name="areas")
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    setting = models.CharField("采样场景", max_length=30)
    pool_mode = models.CharField("采样方式", max_length=20, choices=PoolMode.choices)
    rule = models.CharField("依据条款", max_length=20)
    reason_zh = models.CharField(max_length=300)
    reason_en = models.CharField(max_length=300)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["round", "area"], name="round_area_unique")]


class Exemption(BaseModel):
    round = models.ForeignKey(TestingRound, on_delete=models.CASCADE, related_name="exemptions")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="testing_exemptions")
    reason = models.CharField("原因", max_length=20, choices=ExemptReason.choices)
    note = models.CharField("说明", max_length=200, blank=True)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["round", "person"], name="exemption_unique")]

    @classmethod
    def merge_person(cls, duplicate, keep) -> int:
        return _merge_rows(cls, duplicate, keep, ("round_id",))


class SamplingSite(BaseModel):
    name = models.CharField("采样点名称", max_length=100)
    kind = models.CharField("类型", max_length=20, choices=SiteKind.choices, default=SiteKind.FIXED)
    area = models.ForeignKey(Area, verbose_name="所在网格", on_delete=models.PROTECT, related_name="+")
    address = models.CharField("地址", max_length=200, blank=True)
    opening_hours = models.CharField("开放时间", max_length=100, blank=True)
    samplers = models.PositiveSmallIntegerField("采样人员数", default=2)
    per_hour = models.PositiveIntegerField("每小时采样能力（人）", default=120)
    active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "采样点"
        verbose_name_plural = "采样点"

    def __str__(self) -> str:
        return self.name


class Lab(BaseModel):
    name = models.CharField("实验室", max_length=100, unique=True)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    tubes_per_day = models.PositiveIntegerField("日检测能力（管）", default=4000)

    class Meta:
        verbose_name = "检测实验室"
        verbose_name_plural = "检测实验室"

    def __str__(self) -> str:
        return self.name


class TransportBatch(BaseModel):
    """Tubes packed in a box and handed to a courier (送), received at a lab (检) with a receipt."""

    code = models.CharField("箱号", max_length=40, unique=True)
    site = models.ForeignKey(SamplingSite, on_delete=models.PROTECT, related_name="batches", null=True)
    lab = models.ForeignKey(Lab, on_delete=models.PROTECT, related_name="batches")
    courier = models.CharField("转运人员", max_length=50, blank=True)
    courier_mobile = models.CharField("转运人员电话", max_length=11, blank=True)
    state = models.CharField("状态", max_length=20, choices=BatchState.choices, default=BatchState.PACKED)
    packed_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)
    handed_at = models.DateTimeField("交接时间", null=True)
    received_at = models.DateTimeField("接收时间", null=True)
    received_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)
    missing = models.JSONField("缺少的管", default=list)  # packed but not found at receipt
    extra = models.JSONField("多出的管", default=list)  # found in the box but not packed in it


class Tube(BaseModel):
    barcode = models.CharField("管码", max_length=40, unique=True)
    round = models.ForeignKey(TestingRound, on_delete=models.PROTECT, related_name="tubes",
                              db_index=False)  # (round, state) below leads with it
    purpose = models.CharField("用途", max_length=20, choices=TubePurpose.choices, default=TubePurpose.ROUND)
    pool_mode = models.CharField("采样方式", max_length=20, choices=PoolMode.choices)
    pool_size = models.PositiveSmallIntegerField("管容量")
    site = models.ForeignKey(SamplingSite, on_delete=models.PROTECT, related_name="tubes", null=True)
    sampler = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)
    state = models.CharField("状态", max_length=20, choices=TubeState.choices, default=TubeState.OPEN)
    opened_at = models.DateTimeField("开管时间")
    closed_at = models.DateTimeField("封管时间", null=True)
    batch = models.ForeignKey(TransportBatch, on_delete=models.PROTECT, related_name="tubes", null=True)
    received_at = models.DateTimeField("接收时间", null=True)
    lab = models.ForeignKey(Lab, on_delete=models.PROTECT, related_name="tubes", null=True)
    result = models.CharField("结果", max_length=20, choices=Result.choices, blank=True)  # the current final one
    resulted_at = models.DateTimeField("出结果时间", null=True)
    members_count = models.PositiveSmallIntegerField("管内人数", default=0)

    class Meta:
        verbose_name = "采样管"
        verbose_name_plural = "采样管"
        indexes = [models.Index(fields=["round", "state"])]


class TubeMember(models.Model):
    """A person in a tube, in order. A member removed before the tube closed (wrong person) stays, marked."""

    tube = models.ForeignKey(Tube, on_delete=models.CASCADE, related_name="members")
    # Every index costs on each of a round's million members; the ones a lookup of its own needs are kept: the
    # tube's members, a person's samples (person, round), one sample per person (round, purpose, person), and who
    # removed members (set on a few rows only). The round and the person alone lead other indexes already.
    round = models.ForeignKey(TestingRound, on_delete=models.PROTECT, related_name="+",
                              db_index=False)  # the tube's (for the rule)
    purpose = models.CharField(max_length=20, choices=TubePurpose.choices, default=TubePurpose.ROUND)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="tube_memberships", db_index=False)
    position = models.PositiveSmallIntegerField("序号")
    added_at = models.DateTimeField("采样时间")
    removed_at = models.DateTimeField("移出时间", null=True)
    removed_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True, db_index=False)
    removed_reason = models.CharField("移出原因", max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["person", "round"]),
                   models.Index(fields=["removed_by"], condition=models.Q(removed_by__isnull=False),
                                name="tube_member_removed_by")]
        constraints = [
            # one sample per person per round (and one recheck tube): a person cannot be in two tubes of a round
            models.UniqueConstraint(fields=["round", "purpose", "person"], condition=models.Q(removed_at__isnull=True),
                                    name="tube_member_once_per_round"),
        ]

    @classmethod
    def merge_person(cls, duplicate, keep) -> int:
        return _merge_rows(cls, duplicate, keep, ("round_id", "purpose"), {"removed_at__isnull": True})


class LabResultFile(BaseModel):
    """Results as the lab sent them (a file or an instrument batch): checked row by row, applied only when a
    reviewer accepts the file (then all its good rows at once)."""

    lab = models.ForeignKey(Lab, on_delete=models.PROTECT, related_name="files")
    file_name = models.CharField("文件名", max_length=200)
    sha256 = models.CharField(max_length=64)
    rows = models.JSONField("有效行", default=list)  # [{"line", "barcode", "result", "ct_orf", "ct_n", "tested_at"}]
    errors = models.JSONField("错误行", default=list)
    state = models.CharField("状态", max_length=20, choices=ResultFileState.choices, default=ResultFileState.PENDING)
    uploaded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)
    reviewed_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)
    reviewed_at = models.DateTimeField("审核时间", null=True)
    review_note = models.CharField("审核意见", max_length=200, blank=True)
    applied = models.JSONField("发布结果", default=dict)  # on acceptance: {"tubes", "negative_people", "rechecks", "positives"}

    class Meta:
        verbose_name = "结果文件"
        verbose_name_plural = "结果文件"


class TubeResult(models.Model):
    """One reported result of a tube. Never changed: a correction is a new row that supersedes the old one."""

    tube = models.ForeignKey(Tube, on_delete=models.PROTECT, related_name="results")
    result = models.CharField("结果", max_length=20, choices=Result.choices)
    ct_orf = models.DecimalField("ORF1ab Ct", max_digits=5, decimal_places=2, null=True)
    ct_n = models.DecimalField("N Ct", max_digits=5, decimal_places=2, null=True)
    tested_at = models.DateTimeField("检测时间")
    lab = models.ForeignKey(Lab, on_delete=models.PROTECT, related_name="+")
    source_file = models.ForeignKey(LabResultFile, on_delete=models.PROTECT, related_name="results", null=True)
    supersedes = models.OneToOneField("self", on_delete=models.PROTECT, related_name="superseded_by", null=True)
    reason = models.CharField("更正原因", max_length=200, blank=True)
    reported_at = models.DateTimeField("发布时间", default=timezone.now)  # services pass the business clock
    reviewed_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)


class PersonRound(models.Model):
    """A person's state in a round (sampled → negative / recheck → negative or positive): the coverage table."""

    # A million rows a round: the round and the area are not indexed alone, (round, person) and (round, area,
    # state) lead with them. The latter answers coverage per area from the index alone, and the totals by state.
    round = models.ForeignKey(TestingRound, on_delete=models.CASCADE, related_name="people", db_index=False)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="testing_rounds")
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+",
                             db_index=False)  # the person's area when sampled
    state = models.CharField("状态", max_length=20, choices=PersonRoundState.choices)
    tube = models.ForeignKey(Tube, on_delete=models.PROTECT, related_name="+")
    sampled_at = models.DateTimeField("采样时间")
    resulted_at = models.DateTimeField("结果时间", null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["round", "person"], name="person_round_unique")]
        indexes = [models.Index(fields=["round", "area", "state"], name="person_round_area_state")]

    @classmethod
    def merge_person(cls, duplicate, keep) -> int:
        return _merge_rows(cls, duplicate, keep, ("round_id",))


class RecheckTask(BaseModel):
    """单采复核: a member of a positive pool, sampled alone at home (members stay where they are)."""

    round = models.ForeignKey(TestingRound, on_delete=models.PROTECT, related_name="rechecks")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="testing_rechecks")
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    source_tube = models.ForeignKey(Tube, on_delete=models.PROTECT, related_name="rechecks")
    due_at = models.DateTimeField("复核时限")
    state = models.CharField("状态", max_length=20, choices=RecheckState.choices, default=RecheckState.OPEN)
    tube = models.ForeignKey(Tube, on_delete=models.PROTECT, related_name="+", null=True)  # the single tube

    class Meta:
        constraints = [models.UniqueConstraint(fields=["round", "person"], name="recheck_once_per_round")]

    @classmethod
    def merge_person(cls, duplicate, keep) -> int:
        return _merge_rows(cls, duplicate, keep, ("round_id",))


class AntigenResult(BaseModel):
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="antigen_results")
    kind = models.CharField("方式", max_length=20, choices=AntigenKind.choices)
    result = models.CharField("结果", max_length=20, choices=Result.choices)
    taken_at = models.DateTimeField("检测时间")
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)

    @classmethod
    def merge_person(cls, duplicate, keep) -> int:
        return _merge_rows(cls, duplicate, keep)
