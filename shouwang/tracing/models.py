"""Investigation and tracing: cases (阳性感染者), their investigations (流调) with an itinerary of exposure events,
close and secondary contacts with every exposure that made them one, transmission links between cases and
clusters. Chains are computed from the links (chains.py), not stored."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from shouwang.areas.models import Area
from shouwang.core.models import BaseModel
from shouwang.people.models import Person
from shouwang.tracing.enums import (
    ACTIVE_CASE_STATES,
    CaseState,
    Classification,
    ClinicalType,
    Confidence,
    ContactKind,
    ContactState,
    Criterion,
    EventSource,
    FoundBy,
    FoundVia,
    InvestigationState,
    Origin,
    Setting,
)

USER = settings.AUTH_USER_MODEL


class Case(BaseModel):
    code = models.CharField("病例编号", max_length=30, unique=True)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="tracing_cases")
    area = models.ForeignKey(Area, verbose_name="现住网格", on_delete=models.PROTECT, related_name="+")
    found_by = models.CharField("发现途径", max_length=30, choices=FoundBy.choices)
    classification = models.CharField("诊断分类", max_length=20, choices=Classification.choices)
    clinical_type = models.CharField("临床分型", max_length=20, choices=ClinicalType.choices, blank=True)
    onset_date = models.DateField("发病日期", null=True, blank=True)
    sampling_date = models.DateField("阳性采样日期")
    reported_at = models.DateTimeField("报告时间")
    found_in_quarantine = models.BooleanField("隔离管控中发现", default=False)
    origin = models.CharField("本土/输入", max_length=20, choices=Origin.choices, default=Origin.LOCAL)
    lineage = models.CharField("毒株分型", max_length=40, blank=True)
    state = models.CharField("状态", max_length=20, choices=CaseState.choices, default=CaseState.REPORTED)
    isolated_on = models.DateField("隔离管控日期", null=True, blank=True)
    source_ref = models.CharField("来源", max_length=60, blank=True)  # e.g. the positive tube's barcode
    state_note = models.CharField("状态说明", max_length=200, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person"], condition=Q(state__in=list(ACTIVE_CASE_STATES)),
                                               name="one_active_case_per_person")]
        indexes = [models.Index(fields=["reported_at"]), models.Index(fields=["onset_date"])]

    def __str__(self) -> str:
        return self.code

    @property
    def anchor_date(self):
        """Onset for a case with symptoms, else the positive sample's date (the look-back counts from it)."""
        return self.onset_date or self.sampling_date

    @classmethod
    def merge_person(cls, duplicate, keep) -> int:
        return cls.objects.filter(person=duplicate).update(person=keep)


