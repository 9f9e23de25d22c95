from django.db import models


class AreaLevel(models.TextChoices):
    """Levels of the tree, top to bottom; compounds, buildings and units hang under grids."""

    PROVINCE = "province", "省"
    CITY = "city", "市"
    COUNTY = "county", "县/区"
    TOWNSHIP = "township", "乡镇/街道"
    VILLAGE = "village", "村/社区"
    GRID = "grid", "网格"
    MICRO_GRID = "micro_grid", "微网格"
    COMPOUND = "compound", "小区"
    BUILDING = "building", "楼栋"
    UNIT = "unit", "单元"


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
    RURAL = "rural", "农村网格"
    COMMUNITY = "community", "社区网格"
    SPECIAL = "special", "专属网格"


class GridWorkerRole(models.TextChoices):
    GRID_WORKER = "grid_worker", "网格员"
    FULL_TIME = "full_time", "专职网格员"
    GRID_OFFICER = "grid_officer", "网格专干"
    ASSISTANT = "assistant", "网格辅助员"
    BUILDING_HEAD = "building_head", "楼长"
    UNIT_HEAD = "unit_head", "单元长"
    MICRO_GRID_WORKER = "micro_grid_worker", "微网格员"
