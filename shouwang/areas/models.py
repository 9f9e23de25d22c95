from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords
from treebeard.mp_tree import MP_Node, MP_NodeManager, MP_NodeQuerySet

from shouwang.areas.enums import AreaLevel, GridKind, GridWorkerRole
from shouwang.core.models import BaseModel

# Upper bound for "every path that starts with P": the path alphabet is 0-9A-Z, so P + "Z"*n closes the
# range. A range is used instead of LIKE so SQLite and PostgreSQL (any collation) use the index.
PATH_MAX = 255


def subtree_range(path: str) -> tuple[str, str]:
    return path, path + "Z" * (PATH_MAX - len(path))


class AreaQuerySet(MP_NodeQuerySet):
    def subtree(self, path: str) -> "AreaQuerySet":
        """Every area under the node with this path, the node included: one indexed range query."""
        return self.filter(path__range=subtree_range(path))


class AreaManager(MP_NodeManager):
    def get_queryset(self) -> AreaQuerySet:
        return AreaQuerySet(self.model, using=self._db).order_by("path")

    def subtree(self, path: str) -> AreaQuerySet:
        return self.get_queryset().subtree(path)


class Area(MP_Node, BaseModel):
    """A node of the administrative tree: province down to grid, and the compounds and buildings under it."""

    steplen = 4
    node_order_by = ["code"]

    code = models.CharField("区划代码", max_length=32, unique=True)
    name = models.CharField("名称", max_length=100, db_index=True)
    level = models.CharField("层级", max_length=20, choices=AreaLevel.choices, db_index=True)
    grid_kind = models.CharField("网格类型", max_length=20, choices=GridKind.choices, blank=True)
    is_synthetic_code = models.BooleanField("代码为演示编造", default=False)
    address = models.CharField("地址", max_length=200, blank=True)
    # The boundary: a GeoJSON geometry (Polygon or MultiPolygon, WGS 84 lon/lat) checked by areas.shapes; the
    # centre is a point inside it ([lon, lat]) for labels and markers. Kept out of the row history: a boundary
    # change is in the audit log, and a rename should not copy the geometry (docs/areas.md).
    shape = models.JSONField("边界", null=True, blank=True)
    centre = models.JSONField("中心点", null=True, blank=True)

    objects = AreaManager()
    history = HistoricalRecords(excluded_fields=["path", "depth", "numchild", "shape", "centre"])

    class Meta:
        verbose_name = "区域"
        verbose_name_plural = "区域"

    def __str__(self) -> str:
        return self.name

    @property
    def subtree_bounds(self) -> tuple[str, str]:
        return subtree_range(self.path)

    def contains(self, other: "Area") -> bool:
        return other.path.startswith(self.path)

    @classmethod
    def ancestor_paths(cls, path: str) -> list[str]:
        """The paths of the node at `path` and of every node above it, top first."""
        return [path[: i * cls.steplen] for i in range(1, len(path) // cls.steplen + 1)]


class Household(BaseModel):
    """A household (户): a dwelling under a grid, compound, building or unit."""

    area = models.ForeignKey(Area, verbose_name="所属区域", on_delete=models.PROTECT, related_name="households")
    room = models.CharField("房号/门牌", max_length=50)
    address = models.CharField("详细地址", max_length=200, blank=True)
    notes = models.CharField("备注", max_length=200, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = "户"
        verbose_name_plural = "户"
        constraints = [models.UniqueConstraint(fields=["area", "room"], name="household_area_room")]

    def __str__(self) -> str:
        return self.address or self.room


class GridWorker(BaseModel):
    """A person who serves a grid: a user account when they log in, or a contact only."""

    area = models.ForeignKey(Area, verbose_name="网格/楼栋", on_delete=models.PROTECT, related_name="workers")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="账号", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="grid_posts",
    )
    name = models.CharField("姓名", max_length=50)
    mobile = models.CharField("手机号", max_length=11, blank=True)
    role = models.CharField("岗位", max_length=30, choices=GridWorkerRole.choices)

    class Meta:
        verbose_name = "网格员"
        verbose_name_plural = "网格员"

    def __str__(self) -> str:
        return f"{self.name}（{self.get_role_display()}）"
