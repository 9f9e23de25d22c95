from django.db import models
from simple_history.models import HistoricalRecords

from shouwang.areas.models import Area, Household
from shouwang.core.models import BaseModel
from shouwang.people.enums import IdType, PersonTag, ResidenceKind, Sex


class PersonQuerySet(models.QuerySet):
    def active(self) -> "PersonQuerySet":
        return self.filter(merged_into__isnull=True)

    def within(self, area_path: str) -> "PersonQuerySet":
        """People whose residence area lies in the subtree at area_path."""
        return self.filter(area__in=Area.objects.subtree(area_path).values("id"))


class Person(BaseModel):
    """One file per person (一人一档)."""

    name = models.CharField("姓名", max_length=50, db_index=True)
    id_type = models.CharField("证件类型", max_length=30, choices=IdType.choices, default=IdType.RESIDENT_ID)
    id_number = models.CharField("证件号码", max_length=30)
    sex = models.CharField("性别", max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    birth_date = models.DateField("出生日期", null=True, blank=True)
    mobile = models.CharField("手机号", max_length=11, blank=True, db_index=True)
    area = models.ForeignKey(Area, verbose_name="所属网格/楼栋", on_delete=models.PROTECT, related_name="people")
    household = models.ForeignKey(
        Household, verbose_name="户", null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    relation_to_head = models.CharField("与户主关系", max_length=20, blank=True)
    residence_kind = models.CharField(
        "人口类别", max_length=20, choices=ResidenceKind.choices, default=ResidenceKind.REGISTERED
    )
    current_address = models.CharField("现住址", max_length=200, blank=True)
    workplace = models.CharField("工作单位/学校", max_length=200, blank=True)
    notes = models.CharField("备注", max_length=300, blank=True)
    merged_into = models.ForeignKey(
        "self", verbose_name="已合并到", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_from",
        db_index=False,  # almost every row is NULL: see the partial index below
    )

    objects = PersonQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = "人员"
        verbose_name_plural = "人员"
        constraints = [
            models.UniqueConstraint(fields=["id_type", "id_number"], name="person_unique_document"),
        ]
        indexes = [
            models.Index(fields=["area", "name"]),
            models.Index(fields=["id_number"]),
            # Only merged rows are indexed. A full index on a column that is NULL for nearly everyone lured
            # SQLite's planner into scanning it for "merged_into IS NULL" (1 s per search at a million people).
            models.Index(fields=["merged_into"], condition=models.Q(merged_into__isnull=False),
                         name="person_merged_into_set"),
        ]

    def __str__(self) -> str:
        return self.name


class PersonTagging(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="tags")
    tag = models.CharField("标签", max_length=30, choices=PersonTag.choices)

    class Meta:
        verbose_name = "人员标签"
        constraints = [models.UniqueConstraint(fields=["person", "tag"], name="person_tag_unique")]
        indexes = [models.Index(fields=["tag", "person"])]


class VaccinationDose(BaseModel):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="vaccinations")
    dose_number = models.PositiveSmallIntegerField("剂次")
    given_on = models.DateField("接种日期")
    product = models.CharField("疫苗", max_length=50, blank=True)

    class Meta:
        verbose_name = "疫苗接种"
        ordering = ["dose_number"]
        constraints = [models.UniqueConstraint(fields=["person", "dose_number"], name="vaccination_dose_unique")]
