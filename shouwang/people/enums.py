from django.db import models


class IdType(models.TextChoices):
    RESIDENT_ID = "resident_id", "居民身份证"
    PASSPORT = "passport", "护照"
    HK_MACAO_PERMIT = "hk_macao_permit", "港澳居民来往内地通行证"
    TAIWAN_PERMIT = "taiwan_permit", "台湾居民来往大陆通行证"
    FOREIGN_PERMANENT = "foreign_permanent", "外国人永久居留身份证"
    BIRTH_CERTIFICATE = "birth_certificate", "出生医学证明"
    OTHER = "other", "其他证件"


class Sex(models.TextChoices):
    MALE = "male", "男"
    FEMALE = "female", "女"
    UNKNOWN = "unknown", "未知"


class PersonTag(models.TextChoices):
    # key groups (重点人群)
    COURIER = "courier", "快递/物流"
    COLD_CHAIN = "cold_chain", "冷链从业"
    MEDICAL = "medical", "医护人员"
    TRUCK_DRIVER = "truck_driver", "货车司机"
    TEACHER = "teacher", "教师"
    STUDENT = "student", "学生"
    MIGRANT_WORKER = "migrant_worker", "外来务工"
    MARKET_WORKER = "market_worker", "农贸市场从业"
    PUBLIC_TRANSPORT = "public_transport", "公共交通从业"
    QUARANTINE_STAFF = "quarantine_staff", "隔离点工作人员"
    # vulnerable groups (特殊人群)
    ELDERLY_ALONE = "elderly_alone", "独居老人"
    DISABLED = "disabled", "残障人士"
    PREGNANT = "pregnant", "孕产妇"
    SERIOUSLY_ILL = "seriously_ill", "重病患者"
    INFANT = "infant", "婴幼儿"
    BEDRIDDEN = "bedridden", "卧床不起"


KEY_GROUP_TAGS = frozenset({
    PersonTag.COURIER, PersonTag.COLD_CHAIN, PersonTag.MEDICAL, PersonTag.TRUCK_DRIVER, PersonTag.TEACHER,
    PersonTag.STUDENT, PersonTag.MIGRANT_WORKER, PersonTag.MARKET_WORKER, PersonTag.PUBLIC_TRANSPORT,
    PersonTag.QUARANTINE_STAFF,
})
VULNERABLE_TAGS = frozenset(set(PersonTag.values) - set(KEY_GROUP_TAGS))


class ResidenceKind(models.TextChoices):
    REGISTERED = "registered", "户籍人口"
    RESIDENT = "resident", "常住人口"
    TEMPORARY = "temporary", "流动人口"