class Investigation(BaseModel):
    """流调: one per case, assigned to a team, with the golden-24-hour clock HQ watches."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="investigation")
    team = models.CharField("流调小组", max_length=50, blank=True)
    assigned_to = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    opened_at = models.DateTimeField("开始时间")
    due_at = models.DateTimeField("完成时限")
    closed_at = models.DateTimeField("完成时间", null=True, blank=True)
    state = models.CharField("状态", max_length=20, choices=InvestigationState.choices,
                             default=InvestigationState.OPEN)
    summary = models.TextField("调查小结", blank=True)


class ExposureEvent(BaseModel):
    """One stop of the case's itinerary (行程轨迹) in the look-back window."""

    investigation = models.ForeignKey(Investigation, on_delete=models.CASCADE, related_name="events")
    starts_at = models.DateTimeField("开始时间")
    ends_at = models.DateTimeField("结束时间")
    place = models.CharField("地点", max_length=200)
    venue_id = models.BigIntegerField("场所", null=True, blank=True)  # venues.Venue; no FK: the venue may go
    activity = models.CharField("活动", max_length=200, blank=True)
    people_present = models.CharField("同在人员", max_length=300, blank=True)
    source = models.CharField("来源", max_length=20, choices=EventSource.choices, default=EventSource.MANUAL)
    source_ref = models.CharField(max_length=60, blank=True)
    removed_at = models.DateTimeField("删除时间", null=True, blank=True)  # taken out by the tracer (kept, not shown)
    removed_reason = models.CharField("删除理由", max_length=200, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [models.UniqueConstraint(fields=["investigation", "source", "source_ref"],
                                               condition=~Q(source_ref=""), name="event_once_per_source")]


class Contact(BaseModel):
    """A close or secondary contact (one row per person and kind while live; the exposures say why). A contact
    found on two cases keeps the latest exposure (`last_exposure`), and its measure counts from it."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="tracing_contacts")
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField("类别", max_length=20, choices=ContactKind.choices)
    state = models.CharField("状态", max_length=20, choices=ContactState.choices, default=ContactState.PROPOSED)
    last_exposure = models.DateField("末次暴露日期")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="contacts")  # the case of the latest exposure
    via = models.ForeignKey("self", on_delete=models.PROTECT, related_name="secondaries", null=True, blank=True)
    policy_version = models.CharField("政策版本", max_length=20, blank=True)
    release_on = models.DateField("预计解除日期", null=True, blank=True)
    plan_note = models.CharField("管控方案", max_length=300, blank=True)
    identified_at = models.DateTimeField("判定时间", null=True, blank=True)
    notified_at = models.DateTimeField("通知时间", null=True, blank=True)
    transferred_at = models.DateTimeField("转运时间", null=True, blank=True)
    measure_at = models.DateTimeField("落实管控时间", null=True, blank=True)
    closed_at = models.DateTimeField("结束时间", null=True, blank=True)
    became_case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    reclassified_from = models.CharField("原类别", max_length=20, blank=True)
    note = models.CharField("说明", max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["person"], name="one_open_contact_per_person",
            condition=Q(state__in=["proposed", "identified", "notified", "transferred", "under_measure"]))]
        indexes = [models.Index(fields=["case", "state"]), models.Index(fields=["state", "identified_at"])]

    @classmethod
    def merge_person(cls, duplicate, keep) -> int:
        return cls.objects.filter(person=duplicate).update(person=keep)


class ContactExposure(models.Model):
    """One exposure that makes a person a contact: to a case (close) or to a close contact (secondary)."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="exposures")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="+")
    source_contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    setting = models.CharField("暴露场景", max_length=20, choices=Setting.choices)
    criterion = models.CharField("判定依据", max_length=2, choices=Criterion.choices)
    last_exposure = models.DateField("末次暴露日期")
    found_via = models.CharField("发现方式", max_length=20, choices=FoundVia.choices)
    evidence = models.CharField("依据", max_length=500, blank=True)
    venue_ids = models.JSONField(default=list, blank=True)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)
    recorded_at = models.DateTimeField(auto_now_add=True)


class TransmissionLink(BaseModel):
    """infector → infectee; one infector per infectee (remove a link to change it)."""

    infector = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="infected")
    infectee = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="infected_by")
    setting = models.CharField("传播场景", max_length=20, choices=Setting.choices, default=Setting.OTHER)
    confidence = models.CharField("可信度", max_length=20, choices=Confidence.choices, default=Confidence.PROBABLE)
    evidence = models.CharField("依据", max_length=500, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)


class Cluster(BaseModel):
    """聚集性疫情: cases grouped by a shared setting (a family, a workplace, a market ...)."""

    name = models.CharField("名称", max_length=100)
    setting = models.CharField("场所类别", max_length=20, choices=Setting.choices)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    cases = models.ManyToManyField(Case, related_name="clusters", blank=True)
    note = models.CharField("说明", max_length=300, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)


class LineListImport(BaseModel):
    """An uploaded line list (病例名单) of cases and transmission links: kept from the dry run so the user does not
    upload it twice, and once applied it refuses the same file again (one applied import per sha256)."""

    sha256 = models.CharField("文件摘要", max_length=64)
    file_name = models.CharField("文件名", max_length=200)
    content = models.BinaryField("文件内容")
    links_file_name = models.CharField("传播关系文件名", max_length=200, blank=True)
    links_content = models.BinaryField("传播关系文件内容", null=True, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    applied_at = models.DateTimeField("导入时间", null=True, blank=True)
    result = models.JSONField("导入结果", default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sha256"], condition=Q(applied_at__isnull=False),
                                    name="line_list_imported_once"),
            models.UniqueConstraint(fields=["sha256", "created_by"], condition=Q(applied_at__isnull=True),
                                    name="line_list_one_pending_per_user"),
        ]
        indexes = [models.Index(fields=["sha256"])]
