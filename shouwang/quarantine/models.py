"""Quarantine: sites with their rooms and readiness checklist, and stays — one per person per measure, dated from
the policy's plan (phases, test days, end), moved between rooms and re-anchored with history."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from shouwang.areas.models import Area
from shouwang.core.models import BaseModel
from shouwang.people.models import Person
from shouwang.quarantine.enums import (
    OPEN_STAY_STATES,
    AlertKind,
    AlertState,
    ChangeKind,
    NeedKind,
    NeedState,
    RoomState,
    SealKind,
    SealState,
    SiteKind,
    SiteState,
    StayState,
    TransferState,
    Vehicle,
    VisitKind,
)

USER = settings.AUTH_USER_MODEL


class Site(BaseModel):
    name = models.CharField("隔离点名称", max_length=100, unique=True)
    kind = models.CharField("类型", max_length=20, choices=SiteKind.choices)
    area = models.ForeignKey(Area, verbose_name="所在网格", on_delete=models.PROTECT, related_name="+")
    address = models.CharField("地址", max_length=200, blank=True)
    state = models.CharField("状态", max_length=20, choices=SiteState.choices, default=SiteState.STANDBY)
    manager = models.ForeignKey(USER, verbose_name="点长", on_delete=models.PROTECT, related_name="+", null=True,
                                blank=True)
    doctor = models.ForeignKey(USER, verbose_name="驻点医生", on_delete=models.PROTECT, related_name="+", null=True,
                               blank=True)  # receives the fever and symptom alerts
    staff = models.PositiveSmallIntegerField("工作人员数", default=0)
    persons_per_staff = models.PositiveSmallIntegerField("每名工作人员照管人数", default=10)
    checklist = models.JSONField("三区两通道等检查项", default=dict)  # item -> true when checked
    activated_at = models.DateTimeField("启用时间", null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class Room(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="rooms")
    floor = models.SmallIntegerField("楼层")
    number = models.CharField("房间号", max_length=20)
    capacity = models.PositiveSmallIntegerField("可住人数", default=1)  # 2: a family room (carer and child ...)
    state = models.CharField("状态", max_length=20, choices=RoomState.choices, default=RoomState.FREE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "number"], name="room_number_per_site")]
        indexes = [models.Index(fields=["site", "state"])]
        ordering = ["site", "floor", "number"]

    def __str__(self) -> str:
        return f"{self.site.name} {self.number}"


class Stay(BaseModel):
    """One measure of one person (集中隔离, 居家隔离, 居家健康监测, 三天两检): its days and tests from the policy's plan
    for the category and anchor date; the next phase of the plan is a stay of its own, started on release."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="quarantine_stays")
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")  # the person's home area
    category = models.CharField("人员类别", max_length=40)  # a policy category: close_contact, ...
    measure = models.CharField("措施", max_length=40)  # a policy measure: central_quarantine, ...
    anchor_date = models.DateField("起算日期")
    phase = models.PositiveSmallIntegerField("阶段", default=0)  # index in the plan's phases
    policy_version = models.CharField("政策版本", max_length=20)
    starts_on = models.DateField("开始日期")
    ends_on = models.DateField("结束日期", null=True, blank=True)  # None: until something happens
    test_days = models.JSONField("检测日", default=list)  # [{"date", "day", "kind"}]
    explanation = models.JSONField("依据", default=list)  # the plan's because lines
    state = models.CharField("状态", max_length=20, choices=StayState.choices, default=StayState.PLANNED)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="stays", null=True, blank=True)
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="stays", null=True, blank=True)
    home_address = models.CharField("居家地址", max_length=200, blank=True)
    seal_kind = models.CharField("门磁/封条", max_length=20, choices=SealKind.choices, blank=True)
    seal_state = models.CharField("门磁/封条状态", max_length=20, choices=SealState.choices, default=SealState.NONE)
    sealed_at = models.DateTimeField("安装时间", null=True, blank=True)
    source_ref = models.CharField("来源", max_length=60, blank=True)  # e.g. tracing contact:123
    source_case = models.CharField("关联病例", max_length=30, blank=True)  # floors kept for one source case
    previous = models.OneToOneField("self", on_delete=models.PROTECT, related_name="next", null=True, blank=True)
    admitted_at = models.DateTimeField("入住时间", null=True, blank=True)
    released_at = models.DateTimeField("解除时间", null=True, blank=True)
    release_code = models.CharField("解除证明核验码", max_length=20, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person"], condition=Q(state__in=[s.value for s in OPEN_STAY_STATES]),
                                    name="one_open_stay_per_person"),
            models.UniqueConstraint(fields=["release_code"], condition=~Q(release_code=""),
                                    name="stay_release_code_unique"),  # the public check finds it by this
        ]  # a room's occupancy (1, or 2 in a family room) is checked by the services under a row lock
        indexes = [models.Index(fields=["site", "state"]), models.Index(fields=["state", "ends_on"])]

    @classmethod
    def merge_person(cls, duplicate, keep) -> int:
        return cls.objects.filter(person=duplicate).update(person=keep)


class StayChange(models.Model):
    """The history of a stay: created, state changes, room moves, re-anchoring (with the plan's explanation)."""

    stay = models.ForeignKey(Stay, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=20, choices=ChangeKind.choices)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    reason = models.CharField("原因", max_length=300, blank=True)
    at = models.DateTimeField()
    by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)

    class Meta:
        ordering = ["at", "id"]


