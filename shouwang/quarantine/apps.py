from django.apps import AppConfig


class QuarantineConfig(AppConfig):
    name = "shouwang.quarantine"
    label = "quarantine"
    verbose_name = "隔离管控"
