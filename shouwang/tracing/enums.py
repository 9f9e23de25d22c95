from django.db import models
from django.utils.translation import gettext_lazy as _


class FoundBy(models.TextChoices):
    """How a case was found (发现途径)."""

    ROUND_RECHECK = "round_recheck", _("区域核酸混管复核阳性")
    ROUND_SCREENING = "round_screening", _("区域核酸单管阳性")
    FEVER_CLINIC = "fever_clinic", _("发热门诊")
    KEY_GROUP = "key_group", _("重点人群筛查")
    IN_QUARANTINE = "in_quarantine", _("隔离管控中发现")
    ARRIVAL_TEST = "arrival_test", _("落地检")
    SELF_REPORT = "self_report", _("主动报告")
    CONTACT_SCREENING = "contact_screening", _("密接排查")
    OTHER = "other", _("其他")


class Classification(models.TextChoices):
    PENDING = "pending", _("初筛阳性待诊断")
    CONFIRMED = "confirmed", _("确诊病例")
    ASYMPTOMATIC = "asymptomatic", _("无症状感染者")


class ClinicalType(models.TextChoices):
    MILD = "mild", _("轻型")
    MODERATE = "moderate", _("普通型")
    SEVERE = "severe", _("重型")
    CRITICAL = "critical", _("危重型")


class Origin(models.TextChoices):
    LOCAL = "local", _("本土")
    IMPORTED = "imported", _("输入")


class CaseState(models.TextChoices):
    REPORTED = "reported", _("已报告")
    TRANSFERRED = "transferred", _("已转运")
    HOSPITAL = "hospital", _("定点医院治疗")
    FANGCANG = "fangcang", _("方舱医院")
    DISCHARGED = "discharged", _("已出院")
    EXCLUDED = "excluded", _("已排除")


ACTIVE_CASE_STATES = (CaseState.REPORTED, CaseState.TRANSFERRED, CaseState.HOSPITAL, CaseState.FANGCANG)
CASE_NEXT = {  # the states a case may move to
    CaseState.REPORTED: (CaseState.TRANSFERRED, CaseState.HOSPITAL, CaseState.FANGCANG, CaseState.EXCLUDED),
    CaseState.TRANSFERRED: (CaseState.HOSPITAL, CaseState.FANGCANG, CaseState.EXCLUDED),
    CaseState.HOSPITAL: (CaseState.FANGCANG, CaseState.DISCHARGED),
    CaseState.FANGCANG: (CaseState.HOSPITAL, CaseState.DISCHARGED),
    CaseState.DISCHARGED: (),
    CaseState.EXCLUDED: (),
}


class InvestigationState(models.TextChoices):
    OPEN = "open", _("调查中")
    DONE = "done", _("已完成")


class EventSource(models.TextChoices):
    SCAN = "scan", _("场所码扫码")
    TEST = "test", _("核酸采样")
    CHECKPOINT = "checkpoint", _("卡口登记")
    MANUAL = "manual", _("流调员填写")


class ContactKind(models.TextChoices):
    CLOSE = "close", _("密切接触者")
    SECONDARY = "secondary", _("密接的密接")


class ContactState(models.TextChoices):
    PROPOSED = "proposed", _("待确认")
    IDENTIFIED = "identified", _("已判定")
    NOTIFIED = "notified", _("已通知")
    TRANSFERRED = "transferred", _("已转运")
    UNDER_MEASURE = "under_measure", _("管控中")
    RELEASED = "released", _("已解除")
    BECAME_CASE = "became_case", _("已转为病例")
    REJECTED = "rejected", _("已排除")


CONTACT_NEXT = {
    ContactState.PROPOSED: (ContactState.IDENTIFIED, ContactState.REJECTED),
    ContactState.IDENTIFIED: (ContactState.NOTIFIED, ContactState.TRANSFERRED, ContactState.UNDER_MEASURE),
    ContactState.NOTIFIED: (ContactState.TRANSFERRED, ContactState.UNDER_MEASURE),
    ContactState.TRANSFERRED: (ContactState.UNDER_MEASURE,),
    ContactState.UNDER_MEASURE: (ContactState.RELEASED,),
    ContactState.RELEASED: (),
    ContactState.BECAME_CASE: (),
    ContactState.REJECTED: (),
}
LIVE_CONTACT_STATES = (ContactState.IDENTIFIED, ContactState.NOTIFIED, ContactState.TRANSFERRED,
                       ContactState.UNDER_MEASURE)
CONTROLLED_STATES = (ContactState.TRANSFERRED, ContactState.UNDER_MEASURE, ContactState.RELEASED,
                     ContactState.BECAME_CASE, ContactState.REJECTED)  # a chain is closed when all its contacts are


class Setting(models.TextChoices):
    """Where the exposure happened (聚集性疫情的场所类别 and the contact's exposure setting)."""

    HOUSEHOLD = "household", _("家庭")
    WORK = "work", _("工作场所")
    SCHOOL = "school", _("学校")
    MEAL = "meal", _("聚餐")
    VENUE = "venue", _("公共场所")
    VEHICLE = "vehicle", _("交通工具")
    MEDICAL = "medical", _("医疗机构")
    OTHER = "other", _("其他")


class Criterion(models.TextChoices):
    """The nine criteria of a close contact (V9 §3.1)."""

    LIVE_TOGETHER = "1", _("共同居住生活人员")
    CARE = "2", _("直接照护或提供诊疗、护理服务者")
    VISIT = "3", _("探视并有近距离接触的医护人员、家属或其他人员")
    AEROSOL = "4", _("同一空间实施可能产生气溶胶操作的医护人员")
    SAME_ROOM = "5", _("同一办公室、会议室、车间、班组、宿舍或教室等近距离接触")
    CLOSED_PLACE = "6", _("密闭或通风不良场所共用卫生间、电梯、聚餐、娱乐等")
    VEHICLE = "7", _("同一交通工具1米范围内")
    ENVIRONMENT = "8", _("暴露于被污染的环境或物品")
    JUDGED = "9", _("现场调查人员判定的其他人员")


class FoundVia(models.TextChoices):
    """How a contact was found."""

    HOUSEHOLD = "household", _("同户登记")
    COMPANION = "companion", _("场所码时空伴随")
    MANUAL = "manual", _("流调员录入")
    IMPORT = "import", _("名单导入")


class Confidence(models.TextChoices):
    CONFIRMED = "confirmed", _("明确")
    PROBABLE = "probable", _("很可能")
    POSSIBLE = "possible", _("可能")


CASE_FACT = {Classification.PENDING: "first_screen_positive", Classification.CONFIRMED: "confirmed",
             Classification.ASYMPTOMATIC: "asymptomatic"}  # the status fact each classification publishes
