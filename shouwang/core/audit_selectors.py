"""Reads of the audit log for HQ and supervisors."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from shouwang.core.models import AuditEvent


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    date_from: str = ""
    date_to: str = ""


def _day_start(value: str) -> dt.datetime | None:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def audit_search(*, user, filters: AuditFilter) -> QuerySet[AuditEvent]:
    """Search the log; the caller has already checked the audit.view capability."""
    qs = AuditEvent.objects.select_related("actor")
    if filters.actor:
        qs = qs.filter(Q(actor__username=filters.actor) | Q(actor_label__contains=filters.actor))
    if filters.action:
        qs = qs.filter(action=filters.action)
    if filters.object_type:
        qs = qs.filter(object_type=filters.object_type)
    if filters.object_id:
        qs = qs.filter(object_id=filters.object_id)
    if start := _day_start(filters.date_from):
        qs = qs.filter(at__gte=start)
    if end := _day_start(filters.date_to):
        qs = qs.filter(at__lt=end + dt.timedelta(days=1))
    return qs.order_by("-at", "-id")
