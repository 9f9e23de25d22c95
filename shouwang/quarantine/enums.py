from django.db import models
from django.utils.translation import gettext_lazy as _


class SiteKind(models.TextChoices):
    FIXED = "fixed", _("固定隔离点")
    STANDBY = "standby", _("备用隔离点")
    HOTEL = "hotel", _("征用酒店")
    HEALTH_STATION = "health_station", _("健康驿站")


class SiteState(models.TextChoices):
    STANDBY = "standby", _("备用")
    ACTIVATING = "activating", _("启用准备中")
    ACTIVE = "active", _("启用")
    CLOSING = "closing", _("关闭中")
    CLOSED = "closed", _("已关闭")


SITE_NEXT = {
    SiteState.STANDBY: (SiteState.ACTIVATING,),
    SiteState.ACTIVATING: (SiteState.ACTIVE, SiteState.STANDBY),
    SiteState.ACTIVE: (SiteState.CLOSING,),
    SiteState.CLOSING: (SiteState.CLOSED, SiteState.ACTIVE),
    SiteState.CLOSED: (SiteState.ACTIVATING,),
}

# "三区两通道" and the rest of the site's readiness, checked before activation (§6).
CHECKLIST = {
    "clean_zone": (_("清洁区"), "the clean zone"),
    "buffer_zone": (_("缓冲区"), "the buffer zone"),
    "contaminated_zone": (_("污染区"), "the contaminated zone"),
    "staff_passage": (_("工作人员通道"), "the staff passage"),
    "resident_passage": (_("隔离人员通道"), "the residents' passage"),
    "single_rooms": (_("单人单间、独立卫生间"), "single rooms with their own bathroom"),
    "ventilation": (_("通风和空调系统独立或已关闭"), "ventilation separate or shut off"),
    "waste": (_("医疗废物暂存和转运"), "medical waste storage and removal"),
    "staff_on_duty": (_("工作人员到位（点长、医护、保洁、安保）"), "staff in place (manager, medical, cleaning, security)"),
}


class RoomState(models.TextChoices):
    FREE = "free", _("空闲")
    OCCUPIED = "occupied", _("已入住")
    CLEANING = "cleaning", _("待消杀")
    OUT_OF_SERVICE = "out_of_service", _("停用")


class StayState(models.TextChoices):
    PLANNED = "planned", _("待执行")
    AWAITING_TRANSFER = "awaiting_transfer", _("待转运")
    IN_TRANSFER = "in_transfer", _("转运中")
    ACTIVE = "active", _("管控中")
    RELEASED = "released", _("已解除")
    BECAME_CASE = "became_case", _("转为病例")
    TO_HOSPITAL = "to_hospital", _("转送医院")
    RECLASSIFIED = "reclassified", _("改判后转其他措施")  # a secondary contact became a close contact ...


OPEN_STAY_STATES = (StayState.PLANNED, StayState.AWAITING_TRANSFER, StayState.IN_TRANSFER, StayState.ACTIVE)
STAY_NEXT = {
    StayState.PLANNED: (StayState.AWAITING_TRANSFER, StayState.ACTIVE, StayState.BECAME_CASE, StayState.RECLASSIFIED),
    StayState.AWAITING_TRANSFER: (StayState.IN_TRANSFER, StayState.BECAME_CASE, StayState.RECLASSIFIED),
    StayState.IN_TRANSFER: (StayState.ACTIVE, StayState.BECAME_CASE),
    StayState.ACTIVE: (StayState.RELEASED, StayState.BECAME_CASE, StayState.TO_HOSPITAL, StayState.RECLASSIFIED),
    StayState.RELEASED: (),
    StayState.BECAME_CASE: (),
    StayState.TO_HOSPITAL: (),
    StayState.RECLASSIFIED: (),
}
CENTRAL_MEASURES = ("central_quarantine",)  # the measures served at a site (the rest at home)


class ChangeKind(models.TextChoices):
    CREATED = "created", _("建立")
    STATE = "state", _("状态变更")
    MOVED = "moved", _("调换房间")
    REANCHORED = "reanchored", _("重新起算")
    SEAL = "seal", _("门磁/封条")
    RESPONSIBLE = "responsible", _("五包一责任人")


class Vehicle(models.TextChoices):
    AMBULANCE = "ambulance", _("负压救护车")
    BUS = "bus", _("转运大巴")
    CAR = "car", _("转运专车")


class TransferState(models.TextChoices):
    REQUESTED = "requested", _("待接")
    PICKED_UP = "picked_up", _("已接上")
    ARRIVED = "arrived", _("已送达")
    CANCELLED = "cancelled", _("已取消")


# ---- daily monitoring (三巡两测一监测一消杀一报告) -------------------------------------------------------------

FEVER_AT = 37.3  # °C, the usual threshold for 发热 in quarantine monitoring


class Symptom(models.TextChoices):
    FEVER = "fever", _("发热")
    COUGH = "cough", _("咳嗽")
    SORE_THROAT = "sore_throat", _("咽痛")
    FATIGUE = "fatigue", _("乏力")
    SMELL_TASTE = "smell_taste", _("嗅觉味觉减退")
    DIARRHOEA = "diarrhoea", _("腹泻")
    MUSCLE_PAIN = "muscle_pain", _("肌肉酸痛")
    CONJUNCTIVITIS = "conjunctivitis", _("结膜炎")
    OTHER = "other", _("其他")


class AlertKind(models.TextChoices):
    FEVER = "fever", _("发热")
    SYMPTOM = "symptom", _("出现症状")
    MISSING = "missing", _("漏报")
    SEAL = "seal", _("门磁/封条异常")
    ABSENT = "absent", _("上门未见本人")


class AlertState(models.TextChoices):
    OPEN = "open", _("待处置")
    HANDLED = "handled", _("已处置")


class NeedKind(models.TextChoices):
    PSYCHOLOGICAL = "psychological", _("心理疏导")
    MEDICINE = "medicine", _("药品")
    DIET = "diet", _("特殊饮食")
    MEDICAL_VISIT = "medical_visit", _("就医")
    DAILY_NEEDS = "daily_needs", _("生活物资配送")
    OTHER = "other", _("其他诉求")


class NeedState(models.TextChoices):
    OPEN = "open", _("待办")
    IN_PROGRESS = "in_progress", _("办理中")
    RESOLVED = "resolved", _("已解决")


# ---- home quarantine: 五包一, door seals and checks ----------------------------------------------------------------

# The roles of the five come from the policy (`responsible_roles`, names in policy.rules.model.RESPONSIBLE_ROLES).


class SealKind(models.TextChoices):
    DOOR_SENSOR = "door_sensor", _("门磁")
    PAPER_SEAL = "paper_seal", _("封条")


class SealState(models.TextChoices):
    NONE = "none", _("未安装")
    INTACT = "intact", _("完好")
    OPENED = "opened", _("门磁报警/封条破损")
    REMOVED = "removed", _("已拆除")


class VisitKind(models.TextChoices):
    DAILY = "daily", _("每日上门查看")
    PHONE = "phone", _("电话询问")
    SUPERVISOR_VIDEO = "supervisor_video", _("督导视频抽查")
    SUPERVISOR_DOOR = "supervisor_door", _("督导上门抽查")
