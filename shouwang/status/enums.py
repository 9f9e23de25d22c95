from django.db import models
from django.utils.translation import gettext_lazy as _


class FactKind(models.TextChoices):
    """What a fact says about a person; its value is a key the policy's code rules know."""

    MEASURE = "measure", _("管控措施")  # central_quarantine, home_quarantine, home_health_monitoring, lockdown ...
    CASE = "case", _("感染状态")  # confirmed, asymptomatic, suspected, first_screen_positive
    ZONE = "zone", _("风险区")  # high, medium, low
    FLAG = "flag", _("其他情形")  # close_contact, spatio_temporal_companion, pool_recheck_pending ...


class Colour(models.TextChoices):
    GREEN = "green", _("绿码")
    YELLOW = "yellow", _("黄码")
    RED = "red", _("红码")
