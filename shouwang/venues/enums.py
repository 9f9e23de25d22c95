from django.db import models
from django.utils.translation import gettext_lazy as _


class VenueCategory(models.TextChoices):
    """The public-place categories that carried place codes in 2022 (场所码覆盖的39类公共场所)."""

    SUPERMARKET = "supermarket", _("商场超市")
    CONVENIENCE = "convenience", _("便利店")
    MARKET = "market", _("农贸市场")
    RESTAURANT = "restaurant", _("餐饮服务")
    HOTEL = "hotel", _("宾馆酒店")
    SCHOOL = "school", _("学校")
    KINDERGARTEN = "kindergarten", _("托幼机构")
    TRAINING = "training", _("校外培训机构")
    HOSPITAL = "hospital", _("医疗机构")
    CLINIC = "clinic", _("诊所卫生室")
    PHARMACY = "pharmacy", _("药店")
    CARE_HOME = "care_home", _("养老机构")
    WELFARE = "welfare", _("福利机构")
    OFFICE = "office", _("办公楼宇")
    GOVERNMENT = "government", _("党政机关")
    SERVICE_HALL = "service_hall", _("政务服务大厅")
    BANK = "bank", _("银行网点")
    POST = "post", _("邮政快递网点")
    EXPRESS = "express", _("快递物流园区")
    FACTORY = "factory", _("工厂企业")
    CONSTRUCTION = "construction", _("建筑工地")
    BUS_STATION = "bus_station", _("汽车客运站")
    RAILWAY = "railway", _("火车站")
    BUS = "bus", _("公交车")
    TAXI = "taxi", _("出租车网约车")
    PARKING = "parking", _("停车场")
    GAS_STATION = "gas_station", _("加油站")
    SERVICE_AREA = "service_area", _("高速服务区")
    CHECKPOINT = "checkpoint", _("交通卡口")
    CINEMA = "cinema", _("影剧院")
    KTV = "ktv", _("歌舞娱乐场所")
    INTERNET_CAFE = "internet_cafe", _("网吧")
    GYM = "gym", _("健身场馆")
    BATH = "bath", _("洗浴场所")
    BARBER = "barber", _("美容美发")
    LIBRARY = "library", _("图书馆文化馆")
    RELIGIOUS = "religious", _("宗教活动场所")
    SCENIC = "scenic", _("旅游景区")
    COMPOUND = "compound", _("居民小区出入口")


class VenueStatus(models.TextChoices):
    ACTIVE = "active", _("正常")
    CLOSED = "closed", _("已关闭")


class ScanMethod(models.TextChoices):
    SELF = "self", _("本人扫场所码")
    REVERSE = "reverse", _("工作人员反向扫码")
    BATCH = "batch", _("设备批量上传")
    IMPORT = "import", _("文件导入")
