from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class BaseModel(models.Model):
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        abstract = True


class AuditAction(models.TextChoices):
    CREATE = "create", _("新增")
    UPDATE = "update", _("修改")
    DELETE = "delete", _("删除")
    VIEW = "view", _("查看档案")
    VIEW_FULL = "view_full", _("查看完整证件号/手机号")
    EXPORT = "export", _("导出")
    IMPORT = "import", _("导入")
    MERGE = "merge", _("合并")
    LOGIN = "login", _("登录")
    LOGIN_FAILED = "login_failed", _("登录失败")
    LOGOUT = "logout", _("退出")
    TOKEN = "token", _("设备令牌")


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("audit log is append-only")

    def delete(self):
        raise PermissionError("audit log is append-only")


class AuditEvent(models.Model):
    """One line of the audit log; the application can add lines, never change or remove them."""

    at = models.DateTimeField("时间", auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", db_constraint=False,
    )
    actor_label = models.CharField("操作人名称", max_length=150, blank=True)
    action = models.CharField("动作", max_length=20, choices=AuditAction.choices, db_index=True)
    object_type = models.CharField("对象类型", max_length=50, blank=True, db_index=True)
    object_id = models.CharField("对象编号", max_length=64, blank=True, db_index=True)
    summary = models.CharField("摘要", max_length=300, blank=True)
    changes = models.JSONField("变更内容", default=dict, blank=True)
    query = models.JSONField("筛选条件", default=dict, blank=True)
    row_count = models.PositiveIntegerField("行数", null=True, blank=True)
    ip_address = models.CharField("IP地址", max_length=45, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = "审计日志"
        verbose_name_plural = "审计日志"
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["actor", "at"])]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit log is append-only")


class IdempotencyRecord(models.Model):
    """The answer given to a request with an Idempotency-Key, replayed when a device retries it."""

    key = models.CharField("幂等键", max_length=100)
    user_id = models.BigIntegerField("用户")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "幂等记录"
        constraints = [models.UniqueConstraint(fields=["user_id", "key"], name="idempotency_user_key")]
