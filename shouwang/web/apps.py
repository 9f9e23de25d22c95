from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "shouwang.web"
    label = "web"
    verbose_name = "页面"
