from django.db import models
from django.utils.translation import gettext_lazy as _


class AreaLevel(models.TextChoices):
    """Levels of the tree, top to bottom; compounds, buildings and units hang under grids."""

    PROVINCE = "province", _("省")
    CITY = "city", _("市")
    COUNTY = "county", _("县/区")
    TOWNSHIP = "township", _("乡镇/街道")
    VILLAGE = "village", _("村/社区")
    GRID = "grid", _("网格")
    MICRO_GRID = "micro_grid", _("微网格")
    COMPOUND = "compound", _("小区")
    BUILDING = "building", _("楼栋")
    UNIT = "unit", _("单元")


LEVEL_ORDER = [level.value for level in AreaLevel]

# Which child levels each level may hold.
ALLOWED_CHILDREN: dict[str, set[str]] = {
    AreaLevel.PROVINCE: {AreaLevel.CITY, AreaLevel.COUNTY},
    AreaLevel.CITY: {AreaLevel.COUNTY},
    AreaLevel.COUNTY: {AreaLevel.TOWNSHIP},
    AreaLevel.TOWNSHIP: {AreaLevel.VILLAGE, AreaLevel.GRID},
    AreaLevel.VILLAGE: {AreaLevel.GRID},
    AreaLevel.GRID: {AreaLevel.MICRO_GRID, AreaLevel.COMPOUND, AreaLevel.BUILDING},
    AreaLevel.MICRO_GRID: {AreaLevel.COMPOUND, AreaLevel.BUILDING},
    AreaLevel.COMPOUND: {AreaLevel.BUILDING},
    AreaLevel.BUILDING: {AreaLevel.UNIT},
    AreaLevel.UNIT: set(),
}


class GridKind(models.TextChoices):
    RURAL = "rural", _("农村网格")
    COMMUNITY = "community", _("社区网格")
    SPECIAL = "special", _("专属网格")


class GridWorkerRole(models.TextChoices):
    GRID_WORKER = "grid_worker", _("网格员")
    FULL_TIME = "full_time", _("专职网格员")
    GRID_OFFICER = "grid_officer", _("网格专干")
    ASSISTANT = "assistant", _("网格辅助员")
    BUILDING_HEAD = "building_head", _("楼长")
    UNIT_HEAD = "unit_head", _("单元长")
    MICRO_GRID_WORKER = "micro_grid_worker", _("微网格员")
