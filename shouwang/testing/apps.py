from django.apps import AppConfig


class TestingConfig(AppConfig):
    name = "shouwang.testing"
    label = "testing"
    verbose_name = "核酸检测"
