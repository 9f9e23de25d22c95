from django.db import models
from django.utils.translation import gettext_lazy as _


class ZoneState(models.TextChoices):
    """A zone's life: proposed → in force → lifted, or rejected. A downgrade (high → medium under V9) is a change
    of level while in force, kept in the history."""

    PROPOSED = "proposed", _("待审批")
    IN_FORCE = "in_force", _("已划定")
    LIFTED = "lifted", _("已解封")
    REJECTED = "rejected", _("未批准")


OPEN_ZONE_STATES = (ZoneState.PROPOSED, ZoneState.IN_FORCE)


class ZoneChangeKind(models.TextChoices):
    CREATED = "created", _("提出")
    APPROVED = "approved", _("批准划定")
    SCOPE = "scope", _("调整范围")
    KIND = "kind", _("调整类型")
    DOWNGRADED = "downgraded", _("降级")
    LIFTED = "lifted", _("解除")
    REJECTED = "rejected", _("不予批准")
    CLOCK = "clock", _("解封时间变化")
    ANNOUNCEMENT = "announcement", _("修改通告")
    CASE = "case", _("计入病例")


class ClockState(models.TextChoices):
    """Where the zone's next step stands (policy.rules.zones.LiftStep.state)."""

    MET = "met", _("已符合条件")
    WAITING = "waiting", _("未到期")
    BLOCKED = "blocked", _("筛查有阳性")
    NONE = "", _("—")


# Levels a zone's scope may be given at: a village (村/社区) and everything under it. Townships and above are never a
# zone (the policy's units are compounds, villages, buildings and units).
SCOPE_LEVELS = ("village", "grid", "micro_grid", "compound", "building", "unit")

# 社会面清零: no community case found on the last complete day (yesterday) nor so far today.
ZERO_DAYS = 2

# What a level means for the people living in the zone (the policy's measure key and words).
LEVEL_ORDER = {"low": 0, "medium": 1, "high": 2}
