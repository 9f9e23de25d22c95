from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "shouwang.people"
    label = "people"
    verbose_name = "人员档案"
