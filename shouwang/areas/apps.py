from django.apps import AppConfig


class AreasConfig(AppConfig):
    name = "shouwang.areas"
    label = "areas"
    verbose_name = "行政区划与网格"
