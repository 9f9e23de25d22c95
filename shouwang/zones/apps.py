from django.apps import AppConfig


class ZonesConfig(AppConfig):
    name = "shouwang.zones"
    label = "zones"
    verbose_name = "风险区"