class Transfer(BaseModel):
    """点对点闭环转运: one vehicle run from a pickup address to a site, for one person or a group (their stays)."""

    code = models.CharField("转运单号", max_length=30, unique=True)
    stays = models.ManyToManyField(Stay, related_name="transfers")
    pickup_address = models.CharField("接送地址", max_length=200)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="transfers")
    vehicle = models.CharField("车辆", max_length=20, choices=Vehicle.choices)
    plate = models.CharField("车牌", max_length=20, blank=True)
    driver = models.CharField("司机", max_length=50, blank=True)
    escort = models.CharField("随车人员", max_length=50, blank=True)
    state = models.CharField("状态", max_length=20, choices=TransferState.choices, default=TransferState.REQUESTED)
    requested_at = models.DateTimeField("申请时间")
    due_at = models.DateTimeField("时限")  # the policy's limit for the first person's category
    picked_up_at = models.DateTimeField("接上时间", null=True, blank=True)
    arrived_at = models.DateTimeField("送达时间", null=True, blank=True)
    closed_loop = models.BooleanField("闭环", null=True)  # checked on arrival
    note = models.CharField("说明", max_length=300, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)

    class Meta:
        indexes = [models.Index(fields=["state", "due_at"])]


class DailyCheck(models.Model):
    """一天的健康监测 of one person under a measure: two temperatures, symptoms, disinfection, the daily report.
    One row per stay and day, filled in over the day (morning and afternoon)."""

    stay = models.ForeignKey(Stay, on_delete=models.CASCADE, related_name="checks")
    day = models.DateField("日期")
    temp_am = models.DecimalField("上午体温", max_digits=3, decimal_places=1, null=True, blank=True)
    temp_pm = models.DecimalField("下午体温", max_digits=3, decimal_places=1, null=True, blank=True)
    symptoms = models.JSONField("症状", default=list)  # Symptom values
    symptom_note = models.CharField("症状说明", max_length=200, blank=True)
    disinfected = models.BooleanField("已消杀", null=True)
    reported = models.BooleanField("已日报", default=False)
    note = models.CharField("备注", max_length=300, blank=True)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stay", "day"], name="one_check_per_stay_day")]
        indexes = [models.Index(fields=["day"])]


class Alert(models.Model):
    """Something the site doctor (a central stay) or the medical member of the five (a home stay) must see: a fever,
    a symptom, a missed entry, a seal opened, nobody home at a check."""

    stay = models.ForeignKey(Stay, on_delete=models.CASCADE, related_name="alerts")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="alerts", null=True, blank=True)
    kind = models.CharField("类型", max_length=20, choices=AlertKind.choices)
    day = models.DateField("日期")
    detail = models.CharField("内容", max_length=300)
    state = models.CharField("状态", max_length=20, choices=AlertState.choices, default=AlertState.OPEN)
    raised_at = models.DateTimeField("发出时间")
    handled_at = models.DateTimeField("处置时间", null=True, blank=True)
    handled_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    outcome = models.CharField("处置结果", max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stay", "day", "kind"], name="one_alert_per_kind_day")]
        indexes = [models.Index(fields=["site", "state"]), models.Index(fields=["state", "day"])]


class Need(BaseModel):
    """A request of a person under a measure (心理疏导, medicine, special diet, a medical visit, daily supplies),
    tracked to its resolution."""

    stay = models.ForeignKey(Stay, on_delete=models.CASCADE, related_name="needs")
    kind = models.CharField("类型", max_length=20, choices=NeedKind.choices)
    detail = models.CharField("内容", max_length=300)
    state = models.CharField("状态", max_length=20, choices=NeedState.choices, default=NeedState.OPEN)
    requested_at = models.DateTimeField("提出时间")
    resolved_at = models.DateTimeField("解决时间", null=True, blank=True)
    resolution = models.CharField("办理结果", max_length=300, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)
    resolved_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "requested_at"])]


class Responsible(models.Model):
    """One of the five people responsible for a person in home quarantine (五包一), by the policy's roles."""

    stay = models.ForeignKey(Stay, on_delete=models.CASCADE, related_name="responsible")
    role = models.CharField("职责", max_length=30)  # a key of RESPONSIBLE_ROLES named by the policy
    name = models.CharField("姓名", max_length=50)
    phone = models.CharField("手机号", max_length=11)
    user = models.ForeignKey(USER, on_delete=models.SET_NULL, related_name="+", null=True, blank=True)
    assigned_at = models.DateTimeField()
    assigned_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stay", "role"], name="one_responsible_per_role")]


class HomeVisit(models.Model):
    """A check on a person at home: the responsible people's daily visit or call, the supervisor's random video or
    door check (四不两直), with what was found."""

    stay = models.ForeignKey(Stay, on_delete=models.CASCADE, related_name="visits")
    kind = models.CharField("方式", max_length=20, choices=VisitKind.choices)
    day = models.DateField("日期")
    at = models.DateTimeField("时间")
    role = models.CharField("职责", max_length=30, blank=True)  # the responsible person's role, or "supervisor"
    person_present = models.BooleanField("本人在家")
    seal_intact = models.BooleanField("门磁/封条完好", null=True)
    deliveries_needed = models.CharField("需要配送", max_length=200, blank=True)
    note = models.CharField("情况", max_length=300, blank=True)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", null=True)

    class Meta:
        indexes = [models.Index(fields=["stay", "day"])]
        ordering = ["at", "id"]
