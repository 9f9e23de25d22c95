from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    HQ = "hq", _("指挥部")
    TASK_FORCE = "task_force", _("专班成员")
    TOWNSHIP = "township", _("乡镇/街道工作人员")
    VILLAGE = "village", _("村/社区工作人员")
    GRID_WORKER = "grid_worker", _("网格员")
    SAMPLER = "sampler", _("采样员")
    LAB = "lab", _("实验室")
    QUARANTINE_MANAGER = "quarantine_manager", _("隔离点负责人")
    CHECKPOINT = "checkpoint", _("卡口人员")
    SUPERVISOR = "supervisor", _("督导")
    ADMIN = "admin", _("系统管理员")


class Capability(models.TextChoices):
    PERSON_VIEW = "person.view", _("查看人员")
    PERSON_VIEW_FULL = "person.view_full", _("查看完整证件号和手机号")
    PERSON_EDIT = "person.edit", _("新增和修改人员")
    PERSON_MERGE = "person.merge", _("合并重复人员")
    PERSON_EXPORT = "person.export", _("导出人员名单")
    PERSON_EXPORT_FULL = "person.export_full", _("导出不打码的名单")
    PERSON_IMPORT = "person.import", _("导入人员名单")
    AREA_EDIT = "area.edit", _("维护区划和网格")
    AUDIT_VIEW = "audit.view", _("查询审计日志")
    USER_MANAGE = "user.manage", _("管理账号和设备令牌")
    VENUE_MANAGE = "venue.manage", _("登记场所和发放场所码")
    SCAN_RECORD = "scan.record", _("代扫码和上传扫码记录")
    VENUE_INSPECT = "venue.inspect", _("查看场所扫码情况")
    ROUND_MANAGE = "round.manage", _("组织核酸检测轮次和采样点")
    SAMPLE_RECORD = "sample.record", _("采样登记")
    LAB_RESULT = "lab.result", _("接收样本和上报检测结果")
    RESULT_REVIEW = "lab.review", _("审核发布检测结果")
    TESTING_VIEW = "testing.view", _("查看检测进度和应检未检名单")
    CASE_MANAGE = "tracing.case", _("报告病例和维护传播链")
    TRACE = "tracing.trace", _("开展流调和判定密接")
    TRACING_VIEW = "tracing.view", _("查看病例、密接和传播链")
    SITE_MANAGE = "quarantine.site", _("设置和启用隔离点")
    STAY_MANAGE = "quarantine.stay", _("安排隔离管控、入住和解除")
    QUARANTINE_VIEW = "quarantine.view", _("查看隔离点和隔离管控人员")
    MONITOR_RECORD = "quarantine.monitor", _("填报每日健康监测和上门查看")
    HOME_MANAGE = "quarantine.home", _("落实居家隔离“五包一”和门磁封条")
    SUPERVISE = "quarantine.supervise", _("督导抽查居家隔离")
    ZONE_MANAGE = "zones.manage", _("划定、调整和解除风险区")
    ZONE_VIEW = "zones.view", _("查看风险区和解封时间")


_C = Capability
_STAFF = {_C.PERSON_VIEW, _C.PERSON_VIEW_FULL, _C.PERSON_EDIT, _C.PERSON_EXPORT, _C.PERSON_IMPORT, _C.VENUE_MANAGE,
          _C.SCAN_RECORD, _C.VENUE_INSPECT, _C.TESTING_VIEW, _C.SAMPLE_RECORD, _C.TRACING_VIEW, _C.QUARANTINE_VIEW,
          _C.MONITOR_RECORD, _C.ZONE_VIEW}

# The one table of who may do what; jurisdiction (which area) is checked separately by every selector.
ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.HQ: frozenset(_STAFF | {_C.PERSON_MERGE, _C.PERSON_EXPORT_FULL, _C.AREA_EDIT, _C.AUDIT_VIEW, _C.ROUND_MANAGE,
                                 _C.RESULT_REVIEW, _C.CASE_MANAGE, _C.TRACE, _C.SITE_MANAGE, _C.STAY_MANAGE,
                                 _C.HOME_MANAGE, _C.SUPERVISE, _C.ZONE_MANAGE}),
    Role.TASK_FORCE: frozenset(_STAFF | {_C.PERSON_MERGE, _C.ROUND_MANAGE, _C.CASE_MANAGE, _C.TRACE, _C.SITE_MANAGE,
                                         _C.STAY_MANAGE, _C.HOME_MANAGE, _C.SUPERVISE, _C.ZONE_MANAGE}),
    Role.TOWNSHIP: frozenset(_STAFF | {_C.PERSON_MERGE, _C.AREA_EDIT, _C.ROUND_MANAGE, _C.TRACE, _C.STAY_MANAGE,
                                       _C.HOME_MANAGE}),
    Role.VILLAGE: frozenset(_STAFF | {_C.PERSON_MERGE, _C.AREA_EDIT, _C.HOME_MANAGE}),
    Role.GRID_WORKER: frozenset(_STAFF),
    Role.SAMPLER: frozenset({_C.PERSON_VIEW, _C.SCAN_RECORD, _C.SAMPLE_RECORD}),
    Role.LAB: frozenset({_C.PERSON_VIEW, _C.LAB_RESULT, _C.RESULT_REVIEW}),
    Role.QUARANTINE_MANAGER: frozenset({_C.PERSON_VIEW, _C.PERSON_VIEW_FULL, _C.SITE_MANAGE, _C.STAY_MANAGE,
                                        _C.QUARANTINE_VIEW, _C.MONITOR_RECORD}),
    Role.CHECKPOINT: frozenset({_C.PERSON_VIEW, _C.SCAN_RECORD}),
    Role.SUPERVISOR: frozenset({_C.PERSON_VIEW, _C.PERSON_EXPORT, _C.AUDIT_VIEW, _C.VENUE_INSPECT, _C.TESTING_VIEW,
                                _C.TRACING_VIEW, _C.QUARANTINE_VIEW, _C.SUPERVISE, _C.ZONE_VIEW}),
    Role.ADMIN: frozenset(set(Capability.values)),
}

# Roles that may work from the whole-county home page (the rest start at their own area).
COMMAND_ROLES = frozenset({Role.HQ, Role.TASK_FORCE, Role.SUPERVISOR, Role.ADMIN})
