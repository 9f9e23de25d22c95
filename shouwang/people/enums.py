from django.db import models
from django.utils.translation import gettext_lazy as _


class IdType(models.TextChoices):
    RESIDENT_ID = "resident_id", _("居民身份证")
    PASSPORT = "passport", _("护照")
    HK_MACAO_PERMIT = "hk_macao_permit", _("港澳居民来往内地通行证")
    TAIWAN_PERMIT = "taiwan_permit", _("台湾居民来往大陆通行证")
    FOREIGN_PERMANENT = "foreign_permanent", _("外国人永久居留身份证")
    BIRTH_CERTIFICATE = "birth_certificate", _("出生医学证明")
    OTHER = "other", _("其他证件")


class Sex(models.TextChoices):
    MALE = "male", _("男")
    FEMALE = "female", _("女")
    UNKNOWN = "unknown", _("未知")


class PersonTag(models.TextChoices):
    # key groups (重点人群)
    COURIER = "courier", _("快递/物流")
    COLD_CHAIN = "cold_chain", _("冷链从业")
    MEDICAL = "medical", _("医护人员")
    TRUCK_DRIVER = "truck_driver", _("货车司机")
    TEACHER = "teacher", _("教师")
    STUDENT = "student", _("学生")
    MIGRANT_WORKER = "migrant_worker", _("外来务工")
    MARKET_WORKER = "market_worker", _("农贸市场从业")
    PUBLIC_TRANSPORT = "public_transport", _("公共交通从业")
    QUARANTINE_STAFF = "quarantine_staff", _("隔离点工作人员")
    # vulnerable groups (特殊人群)
    ELDERLY_ALONE = "elderly_alone", _("独居老人")
    DISABLED = "disabled", _("残障人士")
    PREGNANT = "pregnant", _("孕产妇")
    SERIOUSLY_ILL = "seriously_ill", _("重病患者")
    INFANT = "infant", _("婴幼儿")
    BEDRIDDEN = "bedridden", _("卧床不起")


KEY_GROUP_TAGS = frozenset({
    PersonTag.COURIER, PersonTag.COLD_CHAIN, PersonTag.MEDICAL, PersonTag.TRUCK_DRIVER, PersonTag.TEACHER,
    PersonTag.STUDENT, PersonTag.MIGRANT_WORKER, PersonTag.MARKET_WORKER, PersonTag.PUBLIC_TRANSPORT,
    PersonTag.QUARANTINE_STAFF,
})
VULNERABLE_TAGS = frozenset(set(PersonTag.values) - set(KEY_GROUP_TAGS))


class ResidenceKind(models.TextChoices):
    REGISTERED = "registered", _("户籍人口")
    RESIDENT = "resident", _("常住人口")
    TEMPORARY = "temporary", _("流动人口")
