"""Policy versions as loaded from their files: the last valid content of each, and the last load error."""

from django.db import models

from shouwang.core.models import BaseModel


class PolicyVersion(BaseModel):
    """One policy file (a national version or a local override). `content` is the file's last valid text; a file
    that later fails to load keeps its previous content in force and shows `error` instead."""

    version_id = models.CharField("版本号", max_length=40, unique=True)
    title = models.CharField("名称", max_length=200)
    base = models.CharField("基础版本", max_length=40, blank=True)
    scope = models.CharField("适用区划代码", max_length=32, blank=True)
    effective_from = models.DateField("生效日期")
    file_name = models.CharField("文件", max_length=200)
    sha256 = models.CharField("内容摘要", max_length=64)
    content = models.TextField("内容")
    loaded_at = models.DateTimeField("加载时间")
    error = models.TextField("最近一次加载错误", blank=True)

    class Meta:
        verbose_name = "政策版本"
        verbose_name_plural = "政策版本"
        ordering = ["effective_from", "version_id"]

    def __str__(self) -> str:
        return self.version_id
