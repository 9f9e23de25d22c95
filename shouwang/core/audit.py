"""Write the audit log: every change, every open of a person file, every export."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models

from shouwang.core.models import AuditAction, AuditEvent


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def snapshot(instance: models.Model, fields: list[str]) -> dict[str, Any]:
    return {f: _plain(getattr(instance, f)) for f in fields}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Return {field: [old, new]} for the fields whose value changed."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}


def audit_record(
    *,
    actor,
    action: AuditAction | str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    summary: str = "",
    changes: dict | None = None,
    query: dict | None = None,
    row_count: int | None = None,
    ip_address: str = "",
) -> AuditEvent:
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=str(actor) if actor is not None else "",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        summary=summary[:300],
        changes=changes or {},
        query=query or {},
        row_count=row_count,
        ip_address=ip_address,
    )
