from django.db import models
from django.utils.translation import gettext_lazy as _


class RoundKind(models.TextChoices):
    WHOLE = "whole", _("全员核酸")
    AREA = "area", _("区域核酸")
    KEY_GROUPS = "key_groups", _("重点人群")


class RoundState(models.TextChoices):
    PLANNED = "planned", _("待开始")
    SAMPLING = "sampling", _("采样中")
    FINISHED = "finished", _("已结束")
    CANCELLED = "cancelled", _("已取消")


class PoolMode(models.TextChoices):
    """The policy's sampling modes (pooling.*.mode) and the most people one tube may hold."""

    SINGLE = "single", _("单采单检")
    HOUSEHOLD = "household", _("一户一管")
    TEN = "10in1", _("10合1混采")
    TWENTY = "20in1", _("20合1混采")


POOL_SIZE = {PoolMode.SINGLE: 1, PoolMode.HOUSEHOLD: 10, PoolMode.TEN: 10, PoolMode.TWENTY: 20}

# The policy's sampling settings a round area may be in (pooling.<setting>), most to least restrictive.
SETTINGS = ("isolation_site", "high_risk_zone", "medium_risk_zone", "other_area", "key_group", "routine")


class ExemptReason(models.TextChoices):
    DOOR_TO_DOOR = "door_to_door", _("卧床等，上门采样")
    AWAY = "away", _("不在本地")
    INFANT = "infant", _("婴幼儿（按当地规定免检）")
    IN_QUARANTINE = "in_quarantine", _("在隔离点另行检测")
    OTHER = "other", _("其他")


EXEMPT_NOT_SAMPLED = frozenset({ExemptReason.AWAY, ExemptReason.INFANT, ExemptReason.IN_QUARANTINE,
                                ExemptReason.OTHER})  # DOOR_TO_DOOR is still sampled, at home


class SiteKind(models.TextChoices):
    FIXED = "fixed", _("固定采样点")
    TEMPORARY = "temporary", _("临时采样点")
    DOOR_TO_DOOR = "door_to_door", _("上门采样队")


class TubePurpose(models.TextChoices):
    ROUND = "round", _("筛查")
    RECHECK = "recheck", _("单管复核")


class TubeState(models.TextChoices):
    OPEN = "open", _("采样中")
    CLOSED = "closed", _("已封管")
    IN_TRANSIT = "in_transit", _("转运中")
    RECEIVED = "received", _("实验室已接收")
    RESULTED = "resulted", _("已出结果")


class Result(models.TextChoices):
    NEGATIVE = "negative", _("阴性")
    POSITIVE = "positive", _("阳性")
    INVALID = "invalid", _("无效，需重采")


class PersonRoundState(models.TextChoices):
    SAMPLED = "sampled", _("已采样")
    NEGATIVE = "negative", _("阴性")
    RECHECK = "recheck", _("混管阳性待复核")
    POSITIVE = "positive", _("阳性")
    RESAMPLE = "resample", _("需重采")


class BatchState(models.TextChoices):
    PACKED = "packed", _("已装箱")
    IN_TRANSIT = "in_transit", _("转运中")
    RECEIVED = "received", _("已接收")


class ResultFileState(models.TextChoices):
    PENDING = "pending", _("待审核")
    ACCEPTED = "accepted", _("已审核发布")
    REJECTED = "rejected", _("已退回")


class RecheckState(models.TextChoices):
    OPEN = "open", _("待复核")
    SAMPLED = "sampled", _("已采样")
    NEGATIVE = "negative", _("复核阴性")
    POSITIVE = "positive", _("复核阳性")


class AntigenKind(models.TextChoices):
    SELF = "self", _("自测")
    STAFF = "staff", _("工作人员检测")
