from django.apps import AppConfig


class StatusConfig(AppConfig):
    name = "shouwang.status"
    verbose_name = "健康状态"
