from django.apps import AppConfig


class TracingConfig(AppConfig):
    name = "shouwang.tracing"
    label = "tracing"
    verbose_name = "流调溯源"
